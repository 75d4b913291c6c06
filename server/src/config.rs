//! The member's configuration: etcd's flag names and `ETCD_*` environment variables,
//! or a YAML file with etcd's config-file keys (`--config-file`), read once in `main`
//! by [`Config::load`] and passed down as this typed struct.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{CommandFactory, FromArgMatches, Parser};
use serde::{Deserialize, Deserializer};

/// The etcd version ectd reports (`/version`, `Status.version`); clients gate
/// features on it.
pub const DEFAULT_ETCD_VERSION: &str = "3.5.17";

/// Command-line flags and environment of `ectd`, named after etcd's.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "ectd",
    version,
    about = "ectd: a key-value store that speaks etcd's protocols"
)]
pub struct Config {
    /// Path to a YAML configuration file with etcd's key names. When given, the file
    /// is the only source of settings: other flags and environment variables are
    /// ignored, as in etcd. Empty, as in etcd, means no file.
    #[arg(
        long,
        env = "ETCD_CONFIG_FILE",
        value_parser = clap::builder::OsStringValueParser::new().map(PathBuf::from)
    )]
    pub config_file: Option<PathBuf>,
    /// Human-readable name of this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory (default: `<name>.etcd`).
    #[arg(long, env = "ETCD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic (gRPC and HTTP on the same port).
    #[arg(
        long,
        env = "ETCD_LISTEN_CLIENT_URLS",
        default_value = "http://localhost:2379",
        value_delimiter = ','
    )]
    pub listen_client_urls: Vec<String>,
    /// Client URLs advertised to the rest of the cluster and to clients.
    #[arg(
        long,
        env = "ETCD_ADVERTISE_CLIENT_URLS",
        default_value = "http://localhost:2379",
        value_delimiter = ','
    )]
    pub advertise_client_urls: Vec<String>,
    /// URLs to listen on for peer traffic.
    #[arg(
        long,
        env = "ETCD_LISTEN_PEER_URLS",
        default_value = "http://localhost:2380",
        value_delimiter = ','
    )]
    pub listen_peer_urls: Vec<String>,
    /// This member's peer URLs, advertised to the rest of the cluster.
    #[arg(
        long,
        env = "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://localhost:2380",
        value_delimiter = ','
    )]
    pub initial_advertise_peer_urls: Vec<String>,
    /// Initial cluster configuration, `name=peerURL,...` (default: this member alone).
    #[arg(long, env = "ETCD_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// `new` to bootstrap a cluster, `existing` to join one.
    #[arg(long, env = "ETCD_INITIAL_CLUSTER_STATE", default_value = "new")]
    pub initial_cluster_state: String,
    /// Token that keeps members of different clusters apart.
    #[arg(
        long,
        env = "ETCD_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    pub initial_cluster_token: String,
    /// Time (ms) of a heartbeat interval.
    #[arg(long, env = "ETCD_HEARTBEAT_INTERVAL", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Time (ms) for an election to time out.
    #[arg(long, env = "ETCD_ELECTION_TIMEOUT", default_value_t = 1000)]
    pub election_timeout: u64,
    /// Committed entries between snapshots of the state.
    #[arg(long, env = "ETCD_SNAPSHOT_COUNT", default_value_t = 100_000)]
    pub snapshot_count: u64,
    /// Largest client request the server accepts, in bytes.
    #[arg(long, env = "ETCD_MAX_REQUEST_BYTES", default_value_t = 1_572_864)]
    pub max_request_bytes: usize,
    /// Most operations one txn may hold.
    #[arg(long, env = "ETCD_MAX_TXN_OPS", default_value_t = 128)]
    pub max_txn_ops: usize,
    /// Log level: debug, info, warn, error.
    #[arg(long, env = "ETCD_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format: `text` or `json`.
    #[arg(long, env = "ECTD_LOG_FORMAT", default_value = "json")]
    pub log_format: String,
    /// The etcd server version to report to clients.
    #[arg(long, env = "ECTD_ETCD_VERSION", default_value = DEFAULT_ETCD_VERSION)]
    pub etcd_version: String,
}

/// A configuration error, reported before anything starts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the configuration as etcd does: from the command line and `ETCD_*`
    /// environment variables (flags win), or, when `--config-file` (or
    /// `ETCD_CONFIG_FILE`) names a file, from that file alone, every other flag and
    /// environment variable being ignored. Help, version and malformed flags are
    /// printed and end the process, as with [`Parser::parse`].
    pub fn load() -> Result<Config, ConfigError> {
        match Self::load_from(std::env::args_os()) {
            Ok(cfg) => Ok(cfg),
            Err(LoadError::Usage(e)) => e.exit(),
            Err(LoadError::Config(e)) => Err(e),
        }
    }

    /// [`Config::load`] over the given arguments (the first is the program name).
    fn load_from<I, T>(args: I) -> Result<Config, LoadError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // Look for the config file with every environment variable but its own
        // switched off: with a file, the others are not read at all, so a stray
        // malformed ETCD_* variable cannot stop a member configured by file.
        let flags_only = Self::command()
            .mut_args(|a| {
                if a.get_id() == "config_file" {
                    a
                } else {
                    a.env(None)
                }
            })
            .try_get_matches_from(&args);
        if let Ok(matches) = flags_only {
            if let Some(path) = matches.get_one::<PathBuf>("config_file") {
                if !path.as_os_str().is_empty() {
                    return Self::from_file(path).map_err(LoadError::Config);
                }
            }
        }
        // No file (or a usage error, reported here with the environment in view).
        let mut cfg = Self::try_parse_from(&args).map_err(LoadError::Usage)?;
        cfg.config_file = None;
        Ok(cfg)
    }

    /// Reads a YAML configuration file with etcd's key names. Keys it does not set
    /// keep their defaults; keys ectd does not know are ignored, as etcd ignores
    /// them; a known key with a value of the wrong type is an error naming the key.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "--config-file: cannot read {}: {e}",
                path.display()
            ))
        })?;
        let mut cfg = Self::from_yaml(&text)
            .map_err(|e| ConfigError(format!("--config-file {}: {}", path.display(), e.0)))?;
        cfg.config_file = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// The settings in a YAML document over the defaults.
    fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let file: Option<FileConfig> =
            serde_norway::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        let mut cfg = Self::defaults();
        if let Some(file) = file {
            file.apply_to(&mut cfg);
        }
        Ok(cfg)
    }

    /// Every setting at its default: the flags' defaults, no environment.
    fn defaults() -> Config {
        let matches = Self::command()
            .mut_args(|a| a.env(None))
            .try_get_matches_from(["ectd"])
            .expect("the flags' defaults parse");
        Self::from_arg_matches(&matches).expect("the flags' defaults parse")
    }

    /// The data directory, defaulting as etcd does.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name)))
    }

    /// Tick length of the raft loop.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval)
    }

    /// Election timeout in ticks.
    pub fn election_ticks(&self) -> usize {
        (self.election_timeout / self.heartbeat_interval.max(1)) as usize
    }

    /// `(name, peer URLs)` of every initial member.
    pub fn initial_members(&self) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
        let spec = match &self.initial_cluster {
            Some(s) => s.clone(),
            None => self
                .initial_advertise_peer_urls
                .iter()
                .map(|u| format!("{}={u}", self.name))
                .collect::<Vec<_>>()
                .join(","),
        };
        let mut members: Vec<(String, Vec<String>)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, url) = part.split_once('=').ok_or_else(|| {
                ConfigError(format!("--initial-cluster: {part:?} is not name=url"))
            })?;
            parse_url(url)?;
            match members.iter_mut().find(|(n, _)| n == name) {
                Some((_, urls)) => urls.push(url.to_string()),
                None => members.push((name.to_string(), vec![url.to_string()])),
            }
        }
        Ok(members)
    }

    /// Checks the settings that must be right before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat_interval == 0 || self.election_timeout < 5 * self.heartbeat_interval {
            return Err(ConfigError(format!(
                "--election-timeout[{}ms] should be at least 5 times as --heartbeat-interval[{}ms]",
                self.election_timeout, self.heartbeat_interval
            )));
        }
        match self.initial_cluster_state.as_str() {
            "new" | "existing" => {}
            other => {
                return Err(ConfigError(format!(
                    "--initial-cluster-state: unexpected value {other:?} (want new or existing)"
                )))
            }
        }
        for u in &self.listen_client_urls {
            parse_url(u)?;
        }
        let members = self.initial_members()?;
        if !members.iter().any(|(n, _)| n == &self.name) {
            return Err(ConfigError(format!(
                "couldn't find local name {:?} in the initial cluster configuration",
                self.name
            )));
        }
        Ok(())
    }
}

/// Why [`Config::load_from`] gave no configuration.
#[derive(Debug)]
enum LoadError {
    /// Help, version, or malformed flags: clap prints it and exits.
    Usage(clap::Error),
    /// The configuration file could not be read or understood.
    Config(ConfigError),
}

/// A configuration file, with etcd's key names. URL lists are comma-separated
/// strings, as etcd reads them; an empty or null value leaves the default in place.
#[derive(Deserialize, Debug, Default)]
#[serde(
    rename_all = "kebab-case",
    expecting = "a mapping of etcd configuration keys"
)]
struct FileConfig {
    name: Option<String>,
    data_dir: Option<String>,
    listen_client_urls: Option<UrlList>,
    advertise_client_urls: Option<UrlList>,
    listen_peer_urls: Option<UrlList>,
    initial_advertise_peer_urls: Option<UrlList>,
    initial_cluster: Option<String>,
    initial_cluster_state: Option<String>,
    initial_cluster_token: Option<String>,
    heartbeat_interval: Option<u64>,
    election_timeout: Option<u64>,
    snapshot_count: Option<u64>,
    max_request_bytes: Option<usize>,
    max_txn_ops: Option<usize>,
    log_level: Option<String>,
    log_format: Option<String>,
    etcd_version: Option<String>,
}

impl FileConfig {
    fn apply_to(self, cfg: &mut Config) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        fn text(value: Option<String>) -> Option<String> {
            value.filter(|v| !v.trim().is_empty())
        }
        fn urls(value: Option<UrlList>) -> Option<Vec<String>> {
            value.map(|l| l.0).filter(|l| !l.is_empty())
        }
        set(&mut cfg.name, text(self.name));
        if let Some(dir) = text(self.data_dir) {
            cfg.data_dir = Some(PathBuf::from(dir));
        }
        set(&mut cfg.listen_client_urls, urls(self.listen_client_urls));
        set(
            &mut cfg.advertise_client_urls,
            urls(self.advertise_client_urls),
        );
        set(&mut cfg.listen_peer_urls, urls(self.listen_peer_urls));
        set(
            &mut cfg.initial_advertise_peer_urls,
            urls(self.initial_advertise_peer_urls),
        );
        if let Some(spec) = text(self.initial_cluster) {
            cfg.initial_cluster = Some(spec);
        }
        set(
            &mut cfg.initial_cluster_state,
            text(self.initial_cluster_state),
        );
        set(
            &mut cfg.initial_cluster_token,
            text(self.initial_cluster_token),
        );
        set(&mut cfg.heartbeat_interval, self.heartbeat_interval);
        set(&mut cfg.election_timeout, self.election_timeout);
        set(&mut cfg.snapshot_count, self.snapshot_count);
        set(&mut cfg.max_request_bytes, self.max_request_bytes);
        set(&mut cfg.max_txn_ops, self.max_txn_ops);
        set(&mut cfg.log_level, text(self.log_level));
        set(&mut cfg.log_format, text(self.log_format));
        set(&mut cfg.etcd_version, text(self.etcd_version));
    }
}

/// A comma-separated list of URLs, as etcd's config file writes them
/// (`listen-client-urls: http://10.0.0.1:2379,http://127.0.0.1:2379`).
#[derive(Debug)]
struct UrlList(Vec<String>);

impl<'de> Deserialize<'de> for UrlList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = UrlList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a comma-separated string of URLs")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<UrlList, E> {
                Ok(UrlList(
                    s.split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(String::from)
                        .collect(),
                ))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// Parses `http://host:port` into a socket address (`localhost` = 127.0.0.1).
pub fn parse_url(url: &str) -> Result<SocketAddr, ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ConfigError(format!("URL scheme must be http: {url:?}")))?;
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.replacen("localhost", "127.0.0.1", 1);
    hostport
        .parse()
        .map_err(|_| ConfigError(format!("expected http://IP:port, got {url:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Parsing reads the process environment; tests that parse, or set `ETCD_*`
    /// variables, hold this lock so they never see each other's variables.
    static ENV: Mutex<()> = Mutex::new(());

    fn env_lock() -> std::sync::MutexGuard<'static, ()> {
        ENV.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn yaml(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text)
    }

    fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(args: &[&str]) -> Result<Config, LoadError> {
        Config::load_from(std::iter::once("ectd").chain(args.iter().copied()))
    }

    #[test]
    fn reads_etcd_keys_from_yaml() {
        let cfg = yaml(
            "
# etcd's configuration file keys
name: m1
data-dir: /var/lib/ectd/m1.etcd
listen-client-urls: http://192.0.2.11:2379,http://127.0.0.1:2379
advertise-client-urls: http://192.0.2.11:2379
listen-peer-urls: http://192.0.2.11:2380
initial-advertise-peer-urls: http://192.0.2.11:2380
initial-cluster: m1=http://192.0.2.11:2380,m2=http://192.0.2.12:2380,m3=http://192.0.2.13:2380
initial-cluster-state: existing
initial-cluster-token: prod-1
heartbeat-interval: 50
election-timeout: 500
snapshot-count: 5000
max-request-bytes: 2097152
max-txn-ops: 256
log-level: debug
log-format: text
etcd-version: 3.4.30
",
        )
        .unwrap();
        assert_eq!(cfg.name, "m1");
        assert_eq!(cfg.data_dir(), PathBuf::from("/var/lib/ectd/m1.etcd"));
        assert_eq!(
            cfg.listen_client_urls,
            ["http://192.0.2.11:2379", "http://127.0.0.1:2379"]
        );
        assert_eq!(cfg.advertise_client_urls, ["http://192.0.2.11:2379"]);
        assert_eq!(cfg.listen_peer_urls, ["http://192.0.2.11:2380"]);
        assert_eq!(cfg.initial_advertise_peer_urls, ["http://192.0.2.11:2380"]);
        let members = cfg.initial_members().unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["m1", "m2", "m3"]);
        assert_eq!(cfg.initial_cluster_state, "existing");
        assert_eq!(cfg.initial_cluster_token, "prod-1");
        assert_eq!(cfg.heartbeat_interval, 50);
        assert_eq!(cfg.election_timeout, 500);
        assert_eq!(cfg.snapshot_count, 5000);
        assert_eq!(cfg.max_request_bytes, 2_097_152);
        assert_eq!(cfg.max_txn_ops, 256);
        assert_eq!(cfg.log_level, "debug");
        assert_eq!(cfg.log_format, "text");
        assert_eq!(cfg.etcd_version, "3.4.30");
        assert_eq!(cfg.election_ticks(), 10);
    }

    #[test]
    fn keys_left_out_keep_the_flag_defaults() {
        let _env = env_lock();
        let from_flags = Config::try_parse_from(["ectd"]).unwrap();
        for text in ["", "# nothing but a comment\n", "name:\ndata-dir: ''\n"] {
            let cfg = yaml(text).unwrap();
            assert_eq!(cfg.name, "default");
            assert_eq!(cfg.data_dir(), PathBuf::from("default.etcd"));
            assert_eq!(cfg.listen_client_urls, ["http://localhost:2379"]);
            assert_eq!(cfg.advertise_client_urls, ["http://localhost:2379"]);
            assert_eq!(cfg.listen_peer_urls, ["http://localhost:2380"]);
            assert_eq!(cfg.initial_advertise_peer_urls, ["http://localhost:2380"]);
            assert_eq!(cfg.initial_cluster, None);
            assert_eq!(cfg.initial_cluster_state, "new");
            assert_eq!(cfg.initial_cluster_token, "etcd-cluster");
            assert_eq!(cfg.heartbeat_interval, 100);
            assert_eq!(cfg.election_timeout, 1000);
            assert_eq!(cfg.snapshot_count, 100_000);
            assert_eq!(cfg.max_request_bytes, 1_572_864);
            assert_eq!(cfg.max_txn_ops, 128);
            assert_eq!(cfg.log_level, "info");
            assert_eq!(cfg.log_format, "json");
            assert_eq!(cfg.etcd_version, DEFAULT_ETCD_VERSION);
            // The same defaults as the flags have (when no ETCD_* variable is set).
            if std::env::vars().all(|(k, _)| !k.starts_with("ETCD_") && !k.starts_with("ECTD_")) {
                assert_eq!(format!("{cfg:?}"), format!("{from_flags:?}"));
            }
        }
    }

    #[test]
    fn initial_cluster_follows_the_name_when_left_out() {
        let cfg = yaml("name: m2\ninitial-advertise-peer-urls: http://127.0.0.1:22380\n").unwrap();
        assert_eq!(
            cfg.initial_members().unwrap(),
            [("m2".to_string(), vec!["http://127.0.0.1:22380".to_string()])]
        );
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let cfg = yaml(
            "name: m1\nquota-backend-bytes: 8589934592\nclient-transport-security:\n  cert-file: /x\nauto-compaction-mode: periodic\n",
        )
        .unwrap();
        assert_eq!(cfg.name, "m1");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let cases = [
            ("heartbeat-interval: fast\n", "heartbeat-interval"),
            ("election-timeout: -1\n", "election-timeout"),
            ("snapshot-count: [1]\n", "snapshot-count"),
            ("max-request-bytes: '1MiB'\n", "max-request-bytes"),
            ("max-txn-ops: 1.5\n", "max-txn-ops"),
            ("name: {a: b}\n", "name"),
            (
                "listen-client-urls:\n  - http://127.0.0.1:2379\n",
                "listen-client-urls",
            ),
            ("initial-cluster: [m1]\n", "initial-cluster"),
        ];
        for (text, key) in cases {
            let err = yaml(text).unwrap_err().0;
            assert!(err.starts_with(&format!("{key}: ")), "{text:?}: {err}");
            assert!(err.contains("line "), "{text:?}: {err}");
        }
        let err = yaml("listen-client-urls: [http://127.0.0.1:2379]\n")
            .unwrap_err()
            .0;
        assert!(err.contains("comma-separated string of URLs"), "{err}");
        let err = yaml("- name\n- m1\n").unwrap_err().0;
        assert!(err.contains("mapping of etcd configuration keys"), "{err}");
        assert!(yaml("name: [unclosed\n").is_err());
    }

    #[test]
    fn every_flag_is_a_config_file_key() {
        // A value of the wrong type is reported under the key's name only if the
        // key is known; an unknown key would be ignored without a word.
        for arg in Config::command().get_arguments() {
            let (Some(long), true) = (arg.get_long(), arg.get_id() != "config_file") else {
                continue;
            };
            let err = yaml(&format!("{long}: {{not: a value}}\n"))
                .err()
                .unwrap_or_else(|| panic!("--{long} is not read from the config file"));
            assert!(err.0.starts_with(&format!("{long}: ")), "{long}: {}", err.0);
        }
    }

    #[test]
    fn every_flag_has_its_environment_variable() {
        let cmd = Config::command();
        let mut seen = 0;
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            // etcd's flags are ETCD_<FLAG>; ectd's own are ECTD_<FLAG>.
            let prefix = if matches!(long, "log-format" | "etcd-version") {
                "ECTD"
            } else {
                "ETCD"
            };
            let want = format!("{prefix}_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(want.as_str()),
                "--{long}"
            );
            seen += 1;
        }
        assert_eq!(seen, 18);
        let names: Vec<_> = cmd
            .get_arguments()
            .filter_map(|a| a.get_env()?.to_str().map(String::from))
            .collect();
        for name in [
            "ETCD_CONFIG_FILE",
            "ETCD_NAME",
            "ETCD_DATA_DIR",
            "ETCD_LISTEN_CLIENT_URLS",
            "ETCD_ADVERTISE_CLIENT_URLS",
            "ETCD_LISTEN_PEER_URLS",
            "ETCD_INITIAL_ADVERTISE_PEER_URLS",
            "ETCD_INITIAL_CLUSTER",
            "ETCD_INITIAL_CLUSTER_STATE",
            "ETCD_INITIAL_CLUSTER_TOKEN",
            "ETCD_HEARTBEAT_INTERVAL",
            "ETCD_ELECTION_TIMEOUT",
            "ETCD_SNAPSHOT_COUNT",
            "ETCD_MAX_REQUEST_BYTES",
            "ETCD_MAX_TXN_OPS",
            "ETCD_LOG_LEVEL",
        ] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
    }

    #[test]
    fn flags_and_environment_then_the_file_alone() {
        let _env = env_lock();
        let dir = tempfile::tempdir().unwrap();
        let file = write_file(
            dir.path(),
            "member.yaml",
            "name: from-file\nheartbeat-interval: 50\nelection-timeout: 500\n",
        );
        // The lock keeps the other parsing tests from seeing these variables.
        std::env::set_var("ETCD_NAME", "from-env");
        std::env::set_var("ETCD_SNAPSHOT_COUNT", "42");
        std::env::set_var("ETCD_MAX_TXN_OPS", "not-a-number");
        let outcome = std::panic::catch_unwind(|| {
            // Environment, with flags taking precedence over it.
            std::env::remove_var("ETCD_MAX_TXN_OPS");
            let cfg = load(&[]).unwrap();
            assert_eq!((cfg.name.as_str(), cfg.snapshot_count), ("from-env", 42));
            assert_eq!(cfg.config_file, None);
            let cfg = load(&["--name", "from-flag"]).unwrap();
            assert_eq!((cfg.name.as_str(), cfg.snapshot_count), ("from-flag", 42));

            // With a config file, flags and environment are ignored, even malformed
            // ones; defaults fill what the file leaves out.
            std::env::set_var("ETCD_MAX_TXN_OPS", "not-a-number");
            let path = file.to_str().unwrap();
            let cfg = load(&["--config-file", path, "--name", "from-flag"]).unwrap();
            assert_eq!(cfg.name, "from-file");
            assert_eq!(cfg.heartbeat_interval, 50);
            assert_eq!(cfg.snapshot_count, 100_000);
            assert_eq!(cfg.max_txn_ops, 128);
            assert_eq!(cfg.config_file.as_deref(), Some(file.as_path()));

            // An empty ETCD_CONFIG_FILE names no file.
            std::env::remove_var("ETCD_MAX_TXN_OPS");
            std::env::set_var("ETCD_CONFIG_FILE", "");
            let cfg = load(&["--snapshot-count", "7"]).unwrap();
            assert_eq!((cfg.name.as_str(), cfg.snapshot_count), ("from-env", 7));
            assert_eq!(cfg.config_file, None);

            // ETCD_CONFIG_FILE names the file as well.
            std::env::set_var("ETCD_CONFIG_FILE", &file);
            let cfg = load(&["--snapshot-count", "7"]).unwrap();
            assert_eq!(
                (cfg.name.as_str(), cfg.snapshot_count),
                ("from-file", 100_000)
            );

            // Malformed flags are still usage errors, as etcd's flag parsing is.
            assert!(matches!(
                load(&["--heartbeat-interval", "soon"]),
                Err(LoadError::Usage(_))
            ));
            assert!(matches!(
                load(&["--no-such-flag"]),
                Err(LoadError::Usage(_))
            ));
        });
        for var in [
            "ETCD_NAME",
            "ETCD_SNAPSHOT_COUNT",
            "ETCD_MAX_TXN_OPS",
            "ETCD_CONFIG_FILE",
        ] {
            std::env::remove_var(var);
        }
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    #[test]
    fn file_errors_name_the_file() {
        let _env = env_lock();
        let dir = tempfile::tempdir().unwrap();
        let bad = write_file(dir.path(), "bad.yaml", "name: m1\nmax-txn-ops: lots\n");
        let path = bad.to_str().unwrap();
        let Err(LoadError::Config(err)) = load(&["--config-file", path]) else {
            panic!("a wrongly typed key loaded");
        };
        assert!(err.0.contains(path), "{}", err.0);
        assert!(err.0.contains("max-txn-ops: invalid type"), "{}", err.0);

        let missing = dir.path().join("missing.yaml");
        let err = Config::from_file(&missing).unwrap_err().0;
        assert!(
            err.contains("missing.yaml") && err.contains("cannot read"),
            "{err}"
        );
    }

    /// `ETCD_*` lines of an environment file as the equivalent flags.
    fn env_file_args(env_file: &str) -> Vec<String> {
        let cmd = Config::command();
        let mut args = vec!["ectd".to_string()];
        for line in env_file.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (var, value) = line.split_once('=').expect("VAR=value");
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_env().and_then(|e| e.to_str()) == Some(var))
                .unwrap_or_else(|| panic!("{var} is not an ectd variable"));
            args.push(format!("--{}={value}", arg.get_long().unwrap()));
        }
        args
    }

    #[test]
    fn deploy_examples_parse_and_agree() {
        let _env = env_lock();
        let env_files = [
            include_str!("../../deploy/member1.env"),
            include_str!("../../deploy/member2.env"),
            include_str!("../../deploy/member3.env"),
        ];
        let mut clusters = Vec::new();
        for (i, env_file) in env_files.iter().enumerate() {
            let cfg = Config::try_parse_from(env_file_args(env_file)).unwrap();
            let name = format!("member{}", i + 1);
            assert_eq!(cfg.name, name);
            let members = cfg.initial_members().unwrap();
            assert_eq!(members.len(), 3);
            let own = &members.iter().find(|(n, _)| *n == name).unwrap().1;
            assert_eq!(own, &cfg.initial_advertise_peer_urls);
            assert_eq!(cfg.listen_peer_urls, cfg.initial_advertise_peer_urls);
            cfg.validate().unwrap();
            clusters.push(members);
        }
        assert!(clusters.windows(2).all(|w| w[0] == w[1]));

        // member1.yaml says what member1.env says.
        let from_yaml = Config::from_yaml(include_str!("../../deploy/member1.yaml")).unwrap();
        let from_env = Config::try_parse_from(env_file_args(env_files[0])).unwrap();
        assert_eq!(format!("{from_yaml:?}"), format!("{from_env:?}"));

        // The single-member example still starts as it is.
        let single = Config::try_parse_from(env_file_args(include_str!("../../deploy/ectd.env")));
        single.unwrap().validate().unwrap();
    }

    #[test]
    fn loaded_file_is_validated_like_flags() {
        let cfg = yaml("heartbeat-interval: 100\nelection-timeout: 200\n").unwrap();
        assert!(cfg.validate().unwrap_err().0.contains("--election-timeout"));
        let cfg = yaml("initial-cluster-state: later\n").unwrap();
        assert!(cfg.validate().is_err());
    }
}
