//! `etcdserverpb.Maintenance`: status, hashes, defragmentation, alarms and
//! leadership transfer.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::maintenance_server::Maintenance;
use ectd_proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmRequest, AlarmResponse, DefragmentRequest, DefragmentResponse,
    DowngradeInfo, DowngradeRequest, DowngradeResponse, HashKvRequest, HashKvResponse, HashRequest,
    HashResponse, MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse,
    StatusRequest, StatusResponse,
};
use futures::Stream;
use tonic::{Request, Response, Status};

use ectd_proto::etcdserverpb::AlarmType;
use ectd_proto::raftcmd::command::Op;

use super::downgrade::MinorVersion;
use crate::apply::Output;
use crate::error::Error;
use crate::raft::Request as RaftRequest;
use crate::server::Server;

/// The Maintenance service of one member.
pub struct MaintenanceService {
    server: Arc<Server>,
}

impl MaintenanceService {
    /// A Maintenance service backed by `server`.
    pub fn new(server: Arc<Server>) -> MaintenanceService {
        MaintenanceService { server }
    }

    /// Refuses anyone but an administrator while auth is on, with the auth
    /// store's own message and code `Unknown`, as etcd's maintenance service
    /// does.
    async fn admin<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let refused = |e: Error| Status::unknown(e.auth_text());
        let id = self.server.identity(req).await.map_err(refused)?;
        self.server.auth().check_admin(&id).map_err(refused)?;
        Ok(())
    }
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, req: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        super::kv::reject_learner(&self.server)?;
        super::kv::require_leader(&self.server, &req)?;
        // Anyone may list alarms (health checks do); raising or clearing one is
        // for administrators.
        let id = if req.get_ref().action != AlarmAction::Get as i32 {
            self.admin(&req).await?;
            self.server.identity(&req).await?
        } else {
            self.server
                .identity(&req)
                .await
                .map_err(|e| Status::unknown(e.auth_text()))?
        };
        // Every action goes through the log, as in etcd 3.4, so a listing is
        // as current as the cluster's commit index.
        match self
            .server
            .propose_as(Op::Alarm(req.into_inner()), &id)
            .await?
        {
            // etcd 3.4 answers alarm requests without a header, 3.5 and later
            // with one.
            Output::Alarm(mut resp) => {
                let release = MinorVersion::of_reported(self.server.etcd_version());
                if release >= (MinorVersion { major: 3, minor: 5 }) {
                    resp.header = Some(self.server.header(0));
                }
                Ok(Response::new(resp))
            }
            o => panic!("apply answered an alarm request with {o:?}"),
        }
    }

    async fn status(
        &self,
        _req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let s = &self.server;
        let raft = s.raft_status();
        let engine = s.store().engine();
        let size = engine.size_bytes() as i64;
        let size_in_use = engine.size_in_use_bytes() as i64;
        let release = MinorVersion::of_reported(s.etcd_version());
        // etcd 3.6 adds the storage version, the quota and the downgrade state.
        let since_3_6 = release >= MinorVersion { major: 3, minor: 6 };
        let (storage_version, db_size_quota, downgrade_info) = if since_3_6 {
            (
                format!("{}.{}.0", release.major, release.minor),
                s.quota().limit().map_or(-1, |b| b as i64),
                Some(
                    s.downgrade_target()
                        .map_or_else(DowngradeInfo::default, |target| DowngradeInfo {
                            enabled: true,
                            target_version: target,
                        }),
                ),
            )
        } else {
            (String::new(), 0, None)
        };
        Ok(Response::new(StatusResponse {
            header: Some(s.header(0)),
            version: s.etcd_version().to_string(),
            db_size: size,
            leader: raft.leader(),
            raft_index: raft.commit(),
            raft_term: raft.term(),
            raft_applied_index: s.applied_index(),
            errors: status_errors(s, raft.leader()),
            db_size_in_use: size_in_use,
            is_learner: s.is_learner(),
            storage_version,
            db_size_quota,
            downgrade_info,
        }))
    }

    async fn defragment(
        &self,
        req: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        self.admin(&req).await?;
        // RocksDB compacts online: reads and writes go on while it runs.
        let server = self.server.clone();
        tokio::task::spawn_blocking(move || server.store().engine().compact_all())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(e.to_string()))?;
        // etcd 3.4 answers a defragment without a header.
        Ok(Response::new(DefragmentResponse { header: None }))
    }

    async fn hash(&self, req: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        self.admin(&req).await?;
        let server = self.server.clone();
        let hash = tokio::task::spawn_blocking(move || server.store().hash_all())
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(HashResponse {
            header: Some(self.server.header(0)),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        self.admin(&req).await?;
        let rev = req.into_inner().revision;
        let server = self.server.clone();
        let (hash, compacted, hashed) =
            tokio::task::spawn_blocking(move || server.store().hash_kv(rev))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(Error::from)?;
        // etcd reports -1 until the first compaction.
        let compact_revision = if compacted == 0 { -1 } else { compacted };
        let release = MinorVersion::of_reported(self.server.etcd_version());
        let hash_revision = if release < (MinorVersion { major: 3, minor: 5 }) {
            // etcd 3.4 refuses the compaction revision itself, and has no
            // hash revision.
            if rev > 0 && rev == compacted {
                return Err(Error::Compacted.into());
            }
            0
        } else if rev < 0 {
            // Later releases echo a negative request back.
            rev
        } else {
            hashed
        };
        Ok(Response::new(HashKvResponse {
            header: Some(self.server.header(0)),
            hash,
            compact_revision,
            hash_revision,
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        req: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotStream>, Status> {
        self.admin(&req).await?;
        let rx = crate::backup::download::start(&self.server).await?;
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn move_leader(
        &self,
        req: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        self.admin(&req).await?;
        let target = req.into_inner().target_id;
        let s = &self.server;
        if s.raft_status().leader() != s.member_id() {
            return Err(Error::NotLeader.into());
        }
        if !s.members().iter().any(|m| m.id == target && !m.is_learner) {
            return Err(Error::BadLeaderTransferee.into());
        }
        s.raft_request(RaftRequest::TransferLeader(target))?;
        let deadline = Instant::now() + s.limits().request_timeout;
        while s.raft_status().leader() != target {
            if Instant::now() > deadline {
                return Err(Error::LeaderTransferTimeout.into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // etcd 3.4 answers a leadership transfer without a header.
        Ok(Response::new(MoveLeaderResponse { header: None }))
    }

    async fn downgrade(
        &self,
        req: Request<DowngradeRequest>,
    ) -> Result<Response<DowngradeResponse>, Status> {
        let version = self.server.etcd_version();
        if !super::downgrade::available(version) {
            // What a gRPC server without the method answers, as etcd 3.4 is.
            return Err(Status::unimplemented(
                "unknown method Downgrade for service etcdserverpb.Maintenance",
            ));
        }
        if super::downgrade::admin_only(version) {
            // Refused with etcd's gRPC errors, not the auth store's text.
            let id = self.server.identity(&req).await?;
            self.server.auth().check_admin(&id)?;
        }
        let resp = super::downgrade::answer(&self.server, req.into_inner()).await?;
        Ok(Response::new(resp))
    }
}

/// `Status.errors` as etcd fills it: `no leader` while the member knows none,
/// then every raised alarm in protobuf compact text.
fn status_errors(s: &Server, leader: u64) -> Vec<String> {
    let mut errors = Vec::new();
    if leader == 0 {
        errors.push(Error::NoLeader.to_string());
    }
    let alarms = s.alarms().list(AlarmType::None as i32);
    errors.extend(alarms.iter().map(crate::alarm::status_text));
    errors
}
