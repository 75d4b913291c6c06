//! The request/response workloads: put, range, txn-cas and lease keep-alive, each a
//! closed loop over [`crate::load::drive`].

use ectd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::lease_client::LeaseClient;
use ectd_proto::etcdserverpb::request_op::Request;
use ectd_proto::etcdserverpb::{
    Compare, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, PutRequest,
    RangeRequest, RequestOp, TxnRequest,
};
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

use crate::load::{drive, drive_with, key, request, Load, Report};

/// Puts keys `0..key_space` in turn with `val_size`-byte values.
pub async fn put(channels: &[Channel], load: &Load) -> anyhow::Result<Report> {
    let load2 = load.clone();
    let value = vec![b'v'; load.val_size];
    drive(channels, load, move |ch, n| {
        let req = PutRequest {
            key: key(&load2, n),
            value: value.clone(),
            ..Default::default()
        };
        let req = request(load2.token.as_ref(), req);
        async move { KvClient::new(ch).put(req).await.map(|_| ()) }
    })
    .await
}

/// Writes every key of the key space once (not timed), so reads find them.
pub async fn preload(channels: &[Channel], load: &Load) -> anyhow::Result<()> {
    let mut fill = load.clone();
    fill.total = load.key_space;
    fill.duration = None;
    fill.quiet = true;
    let report = put(channels, &fill).await?;
    anyhow::ensure!(report.errors == 0, "{} preload puts failed", report.errors);
    Ok(())
}

/// Single-key ranges over the key space; linearizable unless `serializable`.
pub async fn range(
    channels: &[Channel],
    load: &Load,
    serializable: bool,
) -> anyhow::Result<Report> {
    let load2 = load.clone();
    drive(channels, load, move |ch, n| {
        let req = RangeRequest {
            key: key(&load2, n.wrapping_mul(2_654_435_761)),
            serializable,
            ..Default::default()
        };
        let req = request(load2.token.as_ref(), req);
        async move { KvClient::new(ch).range(req).await.map(|_| ()) }
    })
    .await
}

/// Reads and writes mixed: `read_percent` of the operations are linearizable
/// single-key ranges over the key space, the rest puts. Which an operation is
/// comes from a hash of its number, so both servers see the same sequence.
pub async fn mixed(channels: &[Channel], load: &Load, read_percent: u64) -> anyhow::Result<Report> {
    let load2 = load.clone();
    let value = vec![b'v'; load.val_size];
    drive(channels, load, move |ch, n| {
        let mut kv = KvClient::new(ch);
        let token = load2.token.clone();
        let reads = is_read(n, read_percent);
        let k = key(&load2, n.wrapping_mul(2_654_435_761));
        let value = value.clone();
        async move {
            if reads {
                let req = RangeRequest {
                    key: k,
                    ..Default::default()
                };
                kv.range(request(token.as_ref(), req)).await.map(|_| ())
            } else {
                let req = PutRequest {
                    key: k,
                    value,
                    ..Default::default()
                };
                kv.put(request(token.as_ref(), req)).await.map(|_| ())
            }
        }
    })
    .await
}

/// Whether operation `n` of a mixed load reads.
fn is_read(n: u64, read_percent: u64) -> bool {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 100 < read_percent
}

/// kube-apiserver's optimistic update: read a key's mod revision, then
/// `Txn If(mod_revision == seen) Then Put Else Get`. One operation is both requests.
pub async fn txn_cas(channels: &[Channel], load: &Load) -> anyhow::Result<Report> {
    let load2 = load.clone();
    let value = vec![b'v'; load.val_size];
    drive(channels, load, move |ch, n| {
        let k = key(&load2, n.wrapping_mul(2_654_435_761));
        let value = value.clone();
        let token = load2.token.clone();
        async move {
            let mut kv = KvClient::new(ch);
            let read = RangeRequest {
                key: k.clone(),
                ..Default::default()
            };
            let got = kv.range(request(token.as_ref(), read)).await?.into_inner();
            let seen = got.kvs.first().map_or(0, |kv| kv.mod_revision);
            let txn = TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Mod as i32,
                    key: k.clone(),
                    target_union: Some(TargetUnion::ModRevision(seen)),
                    ..Default::default()
                }],
                success: vec![RequestOp {
                    request: Some(Request::RequestPut(PutRequest {
                        key: k.clone(),
                        value,
                        ..Default::default()
                    })),
                }],
                failure: vec![RequestOp {
                    request: Some(Request::RequestRange(RangeRequest {
                        key: k,
                        ..Default::default()
                    })),
                }],
            };
            kv.txn(request(token.as_ref(), txn)).await.map(|_| ())
        }
    })
    .await
}

/// One client's keep-alive stream and its lease.
pub struct KeepAlive {
    lease: i64,
    requests: mpsc::Sender<LeaseKeepAliveRequest>,
    responses: Streaming<LeaseKeepAliveResponse>,
}

/// Each client grants a lease (not timed) and renews it over its own keep-alive
/// stream, one renewal in flight at a time.
pub async fn lease_keepalive(channels: &[Channel], load: &Load) -> anyhow::Result<Report> {
    let token = load.token.as_ref();
    drive_with(
        channels,
        load,
        |ch| async move {
            let mut lc = LeaseClient::new(ch);
            let grant = LeaseGrantRequest { ttl: 60, id: 0 };
            let lease = lc.lease_grant(request(token, grant)).await?.into_inner().id;
            let (requests, rx) = mpsc::channel(1);
            // The first renewal goes out with the call: a server may hold back the
            // stream's headers until it has something to answer.
            requests.send(LeaseKeepAliveRequest { id: lease }).await?;
            let outgoing = tokio_stream::wrappers::ReceiverStream::new(rx);
            let mut responses = lc
                .lease_keep_alive(request(token, outgoing))
                .await?
                .into_inner();
            responses
                .message()
                .await?
                .ok_or_else(|| anyhow::anyhow!("keep-alive stream ended at once"))?;
            Ok(KeepAlive {
                lease,
                requests,
                responses,
            })
        },
        |mut s: KeepAlive, _n| async move {
            let sent = s.requests.send(LeaseKeepAliveRequest { id: s.lease }).await;
            let result = match sent {
                Err(_) => Err(Status::unavailable("keep-alive stream closed")),
                Ok(()) => match s.responses.message().await {
                    Ok(Some(r)) if r.ttl > 0 => Ok(()),
                    Ok(Some(_)) => Err(Status::not_found("lease expired")),
                    Ok(None) => Err(Status::unavailable("keep-alive stream ended")),
                    Err(e) => Err(e),
                },
            };
            (s, result)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::is_read;

    #[test]
    fn mixed_loads_read_about_the_share_asked_for() {
        for pct in [0, 10, 50, 90, 100] {
            let reads = (0..100_000u64).filter(|&n| is_read(n, pct)).count();
            let share = reads as f64 / 1000.0;
            assert!(
                (share - pct as f64).abs() < 1.0,
                "{pct}% asked, {share}% read"
            );
        }
    }
}
