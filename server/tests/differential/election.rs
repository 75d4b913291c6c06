//! Election (`v3electionpb`): campaign, leader, proclaim, resign, a second
//! candidate waiting for the first to resign, and what an observer is sent.

use crate::builders::*;
use crate::harness::*;
use crate::lease::{grant, TIMING};
use crate::rpc::*;
use crate::streams::*;
use ectd_client::proto::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest, LeaderResponse, ProclaimRequest,
    ProclaimResponse, ResignRequest, ResignResponse,
};
use std::time::Duration;

/// How long a blocked call is given to reach the server before the test goes on.
const SETTLE: Duration = Duration::from_millis(700);

fn campaign_req(name: &[u8], lease: i64, value: &[u8]) -> CampaignRequest {
    CampaignRequest {
        name: name.to_vec(),
        lease,
        value: value.to_vec(),
    }
}

async fn campaign(
    p: &mut Pair,
    label: &str,
    name: &[u8],
    lease: i64,
    value: &[u8],
) -> Answer<CampaignResponse> {
    p.unary(label, campaign_req(name, lease, value), |c, r| async move {
        c.election().campaign(r).await
    })
    .await
}

async fn leader(p: &mut Pair, label: &str, name: &[u8]) -> Answer<LeaderResponse> {
    p.unary(
        label,
        LeaderRequest {
            name: name.to_vec(),
        },
        |c, r| async move { c.election().leader(r).await },
    )
    .await
}

async fn proclaim(
    p: &mut Pair,
    label: &str,
    leader: Option<LeaderKey>,
    value: &[u8],
) -> Answer<ProclaimResponse> {
    let req = ProclaimRequest {
        leader,
        value: value.to_vec(),
    };
    p.unary(
        label,
        req,
        |c, r| async move { c.election().proclaim(r).await },
    )
    .await
}

async fn resign(p: &mut Pair, label: &str, leader: Option<LeaderKey>) -> Answer<ResignResponse> {
    p.unary(label, ResignRequest { leader }, |c, r| async move {
        c.election().resign(r).await
    })
    .await
}

fn leader_of(r: &Answer<CampaignResponse>) -> LeaderKey {
    match &r.0 {
        Ok(CampaignResponse {
            leader: Some(l), ..
        }) => l.clone(),
        other => panic!("etcd refused a campaign the test needs: {other:?}"),
    }
}

fn observe(p: &Pair, name: &[u8]) -> Observed<LeaderResponse> {
    Observed::open(
        p,
        LeaderRequest {
            name: name.to_vec(),
        },
        |c, r| async move { c.election().observe(r).await },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_matches_etcd() {
    let mut p = Pair::start_with("election", &TIMING).await;
    grant(&mut p, "grant lease A", 0x10, 60).await;
    grant(&mut p, "grant lease B", 0x20, 60).await;
    let all = || range(b"e/", b"e0");

    leader(&mut p, "leader with no campaigner", b"e").await;
    let mut obs = observe(&p, b"e");
    obs.expect(&mut p, "observer before any leader", 0).await;

    let a = campaign(&mut p, "A campaigns", b"e", 0x10, b"a1").await;
    let a_leader = leader_of(&a);
    obs.expect(&mut p, "observer sees A", 1).await;
    leader(&mut p, "leader is A", b"e").await;
    proclaim(&mut p, "A proclaims a2", Some(a_leader.clone()), b"a2").await;
    obs.expect(&mut p, "observer sees a2", 1).await;
    let stale = LeaderKey {
        rev: a_leader.rev + 100,
        ..a_leader.clone()
    };
    proclaim(&mut p, "proclaim with a stale revision", Some(stale), b"x").await;
    let wrong_key = LeaderKey {
        key: b"e/ffff".to_vec(),
        ..a_leader.clone()
    };
    proclaim(&mut p, "proclaim with a wrong key", Some(wrong_key), b"x").await;
    proclaim(&mut p, "proclaim without a leader key", None, b"x").await;
    campaign(&mut p, "A campaigns again with a3", b"e", 0x10, b"a3").await;
    obs.expect(&mut p, "observer sees a3", 1).await;
    campaign(&mut p, "campaign with an unknown lease", b"e", 0x999, b"x").await;
    p.range("candidates so far", all()).await;

    let b = p
        .start_call(
            "B campaigns",
            campaign_req(b"e", 0x20, b"b1"),
            |c, r| async move { c.election().campaign(r).await },
            SETTLE,
        )
        .await;
    b.check_waiting(&mut p, "B behind A", true);
    obs.expect(&mut p, "observer: B's candidacy is no change", 0)
        .await;
    leader(&mut p, "leader is still A", b"e").await;
    p.range("both candidates", all()).await;

    resign(&mut p, "A resigns", Some(a_leader.clone())).await;
    let b = b.finish(&mut p).await;
    let b_leader = leader_of(&b);
    obs.expect(&mut p, "observer sees B", 1).await;
    leader(&mut p, "leader is B", b"e").await;
    proclaim(
        &mut p,
        "A proclaims after resigning",
        Some(a_leader.clone()),
        b"x",
    )
    .await;
    resign(&mut p, "A resigns again", Some(a_leader.clone())).await;
    resign(&mut p, "resign without a leader key", None).await;
    proclaim(&mut p, "B proclaims b2", Some(b_leader.clone()), b"b2").await;
    obs.expect(&mut p, "observer sees b2", 1).await;
    resign(&mut p, "B resigns", Some(b_leader)).await;
    leader(&mut p, "no leader after B resigns", b"e").await;
    obs.expect(&mut p, "observer: no leader", 0).await;
    campaign(&mut p, "A campaigns once more", b"e", 0x10, b"a4").await;
    obs.expect(&mut p, "observer sees A again", 1).await;

    // A candidate whose caller goes away withdraws.
    let b = p
        .start_call(
            "B campaigns and gives up",
            campaign_req(b"e", 0x20, b"b3"),
            |c, r| async move { c.election().campaign(r).await },
            SETTLE,
        )
        .await;
    b.check_waiting(&mut p, "B behind A", true);
    drop(b);
    tokio::time::sleep(SETTLE).await;
    p.range("no key left by the candidate that gave up", all())
        .await;
    obs.expect(&mut p, "observer: nothing changed", 0).await;

    let mut late = observe(&p, b"e");
    late.expect(&mut p, "an observer opened while A leads", 1)
        .await;
    p.range("the leader's key", all()).await;
    p.finish(34);
}
