//! Reads a JSON request as etcd 3.4's gateway (golang/protobuf's `jsonpb` over
//! Go's `encoding/json`) reads it, driven by the `.proto` descriptors, and
//! writes it as protobuf wire bytes for prost to decode.
//!
//! What this keeps from Go, since clients see it: a field may be spelled as in
//! the `.proto` file or in lowerCamelCase (the latter wins if both appear), the
//! last of duplicate members wins, unknown members and `null` are skipped,
//! integers may be quoted, enums come by name or by any number, bytes are
//! strict padded base64 (or an array of byte values), and type errors are
//! worded as Go words them (`json: cannot unmarshal number 1.5 into Go value of
//! type int64`, `illegal base64 data at input byte 3`, `unknown value "X" for
//! enum etcdserverpb.Compare_CompareTarget`).

use std::collections::HashMap;
use std::sync::OnceLock;

use ectd_proto::prost_types::field_descriptor_proto::{Label, Type};
use ectd_proto::prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use prost::Message as _;
use serde_json::Value;

use super::scan::{self, Scan};

/// The messages and enums of every package, by full name (`.pkg.Msg.Inner`).
struct Schema {
    messages: HashMap<String, DescriptorProto>,
    enums: HashMap<String, Enum>,
}

/// An enum: the name Go gives its type, and its values by name.
struct Enum {
    go_name: String,
    values: HashMap<String, i32>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let set = FileDescriptorSet::decode(ectd_proto::FILE_DESCRIPTOR_SET)
            .expect("ectd-proto's descriptor set decodes");
        let mut schema = Schema {
            messages: HashMap::new(),
            enums: HashMap::new(),
        };
        for file in set.file {
            let package = file.package().to_string();
            for e in &file.enum_type {
                schema.add_enum(&format!(".{package}"), &package, e);
            }
            for m in file.message_type {
                schema.add_message(&format!(".{package}"), &format!("{package}."), m);
            }
        }
        schema
    })
}

impl Schema {
    /// `go_scope` is the Go type name prefix of what `m` is nested in.
    fn add_message(&mut self, scope: &str, go_scope: &str, m: DescriptorProto) {
        let full = format!("{scope}.{}", m.name());
        let go_name = format!("{go_scope}{}", m.name());
        for e in &m.enum_type {
            self.add_enum(&full, &go_name, e);
        }
        for nested in m.nested_type.clone() {
            self.add_message(&full, &format!("{go_name}_"), nested);
        }
        self.messages.insert(full, m);
    }

    fn add_enum(
        &mut self,
        scope: &str,
        go_scope: &str,
        e: &ectd_proto::prost_types::EnumDescriptorProto,
    ) {
        let sep = if go_scope.contains('.') { "_" } else { "." };
        self.enums.insert(
            format!("{scope}.{}", e.name()),
            Enum {
                go_name: format!("{go_scope}{sep}{}", e.name()),
                values: e
                    .value
                    .iter()
                    .map(|v| (v.name().to_string(), v.number()))
                    .collect(),
            },
        );
    }
}

/// The protobuf encoding of the message named `full_name` (`pkg.Msg`) that
/// `json` holds, or the error etcd's gateway gives for it.
pub fn to_wire(full_name: &str, json: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    message(&format!(".{full_name}"), json, &mut out)?;
    Ok(out)
}

/// What Go calls a JSON value's kind in its type errors.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(what: impl std::fmt::Display, go_type: &str) -> String {
    format!("json: cannot unmarshal {what} into Go value of type {go_type}")
}

fn message(name: &str, json: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    let members = match json {
        Value::Null => return Ok(()),
        Value::Object(members) => members,
        other => return Err(type_error(kind(other), "map[string]json.RawMessage")),
    };
    let desc = schema()
        .messages
        .get(name)
        .unwrap_or_else(|| panic!("message {name} is not in ectd-proto's descriptors"));
    for field in &desc.field {
        let value = members
            .get(field.json_name())
            .or_else(|| members.get(field.name()));
        let Some(value) = value.filter(|v| !v.is_null()) else {
            continue;
        };
        if field.label() == Label::Repeated {
            let Value::Array(items) = value else {
                return Err(type_error(kind(value), "[]json.RawMessage"));
            };
            for item in items {
                one(field, item, out)?;
            }
        } else {
            one(field, value, out)?;
        }
    }
    Ok(())
}

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LENGTH: u64 = 2;
const FIXED32: u64 = 5;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: &FieldDescriptorProto, wire: u64) {
    put_varint(out, (u64::from(field.number() as u32) << 3) | wire);
}

fn put_bytes(out: &mut Vec<u8>, field: &FieldDescriptorProto, bytes: &[u8]) {
    put_key(out, field, LENGTH);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One value of `field` (one element, if it is repeated).
fn one(field: &FieldDescriptorProto, v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match field.r#type() {
        Type::Message | Type::Group => {
            let mut inner = Vec::new();
            message(field.type_name(), v, &mut inner)?;
            put_bytes(out, field, &inner);
        }
        Type::Bytes => {
            let bytes = bytes(v)?;
            put_bytes(out, field, &bytes);
        }
        Type::String => match v {
            Value::String(s) => put_bytes(out, field, s.as_bytes()),
            Value::Null => put_bytes(out, field, b""),
            other => return Err(type_error(kind(other), "string")),
        },
        Type::Bool => match v {
            Value::Bool(b) => {
                put_key(out, field, VARINT);
                put_varint(out, u64::from(*b));
            }
            Value::Null => {}
            other => return Err(type_error(kind(other), "bool")),
        },
        Type::Enum => {
            let e = schema()
                .enums
                .get(field.type_name())
                .unwrap_or_else(|| panic!("enum {} is not in the descriptors", field.type_name()));
            let n = match v {
                Value::String(s) => *e
                    .values
                    .get(s)
                    .ok_or_else(|| format!("unknown value {s:?} for enum {}", e.go_name))?,
                Value::Number(n) => n
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| type_error(format!("number {n}"), &e.go_name))?,
                Value::Null => 0,
                other => return Err(type_error(kind(other), &e.go_name)),
            };
            put_key(out, field, VARINT);
            put_varint(out, i64::from(n) as u64);
        }
        _ => number(field, v, out)?,
    }
    Ok(())
}

/// A numeric field: a JSON number, or a string holding one (or `null`).
fn number(field: &FieldDescriptorProto, v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            // Go drops the quotes and decodes what was inside as JSON.
            let inner = unquoted(s)?;
            match inner {
                Value::Number(_) => s.trim().to_string(),
                Value::Null => return Ok(()),
                other => return Err(type_error(kind(&other), go_number_type(field.r#type()))),
            }
        }
        Value::Null => return Ok(()),
        other => return Err(type_error(kind(other), go_number_type(field.r#type()))),
    };
    let bad = || type_error(format!("number {text}"), go_number_type(field.r#type()));
    match field.r#type() {
        Type::Int64 | Type::Sfixed64 | Type::Sint64 => {
            let n: i64 = text.parse().map_err(|_| bad())?;
            put_int(out, field, n as u64, n);
        }
        Type::Int32 | Type::Sfixed32 | Type::Sint32 => {
            let n: i32 = text.parse().map_err(|_| bad())?;
            put_int(out, field, i64::from(n) as u64, i64::from(n));
        }
        Type::Uint64 | Type::Fixed64 => {
            let n: u64 = text.parse().map_err(|_| bad())?;
            put_int(out, field, n, 0);
        }
        Type::Uint32 | Type::Fixed32 => {
            let n: u32 = text.parse().map_err(|_| bad())?;
            put_int(out, field, u64::from(n), 0);
        }
        Type::Double => {
            let n: f64 = text.parse().map_err(|_| bad())?;
            put_key(out, field, FIXED64);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Type::Float => {
            let n: f32 = text.parse().map_err(|_| bad())?;
            put_key(out, field, FIXED32);
            out.extend_from_slice(&n.to_le_bytes());
        }
        other => unreachable!("{other:?} is not numeric"),
    }
    Ok(())
}

/// An integer in the field's own encoding; `signed` is the value for zigzag.
fn put_int(out: &mut Vec<u8>, field: &FieldDescriptorProto, bits: u64, signed: i64) {
    match field.r#type() {
        Type::Sint64 | Type::Sint32 => {
            put_key(out, field, VARINT);
            put_varint(out, ((signed << 1) ^ (signed >> 63)) as u64);
        }
        Type::Fixed64 | Type::Sfixed64 => {
            put_key(out, field, FIXED64);
            out.extend_from_slice(&bits.to_le_bytes());
        }
        Type::Fixed32 | Type::Sfixed32 => {
            put_key(out, field, FIXED32);
            out.extend_from_slice(&(bits as u32).to_le_bytes());
        }
        _ => {
            put_key(out, field, VARINT);
            put_varint(out, bits);
        }
    }
}

fn go_number_type(t: Type) -> &'static str {
    match t {
        Type::Int64 | Type::Sfixed64 | Type::Sint64 => "int64",
        Type::Uint64 | Type::Fixed64 => "uint64",
        Type::Int32 | Type::Sfixed32 | Type::Sint32 => "int32",
        Type::Uint32 | Type::Fixed32 => "uint32",
        Type::Double => "float64",
        _ => "float32",
    }
}

/// The JSON value a quoted number holds, with Go's `json.Unmarshal` errors.
fn unquoted(s: &str) -> Result<Value, String> {
    const END: &str = "unexpected end of JSON input";
    let bytes = s.as_bytes();
    match scan::finish(bytes) {
        Scan::Empty => Err(END.to_string()),
        Scan::Invalid(e) if e == "unexpected EOF" => Err(END.to_string()),
        Scan::Invalid(e) => Err(e),
        Scan::Incomplete => Err(END.to_string()),
        Scan::Complete(end) => {
            if let Some(&c) = bytes[end..].iter().find(|c| !c.is_ascii_whitespace()) {
                return Err(format!(
                    "invalid character {} after top-level value",
                    scan::quote_char(c)
                ));
            }
            serde_json::from_str(s).map_err(|e| e.to_string())
        }
    }
}

/// A bytes field: padded standard base64, or an array of byte values.
fn bytes(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => base64(s.as_bytes()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| type_error(format!("number {n}"), "uint8")),
                Value::Null => Ok(0),
                other => Err(type_error(kind(other), "uint8")),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(type_error(kind(other), "[]uint8")),
    }
}

/// Go's `base64.StdEncoding` decoding: padding required, `\r` and `\n`
/// skipped, trailing bits not checked.
fn base64(src: &[u8]) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let corrupt = |at: usize| format!("illegal base64 data at input byte {at}");
    let skip_newlines = |mut i: usize| {
        while i < src.len() && matches!(src[i], b'\r' | b'\n') {
            i += 1;
        }
        i
    };
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut i = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut have = 0;
        let mut ended = false;
        while have < 4 {
            if i == src.len() {
                if have == 0 {
                    return Ok(out);
                }
                // Without its padding the quantum is short.
                return Err(corrupt(i - have));
            }
            let c = src[i];
            i += 1;
            if let Some(s) = sextet(c) {
                quantum[have] = s;
                have += 1;
                continue;
            }
            if c == b'\r' || c == b'\n' {
                continue;
            }
            if c != b'=' || have < 2 {
                return Err(corrupt(i - 1));
            }
            if have == 2 {
                // A second `=` must follow the first.
                i = skip_newlines(i);
                if i == src.len() {
                    return Err(corrupt(src.len()));
                }
                if src[i] != b'=' {
                    return Err(corrupt(i - 1));
                }
                i += 1;
            }
            i = skip_newlines(i);
            if i < src.len() {
                return Err(corrupt(i));
            }
            ended = true;
            break;
        }
        let n = (u32::from(quantum[0]) << 18)
            | (u32::from(quantum[1]) << 12)
            | (u32::from(quantum[2]) << 6)
            | u32::from(quantum[3]);
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..have.saturating_sub(1).min(3)]);
        if ended {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::etcdserverpb::{compare, request_op, RangeRequest, TxnRequest};
    use prost::Name;

    fn read<T: prost::Message + Name + Default>(json: &str) -> Result<T, String> {
        let value: Value = serde_json::from_str(json).unwrap();
        let wire = to_wire(&T::full_name(), &value)?;
        Ok(T::decode(wire.as_slice()).unwrap())
    }

    #[test]
    fn reads_both_spellings_quoted_numbers_and_enums() {
        let r: RangeRequest = read(
            r#"{"key":"Zm9v","rangeEnd":"Zm9w","keys_only":true,"revision":"7","limit":3,
                "sort_order":"DESCEND","sortTarget":2,"bogus":{"x":[1]},"min_mod_revision":null}"#,
        )
        .unwrap();
        assert_eq!(
            (r.key.as_slice(), r.range_end.as_slice()),
            (&b"foo"[..], &b"fop"[..])
        );
        assert!(r.keys_only);
        assert_eq!(
            (r.revision, r.limit, r.sort_order, r.sort_target),
            (7, 3, 2, 2)
        );
        // The lowerCamelCase spelling wins over the other; the last duplicate wins.
        let r: RangeRequest =
            read(r#"{"keysOnly":true,"keys_only":false,"key":"YQ==","key":"Yg=="}"#).unwrap();
        assert!(r.keys_only);
        assert_eq!(r.key, b"b");
        // Any number is taken for an enum, as Go takes it.
        let r: RangeRequest = read(r#"{"sort_order":9}"#).unwrap();
        assert_eq!(r.sort_order, 9);
    }

    #[test]
    fn reads_nested_messages_and_oneofs() {
        let t: TxnRequest = read(
            r#"{"compare":[{"key":"YQ==","target":"VALUE","result":"NOT_EQUAL","value":[104,105]}],
                "success":[{"request_put":{"key":"YQ==","lease":"-1"}},null],
                "failure":[{"requestRange":{"key":"YQ=="}}]}"#,
        )
        .unwrap();
        assert_eq!(
            t.compare[0].target_union,
            Some(compare::TargetUnion::Value(b"hi".to_vec()))
        );
        assert_eq!(t.compare[0].result, compare::CompareResult::NotEqual as i32);
        match &t.success[0].request {
            Some(request_op::Request::RequestPut(p)) => assert_eq!(p.lease, -1),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.success.len(), 2);
        assert!(matches!(
            t.failure[0].request,
            Some(request_op::Request::RequestRange(_))
        ));
    }

    #[test]
    fn words_type_errors_as_go_does() {
        let cases = [
            (r#"{"key":1}"#, "json: cannot unmarshal number into Go value of type []uint8"),
            (r#"{"key":{}}"#, "json: cannot unmarshal object into Go value of type []uint8"),
            (r#"{"key":"YQ"}"#, "illegal base64 data at input byte 0"),
            (r#"{"key":"Y Q=="}"#, "illegal base64 data at input byte 1"),
            (r#"{"key":"YQ=*"}"#, "illegal base64 data at input byte 2"),
            (r#"{"limit":"abc"}"#, "invalid character 'a' looking for beginning of value"),
            (r#"{"limit":"1.5"}"#, "json: cannot unmarshal number 1.5 into Go value of type int64"),
            (r#"{"limit":""}"#, "unexpected end of JSON input"),
            (r#"{"limit":"1 2"}"#, "invalid character '2' after top-level value"),
            (r#"{"limit":"true"}"#, "json: cannot unmarshal bool into Go value of type int64"),
            (r#"{"limit":{}}"#, "json: cannot unmarshal object into Go value of type int64"),
            (
                r#"{"limit":"99999999999999999999"}"#,
                "json: cannot unmarshal number 99999999999999999999 into Go value of type int64",
            ),
            (r#"{"keys_only":"true"}"#, "json: cannot unmarshal string into Go value of type bool"),
            (r#"{"keys_only":1}"#, "json: cannot unmarshal number into Go value of type bool"),
            (
                r#"{"sort_order":"BAD"}"#,
                r#"unknown value "BAD" for enum etcdserverpb.RangeRequest_SortOrder"#,
            ),
            (
                r#"{"sort_order":true}"#,
                "json: cannot unmarshal bool into Go value of type etcdserverpb.RangeRequest_SortOrder",
            ),
            ("[]", "json: cannot unmarshal array into Go value of type map[string]json.RawMessage"),
        ];
        for (json, want) in cases {
            assert_eq!(read::<RangeRequest>(json).unwrap_err(), want, "{json}");
        }
        let cases = [
            (r#"{"compare":{}}"#, "json: cannot unmarshal object into Go value of type []json.RawMessage"),
            (r#"{"compare":[5]}"#, "json: cannot unmarshal number into Go value of type map[string]json.RawMessage"),
            (
                r#"{"compare":[{"result":1.5}]}"#,
                "json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.Compare_CompareResult",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(read::<TxnRequest>(json).unwrap_err(), want, "{json}");
        }
    }

    #[test]
    fn base64_is_gos_standard_encoding() {
        assert_eq!(base64(b"").unwrap(), b"");
        assert_eq!(base64(b"Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64(b"Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64(b"Zm9v\r\nYmE=\n").unwrap(), b"fooba");
        // Trailing bits are not checked.
        assert_eq!(base64(b"YR==").unwrap(), b"a");
        assert_eq!(
            base64(b"YQ=").unwrap_err(),
            "illegal base64 data at input byte 3"
        );
        assert_eq!(
            base64(b"YQ==YQ==").unwrap_err(),
            "illegal base64 data at input byte 4"
        );
        assert_eq!(
            base64(b"Y===").unwrap_err(),
            "illegal base64 data at input byte 1"
        );
    }
}
