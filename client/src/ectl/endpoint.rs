//! `ectl endpoint health` and `ectl endpoint status`: ask every endpoint
//! on its own, so that one unreachable member shows up as such instead of
//! being skipped over the way a request to "the cluster" would.

use std::io::Write;

use ectd_client::proto::etcdserverpb::{MemberListRequest, StatusRequest};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::args::{EndpointArgs, EndpointCommand};
use super::duration::format_duration;
use super::exit::{CtlError, EXIT_ERROR};
use super::output::{EndpointHealth, EndpointStatus};
use super::Context;

/// A read refused for lack of permission has still been through
/// consensus, which is all a health check wants to know.
const PERMISSION_DENIED: &str = "etcdserver: permission denied";

/// Runs one `endpoint` subcommand.
pub async fn run(
    ctx: &Context<'_>,
    args: &EndpointArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match args.command {
        EndpointCommand::Health(_) => health(ctx, args.cluster, out).await,
        EndpointCommand::Status(_) => status(ctx, args.cluster, out).await,
    }
}

/// The endpoints to visit: `--endpoints`, or with `--cluster` every client
/// URL in the member list (members that have not started have none).
async fn endpoints(ctx: &Context<'_>, cluster: bool) -> Result<Vec<String>, CtlError> {
    if !cluster {
        return Ok(ctx.settings.endpoints.clone());
    }
    let listed = async {
        let client = ctx.connect().await?;
        Ok::<_, CtlError>(client.member_list(MemberListRequest::default()).await?)
    };
    let members = listed.await.map_err(|err| {
        CtlError::error(format!(
            "failed to fetch endpoints from etcd cluster member list: {}",
            err.message
        ))
    })?;
    Ok(members
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

/// Checks all endpoints at once and lists them as their checks complete,
/// as etcdctl does: an unreachable endpoint, which takes the whole command
/// timeout, comes last.
async fn health(ctx: &Context<'_>, cluster: bool, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let printer = ctx.printer()?;
    let endpoints = endpoints(ctx, cluster).await?;
    let checks: FuturesUnordered<_> = endpoints.iter().map(|ep| check(ctx, ep)).collect();
    let list: Vec<EndpointHealth> = checks.collect().await;
    let mut diag = Vec::new();
    let printed = printer.endpoint_health(out, &mut diag, &list);
    let _ = std::io::stderr().lock().write_all(&diag);
    printed?;
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(CtlError::error("unhealthy cluster"));
    }
    Ok(())
}

/// One health check: a linearizable read of the key `health`, which only
/// succeeds if the member can reach a quorum.
async fn check(ctx: &Context<'_>, endpoint: &str) -> EndpointHealth {
    let started = Instant::now();
    let result = ctx
        .within(async {
            let client = ctx.connect_one(endpoint).await?;
            match client.get("health").await {
                Err(err) if err.message() == Some(PERMISSION_DENIED) => Ok(()),
                read => read.map(drop).map_err(CtlError::from),
            }
        })
        .await;
    let took = format_duration(started.elapsed());
    let error = match result {
        Ok(()) => String::new(),
        Err(err) => err.message,
    };
    EndpointHealth {
        endpoint: endpoint.to_string(),
        health: error.is_empty(),
        took,
        error,
    }
}

/// Asks the endpoints one after the other. One that does not answer is
/// reported on stderr and makes the command fail, but the others are still
/// shown.
async fn status(ctx: &Context<'_>, cluster: bool, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let printer = ctx.printer()?;
    let endpoints = endpoints(ctx, cluster).await?;
    let mut list = Vec::with_capacity(endpoints.len());
    let mut failed = false;
    for endpoint in endpoints {
        let asked = ctx
            .within(async {
                let client = ctx.connect_one(&endpoint).await?;
                Ok::<_, CtlError>(client.status(StatusRequest::default()).await?)
            })
            .await;
        match asked {
            Ok(status) => list.push(EndpointStatus { endpoint, status }),
            Err(err) => {
                failed = true;
                eprintln!(
                    "Failed to get the status of endpoint {endpoint} ({})",
                    err.message
                );
            }
        }
    }
    printer.endpoint_status(out, &list)?;
    if failed {
        return Err(CtlError::exit_only(EXIT_ERROR));
    }
    Ok(())
}
