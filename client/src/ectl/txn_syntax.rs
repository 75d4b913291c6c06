//! The text format of `ectl txn` input, as etcdctl reads it.
//!
//! Input is three sections, each ended by an empty (or all-blank) line:
//! compares, then the requests to run on success, then those to run on
//! failure. A compare looks like `mod("key") > "5"`; a request is a `put`,
//! `get` or `del` command line with the stand-alone command's flags, e.g.
//! `put key "a value" --prev-kv`.

use clap::Parser;
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::{request_op, Compare, RequestOp};

use super::args::TxnRequestLine;
use super::exit::CtlError;
use super::gostr::{decode_char, parse_int, quote, runes, unquote};
use super::{del, get, os_string, put};

/// Strips leading and trailing white space (Unicode `White_Space`, as Go's
/// `strings.TrimSpace`) from a line of raw bytes.
pub fn trim_space(mut line: &[u8]) -> &[u8] {
    while let Some((c, width)) = decode_char(line) {
        if !c.is_whitespace() {
            break;
        }
        line = &line[width..];
    }
    while let Some((c, width)) = last_char(line) {
        if !c.is_whitespace() {
            break;
        }
        line = &line[..line.len() - width];
    }
    line
}

/// The character that ends `line`, if its last bytes are valid UTF-8.
fn last_char(line: &[u8]) -> Option<(char, usize)> {
    (1..=line.len().min(4)).find_map(|back| {
        decode_char(&line[line.len() - back..]).filter(|&(_, width)| width == back)
    })
}

/// Splits a request line into arguments the way etcdctl does: white space
/// separates arguments, `"…"` is a Go string literal (escapes such as `\n`,
/// `\x00` or `\u00e9` are decoded) and `'…'` is taken literally. A quote
/// that is never closed is dropped.
///
/// etcdctl 3.4 cuts a single-quoted argument to a length derived from the
/// number of arguments on the line instead of its own length (so `'abc'`
/// may arrive as `a`); ectl keeps the whole argument, which is what such
/// input means.
pub fn argify(line: &[u8]) -> Result<Vec<Vec<u8>>, CtlError> {
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let char_width = |at: &[u8]| decode_char(at).map_or(1, |(_, width)| width);
    let mut args = Vec::new();
    let mut pos = 0;
    while pos < line.len() {
        match line[pos] {
            b'"' => {
                // Find the closing quote; a backslash protects the character
                // after it.
                let mut end = None;
                let mut i = pos + 1;
                while i < line.len() {
                    match line[i] {
                        b'"' => {
                            end = Some(i);
                            break;
                        }
                        b'\\' if i + 1 < line.len() => i += 1 + char_width(&line[i + 1..]),
                        b'\\' => break,
                        _ => i += char_width(&line[i..]),
                    }
                }
                match end {
                    Some(end) => {
                        let literal = runes(&line[pos..=end]);
                        let arg = unquote(&literal)
                            .map_err(|err| CtlError::invalid_input(err.to_string()))?;
                        args.push(arg);
                        pos = end + 1;
                    }
                    None => pos += 1,
                }
            }
            b'\'' => match line[pos + 1..].iter().position(|&b| b == b'\'') {
                Some(len) => {
                    args.push(line[pos + 1..pos + 1 + len].to_vec());
                    pos += len + 2;
                }
                None => pos += 1,
            },
            b if is_space(b) => pos += 1,
            _ => {
                let len = line[pos..]
                    .iter()
                    .position(|&b| is_space(b))
                    .unwrap_or(line.len() - pos);
                args.push(line[pos..pos + len].to_vec());
                pos += len;
            }
        }
    }
    Ok(args)
}

/// Parses one compare line: `TARGET("key") OP "value"`, where TARGET is
/// `ver`/`version`, `c`/`create`, `m`/`mod`, `val`/`value` or `lease`, OP is
/// `=`, `!=`, `<` or `>`, and the value is a decimal number (a hexadecimal
/// lease ID for `lease`) or, for `value`, any string. Both quoted parts are
/// Go string literals.
pub fn parse_compare(line: &[u8]) -> Result<Compare, CtlError> {
    let shown = String::from_utf8_lossy(line);
    let malformed =
        |detail: String| CtlError::invalid_input(format!("malformed comparison: {shown}{detail}"));
    let text = runes(line);
    let Some((target, rest)) = text.split_once('(') else {
        return Err(malformed(String::new()));
    };
    let scan = scan_compare(rest);
    if scan.matched < 3 {
        return Err(malformed(format!(
            "; got {target}({}) {} {}",
            quote(&scan.key),
            scan.op,
            quote(&scan.value)
        )));
    }
    let bad_number = || CtlError::invalid_input(format!("invalid txn compare request: {shown}"));
    let number = |base| {
        let value = String::from_utf8_lossy(&scan.value);
        parse_int(&value, base).map_err(|_| bad_number())
    };
    let (target, union) = match target {
        "ver" | "version" => (CompareTarget::Version, TargetUnion::Version(number(10)?)),
        "c" | "create" => (
            CompareTarget::Create,
            TargetUnion::CreateRevision(number(10)?),
        ),
        "m" | "mod" => (CompareTarget::Mod, TargetUnion::ModRevision(number(10)?)),
        "val" | "value" => (CompareTarget::Value, TargetUnion::Value(scan.value.clone())),
        "lease" => (CompareTarget::Lease, TargetUnion::Lease(number(16)?)),
        other => return Err(malformed(format!(" (unknown target {other})"))),
    };
    let result = match scan.op.as_str() {
        "=" => CompareResult::Equal,
        "!=" => CompareResult::NotEqual,
        "<" => CompareResult::Less,
        ">" => CompareResult::Greater,
        other => return Err(malformed(format!(" (unknown comparison operator {other})"))),
    };
    Ok(Compare {
        result: result as i32,
        target: target as i32,
        key: scan.key,
        range_end: Vec::new(),
        target_union: Some(union),
    })
}

/// What [`scan_compare`] recognised: the first `matched` of key, operator
/// and value.
#[derive(Debug, Default, PartialEq, Eq)]
struct CompareScan {
    matched: usize,
    key: Vec<u8>,
    op: String,
    value: Vec<u8>,
}

/// Reads `"key") op "value"` from the text after the opening parenthesis.
///
/// This follows Go's `fmt.Sscanf` with the pattern `%q) %s %q`, because the
/// partial result ends up in etcdctl's error message: quoted strings and the
/// operator may be preceded by any white space, the `)` must follow the key
/// immediately, and each space of the pattern needs at least one white-space
/// character (or the end of the line).
fn scan_compare(text: &str) -> CompareScan {
    let mut scan = CompareScan::default();
    let mut rest = text;
    let Some(key) = scan_quoted(&mut rest) else {
        return scan;
    };
    scan.key = key;
    scan.matched = 1;
    let Some(after) = rest.strip_prefix(')') else {
        return scan;
    };
    rest = after;
    if !scan_space(&mut rest) {
        return scan;
    }
    rest = rest.trim_start();
    let op_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if op_len == 0 {
        return scan;
    }
    scan.op = rest[..op_len].to_string();
    scan.matched = 2;
    rest = &rest[op_len..];
    if !scan_space(&mut rest) {
        return scan;
    }
    if let Some(value) = scan_quoted(&mut rest) {
        scan.value = value;
        scan.matched = 3;
    }
    scan
}

/// A space in a scan pattern: one or more white-space characters, or the end
/// of the input.
fn scan_space(rest: &mut &str) -> bool {
    if rest.is_empty() {
        return true;
    }
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return false;
    }
    *rest = trimmed;
    true
}

/// A Go string literal (`"…"` with escapes, or raw `` `…` ``) after optional
/// white space.
fn scan_quoted(rest: &mut &str) -> Option<Vec<u8>> {
    let text = rest.trim_start();
    let mut chars = text.char_indices();
    match chars.next()?.1 {
        '`' => {
            let end = text[1..].find('`')? + 1;
            *rest = &text[end + 1..];
            Some(text.as_bytes()[1..end].to_vec())
        }
        '"' => {
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next()?;
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end?;
            let value = unquote(&text[..=end]).ok()?;
            *rest = &text[end + 1..];
            Some(value)
        }
        _ => None,
    }
}

/// Parses one request line (`put …`, `get …` or `del …`).
pub fn parse_request(line: &[u8]) -> Result<RequestOp, CtlError> {
    let shown = String::from_utf8_lossy(line);
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(CtlError::invalid_input(format!(
            "invalid txn compare request: {shown}"
        )));
    }
    let parsed = TxnRequestLine::try_parse_from(args.into_iter().map(os_string))
        .map_err(|_| CtlError::invalid_input(format!("invalid txn request: {shown}")))?;
    let request = match parsed {
        // The value of a put inside a transaction cannot come from stdin:
        // stdin is the transaction itself.
        TxnRequestLine::Put(args) => {
            request_op::Request::RequestPut(put::build(&args, || Ok(Vec::new()))?)
        }
        TxnRequestLine::Get(args) => request_op::Request::RequestRange(get::build(&args)?),
        TxnRequestLine::Del(args) => request_op::Request::RequestDeleteRange(del::build(&args)?),
    };
    Ok(RequestOp {
        request: Some(request),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_client::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};

    fn strings(args: Vec<Vec<u8>>) -> Vec<String> {
        args.into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn trims_unicode_space() {
        assert_eq!(trim_space(b"  get k \t\r\n"), b"get k");
        assert_eq!(trim_space("\u{a0}x\u{3000}".as_bytes()), b"x");
        assert_eq!(trim_space(b" \xff "), b"\xff");
        assert_eq!(trim_space(b"   "), b"");
        assert_eq!(trim_space("é".as_bytes()), "é".as_bytes());
    }

    #[test]
    fn argify_plain_words() {
        assert_eq!(
            strings(argify(b"put  k5   v5  ").unwrap()),
            ["put", "k5", "v5"]
        );
        assert_eq!(
            strings(argify(b"put k7 v7\"").unwrap()),
            ["put", "k7", "v7\""]
        );
        assert_eq!(
            strings(argify(b"put k8 x\"y").unwrap()),
            ["put", "k8", "x\"y"]
        );
        assert_eq!(
            strings(argify(b"put k9 x'y").unwrap()),
            ["put", "k9", "x'y"]
        );
    }

    #[test]
    fn argify_double_quotes() {
        assert_eq!(
            strings(argify(br#"put k1 "new v1""#).unwrap()),
            ["put", "k1", "new v1"]
        );
        assert_eq!(
            argify(br#"put "a\x41\n" "c\td""#).unwrap(),
            vec![b"put".to_vec(), b"aA\n".to_vec(), b"c\td".to_vec()]
        );
        assert_eq!(
            strings(argify(br#"put k13 "a\"b""#).unwrap()),
            ["put", "k13", "a\"b"]
        );
        // A closing quote ends the argument; what follows is the next one.
        assert_eq!(
            strings(argify(br#"put k6 "v6"x"#).unwrap()),
            ["put", "k6", "v6", "x"]
        );
        // An unterminated quote is skipped.
        assert_eq!(
            strings(argify(br#"put k "abc"#).unwrap()),
            ["put", "k", "abc"]
        );
        let err = argify(br#"put k14 "a\q""#).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (3, "invalid syntax"));
    }

    #[test]
    fn argify_single_quotes() {
        assert_eq!(
            strings(argify(b"put 'a b' 'c d'").unwrap()),
            ["put", "a b", "c d"]
        );
        assert_eq!(strings(argify(b"put k10 'x").unwrap()), ["put", "k10", "x"]);
        assert_eq!(strings(argify(b"get ''").unwrap()), ["get", ""]);
    }

    fn cmp(result: CompareResult, target: CompareTarget, key: &str, union: TargetUnion) -> Compare {
        Compare {
            result: result as i32,
            target: target as i32,
            key: key.into(),
            range_end: vec![],
            target_union: Some(union),
        }
    }

    #[test]
    fn compares() {
        assert_eq!(
            parse_compare(br#"mod("key1") > "0""#).unwrap(),
            cmp(
                CompareResult::Greater,
                CompareTarget::Mod,
                "key1",
                TargetUnion::ModRevision(0)
            )
        );
        assert_eq!(
            parse_compare(br#"m("k")   =   "3""#).unwrap(),
            cmp(
                CompareResult::Equal,
                CompareTarget::Mod,
                "k",
                TargetUnion::ModRevision(3)
            )
        );
        assert_eq!(
            parse_compare(br#"value("k") = "v""#).unwrap(),
            cmp(
                CompareResult::Equal,
                CompareTarget::Value,
                "k",
                TargetUnion::Value(b"v".to_vec())
            )
        );
        assert_eq!(
            parse_compare(br#"val("k\x00") != `raw\n`"#).unwrap(),
            cmp(
                CompareResult::NotEqual,
                CompareTarget::Value,
                "k\0",
                TargetUnion::Value(b"raw\\n".to_vec())
            )
        );
        assert_eq!(
            parse_compare(br#"version("k") != "3""#).unwrap(),
            cmp(
                CompareResult::NotEqual,
                CompareTarget::Version,
                "k",
                TargetUnion::Version(3)
            )
        );
        assert_eq!(
            parse_compare(br#"ver("k") > "-1""#).unwrap(),
            cmp(
                CompareResult::Greater,
                CompareTarget::Version,
                "k",
                TargetUnion::Version(-1)
            )
        );
        assert_eq!(
            parse_compare(br#"create("k") < "5""#).unwrap(),
            cmp(
                CompareResult::Less,
                CompareTarget::Create,
                "k",
                TargetUnion::CreateRevision(5)
            )
        );
        assert_eq!(
            parse_compare(br#"c("k") < "5""#).unwrap().target,
            CompareTarget::Create as i32
        );
        assert_eq!(
            parse_compare(br#"lease("k") = "694d77aa9e1e4e0b""#).unwrap(),
            cmp(
                CompareResult::Equal,
                CompareTarget::Lease,
                "k",
                TargetUnion::Lease(0x694d77aa9e1e4e0b)
            )
        );
        // Anything after the value is ignored.
        assert!(parse_compare(br#"mod("k1") > "0" trailing"#).is_ok());
    }

    fn compare_error(line: &str) -> (i32, String) {
        let err = parse_compare(line.as_bytes()).unwrap_err();
        (err.code, err.message)
    }

    #[test]
    fn compare_errors_read_like_etcdctl() {
        assert_eq!(
            compare_error(r#"mod("k1")>"0""#),
            (
                3,
                r#"malformed comparison: mod("k1")>"0"; got mod("k1")  """#.to_string()
            )
        );
        assert_eq!(
            compare_error(r#"mod("k1") > 0"#),
            (
                3,
                r#"malformed comparison: mod("k1") > 0; got mod("k1") > """#.to_string()
            )
        );
        assert_eq!(
            compare_error(r#"mod(k1) > "0""#),
            (
                3,
                r#"malformed comparison: mod(k1) > "0"; got mod("")  """#.to_string()
            )
        );
        assert_eq!(
            compare_error(r#"mod("k1" > "0""#),
            (
                3,
                r#"malformed comparison: mod("k1" > "0"; got mod("k1")  """#.to_string()
            )
        );
        assert_eq!(
            compare_error(r#"mod"k1") > "0""#),
            (3, r#"malformed comparison: mod"k1") > "0""#.to_string())
        );
        assert_eq!(
            compare_error(r#"mod ("k1") > "0""#),
            (
                3,
                r#"malformed comparison: mod ("k1") > "0" (unknown target mod )"#.to_string()
            )
        );
        assert_eq!(
            compare_error(r#"ver("k1") = "x""#),
            (
                3,
                r#"invalid txn compare request: ver("k1") = "x""#.to_string()
            )
        );
        assert_eq!(
            compare_error(r#"mod("k1") > "99999999999999999999""#),
            (
                3,
                r#"invalid txn compare request: mod("k1") > "99999999999999999999""#.to_string()
            )
        );
        assert_eq!(compare_error(r#"mod("k1") >= "0""#).0, 3);
        assert_eq!(compare_error(r#"lease("k1") = "zz""#).0, 3);
    }

    #[test]
    fn requests() {
        assert_eq!(
            parse_request(br#"put key1 "value" --prev-kv"#).unwrap(),
            RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: b"key1".to_vec(),
                    value: b"value".to_vec(),
                    prev_kv: true,
                    ..Default::default()
                }))
            }
        );
        assert_eq!(
            parse_request(b"get key --prefix").unwrap(),
            RequestOp {
                request: Some(request_op::Request::RequestRange(RangeRequest {
                    key: b"key".to_vec(),
                    range_end: b"kez".to_vec(),
                    ..Default::default()
                }))
            }
        );
        assert_eq!(
            parse_request(b"del key").unwrap(),
            RequestOp {
                request: Some(request_op::Request::RequestDeleteRange(
                    DeleteRangeRequest {
                        key: b"key".to_vec(),
                        ..Default::default()
                    }
                ))
            }
        );
    }

    #[test]
    fn request_errors_read_like_etcdctl() {
        let err = parse_request(b"get").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (3, "invalid txn compare request: get")
        );
        let err = parse_request(b"foo k").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (3, "invalid txn request: foo k")
        );
        let err = parse_request(b"get k --bogus").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (3, "invalid txn request: get k --bogus")
        );
        let err = parse_request(b"get k --hex").unwrap_err();
        assert_eq!(err.code, 3);
        let err = parse_request(b"put k").unwrap_err();
        assert_eq!(err.code, 128);
        let err = parse_request(b"get k1 --order=x").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (4, "bad sort order x"));
    }
}
