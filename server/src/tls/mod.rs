//! TLS on the client and peer ports, with rustls.
//!
//! [`Tls::from_config`] turns etcd's flags into rustls configurations: a server
//! configuration for each port that asked for TLS, and the client configuration
//! this member uses to reach its peers. Certificate and key files are read again
//! whenever they change on disk (checked at each handshake, as etcd reads them per
//! handshake), so rotating them needs no restart. `--auto-tls` and
//! `--peer-auto-tls` make self-signed certificates in the data directory
//! ([`auto`]). Nothing else in the member knows TLS: the listeners take an
//! acceptor, the peer transport a connector ([`connect`]).

pub mod auto;
pub mod connect;
mod files;
mod verify;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig, SupportedProtocolVersion};

use crate::config::{parse_url, Config, PortTls, TlsFlags};
pub use files::ReloadingKey;

/// The common name of a client's verified certificate, attached to each of the
/// connection's requests; under `--client-cert-auth` it names the user.
#[derive(Debug, Clone)]
pub struct ClientCn(pub String);

impl ClientCn {
    /// The CN of the first certificate `conn` presented, if any.
    pub fn of(conn: &rustls::ServerConnection) -> Option<ClientCn> {
        let der = conn.peer_certificates()?.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let cn = cert.subject().iter_common_name().next()?;
        cn.as_str().ok().map(|s| ClientCn(s.to_string()))
    }
}

/// Why TLS could not be set up; reported at start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// The member's TLS configurations, built once at start.
#[derive(Clone, Default)]
pub struct Tls {
    /// For `https://` client listen URLs.
    pub client: Option<Arc<ServerConfig>>,
    /// For `https://` peer listen URLs.
    pub peer_server: Option<Arc<ServerConfig>>,
    /// For connections to peers' `https://` URLs.
    pub peer_client: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("client", &self.client.is_some())
            .field("peer_server", &self.peer_server.is_some())
            .field("peer_client", &self.peer_client.is_some())
            .finish()
    }
}

fn bad(msg: impl Into<String>) -> TlsError {
    TlsError(msg.into())
}

impl Tls {
    /// The TLS configurations `cfg` asks for. A port whose listen URLs are
    /// `https://` must have a certificate (or auto-TLS); TLS settings for a port
    /// with no `https://` URL at all are refused rather than left unused.
    pub fn from_config(cfg: &Config) -> Result<Tls, TlsError> {
        let flags = &cfg.tls;
        let provider = provider(flags)?;
        let versions = versions(flags)?;
        let client_https = any_https(&cfg.listen_client_urls);
        let peer_https = any_https(&cfg.listen_peer_urls);
        let data_dir = cfg.data_dir();
        let validity = flags.self_signed_cert_validity;

        let client_port = flags.client();
        let client = port_server_config(
            "client",
            &client_port,
            client_https,
            &cfg.listen_client_urls,
            &data_dir.join("fixtures").join("client"),
            validity,
            &provider,
            &versions,
            None,
        )?;
        let peer_port = flags.peer();
        let allowed = verify::Allowed {
            cn: flags.allowed_cn(),
            hostname: flags.allowed_hostname(),
        };
        if !allowed.is_empty() && !peer_port.client_cert_auth && peer_port.trusted_ca_file.is_none()
        {
            return Err(bad(
                "--peer-cert-allowed-cn and --peer-cert-allowed-hostname need peer client certificate authentication (--peer-client-cert-auth with --peer-trusted-ca-file)",
            ));
        }
        let peer_dir = data_dir.join("fixtures").join("peer");
        let peer_server = port_server_config(
            "peer",
            &peer_port,
            peer_https,
            &cfg.listen_peer_urls,
            &peer_dir,
            validity,
            &provider,
            &versions,
            Some(allowed),
        )?;
        let peer_client = match &peer_server {
            None => None,
            Some(_) => Some(peer_client_config(
                &peer_port, &peer_dir, &provider, &versions,
            )?),
        };
        Ok(Tls {
            client,
            peer_server,
            peer_client,
        })
    }
}

fn any_https(urls: &[String]) -> bool {
    urls.iter().any(|u| u.starts_with("https://"))
}

/// The crypto provider: ring's, with the TLS 1.2 suites `--cipher-suites` names
/// (TLS 1.3 suites are always on, as in etcd).
fn provider(flags: &TlsFlags) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut p = rustls::crypto::ring::default_provider();
    let wanted: Vec<&str> = flags
        .cipher_suites
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !wanted.is_empty() {
        let all = p.cipher_suites.clone();
        let name_of = |s: &rustls::SupportedCipherSuite| format!("{:?}", s.suite());
        for w in &wanted {
            let known = all.iter().any(|s| name_of(s) == go_suite_name(w));
            if !known {
                return Err(bad(format!(
                    "--cipher-suites: unsupported cipher suite {w} (ectd offers the AEAD suites with ECDHE: AES-GCM and ChaCha20-Poly1305)"
                )));
            }
        }
        p.cipher_suites = all
            .into_iter()
            .filter(|s| {
                s.version() == &rustls::version::TLS13
                    || wanted.iter().any(|w| name_of(s) == go_suite_name(w))
            })
            .collect();
    }
    Ok(Arc::new(p))
}

/// Go spells the ChaCha20 suites without their hash; rustls with it.
fn go_suite_name(name: &str) -> String {
    match name {
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            format!("{name}_SHA256")
        }
        other => other.to_string(),
    }
}

fn version_of(flag: &str, v: &str) -> Result<&'static SupportedProtocolVersion, TlsError> {
    match v {
        "TLS1.2" => Ok(&rustls::version::TLS12),
        "TLS1.3" => Ok(&rustls::version::TLS13),
        "TLS1.0" | "TLS1.1" => Err(bad(format!(
            "{flag}: {v} is not supported by ectd (TLS 1.2 is the lowest it speaks)"
        ))),
        other => Err(bad(format!(
            "{flag}: unknown TLS version {other:?} (want TLS1.2 or TLS1.3)"
        ))),
    }
}

/// The protocol versions between `--tls-min-version` and `--tls-max-version`.
fn versions(flags: &TlsFlags) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let min = match flags.tls_min_version.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => version_of("--tls-min-version", v)?,
        None => &rustls::version::TLS12,
    };
    let max = match flags.tls_max_version.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => version_of("--tls-max-version", v)?,
        None => &rustls::version::TLS13,
    };
    let rank = |v: &SupportedProtocolVersion| if v == &rustls::version::TLS12 { 0 } else { 1 };
    if rank(min) > rank(max) {
        return Err(bad("--tls-min-version is above --tls-max-version"));
    }
    let list: Vec<_> = [&rustls::version::TLS12, &rustls::version::TLS13]
        .into_iter()
        .filter(|v| rank(v) >= rank(min) && rank(v) <= rank(max))
        .collect();
    if !flags.cipher_suites.is_empty() && !list.contains(&&rustls::version::TLS12) {
        return Err(bad(
            "--cipher-suites only applies to TLS 1.2, which --tls-min-version rules out",
        ));
    }
    Ok(list)
}

/// The certificate and key for a port: the files given, or (auto-TLS) a
/// self-signed pair made in `auto_dir` for the hosts of `urls`.
fn key_source(
    port_name: &str,
    port: &PortTls,
    urls: &[String],
    auto_dir: &Path,
    validity_years: u32,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<ReloadingKey>, TlsError> {
    let prefix = if port_name == "peer" { "--peer-" } else { "--" };
    match (&port.cert_file, &port.key_file) {
        (Some(cert), Some(key)) => Ok(Arc::new(ReloadingKey::open(
            Path::new(cert),
            Path::new(key),
            provider.clone(),
        )?)),
        (Some(_), None) | (None, Some(_)) => Err(bad(format!(
            "{prefix}cert-file and {prefix}key-file must be given together"
        ))),
        (None, None) if port.auto_tls => {
            let hosts: Vec<String> = urls
                .iter()
                .filter_map(|u| parse_url(u).ok().map(|u| u.host))
                .collect();
            let (cert, key) = auto::self_signed(auto_dir, &hosts, validity_years)?;
            Ok(Arc::new(ReloadingKey::open(&cert, &key, provider.clone())?))
        }
        (None, None) => Err(bad(format!(
            "{port_name} TLS needs {prefix}cert-file and {prefix}key-file, or {prefix}auto-tls"
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn port_server_config(
    port_name: &str,
    port: &PortTls,
    https: bool,
    urls: &[String],
    auto_dir: &Path,
    validity_years: u32,
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    allowed: Option<verify::Allowed>,
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let prefix = if port_name == "peer" { "--peer-" } else { "--" };
    if !https {
        if port.is_set() {
            return Err(bad(format!(
                "{port_name} TLS settings are given but no {port_name} URL is https://; use https:// URLs or remove the {prefix}* TLS settings"
            )));
        }
        return Ok(None);
    }
    let key = key_source(port_name, port, urls, auto_dir, validity_years, provider)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| bad(format!("TLS versions: {e}")))?;
    // As in etcd, a trusted CA file alone already asks for client certificates.
    let verify_clients = port.client_cert_auth || port.trusted_ca_file.is_some();
    let mut config = if verify_clients {
        let ca = port.trusted_ca_file.as_ref().ok_or_else(|| {
            bad(format!(
                "{prefix}client-cert-auth needs {prefix}trusted-ca-file"
            ))
        })?;
        let roots = files::roots(Path::new(ca))?;
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| bad(format!("{prefix}trusted-ca-file {ca}: {e}")))?;
        let verifier = match allowed.filter(|a| !a.is_empty()) {
            Some(a) => Arc::new(verify::AllowedPeers::new(inner, a)),
            None => inner,
        };
        builder
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(key)
    } else {
        builder.with_no_client_auth().with_cert_resolver(key)
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// How this member reaches its peers over TLS: it presents its peer certificate
/// and checks theirs against the peer CA (with peer auto-TLS, whose certificates
/// are self-signed, it checks none, as etcd does).
fn peer_client_config(
    port: &PortTls,
    auto_dir: &Path,
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, TlsError> {
    let key = match (&port.cert_file, &port.key_file) {
        (Some(cert), Some(key)) => Arc::new(ReloadingKey::open(
            Path::new(cert),
            Path::new(key),
            provider.clone(),
        )?),
        _ => Arc::new(ReloadingKey::open(
            &auto_dir.join(auto::CERT_FILE),
            &auto_dir.join(auto::KEY_FILE),
            provider.clone(),
        )?),
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| bad(format!("TLS versions: {e}")))?;
    let mut config = match &port.trusted_ca_file {
        Some(ca) => builder
            .with_root_certificates(files::roots(Path::new(ca))?)
            .with_client_cert_resolver(key),
        None if port.auto_tls => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::AnyServer::new(provider.clone())))
            .with_client_cert_resolver(key),
        None => {
            return Err(bad(
                "peer TLS needs --peer-trusted-ca-file to check the other members' certificates",
            ))
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(suites: &[&str], min: Option<&str>, max: Option<&str>) -> TlsFlags {
        TlsFlags {
            cipher_suites: suites.iter().map(|s| s.to_string()).collect(),
            tls_min_version: min.map(String::from),
            tls_max_version: max.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn cipher_suites_by_go_name_restrict_tls12_only() {
        let p = provider(&flags(
            &[
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            ],
            None,
            None,
        ))
        .unwrap();
        let names: Vec<String> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(p
            .cipher_suites
            .iter()
            .any(|s| s.version() == &rustls::version::TLS13));
        let err = provider(&flags(&["TLS_RSA_WITH_AES_128_CBC_SHA"], None, None)).unwrap_err();
        assert!(err.0.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{}", err.0);
    }

    #[test]
    fn versions_between_min_and_max() {
        assert_eq!(versions(&flags(&[], None, None)).unwrap().len(), 2);
        let only13 = versions(&flags(&[], Some("TLS1.3"), None)).unwrap();
        assert_eq!(only13, vec![&rustls::version::TLS13]);
        let only12 = versions(&flags(&[], None, Some("TLS1.2"))).unwrap();
        assert_eq!(only12, vec![&rustls::version::TLS12]);
        assert!(versions(&flags(&[], Some("TLS1.0"), None))
            .unwrap_err()
            .0
            .contains("TLS1.0"));
        assert!(versions(&flags(&[], Some("TLS1.3"), Some("TLS1.2"))).is_err());
        assert!(versions(&flags(
            &["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
            Some("TLS1.3"),
            None
        ))
        .is_err());
    }

    fn cfg(args: &[&str]) -> Config {
        use clap::Parser;
        let mut all = vec!["ectd"];
        if !args.contains(&"--data-dir") {
            all.extend(["--data-dir", "/nonexistent/ectd-test"]);
        }
        all.extend_from_slice(args);
        Config::try_parse_from(all).unwrap()
    }

    #[test]
    fn tls_settings_need_an_https_url_and_https_needs_a_certificate() {
        let err = Tls::from_config(&cfg(&["--cert-file=/x.crt", "--key-file=/x.key"])).unwrap_err();
        assert!(err.0.contains("https://"), "{}", err.0);
        let err = Tls::from_config(&cfg(&[
            "--listen-client-urls=https://127.0.0.1:2379",
            "--advertise-client-urls=https://127.0.0.1:2379",
        ]))
        .unwrap_err();
        assert!(err.0.contains("--cert-file"), "{}", err.0);
        let err = Tls::from_config(&cfg(&[
            "--listen-client-urls=https://127.0.0.1:2379",
            "--cert-file=/x.crt",
        ]))
        .unwrap_err();
        assert!(err.0.contains("together"), "{}", err.0);
        let err = Tls::from_config(&cfg(&[
            "--listen-client-urls=https://127.0.0.1:2379",
            "--cert-file=/nonexistent/x.crt",
            "--key-file=/nonexistent/x.key",
        ]))
        .unwrap_err();
        assert!(err.0.contains("/nonexistent/x.crt"), "{}", err.0);
        let err = Tls::from_config(&cfg(&["--peer-cert-allowed-cn=member"])).unwrap_err();
        assert!(err.0.contains("--peer-client-cert-auth"), "{}", err.0);
        // Plaintext everywhere needs nothing.
        let tls = Tls::from_config(&cfg(&[])).unwrap();
        assert!(tls.client.is_none() && tls.peer_server.is_none() && tls.peer_client.is_none());
    }

    #[test]
    fn auto_tls_makes_a_certificate_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let c = cfg(&[
            "--data-dir",
            data.to_str().unwrap(),
            "--listen-client-urls=https://127.0.0.1:2379",
            "--advertise-client-urls=https://127.0.0.1:2379",
            "--auto-tls",
        ]);
        let tls = Tls::from_config(&c).unwrap();
        assert!(tls.client.is_some());
        let cert = data.join("fixtures/client/cert.pem");
        let first = std::fs::read(&cert).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("fixtures/client/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        Tls::from_config(&c).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), first);
    }
}
