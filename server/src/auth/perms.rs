//! Key permissions as intervals, and the checks made against them.
//!
//! An interval is `[begin, end)` over keys compared as bytes, except that an
//! empty key stands for "past every key" at either end, as in etcd. A
//! permission on one key is the interval `[key, key ++ 0x00)`; a range end of
//! `0x00` means "to the end of the keyspace".

use std::cmp::Ordering;

use ectd_proto::authpb::{permission::Type as PermType, Permission};

/// Compares two interval bounds: empty is greater than everything else.
fn cmp_bound(a: &[u8], b: &[u8]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.cmp(b),
    }
}

/// One interval of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Interval {
    begin: Vec<u8>,
    end: Vec<u8>,
}

impl Interval {
    /// The interval holding exactly `key`.
    fn point(key: &[u8]) -> Interval {
        let mut end = key.to_vec();
        end.push(0);
        Interval {
            begin: key.to_vec(),
            end,
        }
    }

    /// `[key, range_end)`, where a range end of `0x00` is the end of the keyspace.
    fn span(key: &[u8], range_end: &[u8]) -> Interval {
        let end = if range_end == [0] {
            Vec::new()
        } else {
            range_end.to_vec()
        };
        Interval {
            begin: key.to_vec(),
            end,
        }
    }

    /// Whether the two intervals share a key (by etcd's interval order).
    fn overlaps(&self, other: &Interval) -> bool {
        let left_of = cmp_bound(&self.begin, &other.begin) == Ordering::Less
            && cmp_bound(&self.end, &other.begin) != Ordering::Greater;
        let right_of = cmp_bound(&self.begin, &other.end) != Ordering::Less;
        !left_of && !right_of
    }
}

/// A set of intervals, kept ordered by their start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Intervals(Vec<Interval>);

impl Intervals {
    fn insert(&mut self, ivl: Interval) {
        let at = self
            .0
            .partition_point(|x| cmp_bound(&x.begin, &ivl.begin) != Ordering::Greater);
        self.0.insert(at, ivl);
    }

    /// Whether some interval shares a key with `ivl`.
    fn intersects(&self, ivl: &Interval) -> bool {
        self.0.iter().any(|x| x.overlaps(ivl))
    }

    /// Whether the intervals overlapping `ivl` cover it without a gap.
    fn covers(&self, ivl: &Interval) -> bool {
        let mut covering = self.0.iter().filter(|x| x.overlaps(ivl));
        let Some(first) = covering.next() else {
            return false;
        };
        let mut max_end = first.end.as_slice();
        for x in covering {
            if cmp_bound(max_end, &x.begin) == Ordering::Less {
                return false;
            }
            if cmp_bound(&x.end, max_end) == Ordering::Greater {
                max_end = &x.end;
            }
        }
        cmp_bound(max_end, &ivl.end) != Ordering::Less
            && cmp_bound(&first.begin, &ivl.begin) != Ordering::Greater
    }
}

/// What a user may read and write: the union of its roles' permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPerms {
    read: Intervals,
    write: Intervals,
}

/// Which kind of access a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl UserPerms {
    /// The union of `perms`.
    pub fn from_permissions<'a>(perms: impl IntoIterator<Item = &'a Permission>) -> UserPerms {
        let mut out = UserPerms::default();
        for p in perms {
            let ivl = if p.range_end.is_empty() {
                Interval::point(&p.key)
            } else {
                Interval::span(&p.key, &p.range_end)
            };
            match PermType::try_from(p.perm_type) {
                Ok(PermType::Read) => out.read.insert(ivl),
                Ok(PermType::Write) => out.write.insert(ivl),
                Ok(PermType::Readwrite) => {
                    out.read.insert(ivl.clone());
                    out.write.insert(ivl);
                }
                Err(_) => {}
            }
        }
        out
    }

    /// Whether `access` to the key (empty `range_end`) or range is allowed.
    pub fn allows(&self, access: Access, key: &[u8], range_end: &[u8]) -> bool {
        let set = match access {
            Access::Read => &self.read,
            Access::Write => &self.write,
        };
        if range_end.is_empty() {
            set.intersects(&Interval::point(key))
        } else {
            set.covers(&Interval::span(key, range_end))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(t: PermType, key: &str, end: &[u8]) -> Permission {
        Permission {
            perm_type: t as i32,
            key: key.as_bytes().to_vec(),
            range_end: end.to_vec(),
        }
    }

    #[test]
    fn single_keys_prefixes_and_open_ranges() {
        let p = UserPerms::from_permissions(&[
            perm(PermType::Read, "/r/", b"/r0"),
            perm(PermType::Write, "k1", b""),
            perm(PermType::Readwrite, "x", &[0]),
        ]);
        assert!(p.allows(Access::Read, b"/r/a", b""));
        assert!(p.allows(Access::Read, b"/r/", b"/r0"));
        assert!(!p.allows(Access::Read, b"/r/", b"/r1"));
        assert!(!p.allows(Access::Write, b"/r/a", b""));
        assert!(p.allows(Access::Write, b"k1", b""));
        assert!(!p.allows(Access::Write, b"k10", b""));
        assert!(!p.allows(Access::Read, b"k1", b""));
        assert!(p.allows(Access::Read, b"zzz", &[0]));
        assert!(p.allows(Access::Write, b"x", b"y"));
        assert!(!p.allows(Access::Read, b"w", &[0]));
    }

    #[test]
    fn adjacent_ranges_join_and_gaps_do_not() {
        let p = UserPerms::from_permissions(&[
            perm(PermType::Read, "a", b"c"),
            perm(PermType::Read, "c", b"e"),
            perm(PermType::Read, "f", b"g"),
        ]);
        assert!(p.allows(Access::Read, b"a", b"e"));
        assert!(p.allows(Access::Read, b"b", b"d"));
        assert!(!p.allows(Access::Read, b"a", b"g"));
        assert!(!p.allows(Access::Read, b"e", b""));
        assert!(p.allows(Access::Read, b"f", b""));
    }

    #[test]
    fn nothing_allows_nothing() {
        let p = UserPerms::default();
        assert!(!p.allows(Access::Read, b"a", b""));
        assert!(!p.allows(Access::Write, b"a", &[0]));
    }
}
