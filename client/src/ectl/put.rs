//! `ectl put`: writes one key.

use std::io::Read;

use ectd_client::proto::etcdserverpb::PutRequest;

use super::args::PutArgs;
use super::exit::CtlError;
use super::gostr::parse_int;
use super::{os_bytes, Context};

const NEEDS_VALUE: &str = "put command needs 1 argument and input from stdin or 2 arguments";

/// Builds the request `put` sends. The value is the second argument or, if
/// absent, everything `stdin` yields (which must not be empty).
pub fn build(
    args: &PutArgs,
    stdin: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<PutRequest, CtlError> {
    let Some(key) = args.args.first() else {
        return Err(CtlError::bad_args(NEEDS_VALUE));
    };
    if args.ignore_value && args.args.len() > 1 {
        return Err(CtlError::bad_args(
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let mut value = Vec::new();
    if !args.ignore_value {
        value = match args.args.get(1) {
            Some(value) => os_bytes(value),
            None => match stdin() {
                Ok(data) if !data.is_empty() => data,
                _ => return Err(CtlError::bad_args(NEEDS_VALUE)),
            },
        };
    }
    let lease = parse_int(&args.lease, 16)
        .map_err(|err| CtlError::bad_args(format!("bad lease ID ({err}), expecting ID in Hex")))?;
    Ok(PutRequest {
        key: os_bytes(key),
        value,
        lease,
        prev_kv: args.prev_kv,
        ignore_value: args.ignore_value,
        ignore_lease: args.ignore_lease,
    })
}

/// Runs `put` and renders its response into `out`.
pub async fn run(ctx: &Context<'_>, args: &PutArgs, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let request = build(args, || {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data)?;
        Ok(data)
    })?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let resp = client.put(request).await?;
    printer.put(out, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::ectl::args::TxnRequestLine;

    fn put_args(line: &[&str]) -> PutArgs {
        match TxnRequestLine::try_parse_from(std::iter::once("put").chain(line.iter().copied()))
            .unwrap()
        {
            TxnRequestLine::Put(args) => args,
            other => panic!("{other:?}"),
        }
    }

    fn no_stdin() -> std::io::Result<Vec<u8>> {
        Ok(Vec::new())
    }

    #[test]
    fn key_and_value() {
        let req = build(&put_args(&["k", "v", "--prev-kv"]), no_stdin).unwrap();
        assert_eq!(req.key, b"k");
        assert_eq!(req.value, b"v");
        assert!(req.prev_kv);
        assert_eq!(req.lease, 0);
    }

    #[test]
    fn value_from_stdin_is_kept_verbatim() {
        let req = build(&put_args(&["k"]), || Ok(b"multi\nline\n".to_vec())).unwrap();
        assert_eq!(req.value, b"multi\nline\n");
        let err = build(&put_args(&["k"]), no_stdin).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (128, NEEDS_VALUE));
    }

    #[test]
    fn extra_arguments_are_ignored() {
        let req = build(&put_args(&["k", "v", "w"]), no_stdin).unwrap();
        assert_eq!(req.value, b"v");
    }

    #[test]
    fn ignore_value() {
        let req = build(&put_args(&["k", "--ignore-value"]), no_stdin).unwrap();
        assert!(req.ignore_value && req.value.is_empty());
        let err = build(&put_args(&["k", "v", "--ignore-value"]), no_stdin).unwrap_err();
        assert_eq!(err.code, 128);
        assert_eq!(
            err.message,
            "put command needs only 1 argument when 'ignore-value' is set"
        );
    }

    #[test]
    fn lease_is_hex() {
        let req = build(&put_args(&["k", "v", "--lease=390da20168b4c434"]), no_stdin).unwrap();
        assert_eq!(req.lease, 0x390da20168b4c434);
        let err = build(&put_args(&["k", "v", "--lease=zz"]), no_stdin).unwrap_err();
        assert_eq!(err.code, 128);
        assert_eq!(
            err.message,
            r#"bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex"#
        );
    }

    #[test]
    fn missing_key() {
        let err = build(&put_args(&[]), no_stdin).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (128, NEEDS_VALUE));
    }
}
