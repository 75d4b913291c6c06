//! `ectl del`: deletes a key or a range of keys.

use ectd_client::proto::etcdserverpb::DeleteRangeRequest;
use ectd_client::KeyRange;

use super::args::DelArgs;
use super::exit::CtlError;
use super::{os_bytes, Context};

/// Builds the request `del` sends, validating the flags in etcdctl's order.
pub fn build(args: &DelArgs) -> Result<DeleteRangeRequest, CtlError> {
    if args.args.is_empty() || args.args.len() > 2 {
        return Err(CtlError::bad_args(
            "del command needs one argument as key and an optional argument as range_end",
        ));
    }
    if args.prefix && args.from_key {
        return Err(CtlError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let mut range = KeyRange::key(os_bytes(&args.args[0]));
    if let Some(end) = args.args.get(1) {
        if args.prefix || args.from_key {
            return Err(CtlError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        range.range_end = os_bytes(end);
    }
    if args.prefix {
        range = KeyRange::prefix(range.key);
    }
    if args.from_key {
        range = KeyRange::from_key(range.key);
    }
    Ok(DeleteRangeRequest {
        key: range.key,
        range_end: range.range_end,
        prev_kv: args.prev_kv,
    })
}

/// Runs `del` and renders its response into `out`.
pub async fn run(ctx: &Context<'_>, args: &DelArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let request = build(args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.delete_range(request).await?;
    printer.del(out, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::ectl::args::TxnRequestLine;

    fn del(line: &[&str]) -> Result<DeleteRangeRequest, CtlError> {
        match TxnRequestLine::try_parse_from(std::iter::once("del").chain(line.iter().copied()))
            .unwrap()
        {
            TxnRequestLine::Del(args) => build(&args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges() {
        let req = del(&["k"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"k"[..], &b""[..])
        );
        let req = del(&["a", "c", "--prev-kv"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"a"[..], &b"c"[..])
        );
        assert!(req.prev_kv);
        let req = del(&["foo/", "--prefix"]).unwrap();
        assert_eq!(req.range_end, b"foo0");
        let req = del(&["", "--prefix"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"\0"[..], &b"\0"[..])
        );
        let req = del(&["x", "--from-key"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"x"[..], &b"\0"[..])
        );
    }

    #[test]
    fn argument_errors() {
        for line in [
            &[][..],
            &["a", "b", "c"][..],
            &["a", "--prefix", "--from-key"][..],
            &["a", "b", "--prefix"][..],
        ] {
            assert_eq!(del(line).unwrap_err().code, 128, "{line:?}");
        }
    }
}
