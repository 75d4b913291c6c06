//! The `json` format for the responses etcdctl prints from clientv3's own
//! wrapper structs rather than from the protobuf messages: watch responses
//! and most lease responses. Go encodes those structs by their Go field
//! names, without `omitempty` (so zero values and `null` appear), and a
//! lease response's embedded `*ResponseHeader` contributes its fields
//! (`cluster_id`, …, each still `omitempty`) to the outer object instead of
//! a nested `header`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ectd_client::proto::etcdserverpb::{
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    ResponseHeader, WatchResponse,
};
use ectd_client::proto::mvccpb::Event;

use super::json::{header_object, key_value, string, Object};

/// `clientv3.WatchResponse`: the header as a whole, the events (an empty
/// list rather than `null`), then the status fields, all always present.
pub fn watch(resp: &WatchResponse) -> String {
    let mut obj = Object::default();
    obj.raw("Header", &header_object(&resp.header.unwrap_or_default()));
    let events: Vec<String> = resp.events.iter().map(event).collect();
    obj.raw("Events", &format!("[{}]", events.join(",")));
    obj.raw("CompactRevision", &resp.compact_revision.to_string());
    obj.raw("Canceled", &resp.canceled.to_string());
    obj.raw("Created", &resp.created.to_string());
    obj.finish()
}

/// The `clientv3.WatchResponse` that closes a failed watch: a zero
/// header, `null` events, only `Canceled` set.
pub fn watch_closed() -> String {
    r#"{"Header":{},"Events":null,"CompactRevision":0,"Canceled":true,"Created":false}"#.to_string()
}

/// `clientv3.LeaseGrantResponse`, including its (always empty) `Error`.
pub fn lease_grant(resp: &LeaseGrantResponse) -> String {
    let mut obj = Object::default();
    header_fields(&mut obj, &resp.header);
    obj.raw("ID", &resp.id.to_string());
    obj.raw("TTL", &resp.ttl.to_string());
    obj.raw("Error", &string(&resp.error));
    obj.finish()
}

/// `clientv3.LeaseKeepAliveResponse`.
pub fn lease_keep_alive(resp: &LeaseKeepAliveResponse) -> String {
    let mut obj = Object::default();
    header_fields(&mut obj, &resp.header);
    obj.raw("ID", &resp.id.to_string());
    obj.raw("TTL", &resp.ttl.to_string());
    obj.finish()
}

/// `clientv3.LeaseTimeToLiveResponse`, whose fields carry lower-case JSON
/// names; no keys is `null`.
pub fn lease_time_to_live(resp: &LeaseTimeToLiveResponse) -> String {
    let mut obj = Object::default();
    header_fields(&mut obj, &resp.header);
    obj.raw("id", &resp.id.to_string());
    obj.raw("ttl", &resp.ttl.to_string());
    obj.raw("granted-ttl", &resp.granted_ttl.to_string());
    if resp.keys.is_empty() {
        obj.raw("keys", "null");
    } else {
        let keys: Vec<String> = resp
            .keys
            .iter()
            .map(|key| format!("\"{}\"", STANDARD.encode(key)))
            .collect();
        obj.raw("keys", &format!("[{}]", keys.join(",")));
    }
    obj.finish()
}

/// `clientv3.LeaseLeasesResponse`: the leases as `{"id":…}` records (an
/// empty list rather than `null`).
pub fn lease_leases(resp: &LeaseLeasesResponse) -> String {
    let mut obj = Object::default();
    header_fields(&mut obj, &resp.header);
    let leases: Vec<String> = resp
        .leases
        .iter()
        .map(|lease| format!("{{\"id\":{}}}", lease.id))
        .collect();
    obj.raw("leases", &format!("[{}]", leases.join(",")));
    obj.finish()
}

/// `mvccpb.Event`: `type` is omitted for PUT (its zero value).
fn event(event: &Event) -> String {
    let mut obj = Object::default();
    obj.int("type", i64::from(event.r#type));
    if let Some(kv) = &event.kv {
        obj.raw("kv", &key_value(kv));
    }
    if let Some(prev) = &event.prev_kv {
        obj.raw("prev_kv", &key_value(prev));
    }
    obj.finish()
}

/// The fields of an embedded `*ResponseHeader`, promoted into the outer
/// object; nothing when there is no header.
fn header_fields(obj: &mut Object, header: &Option<ResponseHeader>) {
    if let Some(h) = header {
        obj.uint("cluster_id", h.cluster_id);
        obj.uint("member_id", h.member_id);
        obj.int("revision", h.revision);
        obj.uint("raft_term", h.raft_term);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_client::proto::etcdserverpb::LeaseStatus;
    use ectd_client::proto::mvccpb::KeyValue;

    fn hdr(revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: 15118495548433857066,
            member_id: 13668033151171901709,
            revision,
            raft_term: 2,
        })
    }

    const HEADER: &str = r#""cluster_id":15118495548433857066,"member_id":13668033151171901709"#;

    #[test]
    fn watch_events_like_etcdctl() {
        let resp = WatchResponse {
            header: hdr(6),
            events: vec![
                Event {
                    r#type: 0,
                    kv: Some(KeyValue {
                        key: b"w/a".to_vec(),
                        create_revision: 4,
                        mod_revision: 5,
                        version: 2,
                        value: b"2".to_vec(),
                        lease: 0,
                    }),
                    prev_kv: Some(KeyValue {
                        key: b"w/a".to_vec(),
                        create_revision: 4,
                        mod_revision: 4,
                        version: 1,
                        value: b"1".to_vec(),
                        lease: 0,
                    }),
                },
                Event {
                    r#type: 1,
                    kv: Some(KeyValue {
                        key: b"w/a".to_vec(),
                        mod_revision: 6,
                        ..Default::default()
                    }),
                    prev_kv: None,
                },
            ],
            watch_id: 3,
            ..Default::default()
        };
        assert_eq!(
            watch(&resp),
            format!(
                r#"{{"Header":{{{HEADER},"revision":6,"raft_term":2}},"Events":[{{"kv":{{"key":"dy9h","create_revision":4,"mod_revision":5,"version":2,"value":"Mg=="}},"prev_kv":{{"key":"dy9h","create_revision":4,"mod_revision":4,"version":1,"value":"MQ=="}}}},{{"type":1,"kv":{{"key":"dy9h","mod_revision":6}}}}],"CompactRevision":0,"Canceled":false,"Created":false}}"#
            )
        );
    }

    #[test]
    fn compacted_watch_like_etcdctl() {
        let resp = WatchResponse {
            header: hdr(0),
            canceled: true,
            compact_revision: 5,
            ..Default::default()
        };
        assert_eq!(
            watch(&resp),
            format!(
                r#"{{"Header":{{{HEADER},"raft_term":2}},"Events":[],"CompactRevision":5,"Canceled":true,"Created":false}}"#
            )
        );
    }

    #[test]
    fn lease_responses_like_etcdctl() {
        let grant = LeaseGrantResponse {
            header: hdr(1),
            id: 4111120163776979975,
            ttl: 100,
            error: String::new(),
        };
        assert_eq!(
            lease_grant(&grant),
            format!(
                r#"{{{HEADER},"revision":1,"raft_term":2,"ID":4111120163776979975,"TTL":100,"Error":""}}"#
            )
        );
        let kept = LeaseKeepAliveResponse {
            header: hdr(3),
            id: 4111120163776979983,
            ttl: 100,
        };
        assert_eq!(
            lease_keep_alive(&kept),
            format!(
                r#"{{{HEADER},"revision":3,"raft_term":2,"ID":4111120163776979983,"TTL":100}}"#
            )
        );
        let ttl = LeaseTimeToLiveResponse {
            header: hdr(3),
            id: 4111120163776979983,
            ttl: 96,
            granted_ttl: 100,
            keys: vec![b"k2".to_vec(), b"k1".to_vec()],
        };
        assert_eq!(
            lease_time_to_live(&ttl),
            format!(
                r#"{{{HEADER},"revision":3,"raft_term":2,"id":4111120163776979983,"ttl":96,"granted-ttl":100,"keys":["azI=","azE="]}}"#
            )
        );
        let expired = LeaseTimeToLiveResponse {
            header: hdr(3),
            id: 4660,
            ttl: -1,
            granted_ttl: 0,
            keys: vec![],
        };
        assert_eq!(
            lease_time_to_live(&expired),
            format!(
                r#"{{{HEADER},"revision":3,"raft_term":2,"id":4660,"ttl":-1,"granted-ttl":0,"keys":null}}"#
            )
        );
        let leases = LeaseLeasesResponse {
            header: hdr(1),
            leases: vec![LeaseStatus { id: 5 }, LeaseStatus { id: 7 }],
        };
        assert_eq!(
            lease_leases(&leases),
            format!(r#"{{{HEADER},"revision":1,"raft_term":2,"leases":[{{"id":5}},{{"id":7}}]}}"#)
        );
        assert_eq!(
            lease_leases(&LeaseLeasesResponse::default()),
            r#"{"leases":[]}"#
        );
    }
}
