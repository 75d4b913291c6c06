//! Printing responses in etcdctl's output formats (`-w/--write-out`).
//!
//! Each format reproduces etcdctl 3.4 byte for byte, so that anything that
//! parses etcdctl's output can parse ectl's.

mod auth;
mod fields;
mod json;
mod json_clientv3;
mod rows;
mod simple;
mod table;

use ectd_client::proto::etcdserverpb::{
    request_op, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse,
    MemberListResponse, MoveLeaderResponse, PutResponse, RangeResponse, RequestOp, ResponseHeader,
    StatusResponse, TxnResponse, WatchResponse,
};
use ectd_client::proto::mvccpb::event::EventType;
use prost::Message;

use super::exit::CtlError;

/// A JSON string literal as Go's `encoding/json` writes it (shared with the
/// v2 commands' JSON output).
pub(crate) use json::string as json_string;

pub use auth::permission_range;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-oriented text: keys and values on lines of their own.
    Simple,
    /// The response message as JSON, with Go's field names and encoding.
    Json,
    /// One `"Field" : value` line per field.
    Fields,
    /// The response message in protobuf wire format.
    Protobuf,
    /// An ASCII grid; only `member list` and `endpoint` support it.
    Table,
}

impl Format {
    /// Parses a `--write-out` value.
    pub fn parse(name: &str) -> Result<Format, CtlError> {
        match name {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "fields" => Ok(Format::Fields),
            "protobuf" => Ok(Format::Protobuf),
            "table" => Ok(Format::Table),
            _ => Err(CtlError::bad_feature("unsupported output format")),
        }
    }

    /// The name `--write-out` gives the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Protobuf => "protobuf",
            Format::Table => "table",
        }
    }
}

/// The outcome of checking one endpoint (`endpoint health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    /// The endpoint as it was given or listed by the cluster.
    pub endpoint: String,
    /// Whether a linearizable read went through.
    pub health: bool,
    /// How long the check took, as Go prints durations.
    pub took: String,
    /// Why the check failed; empty when healthy.
    pub error: String,
}

/// The status one endpoint reported (`endpoint status`).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStatus {
    /// The endpoint as it was given or listed by the cluster.
    pub endpoint: String,
    /// Its answer to `Maintenance.Status`.
    pub status: StatusResponse,
}

/// What `member remove`, `update` and `promote` did, in the words of their
/// confirmation line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// `member remove`.
    Removed,
    /// `member update`.
    Updated,
    /// `member promote`.
    Promoted,
}

impl MemberChange {
    fn words(self) -> &'static str {
        match self {
            MemberChange::Removed => "removed from",
            MemberChange::Updated => "updated in",
            MemberChange::Promoted => "promoted in",
        }
    }
}

/// How a range response should be shown in simple format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetView {
    /// Print values only (`--print-value-only`).
    pub value_only: bool,
    /// The request asked for the count only (`--count-only`): print it.
    pub count_only: bool,
}

/// Renders responses in one format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The format to render.
    pub format: Format,
    /// Hex-escape keys and values in simple format (`--hex`).
    pub hex: bool,
}

impl Printer {
    /// Renders the response of `get`.
    pub fn get(
        &self,
        out: &mut Vec<u8>,
        resp: &RangeResponse,
        view: GetView,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::range(out, resp, self.hex, view),
            Format::Json => json::line(out, json::range(resp)),
            Format::Fields => fields::range(out, resp),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `put`.
    pub fn put(&self, out: &mut Vec<u8>, resp: &PutResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::put(out, resp, self.hex),
            Format::Json => json::line(out, json::put(resp)),
            Format::Fields => fields::put(out, resp),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `del`.
    pub fn del(&self, out: &mut Vec<u8>, resp: &DeleteRangeResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::delete(out, resp, self.hex),
            Format::Json => json::line(out, json::delete(resp)),
            Format::Fields => fields::delete(out, resp),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `txn`; `ops` is the branch the server
    /// executed, which tells simple format how to show each range.
    pub fn txn(
        &self,
        out: &mut Vec<u8>,
        resp: &TxnResponse,
        ops: &[RequestOp],
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::txn(out, resp, self.hex, ops),
            Format::Json => json::line(out, json::txn(resp)),
            Format::Fields => fields::txn(out, resp),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the result of `compaction`, which is the same text in every
    /// format.
    pub fn compaction(&self, out: &mut Vec<u8>, revision: i64) {
        out.extend(format!("compacted revision {revision}\n").bytes());
    }
}

impl Printer {
    /// Renders one response of `watch`. Protobuf format writes the fields
    /// etcdctl keeps of it (header, events, compact revision, canceled,
    /// created), not the watch ID.
    pub fn watch(&self, out: &mut Vec<u8>, resp: &WatchResponse) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::watch(out, resp, self.hex),
            Format::Json => json::line(out, json_clientv3::watch(resp)),
            Format::Fields => fields::watch(out, resp),
            Format::Protobuf => {
                let kept = WatchResponse {
                    header: Some(resp.header.unwrap_or_default()),
                    events: resp.events.clone(),
                    compact_revision: resp.compact_revision,
                    canceled: resp.canceled,
                    created: resp.created,
                    ..Default::default()
                };
                out.extend(kept.encode_to_vec());
            }
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response clientv3 closes a failed watch with (it has
    /// only `canceled` set, and no events at all rather than an empty
    /// list).
    pub fn watch_closed(&self, out: &mut Vec<u8>) -> Result<(), CtlError> {
        let closed = WatchResponse {
            canceled: true,
            ..Default::default()
        };
        match self.format {
            Format::Json => json::line(out, json_clientv3::watch_closed()),
            _ => return self.watch(out, &closed),
        }
        Ok(())
    }

    /// Renders the response of `lease grant`. In protobuf format etcdctl
    /// can only marshal the header of clientv3's lease responses.
    pub fn lease_grant(
        &self,
        out: &mut Vec<u8>,
        resp: &LeaseGrantResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::lease_grant(out, resp),
            Format::Json => json::line(out, json_clientv3::lease_grant(resp)),
            Format::Fields => fields::lease_grant(out, resp),
            Format::Protobuf => out.extend(resp.header.unwrap_or_default().encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `lease revoke` of lease `id`. etcdctl cannot
    /// marshal it as protobuf and says so, after the lease was revoked.
    pub fn lease_revoke(
        &self,
        out: &mut Vec<u8>,
        id: i64,
        resp: &LeaseRevokeResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::lease_revoke(out, id),
            Format::Json => json::line(out, json::revoke(resp)),
            Format::Fields => fields::header(out, &resp.header),
            Format::Protobuf => {
                return Err(CtlError::bad_feature(format!(
                    "marshal unsupported for type clientv3.LeaseRevokeResponse ({{{}}})",
                    header_text(&resp.header)
                )))
            }
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders one renewal of `lease keep-alive`.
    pub fn lease_keep_alive(
        &self,
        out: &mut Vec<u8>,
        resp: &LeaseKeepAliveResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::lease_keep_alive(out, resp),
            Format::Json => json::line(out, json_clientv3::lease_keep_alive(resp)),
            Format::Fields => fields::lease_keep_alive(out, resp),
            Format::Protobuf => out.extend(resp.header.unwrap_or_default().encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `lease timetolive`; `keys` is whether
    /// `--keys` was given, which simple format mentions.
    pub fn lease_time_to_live(
        &self,
        out: &mut Vec<u8>,
        resp: &LeaseTimeToLiveResponse,
        keys: bool,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::lease_time_to_live(out, resp, keys),
            Format::Json => json::line(out, json_clientv3::lease_time_to_live(resp)),
            Format::Fields => fields::lease_time_to_live(out, resp),
            Format::Protobuf => out.extend(resp.header.unwrap_or_default().encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `lease list`.
    pub fn lease_leases(
        &self,
        out: &mut Vec<u8>,
        resp: &LeaseLeasesResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::lease_leases(out, resp),
            Format::Json => json::line(out, json_clientv3::lease_leases(resp)),
            Format::Fields => fields::lease_leases(out, resp),
            Format::Protobuf => out.extend(resp.header.unwrap_or_default().encode_to_vec()),
            Format::Table => return Err(table_unsupported()),
        }
        Ok(())
    }
}

impl Printer {
    /// Renders the response of `member list`.
    pub fn member_list(&self, out: &mut Vec<u8>, resp: &MemberListResponse) {
        match self.format {
            Format::Simple => simple::member_list(out, &resp.members),
            Format::Json => json::line(out, json::member_list(resp)),
            Format::Fields => fields::member_list(out, resp),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Table => {
                table::render(out, &rows::MEMBER_HEADER, &rows::members(&resp.members))
            }
        }
    }

    /// Renders the response of `member add`. Simple format adds the
    /// settings the new member must be started with, for which it needs the
    /// name and the `--peer-urls` the member was added with.
    pub fn member_add(
        &self,
        out: &mut Vec<u8>,
        resp: &MemberAddResponse,
        name: &[u8],
        peer_urls: &str,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::member_add(out, resp, name, peer_urls),
            Format::Json => json::line(out, json::member_add(resp)),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the response of `member remove`, `update` or `promote`:
    /// `header` and `members` are its fields and `message` the response
    /// itself, for protobuf format.
    pub fn member_changed(
        &self,
        out: &mut Vec<u8>,
        change: MemberChange,
        id: u64,
        header: &Option<ResponseHeader>,
        members: &[Member],
        message: &impl Message,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::member_changed(out, id, change.words(), header),
            Format::Json => json::line(out, json::members_response(header, members)),
            Format::Protobuf => out.extend(message.encode_to_vec()),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the results of `endpoint health`. Simple format writes them
    /// to `diag` (meant for stderr), where etcdctl writes them.
    pub fn endpoint_health(
        &self,
        out: &mut Vec<u8>,
        diag: &mut Vec<u8>,
        list: &[EndpointHealth],
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::endpoint_health(diag, list),
            Format::Json => json::line(out, json::endpoint_health(list)),
            Format::Fields => fields::endpoint_health(out, list),
            Format::Table => table::render(out, &rows::HEALTH_HEADER, &rows::health(list)),
            Format::Protobuf => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the results of `endpoint status`.
    pub fn endpoint_status(
        &self,
        out: &mut Vec<u8>,
        list: &[EndpointStatus],
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::endpoint_status(out, list),
            Format::Json => json::line(out, json::endpoint_status(list)),
            Format::Fields => fields::endpoint_status(out, list),
            Format::Table => table::render(out, &rows::STATUS_HEADER, &rows::status(list)),
            Format::Protobuf => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders `snapshot status`: hash, revision, keys and size.
    pub fn db_status(
        &self,
        out: &mut Vec<u8>,
        st: &ectd_server::backup::SnapshotStatus,
    ) -> Result<(), CtlError> {
        let row = vec![
            format!("{:x}", st.hash),
            st.revision.to_string(),
            st.total_key.to_string(),
            rows::human_bytes(st.total_size),
        ];
        match self.format {
            Format::Simple => {
                out.extend(row.join(", ").bytes());
                out.push(b'\n');
            }
            Format::Json => json::line(
                out,
                format!(
                    "{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}",
                    st.hash, st.revision, st.total_key, st.total_size
                ),
            ),
            Format::Fields => out.extend(
                format!(
                    "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
                    st.hash, st.revision, st.total_key, st.total_size
                )
                .bytes(),
            ),
            Format::Table => table::render(
                out,
                &["hash", "revision", "total keys", "total size"],
                &[row],
            ),
            Format::Protobuf => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// Renders the result of `move-leader`.
    pub fn move_leader(
        &self,
        out: &mut Vec<u8>,
        leader: u64,
        target: u64,
        resp: &MoveLeaderResponse,
    ) -> Result<(), CtlError> {
        match self.format {
            Format::Simple => simple::move_leader(out, leader, target),
            Format::Json => json::line(out, json::move_leader(resp)),
            Format::Protobuf => out.extend(resp.encode_to_vec()),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// etcdctl's refusal of a known format that a command cannot render.
    /// It comes after the request was made, as in etcdctl.
    fn unsupported(&self) -> CtlError {
        CtlError::bad_feature(format!(
            "{} not supported as output format",
            self.format.name()
        ))
    }
}

fn table_unsupported() -> CtlError {
    CtlError::bad_feature("table not supported as output format")
}

/// An event type as Go prints the enum: its name, or the number if it has
/// none.
fn event_type_name(value: i32) -> String {
    EventType::try_from(value).map_or_else(|_| value.to_string(), |t| t.as_str_name().to_string())
}

/// A header in protobuf's compact text format (what Go's `%v` prints for
/// it): each non-zero field as `name:value` followed by a space; `<nil>`
/// without a header.
fn header_text(header: &Option<ResponseHeader>) -> String {
    let Some(h) = header else {
        return "<nil>".to_string();
    };
    let mut text = String::new();
    for (name, value) in [
        ("cluster_id", h.cluster_id.to_string()),
        ("member_id", h.member_id.to_string()),
        ("revision", h.revision.to_string()),
        ("raft_term", h.raft_term.to_string()),
    ] {
        if value != "0" {
            text.push_str(&format!("{name}:{value} "));
        }
    }
    text
}

/// How simple format shows the range response to `op`, if it is a range.
fn view_of(op: Option<&RequestOp>) -> GetView {
    match op.and_then(|op| op.request.as_ref()) {
        Some(request_op::Request::RequestRange(range)) => GetView {
            value_only: false,
            count_only: range.count_only,
        },
        _ => GetView::default(),
    }
}

/// The branch of a nested transaction that the server executed.
fn executed_branch(op: Option<&RequestOp>, succeeded: bool) -> &[RequestOp] {
    match op.and_then(|op| op.request.as_ref()) {
        Some(request_op::Request::RequestTxn(txn)) if succeeded => &txn.success,
        Some(request_op::Request::RequestTxn(txn)) => &txn.failure,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Format::parse("json"), Ok(Format::Json));
        assert_eq!(Format::parse("table"), Ok(Format::Table));
        let err = Format::parse("yaml").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (4, "unsupported output format")
        );
    }

    #[test]
    fn table_is_rejected_when_printing() {
        let printer = Printer {
            format: Format::Table,
            hex: false,
        };
        let err = printer
            .put(&mut Vec::new(), &PutResponse::default())
            .unwrap_err();
        assert_eq!(err.message, "table not supported as output format");
        assert_eq!(err.code, 4);
    }

    #[test]
    fn revoke_cannot_be_protobuf() {
        let printer = Printer {
            format: Format::Protobuf,
            hex: false,
        };
        let resp = LeaseRevokeResponse {
            header: Some(ResponseHeader {
                cluster_id: 15118495548433857066,
                member_id: 13668033151171901709,
                revision: 1,
                raft_term: 2,
            }),
        };
        let err = printer.lease_revoke(&mut Vec::new(), 1, &resp).unwrap_err();
        assert_eq!(err.code, 4);
        assert_eq!(
            err.message,
            "marshal unsupported for type clientv3.LeaseRevokeResponse \
             ({cluster_id:15118495548433857066 member_id:13668033151171901709 revision:1 raft_term:2 })"
        );
        assert_eq!(header_text(&None), "<nil>");
        assert_eq!(event_type_name(1), "DELETE");
        assert_eq!(event_type_name(7), "7");
    }

    #[test]
    fn compaction_is_plain_text() {
        let printer = Printer {
            format: Format::Json,
            hex: false,
        };
        let mut out = Vec::new();
        printer.compaction(&mut out, 7);
        assert_eq!(out, b"compacted revision 7\n");
    }
}
