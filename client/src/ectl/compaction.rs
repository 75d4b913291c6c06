//! `ectl compaction`: discards history before a revision.

use ectd_client::proto::etcdserverpb::CompactionRequest;

use super::args::CompactionArgs;
use super::exit::CtlError;
use super::gostr::parse_int;
use super::Context;

/// Builds the request `compaction` sends.
pub fn build(args: &CompactionArgs) -> Result<CompactionRequest, CtlError> {
    let [revision] = args.args.as_slice() else {
        return Err(CtlError::bad_args("compaction command needs 1 argument"));
    };
    // etcdctl reports a malformed revision as a plain failure (exit 1).
    let revision = parse_int(revision, 10).map_err(|err| CtlError::error(err.to_string()))?;
    Ok(CompactionRequest {
        revision,
        physical: args.physical,
    })
}

/// Runs `compaction` and renders its result into `out`.
pub async fn run(
    ctx: &Context<'_>,
    args: &CompactionArgs,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    let request = build(args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let revision = request.revision;
    client.compact(request).await?;
    printer.compaction(out, revision);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str], physical: bool) -> CompactionArgs {
        CompactionArgs {
            args: list.iter().map(|s| s.to_string()).collect(),
            physical,
        }
    }

    #[test]
    fn builds_request() {
        assert_eq!(
            build(&args(&["5"], true)),
            Ok(CompactionRequest {
                revision: 5,
                physical: true
            })
        );
        assert_eq!(build(&args(&["-1"], false)).unwrap().revision, -1);
    }

    #[test]
    fn argument_errors() {
        let err = build(&args(&[], false)).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "compaction command needs 1 argument")
        );
        assert_eq!(build(&args(&["1", "2"], false)).unwrap_err().code, 128);
        let err = build(&args(&["abc"], false)).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (1, r#"strconv.ParseInt: parsing "abc": invalid syntax"#)
        );
    }
}
