//! `ectl move-leader`: hands leadership to another member.

use ectd_client::proto::etcdserverpb::{MoveLeaderRequest, StatusRequest};

use super::args::MoveLeaderArgs;
use super::exit::CtlError;
use super::gostr::parse_uint;
use super::Context;

/// The transferee's member ID, in hex.
pub fn target(args: &MoveLeaderArgs) -> Result<u64, CtlError> {
    let [target] = args.args.as_slice() else {
        return Err(CtlError::bad_args("move-leader command needs 1 argument"));
    };
    parse_uint(target, 16).map_err(|err| CtlError::bad_args(err.to_string()))
}

/// Runs `move-leader`. Only the leader can transfer leadership, so the
/// endpoints are asked for their status in order until one reports that it
/// leads; the first endpoint that cannot answer ends the command, as it
/// does in etcdctl.
pub async fn run(
    ctx: &Context<'_>,
    args: &MoveLeaderArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let target = target(args)?;
    let printer = ctx.printer()?;
    let endpoints = &ctx.settings.endpoints;
    let mut leader = None;
    for endpoint in endpoints {
        let (client, status) = ctx
            .within(async {
                let client = ctx.connect_one(endpoint).await?;
                let status = client.status(StatusRequest::default()).await?;
                Ok::<_, CtlError>((client, status))
            })
            .await?;
        // A member without a header (or without a leader) compares as
        // member 0, exactly as etcdctl compares them.
        if status.header.map_or(0, |h| h.member_id) == status.leader {
            leader = Some((client, status.leader));
            break;
        }
    }
    let Some((client, leader_id)) = leader else {
        return Err(CtlError::bad_args(format!(
            "no leader endpoint given at [{}]",
            endpoints.join(" ")
        )));
    };
    let resp = client
        .move_leader(MoveLeaderRequest { target_id: target })
        .await?;
    printer.move_leader(out, leader_id, target, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> MoveLeaderArgs {
        MoveLeaderArgs {
            args: list.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn target_argument() {
        assert_eq!(
            target(&args(&["c64c3f13ad87dbe4"])),
            Ok(0xc64c_3f13_ad87_dbe4)
        );
        let err = target(&args(&[])).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "move-leader command needs 1 argument")
        );
        let err = target(&args(&["zz"])).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, r#"strconv.ParseUint: parsing "zz": invalid syntax"#)
        );
    }
}
