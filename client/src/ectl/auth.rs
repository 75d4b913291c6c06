//! `ectl auth`: turns authentication on and off, and reports whether it
//! is on.

use ectd_client::Client;

use super::args::{AuthCommand, NameArgs};
use super::exit::CtlError;
use super::Context;

/// Runs one `auth` subcommand and renders its result into `out`.
pub async fn run(
    ctx: &Context<'_>,
    command: &AuthCommand,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match command {
        AuthCommand::Enable(args) => {
            no_arguments(args, "enable")?;
            let printer = ctx.printer()?;
            enable(&ctx.connect().await?).await?;
            printer.auth_switched(out, true);
            Ok(())
        }
        AuthCommand::Disable(args) => {
            no_arguments(args, "disable")?;
            let printer = ctx.printer()?;
            ctx.connect().await?.auth_disable().await?;
            printer.auth_switched(out, false);
            Ok(())
        }
        AuthCommand::Status(args) => {
            no_arguments(args, "status")?;
            let printer = ctx.printer()?;
            let resp = ctx.connect().await?.auth_status().await?;
            printer.auth_status(out, &resp)
        }
    }
}

/// etcd's refusal to enable authentication while the user `root` lacks the
/// role `root`.
const ROOT_ROLE_MISSING: &str = "etcdserver: root user does not have root role";

/// Enables authentication as etcdctl does: a `root` user without the
/// `root` role is given it (the role is created first) and enabling is
/// tried again. Whatever else fails ends the command, including creating a
/// `root` role that exists already.
async fn enable(client: &Client) -> Result<(), ectd_client::Error> {
    loop {
        match client.auth_enable().await {
            Err(err) if err.message() == Some(ROOT_ROLE_MISSING) => {
                client.role_add("root").await?;
                client.user_grant_role("root", "root").await?;
            }
            result => return result.map(drop),
        }
    }
}

fn no_arguments(args: &NameArgs, command: &str) -> Result<(), CtlError> {
    if args.args.is_empty() {
        Ok(())
    } else {
        Err(CtlError::bad_args(format!(
            "auth {command} command does not accept any arguments"
        )))
    }
}
