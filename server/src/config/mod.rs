//! The member's configuration: etcd's flag names and `ETCD_*` environment variables,
//! or a YAML file with etcd's config-file keys (`--config-file`), read once in `main`
//! by [`Config::load`] and passed down as this typed struct.

mod file;
mod strict;
mod tls;

pub use tls::{PortTls, TlsFlags};

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{CommandFactory, FromArgMatches, Parser};

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
    /// Path to a dedicated WAL directory (default: `<data-dir>/member/wal`), for
    /// putting the log on a disk of its own.
    #[arg(long, env = "ETCD_WAL_DIR")]
    pub wal_dir: Option<PathBuf>,
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
    /// How often watchers that asked for progress notifications and received no
    /// events get one (a Go duration such as `10m` or `500ms`).
    #[arg(
        long = "experimental-watch-progress-notify-interval",
        env = "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL",
        default_value = "10m",
        value_parser = parse_go_duration
    )]
    pub watch_progress_notify_interval: Duration,
    /// How often the leader replicates the remaining TTL of every lease, so a
    /// restarted cluster resumes them instead of granting the full TTL again. Leader
    /// changes preserve remaining TTLs regardless (keep-alives are replicated).
    #[arg(
        long = "experimental-lease-checkpoint-interval",
        env = "ETCD_EXPERIMENTAL_LEASE_CHECKPOINT_INTERVAL",
        default_value = "5m",
        value_parser = parse_go_duration
    )]
    pub lease_checkpoint_interval: Duration,
    /// Accepted for compatibility with etcd: ectd always checkpoints leases.
    #[arg(
        long = "experimental-enable-lease-checkpoint",
        env = "ETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub enable_lease_checkpoint: bool,
    /// Bytes the backend may hold before writes are refused and the NOSPACE alarm
    /// is raised (the size counted is the database's real size on disk). 0 means
    /// etcd's default, 2 GiB; a negative value disables the quota, as in etcd;
    /// more than 8 GiB is used, with a warning.
    #[arg(
        long,
        env = "ETCD_QUOTA_BACKEND_BYTES",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub quota_backend_bytes: i64,
    /// Before serving, a member that has run before compares the hash of its
    /// keyspace with its peers' and refuses to start if one differs at the same
    /// revision and compact revision.
    #[arg(
        long = "experimental-initial-corrupt-check",
        env = "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub initial_corrupt_check: bool,
    /// How often the leader compares every member's keyspace hash with its own
    /// and raises CORRUPT on a mismatch (a Go duration; 0 disables the check).
    #[arg(
        long = "experimental-corrupt-check-time",
        env = "ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME",
        default_value = "0s",
        value_parser = parse_go_duration
    )]
    pub corrupt_check_time: Duration,
    /// The leader compares the hashes members record at each compaction and
    /// raises CORRUPT on a mismatch (etcd 3.5's compaction-hash check).
    #[arg(
        long = "experimental-compact-hash-check-enabled",
        env = "ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub compact_hash_check_enabled: bool,
    /// How often the leader runs the compaction-hash check (a Go duration; must
    /// be above 0).
    #[arg(
        long = "experimental-compact-hash-check-time",
        env = "ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_TIME",
        default_value = "1m",
        value_parser = parse_go_duration
    )]
    pub compact_hash_check_time: Duration,
    /// How `--auto-compaction-retention` is read: `periodic` (a duration, or hours
    /// when a bare integer) or `revision` (a number of revisions to keep).
    #[arg(
        long = "auto-compaction-mode",
        env = "ETCD_AUTO_COMPACTION_MODE",
        default_value = "periodic"
    )]
    pub auto_compaction_mode: String,
    /// How much history the leader keeps when compacting on its own: `0` (the
    /// default) turns automatic compaction off.
    #[arg(
        long = "auto-compaction-retention",
        env = "ETCD_AUTO_COMPACTION_RETENTION",
        default_value = "0"
    )]
    pub auto_compaction_retention: String,
    /// Most revisions the physical part of a compaction examines per batch.
    #[arg(
        long = "experimental-compaction-batch-limit",
        env = "ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT",
        default_value_t = 1000
    )]
    pub compaction_batch_limit: usize,
    /// Pause between two batches of a compaction (a Go duration; 0 = the default,
    /// 10ms).
    #[arg(
        long = "experimental-compaction-sleep-interval",
        env = "ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL",
        default_value = "10ms",
        value_parser = parse_go_duration
    )]
    pub compaction_sleep_interval: Duration,
    /// Serves etcd's v2 HTTP API (`/v2/keys`, `/v2/members`, `/v2/machines`,
    /// `/v2/stats`) on the client URLs. Off by default, as in etcd 3.4; the v2
    /// store is replicated either way, so members may differ in this setting.
    #[arg(
        long = "enable-v2",
        env = "ETCD_ENABLE_V2",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub enable_v2: bool,
    /// Restarts this member as the only member of its cluster, keeping its data
    /// and the cluster id: every other member is removed through the log, as
    /// etcd's `--force-new-cluster` does. For recovering a lone survivor; start
    /// without the flag afterwards.
    #[arg(
        long = "force-new-cluster",
        env = "ETCD_FORCE_NEW_CLUSTER",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub force_new_cluster: bool,
    /// How clients' auth tokens are made: `simple`, or
    /// `jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>[,ttl=<duration>]`.
    #[arg(long, env = "ETCD_AUTH_TOKEN", default_value = "simple")]
    pub auth_token: String,
    /// Seconds a simple token lives without being used.
    #[arg(long, env = "ETCD_AUTH_TOKEN_TTL", default_value_t = 300)]
    pub auth_token_ttl: u64,
    /// The bcrypt cost passwords are hashed with (4 to 31).
    #[arg(long, env = "ETCD_BCRYPT_COST", default_value_t = 10)]
    pub bcrypt_cost: u32,
    /// Extra URLs serving only `/metrics` and the health endpoints (`/health`,
    /// `/livez`, `/readyz`), plain HTTP/1 or HTTPS with the client certificate.
    #[arg(long, env = "ETCD_LISTEN_METRICS_URLS", value_delimiter = ',')]
    pub listen_metrics_urls: Vec<String>,
    /// `basic` or `extensive` (adds gRPC handling-time histograms).
    #[arg(
        long,
        env = "ETCD_METRICS",
        default_value = "basic",
        value_parser = parse_metrics_level
    )]
    pub metrics: crate::metrics::Level,
    /// Log level: debug, info, warn, error.
    #[arg(long, env = "ETCD_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format: `text` or `json`.
    #[arg(long, env = "ECTD_LOG_FORMAT", default_value = "json")]
    pub log_format: String,
    /// The etcd server version to report to clients.
    #[arg(long, env = "ECTD_ETCD_VERSION", default_value = DEFAULT_ETCD_VERSION)]
    pub etcd_version: String,
    /// TLS on the client and peer ports.
    #[command(flatten)]
    pub tls: TlsFlags,
    /// Settings given but ignored because they ask for nothing ectd does not do;
    /// logged at start.
    #[arg(skip)]
    pub ignored: Vec<String>,
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
        let known: Vec<String> = Self::command()
            .get_arguments()
            .filter_map(|a| a.get_env()?.to_str().map(String::from))
            .collect();
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())));
        cfg.ignored = strict::check_env(env, &known).map_err(LoadError::Config)?;
        Ok(cfg)
    }

    /// Reads a YAML configuration file with etcd's key names. Keys it does not set
    /// keep their defaults; a key ectd does not implement is refused by name unless
    /// its value asks for nothing (then it is noted in [`Config::ignored`]); a known
    /// key with a value of the wrong type is an error naming the key.
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
        let ignored = strict::check_file_keys(text, file::KEYS, file::NESTED_KEYS)?;
        let file: Option<file::FileConfig> =
            serde_norway::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        let mut cfg = Self::defaults();
        if let Some(file) = file {
            file.apply_to(&mut cfg)?;
        }
        cfg.ignored = ignored;
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

    /// The WAL directory: `--wal-dir`, else `<data-dir>/member/wal`.
    pub fn wal_dir(&self) -> PathBuf {
        self.wal_dir
            .clone()
            .unwrap_or_else(|| self.data_dir().join("member").join("wal"))
    }

    /// Tick length of the raft loop.
    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval)
    }

    /// Election timeout in ticks.
    pub fn election_ticks(&self) -> usize {
        (self.election_timeout / self.heartbeat_interval.max(1)) as usize
    }

    /// The shortest lease TTL granted, in seconds: one and a half election timeouts,
    /// rounded up, as etcd computes it (shorter requests get this TTL).
    pub fn min_lease_ttl(&self) -> i64 {
        let ticks = (3 * self.election_ticks() as u64) / 2;
        let ms = ticks * self.heartbeat_interval;
        ms.div_ceil(1000).max(1) as i64
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

    /// The automatic compaction `--auto-compaction-mode` and
    /// `--auto-compaction-retention` ask for (`None` = off), read as etcd reads them.
    pub fn auto_compaction(&self) -> Result<Option<crate::server::AutoCompaction>, ConfigError> {
        crate::server::AutoCompaction::parse(
            &self.auto_compaction_mode,
            &self.auto_compaction_retention,
        )
        .map_err(ConfigError)
    }

    /// How the compactor paces the physical part of compactions.
    pub fn compactor_settings(&self) -> crate::mvcc::CompactorSettings {
        let default = crate::mvcc::CompactorSettings::default();
        crate::mvcc::CompactorSettings {
            batch_limit: if self.compaction_batch_limit == 0 {
                default.batch_limit
            } else {
                self.compaction_batch_limit
            },
            sleep: if self.compaction_sleep_interval.is_zero() {
                default.sleep
            } else {
                self.compaction_sleep_interval
            },
        }
    }

    /// The auth token provider `--auth-token` and `--auth-token-ttl` describe.
    pub fn auth_tokens(&self) -> Result<crate::auth::token::Tokens, ConfigError> {
        crate::auth::options::tokens(&self.auth_token, Duration::from_secs(self.auth_token_ttl))
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
        for u in self.listen_client_urls.iter().chain(&self.listen_peer_urls) {
            listen_addr(u)?;
        }
        for u in &self.listen_metrics_urls {
            listen_addr(u).map_err(|e| ConfigError(format!("--listen-metrics-urls: {}", e.0)))?;
        }
        for u in self
            .advertise_client_urls
            .iter()
            .chain(&self.initial_advertise_peer_urls)
        {
            parse_url(u)?;
        }
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(ConfigError(format!(
                "--bcrypt-cost: {} is outside 4 to 31",
                self.bcrypt_cost
            )));
        }
        self.auth_tokens()?;
        self.auto_compaction()?;
        if self.compact_hash_check_time.is_zero() {
            return Err(ConfigError(
                "--experimental-compact-hash-check-time must be >0 (set to 0s)".into(),
            ));
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

/// Parses `--metrics`.
pub fn parse_metrics_level(text: &str) -> Result<crate::metrics::Level, String> {
    text.parse()
}

/// Parses a Go duration (`300ms`, `1.5s`, `10m`, `1h30m`; units ns, us, ms, s, m, h).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {text:?}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += value * nanos_per;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_nanos(total as u64))
}

/// A member URL from the configuration or a membership request:
/// `http[s]://host:port`, the host an IP address (IPv6 in brackets) or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberUrl {
    /// Whether the scheme is `https`.
    pub tls: bool,
    /// The host as written, without brackets.
    pub host: String,
    /// The port.
    pub port: u16,
}

/// Parses `http[s]://host:port[/]`.
pub fn parse_url(url: &str) -> Result<MemberUrl, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "expected http://host:port or https://host:port, got {url:?}"
        ))
    };
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(ConfigError(format!(
            "URL scheme must be http or https: {url:?}"
        )));
    };
    let hostport = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = hostport.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => {
            let v6 = v6.strip_suffix(']').ok_or_else(bad)?;
            v6.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            v6
        }
        None => host,
    };
    let name_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !name_ok || (host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err()) {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok(MemberUrl {
        tls,
        host: host.to_string(),
        port,
    })
}

/// The address to bind for a listen URL, and whether it serves TLS. As in etcd,
/// the host must be an IP address (or `localhost`): a listener does not resolve
/// names.
pub fn listen_addr(url: &str) -> Result<(SocketAddr, bool), ConfigError> {
    let u = parse_url(url)?;
    let ip: std::net::IpAddr = if u.host == "localhost" {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        u.host.parse().map_err(|_| {
            ConfigError(format!(
                "expected IP in URL for binding ({url}); listen URLs take IP addresses"
            ))
        })?
    };
    Ok((SocketAddr::new(ip, u.port), u.tls))
}

#[cfg(test)]
mod tests;
