//! Framing of one WAL record.

/// Marks the start of every record; a cheap first check when scanning damage.
pub const MAGIC: u32 = 0xEC7D_5A1E;
/// magic(4) + length(4) + type(1) + crc(4).
pub const HEADER_LEN: usize = 13;
/// Upper bound on one record's payload; anything larger is damage.
pub const MAX_PAYLOAD: u32 = 256 * 1024 * 1024;

/// What a record's payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// A raft `Entry` (protobuf).
    Entry = 1,
    /// A raft `HardState` (protobuf).
    HardState = 2,
    /// A snapshot marker: index u64 LE, term u64 LE.
    Snapshot = 3,
}

impl RecordType {
    fn from_u8(b: u8) -> Option<RecordType> {
        match b {
            1 => Some(RecordType::Entry),
            2 => Some(RecordType::HardState),
            3 => Some(RecordType::Snapshot),
            _ => None,
        }
    }
}

fn checksum(ty: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[ty]);
    h.update(payload);
    h.finalize()
}

/// Appends one framed record to `out`.
pub fn encode_record(out: &mut Vec<u8>, ty: RecordType, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("wal record payload over 4 GiB");
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.push(ty as u8);
    out.extend_from_slice(&checksum(ty as u8, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The outcome of decoding the record that starts at the head of `buf`.
pub enum Decoded<'a> {
    /// A valid record and its total framed length.
    Record(RecordType, &'a [u8], usize),
    /// Fewer bytes than the record needs: the buffer ends inside it.
    Incomplete,
    /// The bytes are not a valid record.
    Invalid(String),
}

/// Decodes the record at the start of `buf`.
pub fn decode_record(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER_LEN {
        return Decoded::Incomplete;
    }
    let magic = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes"));
    if magic != MAGIC {
        return Decoded::Invalid(format!("bad magic {magic:#010x}"));
    }
    let len = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    if len > MAX_PAYLOAD {
        return Decoded::Invalid(format!("implausible length {len}"));
    }
    let ty = buf[8];
    let crc = u32::from_le_bytes(buf[9..13].try_into().expect("4 bytes"));
    let total = HEADER_LEN + len as usize;
    if buf.len() < total {
        return Decoded::Incomplete;
    }
    let payload = &buf[HEADER_LEN..total];
    if checksum(ty, payload) != crc {
        return Decoded::Invalid("crc mismatch".into());
    }
    match RecordType::from_u8(ty) {
        Some(t) => Decoded::Record(t, payload, total),
        None => Decoded::Invalid(format!("unknown record type {ty}")),
    }
}
