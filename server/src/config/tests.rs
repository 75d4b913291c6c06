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
fn unsupported_keys_are_refused_by_name() {
    let err = yaml("name: m1\nenable-pprof: 'yes-please'\n").unwrap_err();
    assert!(err.0.contains("enable-pprof"), "{}", err.0);
    assert!(!err.0.contains("yes-please"), "{}", err.0);
    // Keys that ask for nothing are accepted and noted.
    let cfg = yaml("name: m1\nmax-wals: 0\nenable-v2: false\n").unwrap();
    assert_eq!(cfg.name, "m1");
    assert!(!cfg.enable_v2);
    assert_eq!(cfg.ignored.len(), 1, "{:?}", cfg.ignored);
    let cfg = yaml("name: m1\nenable-v2: true\n").unwrap();
    assert!(cfg.enable_v2);
}

#[test]
fn transport_security_is_read_from_the_file() {
    let cfg = yaml(
        "
client-transport-security:
  cert-file: /etc/ectd/server.crt
  key-file: /etc/ectd/server.key
  trusted-ca-file: /etc/ectd/ca.crt
  client-cert-auth: true
peer-transport-security:
  cert-file: /etc/ectd/peer.crt
  key-file: /etc/ectd/peer.key
  trusted-ca-file: /etc/ectd/ca.crt
  client-cert-auth: true
  allowed-cn: member
  auto-tls: false
cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
tls-min-version: TLS1.2
tls-max-version: TLS1.3
self-signed-cert-validity: 2
",
    )
    .unwrap();
    let t = &cfg.tls;
    assert_eq!(t.cert_file.as_deref(), Some("/etc/ectd/server.crt"));
    assert_eq!(t.key_file.as_deref(), Some("/etc/ectd/server.key"));
    assert_eq!(t.trusted_ca_file.as_deref(), Some("/etc/ectd/ca.crt"));
    assert!(t.client_cert_auth && t.peer_client_cert_auth);
    assert_eq!(t.peer_cert_file.as_deref(), Some("/etc/ectd/peer.crt"));
    assert_eq!(t.peer_cert_allowed_cn.as_deref(), Some("member"));
    assert_eq!(t.cipher_suites, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
    assert_eq!(t.tls_min_version.as_deref(), Some("TLS1.2"));
    assert_eq!(t.self_signed_cert_validity, 2);
    // The same settings as flags.
    let flags = Config::try_parse_from([
        "ectd",
        "--cert-file=/etc/ectd/server.crt",
        "--key-file=/etc/ectd/server.key",
        "--trusted-ca-file=/etc/ectd/ca.crt",
        "--client-cert-auth",
        "--peer-cert-file=/etc/ectd/peer.crt",
        "--peer-key-file=/etc/ectd/peer.key",
        "--peer-trusted-ca-file=/etc/ectd/ca.crt",
        "--peer-client-cert-auth=true",
        "--peer-cert-allowed-cn=member",
        "--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "--tls-min-version=TLS1.2",
        "--tls-max-version=TLS1.3",
        "--self-signed-cert-validity=2",
    ])
    .unwrap();
    assert_eq!(flags.tls, cfg.tls);
    // A TLS key etcd does not read at the top level is refused, not ignored.
    let err = yaml("cert-file: /etc/ectd/server.crt\n").unwrap_err();
    assert!(err.0.contains("cert-file"), "{}", err.0);
    let err = yaml("client-transport-security:\n  crl-file: /etc/crl.pem\n").unwrap_err();
    assert!(
        err.0.contains("client-transport-security.crl-file"),
        "{}",
        err.0
    );
}

#[test]
fn unknown_etcd_variables_stop_the_start() {
    let _env = env_lock();
    std::env::set_var("ETCD_ENABLE_PPROF", "true");
    let outcome = std::panic::catch_unwind(|| {
        let Err(LoadError::Config(err)) = load(&[]) else {
            panic!("an unsupported ETCD_* variable was accepted");
        };
        assert!(err.0.contains("ETCD_ENABLE_PPROF"), "{}", err.0);
        std::env::set_var("ETCD_ENABLE_PPROF", "false");
        let cfg = load(&[]).unwrap_or_else(|_| panic!("false asks for nothing"));
        assert_eq!(cfg.ignored.len(), 1);
    });
    std::env::remove_var("ETCD_ENABLE_PPROF");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
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
    // The TLS settings of each port nest under `client-transport-security` and
    // `peer-transport-security`, as in etcd (checked in
    // `transport_security_is_read_from_the_file`).
    let nested = [
        "cert-file",
        "key-file",
        "trusted-ca-file",
        "client-cert-auth",
        "auto-tls",
        "peer-cert-file",
        "peer-key-file",
        "peer-trusted-ca-file",
        "peer-client-cert-auth",
        "peer-auto-tls",
        "peer-cert-allowed-cn",
        "peer-cert-allowed-hostname",
    ];
    for arg in Config::command().get_arguments() {
        let (Some(long), true) = (arg.get_long(), arg.get_id() != "config_file") else {
            continue;
        };
        if nested.contains(&long) {
            continue;
        }
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
    assert_eq!(seen, 54);
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
        "ETCD_LISTEN_METRICS_URLS",
        "ETCD_METRICS",
        "ETCD_AUTH_TOKEN",
        "ETCD_AUTH_TOKEN_TTL",
        "ETCD_BCRYPT_COST",
        "ETCD_AUTO_COMPACTION_MODE",
        "ETCD_AUTO_COMPACTION_RETENTION",
        "ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT",
        "ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }
}

#[test]
fn auth_settings_are_read_and_bad_ones_refused_by_name() {
    let cfg = yaml("name: m1\nauth-token: simple\nauth-token-ttl: 60\nbcrypt-cost: 4\n").unwrap();
    assert_eq!(
        (cfg.auth_token.as_str(), cfg.auth_token_ttl, cfg.bcrypt_cost),
        ("simple", 60, 4)
    );
    cfg.validate().unwrap();
    for (file, flag) in [
        ("name: m1\nauth-token: plain\n", "--auth-token"),
        (
            "name: m1\nauth-token: jwt,sign-method=RS256\n",
            "--auth-token",
        ),
        ("name: m1\nbcrypt-cost: 3\n", "--bcrypt-cost"),
    ] {
        let err = yaml(file).unwrap().validate().unwrap_err();
        assert!(err.0.starts_with(flag), "{file}: {}", err.0);
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
        include_str!("../../../deploy/member1.env"),
        include_str!("../../../deploy/member2.env"),
        include_str!("../../../deploy/member3.env"),
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
    let from_yaml = Config::from_yaml(include_str!("../../../deploy/member1.yaml")).unwrap();
    let from_env = Config::try_parse_from(env_file_args(env_files[0])).unwrap();
    assert_eq!(format!("{from_yaml:?}"), format!("{from_env:?}"));

    // The single-member example still starts as it is.
    let single = Config::try_parse_from(env_file_args(include_str!("../../../deploy/ectd.env")));
    single.unwrap().validate().unwrap();
}

#[test]
fn loaded_file_is_validated_like_flags() {
    let cfg = yaml("heartbeat-interval: 100\nelection-timeout: 200\n").unwrap();
    assert!(cfg.validate().unwrap_err().0.contains("--election-timeout"));
    let cfg = yaml("initial-cluster-state: later\n").unwrap();
    assert!(cfg.validate().is_err());
}

#[test]
fn go_durations() {
    use std::time::Duration;
    assert_eq!(parse_go_duration("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
    assert!(parse_go_duration("10").is_err());
    assert!(parse_go_duration("").is_err());
    assert!(parse_go_duration("5x").is_err());
}

#[test]
fn min_lease_ttl_follows_the_election_timeout() {
    let _env = env_lock();
    let cfg = load(&[]).unwrap_or_else(|_| panic!("defaults load"));
    assert_eq!(cfg.min_lease_ttl(), 2);
    let cfg = load(&["--heartbeat-interval=50", "--election-timeout=500"])
        .unwrap_or_else(|_| panic!("flags load"));
    assert_eq!(cfg.min_lease_ttl(), 1);
    let cfg = load(&["--election-timeout=5000"]).unwrap_or_else(|_| panic!("flags load"));
    assert_eq!(cfg.min_lease_ttl(), 8);
}

#[test]
fn metrics_settings_from_flags_environment_and_file() {
    use crate::metrics::Level;
    let _env = env_lock();
    let cfg = load(&[
        "--listen-metrics-urls",
        "http://127.0.0.1:2381,http://127.0.0.1:2382",
        "--metrics",
        "extensive",
    ])
    .unwrap_or_else(|_| panic!("metrics flags parse"));
    assert_eq!(
        cfg.listen_metrics_urls,
        ["http://127.0.0.1:2381", "http://127.0.0.1:2382"]
    );
    assert_eq!(cfg.metrics, Level::Extensive);
    assert_eq!(
        load(&[]).unwrap_or_else(|_| panic!("defaults")).metrics,
        Level::Basic
    );

    std::env::set_var("ETCD_METRICS", "extensive");
    std::env::set_var("ETCD_LISTEN_METRICS_URLS", "http://127.0.0.1:2383");
    let from_env = load(&[]);
    std::env::remove_var("ETCD_METRICS");
    std::env::remove_var("ETCD_LISTEN_METRICS_URLS");
    let from_env = from_env.unwrap_or_else(|_| panic!("metrics environment parses"));
    assert_eq!(from_env.metrics, Level::Extensive);
    assert_eq!(from_env.listen_metrics_urls, ["http://127.0.0.1:2383"]);

    let file = yaml("metrics: extensive\nlisten-metrics-urls: http://127.0.0.1:2384\n").unwrap();
    assert_eq!(file.metrics, Level::Extensive);
    assert_eq!(file.listen_metrics_urls, ["http://127.0.0.1:2384"]);

    // Refused by name: an unknown level (flag and file) and a listen URL on a name.
    match load(&["--metrics", "verbose"]) {
        Err(LoadError::Usage(e)) => assert!(e.to_string().contains("--metrics"), "{e}"),
        _ => panic!("--metrics verbose accepted"),
    }
    let err = yaml("metrics: verbose\n").expect_err("metrics: verbose refused");
    assert!(err.0.contains("--metrics"), "{}", err.0);
    let bad = load(&["--listen-metrics-urls", "http://example.com:2381"])
        .unwrap_or_else(|_| panic!("parses; validation refuses"));
    let err = bad.validate().expect_err("a listen URL must be an IP");
    assert!(err.0.contains("--listen-metrics-urls"), "{}", err.0);
}

#[test]
fn quota_and_corruption_check_settings() {
    let cfg = yaml(
        "name: m1\nquota-backend-bytes: 4194304\nexperimental-initial-corrupt-check: true\nexperimental-corrupt-check-time: 2000000000\n",
    )
    .unwrap();
    assert_eq!(cfg.quota_backend_bytes, 4 << 20);
    assert!(cfg.initial_corrupt_check);
    assert_eq!(cfg.corrupt_check_time, std::time::Duration::from_secs(2));
    // As in etcd, a negative quota disables it rather than being refused.
    let cfg = yaml("name: m1\nquota-backend-bytes: -1\n").unwrap();
    assert_eq!(cfg.quota_backend_bytes, -1);
    let err = yaml("name: m1\nquota-backend-bytes: lots\n").unwrap_err();
    assert!(err.0.contains("quota-backend-bytes"), "{}", err.0);
    let cfg = Config::try_parse_from([
        "ectd",
        "--quota-backend-bytes",
        "-5",
        "--experimental-initial-corrupt-check",
        "--experimental-corrupt-check-time",
        "1m",
    ])
    .unwrap();
    assert_eq!(cfg.quota_backend_bytes, -5);
    assert!(cfg.initial_corrupt_check);
    assert_eq!(cfg.corrupt_check_time, std::time::Duration::from_secs(60));
    let err = Config::try_parse_from(["ectd", "--quota-backend-bytes", "2GB"]).unwrap_err();
    assert!(err.to_string().contains("--quota-backend-bytes"), "{err}");
}

#[test]
fn compaction_settings_from_flags_environment_and_file() {
    use crate::server::AutoCompaction;
    use std::time::Duration;
    let _env = env_lock();
    let cfg = load(&[]).unwrap();
    assert_eq!(cfg.auto_compaction().unwrap(), None);
    let pace = cfg.compactor_settings();
    assert_eq!(pace.batch_limit, 1000);
    assert_eq!(pace.sleep, Duration::from_millis(10));

    let cfg = load(&[
        "--auto-compaction-retention",
        "2",
        "--experimental-compaction-batch-limit",
        "50",
        "--experimental-compaction-sleep-interval",
        "1ms",
    ])
    .unwrap();
    // A bare integer is hours in periodic mode (the default mode).
    assert_eq!(
        cfg.auto_compaction().unwrap(),
        Some(AutoCompaction::Periodic(Duration::from_secs(7200)))
    );
    assert_eq!(cfg.compactor_settings().batch_limit, 50);
    assert_eq!(cfg.compactor_settings().sleep, Duration::from_millis(1));

    let cfg = load(&[
        "--auto-compaction-mode=revision",
        "--auto-compaction-retention=1000",
    ])
    .unwrap();
    assert_eq!(
        cfg.auto_compaction().unwrap(),
        Some(AutoCompaction::Revision(1000))
    );
    let cfg = load(&["--auto-compaction-retention=30m"]).unwrap();
    assert_eq!(
        cfg.auto_compaction().unwrap(),
        Some(AutoCompaction::Periodic(Duration::from_secs(1800)))
    );
    let cfg = load(&[
        "--auto-compaction-mode=daily",
        "--auto-compaction-retention=1",
    ])
    .unwrap();
    let err = cfg.validate().unwrap_err();
    assert!(err.0.contains("unknown auto-compaction-mode"), "{}", err.0);
    let cfg = load(&["--auto-compaction-retention=soon"]).unwrap();
    assert!(cfg.auto_compaction().is_err());

    std::env::set_var("ETCD_AUTO_COMPACTION_MODE", "revision");
    std::env::set_var("ETCD_AUTO_COMPACTION_RETENTION", "5");
    let cfg = load(&[]);
    std::env::remove_var("ETCD_AUTO_COMPACTION_MODE");
    std::env::remove_var("ETCD_AUTO_COMPACTION_RETENTION");
    assert_eq!(
        cfg.unwrap().auto_compaction().unwrap(),
        Some(AutoCompaction::Revision(5))
    );

    let cfg = yaml(
        "name: m1\nauto-compaction-mode: revision\nauto-compaction-retention: 100\n\
         experimental-compaction-batch-limit: 10\nexperimental-compaction-sleep-interval: 5000000\n",
    )
    .unwrap();
    assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
    assert_eq!(
        cfg.auto_compaction().unwrap(),
        Some(AutoCompaction::Revision(100))
    );
    assert_eq!(cfg.compactor_settings().batch_limit, 10);
    assert_eq!(cfg.compactor_settings().sleep, Duration::from_millis(5));
    let cfg = yaml("name: m1\nauto-compaction-retention: '1h'\n").unwrap();
    assert_eq!(
        cfg.auto_compaction().unwrap(),
        Some(AutoCompaction::Periodic(Duration::from_secs(3600)))
    );
}

#[test]
fn compaction_hash_check_settings_from_flags_environment_and_file() {
    use std::time::Duration;
    let _env = env_lock();
    let cfg = load(&[]).unwrap();
    assert!(!cfg.compact_hash_check_enabled);
    assert_eq!(cfg.compact_hash_check_time, Duration::from_secs(60));

    let cfg = load(&[
        "--experimental-compact-hash-check-enabled",
        "--experimental-compact-hash-check-time",
        "250ms",
    ])
    .unwrap();
    assert!(cfg.compact_hash_check_enabled);
    assert_eq!(cfg.compact_hash_check_time, Duration::from_millis(250));
    let cfg = load(&["--experimental-compact-hash-check-enabled=false"]).unwrap();
    assert!(!cfg.compact_hash_check_enabled);

    // As in etcd, the interval must be above zero, enabled or not.
    let cfg = load(&["--experimental-compact-hash-check-time=0s"]).unwrap();
    let err = cfg.validate().unwrap_err();
    assert!(
        err.0
            .contains("--experimental-compact-hash-check-time must be >0"),
        "{}",
        err.0
    );

    std::env::set_var("ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED", "true");
    std::env::set_var("ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_TIME", "2m");
    let cfg = load(&[]);
    std::env::remove_var("ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED");
    std::env::remove_var("ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_TIME");
    let cfg = cfg.unwrap();
    assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
    assert!(cfg.compact_hash_check_enabled);
    assert_eq!(cfg.compact_hash_check_time, Duration::from_secs(120));

    let cfg = yaml(
        "name: m1\nexperimental-compact-hash-check-enabled: true\n\
         experimental-compact-hash-check-time: 3000000000\n",
    )
    .unwrap();
    assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
    assert!(cfg.compact_hash_check_enabled);
    assert_eq!(cfg.compact_hash_check_time, Duration::from_secs(3));
}
