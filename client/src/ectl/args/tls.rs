//! The transport-security flags, spelled like etcdctl's global ones.

use std::path::PathBuf;

use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::{ArgAction, Args};

use super::go_bool;

/// `--cacert`, `--cert`, `--key`, `--insecure-skip-tls-verify` and
/// `--insecure-transport`. Each is `None` when absent from the command line
/// so that its `ETCDCTL_*` environment variable can take over.
#[derive(Debug, Default, Args)]
pub struct TlsArgs {
    /// Verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, value_name = "FILE", value_parser = file_name())]
    pub cacert: Option<PathBuf>,

    /// Identify secure client using this TLS certificate file
    #[arg(long, global = true, value_name = "FILE", value_parser = file_name())]
    pub cert: Option<PathBuf>,

    /// Identify secure client using this TLS key file
    #[arg(long, global = true, value_name = "FILE", value_parser = file_name())]
    pub key: Option<PathBuf>,

    /// Skip server certificate verification (CAUTION: this option should be enabled only for
    /// testing purposes) [default: false]
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub insecure_skip_tls_verify: Option<bool>,

    /// Disable transport security for client connections [default: true]
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub insecure_transport: Option<bool>,
}

/// A file name, kept even when empty so that ectl can refuse it in
/// etcdctl's words.
fn file_name() -> impl TypedValueParser<Value = PathBuf> {
    OsStringValueParser::new().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::super::Cli;
    use clap::Parser;

    fn tls_flags(args: &[&str]) -> super::TlsArgs {
        Cli::try_parse_from(std::iter::once("ectl").chain(args.iter().copied()))
            .unwrap()
            .global
            .tls
    }

    #[test]
    fn flags_anywhere_and_bools_like_pflag() {
        let tls = tls_flags(&[
            "--cacert=ca.pem",
            "get",
            "k",
            "--cert",
            "client.pem",
            "--key=client.key",
            "--insecure-skip-tls-verify",
            "--insecure-transport=false",
        ]);
        assert_eq!(tls.cacert.as_deref(), Some("ca.pem".as_ref()));
        assert_eq!(tls.cert.as_deref(), Some("client.pem".as_ref()));
        assert_eq!(tls.key.as_deref(), Some("client.key".as_ref()));
        assert_eq!(tls.insecure_skip_tls_verify, Some(true));
        assert_eq!(tls.insecure_transport, Some(false));

        let tls = tls_flags(&["put", "k", "v"]);
        assert_eq!(tls.cacert, None);
        assert_eq!(tls.insecure_skip_tls_verify, None);
        assert_eq!(tls.insecure_transport, None);
        // A bool flag does not swallow the key that follows it.
        let cli = Cli::try_parse_from(["ectl", "get", "--insecure-skip-tls-verify", "k"]).unwrap();
        assert_eq!(cli.global.tls.insecure_skip_tls_verify, Some(true));
        // An empty file name is kept, for etcdctl's error about it.
        assert_eq!(
            tls_flags(&["--cacert=", "get", "k"]).cacert.as_deref(),
            Some("".as_ref())
        );
    }
}
