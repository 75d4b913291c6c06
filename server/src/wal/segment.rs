//! Segment files: naming, listing and reading with damage classification.

use std::fs;
use std::path::{Path, PathBuf};

use super::record::{decode_record, Decoded, RecordType};
use super::WalError;

/// `<seq:016x>-<first index:016x>.wal`.
pub fn segment_name(seq: u64, first_index: u64) -> String {
    format!("{seq:016x}-{first_index:016x}.wal")
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".wal")?;
    let (a, b) = stem.split_once('-')?;
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}

/// Every segment in `dir` as `(seq, first index, path)`, oldest first.
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(u64, u64, PathBuf)>> {
    let mut out = Vec::new();
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        let name = ent.file_name();
        if let Some((seq, first)) = name.to_str().and_then(parse_name) {
            out.push((seq, first, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// How a segment ended.
pub enum SegmentEnd {
    /// Every byte up to `end` belonged to a valid record, and every byte after it is
    /// zero (preallocated space not yet written).
    Clean { end: u64 },
    /// The newest segment ends in a damaged record with nothing valid after it:
    /// keep `offset` bytes; the damage reaches up to `len` (zeros follow).
    Torn { offset: u64, len: u64 },
}

/// Receives each record's type and payload; an error marks the record corrupt.
pub type Visit<'a> = dyn FnMut(RecordType, &[u8]) -> Result<(), String> + 'a;

/// Reads every record of the segment at `path`, handing each to `visit`.
pub fn read_segment(
    path: &Path,
    is_last: bool,
    visit: &mut Visit<'_>,
) -> Result<SegmentEnd, WalError> {
    let data = fs::read(path).map_err(|source| WalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let corrupt = |offset: usize, reason: String| WalError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let mut off = 0;
    while off < data.len() {
        if data[off..].iter().all(|b| *b == 0) {
            // The preallocated space after the last record.
            break;
        }
        match decode_record(&data[off..]) {
            Decoded::Record(ty, payload, total) => {
                visit(ty, payload).map_err(|r| corrupt(off, r))?;
                off += total;
            }
            Decoded::Incomplete | Decoded::Invalid(_)
                if is_last && !valid_record_after(&data, off) =>
            {
                let len = data.iter().rposition(|b| *b != 0).map_or(off, |i| i + 1);
                return Ok(SegmentEnd::Torn {
                    offset: off as u64,
                    len: len as u64,
                });
            }
            Decoded::Incomplete => {
                return Err(corrupt(off, "record cut short".into()));
            }
            Decoded::Invalid(reason) => return Err(corrupt(off, reason)),
        }
    }
    Ok(SegmentEnd::Clean { end: off as u64 })
}

/// Whether any valid record starts after `off`: if so, the damage at `off` is not
/// a torn tail but corruption in the middle of the log.
fn valid_record_after(data: &[u8], off: usize) -> bool {
    let magic = super::record::MAGIC.to_le_bytes();
    let mut i = off + 1;
    while i + magic.len() <= data.len() {
        if data[i..i + 4] == magic && matches!(decode_record(&data[i..]), Decoded::Record(..)) {
            return true;
        }
        i += 1;
    }
    false
}
