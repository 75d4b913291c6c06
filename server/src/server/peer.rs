//! What the peer service asks of this member: who the members are, for
//! joining members and senders' checks, and hashes of the keyspace, for peers'
//! corruption checks.

use ectd_proto::peer::MembersResponse;

use super::Server;
use crate::error::Error;
use crate::membership;
use crate::raft::{Directory, KvHasher};

/// Answers joining members' membership queries from the applied state.
pub(super) struct MemberDirectory(pub(super) std::sync::Weak<Server>);

impl Directory for MemberDirectory {
    fn members(&self, token: &str) -> Result<MembersResponse, String> {
        let s = self.0.upgrade().ok_or("member is stopping")?;
        if token != s.cluster_token {
            // Neither token is echoed: the refusal must not hand out the secret.
            return Err("cluster token mismatch".into());
        }
        Ok(MembersResponse {
            cluster_id: s.cluster_id,
            members: membership::list(s.store.engine()),
        })
    }

    fn is_removed(&self, id: u64) -> bool {
        self.0
            .upgrade()
            .is_some_and(|s| membership::is_removed(s.store.engine(), id))
    }

    fn is_peer(&self, id: u64) -> bool {
        self.0.upgrade().is_some_and(|s| s.transport.is_peer(id))
    }

    fn serving(&self) -> bool {
        self.0.upgrade().is_some_and(|s| !s.transport.is_stopped())
    }
}

/// Hashes the member's keyspace for peers' corruption checks.
pub(super) struct MemberHasher(pub(super) std::sync::Weak<Server>);

impl KvHasher for MemberHasher {
    fn hash_kv(&self, revision: i64) -> Result<ectd_proto::peer::HashKvResponse, tonic::Status> {
        let s = self
            .0
            .upgrade()
            .ok_or_else(|| tonic::Status::unavailable("the member is stopping"))?;
        let current = s.store.current_rev();
        let (hash, compact_revision, hash_revision) =
            s.store.hash_kv(revision).map_err(Error::from)?;
        Ok(ectd_proto::peer::HashKvResponse {
            member_id: s.member_id,
            hash,
            compact_revision,
            revision: current.max(hash_revision),
            hash_revision,
        })
    }

    fn compaction_hash(&self, revision: i64) -> Option<ectd_proto::peer::HashKvResponse> {
        let s = self.0.upgrade()?;
        let h = s.store.compaction_hash(revision)?;
        Some(ectd_proto::peer::HashKvResponse {
            member_id: s.member_id,
            hash: h.hash,
            compact_revision: h.compact_revision,
            revision: s.store.current_rev(),
            hash_revision: h.revision,
        })
    }
}
