//! `ectl elect`: campaigns in a leader election (`elect name proposal`) or
//! observes its leaders (`elect --listen name`).

use ectd_client::proto::etcdserverpb::RangeResponse;
use ectd_client::proto::v3electionpb::LeaderResponse;
use ectd_client::{Client, LeaseKeeper};
use futures::StreamExt;

use super::args::ElectArgs;
use super::exit::CtlError;
use super::output::{GetView, Printer};
use super::signals::Interrupts;
use super::{os_bytes, print_now, Context};

/// The TTL of the lease a candidacy lives on, clientv3's session default.
const CANDIDACY_TTL: i64 = 60;

/// Runs `elect`. Both modes run until SIGINT or SIGTERM, which ends them
/// normally (a leader resigns first).
pub async fn run(ctx: &Context<'_>, args: &ElectArgs) -> Result<(), CtlError> {
    if !matches!(args.args.len(), 1 | 2) {
        return Err(CtlError::bad_args(
            "elect takes one election name argument and an optional proposal argument",
        ));
    }
    let printer = ctx.printer()?;
    let name = os_bytes(&args.args[0]);
    let proposal = args.args.get(1).map(|p| os_bytes(p));
    match (&proposal, args.listen) {
        (None, false) => return Err(CtlError::bad_args("no proposal argument but -l not set")),
        (Some(_), true) => return Err(CtlError::bad_args("proposal given but -l is set")),
        _ => {}
    }
    let client = ctx.connect().await?;
    let mut interrupts = Interrupts::catch()?;
    match proposal {
        None => observe(&client, printer, name, &mut interrupts).await,
        Some(proposal) => campaign(&client, printer, name, proposal, &mut interrupts).await,
    }
}

/// Prints the leader (once there is one) and every change of leader or
/// proclamation, as `get` would print the leader's key. The observation
/// ending by itself is an error.
async fn observe(
    client: &Client,
    printer: Printer,
    name: Vec<u8>,
    interrupts: &mut Interrupts,
) -> Result<(), CtlError> {
    let mut leaders = std::pin::pin!(client.observe(name));
    loop {
        tokio::select! {
            item = leaders.next() => match item {
                Some(Ok(resp)) => {
                    let mut chunk = Vec::new();
                    printer.get(&mut chunk, &as_range(resp), GetView::default())?;
                    print_now(&chunk)?;
                }
                Some(Err(_)) | None => return Err(CtlError::error("elect: observer lost")),
            },
            () = interrupts.recv() => return Ok(()),
        }
    }
}

/// An observed leader as clientv3 hands it to etcdctl: a range response
/// with the header and the leader's key-value pair only.
fn as_range(resp: LeaderResponse) -> RangeResponse {
    RangeResponse {
        header: resp.header,
        kvs: resp.kv.into_iter().collect(),
        ..Default::default()
    }
}

/// Campaigns on a lease of its own, prints the leader key once elected
/// and holds leadership until interrupted (then resigns) or until the lease
/// is lost (an error). The lease is revoked at the end (etcdctl leaves it
/// to expire).
async fn campaign(
    client: &Client,
    printer: Printer,
    name: Vec<u8>,
    proposal: Vec<u8>,
    interrupts: &mut Interrupts,
) -> Result<(), CtlError> {
    let lease = client.lease_grant(CANDIDACY_TTL, 0).await?.id;
    let mut keeper = LeaseKeeper::start(client, lease);
    let result = async {
        let elected = tokio::select! {
            elected = client.campaign(name, lease, proposal) => elected?,
            () = interrupts.recv() => return Err(CtlError::error("context canceled")),
        };
        let leader = elected.leader.unwrap_or_default();
        let resp = client.get(leader.key.clone()).await?;
        let mut chunk = Vec::new();
        printer.get(&mut chunk, &resp, GetView::default())?;
        print_now(&chunk)?;
        tokio::select! {
            () = interrupts.recv() => {}
            _ = keeper.lost() => return Err(CtlError::error("elect: session expired")),
        }
        client.resign(leader).await?;
        Ok(())
    }
    .await;
    drop(keeper);
    let _ = client.lease_revoke(lease).await;
    result
}
