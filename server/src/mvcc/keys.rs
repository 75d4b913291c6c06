//! Byte encodings of revisions and index keys (see `docs/on-disk-format.md`).

/// A revision: the main revision of a write transaction and the sub revision of one
/// operation inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision {
    /// The store-wide revision of the transaction.
    pub main: i64,
    /// The operation's position inside the transaction, from 0.
    pub sub: i64,
}

/// Length of an encoded revision.
pub const REV_LEN: usize = 16;

impl Revision {
    /// Big-endian `main ++ sub`: byte order equals revision order.
    pub fn encode(self) -> [u8; REV_LEN] {
        let mut out = [0u8; REV_LEN];
        out[..8].copy_from_slice(&(self.main as u64).to_be_bytes());
        out[8..].copy_from_slice(&(self.sub as u64).to_be_bytes());
        out
    }

    /// Inverse of [`Revision::encode`].
    pub fn decode(b: &[u8]) -> Revision {
        assert_eq!(b.len(), REV_LEN, "revision key of wrong length");
        Revision {
            main: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")) as i64,
            sub: u64::from_be_bytes(b[8..].try_into().expect("8 bytes")) as i64,
        }
    }

    /// Bitwise-inverted encoding: byte order is newest first.
    pub fn encode_inverted(self) -> [u8; REV_LEN] {
        let mut out = self.encode();
        for b in &mut out {
            *b = !*b;
        }
        out
    }

    /// Inverse of [`Revision::encode_inverted`].
    pub fn decode_inverted(b: &[u8]) -> Revision {
        let mut raw = [0u8; REV_LEN];
        for (o, i) in raw.iter_mut().zip(b) {
            *o = !*i;
        }
        Revision::decode(&raw)
    }
}

/// Order-preserving, prefix-free encoding of a user key: every `0x00` becomes
/// `0x00 0xFF` and the key ends with `0x00 0x01`.
pub fn encode_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2 + REV_LEN);
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

/// The index column family key of `key` at revision `rev`.
pub fn index_key(key: &[u8], rev: Revision) -> Vec<u8> {
    let mut out = encode_key(key);
    out.extend_from_slice(&rev.encode_inverted());
    out
}

/// Splits an index key into its encoded user key and its revision.
pub fn split_index_key(k: &[u8]) -> (&[u8], Revision) {
    assert!(k.len() >= REV_LEN + 2, "index key too short: {k:?}");
    let (enc, rev) = k.split_at(k.len() - REV_LEN);
    (enc, Revision::decode_inverted(rev))
}

/// Value byte of an index entry and first byte of a `kv` record: a live version.
pub const KIND_PUT: u8 = 1;
/// Value byte of an index entry and first byte of a `kv` record: a tombstone.
pub const KIND_TOMBSTONE: u8 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_encoding_preserves_order_and_is_prefix_free() {
        let mut keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"a\0".to_vec(),
            b"a\0\0".to_vec(),
            b"a\x01".to_vec(),
            b"ab".to_vec(),
            b"b".to_vec(),
            vec![0xff],
            vec![0xff, 0x00],
        ];
        keys.sort();
        let enc: Vec<Vec<u8>> = keys.iter().map(|k| encode_key(k)).collect();
        let mut sorted = enc.clone();
        sorted.sort();
        assert_eq!(enc, sorted);
        for (i, a) in enc.iter().enumerate() {
            for (j, b) in enc.iter().enumerate() {
                if i != j {
                    assert!(!b.starts_with(a), "{a:?} is a prefix of {b:?}");
                }
            }
        }
    }

    #[test]
    fn inverted_revisions_sort_newest_first() {
        let a = index_key(b"k", Revision { main: 5, sub: 0 });
        let b = index_key(b"k", Revision { main: 4, sub: 9 });
        let c = index_key(b"k\0", Revision { main: 100, sub: 0 });
        assert!(a < b && b < c);
        assert_eq!(split_index_key(&a).1, Revision { main: 5, sub: 0 });
    }
}
