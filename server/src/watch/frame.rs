//! A watch response as it waits in a stream's outbox: either a response built for
//! one watcher, or one revision's events encoded once and shared by every watcher
//! that is sent exactly those events, so a change seen by 10,000 watchers is
//! encoded once, not 10,000 times. Only the header and the watch id are written
//! per watcher.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use ectd_proto::etcdserverpb::{ResponseHeader, WatchResponse};
use ectd_proto::mvccpb::Event;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message as _;

/// `WatchResponse` fields written by hand (see `rpc.proto`).
const HEADER: u32 = 1;
const WATCH_ID: u32 = 2;
const EVENTS: u32 = 11;
/// `mvccpb.Event` fields.
const EVENT_TYPE: u32 = 1;
const EVENT_KV: u32 = 2;
const EVENT_PREV_KV: u32 = 3;

/// One revision's events for a group of watchers, as the repeated `events` field
/// of a `WatchResponse`: each event's key, length and bytes, in order.
#[derive(Debug)]
pub struct SharedEvents {
    count: usize,
    bytes: Bytes,
}

impl SharedEvents {
    /// Encodes `events`, each with its previous version only if `prev_kv`.
    pub fn encode<'a>(events: impl Iterator<Item = &'a Event>, prev_kv: bool) -> SharedEvents {
        let mut buf = BytesMut::new();
        let mut count = 0;
        for ev in events {
            count += 1;
            let kv_len = ev.kv.as_ref().map(|kv| kv.encoded_len());
            let prev_len = ev
                .prev_kv
                .as_ref()
                .filter(|_| prev_kv)
                .map(|kv| kv.encoded_len());
            let field = |len: usize| 1 + encoded_len_varint(len as u64) + len;
            let type_len = if ev.r#type != 0 {
                1 + encoded_len_varint(ev.r#type as i64 as u64)
            } else {
                0
            };
            let len = type_len + kv_len.map_or(0, field) + prev_len.map_or(0, field);
            buf.reserve(1 + encoded_len_varint(len as u64) + len);
            encode_key(EVENTS, WireType::LengthDelimited, &mut buf);
            encode_varint(len as u64, &mut buf);
            if ev.r#type != 0 {
                encode_key(EVENT_TYPE, WireType::Varint, &mut buf);
                encode_varint(ev.r#type as i64 as u64, &mut buf);
            }
            if let (Some(kv), Some(n)) = (&ev.kv, kv_len) {
                encode_key(EVENT_KV, WireType::LengthDelimited, &mut buf);
                encode_varint(n as u64, &mut buf);
                kv.encode_raw(&mut buf);
            }
            if let (Some(kv), Some(n)) = (&ev.prev_kv, prev_len) {
                encode_key(EVENT_PREV_KV, WireType::LengthDelimited, &mut buf);
                encode_varint(n as u64, &mut buf);
                kv.encode_raw(&mut buf);
            }
        }
        SharedEvents {
            count,
            bytes: buf.freeze(),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The events, decoded again (for consumers inside the server).
    fn decode(&self) -> Vec<Event> {
        WatchResponse::decode(self.bytes.clone())
            .expect("events encoded by this module")
            .events
    }
}

/// A response waiting to be sent.
#[derive(Debug)]
pub enum Frame {
    /// Built for one watcher (control responses, catch-up, fragments).
    One(WatchResponse),
    /// Events shared with other watchers, under this watcher's header and id.
    Shared {
        header: Option<ResponseHeader>,
        watch_id: i64,
        events: Arc<SharedEvents>,
    },
}

impl Frame {
    /// The response header.
    pub fn header(&self) -> Option<ResponseHeader> {
        match self {
            Frame::One(resp) => resp.header,
            Frame::Shared { header, .. } => *header,
        }
    }

    /// Replaces the response header.
    pub fn set_header(&mut self, h: ResponseHeader) {
        match self {
            Frame::One(resp) => resp.header = Some(h),
            Frame::Shared { header, .. } => *header = Some(h),
        }
    }

    /// The encoded size, exactly.
    pub fn encoded_len(&self) -> usize {
        match self {
            Frame::One(resp) => resp.encoded_len(),
            Frame::Shared {
                header,
                watch_id,
                events,
            } => {
                header.as_ref().map_or(0, |h| {
                    let n = h.encoded_len();
                    1 + encoded_len_varint(n as u64) + n
                }) + if *watch_id != 0 {
                    1 + encoded_len_varint(*watch_id as u64)
                } else {
                    0
                } + events.bytes.len()
            }
        }
    }

    /// Writes the response as protobuf, byte for byte what encoding the
    /// equivalent `WatchResponse` writes.
    pub fn encode(&self, buf: &mut impl BufMut) {
        match self {
            Frame::One(resp) => resp.encode_raw(buf),
            Frame::Shared {
                header,
                watch_id,
                events,
            } => {
                if let Some(h) = header {
                    prost::encoding::message::encode(HEADER, h, buf);
                }
                if *watch_id != 0 {
                    prost::encoding::int64::encode(WATCH_ID, watch_id, buf);
                }
                buf.put_slice(&events.bytes);
            }
        }
    }

    /// The response as a message.
    pub fn into_response(self) -> WatchResponse {
        match self {
            Frame::One(resp) => resp,
            Frame::Shared {
                header,
                watch_id,
                events,
            } => WatchResponse {
                header,
                watch_id,
                events: events.decode(),
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::mvccpb::{event::EventType, KeyValue};

    fn kv(key: &str, rev: i64) -> KeyValue {
        KeyValue {
            key: key.as_bytes().to_vec(),
            value: vec![b'v'; 300],
            create_revision: 2,
            mod_revision: rev,
            version: rev - 1,
            lease: 7,
        }
    }

    fn events() -> Vec<Event> {
        vec![
            Event {
                r#type: EventType::Put as i32,
                kv: Some(kv("a", 5)),
                prev_kv: Some(kv("a", 4)),
            },
            Event {
                r#type: EventType::Delete as i32,
                kv: Some(KeyValue {
                    key: b"b".to_vec(),
                    mod_revision: 5,
                    ..Default::default()
                }),
                prev_kv: None,
            },
            Event::default(),
        ]
    }

    /// The shared encoding is exactly prost's encoding of the same response, with
    /// and without previous versions, and decodes back to it.
    #[test]
    fn shared_frames_encode_as_the_response_would() {
        let header = ResponseHeader {
            cluster_id: u64::MAX,
            member_id: 3,
            revision: 5,
            raft_term: 2,
        };
        for prev_kv in [false, true] {
            for watch_id in [0, 1, 1 << 40] {
                let evs = events();
                let want = WatchResponse {
                    header: Some(header),
                    watch_id,
                    events: evs
                        .iter()
                        .cloned()
                        .map(|mut e| {
                            if !prev_kv {
                                e.prev_kv = None;
                            }
                            e
                        })
                        .collect(),
                    ..Default::default()
                };
                let frame = Frame::Shared {
                    header: Some(header),
                    watch_id,
                    events: Arc::new(SharedEvents::encode(evs.iter(), prev_kv)),
                };
                let mut buf = Vec::new();
                frame.encode(&mut buf);
                assert_eq!(buf, want.encode_to_vec(), "prev_kv {prev_kv} id {watch_id}");
                assert_eq!(frame.encoded_len(), buf.len());
                assert_eq!(frame.into_response(), want);
            }
        }
    }
}
