//! The client-side check etcdctl applies to `--peer-urls` before `member add`
//! and `member update` send them.
//!
//! A malformed peer URL stored in the member list would break every member
//! that later dials it, so etcd's client refuses it up front, and scripts
//! see its wording: the rules and messages of Go's `net/url` parser (for the
//! parts a peer URL can exercise) followed by etcd's own requirements of an
//! `http`/`https`/`unix`/`unixs` scheme, a `host:port` address and no path.

use super::gostr::quote;

/// Checks every URL (surrounding whitespace is ignored, as in etcd) and
/// returns the first problem in etcdctl's words.
pub fn validate(urls: &[String]) -> Result<(), String> {
    if urls.is_empty() {
        return Err("no valid URLs given".to_string());
    }
    for raw in urls {
        let url = raw.trim();
        let parsed = parse(url).map_err(|reason| {
            let without_fragment = url.split_once('#').map_or(url, |(url, _)| url);
            format!("parse {}: {reason}", quote_str(without_fragment))
        })?;
        if !matches!(parsed.scheme.as_str(), "http" | "https" | "unix" | "unixs") {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {url}"
            ));
        }
        if !is_host_port(parsed.host) {
            return Err(format!(
                "URL address does not have the form \"host:port\": {url}"
            ));
        }
        if !parsed.path.is_empty() {
            return Err(format!("URL must not contain a path: {url}"));
        }
    }
    Ok(())
}

fn quote_str(s: &str) -> String {
    quote(s.as_bytes())
}

/// The parts of a URL the checks look at.
struct Url<'a> {
    scheme: String,
    host: &'a str,
    path: &'a str,
}

/// Splits a URL the way Go's `url.Parse` does, with its error messages.
fn parse(raw: &str) -> Result<Url<'_>, String> {
    let raw = raw.split_once('#').map_or(raw, |(url, _fragment)| url);
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    let (scheme, rest) = split_scheme(raw)?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.split_once('?').map_or(rest, |(path, _query)| path);
    let mut url = Url {
        scheme,
        host: "",
        path: rest,
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // `http:host:1` is an opaque URL: no host, no path.
            url.path = "";
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        if !url.scheme.is_empty() || !rest.starts_with("///") {
            let (authority, path) = after
                .find('/')
                .map_or((after, ""), |i| (&after[..i], &after[i..]));
            url.host = parse_authority(authority)?;
            url.path = path;
        }
    }
    check_escapes(url.path)?;
    Ok(url)
}

/// Go's `getScheme`: letters, then letters, digits, `+`, `-` or `.`, up to
/// a colon; anything else means the URL has no scheme.
fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".to_string()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// The host (with port) of `user@host:port`.
fn parse_authority(authority: &str) -> Result<&str, String> {
    let (user, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    check_host(host)?;
    if let Some(user) = user {
        let valid = user
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&c));
        if !valid {
            return Err("net/url: invalid userinfo".to_string());
        }
        check_escapes(user)?;
    }
    Ok(host)
}

/// Go's `parseHost`: a bracketed IPv6 literal or a name, each optionally
/// followed by `:digits`.
fn check_host(host: &str) -> Result<(), String> {
    let port_ok = |colon_port: &str| {
        colon_port.is_empty()
            || (colon_port.starts_with(':') && colon_port[1..].bytes().all(|b| b.is_ascii_digit()))
    };
    let colon_port = if host.starts_with('[') {
        let Some(end) = host.rfind(']') else {
            return Err("missing ']' in host".to_string());
        };
        &host[end + 1..]
    } else {
        host.rfind(':').map_or("", |i| &host[i..])
    };
    if !port_ok(colon_port) {
        return Err(format!("invalid port {} after host", quote_str(colon_port)));
    }
    unescape_host(host)
}

/// Go's host unescaping, which is where a host name is validated: escapes
/// must be well-formed and may not encode plain ASCII (other than `%25`),
/// and ASCII characters a URL would have to escape are not allowed at all.
fn unescape_host(host: &str) -> Result<(), String> {
    let bytes = host.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'%' {
            let escape = &host[i..host.len().min(i + 3)];
            let well_formed =
                escape.len() == 3 && escape[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !well_formed || (escape.as_bytes()[1] < b'8' && escape != "%25") {
                return Err(format!("invalid URL escape {}", quote_str(escape)));
            }
            i += 3;
            continue;
        }
        let allowed =
            c >= 0x80 || c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&c);
        if !allowed {
            return Err(format!(
                "invalid character {} in host name",
                quote_str(&host[i..i + 1])
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Every `%` must start a two-digit hex escape.
fn check_escapes(s: &str) -> Result<(), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let escape = &s[i..s.len().min(i + 3)];
            if escape.len() < 3 || !escape[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("invalid URL escape {}", quote_str(escape)));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Go's `net.SplitHostPort` succeeds: a port is present (it may be empty)
/// and only a bracketed host contains colons.
fn is_host_port(host_port: &str) -> bool {
    let Some(last_colon) = host_port.rfind(':') else {
        return false;
    };
    let (start, end_of_host) = if host_port.starts_with('[') {
        let Some(end) = host_port.find(']') else {
            return false;
        };
        if end + 1 != last_colon {
            return false;
        }
        (1, end + 1)
    } else {
        if host_port[..last_colon].contains(':') {
            return false;
        }
        (0, last_colon)
    };
    !host_port[start..].contains('[') && !host_port[end_of_host..].contains(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<(), String> {
        validate(&[url.to_string()])
    }

    #[test]
    fn accepts_peer_urls() {
        for url in [
            "http://127.0.0.1:2380",
            "https://node-1.example:2380",
            " http://10.0.0.1:2380 ",
            "http://[::1]:2380",
            "HTTP://h:1",
            "http://user:pw@h:1",
            "http://h:1?query",
            "http://h:1#fragment",
            "http://h:",
            "unix://sock:0",
        ] {
            assert_eq!(check(url), Ok(()), "{url}");
        }
        assert_eq!(
            validate(&["http://a:1".to_string(), "http://b:2".to_string()]),
            Ok(())
        );
    }

    #[test]
    fn rejects_like_etcdctl() {
        let cases = [
            (
                "127.0.0.1:2380",
                r#"parse "127.0.0.1:2380": first path segment in URL cannot contain colon"#,
            ),
            ("foo", "URL scheme must be http, https, unix, or unixs: foo"),
            (
                "localhost:2380",
                "URL scheme must be http, https, unix, or unixs: localhost:2380",
            ),
            ("", "URL scheme must be http, https, unix, or unixs: "),
            (
                "http://127.0.0.1",
                r#"URL address does not have the form "host:port": http://127.0.0.1"#,
            ),
            (
                "http:h:1",
                r#"URL address does not have the form "host:port": http:h:1"#,
            ),
            (
                "http://h:1/path",
                "URL must not contain a path: http://h:1/path",
            ),
            ("http://h:1/", "URL must not contain a path: http://h:1/"),
            ("http://[::1", r#"parse "http://[::1": missing ']' in host"#),
            (
                "http://h:abc",
                r#"parse "http://h:abc": invalid port ":abc" after host"#,
            ),
            (":2380", r#"parse ":2380": missing protocol scheme"#),
            (
                "http://h%zz:1",
                r#"parse "http://h%zz:1": invalid URL escape "%zz""#,
            ),
            (
                "http://a b:1",
                r#"parse "http://a b:1": invalid character " " in host name"#,
            ),
            (
                "http://h:1\x01",
                "parse \"http://h:1\\x01\": net/url: invalid control character in URL",
            ),
            (
                "http://::1:2380",
                r#"URL address does not have the form "host:port": http://::1:2380"#,
            ),
            (
                "http://h%41:1",
                r#"parse "http://h%41:1": invalid URL escape "%41""#,
            ),
            (
                "http://h:1/%g",
                r#"parse "http://h:1/%g": invalid URL escape "%g""#,
            ),
        ];
        for (url, message) in cases {
            assert_eq!(check(url), Err(message.to_string()), "{url}");
        }
        assert_eq!(validate(&[]), Err("no valid URLs given".to_string()));
    }
}
