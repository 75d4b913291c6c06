//! What the keys API answers: an action, the node it acted on and, for
//! changes, the node as it was before.

use serde::{Deserialize, Deserializer};

/// The answer to a keys API request (or one event of a watch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Response {
    /// What happened: `get`, `set`, `create`, `update`, `delete`,
    /// `compareAndSwap`, `compareAndDelete` or `expire`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub action: String,
    /// The node after the action (for a delete: the deleted key, without
    /// its value).
    #[serde(default, deserialize_with = "null_as_default")]
    pub node: Node,
    /// The node before a change, when it existed.
    #[serde(default, rename = "prevNode")]
    pub prev_node: Option<Node>,
    /// The store's index when the answer was made (`X-Etcd-Index`); for a
    /// watch, the index when the watch started, not the event's.
    #[serde(skip)]
    pub index: u64,
    /// The raft log index of the answering member (`X-Raft-Index`).
    #[serde(skip)]
    pub raft_index: Option<u64>,
    /// The raft term of the answering member (`X-Raft-Term`).
    #[serde(skip)]
    pub raft_term: Option<u64>,
    /// The cluster ID in hex (`X-Etcd-Cluster-ID`), empty when absent.
    #[serde(skip)]
    pub cluster_id: String,
}

/// A key (a value or a directory) in the v2 store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Node {
    /// The full path of the key, `/a/b`; empty for the root.
    #[serde(default, deserialize_with = "null_as_default")]
    pub key: String,
    /// Whether the key is a directory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub dir: bool,
    /// The value; empty for directories.
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
    /// A directory's children (recursively for recursive requests), as
    /// the server listed them; `None` when it listed none.
    #[serde(default)]
    pub nodes: Option<Vec<Node>>,
    /// The index of the change that created the key.
    #[serde(default, rename = "createdIndex", deserialize_with = "null_as_default")]
    pub created_index: u64,
    /// The index of the last change to the key.
    #[serde(
        default,
        rename = "modifiedIndex",
        deserialize_with = "null_as_default"
    )]
    pub modified_index: u64,
    /// When the key expires (RFC 3339), for keys with a TTL.
    #[serde(default)]
    pub expiration: Option<String>,
    /// The seconds the key has left to live, for keys with a TTL.
    #[serde(default)]
    pub ttl: Option<i64>,
}

impl Node {
    /// The children, empty for a value or an empty directory.
    pub fn children(&self) -> &[Node] {
        self.nodes.as_deref().unwrap_or_default()
    }
}

/// `null` reads as the type's default, as Go's JSON decoding leaves the
/// zero value in place.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_decode_with_etcds_field_names() {
        let json = r#"{"action":"set","node":{"key":"/t","value":"v","expiration":
            "2030-01-01T00:00:00Z","ttl":100,"modifiedIndex":9,"createdIndex":9},
            "prevNode":{"key":"/t","value":"old","modifiedIndex":8,"createdIndex":8}}"#;
        let resp: Response = serde_json::from_str(json).unwrap();
        assert_eq!(resp.action, "set");
        assert_eq!(resp.node.ttl, Some(100));
        assert_eq!(
            resp.node.expiration.as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert_eq!(resp.prev_node.unwrap().value, "old");

        let root = r#"{"action":"get","node":{"dir":true,"nodes":[{"key":"/d","dir":true,
            "modifiedIndex":3,"createdIndex":3}]}}"#;
        let resp: Response = serde_json::from_str(root).unwrap();
        assert_eq!(resp.node.key, "");
        assert!(resp.node.dir);
        assert_eq!(resp.node.children().len(), 1);
        assert_eq!(resp.node.children()[0].nodes, None);
        assert!(resp.prev_node.is_none());
    }
}
