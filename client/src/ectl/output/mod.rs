//! Printing responses in etcdctl's output formats (`-w/--write-out`).
//!
//! Each format reproduces etcdctl 3.4 byte for byte, so that anything that
//! parses etcdctl's output can parse ectl's.

mod fields;
mod json;
mod simple;

use ectd_client::proto::etcdserverpb::{
    request_op, DeleteRangeResponse, PutResponse, RangeResponse, RequestOp, TxnResponse,
};
use prost::Message;

use super::exit::CtlError;

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
    /// Accepted like etcdctl does, but no key-value command supports it.
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

fn table_unsupported() -> CtlError {
    CtlError::bad_feature("table not supported as output format")
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
