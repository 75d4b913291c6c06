//! String conversions with Go's semantics.
//!
//! etcdctl's observable behaviour is defined by Go's `strconv` package: how
//! `--lease` and `--limit` parse, how `-w fields` quotes keys, how quoted
//! arguments in `txn` input are unescaped and what the error messages say.
//! Reproducing those rules here keeps ectl's input and output
//! interchangeable with etcdctl's.

use std::fmt::{self, Write};

/// Why a number did not parse, worded like Go's `*strconv.NumError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumError {
    func: &'static str,
    input: String,
    range: bool,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "strconv.{}: parsing {}: {}",
            self.func,
            quote(self.input.as_bytes()),
            if self.range {
                "value out of range"
            } else {
                "invalid syntax"
            }
        )
    }
}

impl std::error::Error for NumError {}

/// Go's `strconv.ParseInt(s, base, 64)`: an optional sign, then digits of
/// `base`; base 0 picks the base from a `0x`/`0o`/`0b`/`0` prefix and allows
/// `_` between digits.
pub fn parse_int(s: &str, base: u32) -> Result<i64, NumError> {
    let err = |range| NumError {
        func: "ParseInt",
        input: s.to_string(),
        range,
    };
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_digits(digits, base).map_err(err)?;
    let limit = 1u64 << 63;
    if negative {
        if magnitude > limit {
            return Err(err(true));
        }
        Ok((magnitude as i64).wrapping_neg())
    } else if magnitude >= limit {
        Err(err(true))
    } else {
        Ok(magnitude as i64)
    }
}

/// Go's `strconv.ParseUint(s, base, 64)`: digits of `base` only, no sign.
/// Member IDs are given this way (in hex).
pub fn parse_uint(s: &str, base: u32) -> Result<u64, NumError> {
    parse_digits(s, base).map_err(|range| NumError {
        func: "ParseUint",
        input: s.to_string(),
        range,
    })
}

/// The unsigned core of [`parse_int`] and [`parse_uint`]; `Err(true)` means
/// out of range, `Err(false)` bad syntax.
fn parse_digits(s: &str, base: u32) -> Result<u64, bool> {
    if s.is_empty() {
        return Err(false);
    }
    let (mut base, mut digits, base_prefixed) = (base, s.as_bytes(), base == 0);
    if base == 0 {
        base = 10;
        if digits[0] == b'0' {
            match digits.get(1).map(u8::to_ascii_lowercase) {
                Some(b'b') if digits.len() >= 3 => (base, digits) = (2, &digits[2..]),
                Some(b'o') if digits.len() >= 3 => (base, digits) = (8, &digits[2..]),
                Some(b'x') if digits.len() >= 3 => (base, digits) = (16, &digits[2..]),
                _ => (base, digits) = (8, &digits[1..]),
            }
        }
    }
    let mut value: u64 = 0;
    let mut saw_underscore = false;
    for &c in digits {
        if c == b'_' && base_prefixed {
            saw_underscore = true;
            continue;
        }
        let digit = match (c as char).to_digit(36) {
            Some(d) if d < base => u64::from(d),
            _ => return Err(false),
        };
        value = value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(digit))
            .ok_or(true)?;
    }
    if saw_underscore && !underscores_ok(s) {
        return Err(false);
    }
    Ok(value)
}

/// Underscores may only separate digits (or follow a base prefix), as in Go
/// number literals.
fn underscores_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut start = 0;
    if bytes.len() >= 2 && bytes[0] == b'0' && bytes[1].is_ascii_alphabetic() {
        start = 2;
    }
    let body = &bytes[start..];
    // Leading underscores are fine only right after a base prefix.
    let mut previous_digit = start == 2;
    for (i, &c) in body.iter().enumerate() {
        if c == b'_' {
            if !previous_digit || i + 1 == body.len() || body[i + 1] == b'_' {
                return false;
            }
            previous_digit = false;
        } else {
            previous_digit = true;
        }
    }
    true
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(s.as_bytes())
        )),
    }
}

/// Go's `fmt.Sprintf("%016x", id)` for a signed ID (a lease ID): hex
/// digits zero-padded to 16 columns, a negative ID as `-` and its magnitude
/// padded to 15.
pub fn hex_id(id: i64) -> String {
    if id < 0 {
        format!("-{:015x}", id.unsigned_abs())
    } else {
        format!("{id:016x}")
    }
}

/// Go's `strconv.Quote`: a double-quoted string literal in which invalid
/// UTF-8 bytes become `\xNN` and non-printable characters are escaped.
pub fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while !rest.is_empty() {
        match decode_char(rest) {
            Some((c, width)) => {
                push_escaped(&mut out, c);
                rest = &rest[width..];
            }
            None => {
                let _ = write!(out, "\\x{:02x}", rest[0]);
                rest = &rest[1..];
            }
        }
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' | '\\' => {
            out.push('\\');
            out.push(c);
        }
        c if is_print(c) => out.push(c),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if c < ' ' || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space.
///
/// Rust has no general-category table, so this rules out the categories Go
/// treats as unprintable (controls, separators, format characters, private
/// use, noncharacters) explicitly; code points unassigned in Unicode are the
/// one class it cannot recognise and reports as printable.
fn is_print(c: char) -> bool {
    const FORMAT: &[(u32, u32)] = &[
        (0x00ad, 0x00ad),
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
    ];
    const PRIVATE_USE: &[(u32, u32)] =
        &[(0xe000, 0xf8ff), (0xf0000, 0xffffd), (0x100000, 0x10fffd)];
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let within = |ranges: &[(u32, u32)]| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&u));
    let noncharacter = (0xfdd0..=0xfdef).contains(&u) || u & 0xfffe == 0xfffe;
    !(within(FORMAT) || within(PRIVATE_USE) || noncharacter)
}

/// Decodes the first UTF-8 character of `bytes`, or `None` when the first
/// byte does not start a valid sequence (Go then consumes one byte).
pub fn decode_char(bytes: &[u8]) -> Option<(char, usize)> {
    let width = match *bytes.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let text = std::str::from_utf8(bytes.get(..width)?).ok()?;
    text.chars().next().map(|c| (c, width))
}

/// Reads `bytes` the way Go iterates over a string: every byte that does not
/// start a valid UTF-8 sequence becomes its own U+FFFD.
pub fn runes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match decode_char(rest) {
            Some((c, width)) => {
                out.push(c);
                rest = &rest[width..];
            }
            None => {
                out.push(char::REPLACEMENT_CHARACTER);
                rest = &rest[1..];
            }
        }
    }
    out
}

/// The error of [`unquote`]; Go calls it `strconv.ErrSyntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError;

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid syntax")
    }
}

impl std::error::Error for SyntaxError {}

/// Go's `strconv.Unquote` for double-quoted (escapes interpreted) and
/// back-quoted (raw, carriage returns dropped) literals. Escapes may produce
/// arbitrary bytes (`\xff`), hence the byte result.
pub fn unquote(literal: &str) -> Result<Vec<u8>, SyntaxError> {
    let mut chars = literal.chars();
    let (Some(open), Some(close)) = (chars.next(), chars.next_back()) else {
        return Err(SyntaxError);
    };
    if open != close {
        return Err(SyntaxError);
    }
    let body = chars.as_str();
    match open {
        '`' => {
            if body.contains('`') {
                return Err(SyntaxError);
            }
            Ok(body.replace('\r', "").into_bytes())
        }
        '"' => unescape(body),
        _ => Err(SyntaxError),
    }
}

fn unescape(body: &str) -> Result<Vec<u8>, SyntaxError> {
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' => return Err(SyntaxError),
            '\\' => {}
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
        }
        let escape = chars.next().ok_or(SyntaxError)?;
        let simple = match escape {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        match escape {
            'x' => out.push(take_digits(&mut chars, 2, 16)? as u8),
            'u' | 'U' => {
                let code = take_digits(&mut chars, if escape == 'u' { 4 } else { 8 }, 16)?;
                let c = char::from_u32(code).ok_or(SyntaxError)?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let rest = take_digits(&mut chars, 2, 8)?;
                let value = (escape as u32 - '0' as u32) * 64 + rest;
                out.push(u8::try_from(value).map_err(|_| SyntaxError)?);
            }
            _ => return Err(SyntaxError),
        }
    }
    Ok(out)
}

fn take_digits(
    chars: &mut std::str::Chars<'_>,
    count: usize,
    radix: u32,
) -> Result<u32, SyntaxError> {
    let mut value = 0u32;
    for _ in 0..count {
        let digit = chars
            .next()
            .and_then(|c| c.to_digit(radix))
            .ok_or(SyntaxError)?;
        value = value * radix + digit;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_like_go() {
        assert_eq!(hex_id(0x1234), "0000000000001234");
        assert_eq!(hex_id(0x694d_77aa_9e1e_4e0b), "694d77aa9e1e4e0b");
        assert_eq!(hex_id(-5), "-000000000000005");
        assert_eq!(hex_id(i64::MIN), "-8000000000000000");
    }

    #[test]
    fn parse_int_like_go() {
        assert_eq!(parse_int("390da20168b4c434", 16), Ok(0x390da20168b4c434));
        assert_eq!(parse_int("-1f", 16), Ok(-31));
        assert_eq!(parse_int("+42", 10), Ok(42));
        assert_eq!(parse_int("-9223372036854775808", 10), Ok(i64::MIN));
        assert_eq!(parse_int("0x1_0", 0), Ok(16));
        assert_eq!(parse_int("010", 0), Ok(8));
        assert_eq!(parse_int("0", 0), Ok(0));
        assert_eq!(parse_int("1_000", 0), Ok(1000));
        assert!(parse_int("1__0", 0).is_err());
        assert!(parse_int("_1", 0).is_err());
        assert!(parse_int("1_000", 10).is_err());
        assert!(parse_int("0x10", 16).is_err());
    }

    #[test]
    fn parse_int_errors_read_like_go() {
        assert_eq!(
            parse_int("zz", 16).unwrap_err().to_string(),
            r#"strconv.ParseInt: parsing "zz": invalid syntax"#
        );
        assert_eq!(
            parse_int("", 10).unwrap_err().to_string(),
            r#"strconv.ParseInt: parsing "": invalid syntax"#
        );
        assert_eq!(
            parse_int("9223372036854775808", 10)
                .unwrap_err()
                .to_string(),
            r#"strconv.ParseInt: parsing "9223372036854775808": value out of range"#
        );
        assert_eq!(
            parse_int("99999999999999999999", 10)
                .unwrap_err()
                .to_string(),
            r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#
        );
    }

    #[test]
    fn parse_uint_like_go() {
        assert_eq!(
            parse_uint("a3736440f3fa14c7", 16),
            Ok(0xa373_6440_f3fa_14c7)
        );
        assert_eq!(parse_uint("FFFFFFFFFFFFFFFF", 16), Ok(u64::MAX));
        for bad in ["", "+1", "-1", "0x12", "1_0", "zz"] {
            assert_eq!(
                parse_uint(bad, 16).unwrap_err().to_string(),
                format!(
                    "strconv.ParseUint: parsing {}: invalid syntax",
                    quote(bad.as_bytes())
                )
            );
        }
        assert_eq!(
            parse_uint("12345678123456789", 16).unwrap_err().to_string(),
            r#"strconv.ParseUint: parsing "12345678123456789": value out of range"#
        );
    }

    #[test]
    fn parse_bool_like_go() {
        assert_eq!(parse_bool("T"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert_eq!(
            parse_bool("yes").unwrap_err(),
            r#"strconv.ParseBool: parsing "yes": invalid syntax"#
        );
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(quote(b"foo"), r#""foo""#);
        assert_eq!(quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            quote(b"k\x01\xff\xe2\x80\x8b\xc3\xa9\t\"\\"),
            r#""k\x01\xff\u200bé\t\"\\""#
        );
        assert_eq!(
            quote("\x7f\u{fffd}😀\u{e000}\u{a0}x".as_bytes()),
            r#""\x7f�😀\ue000\u00a0x""#
        );
        assert_eq!(quote(b"\x1b\x07\x08\x0c\x0b\r"), r#""\x1b\a\b\f\v\r""#);
        assert_eq!(
            quote("\u{e0001}\u{2028}\u{10ffff}\u{fffe}".as_bytes()),
            r#""\U000e0001\u2028\U0010ffff\ufffe""#
        );
        assert_eq!(quote(b"\xe0\xa0"), r#""\xe0\xa0""#);
        assert_eq!(quote("\u{85}".as_bytes()), r#""\u0085""#);
    }

    #[test]
    fn unquote_like_go() {
        assert_eq!(unquote(r#""a\x41\n""#), Ok(b"aA\n".to_vec()));
        assert_eq!(unquote(r#""c\td""#), Ok(b"c\td".to_vec()));
        assert_eq!(unquote(r#""a\"b""#), Ok(b"a\"b".to_vec()));
        assert_eq!(
            unquote(r#""\u00e9\U0001F600\101""#),
            Ok("é😀A".as_bytes().to_vec())
        );
        assert_eq!(unquote(r#""\xff\377""#), Ok(vec![0xff, 0xff]));
        assert_eq!(unquote("`raw\\n\r`"), Ok(b"raw\\n".to_vec()));
        assert_eq!(unquote(r#""""#), Ok(Vec::new()));
        for bad in [
            r#""a\q""#,
            r#""a\'""#,
            r#""\400""#,
            r#""\ud800""#,
            r#""a"b""#,
            r#""abc"#,
            "\"",
            "'a'",
            r#""\x4""#,
        ] {
            assert_eq!(unquote(bad), Err(SyntaxError), "{bad}");
        }
    }

    #[test]
    fn runes_replace_each_invalid_byte() {
        assert_eq!(runes(b"a\xff\xfeb"), "a\u{fffd}\u{fffd}b");
        assert_eq!(runes(b"\xf0\x9f\x98"), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(runes("é".as_bytes()), "é");
    }
}
