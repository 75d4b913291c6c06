//! The key commands: `set`, `mk`, `mkdir`, `setdir`, `update`,
//! `updatedir`, `rm`, `rmdir`, `get` and `ls`.
//!
//! As in etcdctl, each connects (and syncs) before it looks at its
//! arguments, so an unreachable cluster is reported before a missing key.

use std::io::Read;

use ectd_client::v2::{DeleteOptions, GetOptions, Node, PrevExist, Response, SetOptions};

use super::flags::Parsed;
use super::output::{print_now, print_response, Exit, EXIT_BAD_ARGS, EXIT_SERVER_ERROR};
use super::session::{Failure, Session};

/// How a write command treats the key's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `set`: create or replace, optionally compare-and-swap.
    Set,
    /// `mk`: create, or an in-order key in a directory.
    Make,
    /// `update`: replace an existing key.
    Update,
}

/// How a directory command treats the key's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `mkdir`: create.
    Make,
    /// `setdir`: create or set the TTL.
    Set,
    /// `updatedir`: set the TTL of an existing directory.
    Update,
}

/// `set`, `mk` and `update`.
pub async fn write(session: &Session, flags: &Parsed, kind: Write) -> Result<(), Exit> {
    let client = session.client().await?;
    let key = key_argument(flags)?;
    let value = value_argument(flags)?;
    let ttl = ttl(flags);
    let result = match kind {
        Write::Make if flags.bool("in-order") => {
            session
                .within(client.create_in_order(&key, &value, ttl))
                .await
        }
        Write::Make => session.within(client.create(&key, &value, ttl)).await,
        Write::Update => session.within(client.update(&key, &value, ttl)).await,
        Write::Set => {
            let prev_value = flags.string("swap-with-value");
            let prev_index = flags.int("swap-with-index");
            let options = SetOptions {
                ttl,
                prev_value: (!prev_value.is_empty()).then_some(prev_value),
                // etcdctl passes a negative index on as its unsigned twin.
                prev_index: (prev_index != 0).then_some(prev_index as u64),
                ..SetOptions::default()
            };
            session.within(client.set(&key, &value, &options)).await
        }
    };
    let response = answered(session, result)?;
    print_response(&response, &session.output);
    Ok(())
}

/// `mkdir`, `setdir` and `updatedir`: they print nothing in the simple
/// format.
pub async fn dir(session: &Session, flags: &Parsed, kind: Dir) -> Result<(), Exit> {
    let client = session.client().await?;
    let key = key_argument(flags)?;
    let options = SetOptions {
        ttl: ttl(flags),
        dir: true,
        prev_exist: match kind {
            Dir::Make => PrevExist::NotExist,
            Dir::Set => PrevExist::Ignore,
            Dir::Update => PrevExist::Exist,
        },
        ..SetOptions::default()
    };
    let response = answered(
        session,
        session.within(client.set(&key, "", &options)).await,
    )?;
    if session.output != "simple" {
        print_response(&response, &session.output);
    }
    Ok(())
}

/// `rm` (with its flags) and `rmdir` (`dir_only`).
pub async fn remove(session: &Session, flags: &Parsed, dir_only: bool) -> Result<(), Exit> {
    let client = session.client().await?;
    let key = key_argument(flags)?;
    let options = if dir_only {
        DeleteOptions {
            dir: true,
            ..DeleteOptions::default()
        }
    } else {
        let prev_value = flags.string("with-value");
        let prev_index = flags.int("with-index");
        DeleteOptions {
            prev_value: (!prev_value.is_empty()).then_some(prev_value),
            prev_index: (prev_index != 0).then_some(prev_index as u64),
            dir: flags.bool("dir"),
            recursive: flags.bool("recursive"),
        }
    };
    let response = answered(session, session.within(client.delete(&key, &options)).await)?;
    if !response.node.dir || session.output != "simple" {
        print_response(&response, &session.output);
    }
    Ok(())
}

/// `get`: a value; a directory is refused.
pub async fn get(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let client = session.client().await?;
    let key = key_argument(flags)?;
    let options = GetOptions {
        sorted: flags.bool("sort"),
        quorum: flags.bool("quorum"),
        ..GetOptions::default()
    };
    let response = answered(session, session.within(client.get(&key, &options)).await)?;
    if response.node.dir {
        return Err(Exit::message(
            1,
            &format!("{}: is a directory\n", response.node.key),
        ));
    }
    print_response(&response, &session.output);
    Ok(())
}

/// `ls`: the keys in a directory (`/` by default), one per line, or the
/// whole response in the other formats.
pub async fn list(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let key = flags
        .args
        .first()
        .cloned()
        .unwrap_or_else(|| "/".to_string());
    let client = session.client().await?;
    let options = GetOptions {
        recursive: flags.bool("recursive"),
        sorted: flags.bool("sort"),
        quorum: flags.bool("quorum"),
    };
    let response = answered(session, session.within(client.get(&key, &options)).await)?;
    if session.output != "simple" {
        print_response(&response, &session.output);
        return Ok(());
    }
    let mut text = String::new();
    if !response.node.dir {
        text.push_str(&format!("{}\n", response.node.key));
    }
    let slash = flags.bool("p");
    for child in response.node.children() {
        list_node(child, slash, &mut text);
    }
    print_now(&text);
    Ok(())
}

fn list_node(node: &Node, slash: bool, text: &mut String) {
    if node.dir && slash {
        text.push_str(&format!("{}/\n", node.key));
    } else {
        text.push_str(&format!("{}\n", node.key));
    }
    for child in node.children() {
        list_node(child, slash, text);
    }
}

/// The first argument, or etcdctl's `key required` (exit 1).
pub fn key_argument(flags: &Parsed) -> Result<String, Exit> {
    flags
        .args
        .first()
        .cloned()
        .ok_or_else(|| bad_args("key required"))
}

/// The second argument, or else all of stdin; `value required` (exit 1)
/// when both are empty.
fn value_argument(flags: &Parsed) -> Result<String, Exit> {
    if let Some(value) = flags.args.get(1) {
        return Ok(value.clone());
    }
    let mut bytes = Vec::new();
    match std::io::stdin().read_to_end(&mut bytes) {
        Ok(_) if !bytes.is_empty() => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        _ => Err(bad_args("value required")),
    }
}

/// `--ttl`: etcdctl sends only positive TTLs.
fn ttl(flags: &Parsed) -> Option<u64> {
    let ttl = flags.int("ttl");
    (ttl > 0).then_some(ttl as u64)
}

/// A refused command line, reported like a failed request (exit 1).
pub fn bad_args(message: &str) -> Exit {
    Exit::message(EXIT_BAD_ARGS, &format!("Error:  {message}\n"))
}

/// The response, or the failure reported as etcdctl does (exit 4).
pub fn answered(session: &Session, result: Result<Response, Failure>) -> Result<Response, Exit> {
    result.map_err(|failure| session.fail(EXIT_SERVER_ERROR, &failure))
}
