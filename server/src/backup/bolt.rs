//! A read-only reader of bbolt database files, as etcd writes them.
//!
//! The `bbolt-rs` crate writes ectd's snapshots, but it cannot open the files
//! etcd itself writes: etcd keeps no freelist on disk (`NoFreelistSync`), which
//! that crate refuses. Reading needs none of the write machinery, only the
//! page format: two meta pages (the valid one with the higher transaction id
//! wins), and B+trees of branch and leaf pages, with small buckets stored
//! inline in their parent's leaf. Every offset read from the file is checked,
//! so a damaged file is an error, never a crash.

use std::path::Path;

use memmap2::Mmap;

use super::BackupError;

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BUCKET_HEADER: usize = 16;
const FLAG_BRANCH: u16 = 0x01;
const FLAG_LEAF: u16 = 0x02;
const LEAF_IS_BUCKET: u32 = 0x01;
/// Deeper trees than this are damaged (a 4 KiB-page tree of 2^63 keys is far
/// shallower).
const MAX_DEPTH: usize = 64;

/// What a visit of one entry returns: an error stops the walk.
pub type Visited = Result<(), BackupError>;
/// A visitor of entries: key, value, and whether the entry is a nested bucket.
pub type Visit<'f> = dyn FnMut(&[u8], &[u8], bool) -> Visited + 'f;

/// An open database file.
pub struct BoltFile {
    map: Mmap,
    page_size: usize,
    root: u64,
    high_water: u64,
}

/// Where a bucket's tree lives: a page, or inline in its parent's leaf.
#[derive(Clone, Copy)]
enum Root<'a> {
    Page(u64),
    Inline(&'a [u8]),
}

fn bad(what: impl Into<String>) -> BackupError {
    BackupError::Format(what.into())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// FNV-1a, 64 bits: the checksum of a meta page.
fn fnv64a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A meta page's root bucket page, high-water mark and transaction id, if
/// it is valid.
fn meta_at(map: &[u8], offset: usize) -> Option<(u32, u64, u64, u64)> {
    let m = map.get(offset + PAGE_HEADER..offset + PAGE_HEADER + 64)?;
    if u32_at(m, 0)? != MAGIC || u32_at(m, 4)? != VERSION {
        return None;
    }
    if fnv64a(&m[..56]) != u64_at(m, 56)? {
        return None;
    }
    Some((
        u32_at(m, 8)?,
        u64_at(m, 16)?,
        u64_at(m, 40)?,
        u64_at(m, 48)?,
    ))
}

impl BoltFile {
    /// Opens and maps `path` read-only.
    pub fn open(path: &Path) -> Result<BoltFile, BackupError> {
        let f = std::fs::File::open(path).map_err(|source| BackupError::io(path, source))?;
        // SAFETY: the file is mapped read-only; a concurrent writer could change
        // what is read, which every access below tolerates by bounds checks.
        let map = unsafe { Mmap::map(&f) }.map_err(|source| BackupError::io(path, source))?;
        let first = meta_at(&map, 0)
            .ok_or_else(|| bad(format!("{}: not a bbolt database", path.display())))?;
        let page_size = first.0 as usize;
        if !(512..=1 << 20).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(bad(format!("{}: page size {page_size}", path.display())));
        }
        let second = meta_at(&map, page_size);
        let (_, root, high_water, _) = match second {
            Some(s) if s.3 > first.3 => s,
            _ => first,
        };
        Ok(BoltFile {
            map,
            page_size,
            root,
            high_water,
        })
    }

    /// Bytes in use: the high-water mark times the page size (what etcd's
    /// tools report as the size).
    pub fn size(&self) -> u64 {
        self.high_water * self.page_size as u64
    }

    /// The page `id` with its overflow pages.
    fn page(&self, id: u64) -> Result<&[u8], BackupError> {
        if id >= self.high_water {
            return Err(bad(format!("page {id} past the end")));
        }
        let start = id as usize * self.page_size;
        let header = self
            .map
            .get(start..start + PAGE_HEADER)
            .ok_or_else(|| bad(format!("page {id} past the end of the file")))?;
        let overflow = u32_at(header, 12).unwrap_or(0) as usize;
        let len = (overflow + 1)
            .checked_mul(self.page_size)
            .ok_or_else(|| bad(format!("page {id}: overflow")))?;
        self.map
            .get(start..start + len)
            .ok_or_else(|| bad(format!("page {id} past the end of the file")))
    }

    /// Calls `f` with every key and value of the tree at `root`, in key order;
    /// `is_bucket` marks a nested bucket (its value is the bucket's header).
    fn walk(&self, root: Root<'_>, depth: usize, f: &mut Visit<'_>) -> Result<(), BackupError> {
        if depth > MAX_DEPTH {
            return Err(bad("bucket tree too deep"));
        }
        let page = match root {
            Root::Page(id) => self.page(id)?,
            Root::Inline(p) => p,
        };
        let flags = u16_at(page, 8).ok_or_else(|| bad("short page"))?;
        let count = u16_at(page, 10).ok_or_else(|| bad("short page"))? as usize;
        for i in 0..count {
            let at = PAGE_HEADER + i * ELEMENT;
            let elem = page
                .get(at..at + ELEMENT)
                .ok_or_else(|| bad("element past the page"))?;
            if flags & FLAG_BRANCH != 0 {
                let child = u64_at(elem, 8).ok_or_else(|| bad("short element"))?;
                if matches!(root, Root::Inline(_)) {
                    return Err(bad("branch page inside an inline bucket"));
                }
                self.walk(Root::Page(child), depth + 1, f)?;
            } else if flags & FLAG_LEAF != 0 {
                let eflags = u32_at(elem, 0).ok_or_else(|| bad("short element"))?;
                let pos = u32_at(elem, 4).ok_or_else(|| bad("short element"))? as usize;
                let ksize = u32_at(elem, 8).ok_or_else(|| bad("short element"))? as usize;
                let vsize = u32_at(elem, 12).ok_or_else(|| bad("short element"))? as usize;
                let kstart = at + pos;
                let key = page
                    .get(kstart..kstart + ksize)
                    .ok_or_else(|| bad("key past the page"))?;
                let value = page
                    .get(kstart + ksize..kstart + ksize + vsize)
                    .ok_or_else(|| bad("value past the page"))?;
                f(key, value, eflags & LEAF_IS_BUCKET != 0)?;
            } else {
                return Err(bad(format!("page of kind {flags:#x} inside a tree")));
            }
        }
        Ok(())
    }

    fn bucket_root(value: &[u8]) -> Result<Root<'_>, BackupError> {
        let root = u64_at(value, 0).ok_or_else(|| bad("short bucket header"))?;
        if root == 0 {
            Ok(Root::Inline(&value[BUCKET_HEADER.min(value.len())..]))
        } else {
            Ok(Root::Page(root))
        }
    }

    /// Calls `f` with the name and entries of every top-level bucket in
    /// order; `f` gets the bucket name, then `g` its keys and values.
    pub fn for_each_bucket(
        &self,
        f: &mut dyn FnMut(&[u8]) -> Result<(), BackupError>,
        g: &mut Visit<'_>,
    ) -> Result<(), BackupError> {
        self.walk(Root::Page(self.root), 0, &mut |name, value, is_bucket| {
            if !is_bucket {
                return Ok(());
            }
            f(name)?;
            self.walk(Self::bucket_root(value)?, 1, g)
        })
    }

    /// Calls `f` with every key and value of the top-level bucket `name`, in
    /// key order; a missing bucket has none.
    pub fn for_each(
        &self,
        name: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> Visited,
    ) -> Result<(), BackupError> {
        let mut root = None;
        self.walk(Root::Page(self.root), 0, &mut |k, v, is_bucket| {
            if is_bucket && k == name {
                root = Some(v.to_vec());
            }
            Ok(())
        })?;
        let Some(v) = root else { return Ok(()) };
        self.walk(Self::bucket_root(&v)?, 1, &mut |k, v, is_bucket| {
            if is_bucket {
                Ok(())
            } else {
                f(k, v)
            }
        })
    }

    /// The value of `key` in the top-level bucket `name`.
    pub fn get(&self, name: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, BackupError> {
        let mut found = None;
        self.for_each(name, &mut |k, v| {
            if k == key {
                found = Some(v.to_vec());
            }
            Ok(())
        })?;
        Ok(found)
    }
}
