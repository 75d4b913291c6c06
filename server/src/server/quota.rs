//! The backend quota and the alarms as the request path sees them: refusing a
//! write that does not fit, and raising NOSPACE for this member.

use ectd_proto::raftcmd::command::Op;
use tokio::sync::mpsc;

use super::{Refused, Server};
use crate::alarm::Alarms;
use crate::error::Error;

impl Server {
    /// The name of every raised alarm (`NOSPACE`, `CORRUPT`), one per alarm,
    /// as last applied on this member; `/health` and `/readyz` consult it.
    pub fn active_alarms(&self) -> Vec<String> {
        self.alarms
            .get()
            .list(ectd_proto::etcdserverpb::AlarmType::None as i32)
            .iter()
            .map(|m| crate::alarm::alarm_name(m.alarm))
            .collect()
    }

    /// The raised alarms as last applied on this member.
    pub fn alarms(&self) -> Alarms {
        self.alarms.get()
    }

    /// etcd's quota check before a write is proposed: a write costing `cost`
    /// that does not fit in the backend quota raises NOSPACE for this member
    /// (waiting for it to be applied) and is refused with `database space
    /// exceeded`.
    pub async fn check_quota(&self, cost: u64) -> Result<(), Error> {
        if self
            .quota
            .available(self.store.engine().size_bytes_recent(), cost)
        {
            return Ok(());
        }
        tracing::warn!(cost, "request exceeds the backend quota; raising NOSPACE");
        let _ = self.propose(nospace_alarm(self.member_id)).await;
        Err(Error::NoSpace)
    }
}

/// The command that raises NOSPACE for member `id`.
pub(super) fn nospace_alarm(id: u64) -> Op {
    use ectd_proto::etcdserverpb::{alarm_request::AlarmAction, AlarmRequest, AlarmType};
    Op::Alarm(AlarmRequest {
        action: AlarmAction::Activate as i32,
        member_id: id,
        alarm: AlarmType::Nospace as i32,
    })
}

/// Raises NOSPACE for this member when apply refused a command for the quota,
/// then answers whoever waited for that command, as etcd does.
pub(super) async fn raise_nospace(
    server: std::sync::Weak<Server>,
    mut rx: mpsc::Receiver<Refused>,
) {
    while let Some((waiter, outcome)) = rx.recv().await {
        let Some(s) = server.upgrade() else { return };
        if !s
            .alarms
            .get()
            .has(ectd_proto::etcdserverpb::AlarmType::Nospace)
        {
            tracing::warn!("a write exceeded the backend quota when applied; raising NOSPACE");
            if let Err(e) = s.propose(nospace_alarm(s.member_id)).await {
                tracing::warn!(error = %e, "raising NOSPACE failed");
            }
        }
        if let Some(w) = waiter {
            let _ = w.send((outcome, std::time::Instant::now()));
        }
    }
}
