//! Endpoints and request URLs of the v2 API, spelled as etcd's Go client
//! spells them: keys become canonical paths under `/v2/keys` (a trailing
//! slash kept), paths and query strings are escaped with Go's `net/url`
//! rules and query parameters are sorted by name. Byte-identical URLs make
//! `ectl --debug` print the same cURL lines as etcdctl.

use std::fmt::Write;

use super::Error;

/// How to reach a member: scheme, host and port, and the base path every
/// API path is appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The endpoint as it was given (after an `http://` was supplied for a
    /// bare host), as it appears in error messages.
    pub(crate) url: String,
    pub(crate) scheme: String,
    /// The host to dial, without the brackets of an IPv6 literal.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `host:port` as written, for the `Host` header.
    pub(crate) authority: String,
    /// The endpoint's own path (usually empty).
    pub(crate) base_path: String,
}

impl Endpoint {
    /// Parses an endpoint URL. An endpoint without a scheme is taken as
    /// `http://`; an endpoint that Go's URL parser would reject is refused
    /// with its words.
    pub(crate) fn parse(given: &str) -> Result<Endpoint, Error> {
        let invalid = |reason: &str| Error::InvalidEndpoint {
            endpoint: given.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = match given.split_once("://") {
            Some((scheme, rest)) if is_scheme(scheme) => (scheme.to_ascii_lowercase(), rest),
            _ => {
                // Without `//` there is no host: `localhost:2379` is the URL
                // with scheme `localhost`, and `10.0.0.1:2379` no URL at all.
                if let Some((scheme, _)) = given.split_once(':') {
                    if is_scheme(scheme) {
                        return Err(invalid("missing host (write scheme://host:port)"));
                    }
                    let first_segment = given.split('/').next().unwrap_or_default();
                    if first_segment.contains(':') {
                        return Err(invalid("first path segment in URL cannot contain colon"));
                    }
                }
                ("http".to_string(), given)
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let default_port = match scheme.as_str() {
            "https" => 443,
            _ => 80,
        };
        let (host, port) = split_host_port(authority, default_port).map_err(|reason| {
            invalid(&format!("invalid port or host in {authority:?}: {reason}"))
        })?;
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let url = if given.contains("://") {
            given.to_string()
        } else {
            format!("http://{given}")
        };
        Ok(Endpoint {
            url,
            scheme,
            host,
            port,
            authority: authority.to_string(),
            base_path: percent_decode(path),
        })
    }

    /// The full URL of API path `path` (unescaped, below the endpoint's own
    /// path) with `query` (already encoded).
    pub(crate) fn url_of(&self, path: &str, query: &str) -> String {
        format!(
            "{}://{}{}",
            self.scheme,
            self.authority,
            self.target_of(path, query)
        )
    }

    /// The request target (`/escaped/path?query`) of API path `path` with
    /// `query`, as the request line names it.
    pub(crate) fn target_of(&self, path: &str, query: &str) -> String {
        let full = format!("{}{path}", self.base_path.trim_end_matches('/'));
        let mut target = escape_path(&full);
        if !query.is_empty() {
            target.push('?');
            target.push_str(query);
        }
        target
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Splits `host[:port]` or `[v6]:port`; the port defaults to
/// `default_port`.
fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "missing ']'".to_string())?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err("unexpected text after ']'".to_string()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(port) => port.parse().map_err(|_| format!("invalid port {port:?}"))?,
    };
    Ok((host.to_string(), port))
}

/// The path of `key` in the keys API: `/v2/keys` and the key joined,
/// cleaned of `.`, `..` and repeated slashes, with a trailing slash kept
/// (so `dir/` stays a directory request).
pub(crate) fn keys_path(key: &str) -> String {
    let mut joined = "/v2/keys".to_string();
    if !key.is_empty() && !key.starts_with('/') {
        joined.push('/');
    }
    joined.push_str(key);
    canonical_path(&joined)
}

/// `/v2/members` and `rest` joined and cleaned.
pub(crate) fn members_path(rest: &str) -> String {
    clean_path(&format!("/v2/members/{rest}"))
}

/// A rooted path with a trailing slash kept.
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let rooted = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut clean = clean_path(&rooted);
    if rooted.ends_with('/') && clean != "/" {
        clean.push('/');
    }
    clean
}

/// Go's `path.Clean` for a rooted path: no empty, `.` or `..` elements,
/// no trailing slash (except the root itself).
pub(crate) fn clean_path(path: &str) -> String {
    let mut elements: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                elements.pop();
            }
            element => elements.push(element),
        }
    }
    format!("/{}", elements.join("/"))
}

/// Escapes a path as Go's `URL.EscapedPath` does: everything but letters,
/// digits and `-_.~$&+,/:;=@` is percent-encoded.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Escapes a query key or value as Go's `url.QueryEscape`: everything but
/// letters, digits and `-_.~` is percent-encoded, a space becomes `+`.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) => out.push(b as char),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Encodes parameters as Go's `url.Values.Encode`: sorted by name (values
/// of one name in the order given), `name=value` joined with `&`.
pub(crate) fn encode_params(params: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .iter()
        .map(|(name, value)| format!("{}={}", query_escape(name), query_escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_paths_are_canonical_and_keep_a_trailing_slash() {
        assert_eq!(keys_path("/foo"), "/v2/keys/foo");
        assert_eq!(keys_path("foo"), "/v2/keys/foo");
        assert_eq!(keys_path("dir/"), "/v2/keys/dir/");
        assert_eq!(keys_path(""), "/v2/keys");
        assert_eq!(keys_path("/"), "/v2/keys/");
        assert_eq!(keys_path("//a/./b/../c"), "/v2/keys/a/c");
        assert_eq!(keys_path("/../../x"), "/x");
        assert_eq!(members_path("leader"), "/v2/members/leader");
        assert_eq!(members_path(""), "/v2/members");
    }

    #[test]
    fn urls_are_escaped_like_go() {
        let endpoint = Endpoint::parse("http://127.0.0.1:2379").unwrap();
        let query = encode_params(&[
            ("sorted", "false".to_string()),
            ("recursive", "true".to_string()),
            ("prevValue", "a b&c/d".to_string()),
        ]);
        assert_eq!(
            endpoint.url_of(&keys_path("/a b?#%é"), &query),
            "http://127.0.0.1:2379/v2/keys/a%20b%3F%23%25%C3%A9\
             ?prevValue=a+b%26c%2Fd&recursive=true&sorted=false"
        );
        assert_eq!(
            endpoint.url_of("/v2/keys/$&+,:;=@-_.~!*'()", ""),
            "http://127.0.0.1:2379/v2/keys/$&+,:;=@-_.~%21%2A%27%28%29"
        );
    }

    #[test]
    fn endpoints_parse_like_etcdctl() {
        let plain = Endpoint::parse("http://127.0.0.1:2379").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.scheme.as_str()),
            ("127.0.0.1", 2379, "http")
        );
        let secure = Endpoint::parse("https://[::1]").unwrap();
        assert_eq!((secure.host.as_str(), secure.port), ("::1", 443));
        let bare = Endpoint::parse("etcd.example").unwrap();
        assert_eq!(bare.url, "http://etcd.example");
        assert_eq!(bare.port, 80);
        let err = Endpoint::parse("127.0.0.1:2379").unwrap_err();
        assert_eq!(
            err.to_string(),
            "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon"
        );
        assert!(Endpoint::parse("http://host:port").is_err());
        let with_path = Endpoint::parse("http://h:1/base%20dir/").unwrap();
        assert_eq!(with_path.base_path, "/base dir/");
        assert_eq!(
            with_path.url_of(&keys_path("a"), ""),
            "http://h:1/base%20dir/v2/keys/a"
        );
    }
}
