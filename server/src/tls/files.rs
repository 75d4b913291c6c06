//! Certificate, key and CA files, read again when they change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SignatureScheme};

use super::TlsError;

/// What identifies a file's contents cheaply: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// A certificate chain and key from two PEM files, read again at the next
/// handshake after either file changes. A pair that fails to load (a rotation
/// caught halfway, with the new certificate but the old key) leaves the last good
/// pair in use and is tried again at the next handshake.
pub struct ReloadingKey {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<(Stamp, Stamp, Arc<CertifiedKey>)>,
}

impl std::fmt::Debug for ReloadingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingKey")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

/// Reads a certificate chain and its key; errors name the files, never their
/// contents.
pub fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError(format!("reading certificate file {}: {e}", cert.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("reading certificate file {}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "certificate file {} holds no certificate",
            cert.display()
        )));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError(format!("reading key file {}: {e}", key.display())))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError(format!("key file {}: {e}", key.display())))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match().map_err(|_| {
        TlsError(format!(
            "key file {} does not match certificate file {}",
            key.display(),
            cert.display()
        ))
    })?;
    Ok(pair)
}

impl ReloadingKey {
    /// Loads the pair now; a pair that does not load is an error at start.
    pub fn open(
        cert: &Path,
        key: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<ReloadingKey, TlsError> {
        let (cs, ks) = (stamp(cert), stamp(key));
        let pair = load_pair(cert, key, &provider)?;
        Ok(ReloadingKey {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            current: Mutex::new((cs, ks, Arc::new(pair))),
        })
    }

    /// The pair as the files hold it now (or the last good one).
    pub fn current(&self) -> Arc<CertifiedKey> {
        let (cs, ks) = (stamp(&self.cert), stamp(&self.key));
        let mut cur = self.current.lock().expect("certificate lock");
        if cur.0 != cs || cur.1 != ks {
            match load_pair(&self.cert, &self.key, &self.provider) {
                Ok(pair) => {
                    tracing::info!(cert = %self.cert.display(), "loaded the changed TLS certificate");
                    *cur = (cs, ks, Arc::new(pair));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the changed TLS certificate did not load; the previous one stays in use");
                }
            }
        }
        cur.2.clone()
    }
}

impl ResolvesServerCert for ReloadingKey {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for ReloadingKey {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The CA certificates in a PEM file, as trust roots.
pub fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError(format!("reading CA file {}: {e}", path.display())))?;
    for c in certs {
        let c = c.map_err(|e| TlsError(format!("reading CA file {}: {e}", path.display())))?;
        store
            .add(c)
            .map_err(|e| TlsError(format!("CA file {}: {e}", path.display())))?;
    }
    if store.is_empty() {
        return Err(TlsError(format!(
            "CA file {} holds no certificate",
            path.display()
        )));
    }
    Ok(store)
}
