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
}

impl FileConfig {
    pub(super) fn apply_to(self, cfg: &mut Config) {
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
