//! The keys API (`/v2/keys`): reads, writes with their preconditions,
//! deletes, in-order keys and watches.
//!
//! Requests carry the same query parameters and form fields etcd's Go
//! client sends, so a server sees no difference between the two.

use hyper::Method;

use super::client::{Action, Client};
use super::http::HttpReply;
use super::node::Response;
use super::url::keys_path;
use super::{Error, KeysError};

const FORM: &str = "application/x-www-form-urlencoded";

/// Options of [`Client::get`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// Return a directory's whole subtree, not only its children.
    pub recursive: bool,
    /// Return children sorted by key (otherwise in no particular order).
    pub sorted: bool,
    /// Read through raft, so the answer reflects every write acknowledged
    /// before it (a linearizable read) rather than the member's own state.
    pub quorum: bool,
}

/// Whether a write requires the key to exist (`prevExist`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrevExist {
    /// Existence does not matter.
    #[default]
    Ignore,
    /// The key must exist (an update).
    Exist,
    /// The key must not exist (a create).
    NotExist,
}

/// Options of [`Client::set`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// Seconds until the key expires; `None` makes it permanent.
    pub ttl: Option<u64>,
    /// Write only if the current value is this (`prevValue`; ignored for
    /// directories).
    pub prev_value: Option<String>,
    /// Write only if the key was last modified at this index
    /// (`prevIndex`).
    pub prev_index: Option<u64>,
    /// Whether the key must or must not exist.
    pub prev_exist: PrevExist,
    /// Make the key a directory; the value is not sent.
    pub dir: bool,
    /// Only renew the TTL: no value is sent and watchers see no event.
    pub refresh: bool,
    /// Leave the node out of a successful answer.
    pub no_value_on_success: bool,
}

/// Options of [`Client::delete`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Delete only if the current value is this (`prevValue`).
    pub prev_value: Option<String>,
    /// Delete only if the key was last modified at this index
    /// (`prevIndex`).
    pub prev_index: Option<u64>,
    /// The key may be an empty directory.
    pub dir: bool,
    /// Delete a directory with everything in it.
    pub recursive: bool,
}

/// Options of [`Client::watch`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// The first index of interest (`waitIndex`): an event at this index or
    /// later is returned, even one that already happened (as long as the
    /// server still keeps it: etcd keeps the last 1000 events). `None`
    /// waits for the next change.
    pub wait_index: Option<u64>,
    /// Also report changes below the key.
    pub recursive: bool,
}

/// One event of a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The change: its action, the node after it and the node before.
    pub response: Response,
    /// The `wait_index` that returns the event after this one.
    pub next_index: u64,
}

impl Client {
    /// Reads a key, or lists a directory.
    pub async fn get(&self, key: &str, options: &GetOptions) -> Result<Response, Error> {
        let mut action = Action::new(Method::GET, keys_path(key));
        action.params = vec![
            ("recursive", options.recursive.to_string()),
            ("sorted", options.sorted.to_string()),
            ("quorum", options.quorum.to_string()),
        ];
        self.keys_request(&action).await
    }

    /// Writes a key (or a directory) under the conditions in `options`.
    /// A create (`PrevExist::NotExist`) is sent to one endpoint only.
    pub async fn set(
        &self,
        key: &str,
        value: &str,
        options: &SetOptions,
    ) -> Result<Response, Error> {
        let mut action = Action::new(Method::PUT, keys_path(key));
        let mut form = Vec::new();
        if options.dir {
            action.params.push(("dir", "true".to_string()));
        } else {
            if let Some(prev_value) = &options.prev_value {
                action.params.push(("prevValue", prev_value.clone()));
            }
            if !options.refresh {
                form.push(("value", value.to_string()));
            }
        }
        if let Some(prev_index) = options.prev_index {
            action.params.push(("prevIndex", prev_index.to_string()));
        }
        match options.prev_exist {
            PrevExist::Ignore => {}
            PrevExist::Exist => action.params.push(("prevExist", "true".to_string())),
            PrevExist::NotExist => action.params.push(("prevExist", "false".to_string())),
        }
        if let Some(ttl) = options.ttl {
            form.push(("ttl", ttl.to_string()));
        }
        if options.refresh {
            form.push(("refresh", "true".to_string()));
        }
        if options.no_value_on_success {
            action.params.push(("noValueOnSuccess", "true".to_string()));
        }
        action.body = Some((FORM, super::url::encode_params(&form)));
        action.one_shot = options.prev_exist == PrevExist::NotExist;
        self.keys_request(&action).await
    }

    /// Creates a key that must not exist yet (error 105 if it does).
    pub async fn create(
        &self,
        key: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<Response, Error> {
        let options = SetOptions {
            ttl,
            prev_exist: PrevExist::NotExist,
            ..SetOptions::default()
        };
        self.set(key, value, &options).await
    }

    /// Changes a key that must exist (error 100 if it does not); without a
    /// TTL the key becomes permanent.
    pub async fn update(
        &self,
        key: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<Response, Error> {
        let options = SetOptions {
            ttl,
            prev_exist: PrevExist::Exist,
            ..SetOptions::default()
        };
        self.set(key, value, &options).await
    }

    /// Creates a directory that must not exist yet.
    pub async fn create_dir(&self, key: &str, ttl: Option<u64>) -> Result<Response, Error> {
        let options = SetOptions {
            ttl,
            dir: true,
            prev_exist: PrevExist::NotExist,
            ..SetOptions::default()
        };
        self.set(key, "", &options).await
    }

    /// Writes `value` only if the key's value is `prev_value` and/or it
    /// was last modified at `prev_index` (error 101 otherwise); the answer's
    /// action is `compareAndSwap`.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        value: &str,
        prev_value: Option<&str>,
        prev_index: Option<u64>,
    ) -> Result<Response, Error> {
        let options = SetOptions {
            prev_value: prev_value.map(str::to_string),
            prev_index,
            ..SetOptions::default()
        };
        self.set(key, value, &options).await
    }

    /// Resets the TTL of an existing key without changing its value and
    /// without waking watchers.
    pub async fn refresh(&self, key: &str, ttl: u64) -> Result<Response, Error> {
        let options = SetOptions {
            ttl: Some(ttl),
            prev_exist: PrevExist::Exist,
            refresh: true,
            ..SetOptions::default()
        };
        self.set(key, "", &options).await
    }

    /// Creates a key with a unique, increasing name (the store index,
    /// zero-padded to 20 digits) in directory `dir`. Its answer's node
    /// names the new key.
    pub async fn create_in_order(
        &self,
        dir: &str,
        value: &str,
        ttl: Option<u64>,
    ) -> Result<Response, Error> {
        let mut action = Action::new(Method::POST, keys_path(dir));
        let mut form = vec![("value", value.to_string())];
        if let Some(ttl) = ttl {
            form.push(("ttl", ttl.to_string()));
        }
        action.body = Some((FORM, super::url::encode_params(&form)));
        self.keys_request(&action).await
    }

    /// Deletes a key (or, with `dir`/`recursive`, a directory) under the
    /// conditions in `options`. Sent to one endpoint only.
    pub async fn delete(&self, key: &str, options: &DeleteOptions) -> Result<Response, Error> {
        let mut action = Action::new(Method::DELETE, keys_path(key));
        if let Some(prev_value) = &options.prev_value {
            action.params.push(("prevValue", prev_value.clone()));
        }
        if let Some(prev_index) = options.prev_index {
            action.params.push(("prevIndex", prev_index.to_string()));
        }
        if options.dir {
            action.params.push(("dir", "true".to_string()));
        }
        if options.recursive {
            action.params.push(("recursive", "true".to_string()));
        }
        action.one_shot = true;
        self.keys_request(&action).await
    }

    /// Deletes a key only if its value is `prev_value` and/or it was last
    /// modified at `prev_index`; the answer's action is
    /// `compareAndDelete`.
    pub async fn compare_and_delete(
        &self,
        key: &str,
        prev_value: Option<&str>,
        prev_index: Option<u64>,
    ) -> Result<Response, Error> {
        let options = DeleteOptions {
            prev_value: prev_value.map(str::to_string),
            prev_index,
            ..DeleteOptions::default()
        };
        self.delete(key, &options).await
    }

    /// Waits for the next change to `key` (or below it, if recursive) at
    /// or after `options.wait_index`, and returns it with the index to wait
    /// from for the one after. An answer the server ends without an event
    /// (etcd closes idle watches after a while) is retried.
    pub async fn watch(&self, key: &str, options: &WatchOptions) -> Result<WatchEvent, Error> {
        let mut action = Action::new(Method::GET, keys_path(key));
        action.params = vec![
            ("wait", "true".to_string()),
            ("waitIndex", options.wait_index.unwrap_or(0).to_string()),
            ("recursive", options.recursive.to_string()),
        ];
        action.wait = true;
        loop {
            match self.keys_request(&action).await {
                Err(Error::EmptyBody) => continue,
                Err(err) => return Err(err),
                Ok(response) => {
                    let next_index = response.node.modified_index + 1;
                    return Ok(WatchEvent {
                        response,
                        next_index,
                    });
                }
            }
        }
    }

    /// A watcher that returns every change to `key` (or below it) after
    /// index `after_index` (0: after the current index), one at a time and
    /// none twice.
    pub fn watcher(&self, key: &str, after_index: u64, recursive: bool) -> Watcher {
        Watcher {
            client: self.clone(),
            key: key.to_string(),
            options: WatchOptions {
                wait_index: (after_index > 0).then(|| after_index.wrapping_add(1)),
                recursive,
            },
        }
    }

    async fn keys_request(&self, action: &Action) -> Result<Response, Error> {
        decode(self.execute(action).await?)
    }
}

/// Successive events of one watch; see [`Client::watcher`].
#[derive(Debug, Clone)]
pub struct Watcher {
    client: Client,
    key: String,
    options: WatchOptions,
}

impl Watcher {
    /// Waits for the next event.
    pub async fn next(&mut self) -> Result<Response, Error> {
        let event = self.client.watch(&self.key, &self.options).await?;
        self.options.wait_index = Some(event.next_index);
        Ok(event.response)
    }
}

/// A keys API answer: the node JSON and the index headers on success
/// (200, 201), etcd's error JSON otherwise.
fn decode(reply: HttpReply) -> Result<Response, Error> {
    if !matches!(reply.status, 200 | 201) {
        let err: KeysError = serde_json::from_slice(&reply.body).map_err(|_| Error::InvalidJson)?;
        return Err(Error::Keys(err));
    }
    if reply.body.is_empty() {
        return Err(Error::EmptyBody);
    }
    let mut response: Response =
        serde_json::from_slice(&reply.body).map_err(|_| Error::InvalidJson)?;
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
    };
    if let Some(index) = header("X-Etcd-Index") {
        response.index = index
            .parse()
            .map_err(|_| Error::Decode(format!("invalid X-Etcd-Index {index:?}")))?;
    }
    response.raft_index = header("X-Raft-Index").and_then(|v| v.parse().ok());
    response.raft_term = header("X-Raft-Term").and_then(|v| v.parse().ok());
    response.cluster_id = header("X-Etcd-Cluster-ID").unwrap_or_default().to_string();
    Ok(response)
}
