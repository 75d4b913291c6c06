//! TLS for the comparison's `--tls` mode: a CA and a server certificate for
//! 127.0.0.1 made for the run, and channels that dial `https://` endpoints trusting
//! that CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tonic::transport::{Channel, Endpoint, Uri};

/// The files of a run's server certificate.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    /// The CA certificate clients trust.
    pub ca: PathBuf,
    /// The servers' certificate (for 127.0.0.1).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

/// Makes a CA and a server certificate for 127.0.0.1 in `dir`.
pub fn make_certificates(dir: &Path) -> anyhow::Result<ServerFiles> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "bench CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "bench server");
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;
    let files = ServerFiles {
        ca: dir.join("ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.ca, ca_cert.pem())?;
    std::fs::write(&files.cert, cert.pem())?;
    std::fs::write(&files.key, key.serialize_pem())?;
    Ok(files)
}

/// A client configuration trusting the CA in `ca`, speaking HTTP/2.
pub fn client_config(ca: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca)? {
        roots.add(c?)?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// A connected channel to the `https://host:port` endpoint `url`.
pub async fn channel(url: &str, tls: Arc<rustls::ClientConfig>) -> anyhow::Result<Channel> {
    let hostport = url
        .strip_prefix("https://")
        .ok_or_else(|| anyhow::anyhow!("{url} is not an https:// URL"))?
        .trim_end_matches('/')
        .to_string();
    let host = hostport
        .rsplit_once(':')
        .map_or(hostport.as_str(), |(h, _)| h)
        .to_string();
    let name = ServerName::try_from(host)?;
    let connector = tower::service_fn(move |_: Uri| {
        let tls = tokio_rustls::TlsConnector::from(tls.clone());
        let (name, hostport) = (name.clone(), hostport.clone());
        async move {
            let tcp = tokio::net::TcpStream::connect(hostport.as_str()).await?;
            tcp.set_nodelay(true)?;
            let stream = tls.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    let ch = Endpoint::from_shared(url.replacen("https://", "http://", 1))?
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(connector)
        .await?;
    Ok(ch)
}
