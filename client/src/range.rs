//! Key ranges as etcd's v3 API expresses them: a start key plus an exclusive
//! `range_end`, where an empty `range_end` means "this key only" and the
//! single byte `\0` means "no upper bound".

/// A `[key, range_end)` pair ready to be copied into a `RangeRequest`,
/// `DeleteRangeRequest` or `Compare`.
///
/// The constructors follow etcdctl's conventions exactly, so a range built
/// here selects the same keys as the matching etcdctl flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct KeyRange {
    /// First key of the range (inclusive).
    pub key: Vec<u8>,
    /// End of the range (exclusive); empty for a single key, `[0]` for
    /// "every key from `key` on".
    pub range_end: Vec<u8>,
}

impl KeyRange {
    /// Exactly one key.
    pub fn key(key: impl Into<Vec<u8>>) -> KeyRange {
        KeyRange {
            key: key.into(),
            range_end: Vec::new(),
        }
    }

    /// The half-open interval `[key, range_end)`, taken verbatim.
    pub fn between(key: impl Into<Vec<u8>>, range_end: impl Into<Vec<u8>>) -> KeyRange {
        KeyRange {
            key: key.into(),
            range_end: range_end.into(),
        }
    }

    /// Every key that starts with `prefix` (etcdctl's `--prefix`).
    ///
    /// An empty prefix selects every key: it becomes the range `["\0", "\0")`
    /// because the server reads an empty key as "no key at all".
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> KeyRange {
        let prefix = prefix.into();
        if prefix.is_empty() {
            return KeyRange::all();
        }
        let range_end = prefix_range_end(&prefix);
        KeyRange {
            key: prefix,
            range_end,
        }
    }

    /// Every key greater than or equal to `key` in byte order (etcdctl's
    /// `--from-key`). An empty key selects every key.
    pub fn from_key(key: impl Into<Vec<u8>>) -> KeyRange {
        let mut key = key.into();
        if key.is_empty() {
            key = vec![0];
        }
        KeyRange {
            key,
            range_end: vec![0],
        }
    }

    /// Every key in the store.
    pub fn all() -> KeyRange {
        KeyRange {
            key: vec![0],
            range_end: vec![0],
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`.
///
/// That is `prefix` with trailing `0xff` bytes dropped and the last remaining
/// byte incremented. When no such key exists (the prefix is empty or all
/// `0xff`), the result is `[0]`, which the server reads as "no upper bound".
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_range_end(b"foo"), b"fop".to_vec());
        assert_eq!(prefix_range_end(b"a/"), b"a0".to_vec());
    }

    #[test]
    fn prefix_end_drops_trailing_ff() {
        assert_eq!(prefix_range_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_range_end(&[b'a', 0xff, 0xff]), b"b".to_vec());
        assert_eq!(prefix_range_end(&[0x01, 0xfe, 0xff]), vec![0x01, 0xff]);
    }

    #[test]
    fn prefix_end_without_upper_bound() {
        assert_eq!(prefix_range_end(&[0xff]), vec![0]);
        assert_eq!(prefix_range_end(&[0xff, 0xff]), vec![0]);
        assert_eq!(prefix_range_end(b""), vec![0]);
    }

    #[test]
    fn empty_prefix_and_from_key_mean_all_keys() {
        assert_eq!(KeyRange::prefix(""), KeyRange::all());
        assert_eq!(KeyRange::from_key(""), KeyRange::all());
        assert_eq!(KeyRange::all().key, vec![0]);
        assert_eq!(KeyRange::all().range_end, vec![0]);
    }

    #[test]
    fn constructors() {
        assert_eq!(
            KeyRange::prefix("k"),
            KeyRange::between("k".as_bytes(), "l".as_bytes())
        );
        assert_eq!(KeyRange::from_key("k").range_end, vec![0]);
        assert_eq!(KeyRange::key("k").range_end, Vec::<u8>::new());
    }
}
