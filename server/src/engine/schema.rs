//! Every RocksDB column family ectd uses, declared in one place.
//! The byte layout of each is described in `docs/on-disk-format.md`.

/// A column family of the state machine's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cf {
    /// Revision-keyed history: `revision(16)` -> kind byte + `mvccpb.KeyValue`.
    Kv,
    /// Key index: `memcomparable(key) ++ inverted revision(16)` -> kind byte.
    Index,
    /// Small bookkeeping values: applied index, current and compact revisions.
    Meta,
    /// Leases and the keys attached to them (see [`lease`]).
    Lease,
    /// The v2 store (see [`v2`]): nodes by path, its index, and its event history.
    V2,
    /// The auth store (see [`auth`]): users, roles, whether auth is on, and the
    /// auth revision.
    Auth,
}

/// All column families, in the order they are opened.
pub const ALL: [Cf; 6] = [Cf::Kv, Cf::Index, Cf::Meta, Cf::Lease, Cf::V2, Cf::Auth];

impl Cf {
    /// The column family's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Kv => "kv",
            Cf::Index => "index",
            Cf::Meta => "meta",
            Cf::Lease => "lease",
            Cf::V2 => "v2",
            Cf::Auth => "auth",
        }
    }
}

/// Keys of the `meta` column family.
pub mod meta {
    /// Raft index of the last applied entry (u64 big-endian).
    pub const APPLIED_INDEX: &[u8] = b"applied_index";
    /// Raft term of the last applied entry (u64 big-endian).
    pub const APPLIED_TERM: &[u8] = b"applied_term";
    /// Current main revision of the keyspace (u64 big-endian).
    pub const REVISION: &[u8] = b"revision";
    /// Revision of the last compaction applied (u64 big-endian): reads below it are
    /// refused. Its physical part may still be under way (see
    /// [`FINISHED_COMPACT_REVISION`]).
    pub const COMPACT_REVISION: &[u8] = b"compact_revision";
    /// Revision of the last compaction whose old versions are all deleted (u64
    /// big-endian). Below [`COMPACT_REVISION`], the physical part of that one is
    /// still to do, and is resumed at start.
    pub const FINISHED_COMPACT_REVISION: &[u8] = b"finished_compact_revision";
    /// Present only while a physical compaction is under way: its revision (u64
    /// big-endian) followed by the next `kv` key to examine (16 bytes), then, while
    /// its compaction hash is being computed, the compact revision it follows (u64
    /// big-endian) and the CRC so far (u32 big-endian).
    pub const COMPACT_PROGRESS: &[u8] = b"compact_progress";
    /// The hashes of the last compactions whose deletions finished here, oldest
    /// first, 20 bytes each: revision (u64 big-endian), the compact revision it
    /// followed (u64 big-endian), hash (u32 big-endian). See [`crate::mvcc::hash`].
    pub const COMPACT_HASHES: &[u8] = b"compact_hashes";
    /// The raft configuration (voters and learners) as of the applied index,
    /// encoded as raft's `ConfState` protobuf.
    pub const CONF_STATE: &[u8] = b"conf_state";
    /// This member's id, fixed when the member first started (u64 big-endian).
    pub const MEMBER_ID: &[u8] = b"member_id";
    /// The cluster's id, fixed when the cluster was bootstrapped (u64 big-endian).
    pub const CLUSTER_ID: &[u8] = b"cluster_id";
    /// Present only while a received state snapshot is being installed: the path of
    /// its directory (UTF-8), so a member stopped mid-install finishes it on restart.
    pub const INSTALLING: &[u8] = b"installing_snapshot";
    /// Prefix of raised alarms: `alarm/ ++ type(4, big-endian) ++ member id(8,
    /// big-endian)` -> empty.
    pub const ALARM_PREFIX: &[u8] = b"alarm/";
    /// The downgrade target release while a cluster downgrade is enabled
    /// (`3.4.0`, UTF-8); absent otherwise.
    pub const DOWNGRADE: &[u8] = b"downgrade";
}

/// Keys of the `lease` column family.
pub mod lease {
    /// Prefix of lease records: `l ++ id(8, big-endian)` -> `raftcmd.LeaseRecord`.
    pub const RECORD: u8 = b'l';
    /// Prefix of key attachments: `k ++ id(8, big-endian) ++ user key` -> empty.
    pub const ATTACHED: u8 = b'k';

    /// The record key of lease `id`.
    pub fn record_key(id: i64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = RECORD;
        k[1..].copy_from_slice(&id.to_be_bytes());
        k
    }

    /// The prefix of every attachment of lease `id`.
    pub fn attached_prefix(id: i64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = ATTACHED;
        k[1..].copy_from_slice(&id.to_be_bytes());
        k
    }

    /// The attachment key of `key` to lease `id`.
    pub fn attached_key(id: i64, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(9 + key.len());
        k.extend_from_slice(&attached_prefix(id));
        k.extend_from_slice(key);
        k
    }
}

/// Keys of the `v2` column family.
pub mod v2 {
    /// Prefix of nodes: `n ++ path` (`/a/b`, UTF-8) -> `raftcmd.V2Node`. The root
    /// is not stored.
    pub const NODE: u8 = b'n';
    /// Prefix of the v2 auth records: `a ++ path` (etcd's store path, `/2/...`)
    /// -> `raftcmd.V2Node`. They are nodes like the keys, in a tree of their own.
    pub const AUTH_NODE: u8 = b'a';
    /// Prefix of the event history: `e ++ index(8, big-endian)` -> `raftcmd.V2Event`;
    /// the newest 1,000.
    pub const EVENT: u8 = b'e';
    /// The store's index (u64 big-endian).
    pub const INDEX: &[u8] = b"i";
    /// Present once the cluster version has been recorded (etcd counts it in the
    /// index).
    pub const VERSION_SET: &[u8] = b"v";

    /// The record key of the node at `path`.
    pub fn node_key(path: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + path.len());
        k.push(NODE);
        k.extend_from_slice(path.as_bytes());
        k
    }

    /// The record key of the v2 auth record at `path`.
    pub fn auth_node_key(path: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + path.len());
        k.push(AUTH_NODE);
        k.extend_from_slice(path.as_bytes());
        k
    }

    /// The record key of the event at `index`.
    pub fn event_key(index: u64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = EVENT;
        k[1..].copy_from_slice(&index.to_be_bytes());
        k
    }
}

/// Keys of the `auth` column family.
pub mod auth {
    /// Whether auth is enabled: one byte, 1 or 0.
    pub const ENABLED: &[u8] = b"e";
    /// The auth revision (u64 big-endian).
    pub const REVISION: &[u8] = b"r";
    /// Prefix of users: `u ++ name` -> `authpb.User` (password bcrypt-hashed).
    pub const USER: u8 = b'u';
    /// Prefix of roles: `o ++ name` -> `authpb.Role`.
    pub const ROLE: u8 = b'o';

    /// The record key of user `name`.
    pub fn user_key(name: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + name.len());
        k.push(USER);
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The record key of role `name`.
    pub fn role_key(name: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + name.len());
        k.push(ROLE);
        k.extend_from_slice(name.as_bytes());
        k
    }
}
