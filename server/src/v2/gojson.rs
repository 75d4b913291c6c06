//! Reading the JSON bodies of `/v2/members` requests with the errors etcd's Go
//! server gives: Go's `encoding/json` checks the whole text first (its syntax
//! errors name the offending character and what was expected there), then
//! decodes, reporting the first value whose type does not fit. Bodies etcd reads
//! with a `json.Decoder` (`/v2/auth`) are read up to their first value only.

/// A parsed JSON value, object members in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool,
    Number,
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The kind Go names in "cannot unmarshal <kind> into ...".
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool => "bool",
            Value::Number => "number",
            Value::Str(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

/// Parses `text`, or gives Go's syntax error for it.
pub fn parse(text: &[u8]) -> Result<Value, String> {
    // Go's scanner ends the input with a space: a value cut short there is
    // refused for that space, anything else still open is "unexpected end".
    let mut input = text.to_vec();
    input.push(b' ');
    let mut p = Parser {
        s: &input,
        at: 0,
        end: text.len(),
    };
    let v = p.value("looking for beginning of value")?;
    p.space();
    if p.at < p.s.len() {
        return Err(p.invalid("after top-level value"));
    }
    Ok(v)
}

/// Parses the first value of `text` as Go's `json.Decoder` reads a request
/// body: what follows that value is never looked at.
pub fn parse_first(text: &[u8]) -> Result<Value, String> {
    let mut input = text.to_vec();
    input.push(b' ');
    let mut p = Parser {
        s: &input,
        at: 0,
        end: text.len(),
    };
    p.value("looking for beginning of value")
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    /// Where the real input ends (the space after it is Go's end marker).
    end: usize,
}

const UNEXPECTED_END: &str = "unexpected end of JSON input";

impl Parser<'_> {
    fn peek(&self) -> Result<u8, String> {
        self.s
            .get(self.at)
            .copied()
            .ok_or_else(|| UNEXPECTED_END.to_string())
    }

    fn space(&mut self) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\r' | b'\n') {
            self.at += 1;
        }
    }

    fn invalid(&self, context: &str) -> String {
        match self.s.get(self.at) {
            // Past the end marker: the input simply stopped.
            None => UNEXPECTED_END.to_string(),
            Some(&c) => format!("invalid character {} {context}", quote_char(c)),
        }
    }

    fn value(&mut self, context: &str) -> Result<Value, String> {
        self.space();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Value::Str),
            b't' => self.literal(b"true").map(|_| Value::Bool),
            b'f' => self.literal(b"false").map(|_| Value::Bool),
            b'n' => self.literal(b"null").map(|_| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(|_| Value::Number),
            _ => Err(self.invalid(context)),
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.at += 1;
        let mut members = Vec::new();
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.space();
            if self.peek()? != b'"' {
                return Err(self.invalid("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.space();
            if self.peek()? != b':' {
                return Err(self.invalid("after object key"));
            }
            self.at += 1;
            let v = self.value("looking for beginning of value")?;
            members.push((key, v));
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.invalid("after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value("looking for beginning of value")?);
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.invalid("after array element")),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        let name = std::str::from_utf8(word).expect("ASCII literal");
        self.at += 1;
        for &want in &word[1..] {
            if self.peek()? != want {
                return Err(self.invalid(&format!(
                    "in literal {name} (expecting {})",
                    quote_char(want)
                )));
            }
            self.at += 1;
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let from = self.at;
        while self.at < self.s.len() && self.s[self.at].is_ascii_digit() {
            self.at += 1;
        }
        self.at - from
    }

    fn number(&mut self) -> Result<(), String> {
        if self.peek()? == b'-' {
            self.at += 1;
            if !self.peek()?.is_ascii_digit() {
                return Err(self.invalid("in numeric literal"));
            }
        }
        if self.peek()? == b'0' {
            self.at += 1;
        } else {
            self.digits();
        }
        if self.peek()? == b'.' {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.invalid("after decimal point in numeric literal"));
            }
        }
        if matches!(self.peek()?, b'e' | b'E') {
            self.at += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.invalid("in exponent of numeric literal"));
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut n = 0;
        for _ in 0..4 {
            let c = self.peek()?;
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.invalid("in \\u hexadecimal character escape"))?;
            n = n * 16 + d;
            self.at += 1;
        }
        Ok(n)
    }

    /// A string literal, decoded as Go decodes it (bad UTF-8 and lone
    /// surrogates become U+FFFD).
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut raw: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            if self.at >= self.end && c == b' ' {
                // The end marker inside a string: the text stopped mid-string.
                return Err(UNEXPECTED_END.into());
            }
            self.at += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&raw).into_owned()),
                b'\\' => {
                    let e = self.peek()?;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        raw.push(b);
                        self.at += 1;
                    } else if e == b'u' {
                        self.at += 1;
                        let ch = self.unicode_escape()?;
                        let mut buf = [0u8; 4];
                        raw.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    } else {
                        return Err(self.invalid("in string escape code"));
                    }
                }
                c if c < 0x20 => {
                    self.at -= 1;
                    return Err(self.invalid("in string literal"));
                }
                c => raw.push(c),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            // A high surrogate pairs with an escaped low one, if one follows.
            let save = self.at;
            if self.s.get(self.at..self.at + 2) == Some(b"\\u") {
                self.at += 2;
                if let Ok(lo) = self.hex4() {
                    if (0xDC00..0xE000).contains(&lo) {
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
                    }
                }
                self.at = save;
            }
            return Ok('\u{fffd}');
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }
}

/// A byte as Go's scanner quotes it in errors: the byte read as a Latin-1 rune,
/// in single quotes, escaped as Go's `strconv.Quote` escapes it.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        _ => {
            let ch = c as char;
            let inner = match c {
                0x07 => "\\a".into(),
                0x08 => "\\b".into(),
                0x0c => "\\f".into(),
                b'\n' => "\\n".into(),
                b'\r' => "\\r".into(),
                b'\t' => "\\t".into(),
                0x0b => "\\v".into(),
                b'\\' => "\\\\".into(),
                0x00..=0x1f | 0x7f => format!("\\x{c:02x}"),
                // Latin-1 controls, the no-break space and the soft hyphen are
                // not printable to Go.
                0x80..=0xa0 | 0xad => format!("\\u{c:04x}"),
                _ => ch.to_string(),
            };
            format!("'{inner}'")
        }
    }
}

/// The peer URLs of a `/v2/members` POST or PUT body as etcd 3.4 reads them
/// (a `peerURLs` member matched without regard to case; anything else ignored),
/// or Go's error for the body.
pub fn member_peer_urls(body: &[u8]) -> Result<Vec<String>, String> {
    const TARGET: &str = "Go value of type struct { PeerURLs []string \"json:\\\"peerURLs\\\"\" }";
    let v = parse(body)?;
    let members = match v {
        Value::Object(m) => m,
        Value::Null => Vec::new(),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into {TARGET}",
                other.kind()
            ))
        }
    };
    let mut urls = Vec::new();
    let mut first_error: Option<String> = None;
    for (k, v) in members {
        if !k.eq_ignore_ascii_case("peerURLs") {
            continue;
        }
        match v {
            Value::Null => urls.clear(),
            Value::Array(items) => {
                urls.clear();
                for item in items {
                    match item {
                        Value::Str(s) => urls.push(s),
                        Value::Null => urls.push(String::new()),
                        other => {
                            first_error.get_or_insert(format!(
                                "json: cannot unmarshal {} into Go struct field .peerURLs of type string",
                                other.kind()
                            ));
                            urls.push(String::new());
                        }
                    }
                }
            }
            other => {
                first_error.get_or_insert(format!(
                    "json: cannot unmarshal {} into Go struct field .peerURLs of type []string",
                    other.kind()
                ));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(urls),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        parse(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_read_as_go_writes_them() {
        assert_eq!(err(""), "unexpected end of JSON input");
        assert_eq!(err("  "), "unexpected end of JSON input");
        assert_eq!(err("\"abc"), "unexpected end of JSON input");
        assert_eq!(err("{"), "unexpected end of JSON input");
        assert_eq!(
            err("{not json"),
            "invalid character 'n' looking for beginning of object key string"
        );
        assert_eq!(
            err("{\"a\":1,}"),
            "invalid character '}' looking for beginning of object key string"
        );
        assert_eq!(err("{\"a\" 1}"), "invalid character '1' after object key");
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(err("{} x"), "invalid character 'x' after top-level value");
        assert_eq!(
            err("tru"),
            "invalid character ' ' in literal true (expecting 'e')"
        );
        assert_eq!(
            err("{\"a\":tx}"),
            "invalid character 'x' in literal true (expecting 'r')"
        );
        assert_eq!(err("-"), "invalid character ' ' in numeric literal");
        assert_eq!(err("{\"a\":-}"), "invalid character '}' in numeric literal");
        assert_eq!(
            err("{\"a\":01}"),
            "invalid character '1' after object key:value pair"
        );
        assert_eq!(
            err("1."),
            "invalid character ' ' after decimal point in numeric literal"
        );
        assert_eq!(
            err("{\"a\":1e+}"),
            "invalid character '}' in exponent of numeric literal"
        );
        assert_eq!(
            err("{\"a\":\"\\x\"}"),
            "invalid character 'x' in string escape code"
        );
        assert_eq!(
            err("{\"a\":\"\u{1}\"}"),
            "invalid character '\\x01' in string literal"
        );
    }

    #[test]
    fn a_decoder_reads_the_first_value_only() {
        assert_eq!(
            parse_first(br#"{"a":"b"} trailing"#),
            Ok(Value::Object(vec![("a".into(), Value::Str("b".into()))]))
        );
        assert!(parse_first(b"").is_err());
        assert!(parse_first(b"  ").is_err());
        assert!(parse_first(b"{bad").is_err());
    }

    #[test]
    fn member_bodies_decode_as_etcd_decodes_them() {
        let urls = |s: &str| member_peer_urls(s.as_bytes());
        assert_eq!(urls("{}"), Ok(vec![]));
        assert_eq!(urls("null"), Ok(vec![]));
        assert_eq!(
            urls(r#"{"peerurls":["http://a:1"],"isLearner":"x"}"#),
            Ok(vec!["http://a:1".to_string()])
        );
        assert_eq!(
            urls("[]").unwrap_err(),
            "json: cannot unmarshal array into Go value of type struct { PeerURLs []string \"json:\\\"peerURLs\\\"\" }"
        );
        assert_eq!(
            urls(r#"{"peerURLs":"x"}"#).unwrap_err(),
            "json: cannot unmarshal string into Go struct field .peerURLs of type []string"
        );
        assert_eq!(
            urls(r#"{"peerURLs":[1,"x",true]}"#).unwrap_err(),
            "json: cannot unmarshal number into Go struct field .peerURLs of type string"
        );
        assert_eq!(
            urls(r#"{"peerURLs":["\u00e9"]}"#),
            Ok(vec!["é".to_string()])
        );
    }
}
