//! `ectl member`: lists and changes the cluster's membership.

use ectd_client::proto::etcdserverpb::{
    MemberAddRequest, MemberListRequest, MemberPromoteRequest, MemberRemoveRequest,
    MemberUpdateRequest,
};

use super::args::{MemberAddArgs, MemberCommand, MemberIdArgs, MemberUpdateArgs};
use super::exit::CtlError;
use super::gostr::parse_uint;
use super::output::MemberChange;
use super::{os_bytes, peer_urls, Context};

/// Runs one `member` subcommand and renders its response into `out`.
pub async fn run(
    ctx: &Context<'_>,
    command: &MemberCommand,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match command {
        MemberCommand::List(_) => list(ctx, out).await,
        MemberCommand::Add(args) => add(ctx, args, out).await,
        MemberCommand::Remove(args) => remove(ctx, args, out).await,
        MemberCommand::Update(args) => update(ctx, args, out).await,
        MemberCommand::Promote(args) => promote(ctx, args, out).await,
    }
}

async fn list(ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.member_list(MemberListRequest::default()).await?;
    printer.member_list(out, &resp);
    Ok(())
}

/// Checks `member add`'s arguments in etcdctl's order and returns the new
/// member's name and peer URLs. A URL given as a second argument is
/// probably a forgotten `--peer-urls=`, which the message suggests.
pub fn add_arguments(args: &MemberAddArgs) -> Result<(Vec<u8>, Vec<String>), CtlError> {
    let Some(name) = args.args.first() else {
        return Err(CtlError::bad_args("member name not provided"));
    };
    if args.args.len() > 1 {
        let mut message = String::from("too many arguments");
        for arg in &args.args {
            let arg = arg.to_string_lossy();
            if arg.to_lowercase().starts_with("http") {
                message.push_str(&format!(", did you mean --peer-urls={arg}"));
            }
        }
        return Err(CtlError::bad_args(message));
    }
    Ok((os_bytes(name), peer_url_list(&args.peer_urls)?))
}

/// The comma-separated `--peer-urls`, which must be given.
fn peer_url_list(flag: &str) -> Result<Vec<String>, CtlError> {
    if flag.is_empty() {
        return Err(CtlError::bad_args("member peer urls not provided"));
    }
    Ok(flag.split(',').map(str::to_string).collect())
}

/// The single member ID argument of `remove`, `update` and `promote`, in
/// hex.
pub fn member_id(args: &[String]) -> Result<u64, CtlError> {
    let [id] = args else {
        return Err(CtlError::bad_args("member ID is not provided"));
    };
    parse_uint(id, 16).map_err(|err| {
        CtlError::bad_args(format!("bad member ID arg ({err}), expecting ID in Hex"))
    })
}

async fn add(ctx: &Context<'_>, args: &MemberAddArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let (name, urls) = add_arguments(args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    peer_urls::validate(&urls).map_err(CtlError::error)?;
    let resp = client
        .member_add(MemberAddRequest {
            peer_ur_ls: urls,
            is_learner: args.learner,
        })
        .await?;
    printer.member_add(out, &resp, &name, &args.peer_urls)
}

async fn remove(ctx: &Context<'_>, args: &MemberIdArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let id = member_id(&args.args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.member_remove(MemberRemoveRequest { id }).await?;
    printer.member_changed(
        out,
        MemberChange::Removed,
        id,
        &resp.header,
        &resp.members,
        &resp,
    )
}

async fn update(
    ctx: &Context<'_>,
    args: &MemberUpdateArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let id = member_id(&args.args)?;
    let urls = peer_url_list(&args.peer_urls)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    peer_urls::validate(&urls).map_err(CtlError::error)?;
    let resp = client
        .member_update(MemberUpdateRequest {
            id,
            peer_ur_ls: urls,
        })
        .await?;
    printer.member_changed(
        out,
        MemberChange::Updated,
        id,
        &resp.header,
        &resp.members,
        &resp,
    )
}

async fn promote(
    ctx: &Context<'_>,
    args: &MemberIdArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let id = member_id(&args.args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.member_promote(MemberPromoteRequest { id }).await?;
    printer.member_changed(
        out,
        MemberChange::Promoted,
        id,
        &resp.header,
        &resp.members,
        &resp,
    )
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn add_args(args: &[&str], peer_urls: &str) -> MemberAddArgs {
        MemberAddArgs {
            args: args.iter().map(OsString::from).collect(),
            peer_urls: peer_urls.to_string(),
            learner: false,
        }
    }

    #[test]
    fn add_argument_errors() {
        let err = add_arguments(&add_args(&[], "http://a:1")).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "member name not provided")
        );
        let err = add_arguments(&add_args(&["a", "b", "http://x:1", "HTTP://y"], "")).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                128,
                "too many arguments, did you mean --peer-urls=http://x:1, \
                 did you mean --peer-urls=HTTP://y"
            )
        );
        let err = add_arguments(&add_args(&["a"], "")).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "member peer urls not provided")
        );
    }

    #[test]
    fn add_splits_peer_urls() {
        let (name, urls) = add_arguments(&add_args(&["m4"], "http://a:1,http://b:2")).unwrap();
        assert_eq!(name, b"m4");
        assert_eq!(urls, ["http://a:1", "http://b:2"]);
        let (_, urls) = add_arguments(&add_args(&["m4"], ",")).unwrap();
        assert_eq!(urls, ["", ""]);
    }

    #[test]
    fn member_ids_are_hex() {
        assert_eq!(
            member_id(&["a3736440f3fa14c7".to_string()]),
            Ok(0xa373_6440_f3fa_14c7)
        );
        let err = member_id(&[]).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "member ID is not provided")
        );
        assert_eq!(
            member_id(&["1".to_string(), "2".to_string()])
                .unwrap_err()
                .message,
            "member ID is not provided"
        );
        let err = member_id(&["0x12".to_string()]).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                128,
                r#"bad member ID arg (strconv.ParseUint: parsing "0x12": invalid syntax), expecting ID in Hex"#
            )
        );
    }
}
