//! Request parameters as etcd's Go server reads them: the form body (for PUT,
//! POST and PATCH with `application/x-www-form-urlencoded`) first, then the query
//! string; the first value of a name counts; Go's errors for malformed input.

/// A parameter that is not a well-formed number or boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Parsed parameters, in Go's order.
#[derive(Debug, Default)]
pub struct Form {
    pairs: Vec<(String, Vec<u8>)>,
}

impl Form {
    /// Parses `body` (if the request carries a form) then `query`; the error is
    /// Go's text for the first malformed part.
    pub fn parse(query: &str, body: Option<&[u8]>) -> Result<Form, String> {
        let mut f = Form::default();
        let mut err = None;
        if let Some(b) = body {
            if let Err(e) = parse_into(b, &mut f.pairs) {
                err = Some(e);
            }
        }
        if let Err(e) = parse_into(query.as_bytes(), &mut f.pairs) {
            err.get_or_insert(e);
        }
        match err {
            Some(e) => Err(e),
            None => Ok(f),
        }
    }

    /// The first value given for `name`.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether `name` was given at all.
    pub fn has(&self, name: &str) -> bool {
        self.first(name).is_some()
    }

    /// The first value of `name` as text ("" if absent), as Go's `FormValue`.
    pub fn value(&self, name: &str) -> Vec<u8> {
        self.first(name).map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// `name` as Go's `strconv.ParseBool` reads it; false if absent.
    pub fn bool(&self, name: &str) -> Result<bool, Malformed> {
        match self.first(name) {
            None => Ok(false),
            Some(v) => parse_bool(v),
        }
    }

    /// `name` as Go's `strconv.ParseUint(_, 10, 64)` reads it; 0 if absent.
    pub fn uint(&self, name: &str) -> Result<u64, Malformed> {
        match self.first(name) {
            None => Ok(0),
            Some(v) => parse_uint(v),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(v: &[u8]) -> Result<bool, Malformed> {
    match v {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Ok(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Ok(false),
        _ => Err(Malformed),
    }
}

/// Go's `strconv.ParseUint(_, 10, 64)`.
pub fn parse_uint(v: &[u8]) -> Result<u64, Malformed> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(Malformed);
    }
    std::str::from_utf8(v)
        .map_err(|_| Malformed)?
        .parse::<u64>()
        .map_err(|_| Malformed)
}

fn parse_into(raw: &[u8], out: &mut Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let mut err = None;
    for part in raw.split(|b| *b == b'&') {
        if part.contains(&b';') {
            err.get_or_insert_with(|| "invalid semicolon separator in query".to_string());
            continue;
        }
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        let k = match unescape(k, true) {
            Ok(k) => k,
            Err(e) => {
                err.get_or_insert(e);
                continue;
            }
        };
        let v = match unescape(v, true) {
            Ok(v) => v,
            Err(e) => {
                err.get_or_insert(e);
                continue;
            }
        };
        out.push((String::from_utf8_lossy(&k).into_owned(), v));
    }
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (with `plus`, `+` is a space); Go's error text otherwise.
pub fn unescape(s: &[u8], plus: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let pair = s
                    .get(i + 1)
                    .and_then(|a| hex(*a))
                    .zip(s.get(i + 2).and_then(|b| hex(*b)));
                match pair {
                    Some((a, b)) => out.push(a << 4 | b),
                    None => {
                        let bad = &s[i..(i + 3).min(s.len())];
                        return Err(format!(
                            "invalid URL escape {:?}",
                            String::from_utf8_lossy(bad)
                        ));
                    }
                }
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_comes_before_query_and_first_value_counts() {
        let f = Form::parse("value=q&ttl=5", Some(b"value=b+1%21")).unwrap();
        assert_eq!(f.first("value"), Some(&b"b 1!"[..]));
        assert_eq!(f.first("ttl"), Some(&b"5"[..]));
        assert!(!f.has("dir"));
    }

    #[test]
    fn malformed_input_gets_gos_errors() {
        assert_eq!(
            Form::parse("a=%zz", None).unwrap_err(),
            "invalid URL escape \"%zz\""
        );
        assert_eq!(
            Form::parse("a=1;b=2", None).unwrap_err(),
            "invalid semicolon separator in query"
        );
        assert_eq!(parse_bool(b"True"), Ok(true));
        assert!(parse_bool(b"yes").is_err());
        assert!(parse_uint(b"-1").is_err());
        assert!(parse_uint(b"+1").is_err());
    }
}
