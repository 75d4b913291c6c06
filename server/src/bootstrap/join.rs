//! Joining an existing cluster: a member added with `member add` starts with
//! `--initial-cluster-state existing` and asks the other members who it is.

use std::time::Duration;

use ectd_proto::peer::peer_client::PeerClient;
use ectd_proto::peer::MembersRequest;
use ectd_proto::raftcmd::Member;

use super::BootstrapError;
use crate::config::Config;

fn same_urls(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// Finds this member's id, the cluster id and the membership by asking the other
/// members of `--initial-cluster` over the peer port.
pub async fn discover(
    cfg: &Config,
    peer_tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
) -> Result<(u64, u64, Vec<Member>), BootstrapError> {
    let others: Vec<(String, Vec<String>)> = cfg
        .initial_members()?
        .into_iter()
        .filter(|(name, _)| name != &cfg.name)
        .collect();
    let mut last_err = String::from("no other member in --initial-cluster");
    for attempt in 0..30 {
        for (name, urls) in &others {
            for url in urls {
                let ch = match crate::tls::connect::channel(url, peer_tls, Duration::from_secs(2))
                    .await
                {
                    Ok(ch) => ch,
                    Err(e) => {
                        last_err = format!("{name}: {e}");
                        continue;
                    }
                };
                let resp = PeerClient::new(ch)
                    .members(MembersRequest {
                        cluster_token: cfg.initial_cluster_token.clone(),
                    })
                    .await;
                match resp {
                    Ok(r) => {
                        let r = r.into_inner();
                        let me = r
                            .members
                            .iter()
                            .find(|m| same_urls(&m.peer_urls, &cfg.initial_advertise_peer_urls))
                            .ok_or_else(|| {
                                BootstrapError::Join(format!(
                                    "no member with peer URLs {:?} in the cluster; add it with `member add` first",
                                    cfg.initial_advertise_peer_urls
                                ))
                            })?;
                        if !me.client_urls.is_empty() {
                            // It ran before: its log is part of the cluster's history,
                            // and an empty data dir cannot stand in for it.
                            return Err(BootstrapError::Join(format!(
                                "member {:x} has already been bootstrapped; remove it and add it again to start over with empty data",
                                me.id
                            )));
                        }
                        return Ok((me.id, r.cluster_id, r.members));
                    }
                    Err(e) => last_err = format!("{name} at {url}: {}", e.message()),
                }
            }
        }
        if attempt == 0 {
            tracing::info!("waiting for the existing members to answer");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(BootstrapError::Join(last_err))
}
