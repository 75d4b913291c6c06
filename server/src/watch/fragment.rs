//! Splitting a large watch response into fragments, for watchers created with
//! `fragment = true`: every fragment but the last has `fragment` set, each holds at
//! least one event, and none grows past the limit by more than its last event.

use ectd_proto::etcdserverpb::WatchResponse;
use prost::Message as _;

/// `resp` as the responses to send: itself when it fits in `limit` bytes, has fewer
/// than two events or fragmenting was not asked for; fragments otherwise.
pub(super) fn split(resp: WatchResponse, fragment: bool, limit: usize) -> Vec<WatchResponse> {
    if !fragment || resp.events.len() < 2 || resp.encoded_len() < limit {
        return vec![resp];
    }
    let mut template = resp;
    let events = std::mem::take(&mut template.events);
    template.fragment = true;
    let base = template.encoded_len();
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut size = base;
    for ev in events {
        // Each event is a length-delimited field: its bytes plus tag and length.
        let len = ev.encoded_len();
        let ev_size = 1 + prost::length_delimiter_len(len) + len;
        if !cur.is_empty() && size + ev_size >= limit {
            out.push(WatchResponse {
                events: std::mem::take(&mut cur),
                fragment: true,
                ..template.clone()
            });
            size = base;
        }
        size += ev_size;
        cur.push(ev);
    }
    out.push(WatchResponse {
        events: cur,
        fragment: false,
        ..template
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::mvccpb::{Event, KeyValue};

    fn event(n: usize) -> Event {
        Event {
            kv: Some(KeyValue {
                key: format!("k{n}").into_bytes(),
                value: vec![b'x'; 100],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn splits_only_when_asked_and_too_large() {
        let resp = WatchResponse {
            watch_id: 3,
            events: (0..50).map(event).collect(),
            ..Default::default()
        };
        assert_eq!(split(resp.clone(), false, 1000).len(), 1);
        assert_eq!(split(resp.clone(), true, 1 << 20).len(), 1);
        let parts = split(resp.clone(), true, 1000);
        assert!(parts.len() > 5);
        let (last, init) = parts.split_last().unwrap();
        assert!(init.iter().all(|p| p.fragment && p.encoded_len() < 1000));
        assert!(!last.fragment);
        assert!(parts
            .iter()
            .all(|p| p.watch_id == 3 && !p.events.is_empty()));
        let joined: Vec<Event> = parts.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(joined, resp.events);
    }

    #[test]
    fn a_single_huge_event_is_sent_whole() {
        let mut big = event(0);
        big.kv.as_mut().unwrap().value = vec![0; 5000];
        let resp = WatchResponse {
            events: vec![big, event(1)],
            ..Default::default()
        };
        let parts = split(resp, true, 1000);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].fragment && !parts[1].fragment);
    }
}
