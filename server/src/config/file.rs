//! etcd's configuration file: YAML with etcd's key names, laid over the flags'
//! defaults.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::Config;

/// A configuration file, with etcd's key names. URL lists are comma-separated
/// strings, as etcd reads them; an empty or null value leaves the default in place.
#[derive(Deserialize, Debug, Default)]
#[serde(
    rename_all = "kebab-case",
    expecting = "a mapping of etcd configuration keys"
)]
pub(super) struct FileConfig {
    name: Option<String>,
    data_dir: Option<String>,
    wal_dir: Option<String>,
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
    /// Nanoseconds, as etcd writes durations in its file.
    experimental_watch_progress_notify_interval: Option<u64>,
    /// Nanoseconds.
    experimental_lease_checkpoint_interval: Option<u64>,
    experimental_enable_lease_checkpoint: Option<bool>,
    quota_backend_bytes: Option<i64>,
    experimental_initial_corrupt_check: Option<bool>,
    /// Nanoseconds.
    experimental_corrupt_check_time: Option<u64>,
    experimental_compact_hash_check_enabled: Option<bool>,
    /// Nanoseconds.
    experimental_compact_hash_check_time: Option<u64>,
    auto_compaction_mode: Option<String>,
    /// A string, or a bare integer (hours or revisions), as etcd accepts it.
    auto_compaction_retention: Option<Retention>,
    experimental_compaction_batch_limit: Option<usize>,
    /// Nanoseconds.
    experimental_compaction_sleep_interval: Option<u64>,
    enable_v2: Option<bool>,
    force_new_cluster: Option<bool>,
    auth_token: Option<String>,
    auth_token_ttl: Option<u64>,
    bcrypt_cost: Option<u32>,
    listen_metrics_urls: Option<UrlList>,
    metrics: Option<String>,
    client_transport_security: Option<TransportSecurity>,
    peer_transport_security: Option<TransportSecurity>,
    cipher_suites: Option<Vec<String>>,
    tls_min_version: Option<String>,
    tls_max_version: Option<String>,
    self_signed_cert_validity: Option<u32>,
}

/// `client-transport-security` / `peer-transport-security`, as etcd nests them.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case")]
struct TransportSecurity {
    cert_file: Option<String>,
    key_file: Option<String>,
    trusted_ca_file: Option<String>,
    client_cert_auth: Option<bool>,
    auto_tls: Option<bool>,
    /// Peer only.
    allowed_cn: Option<String>,
    /// Peer only.
    allowed_hostname: Option<String>,
}

/// The top-level keys ectd reads from a config file.
pub(super) const KEYS: &[&str] = &[
    "name",
    "data-dir",
    "wal-dir",
    "listen-client-urls",
    "advertise-client-urls",
    "listen-peer-urls",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
    "heartbeat-interval",
    "election-timeout",
    "snapshot-count",
    "max-request-bytes",
    "max-txn-ops",
    "log-level",
    "log-format",
    "etcd-version",
    "experimental-watch-progress-notify-interval",
    "experimental-lease-checkpoint-interval",
    "experimental-enable-lease-checkpoint",
    "quota-backend-bytes",
    "experimental-initial-corrupt-check",
    "experimental-corrupt-check-time",
    "experimental-compact-hash-check-enabled",
    "experimental-compact-hash-check-time",
    "auto-compaction-mode",
    "auto-compaction-retention",
    "experimental-compaction-batch-limit",
    "experimental-compaction-sleep-interval",
    "enable-v2",
    "force-new-cluster",
    "auth-token",
    "auth-token-ttl",
    "bcrypt-cost",
    "listen-metrics-urls",
    "metrics",
    "client-transport-security",
    "peer-transport-security",
    "cipher-suites",
    "tls-min-version",
    "tls-max-version",
    "self-signed-cert-validity",
];

/// The keys ectd reads inside the transport-security sections.
pub(super) const NESTED_KEYS: &[(&str, &[&str])] = &[
    (
        "client-transport-security",
        &[
            "cert-file",
            "key-file",
            "trusted-ca-file",
            "client-cert-auth",
            "auto-tls",
        ],
    ),
    (
        "peer-transport-security",
        &[
            "cert-file",
            "key-file",
            "trusted-ca-file",
            "client-cert-auth",
            "auto-tls",
            "allowed-cn",
            "allowed-hostname",
        ],
    ),
];

impl FileConfig {
    pub(super) fn apply_to(self, cfg: &mut Config) -> Result<(), super::ConfigError> {
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
        if let Some(dir) = text(self.wal_dir) {
            cfg.wal_dir = Some(PathBuf::from(dir));
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
        set(&mut cfg.enable_v2, self.enable_v2);
        set(&mut cfg.force_new_cluster, self.force_new_cluster);
        set(&mut cfg.auth_token, text(self.auth_token));
        set(&mut cfg.auth_token_ttl, self.auth_token_ttl);
        set(&mut cfg.bcrypt_cost, self.bcrypt_cost);
        set(&mut cfg.listen_metrics_urls, urls(self.listen_metrics_urls));
        if let Some(level) = text(self.metrics) {
            cfg.metrics = super::parse_metrics_level(&level).map_err(super::ConfigError)?;
        }
        set(&mut cfg.max_request_bytes, self.max_request_bytes);
        set(&mut cfg.max_txn_ops, self.max_txn_ops);
        set(&mut cfg.log_level, text(self.log_level));
        set(&mut cfg.log_format, text(self.log_format));
        set(&mut cfg.etcd_version, text(self.etcd_version));
        let nanos = |v: Option<u64>| v.map(std::time::Duration::from_nanos);
        set(
            &mut cfg.watch_progress_notify_interval,
            nanos(self.experimental_watch_progress_notify_interval),
        );
        set(
            &mut cfg.lease_checkpoint_interval,
            nanos(self.experimental_lease_checkpoint_interval),
        );
        set(
            &mut cfg.enable_lease_checkpoint,
            self.experimental_enable_lease_checkpoint,
        );
        set(&mut cfg.quota_backend_bytes, self.quota_backend_bytes);
        set(
            &mut cfg.initial_corrupt_check,
            self.experimental_initial_corrupt_check,
        );
        set(
            &mut cfg.corrupt_check_time,
            nanos(self.experimental_corrupt_check_time),
        );
        set(
            &mut cfg.compact_hash_check_enabled,
            self.experimental_compact_hash_check_enabled,
        );
        set(
            &mut cfg.compact_hash_check_time,
            nanos(self.experimental_compact_hash_check_time),
        );
        set(
            &mut cfg.auto_compaction_mode,
            text(self.auto_compaction_mode),
        );
        set(
            &mut cfg.auto_compaction_retention,
            self.auto_compaction_retention.map(|r| r.0),
        );
        set(
            &mut cfg.compaction_batch_limit,
            self.experimental_compaction_batch_limit,
        );
        set(
            &mut cfg.compaction_sleep_interval,
            nanos(self.experimental_compaction_sleep_interval),
        );
        let tls = &mut cfg.tls;
        if let Some(c) = self.client_transport_security {
            set(&mut tls.cert_file, c.cert_file.map(Some));
            set(&mut tls.key_file, c.key_file.map(Some));
            set(&mut tls.trusted_ca_file, c.trusted_ca_file.map(Some));
            set(&mut tls.client_cert_auth, c.client_cert_auth);
            set(&mut tls.auto_tls, c.auto_tls);
        }
        if let Some(p) = self.peer_transport_security {
            set(&mut tls.peer_cert_file, p.cert_file.map(Some));
            set(&mut tls.peer_key_file, p.key_file.map(Some));
            set(&mut tls.peer_trusted_ca_file, p.trusted_ca_file.map(Some));
            set(&mut tls.peer_client_cert_auth, p.client_cert_auth);
            set(&mut tls.peer_auto_tls, p.auto_tls);
            set(&mut tls.peer_cert_allowed_cn, p.allowed_cn.map(Some));
            set(
                &mut tls.peer_cert_allowed_hostname,
                p.allowed_hostname.map(Some),
            );
        }
        set(&mut tls.cipher_suites, self.cipher_suites);
        set(
            &mut tls.tls_min_version,
            text(self.tls_min_version).map(Some),
        );
        set(
            &mut tls.tls_max_version,
            text(self.tls_max_version).map(Some),
        );
        set(
            &mut tls.self_signed_cert_validity,
            self.self_signed_cert_validity,
        );
        Ok(())
    }
}

/// `auto-compaction-retention`: etcd's file holds a string (`"1h"`, `"100"`), but a
/// bare YAML number means the same text.
#[derive(Debug)]
struct Retention(String);

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Retention;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration or a number")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Retention, E> {
                Ok(Retention(s.trim().to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Retention, E> {
                Ok(Retention(n.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Retention, E> {
                Ok(Retention(n.to_string()))
            }
        }
        d.deserialize_any(Visitor)
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
