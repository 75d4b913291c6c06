//! etcd's v3 gRPC services.

pub mod auth;
pub mod check;
pub mod cluster;
pub mod downgrade;
pub mod election;
mod grpc_limit;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
mod recipes;
pub mod watch;
mod watch_grpc;
mod watchdog;

use std::sync::Arc;

use ectd_proto::etcdserverpb::auth_server::AuthServer;
use ectd_proto::etcdserverpb::cluster_server::ClusterServer;
use ectd_proto::etcdserverpb::kv_server::KvServer;
use ectd_proto::etcdserverpb::lease_server::LeaseServer;
use ectd_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use ectd_proto::v3electionpb::election_server::ElectionServer;
use ectd_proto::v3lockpb::lock_server::LockServer;
use tonic::service::Routes;

use crate::server::Server;

/// gRPC framing overhead etcd allows on top of `--max-request-bytes`.
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// Every v3 gRPC service of `server` as a router, plus the standard
/// `grpc.health.v1.Health` service, which reports the member `SERVING` while it
/// knows a leader and `NOT_SERVING` otherwise or once it stops. Every call is
/// counted in the `grpc_server_*` metrics.
pub async fn router(server: Arc<Server>) -> axum::Router {
    let grpc_metrics = server.metrics().grpc.clone();
    routes(server)
        .await
        .into_axum_router()
        .layer(axum::middleware::map_response(grpc_limit::rewrite))
        .layer(axum::middleware::from_fn_with_state(
            grpc_metrics,
            crate::metrics::grpc::track,
        ))
}

/// How often the gRPC health status follows the member's leader.
const HEALTH_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Keeps the gRPC health status in step with whether the member has a leader;
/// ends (reporting `NOT_SERVING`) once the member stops.
async fn follow_health(
    server: std::sync::Weak<Server>,
    mut reporter: tonic_health::server::HealthReporter,
) {
    use tonic_health::ServingStatus;
    let mut last = None;
    loop {
        let status = match server.upgrade() {
            Some(s) if s.is_stopped() => None,
            Some(s) if s.raft_status().leader() != 0 => Some(ServingStatus::Serving),
            Some(_) => Some(ServingStatus::NotServing),
            None => None,
        };
        let Some(status) = status else {
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            return;
        };
        if last != Some(status) {
            reporter.set_service_status("", status).await;
            last = Some(status);
        }
        tokio::time::sleep(HEALTH_POLL).await;
    }
}

async fn routes(server: Arc<Server>) -> Routes {
    let max = server.limits().max_request_bytes + GRPC_OVERHEAD_BYTES;
    let (mut health, health_service) = tonic_health::server::health_reporter();
    let serving = if server.raft_status().leader() != 0 {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    health.set_service_status("", serving).await;
    tokio::spawn(follow_health(Arc::downgrade(&server), health));
    Routes::new(
        KvServer::new(kv::KvService::new(server.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(ClusterServer::new(cluster::ClusterService::new(
        server.clone(),
    )))
    .add_service(MaintenanceServer::new(
        maintenance::MaintenanceService::new(server.clone()),
    ))
    .add_service(watch_grpc::WatchServer::new(
        watch::WatchService::new(server.clone()),
        max,
    ))
    .add_service(LeaseServer::new(lease::LeaseService::new(server.clone())))
    .add_service(LockServer::new(lock::LockService::new(server.clone())))
    .add_service(ElectionServer::new(election::ElectionService::new(
        server.clone(),
    )))
    .add_service(AuthServer::new(auth::AuthService::new(server.clone())))
    .add_service(health_service)
}
