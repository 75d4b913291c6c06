//! Refusing what ectd does not do. A config-file key or `ETCD_*` variable that ectd
//! does not implement stops the member at start, with its name (never its value,
//! which may be a secret), unless its value asks for nothing: empty, `false`, `0`,
//! or a value that names the behaviour ectd has anyway. Those are accepted and
//! reported in the log as ignored. A member thus never runs with less security or
//! durability than its configuration asked for.

use serde_norway::Value;

use super::ConfigError;

/// etcd settings whose listed values describe what ectd does anyway.
const SAME_AS_ECTD: &[(&str, &[&str])] = &[
    ("logger", &["zap"]),
    ("log-outputs", &["default", "stderr"]),
    ("proxy", &["off"]),
    ("strict-reconfig-check", &["true"]),
];

/// etcd settings ectd accepts with any value and ignores, with the reason.
const IGNORED_ANY_VALUE: &[(&str, &str)] = &[
    (
        "max-snapshots",
        "ectd keeps only the state snapshots it needs",
    ),
    ("max-wals", "ectd deletes WAL segments its state covers"),
    (
        "unsupported-arch",
        "ectd runs on any architecture it builds for",
    ),
];

/// Whether a value asks for nothing beyond the defaults.
fn asks_nothing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => {
            let s = s.trim();
            s.is_empty() || s == "0" || s.eq_ignore_ascii_case("false")
        }
        Value::Sequence(items) => items.iter().all(asks_nothing),
        Value::Mapping(m) => m.values().all(asks_nothing),
        Value::Tagged(t) => asks_nothing(&t.value),
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Sequence(items) if items.len() == 1 => value_text(&items[0]),
        _ => None,
    }
}

/// The verdict on a setting ectd does not implement: `Ok(note)` for the log, or the
/// refusal.
fn judge(name: &str, key: &str, value: &Value) -> Result<String, ConfigError> {
    if let Some((_, why)) = IGNORED_ANY_VALUE.iter().find(|(k, _)| *k == key) {
        return Ok(format!("{name} is ignored: {why}"));
    }
    let same = SAME_AS_ECTD.iter().any(|(k, values)| {
        *k == key && value_text(value).is_some_and(|t| values.contains(&t.as_str()))
    });
    if same || asks_nothing(value) {
        return Ok(format!(
            "{name} is ignored: its value asks for nothing ectd does not do"
        ));
    }
    Err(ConfigError(format!(
        "{name} is not supported by ectd; remove it (ectd refuses to start without a setting it was given)"
    )))
}

/// Checks every key of a config file against `known` (the keys ectd reads);
/// returns the notes for the ones ignored. Nested keys of the transport-security
/// sections are checked against `known_nested`.
pub(super) fn check_file_keys(
    text: &str,
    known: &[&str],
    known_nested: &[(&str, &[&str])],
) -> Result<Vec<String>, ConfigError> {
    let Ok(Value::Mapping(map)) = serde_norway::from_str::<Value>(text) else {
        // Not a mapping: the typed parse reports it with its position.
        return Ok(Vec::new());
    };
    let mut notes = Vec::new();
    for (k, v) in &map {
        let Some(key) = k.as_str() else {
            return Err(ConfigError("config-file keys must be strings".into()));
        };
        if let Some((_, inner)) = known_nested.iter().find(|(n, _)| *n == key) {
            if let Value::Mapping(m) = v {
                for (ik, iv) in m {
                    let ik = ik.as_str().unwrap_or_default();
                    if !inner.contains(&ik) {
                        notes.push(judge(&format!("config-file key {key}.{ik}"), ik, iv)?);
                    }
                }
            }
            continue;
        }
        if !known.contains(&key) {
            notes.push(judge(&format!("config-file key {key}"), key, v)?);
        }
    }
    Ok(notes)
}

/// Checks the process's `ETCD_*` variables against `known` (the variables ectd
/// reads); returns the notes for the ones ignored.
pub(super) fn check_env<I>(vars: I, known: &[String]) -> Result<Vec<String>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut notes = Vec::new();
    let mut vars: Vec<_> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with("ETCD_"))
        .collect();
    vars.sort();
    for (name, value) in vars {
        if known.contains(&name) {
            continue;
        }
        let key = name["ETCD_".len()..].to_ascii_lowercase().replace('_', "-");
        notes.push(judge(
            &format!("environment variable {name}"),
            &key,
            &Value::String(value),
        )?);
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_ask_for_something_are_refused_by_name_only() {
        let known = ["name"];
        let nested: &[(&str, &[&str])] = &[("client-transport-security", &["cert-file"])];
        let err = check_file_keys("quota-backend-bytes: 8589934592\n", &known, nested).unwrap_err();
        assert!(err.0.contains("quota-backend-bytes"), "{}", err.0);
        assert!(!err.0.contains("8589934592"), "{}", err.0);
        let err = check_file_keys(
            "client-transport-security:\n  crl-file: /etc/crl.pem\n",
            &known,
            nested,
        )
        .unwrap_err();
        assert!(
            err.0.contains("client-transport-security.crl-file"),
            "{}",
            err.0
        );
        assert!(!err.0.contains("/etc/crl.pem"));
        // Values that ask for nothing, or for what ectd does anyway, are noted.
        let notes = check_file_keys(
            "name: m1\nquota-backend-bytes: 0\nenable-pprof: false\nwal-dir: ''\ncors:\nlogger: zap\nlog-outputs: [stderr]\nmax-wals: 5\nclient-transport-security:\n  cert-file: /x\n  crl-file:\n",
            &known,
            nested,
        )
        .unwrap();
        assert_eq!(notes.len(), 8, "{notes:?}");
        assert!(check_file_keys("logger: capnslog\n", &known, nested).is_err());
        assert!(check_file_keys("auto-compaction-retention: '1h'\n", &known, nested).is_err());
    }

    #[test]
    fn unknown_etcd_variables_are_refused_without_their_value() {
        let known = vec!["ETCD_NAME".to_string()];
        let vars = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(
            check_env(vars(&[("ETCD_NAME", "m1"), ("PATH", "/bin")]), &known)
                .unwrap()
                .is_empty()
        );
        let err = check_env(vars(&[("ETCD_CLIENT_CRL_FILE", "/secret/crl")]), &known).unwrap_err();
        assert!(err.0.contains("ETCD_CLIENT_CRL_FILE") && !err.0.contains("/secret"));
        let notes = check_env(
            vars(&[
                ("ETCD_QUOTA_BACKEND_BYTES", "0"),
                ("ETCD_ENABLE_V2", "false"),
                ("ETCD_UNSUPPORTED_ARCH", "arm64"),
            ]),
            &known,
        )
        .unwrap();
        assert_eq!(notes.len(), 3);
        // ETCDCTL_* belong to the clients.
        assert!(check_env(vars(&[("ETCDCTL_API", "3")]), &known)
            .unwrap()
            .is_empty());
    }
}
