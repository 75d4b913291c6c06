//! Global settings: command-line flags, falling back to etcdctl's `ETCDCTL_*`
//! environment variables, falling back to etcdctl's defaults.

use std::path::PathBuf;
use std::time::Duration;

use ectd_client::TlsOptions;

use super::args::{GlobalArgs, Secret};
use super::duration::parse_duration;
use super::exit::CtlError;
use super::gostr::parse_bool;
use super::login::Login;

/// The effective global settings of one ectl run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Endpoints to dial, in order.
    pub endpoints: Vec<String>,
    /// The `--write-out` value, not yet validated (etcdctl reports an
    /// unsupported format only once a command has checked its arguments).
    pub write_out: String,
    /// Whether simple output shows keys and values hex-escaped.
    pub hex: bool,
    /// How long to keep trying to connect.
    pub dial_timeout: Duration,
    /// How long one request may take.
    pub command_timeout: Duration,
    /// `ETCDCTL_WATCH_KEY`: the key `watch` watches when none is given on
    /// the command line (empty when unset).
    pub watch_key: String,
    /// `ETCDCTL_WATCH_RANGE_END`: the end of the range `watch` watches
    /// along with `watch_key` (empty when unset).
    pub watch_range_end: String,
    /// Transport security.
    pub tls: TlsSettings,
    /// Whom to log in as (`--user`, `--password`).
    pub login: Login,
}

impl Settings {
    /// Merges flags with the environment as etcdctl does: a variable fills
    /// in a flag that was not given; a variable that is set (non-empty)
    /// together with its flag is an error, so that a stale environment
    /// cannot silently disagree with the command line; values the variable
    /// cannot be parsed into are ignored.
    pub fn resolve(
        global: &GlobalArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, CtlError> {
        let lookup =
            |name: &str, given_on_command_line: bool| -> Result<Option<String>, CtlError> {
                let value = env(name).filter(|value| !value.is_empty());
                if value.is_some() && given_on_command_line {
                    return Err(CtlError::error(format!(
                        "conflicting environment variable \"{name}\" is shadowed by corresponding \
                     command-line flag (either unset environment variable or disable flag)"
                    )));
                }
                Ok(value)
            };

        let endpoints = match &global.endpoints {
            Some(endpoints) => endpoints.clone(),
            None => lookup("ETCDCTL_ENDPOINTS", false)?
                .map(|value| value.split(',').map(str::to_string).collect())
                .unwrap_or_else(|| vec!["127.0.0.1:2379".to_string()]),
        };
        lookup("ETCDCTL_ENDPOINTS", global.endpoints.is_some())?;

        let write_out = match &global.write_out {
            Some(format) => format.clone(),
            None => lookup("ETCDCTL_WRITE_OUT", false)?.unwrap_or_else(|| "simple".to_string()),
        };
        lookup("ETCDCTL_WRITE_OUT", global.write_out.is_some())?;

        let hex = match global.hex {
            Some(hex) => hex,
            None => lookup("ETCDCTL_HEX", false)?
                .and_then(|value| parse_bool(&value).ok())
                .unwrap_or(false),
        };
        lookup("ETCDCTL_HEX", global.hex.is_some())?;

        let dial_timeout = match global.dial_timeout {
            Some(timeout) => timeout,
            None => lookup("ETCDCTL_DIAL_TIMEOUT", false)?
                .and_then(|value| parse_duration(&value).ok())
                .unwrap_or(Duration::from_secs(2)),
        };
        lookup("ETCDCTL_DIAL_TIMEOUT", global.dial_timeout.is_some())?;

        let command_timeout = match global.command_timeout {
            Some(timeout) => timeout,
            None => lookup("ETCDCTL_COMMAND_TIMEOUT", false)?
                .and_then(|value| parse_duration(&value).ok())
                .unwrap_or(Duration::from_secs(5)),
        };
        lookup("ETCDCTL_COMMAND_TIMEOUT", global.command_timeout.is_some())?;

        let path = |flag: &Option<PathBuf>, name: &str| -> Result<Option<PathBuf>, CtlError> {
            let from_env = lookup(name, flag.is_some())?;
            Ok(flag.clone().or(from_env.map(PathBuf::from)))
        };
        let flag = |flag: Option<bool>, name: &str, default: bool| -> Result<bool, CtlError> {
            let from_env = lookup(name, flag.is_some())?.and_then(|value| parse_bool(&value).ok());
            Ok(flag.or(from_env).unwrap_or(default))
        };
        let tls_args = &global.tls;
        let tls = TlsSettings {
            cacert: path(&tls_args.cacert, "ETCDCTL_CACERT")?,
            cert: path(&tls_args.cert, "ETCDCTL_CERT")?,
            key: path(&tls_args.key, "ETCDCTL_KEY")?,
            insecure_skip_tls_verify: flag(
                tls_args.insecure_skip_tls_verify,
                "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
                false,
            )?,
            insecure_transport: flag(
                tls_args.insecure_transport,
                "ETCDCTL_INSECURE_TRANSPORT",
                true,
            )?,
        };

        let secret = |flag: &Option<Secret>, name: &str| -> Result<Option<String>, CtlError> {
            let from_env = lookup(name, flag.is_some())?;
            Ok(flag.as_ref().map(|secret| secret.0.clone()).or(from_env))
        };
        let user = secret(&global.user, "ETCDCTL_USER")?;
        let password = secret(&global.password, "ETCDCTL_PASSWORD")?;
        let login = Login::from_flags(user.as_deref(), password.as_deref());

        Ok(Settings {
            endpoints,
            write_out,
            hex,
            dial_timeout,
            command_timeout,
            watch_key: env("ETCDCTL_WATCH_KEY").unwrap_or_default(),
            watch_range_end: env("ETCDCTL_WATCH_RANGE_END").unwrap_or_default(),
            tls,
            login,
        })
    }
}

/// The transport-security settings, as etcdctl reads its `--cacert`,
/// `--cert`, `--key`, `--insecure-skip-tls-verify` and
/// `--insecure-transport` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates that sign the servers' certificates.
    pub cacert: Option<PathBuf>,
    /// The client certificate.
    pub cert: Option<PathBuf>,
    /// The client certificate's key.
    pub key: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure_skip_tls_verify: bool,
    /// Plaintext unless a certificate flag asks for TLS (etcdctl's
    /// default); `false` asks for TLS without any.
    pub insecure_transport: bool,
}

impl Default for TlsSettings {
    fn default() -> TlsSettings {
        TlsSettings {
            cacert: None,
            cert: None,
            key: None,
            insecure_skip_tls_verify: false,
            insecure_transport: true,
        }
    }
}

impl TlsSettings {
    /// How to reach `endpoints`: `None` for plaintext, or the TLS options.
    ///
    /// As in etcdctl, `host:port` endpoints use TLS when any certificate
    /// flag is given or `--insecure-transport=false`, `https://` endpoints
    /// always do and `http://` endpoints never do (the client library
    /// applies the last two per endpoint). `--insecure-skip-tls-verify`
    /// alone does not turn TLS on. Without a system trust store, TLS needs
    /// `--cacert` or `--insecure-skip-tls-verify`.
    pub fn for_endpoints(&self, endpoints: &[String]) -> Result<Option<TlsOptions>, CtlError> {
        let any_https = endpoints.iter().any(|endpoint| {
            endpoint
                .trim()
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        });
        let asked_for = self.cacert.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || !self.insecure_transport;
        if !asked_for && !any_https {
            return Ok(None);
        }
        for (flag, path) in [
            ("cert", &self.cert),
            ("key", &self.key),
            ("cacert", &self.cacert),
        ] {
            if path
                .as_ref()
                .is_some_and(|path| path.as_os_str().is_empty())
            {
                return Err(CtlError::bad_args(format!(
                    "empty string is passed to --{flag} option"
                )));
            }
        }
        if self.cert.is_some() != self.key.is_some() {
            let show = |path: &Option<PathBuf>| {
                path.as_ref()
                    .map(|path| path.display().to_string())
                    .unwrap_or_default()
            };
            return Err(CtlError::bad_args(format!(
                "KeyFile and CertFile must both be present[key: {}, cert: {}]",
                show(&self.key),
                show(&self.cert)
            )));
        }
        if self.cacert.is_none() && !self.insecure_skip_tls_verify {
            return Err(CtlError::error(
                "TLS needs --cacert to verify the server's certificate (ectl does not use the \
                 system trust store), or --insecure-skip-tls-verify to skip verification",
            ));
        }
        Ok(Some(TlsOptions {
            ca_file: self.cacert.clone(),
            cert_file: self.cert.clone(),
            key_file: self.key.clone(),
            insecure_skip_verify: self.insecure_skip_tls_verify,
            server_name: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::TlsArgs;
    use super::*;

    fn no_flags() -> GlobalArgs {
        GlobalArgs {
            endpoints: None,
            write_out: None,
            hex: None,
            dial_timeout: None,
            command_timeout: None,
            user: None,
            password: None,
            tls: TlsArgs::default(),
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn defaults_match_etcdctl() {
        let settings = Settings::resolve(&no_flags(), env_of(&[])).unwrap();
        assert_eq!(settings.endpoints, vec!["127.0.0.1:2379".to_string()]);
        assert_eq!(settings.write_out, "simple");
        assert!(!settings.hex);
        assert_eq!(settings.dial_timeout, Duration::from_secs(2));
        assert_eq!(settings.command_timeout, Duration::from_secs(5));
        assert_eq!(settings.watch_key, "");
    }

    #[test]
    fn environment_fills_in() {
        let env = env_of(&[
            ("ETCDCTL_ENDPOINTS", "a:1,b:2"),
            ("ETCDCTL_WRITE_OUT", "json"),
            ("ETCDCTL_HEX", "true"),
            ("ETCDCTL_DIAL_TIMEOUT", "3s"),
            ("ETCDCTL_COMMAND_TIMEOUT", "not-a-duration"),
            ("ETCDCTL_WATCH_KEY", "wk"),
        ]);
        let settings = Settings::resolve(&no_flags(), env).unwrap();
        assert_eq!(
            settings.endpoints,
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        assert_eq!(settings.write_out, "json");
        assert!(settings.hex);
        assert_eq!(settings.dial_timeout, Duration::from_secs(3));
        assert_eq!(settings.command_timeout, Duration::from_secs(5));
        assert_eq!(settings.watch_key, "wk");
        assert_eq!(settings.watch_range_end, "");
    }

    #[test]
    fn flag_and_environment_conflict() {
        let mut flags = no_flags();
        flags.endpoints = Some(vec!["x:1".to_string()]);
        let err = Settings::resolve(&flags, env_of(&[("ETCDCTL_ENDPOINTS", "a:1")])).unwrap_err();
        assert_eq!(err.code, 1);
        assert!(err.message.contains("\"ETCDCTL_ENDPOINTS\" is shadowed"));
        // An empty variable does not count as set.
        assert!(Settings::resolve(&flags, env_of(&[("ETCDCTL_ENDPOINTS", "")])).is_ok());
    }

    #[test]
    fn login_from_flags_and_environment() {
        use ectd_client::Credentials;
        let settings = Settings::resolve(&no_flags(), env_of(&[])).unwrap();
        assert_eq!(settings.login, Login::Anonymous);
        let env = env_of(&[("ETCDCTL_USER", "root:pw")]);
        let settings = Settings::resolve(&no_flags(), env).unwrap();
        assert_eq!(
            settings.login,
            Login::Password(Credentials::new("root", "pw"))
        );
        let env = env_of(&[("ETCDCTL_USER", "root"), ("ETCDCTL_PASSWORD", "a:b")]);
        let settings = Settings::resolve(&no_flags(), env).unwrap();
        assert_eq!(
            settings.login,
            Login::Password(Credentials::new("root", "a:b"))
        );
        let mut flags = no_flags();
        flags.user = Some(Secret("alice".into()));
        let settings = Settings::resolve(&flags, env_of(&[])).unwrap();
        assert_eq!(
            settings.login,
            Login::Prompt {
                user: "alice".into()
            }
        );
        let err = Settings::resolve(&flags, env_of(&[("ETCDCTL_USER", "bob:pw")])).unwrap_err();
        assert!(
            err.message.contains("\"ETCDCTL_USER\" is shadowed"),
            "{}",
            err.message
        );
        // Nothing of a password shows in the settings' Debug.
        flags.password = Some(Secret("s3cret".into()));
        let settings = Settings::resolve(&flags, env_of(&[])).unwrap();
        assert!(!format!("{settings:?} {flags:?}").contains("s3cret"));
    }

    fn endpoints(list: &[&str]) -> Vec<String> {
        list.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn tls_from_flags_and_environment() {
        let settings = Settings::resolve(&no_flags(), env_of(&[])).unwrap();
        assert_eq!(settings.tls, TlsSettings::default());
        assert!(settings.tls.insecure_transport);

        let env = env_of(&[
            ("ETCDCTL_CACERT", "/certs/ca.pem"),
            ("ETCDCTL_CERT", "/certs/client.pem"),
            ("ETCDCTL_KEY", "/certs/client.key"),
            ("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true"),
            ("ETCDCTL_INSECURE_TRANSPORT", "false"),
        ]);
        let tls = Settings::resolve(&no_flags(), env).unwrap().tls;
        assert_eq!(tls.cacert, Some(PathBuf::from("/certs/ca.pem")));
        assert_eq!(tls.cert, Some(PathBuf::from("/certs/client.pem")));
        assert_eq!(tls.key, Some(PathBuf::from("/certs/client.key")));
        assert!(tls.insecure_skip_tls_verify);
        assert!(!tls.insecure_transport);

        // Unparseable booleans are ignored, as etcdctl ignores them.
        let env = env_of(&[("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "yes")]);
        assert!(
            !Settings::resolve(&no_flags(), env)
                .unwrap()
                .tls
                .insecure_skip_tls_verify
        );

        let mut flags = no_flags();
        flags.tls.cacert = Some(PathBuf::from("ca.pem"));
        let err =
            Settings::resolve(&flags, env_of(&[("ETCDCTL_CACERT", "other.pem")])).unwrap_err();
        assert!(
            err.message.contains("\"ETCDCTL_CACERT\" is shadowed"),
            "{}",
            err.message
        );
    }

    #[test]
    fn when_tls_is_used() {
        let plain = TlsSettings::default();
        assert_eq!(
            plain.for_endpoints(&endpoints(&["127.0.0.1:2379"])),
            Ok(None)
        );
        // Skipping verification alone does not ask for TLS, as in etcdctl.
        let skip = TlsSettings {
            insecure_skip_tls_verify: true,
            ..TlsSettings::default()
        };
        assert_eq!(
            skip.for_endpoints(&endpoints(&["localhost:2379"])),
            Ok(None)
        );
        let options = skip
            .for_endpoints(&endpoints(&["HTTPS://localhost:2379"]))
            .unwrap()
            .unwrap();
        assert!(options.insecure_skip_verify);

        let with_ca = TlsSettings {
            cacert: Some(PathBuf::from("ca.pem")),
            ..TlsSettings::default()
        };
        let options = with_ca
            .for_endpoints(&endpoints(&["a:1"]))
            .unwrap()
            .unwrap();
        assert_eq!(options.ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!((options.cert_file, options.key_file), (None, None));
    }

    #[test]
    fn tls_mistakes_in_etcdctl_words() {
        let ep = endpoints(&["a:1"]);
        let only_cert = TlsSettings {
            cacert: Some(PathBuf::from("ca.pem")),
            cert: Some(PathBuf::from("client.pem")),
            ..TlsSettings::default()
        };
        let err = only_cert.for_endpoints(&ep).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                128,
                "KeyFile and CertFile must both be present[key: , cert: client.pem]"
            )
        );
        let empty = TlsSettings {
            cacert: Some(PathBuf::new()),
            ..TlsSettings::default()
        };
        let err = empty.for_endpoints(&ep).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, "empty string is passed to --cacert option")
        );
        let no_ca = TlsSettings {
            insecure_transport: false,
            ..TlsSettings::default()
        };
        let err = no_ca.for_endpoints(&ep).unwrap_err();
        assert_eq!(err.code, 1);
        assert!(err.message.contains("--cacert"), "{}", err.message);
        let https = TlsSettings::default()
            .for_endpoints(&endpoints(&["https://a:1"]))
            .unwrap_err();
        assert!(https.message.contains("--cacert"), "{}", https.message);
    }
}
