//! The apply task's logic: turns committed raft entries into state changes. Key-value
//! commands in a row are staged into one RocksDB write batch (each reading through
//! the effects of those before it); any other command is committed on its own.
//! Every batch also records the applied index and term of its last entry, so replay
//! after a crash skips exactly the entries already applied.
//!
//! Apply is deterministic: it reads only the entry and the store, never a clock.

mod access;
mod auth_ops;
pub mod kv;
pub mod lease;
#[cfg(test)]
mod tests;

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
use crate::mvcc::{compaction, Change, Compactor, CompactorSettings, Staged, Store};
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
    /// Key-value commands applied but not yet committed to the engine.
    staged: Staged,
    /// How many entries the stage holds, and the index and term of the last.
    staged_entries: usize,
    staged_applied: (u64, u64),
}

/// Entries staged before the stage is committed regardless: bounds how long the
/// first of them waits for its answer.
const MAX_STAGED_ENTRIES: usize = 128;
/// Bytes staged before the stage is committed regardless.
const MAX_STAGED_BYTES: usize = 4 << 20;

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
            staged: Staged::default(),
            staged_entries: 0,
            staged_applied: (0, 0),
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
        self.commit_staged();
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
    pub fn record_applied(
        &mut self,
        index: u64,
        term: u64,
    ) -> Result<(), crate::engine::EngineError> {
        self.commit_staged();
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
        self.commit_staged();
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

    /// Whether applied commands wait in the stage for [`Applier::commit_staged`].
    pub fn has_staged(&self) -> bool {
        self.staged_entries > 0
    }

    /// Commits the staged commands in one engine write that also records the last
    /// one's applied index and term; readers see their effects from then on.
    pub fn commit_staged(&mut self) {
        let compacted = self.store.compact_rev();
        self.commit_staged_at(compacted);
    }

    fn commit_staged_at(&mut self, compacted: i64) {
        if self.staged_entries == 0 {
            return;
        }
        let (index, term) = self.staged_applied;
        let (mut batch, rev) = self.staged.take();
        self.staged_entries = 0;
        let engine = self.store.engine();
        batch.put_cf(
            engine.cf(Cf::Meta),
            meta::APPLIED_INDEX,
            index.to_be_bytes(),
        );
        batch.put_cf(engine.cf(Cf::Meta), meta::APPLIED_TERM, term.to_be_bytes());
        let rev = rev.unwrap_or_else(|| self.store.current_rev());
        self.store.commit(batch, rev, compacted);
    }

    /// Applies the command of the normal entry at `index`/`term`. A key-value
    /// command may stay staged, unseen by readers, until [`Applier::commit_staged`]
    /// (or a later command) commits it: answer and notify for it only once
    /// [`Applier::has_staged`] is false.
    pub fn apply(&mut self, index: u64, term: u64, data: &[u8]) -> Applied {
        let cmd = Command::decode(data)
            .unwrap_or_else(|err| panic!("undecodable command in committed entry {index}: {err}"));
        let staging = stageable(cmd.op.as_ref());
        if !staging {
            self.commit_staged();
        }
        let store = &self.store;
        let lessor = &*self.lessor;
        let leases = |id: i64| lessor.exists(id);
        let staged = &mut self.staged;
        let mut effect = None;
        let mut compacted = store.compact_rev();
        let mut changes = Vec::new();
        let mut rev = staged.rev(store);
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
        // Commands other than key-value ones are committed on their own: the stage
        // is empty, and its batch takes their writes.
        let outcome = match cmd.op {
            _ if refused.is_some() => Err(refused.expect("checked")),
            Some(Op::Put(req)) => {
                let mut txn = staged.txn(store);
                let res = match who.map(|h| access::put(&auth_state, h, &txn, &req)) {
                    Some(Err(e)) => Err(e),
                    _ => kv::put(&mut txn, &leases, &req).map(Output::Put),
                };
                let done = res.is_ok().then(|| txn.finish_with_writes());
                settle(staged, done, &mut rev, &mut changes);
                res
            }
            Some(Op::DeleteRange(req)) => {
                let mut txn = staged.txn(store);
                let res = match who.map(|h| access::delete_range(&auth_state, h, &req)) {
                    Some(Err(e)) => Err(e),
                    _ => Ok(Output::DeleteRange(kv::delete_range(&mut txn, &req))),
                };
                let done = res.is_ok().then(|| txn.finish_with_writes());
                settle(staged, done, &mut rev, &mut changes);
                res
            }
            Some(Op::Txn(req)) => {
                store.stats().note_txn();
                let mut txn = staged.txn(store);
                let res = match who
                    .map(|h| crate::auth::check_txn(&auth_state, &h.username, h.revision, &req))
                {
                    Some(Err(e)) => Err(e),
                    _ => kv::txn_write(&mut txn, &leases, compacted, &req).map(Output::Txn),
                };
                let done = res.is_ok().then(|| txn.finish_with_writes());
                settle(staged, done, &mut rev, &mut changes);
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
                let batch = staged.batch_mut();
                match membership::get(engine, u.id) {
                    Some(mut m) => {
                        m.peer_urls = u.peer_urls;
                        membership::put(engine, batch, &m);
                        self.v2.bump(engine, batch, &[Counter::Update], false);
                        membership_changed = true;
                        Ok(Output::MemberUpdated)
                    }
                    None => Err(Error::MemberNotFound),
                }
            }
            Some(Op::Publish(p)) => {
                let engine = store.engine();
                let batch = staged.batch_mut();
                if let Some(mut m) = membership::get(engine, p.id) {
                    m.name = p.name;
                    m.client_urls = p.client_urls;
                    membership::put(engine, batch, &m);
                    self.v2.bump(engine, batch, &[Counter::Set], true);
                }
                Ok(Output::Published)
            }
            Some(Op::LeaseGrant(req)) => {
                lease::grant(store, lessor, staged.batch_mut(), &req).map(|(resp, e)| {
                    effect = Some(e);
                    Output::LeaseGrant(resp)
                })
            }
            Some(Op::LeaseRevoke(req)) => {
                let mut txn = staged.txn(store);
                let res = match who.map(|h| access::lease_keys(&auth_state, h, &txn, req.id)) {
                    Some(Err(e)) => Err(e),
                    _ => lease::revoke(&mut txn, lessor, &req),
                };
                let done = res.is_ok().then(|| txn.finish_with_writes());
                settle(staged, done, &mut rev, &mut changes);
                res.map(|(resp, e)| {
                    effect = Some(e);
                    Output::LeaseRevoke(resp)
                })
            }
            Some(Op::LeaseRenew(req)) => {
                let (ttls, e) = lease::renew(store, lessor, staged.batch_mut(), &req);
                effect = Some(e);
                Ok(Output::LeaseRenewed(ttls))
            }
            Some(Op::LeaseCheckpoint(req)) => {
                effect = Some(lease::checkpoint(store, lessor, staged.batch_mut(), &req));
                Ok(Output::LeaseCheckpointed)
            }
            Some(Op::V2(req)) => Ok(Output::V2(self.v2.apply(
                store.engine(),
                staged.batch_mut(),
                &req,
            ))),
            Some(Op::Alarm(req)) => {
                let (resp, e) = self.alarms.apply(store.engine(), staged.batch_mut(), &req);
                alarm_effect = e;
                Ok(Output::Alarm(resp))
            }
            Some(Op::DowngradeInfoSet(req)) => {
                downgrade_effect = Some(self.downgrade.apply(
                    store.engine(),
                    staged.batch_mut(),
                    &req,
                ));
                Ok(Output::DowngradeSet)
            }
            Some(op) if auth_ops::is_auth(&op) => {
                let mut w = crate::auth::state::Writer::new(store.engine(), staged.batch_mut());
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
            // A refused command changes nothing: a transaction that fails leaves
            // nothing staged, and any other command is the only one staged.
            if !staging {
                staged.clear();
            }
            changes.clear();
            effect = None;
            auth_effect = None;
            alarm_effect = None;
            downgrade_effect = None;
            rev = staged.rev(store);
            compacted = store.compact_rev();
        }
        store.stats().note_changes(&changes);
        self.staged_entries += 1;
        self.staged_applied = (index, term);
        let compacting = compacted != self.store.compact_rev();
        if compacting {
            fail::fail_point!("compact_before_commit");
        }
        if !staging
            || self.staged_entries >= MAX_STAGED_ENTRIES
            || self.staged.size_in_bytes() >= MAX_STAGED_BYTES
        {
            self.commit_staged_at(compacted);
        }
        let store = &self.store;
        let lessor = &*self.lessor;
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

/// Whether a command can be staged behind others: a key-value command, unless a
/// txn reads at an explicit revision (which may be one still staged, unknown to
/// the database).
fn stageable(op: Option<&Op>) -> bool {
    fn reads_at_revision(t: &ectd_proto::etcdserverpb::TxnRequest) -> bool {
        use ectd_proto::etcdserverpb::request_op::Request;
        t.success
            .iter()
            .chain(&t.failure)
            .any(|op| match &op.request {
                Some(Request::RequestRange(r)) => r.revision != 0,
                Some(Request::RequestTxn(t)) => reads_at_revision(t),
                _ => false,
            })
    }
    match op {
        Some(Op::Put(_)) | Some(Op::DeleteRange(_)) => true,
        Some(Op::Txn(t)) => !reads_at_revision(t),
        _ => false,
    }
}

/// Stages what a key-value command's transaction wrote, if it succeeded (`done`
/// from [`crate::mvcc::WriteTxn::finish_with_writes`]); a failed one was dropped
/// with everything it wrote.
fn settle(
    staged: &mut Staged,
    done: Option<(i64, Vec<Change>, crate::mvcc::Overlay)>,
    rev: &mut i64,
    changes: &mut Vec<Change>,
) {
    if let Some((r, c, written)) = done {
        *rev = r;
        *changes = c;
        staged.absorb(r, written);
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
