//! Global settings: command-line flags, falling back to etcdctl's `ETCDCTL_*`
//! environment variables, falling back to etcdctl's defaults.

use std::time::Duration;

use super::args::GlobalArgs;
use super::duration::parse_duration;
use super::exit::CtlError;
use super::gostr::parse_bool;

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

        Ok(Settings {
            endpoints,
            write_out,
            hex,
            dial_timeout,
            command_timeout,
            watch_key: env("ETCDCTL_WATCH_KEY").unwrap_or_default(),
            watch_range_end: env("ETCDCTL_WATCH_RANGE_END").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_flags() -> GlobalArgs {
        GlobalArgs {
            endpoints: None,
            write_out: None,
            hex: None,
            dial_timeout: None,
            command_timeout: None,
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
}
