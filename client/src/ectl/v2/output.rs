//! What v2 commands print: etcdctl 2's three formats for a response
//! (`simple`, `extended`, `json`), written as the command goes, and the
//! exit statuses.

use std::io::Write;

use ectd_client::v2::{Node, Response};

use super::super::output::json_string;

/// A bad command line, or a command that failed before asking.
pub const EXIT_BAD_ARGS: i32 = 1;
/// The cluster could not be reached while syncing.
pub const EXIT_BAD_CONNECTION: i32 = 2;
/// The server (or every endpoint) refused or failed the request.
pub const EXIT_SERVER_ERROR: i32 = 4;
/// `cluster-health` found a member unhealthy.
pub const EXIT_CLUSTER_NOT_HEALTHY: i32 = 5;

/// The end of a command with a non-zero status; what it prints on stderr
/// first (if anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub stderr: String,
}

impl Exit {
    /// Exit with `code` after printing `text` (verbatim) on stderr.
    pub fn message(code: i32, text: &str) -> Exit {
        Exit {
            code,
            stderr: text.to_string(),
        }
    }

    /// Exit with `code`; everything has been said.
    pub fn quiet(code: i32) -> Exit {
        Exit::message(code, "")
    }
}

/// Writes to stdout at once (commands print as they go, like etcdctl).
pub fn print_now(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes to stderr at once.
pub fn eprint_now(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// etcdctl's `printResponseKey`: the response in `format`, or a complaint
/// about the format on stderr (which does not fail the command).
pub fn print_response(response: &Response, format: &str) {
    match format {
        "simple" => print_now(&simple(response)),
        "extended" => print_now(&extended(response)),
        "json" => print_now(&format!("{}\n", json(response))),
        other => eprint_now(&format!("Unsupported output format: {other}\n")),
    }
}

/// The value, or for a delete the value it had.
fn simple(response: &Response) -> String {
    if response.action == "delete" {
        let previous = response.prev_node.as_ref().map(|node| node.value.as_str());
        format!("PrevNode.Value: {}\n", previous.unwrap_or_default())
    } else {
        format!("{}\n", response.node.value)
    }
}

/// Header lines in the style of RFC 2822, a blank line and the value.
fn extended(response: &Response) -> String {
    let node = &response.node;
    let mut text = format!(
        "Key: {}\nCreated-Index: {}\nModified-Index: {}\n",
        node.key, node.created_index, node.modified_index
    );
    if let Some(previous) = &response.prev_node {
        text.push_str(&format!("PrevNode.Value: {}\n", previous.value));
    }
    text.push_str(&format!(
        "TTL: {}\nIndex: {}\n",
        node.ttl.unwrap_or(0),
        response.index
    ));
    if response.action != "delete" {
        text.push_str(&format!("\n{}\n", node.value));
    }
    text
}

/// The response as etcd's Go client encodes it: `action`, `node` and
/// `prevNode` (null when absent); in nodes, `dir` only when true, `value`
/// always, `nodes` as null when there are none, `expiration` and `ttl`
/// only when set.
pub fn json(response: &Response) -> String {
    format!(
        "{{\"action\":{},\"node\":{},\"prevNode\":{}}}",
        json_string(&response.action),
        node_json(&response.node),
        response
            .prev_node
            .as_ref()
            .map_or_else(|| "null".to_string(), node_json)
    )
}

fn node_json(node: &Node) -> String {
    let mut text = format!("{{\"key\":{}", json_string(&node.key));
    if node.dir {
        text.push_str(",\"dir\":true");
    }
    text.push_str(&format!(",\"value\":{}", json_string(&node.value)));
    match &node.nodes {
        None => text.push_str(",\"nodes\":null"),
        Some(children) => {
            let children: Vec<String> = children.iter().map(node_json).collect();
            text.push_str(&format!(",\"nodes\":[{}]", children.join(",")));
        }
    }
    text.push_str(&format!(
        ",\"createdIndex\":{},\"modifiedIndex\":{}",
        node.created_index, node.modified_index
    ));
    if let Some(expiration) = &node.expiration {
        text.push_str(&format!(
            ",\"expiration\":{}",
            json_string(&rfc3339_nano(expiration))
        ));
    }
    if let Some(ttl) = node.ttl.filter(|ttl| *ttl != 0) {
        text.push_str(&format!(",\"ttl\":{ttl}"));
    }
    text.push('}');
    text
}

/// A timestamp as Go's `time.Time` marshals it after parsing: RFC 3339
/// with the fraction's trailing zeros dropped and a zero offset as `Z`.
/// Text that is not such a timestamp is kept as it is.
fn rfc3339_nano(timestamp: &str) -> String {
    let Some(split) = timestamp.find(['Z', 'z', '+']).or_else(|| {
        // A negative offset: the last '-' after the time of day.
        timestamp
            .rfind('-')
            .filter(|&at| timestamp[..at].contains('T'))
    }) else {
        return timestamp.to_string();
    };
    let (clock, zone) = timestamp.split_at(split);
    let zone = match zone {
        "Z" | "z" | "+00:00" | "-00:00" => "Z",
        other => other,
    };
    let clock = match clock.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b.is_ascii_digit()) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        _ => clock.to_string(),
    };
    format!("{clock}{zone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: &str, value: &str, index: u64) -> Node {
        Node {
            key: key.to_string(),
            value: value.to_string(),
            created_index: index,
            modified_index: index,
            ..Node::default()
        }
    }

    #[test]
    fn formats_match_etcdctl() {
        let response = Response {
            action: "set".to_string(),
            node: Node {
                expiration: Some("2026-12-04T05:36:52.969138260Z".to_string()),
                ttl: Some(100),
                ..node("/t", "a<b>&", 23)
            },
            prev_node: Some(node("/t", "old", 20)),
            index: 23,
            ..Response::default()
        };
        assert_eq!(simple(&response), "a<b>&\n");
        assert_eq!(
            extended(&response),
            "Key: /t\nCreated-Index: 23\nModified-Index: 23\nPrevNode.Value: old\nTTL: 100\n\
             Index: 23\n\na<b>&\n"
        );
        assert_eq!(
            json(&response),
            r#"{"action":"set","node":{"key":"/t","value":"a\u003cb\u003e\u0026","nodes":null,"createdIndex":23,"modifiedIndex":23,"expiration":"2026-12-04T05:36:52.96913826Z","ttl":100},"prevNode":{"key":"/t","value":"old","nodes":null,"createdIndex":20,"modifiedIndex":20}}"#
        );

        let deleted = Response {
            action: "delete".to_string(),
            node: Node {
                dir: true,
                nodes: Some(Vec::new()),
                ..node("/d", "", 30)
            },
            prev_node: None,
            index: 30,
            ..Response::default()
        };
        assert_eq!(simple(&deleted), "PrevNode.Value: \n");
        assert_eq!(
            extended(&deleted),
            "Key: /d\nCreated-Index: 30\nModified-Index: 30\nTTL: 0\nIndex: 30\n"
        );
        assert_eq!(
            json(&deleted),
            r#"{"action":"delete","node":{"key":"/d","dir":true,"value":"","nodes":[],"createdIndex":30,"modifiedIndex":30},"prevNode":null}"#
        );
    }

    #[test]
    fn timestamps_are_reformatted_like_go() {
        assert_eq!(
            rfc3339_nano("2026-12-04T05:36:44.672560060Z"),
            "2026-12-04T05:36:44.67256006Z"
        );
        assert_eq!(
            rfc3339_nano("2026-12-04T05:36:44.000Z"),
            "2026-12-04T05:36:44Z"
        );
        assert_eq!(
            rfc3339_nano("2026-12-04T05:36:44.5+00:00"),
            "2026-12-04T05:36:44.5Z"
        );
        assert_eq!(
            rfc3339_nano("2026-12-04T07:36:44.50+02:00"),
            "2026-12-04T07:36:44.5+02:00"
        );
        assert_eq!(
            rfc3339_nano("2026-12-04T01:36:44-04:00"),
            "2026-12-04T01:36:44-04:00"
        );
    }
}
