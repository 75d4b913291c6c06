use super::*;
use std::io::{Seek, SeekFrom, Write};

fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
    Entry {
        index,
        term,
        data: data.to_vec().into(),
        ..Default::default()
    }
}

fn write_entries(dir: &Path, range: std::ops::RangeInclusive<u64>) {
    let (mut wal, _) = Wal::open(dir).unwrap();
    let es: Vec<Entry> = range
        .map(|i| entry(i, 1, format!("v{i}").as_bytes()))
        .collect();
    wal.append_entries(&es);
    let hs = HardState {
        term: 1,
        commit: es.last().map(|e| e.index).unwrap_or(0),
        ..Default::default()
    };
    wal.set_hard_state(&hs);
    wal.sync().unwrap();
}

fn only_segment(dir: &Path) -> PathBuf {
    let segs = list_segments(dir).unwrap();
    assert_eq!(segs.len(), 1);
    segs[0].2.clone()
}

/// A log holding entries `1..=last` in one segment: the directory, the segment and
/// where its records end.
fn one_segment(last: u64) -> (tempfile::TempDir, PathBuf, u64) {
    let d = tempfile::tempdir().unwrap();
    write_entries(d.path(), 1..=last);
    let path = only_segment(d.path());
    let end = data_end(&path);
    (d, path, end)
}

/// Where the records of the segment at `path` end (zeros follow).
fn data_end(path: &Path) -> u64 {
    match read_segment(path, true, &mut |_, _| Ok(())).unwrap() {
        SegmentEnd::Clean { end } => end,
        SegmentEnd::Torn { .. } => panic!("{} ends in a torn record", path.display()),
    }
}

/// Writes `bytes` at `offset` of the file at `path`, as a write in progress would.
fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Whether every byte of the file at `path` from `from` on is zero.
fn zeros_from(path: &Path, from: u64) -> bool {
    fs::read(path).unwrap()[from as usize..]
        .iter()
        .all(|b| *b == 0)
}

#[test]
fn segments_are_preallocated_and_filled_from_the_front() {
    let d = tempfile::tempdir().unwrap();
    write_entries(d.path(), 1..=3);
    let path = only_segment(d.path());
    assert_eq!(fs::metadata(&path).unwrap().len(), SEGMENT_BYTES);
    let end = data_end(&path);
    assert!(end > 0 && zeros_from(&path, end));
    // Reopening writes after the records, not after the reserved space.
    write_entries(d.path(), 4..=6);
    assert_eq!(fs::metadata(&path).unwrap().len(), SEGMENT_BYTES);
    assert!(data_end(&path) > end);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(
        r.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
}

#[test]
fn a_segment_without_reserved_space_is_read_and_extended() {
    let (d, path, end) = one_segment(4);
    // The shape of a segment that grew record by record: no zeros after the data.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(end)
        .unwrap();
    let (mut wal, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 4);
    assert_eq!(fs::metadata(&path).unwrap().len(), SEGMENT_BYTES);
    wal.append_entries(&[entry(5, 1, b"v5")]);
    wal.sync().unwrap();
    drop(wal);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 5);
    assert_eq!(&r.entries[4].data[..], b"v5");
}

#[test]
fn replays_entries_and_hard_state() {
    let d = tempfile::tempdir().unwrap();
    write_entries(d.path(), 1..=10);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 10);
    assert_eq!(r.entries[9].index, 10);
    assert_eq!(&r.entries[4].data[..], b"v5");
    assert_eq!(r.hard_state.commit, 10);
}

#[test]
fn later_entries_replace_a_conflicting_suffix() {
    let d = tempfile::tempdir().unwrap();
    write_entries(d.path(), 1..=5);
    {
        let (mut wal, _) = Wal::open(d.path()).unwrap();
        wal.append_entries(&[entry(4, 2, b"new4")]);
        wal.sync().unwrap();
    }
    let (_, r) = Wal::open(d.path()).unwrap();
    let idx: Vec<u64> = r.entries.iter().map(|e| e.index).collect();
    assert_eq!(idx, vec![1, 2, 3, 4]);
    assert_eq!(&r.entries[3].data[..], b"new4");
    assert_eq!(r.entries[3].term, 2);
}

#[test]
fn torn_tail_is_cut_off() {
    let (d, path, good_end) = one_segment(5);
    // A record cut off half-way, as a crash during write leaves it.
    let mut rec = Vec::new();
    encode_record(
        &mut rec,
        RecordType::Entry,
        &entry(6, 1, b"v6").write_to_bytes().unwrap(),
    );
    write_at(&path, good_end, &rec[..rec.len() / 2]);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 5);
    assert_eq!(data_end(&path), good_end);
    assert!(zeros_from(&path, good_end));
    assert_eq!(fs::metadata(&path).unwrap().len(), SEGMENT_BYTES);
}

#[test]
fn garbage_tail_is_cut_off() {
    let (d, path, good_end) = one_segment(5);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    write_at(&path, good_end, &garbage);
    let (mut wal, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 5);
    assert!(zeros_from(&path, good_end));
    // The repaired log accepts new entries.
    wal.append_entries(&[entry(6, 1, b"v6")]);
    wal.sync().unwrap();
    drop(wal);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 6);
}

#[test]
fn garbage_past_the_reserved_space_is_cut_off() {
    let (d, path, good_end) = one_segment(5);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"not a record").unwrap();
    drop(f);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(r.entries.len(), 5);
    assert_eq!(fs::metadata(&path).unwrap().len(), SEGMENT_BYTES);
    assert!(zeros_from(&path, good_end));
}

#[test]
fn flipped_byte_mid_log_refuses_to_open() {
    let d = tempfile::tempdir().unwrap();
    write_entries(d.path(), 1..=20);
    let path = only_segment(d.path());
    let len = fs::metadata(&path).unwrap().len();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let at = data_end(&path) / 3;
    f.seek(SeekFrom::Start(at)).unwrap();
    let mut b = [0u8; 1];
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x40]).unwrap();
    drop(f);
    match Wal::open(d.path()) {
        Err(WalError::Corrupt {
            path: p, offset, ..
        }) => {
            assert_eq!(p, path);
            assert!(
                offset <= at,
                "offset {offset} should be at or before the flipped byte {at}"
            );
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a corrupt log must not open"),
    }
    // The file is left untouched for the operator to inspect.
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
}

#[test]
fn segments_roll_and_purge() {
    let d = tempfile::tempdir().unwrap();
    let (mut wal, _) = Wal::open(d.path()).unwrap();
    wal.append_entries(&[entry(1, 1, b"a")]);
    wal.sync().unwrap();
    wal.roll().unwrap();
    wal.append_entries(&[entry(2, 1, b"b")]);
    wal.sync().unwrap();
    assert_eq!(list_segments(d.path()).unwrap().len(), 2);
    assert_eq!(wal.purge_before(1).unwrap(), 0);
    assert_eq!(wal.purge_before(2).unwrap(), 1);
    drop(wal);
    let (_, r) = Wal::open(d.path()).unwrap();
    assert_eq!(
        r.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![2]
    );
}
