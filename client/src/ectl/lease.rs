//! `ectl lease`: grants, revokes, inspects and renews leases.

use ectd_client::LeaseKeeper;

use super::args::{
    LeaseCommand, LeaseGrantArgs, LeaseIdArgs, LeaseKeepAliveArgs, LeaseTimeToLiveArgs,
};
use super::exit::{CtlError, EXIT_BAD_CONNECTION};
use super::gostr::{hex_id, parse_int};
use super::output::Format;
use super::{print_now, Context};

/// Runs one `lease` subcommand and renders its response into `out` (or,
/// for `keep-alive`, straight to stdout as renewals happen).
pub async fn run(
    ctx: &Context<'_>,
    command: &LeaseCommand,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match command {
        LeaseCommand::Grant(args) => grant(ctx, args, out).await,
        LeaseCommand::Revoke(args) => revoke(ctx, args, out).await,
        LeaseCommand::Timetolive(args) => time_to_live(ctx, args, out).await,
        LeaseCommand::List(_) => list(ctx, out).await,
        LeaseCommand::KeepAlive(args) => keep_alive(ctx, args).await,
    }
}

/// A lease ID argument: hexadecimal, as etcdctl prints lease IDs.
pub fn lease_id(arg: &str) -> Result<i64, CtlError> {
    parse_int(arg, 16)
        .map_err(|err| CtlError::bad_args(format!("bad lease ID arg ({err}), expecting ID in Hex")))
}

/// The TTL argument of `lease grant`, in decimal seconds.
pub fn grant_ttl(args: &LeaseGrantArgs) -> Result<i64, CtlError> {
    let [ttl] = args.args.as_slice() else {
        return Err(CtlError::bad_args("lease grant command needs TTL argument"));
    };
    parse_int(ttl, 10).map_err(|err| CtlError::bad_args(format!("bad TTL ({err})")))
}

async fn grant(
    ctx: &Context<'_>,
    args: &LeaseGrantArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let ttl = grant_ttl(args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.lease_grant(ttl, 0).await.map_err(|err| {
        CtlError::error(format!("failed to grant lease ({})", CtlError::from(err)))
    })?;
    printer.lease_grant(out, &resp)
}

async fn revoke(ctx: &Context<'_>, args: &LeaseIdArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let [id] = args.args.as_slice() else {
        return Err(CtlError::bad_args("lease revoke command needs 1 argument"));
    };
    let id = lease_id(id)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.lease_revoke(id).await.map_err(|err| {
        CtlError::error(format!("failed to revoke lease ({})", CtlError::from(err)))
    })?;
    printer.lease_revoke(out, id, &resp)
}

async fn time_to_live(
    ctx: &Context<'_>,
    args: &LeaseTimeToLiveArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let [id] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "lease timetolive command needs lease ID as argument",
        ));
    };
    // etcdctl sets up its client, and with it the output format, before it
    // reads the lease ID.
    let printer = ctx.printer()?;
    let id = lease_id(id)?;
    let client = ctx.connect().await?;
    let resp = client
        .lease_time_to_live(id, args.keys)
        .await
        .map_err(|err| CtlError::from(err).with_code(EXIT_BAD_CONNECTION))?;
    printer.lease_time_to_live(out, &resp, args.keys)
}

async fn list(ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client
        .lease_leases()
        .await
        .map_err(|err| CtlError::from(err).with_code(EXIT_BAD_CONNECTION))?;
    printer.lease_leases(out, &resp)
}

/// `--once` renews the lease and prints the answer. Otherwise every
/// renewal (every TTL/3) is printed until the lease is gone, which simple
/// format announces; that end is not an error.
async fn keep_alive(ctx: &Context<'_>, args: &LeaseKeepAliveArgs) -> Result<(), CtlError> {
    let [id] = args.args.as_slice() else {
        return Err(CtlError::bad_args(
            "lease keep-alive command needs lease ID as argument",
        ));
    };
    let id = lease_id(id)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    if args.once {
        let resp = client
            .lease_keep_alive_once(id)
            .await
            .map_err(|err| CtlError::from(err).with_code(EXIT_BAD_CONNECTION))?;
        let mut chunk = Vec::new();
        printer.lease_keep_alive(&mut chunk, &resp)?;
        return print_now(&chunk);
    }
    let mut keeper = LeaseKeeper::start(&client, id);
    while let Some(resp) = keeper.next_renewal().await {
        let mut chunk = Vec::new();
        printer.lease_keep_alive(&mut chunk, &resp)?;
        print_now(&chunk)?;
    }
    if printer.format == Format::Simple {
        print_now(format!("lease {} expired or revoked.\n", hex_id(id)).as_bytes())?;
    }
    Ok(())
}
