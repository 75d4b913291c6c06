//! What the v2 store answers: events (an action with the node it touched and the
//! node before) and errors, each rendered as etcd's JSON.

use ectd_proto::raftcmd::{V2Event, V2EventNode};

use super::json;

/// A node as an answer shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeView {
    /// The node's path ("/" for the root, which is shown without a key).
    pub key: String,
    /// A file's value (none for directories and for deleted nodes).
    pub value: Option<Vec<u8>>,
    /// Whether the node is a directory.
    pub dir: bool,
    /// Expiration in Unix nanoseconds; 0 = none.
    pub expiration: i64,
    /// Seconds to live, rounded up; 0 is not shown.
    pub ttl: i64,
    /// A directory's listed children.
    pub nodes: Vec<NodeView>,
    /// The index of the node's last change.
    pub modified_index: u64,
    /// The index that created the node.
    pub created_index: u64,
}

impl NodeView {
    /// A bare view: key and indexes.
    pub fn new(key: &str, modified_index: u64, created_index: u64) -> NodeView {
        NodeView {
            key: key.to_string(),
            modified_index,
            created_index,
            ..Default::default()
        }
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        let mut first = true;
        let mut field = |out: &mut String, name: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push('"');
            out.push_str(name);
            out.push_str("\":");
        };
        if self.key != "/" && !self.key.is_empty() {
            field(out, "key");
            json::string(out, self.key.as_bytes());
        }
        if let Some(v) = &self.value {
            field(out, "value");
            json::string(out, v);
        }
        if self.dir {
            field(out, "dir");
            out.push_str("true");
        }
        if self.expiration != 0 {
            field(out, "expiration");
            json::time(out, self.expiration);
        }
        if self.ttl != 0 {
            field(out, "ttl");
            out.push_str(&self.ttl.to_string());
        }
        if !self.nodes.is_empty() {
            field(out, "nodes");
            out.push('[');
            for (i, n) in self.nodes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                n.write(out);
            }
            out.push(']');
        }
        if self.modified_index != 0 {
            field(out, "modifiedIndex");
            out.push_str(&self.modified_index.to_string());
        }
        if self.created_index != 0 {
            field(out, "createdIndex");
            out.push_str(&self.created_index.to_string());
        }
        out.push('}');
    }

    fn to_record(&self) -> V2EventNode {
        V2EventNode {
            key: self.key.clone(),
            value: self.value.clone(),
            dir: self.dir,
            expiration: self.expiration,
            ttl: self.ttl,
            modified_index: self.modified_index,
            created_index: self.created_index,
        }
    }

    fn from_record(r: V2EventNode) -> NodeView {
        NodeView {
            key: r.key,
            value: r.value,
            dir: r.dir,
            expiration: r.expiration,
            ttl: r.ttl,
            nodes: Vec::new(),
            modified_index: r.modified_index,
            created_index: r.created_index,
        }
    }
}

/// What an operation did: etcd's v2 event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `get`, `create`, `set`, `update`, `delete`, `compareAndSwap`,
    /// `compareAndDelete` or `expire`.
    pub action: &'static str,
    /// The node after the change.
    pub node: NodeView,
    /// The node before it, for changes of an existing node.
    pub prev_node: Option<NodeView>,
    /// A TTL refresh (kept in the history, never sent to watchers, never shown).
    pub refresh: bool,
    /// An index taken by a membership change, invisible to key watchers.
    pub internal: bool,
}

/// The actions an event may carry.
const ACTIONS: [&str; 8] = [
    "get",
    "create",
    "set",
    "update",
    "delete",
    "compareAndSwap",
    "compareAndDelete",
    "expire",
];

impl Event {
    /// An event of `action` on `key`.
    pub fn new(action: &'static str, key: &str, modified_index: u64, created_index: u64) -> Event {
        Event {
            action,
            node: NodeView::new(key, modified_index, created_index),
            prev_node: None,
            refresh: false,
            internal: false,
        }
    }

    /// The index the event happened at.
    pub fn index(&self) -> u64 {
        self.node.modified_index
    }

    /// Whether the answer is `201 Created`.
    pub fn is_created(&self) -> bool {
        self.action == "create" || (self.action == "set" && self.prev_node.is_none())
    }

    /// The event as etcd's JSON, with a trailing newline.
    pub fn to_json(&self) -> String {
        self.to_json_with(true)
    }

    /// The event's JSON; without `with_nodes`, as `noValueOnSuccess` asks.
    pub fn to_json_with(&self, with_nodes: bool) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("{\"action\":");
        json::string(&mut out, self.action.as_bytes());
        if with_nodes {
            out.push_str(",\"node\":");
            self.node.write(&mut out);
            if let Some(p) = &self.prev_node {
                out.push_str(",\"prevNode\":");
                p.write(&mut out);
            }
        }
        // etcd copies events before answering, and the copy drops the refresh
        // mark, so no answer shows it.
        out.push_str("}\n");
        out
    }

    /// The event as the history stores it.
    pub fn to_record(&self) -> V2Event {
        V2Event {
            action: self.action.to_string(),
            node: Some(self.node.to_record()),
            prev_node: self.prev_node.as_ref().map(NodeView::to_record),
            refresh: self.refresh,
            internal: self.internal,
        }
    }

    /// An event read back from the history.
    pub fn from_record(r: V2Event) -> Event {
        Event {
            action: ACTIONS
                .iter()
                .find(|a| **a == r.action)
                .copied()
                .unwrap_or("set"),
            node: NodeView::from_record(r.node.unwrap_or_default()),
            prev_node: r.prev_node.map(NodeView::from_record),
            refresh: r.refresh,
            internal: r.internal,
        }
    }
}

/// etcd's v2 error codes that ectd raises.
pub mod code {
    /// Key not found.
    pub const KEY_NOT_FOUND: u32 = 100;
    /// Compare failed.
    pub const TEST_FAILED: u32 = 101;
    /// Not a file.
    pub const NOT_FILE: u32 = 102;
    /// Not a directory.
    pub const NOT_DIR: u32 = 104;
    /// Key already exists.
    pub const NODE_EXIST: u32 = 105;
    /// Root is read only.
    pub const ROOT_READ_ONLY: u32 = 107;
    /// Directory not empty.
    pub const DIR_NOT_EMPTY: u32 = 108;
    /// The request requires user authentication.
    pub const UNAUTHORIZED: u32 = 110;
    /// PrevValue is Required in POST form.
    pub const PREV_VALUE_REQUIRED: u32 = 201;
    /// The given TTL in POST form is not a number.
    pub const TTL_NAN: u32 = 202;
    /// The given index in POST form is not a number.
    pub const INDEX_NAN: u32 = 203;
    /// Invalid field.
    pub const INVALID_FIELD: u32 = 209;
    /// Invalid POST form.
    pub const INVALID_FORM: u32 = 210;
    /// Value provided on refresh.
    pub const REFRESH_VALUE: u32 = 211;
    /// A TTL must be provided on refresh.
    pub const REFRESH_TTL_REQUIRED: u32 = 212;
    /// Raft Internal Error.
    pub const RAFT_INTERNAL: u32 = 300;
    /// During Leader Election.
    pub const LEADER_ELECT: u32 = 301;
    /// The event in requested index is outdated and cleared.
    pub const EVENT_INDEX_CLEARED: u32 = 401;
}

/// A v2 error: etcd's code, message, cause and the store index.
#[derive(Debug, Clone, PartialEq)]
pub struct V2Error {
    /// etcd's error code.
    pub code: u32,
    /// What the error is about (a path, or the failed comparison).
    pub cause: String,
    /// The store's index when it happened (0 for refused requests).
    pub index: u64,
}

impl V2Error {
    /// An error with `code` about `cause` at `index`.
    pub fn new(code: u32, cause: impl Into<String>, index: u64) -> V2Error {
        V2Error {
            code,
            cause: cause.into(),
            index,
        }
    }

    /// etcd's message for the code.
    pub fn message(&self) -> &'static str {
        match self.code {
            100 => "Key not found",
            101 => "Compare failed",
            102 => "Not a file",
            104 => "Not a directory",
            105 => "Key already exists",
            107 => "Root is read only",
            108 => "Directory not empty",
            110 => "The request requires user authentication",
            201 => "PrevValue is Required in POST form",
            202 => "The given TTL in POST form is not a number",
            203 => "The given index in POST form is not a number",
            209 => "Invalid field",
            210 => "Invalid POST form",
            211 => "Value provided on refresh",
            212 => "A TTL must be provided on refresh",
            300 => "Raft Internal Error",
            301 => "During Leader Election",
            401 => "The event in requested index is outdated and cleared",
            _ => "",
        }
    }

    /// The HTTP status etcd answers the error with.
    pub fn status(&self) -> u16 {
        match self.code {
            100 => 404,
            102 | 108 => 403,
            110 => 401,
            101 | 105 => 412,
            300 | 301 => 500,
            _ => 400,
        }
    }

    /// The error as etcd's JSON, with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str(&format!("{{\"errorCode\":{},\"message\":", self.code));
        json::string(&mut out, self.message().as_bytes());
        if !self.cause.is_empty() {
            out.push_str(",\"cause\":");
            json::string(&mut out, self.cause.as_bytes());
        }
        out.push_str(&format!(",\"index\":{}}}\n", self.index));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_in_etcds_field_order() {
        let mut e = Event::new("set", "/a", 5, 5);
        e.node.value = Some(b"v".to_vec());
        e.prev_node = Some(NodeView {
            value: Some(Vec::new()),
            ..NodeView::new("/a", 4, 3)
        });
        assert_eq!(
            e.to_json(),
            "{\"action\":\"set\",\"node\":{\"key\":\"/a\",\"value\":\"v\",\"modifiedIndex\":5,\"createdIndex\":5},\"prevNode\":{\"key\":\"/a\",\"value\":\"\",\"modifiedIndex\":4,\"createdIndex\":3}}\n"
        );
        let root = Event {
            node: NodeView {
                dir: true,
                ..NodeView::new("/", 0, 0)
            },
            ..Event::new("get", "/", 0, 0)
        };
        assert_eq!(
            root.to_json(),
            "{\"action\":\"get\",\"node\":{\"dir\":true}}\n"
        );
    }

    #[test]
    fn errors_render_as_etcd_does() {
        let e = V2Error::new(code::NODE_EXIST, "/a/b", 4);
        assert_eq!(
            e.to_json(),
            "{\"errorCode\":105,\"message\":\"Key already exists\",\"cause\":\"/a/b\",\"index\":4}\n"
        );
        assert_eq!(e.status(), 412);
    }
}
