//! Alarms: NOSPACE (a member's backend passed its quota) and CORRUPT (members'
//! keyspace hashes disagree), as etcd keeps them.
//!
//! The set of raised alarms is replicated state: every change is a raft command
//! (`raftcmd.Command.alarm`), applied on every member and written in the `meta`
//! column family in the same batch as the applied index, so it survives restarts
//! and travels in state snapshots. While an alarm is raised, apply refuses what
//! etcd's alarm appliers refuse (see [`Mode`]); listing goes through the log too,
//! as in etcd.

pub mod quota;

use std::collections::BTreeSet;
use std::sync::RwLock;

use ectd_proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmMember, AlarmRequest, AlarmResponse, AlarmType,
};
use rocksdb::WriteBatch;

use crate::engine::schema::meta;
use crate::engine::{Cf, Engine};

pub use quota::Quota;

/// Which requests apply refuses because of a raised alarm. etcd swaps its applier
/// when the first alarm of a kind is raised and back to the normal one when the
/// last alarm of the kind being cleared goes (even if an alarm of the other kind
/// is still raised); after a restart it picks the applier from the alarms raised.
/// ectd follows the same transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing is refused for an alarm; writes are held to the quota.
    Normal,
    /// NOSPACE: puts, txns with puts and lease grants are refused with
    /// `database space exceeded`.
    Capped,
    /// CORRUPT: puts, deletes, txns that go through the log, compactions, lease
    /// grants and revokes are refused with `corrupt cluster`.
    Corrupt,
}

/// The raised alarms and the mode they put apply in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarms {
    /// `(alarm type, member id)` of every raised alarm.
    raised: BTreeSet<(i32, u64)>,
    mode: Mode,
}

impl Alarms {
    /// The alarms of type `alarm`, or every alarm for `NONE`, ordered by type and
    /// member.
    pub fn list(&self, alarm: i32) -> Vec<AlarmMember> {
        self.raised
            .iter()
            .filter(|(t, _)| alarm == AlarmType::None as i32 || *t == alarm)
            .map(|&(t, id)| AlarmMember {
                member_id: id,
                alarm: t,
            })
            .collect()
    }

    /// The mode apply is in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether any alarm of type `alarm` is raised.
    pub fn has(&self, alarm: AlarmType) -> bool {
        !self.list(alarm as i32).is_empty()
    }

    fn restored(raised: BTreeSet<(i32, u64)>) -> Alarms {
        let any = |t: AlarmType| raised.iter().any(|(k, _)| *k == t as i32);
        let mode = if any(AlarmType::Corrupt) {
            Mode::Corrupt
        } else if any(AlarmType::Nospace) {
            Mode::Capped
        } else {
            Mode::Normal
        };
        Alarms { raised, mode }
    }
}

/// The member's view of the raised alarms, as last applied.
pub struct AlarmStore {
    state: RwLock<Alarms>,
}

/// What applying an alarm command changes, staged until its batch is written.
pub struct Effect(Alarms);

impl Effect {
    /// Makes the change visible once the batch holding it is written.
    pub fn apply_to(self, store: &AlarmStore) {
        *store.state.write().expect("alarm lock") = self.0;
    }
}

/// The `meta` key of a raised alarm.
fn key(alarm: i32, member: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(meta::ALARM_PREFIX.len() + 12);
    k.extend_from_slice(meta::ALARM_PREFIX);
    k.extend_from_slice(&(alarm as u32).to_be_bytes());
    k.extend_from_slice(&member.to_be_bytes());
    k
}

fn read(engine: &Engine) -> BTreeSet<(i32, u64)> {
    let mut raised = BTreeSet::new();
    let mut it = engine.db().raw_iterator_cf(engine.cf(Cf::Meta));
    it.seek(meta::ALARM_PREFIX);
    while it.valid() {
        let k = it.key().expect("valid iterator has a key");
        let Some(rest) = k.strip_prefix(meta::ALARM_PREFIX) else {
            break;
        };
        let (t, id) = rest.split_at_checked(4).unwrap_or_else(|| {
            panic!("alarm record with a malformed key: {k:?}");
        });
        let t = u32::from_be_bytes(t.try_into().expect("4 bytes")) as i32;
        let id = u64::from_be_bytes(
            id.try_into()
                .unwrap_or_else(|_| panic!("alarm record with a malformed key: {k:?}")),
        );
        raised.insert((t, id));
        it.next();
    }
    raised
}

impl AlarmStore {
    /// The alarms recorded in `engine`.
    pub fn load(engine: &Engine) -> AlarmStore {
        AlarmStore {
            state: RwLock::new(Alarms::restored(read(engine))),
        }
    }

    /// Reads the alarms again, after a state snapshot replaced the state.
    pub fn reload(&self, engine: &Engine) {
        *self.state.write().expect("alarm lock") = Alarms::restored(read(engine));
    }

    /// The alarms as last applied.
    pub fn get(&self) -> Alarms {
        self.state.read().expect("alarm lock").clone()
    }

    /// Applies an alarm command as etcd does: GET lists, ACTIVATE raises (an
    /// alarm already raised is answered as it is), DEACTIVATE clears (an alarm
    /// not raised is answered with no alarms). Alarm responses carry no header, as
    /// in etcd 3.4; an unknown action answers an empty response.
    pub fn apply(
        &self,
        engine: &Engine,
        batch: &mut WriteBatch,
        req: &AlarmRequest,
    ) -> (AlarmResponse, Option<Effect>) {
        let mut next = self.get();
        let old_count = next.list(req.alarm).len();
        let mut resp = AlarmResponse::default();
        let member = (req.alarm, req.member_id);
        match AlarmAction::try_from(req.action) {
            Ok(AlarmAction::Get) => resp.alarms = next.list(req.alarm),
            Ok(AlarmAction::Activate) => {
                resp.alarms.push(AlarmMember {
                    member_id: req.member_id,
                    alarm: req.alarm,
                });
                if !next.raised.insert(member) {
                    return (resp, None);
                }
                batch.put_cf(engine.cf(Cf::Meta), key(member.0, member.1), []);
                let first = old_count == 0 && next.list(req.alarm).len() == 1;
                if first {
                    tracing::warn!(
                        alarm = alarm_name(req.alarm),
                        from = format!("{:x}", req.member_id),
                        "alarm raised"
                    );
                    match AlarmType::try_from(req.alarm) {
                        Ok(AlarmType::Corrupt) => next.mode = Mode::Corrupt,
                        Ok(AlarmType::Nospace) => next.mode = Mode::Capped,
                        _ => {}
                    }
                }
            }
            Ok(AlarmAction::Deactivate) => {
                if !next.raised.remove(&member) {
                    return (resp, None);
                }
                batch.delete_cf(engine.cf(Cf::Meta), key(member.0, member.1));
                resp.alarms.push(AlarmMember {
                    member_id: req.member_id,
                    alarm: req.alarm,
                });
                let last = old_count > 0 && next.list(req.alarm).is_empty();
                let kind = AlarmType::try_from(req.alarm);
                if last && matches!(kind, Ok(AlarmType::Nospace | AlarmType::Corrupt)) {
                    tracing::warn!(
                        alarm = alarm_name(req.alarm),
                        from = format!("{:x}", req.member_id),
                        "alarm disarmed"
                    );
                    next.mode = Mode::Normal;
                }
            }
            Err(_) => return (resp, None),
        }
        (resp, Some(Effect(next)))
    }
}

/// An alarm type's name as etcd prints it (its number when it has none).
pub fn alarm_name(alarm: i32) -> String {
    match AlarmType::try_from(alarm) {
        Ok(t) => t.as_str_name().to_string(),
        Err(_) => alarm.to_string(),
    }
}

/// An alarm as etcd's Status lists it in `errors`: the alarm member in protobuf
/// compact text (`memberID:<id> alarm:<name> `, fields at zero left out).
pub fn status_text(m: &AlarmMember) -> String {
    let mut s = String::new();
    if m.member_id != 0 {
        s.push_str(&format!("memberID:{} ", m.member_id));
    }
    if m.alarm != 0 {
        s.push_str(&format!("alarm:{} ", alarm_name(m.alarm)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(action: AlarmAction, member_id: u64, alarm: AlarmType) -> AlarmRequest {
        AlarmRequest {
            action: action as i32,
            member_id,
            alarm: alarm as i32,
        }
    }

    fn run(store: &AlarmStore, engine: &Engine, r: AlarmRequest) -> AlarmResponse {
        let mut batch = WriteBatch::default();
        let (resp, effect) = store.apply(engine, &mut batch, &r);
        engine.write(batch).unwrap();
        if let Some(e) = effect {
            e.apply_to(store);
        }
        resp
    }

    #[test]
    fn raise_list_clear_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        let store = AlarmStore::load(&engine);
        assert_eq!(store.get().mode(), Mode::Normal);
        let r = run(
            &store,
            &engine,
            req(AlarmAction::Activate, 7, AlarmType::Nospace),
        );
        assert_eq!(r.alarms.len(), 1);
        assert_eq!(store.get().mode(), Mode::Capped);
        run(
            &store,
            &engine,
            req(AlarmAction::Activate, 0, AlarmType::Corrupt),
        );
        assert_eq!(store.get().mode(), Mode::Corrupt);
        let all = run(&store, &engine, req(AlarmAction::Get, 0, AlarmType::None));
        assert_eq!(all.alarms.len(), 2);
        // A restart picks the mode from what is raised.
        let again = AlarmStore::load(&engine);
        assert_eq!(again.get(), store.get());
        // Clearing the last NOSPACE returns to normal, as etcd does, even with
        // CORRUPT still raised.
        let r = run(
            &store,
            &engine,
            req(AlarmAction::Deactivate, 7, AlarmType::Nospace),
        );
        assert_eq!(r.alarms.len(), 1);
        assert_eq!(store.get().mode(), Mode::Normal);
        let r = run(
            &store,
            &engine,
            req(AlarmAction::Deactivate, 7, AlarmType::Nospace),
        );
        assert!(r.alarms.is_empty(), "nothing to clear");
        assert_eq!(AlarmStore::load(&engine).get().mode(), Mode::Corrupt);
    }

    #[test]
    fn alarms_travel_in_state_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let leader = Engine::open(&dir.path().join("leader")).unwrap();
        let mut batch = WriteBatch::default();
        batch.put_cf(leader.cf(Cf::Meta), meta::APPLIED_INDEX, 9u64.to_be_bytes());
        batch.put_cf(leader.cf(Cf::Meta), meta::APPLIED_TERM, 2u64.to_be_bytes());
        leader.write(batch).unwrap();
        let store = AlarmStore::load(&leader);
        run(
            &store,
            &leader,
            req(AlarmAction::Activate, 3, AlarmType::Nospace),
        );
        let snap = dir.path().join("snap");
        crate::snapshot::export(&leader, &snap).unwrap();
        let follower = Engine::open(&dir.path().join("follower")).unwrap();
        let theirs = AlarmStore::load(&follower);
        assert_eq!(theirs.get().mode(), Mode::Normal);
        crate::snapshot::install(&follower, &snap).unwrap();
        theirs.reload(&follower);
        assert_eq!(theirs.get(), store.get());
        assert_eq!(theirs.get().mode(), Mode::Capped);
    }

    #[test]
    fn status_text_is_compact_text() {
        let m = AlarmMember {
            member_id: 42,
            alarm: AlarmType::Nospace as i32,
        };
        assert_eq!(status_text(&m), "memberID:42 alarm:NOSPACE ");
        let m = AlarmMember {
            member_id: 0,
            alarm: AlarmType::Corrupt as i32,
        };
        assert_eq!(status_text(&m), "alarm:CORRUPT ");
    }
}
