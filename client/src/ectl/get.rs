//! `ectl get`: reads a key or a range of keys.

use ectd_client::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use ectd_client::proto::etcdserverpb::RangeRequest;
use ectd_client::KeyRange;

use super::args::GetArgs;
use super::exit::CtlError;
use super::output::{Format, GetView};
use super::{os_bytes, Context};

/// Builds the request `get` sends, validating the flags in etcdctl's order
/// so that the same mistake yields the same message and exit code.
pub fn build(args: &GetArgs) -> Result<RangeRequest, CtlError> {
    let Some(key) = args.args.first() else {
        return Err(CtlError::bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    if args.prefix && args.from_key {
        return Err(CtlError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    if args.keys_only && args.count_only {
        return Err(CtlError::bad_args(
            "`--keys-only` and `--count-only` cannot be set at the same time, choose one",
        ));
    }
    let serializable = match args.consistency.as_str() {
        "l" => false,
        "s" => true,
        other => {
            return Err(CtlError::bad_feature(format!(
                "unknown consistency flag {}",
                super::gostr::quote(other.as_bytes())
            )))
        }
    };
    let mut range = KeyRange::key(os_bytes(key));
    if let Some(end) = args.args.get(1) {
        if args.prefix || args.from_key {
            return Err(CtlError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        range.range_end = os_bytes(end);
    }
    let (sort_order, sort_target) = sort(&args.order, &args.sort_by)?;
    if args.prefix {
        range = KeyRange::prefix(range.key);
    }
    if args.from_key {
        range = KeyRange::from_key(range.key);
    }
    Ok(RangeRequest {
        key: range.key,
        range_end: range.range_end,
        limit: args.limit,
        // Revision 0 already means "latest"; etcdctl sends nothing for
        // negative values either.
        revision: args.rev.max(0),
        sort_order: sort_order as i32,
        sort_target: sort_target as i32,
        serializable,
        keys_only: args.keys_only,
        count_only: args.count_only,
        ..Default::default()
    })
}

/// Translates `--order` and `--sort-by` (case-insensitive).
fn sort(order: &str, target: &str) -> Result<(SortOrder, SortTarget), CtlError> {
    let mut sort_order = match order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => return Err(CtlError::bad_feature(format!("bad sort order {order}"))),
    };
    let sort_target = match target.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => return Err(CtlError::bad_feature(format!("bad sort target {target}"))),
    };
    // Results come back in ascending key order anyway; leaving the order
    // unset lets the server stop reading at the limit instead of sorting the
    // whole range. `--sort-by` without `--order` is sent as NONE too: the
    // server sorts ascending by that target, but (in etcd) only the first
    // `limit` keys, and ectl has to reproduce that answer exactly.
    if sort_target == SortTarget::Key && sort_order == SortOrder::Ascend {
        sort_order = SortOrder::None;
    }
    Ok((sort_order, sort_target))
}

/// Runs `get` and renders its response into `out`.
pub async fn run(ctx: &Context<'_>, args: &GetArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let request = build(args)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.range(request).await?;
    if args.print_value_only && printer.format != Format::Simple {
        return Err(CtlError::bad_args(
            "print-value-only is only for `--write-out=simple`",
        ));
    }
    let view = GetView {
        value_only: args.print_value_only,
        count_only: args.count_only,
    };
    printer.get(out, &resp, view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::ectl::args::TxnRequestLine;

    fn get(line: &[&str]) -> Result<RangeRequest, CtlError> {
        match TxnRequestLine::try_parse_from(std::iter::once("get").chain(line.iter().copied()))
            .unwrap()
        {
            TxnRequestLine::Get(args) => build(&args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn single_key_and_range() {
        let req = get(&["foo"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"foo"[..], &b""[..])
        );
        let req = get(&["a", "d", "ignored"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"a"[..], &b"d"[..])
        );
    }

    #[test]
    fn prefix_and_from_key() {
        let req = get(&["foo", "--prefix"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"foo"[..], &b"fop"[..])
        );
        let req = get(&["", "--prefix"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"\0"[..], &b"\0"[..])
        );
        let req = get(&["c", "--from-key"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"c"[..], &b"\0"[..])
        );
        let req = get(&["", "--from-key"]).unwrap();
        assert_eq!(
            (req.key.as_slice(), req.range_end.as_slice()),
            (&b"\0"[..], &b"\0"[..])
        );
    }

    #[test]
    fn argument_errors() {
        let err = get(&[]).unwrap_err();
        assert_eq!(err.code, 128);
        let err = get(&["a", "--prefix", "--from-key"]).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                128,
                "`--prefix` and `--from-key` cannot be set at the same time, choose one"
            )
        );
        let err = get(&["a", "b", "--prefix"]).unwrap_err();
        assert_eq!(err.code, 128);
        let err = get(&["a", "--consistency=x"]).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (4, r#"unknown consistency flag "x""#)
        );
        let err = get(&["a", "--order=foo"]).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (4, "bad sort order foo"));
        let err = get(&["a", "--sort-by=bar"]).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (4, "bad sort target bar"));
        let err = get(&["a", "--keys-only", "--count-only"]).unwrap_err();
        assert_eq!(err.code, 128);
    }

    #[test]
    fn sorting_defaults() {
        let req = get(&["a"]).unwrap();
        assert_eq!(
            (req.sort_order, req.sort_target),
            (SortOrder::None as i32, SortTarget::Key as i32)
        );
        let req = get(&["a", "--sort-by=value"]).unwrap();
        assert_eq!(
            (req.sort_order, req.sort_target),
            (SortOrder::None as i32, SortTarget::Value as i32)
        );
        let req = get(&["a", "--sort-by=value", "--order=ascend"]).unwrap();
        assert_eq!(req.sort_order, SortOrder::Ascend as i32);
        let req = get(&["a", "--order=ASCEND"]).unwrap();
        assert_eq!(req.sort_order, SortOrder::None as i32);
        let req = get(&["a", "--order=descend"]).unwrap();
        assert_eq!(
            (req.sort_order, req.sort_target),
            (SortOrder::Descend as i32, SortTarget::Key as i32)
        );
        let req = get(&["a", "--order=DESCEND", "--sort-by=MODIFY"]).unwrap();
        assert_eq!(
            (req.sort_order, req.sort_target),
            (SortOrder::Descend as i32, SortTarget::Mod as i32)
        );
        let req = get(&["a", "--sort-by=CREATE"]).unwrap();
        assert_eq!(req.sort_target, SortTarget::Create as i32);
        let req = get(&["a", "--sort-by=VERSION"]).unwrap();
        assert_eq!(req.sort_target, SortTarget::Version as i32);
    }

    #[test]
    fn other_options() {
        let req = get(&[
            "a",
            "--limit=3",
            "--rev=7",
            "--keys-only",
            "--consistency=s",
        ])
        .unwrap();
        assert_eq!((req.limit, req.revision), (3, 7));
        assert!(req.keys_only && req.serializable && !req.count_only);
        let req = get(&["a", "--count-only", "--rev=-4"]).unwrap();
        assert!(req.count_only);
        assert_eq!(req.revision, 0);
    }
}
