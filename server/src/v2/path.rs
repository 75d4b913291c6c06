//! Paths as etcd's v2 store handles them (Go's `path` package rules).

/// The shortest equivalent path: rooted, without `.`/`..` elements, repeated or
/// trailing slashes ("/" for the root).
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(p.len() + 1);
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `dir` and `name` joined with one slash.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A cleaned path's parent directory and last element.
pub fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(0) => ("/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("/", p),
    }
}

/// Whether `key` is hidden from a watcher on `watched`: some element below the
/// watched path starts with `_`.
pub fn is_hidden(watched: &str, key: &str) -> bool {
    if watched.len() > key.len() {
        return false;
    }
    let Some(rest) = key.get(watched.len()..) else {
        return false;
    };
    let after = clean(&format!("/{rest}"));
    after.contains("/_")
}

/// The path Go's HTTP mux redirects a request to, if `p` is not already in that
/// form (it keeps a trailing slash).
pub fn mux_clean(p: &str) -> String {
    if p.is_empty() {
        return "/".to_string();
    }
    let rooted = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    };
    let mut np = clean(&rooted);
    if p.ends_with('/') && np != "/" {
        np.push('/');
    }
    np
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_clean_as_go_cleans_them() {
        assert_eq!(clean(""), "/");
        assert_eq!(clean("/a//b/./c/.."), "/a/b");
        assert_eq!(clean("/../.."), "/");
        assert_eq!(split("/a/b"), ("/a", "b"));
        assert_eq!(split("/a"), ("/", "a"));
        assert!(is_hidden("/", "/_x"));
        assert!(is_hidden("/a", "/a/_b/c"));
        assert!(!is_hidden("/a/_b", "/a/_b/c"));
        assert_eq!(mux_clean("/v2/keys//a/"), "/v2/keys/a/");
        assert_eq!(mux_clean("/v2/keys/a/../b"), "/v2/keys/b");
    }
}
