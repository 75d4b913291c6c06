//! `ectl auth`: turns authentication on and off, and reports whether it
//! is on.

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
            ctx.connect().await?.auth_enable().await?;
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

fn no_arguments(args: &NameArgs, command: &str) -> Result<(), CtlError> {
    if args.args.is_empty() {
        Ok(())
    } else {
        Err(CtlError::bad_args(format!(
            "auth {command} command does not accept any arguments"
        )))
    }
}
