//! The apply task's logic: turns committed raft entries into state changes, one
//! RocksDB write batch per entry that also records the applied index and term, so
//! replay after a crash skips exactly the entries already applied.
//!
//! Apply is deterministic: it reads only the entry and the store, never a clock.

mod access;
mod auth_ops;
pub mod kv;
pub mod lease;

use std::sync::Arc;

use ectd_proto::etcdserverpb::{
    AlarmResponse, AlarmType, CompactionResponse, DeleteRangeResponse, LeaseGrantResponse,
    LeaseRevokeResponse, PutResponse, TxnResponse,
};
use ectd_proto::raftcmd::{command::Op, Command};
use prost::Message as _;
use rocksdb::WriteBatch;

use ectd_proto::raftcmd::Member;
use raft::prelude::{ConfChange, ConfChangeType};

use crate::alarm::{quota, AlarmStore, Mode, Quota};
use crate::auth::AuthStore;
use crate::downgrade::DowngradeStore;
use crate::engine::schema::meta;
use crate::engine::Cf;
use crate::error::Error;
use crate::lease::Lessor;
use crate::membership;
use crate::mvcc::{compaction, Change, Compactor, CompactorSettings, Store};
use crate::v2::{Counter, V2Store};

/// The result of applying one command, handed to whoever waits on its request id.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A put's response (header revision set).
    Put(PutResponse),
    /// A delete-range's response.
    DeleteRange(DeleteRangeResponse),
    /// A txn's response.
    Txn(TxnResponse),
    /// A compaction's response.
    Compaction(CompactionResponse),
    /// A member's attributes were recorded.
    Published,
    /// A membership change was applied.
    ConfChanged,
    /// A member's peer URLs were updated.
    MemberUpdated,
    /// A lease was granted.
    LeaseGrant(LeaseGrantResponse),
    /// A lease was revoked (header revision set).
    LeaseRevoke(LeaseRevokeResponse),
    /// Leases were kept alive: each id with its TTL (0 = no such lease).
    LeaseRenewed(Vec<(i64, i64)>),
    /// Remaining TTLs were recorded.
    LeaseCheckpointed,
    /// A v2 store write: its event, or etcd's v2 error.
    V2(Result<crate::v2::Event, crate::v2::V2Error>),
    /// An auth store change was applied (or changed nothing).
    AuthChanged,
    /// An alarm was listed, raised or cleared.
    Alarm(AlarmResponse),
    /// The downgrade state was set.
    DowngradeSet,
    /// A login was recorded: the auth revision and the raft index it was
    /// applied at (a simple token's number).
    Authenticated {
        /// The auth revision at the login.
        revision: u64,
        /// The raft index of the login.
        index: u64,
    },
}

/// What applying a command produced for its waiter.
pub type Outcome = Result<Output, Error>;

/// One applied command: who waits for it and what happened.
pub struct Applied {
    /// The request id the proposer waits on (0 = nobody).
    pub request_id: u64,
    /// The response or etcd error.
    pub outcome: Outcome,
    /// The changes made, in revision order (for watchers).
    pub changes: Vec<Change>,
    /// The store's revision after the command.
    pub revision: i64,
    /// Whether the membership (peer URLs) changed.
    pub membership_changed: bool,
    /// The command was refused for the quota while no NOSPACE alarm is raised:
    /// this member should raise one for itself before answering, as etcd does.
    pub raise_nospace: bool,
}

/// Applies commands to the MVCC store, the leases, the v2 store, the auth
/// store and the alarms.
pub struct Applier {
    store: Arc<Store>,
    lessor: Arc<Lessor>,
    v2: Arc<V2Store>,
    auth: Arc<AuthStore>,
    alarms: Arc<AlarmStore>,
    downgrade: Arc<DowngradeStore>,
    quota: Quota,
    /// Runs the physical part of compactions in the background; without one, it
    /// runs on the apply thread before the compaction's waiter is answered.
    compactor: Option<Arc<Compactor>>,
}

impl Applier {
    /// An applier writing to `store` and keeping `lessor` and `auth` in step.
    pub fn new(
        store: Arc<Store>,
        lessor: Arc<Lessor>,
        v2: Arc<V2Store>,
        auth: Arc<AuthStore>,
    ) -> Applier {
        let alarms = Arc::new(AlarmStore::load(store.engine()));
        let downgrade = Arc::new(DowngradeStore::load(store.engine()));
        Applier {
            store,
            lessor,
            v2,
            auth,
            alarms,
            downgrade,
            quota: Quota::default(),
            compactor: None,
        }
    }

    /// Holds puts, txns with puts and lease grants to `quota` (etcd's default
    /// quota otherwise).
    pub fn with_quota(mut self, quota: Quota) -> Applier {
        self.quota = quota;
        self
    }

    /// The alarms this applier keeps.
    pub fn alarms(&self) -> &Arc<AlarmStore> {
        &self.alarms
    }

    /// The downgrade state this applier keeps.
    pub fn downgrade(&self) -> &Arc<DowngradeStore> {
        &self.downgrade
    }

    /// Hands the physical part of compactions to `compactor`.
    pub fn with_compactor(mut self, compactor: Arc<Compactor>) -> Applier {
        self.compactor = Some(compactor);
        self
    }

    /// The term of the applied entry recorded in the store (0 for a new store).
    pub fn persisted_applied_term(&self) -> u64 {
        self.store
            .engine()
            .get(Cf::Meta, meta::APPLIED_TERM)
            .unwrap_or_else(|err| panic!("reading the applied term: {err}"))
            .map(|v| u64::from_be_bytes(v.as_slice().try_into().expect("u64 applied term")))
            .unwrap_or(0)
    }

    /// The applied index recorded in the store (0 for a new store).
    pub fn persisted_applied_index(&self) -> u64 {
        self.store
            .engine()
            .get(Cf::Meta, meta::APPLIED_INDEX)
            .unwrap_or_else(|err| panic!("reading the applied index: {err}"))
            .map(|v| u64::from_be_bytes(v.as_slice().try_into().expect("u64 applied index")))
            .unwrap_or(0)
    }

    /// Replaces the whole state with the snapshot in `dir`.
    pub fn install_snapshot(&mut self, dir: &std::path::Path) -> Result<(), String> {
        // The compactor stays off the database while its state is replaced, then
        // takes up the compaction the snapshot records as unfinished.
        let hold = self.compactor.as_ref().map(|c| c.hold());
        crate::snapshot::install(self.store.engine(), dir)?;
        self.store.reload();
        match &hold {
            Some(h) => h.reload(),
            None => {
                if let Some(rev) = compaction::pending(self.store.engine()) {
                    self.store
                        .compact_physically(rev, CompactorSettings::default().batch_limit);
                }
            }
        }
        drop(hold);
        self.lessor.reload(self.store.engine());
        self.v2.reload(self.store.engine());
        self.auth.reload(self.store.engine());
        self.alarms.reload(self.store.engine());
        self.downgrade.reload(self.store.engine());
        Ok(())
    }

    /// The keyspace's current revision.
    pub fn current_rev(&self) -> i64 {
        self.store.current_rev()
    }

    /// Every member, as applied so far.
    pub fn members(&self) -> Vec<Member> {
        membership::list(self.store.engine())
    }

    /// Records that everything up to `index` (of `term`) is applied — entries without
    /// a command change nothing but still count. Not durable by itself: a later
    /// [`Engine::flush`](crate::engine::Engine::flush) makes it so, without the raft WAL.
    pub fn record_applied(&self, index: u64, term: u64) -> Result<(), crate::engine::EngineError> {
        let engine = self.store.engine();
        let mut batch = WriteBatch::default();
        batch.put_cf(
            engine.cf(Cf::Meta),
            meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        batch.put_cf(engine.cf(Cf::Meta), meta::APPLIED_TERM, term.to_be_bytes());
        engine.write(batch)
    }

    /// The storage engine, for flushing it off the apply thread.
    pub fn engine(&self) -> crate::engine::Engine {
        self.store.engine().clone()
    }

    /// Applies a raft membership change: records the member (from the change's
    /// context) or its removal, and the raft configuration that results.
    pub fn apply_conf_change(&mut self, index: u64, term: u64, cc: &ConfChange) {
        let engine = self.store.engine();
        let mut batch = WriteBatch::default();
        let mut members = membership::list(engine);
        match cc.get_change_type() {
            ConfChangeType::AddNode | ConfChangeType::AddLearnerNode => {
                let old = members.iter().position(|m| m.id == cc.node_id);
                let mut m = match Member::decode(cc.context.as_ref()) {
                    Ok(m) if m.id == cc.node_id => m,
                    _ => Member {
                        id: cc.node_id,
                        ..Default::default()
                    },
                };
                if let Some(i) = old {
                    // A promotion or re-add keeps what the member published.
                    let prev = members.remove(i);
                    if m.client_urls.is_empty() {
                        m.client_urls = prev.client_urls;
                    }
                    if m.name.is_empty() {
                        m.name = prev.name;
                    }
                    if m.peer_urls.is_empty() {
                        m.peer_urls = prev.peer_urls;
                    }
                }
                m.is_learner = cc.get_change_type() == ConfChangeType::AddLearnerNode;
                membership::put(engine, &mut batch, &m);
                // etcd writes the member's raft attributes into the v2 store: a
                // new record for an added member, an update for a promotion.
                let kind = if old.is_some() {
                    Counter::Update
                } else {
                    Counter::Create
                };
                self.v2.bump(engine, &mut batch, &[kind], false);
                members.push(m);
            }
            ConfChangeType::RemoveNode => {
                membership::remove(engine, &mut batch, cc.node_id);
                members.retain(|m| m.id != cc.node_id);
                // etcd deletes the member's v2 records and records the removal.
                self.v2.bump(
                    engine,
                    &mut batch,
                    &[Counter::Delete, Counter::Create],
                    false,
                );
            }
        }
        membership::put_conf_state(engine, &mut batch, &members);
        batch.put_cf(
            engine.cf(Cf::Meta),
            meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        batch.put_cf(engine.cf(Cf::Meta), meta::APPLIED_TERM, term.to_be_bytes());
        engine
            .write(batch)
            .unwrap_or_else(|e| panic!("recording conf change at index {index}: {e}"));
    }

    /// Applies the command of the normal entry at `index`/`term`.
    pub fn apply(&mut self, index: u64, term: u64, data: &[u8]) -> Applied {
        let cmd = Command::decode(data)
            .unwrap_or_else(|err| panic!("undecodable command in committed entry {index}: {err}"));
        let store = &self.store;
        let lessor = &*self.lessor;
        let leases = |id: i64| lessor.exists(id);
        let mut effect = None;
        let mut batch = WriteBatch::default();
        let mut compacted = store.compact_rev();
        let mut changes = Vec::new();
        let mut rev = store.current_rev();
        let mut membership_changed = false;
        let auth_state = self.auth.state();
        // Client commands carry who sent them; a member's own commands do not
        // and are not checked.
        let who = cmd.auth.as_ref().filter(|_| auth_state.enabled());
        let mut auth_effect = None;
        let mut alarm_effect = None;
        let mut downgrade_effect = None;
        let mode = self.alarms.get().mode();
        // etcd's quota applier: a write that does not fit is still applied, but
        // answered with `database space exceeded`.
        let cost = match &cmd.op {
            Some(Op::Put(req)) => quota::put_cost(req),
            Some(Op::Txn(req)) => quota::txn_cost(req),
            Some(Op::LeaseGrant(_)) => quota::LEASE_COST,
            _ => 0,
        };
        let over_quota = mode == Mode::Normal
            && cost > 0
            && self.quota.enabled()
            && !self
                .quota
                .available(store.engine().size_bytes_recent(), cost);
        let refused = refusal(mode, cmd.op.as_ref(), cost);
        let outcome = match cmd.op {
            _ if refused.is_some() => Err(refused.expect("checked")),
            Some(Op::Put(req)) => {
                let mut txn = store.write_txn(&mut batch);
                let res = match who.map(|h| access::put(&auth_state, h, &txn, &req)) {
                    Some(Err(e)) => Err(e),
                    _ => kv::put(&mut txn, &leases, &req).map(Output::Put),
                };
                (rev, changes) = txn.finish();
                res
            }
            Some(Op::DeleteRange(req)) => {
                let mut txn = store.write_txn(&mut batch);
                let res = match who.map(|h| access::delete_range(&auth_state, h, &req)) {
                    Some(Err(e)) => Err(e),
                    _ => Ok(Output::DeleteRange(kv::delete_range(&mut txn, &req))),
                };
                (rev, changes) = txn.finish();
                res
            }
            Some(Op::Txn(req)) => {
                store.stats().note_txn();
                let mut txn = store.write_txn(&mut batch);
                let res = match who
                    .map(|h| crate::auth::check_txn(&auth_state, &h.username, h.revision, &req))
                {
                    Some(Err(e)) => Err(e),
                    _ => kv::txn_write(&mut txn, &leases, compacted, &req).map(Output::Txn),
                };
                (rev, changes) = txn.finish();
                res
            }
            Some(Op::Compaction(_))
                if who.is_some_and(|h| auth_state.check_admin(&h.username).is_err()) =>
            {
                Err(auth_state
                    .check_admin(&who.expect("checked").username)
                    .unwrap_err())
            }
            Some(Op::Compaction(req)) => match store.check_compact(req.revision) {
                Ok(()) => {
                    // Only the compact revision moves here: the old versions are
                    // deleted once the batch is committed (see `mvcc::compaction`).
                    compacted = req.revision;
                    Ok(Output::Compaction(CompactionResponse {
                        header: kv::rev_header(rev),
                    }))
                }
                Err(e) => Err(e.into()),
            },
            Some(Op::UpdateMember(u)) => {
                let engine = store.engine();
                match membership::get(engine, u.id) {
                    Some(mut m) => {
                        m.peer_urls = u.peer_urls;
                        membership::put(engine, &mut batch, &m);
                        self.v2.bump(engine, &mut batch, &[Counter::Update], false);
                        membership_changed = true;
                        Ok(Output::MemberUpdated)
                    }
                    None => Err(Error::MemberNotFound),
                }
            }
            Some(Op::Publish(p)) => {
                let engine = store.engine();
                if let Some(mut m) = membership::get(engine, p.id) {
                    m.name = p.name;
                    m.client_urls = p.client_urls;
                    membership::put(engine, &mut batch, &m);
                    self.v2.bump(engine, &mut batch, &[Counter::Set], true);
                }
                Ok(Output::Published)
            }
            Some(Op::LeaseGrant(req)) => {
                lease::grant(store, lessor, &mut batch, &req).map(|(resp, e)| {
                    effect = Some(e);
                    Output::LeaseGrant(resp)
                })
            }
            Some(Op::LeaseRevoke(req)) => {
                let mut txn = store.write_txn(&mut batch);
                let res = match who.map(|h| access::lease_keys(&auth_state, h, &txn, req.id)) {
                    Some(Err(e)) => Err(e),
                    _ => lease::revoke(&mut txn, lessor, &req),
                };
                (rev, changes) = txn.finish();
                res.map(|(resp, e)| {
                    effect = Some(e);
                    Output::LeaseRevoke(resp)
                })
            }
            Some(Op::LeaseRenew(req)) => {
                let (ttls, e) = lease::renew(store, lessor, &mut batch, &req);
                effect = Some(e);
                Ok(Output::LeaseRenewed(ttls))
            }
            Some(Op::LeaseCheckpoint(req)) => {
                effect = Some(lease::checkpoint(store, lessor, &mut batch, &req));
                Ok(Output::LeaseCheckpointed)
            }
            Some(Op::V2(req)) => Ok(Output::V2(self.v2.apply(store.engine(), &mut batch, &req))),
            Some(Op::Alarm(req)) => {
                let (resp, e) = self.alarms.apply(store.engine(), &mut batch, &req);
                alarm_effect = e;
                Ok(Output::Alarm(resp))
            }
            Some(Op::DowngradeInfoSet(req)) => {
                downgrade_effect = Some(self.downgrade.apply(store.engine(), &mut batch, &req));
                Ok(Output::DowngradeSet)
            }
            Some(op) if auth_ops::is_auth(&op) => {
                let mut w = crate::auth::state::Writer::new(store.engine(), &mut batch);
                auth_ops::apply(&auth_state, cmd.auth.as_ref(), op, index, &mut w).map(
                    |(out, effect)| {
                        auth_effect = Some(effect);
                        out
                    },
                )
            }
            Some(_) => unreachable!("every command kind is matched above"),
            None => panic!("committed entry {index} holds a command with no operation"),
        };
        if outcome.is_err() {
            // A refused command changes nothing: drop whatever it staged.
            batch.clear();
            changes.clear();
            effect = None;
            auth_effect = None;
            alarm_effect = None;
            downgrade_effect = None;
            rev = store.current_rev();
            compacted = store.compact_rev();
        }
        let engine = store.engine();
        batch.put_cf(
            engine.cf(Cf::Meta),
            meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        batch.put_cf(engine.cf(Cf::Meta), meta::APPLIED_TERM, term.to_be_bytes());
        let compacting = compacted != store.compact_rev();
        if compacting {
            fail::fail_point!("compact_before_commit");
        }
        store.commit(batch, rev, compacted);
        store.stats().note_changes(&changes);
        if compacting {
            fail::fail_point!("compact_after_commit");
            tracing::info!(revision = compacted, "compaction recorded");
            match &self.compactor {
                Some(c) => c.schedule(compacted),
                None => {
                    store.compact_physically(compacted, CompactorSettings::default().batch_limit);
                }
            }
        }
        if let Some(e) = effect {
            e.apply_to(lessor);
        }
        if let Some(e) = auth_effect {
            e.apply_to(&self.auth);
        }
        if let Some(e) = alarm_effect {
            e.apply_to(&self.alarms);
        }
        if let Some(e) = downgrade_effect {
            e.apply_to(&self.downgrade);
        }
        let outcome = match outcome {
            Ok(_) if over_quota => Err(Error::NoSpace),
            other => other,
        };
        let raise_nospace =
            outcome == Err(Error::NoSpace) && !self.alarms.get().has(AlarmType::Nospace);
        Applied {
            request_id: cmd.request_id,
            outcome,
            changes,
            revision: rev,
            membership_changed,
            raise_nospace,
        }
    }
}

/// What a raised alarm makes apply refuse, as etcd's capped and corrupt appliers
/// do; `cost` is what the command would be charged against the quota.
fn refusal(mode: Mode, op: Option<&Op>, cost: u64) -> Option<Error> {
    match (mode, op?) {
        (Mode::Corrupt, Op::Put(_))
        | (Mode::Corrupt, Op::DeleteRange(_))
        | (Mode::Corrupt, Op::Txn(_))
        | (Mode::Corrupt, Op::Compaction(_))
        | (Mode::Corrupt, Op::LeaseGrant(_))
        | (Mode::Corrupt, Op::LeaseRevoke(_)) => Some(Error::Corrupt),
        (Mode::Capped, Op::Put(_)) | (Mode::Capped, Op::LeaseGrant(_)) => Some(Error::NoSpace),
        (Mode::Capped, Op::Txn(_)) if cost > 0 => Some(Error::NoSpace),
        _ => None,
    }
}
