//! etcd's v3 gRPC services. Services not listed here answer `Unimplemented`.

pub mod check;
pub mod cluster;
pub mod election;
mod grpc_limit;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
mod recipes;
pub mod watch;
mod watchdog;

use std::sync::Arc;

use ectd_proto::etcdserverpb::cluster_server::ClusterServer;
use ectd_proto::etcdserverpb::kv_server::KvServer;
use ectd_proto::etcdserverpb::lease_server::LeaseServer;
use ectd_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use ectd_proto::etcdserverpb::watch_server::WatchServer;
use ectd_proto::v3electionpb::election_server::ElectionServer;
use ectd_proto::v3lockpb::lock_server::LockServer;
use tonic::service::Routes;

use crate::server::Server;

/// gRPC framing overhead etcd allows on top of `--max-request-bytes`.
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// Every v3 gRPC service of `server` as a router, plus the standard
/// `grpc.health.v1.Health` service reporting the member as serving.
pub async fn router(server: Arc<Server>) -> axum::Router {
    routes(server)
        .await
        .into_axum_router()
        .layer(axum::middleware::map_response(grpc_limit::rewrite))
}

async fn routes(server: Arc<Server>) -> Routes {
    let max = server.limits().max_request_bytes + GRPC_OVERHEAD_BYTES;
    let (mut health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
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
    .add_service(
        WatchServer::new(watch::WatchService::new(server.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(LeaseServer::new(lease::LeaseService::new(server.clone())))
    .add_service(LockServer::new(lock::LockService::new(server.clone())))
    .add_service(ElectionServer::new(election::ElectionService::new(
        server.clone(),
    )))
    .add_service(health_service)
}
