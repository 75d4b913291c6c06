//! The members API (`/v2/members`), `/v2/machines` and a member's
//! `/health`.

use hyper::Method;
use serde::Deserialize;

use super::client::{Action, Client};
use super::error::{EndpointError, Error};
use super::http::{HttpReply, HttpRequest};
use super::url::{members_path, Endpoint};

/// A member of the cluster as the v2 API describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// The member ID in hex, without leading zeros.
    #[serde(default)]
    pub id: String,
    /// The member's name; empty until the member has started and
    /// published it.
    #[serde(default)]
    pub name: String,
    /// The URLs the member's peers reach it at.
    #[serde(default, rename = "peerURLs", deserialize_with = "null_as_empty")]
    pub peer_urls: Vec<String>,
    /// The URLs clients reach it at; empty until it has started.
    #[serde(default, rename = "clientURLs", deserialize_with = "null_as_empty")]
    pub client_urls: Vec<String>,
}

#[derive(Deserialize)]
struct MemberList {
    #[serde(default, alias = "Members", deserialize_with = "null_as_empty")]
    members: Vec<Member>,
}

#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    message: String,
}

impl Client {
    /// The members of the cluster.
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        let reply = self
            .execute(&Action::new(Method::GET, members_path("")))
            .await?;
        expect_status(&reply, &[200])?;
        let list: MemberList = decode_json(&reply)?;
        Ok(list.members)
    }

    /// The member that is the raft leader.
    pub async fn leader(&self) -> Result<Member, Error> {
        let reply = self
            .execute(&Action::new(Method::GET, members_path("leader")))
            .await?;
        expect_status(&reply, &[200])?;
        decode_json(&reply)
    }

    /// Adds a member that will be reached at `peer_url`; the answer has its
    /// new ID (and no name or client URLs until it starts).
    pub async fn add_member(&self, peer_url: &str) -> Result<Member, Error> {
        let urls = validate_peer_urls(&[peer_url])?;
        let mut action = Action::new(Method::POST, members_path(""));
        action.body = Some(("application/json", peer_urls_body(&urls)));
        let reply = self.execute(&action).await?;
        expect_status(&reply, &[201, 409])?;
        if reply.status == 409 {
            return Err(refusal(&reply)?);
        }
        decode_json(&reply)
    }

    /// Removes the member with ID `id` (hex).
    pub async fn remove_member(&self, id: &str) -> Result<(), Error> {
        let reply = self
            .execute(&Action::new(Method::DELETE, members_path(id)))
            .await?;
        expect_status(&reply, &[204, 410])
    }

    /// Changes the peer URLs of the member with ID `id` (hex).
    pub async fn update_member(&self, id: &str, peer_urls: &[&str]) -> Result<(), Error> {
        let urls = validate_peer_urls(peer_urls)?;
        let mut action = Action::new(Method::PUT, members_path(id));
        action.body = Some(("application/json", peer_urls_body(&urls)));
        let reply = self.execute(&action).await?;
        expect_status(&reply, &[204, 404, 409])?;
        if reply.status != 204 {
            return Err(refusal(&reply)?);
        }
        Ok(())
    }

    /// The client URLs of the cluster's members (`/v2/machines`).
    pub async fn machines(&self) -> Result<Vec<String>, Error> {
        let reply = self
            .execute(&Action::new(Method::GET, "/v2/machines".to_string()))
            .await?;
        expect_status(&reply, &[200])?;
        let text = String::from_utf8_lossy(&reply.body);
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Asks the member at `client_url` (not the client's endpoints) whether
    /// it is healthy (`GET /health`). Either form etcd has answered in,
    /// `{"health":"true"}` or `{"health":true}`, counts.
    pub async fn health(&self, client_url: &str) -> Result<bool, Error> {
        let endpoint = Endpoint::parse(client_url)?;
        let request = HttpRequest {
            method: Method::GET,
            path: "/health".to_string(),
            query: String::new(),
            body: None,
        };
        let reply = self
            .transport()
            .round_trip(&endpoint, &request, None, None)
            .await
            .map_err(|kind| {
                Error::Endpoint(EndpointError {
                    endpoint: endpoint.url.clone(),
                    kind,
                })
            })?;
        let value: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|err| Error::Decode(err.to_string()))?;
        let health = value.as_object().and_then(|object| {
            object
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("health"))
                .map(|(_, value)| value)
        });
        Ok(match health {
            Some(serde_json::Value::String(text)) => text == "true",
            Some(serde_json::Value::Bool(healthy)) => *healthy,
            _ => false,
        })
    }
}

fn expect_status(reply: &HttpReply, wanted: &[u16]) -> Result<(), Error> {
    if wanted.contains(&reply.status) {
        Ok(())
    } else {
        Err(Error::UnexpectedStatus(reply.status))
    }
}

fn decode_json<T: for<'de> Deserialize<'de>>(reply: &HttpReply) -> Result<T, Error> {
    serde_json::from_slice(&reply.body).map_err(|err| Error::Decode(err.to_string()))
}

fn refusal(reply: &HttpReply) -> Result<Error, Error> {
    let refusal: Refusal = decode_json(reply)?;
    Ok(Error::Membership(refusal.message))
}

fn peer_urls_body(urls: &[String]) -> String {
    serde_json::json!({ "peerURLs": urls }).to_string()
}

/// Checks peer URLs as etcd does before sending them: `http`, `https`,
/// `unix` or `unixs`, a `host:port` (except for unix sockets) and no path.
/// The URLs come back sorted.
fn validate_peer_urls(urls: &[&str]) -> Result<Vec<String>, Error> {
    let mut valid = Vec::with_capacity(urls.len());
    for &url in urls {
        let invalid = |what: &str| Error::InvalidPeerUrl(format!("{what}: {url}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(invalid("URL scheme must be http, https, unix, or unixs"));
        };
        if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
            return Err(invalid("URL scheme must be http, https, unix, or unixs"));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (host, path) = rest.split_at(end);
        let has_port = match host.rsplit_once(':') {
            Some((name, port)) => {
                !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
            }
            None => false,
        };
        if !has_port && !scheme.starts_with("unix") {
            return Err(Error::InvalidPeerUrl(format!(
                "URL address does not have the form \"host:port\": {url}"
            )));
        }
        if !path.is_empty() {
            return Err(invalid("URL must not contain a path"));
        }
        valid.push(url.to_string());
    }
    valid.sort();
    Ok(valid)
}

/// `null` reads as an empty list, as in Go.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_are_checked_like_etcd() {
        assert_eq!(
            validate_peer_urls(&["http://b:2", "http://a:1"]).unwrap(),
            ["http://a:1", "http://b:2"]
        );
        assert_eq!(
            validate_peer_urls(&["notaurl"]).unwrap_err().to_string(),
            "URL scheme must be http, https, unix, or unixs: notaurl"
        );
        assert_eq!(
            validate_peer_urls(&["http://host"])
                .unwrap_err()
                .to_string(),
            "URL address does not have the form \"host:port\": http://host"
        );
        assert_eq!(
            validate_peer_urls(&["http://host:1/x"])
                .unwrap_err()
                .to_string(),
            "URL must not contain a path: http://host:1/x"
        );
    }

    #[test]
    fn member_lists_decode() {
        let json = r#"{"members":[{"id":"8e9e05c52164694d","name":"default",
            "peerURLs":["http://localhost:2380"],"clientURLs":null}]}"#;
        let list: MemberList = serde_json::from_str(json).unwrap();
        assert_eq!(list.members[0].id, "8e9e05c52164694d");
        assert!(list.members[0].client_urls.is_empty());
    }
}
