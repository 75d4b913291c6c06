//! TLS for client connections: which certificates the client trusts and
//! presents. Dialing a member with them is [`connector`]'s business.
//!
//! Only what [`TlsOptions`] names is trusted: there is no system trust
//! store, so a server is verified against a CA file or not at all
//! (`insecure_skip_verify`). Messages about unusable files name the file and
//! the problem, never the file's contents.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::Error;

mod connector;

pub(crate) use connector::{tls_failure, TlsConnector};

/// The TLS settings of a client, named as etcdctl names them.
///
/// A server's certificate must chain to a certificate in `ca_file` and name
/// the host the client dials (or `server_name`), unless
/// `insecure_skip_verify` is set. With `cert_file` and `key_file` the client
/// presents its own certificate, which servers that check client
/// certificates (etcd's `--client-cert-auth`) require.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA certificates that sign the servers' certificates
    /// (etcdctl's `--cacert`). Required unless `insecure_skip_verify` is
    /// set, since no system trust store is consulted.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate, followed by any intermediate
    /// certificates (etcdctl's `--cert`). Needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's private key (etcdctl's
    /// `--key`). Needs `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (etcdctl's
    /// `--insecure-skip-tls-verify`). The handshake signatures are still
    /// checked, so the server must hold the key of the certificate it shows,
    /// but nothing says that certificate is the right one: the connection is
    /// encrypted but not authenticated.
    pub insecure_skip_verify: bool,
    /// The name the server's certificate must carry, instead of the host of
    /// each endpoint; also sent as SNI. An IP address is compared with the
    /// certificate's IP addresses.
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// The rustls configuration these options describe: the trusted CA
    /// certificates (or a verifier that accepts any certificate), the client
    /// certificate if any, and ALPN `h2` for gRPC.
    ///
    /// Fails with [`Error::TlsConfig`] when a file cannot be read or holds
    /// nothing usable, when the key does not belong to the certificate, when
    /// only one of `cert_file` and `key_file` is given, or when there is no
    /// CA file and verification is not skipped.
    pub fn client_config(&self) -> Result<ClientConfig, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // The CA file is read even when verification is skipped, so that a
        // wrong path is reported whatever the other settings.
        let roots = self.ca_file.as_deref().map(read_roots).transpose()?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| config_error(format!("unsupported protocol versions: {err}")))?;
        let builder = match roots {
            _ if self.insecure_skip_verify => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(&provider))),
            Some(roots) => builder.with_root_certificates(roots),
            None => {
                return Err(config_error(
                    "no CA certificate to verify the server's certificate with: give a CA file \
                     (ectl: --cacert) or skip verification (ectl: --insecure-skip-tls-verify); \
                     the system trust store is not used",
                ))
            }
        };
        let mut config = match (&self.cert_file, &self.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert_file), Some(key_file)) => {
                let chain = read_certificates(cert_file, "client certificate")?;
                let key = read_key(key_file)?;
                builder.with_client_auth_cert(chain, key).map_err(|err| {
                    config_error(format!(
                        "client certificate {} and key {} do not fit together: {err}",
                        cert_file.display(),
                        key_file.display()
                    ))
                })?
            }
            (Some(_), None) => return Err(config_error("a client certificate needs its key file")),
            (None, Some(_)) => return Err(config_error("a client key needs its certificate file")),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

fn config_error(reason: impl Into<String>) -> Error {
    Error::TlsConfig {
        reason: reason.into(),
    }
}

/// Every certificate in a PEM file; `what` names the file's role in
/// messages.
fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let unusable = |err: pem::Error| {
        config_error(format!(
            "cannot use {what} file {}: {}",
            path.display(),
            describe_pem_error(&err, "certificate")
        ))
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unusable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unusable)?;
    if certificates.is_empty() {
        return Err(unusable(pem::Error::NoItemsFound));
    }
    Ok(certificates)
}

fn read_roots(path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for (index, certificate) in read_certificates(path, "CA")?.into_iter().enumerate() {
        roots.add(certificate).map_err(|err| {
            config_error(format!(
                "cannot use CA file {}: certificate {} is not a valid CA certificate: {err}",
                path.display(),
                index + 1
            ))
        })?;
    }
    Ok(roots)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| {
        config_error(format!(
            "cannot use key file {}: {}",
            path.display(),
            describe_pem_error(&err, "private key")
        ))
    })
}

/// What went wrong with a PEM file, in words that quote none of it: a
/// malformed line of a key file would otherwise end up in a log.
fn describe_pem_error(err: &pem::Error, item: &str) -> String {
    match err {
        pem::Error::Io(err) => err.to_string(),
        pem::Error::NoItemsFound => format!("no PEM-encoded {item} found"),
        _ => "malformed PEM data".to_string(),
    }
}

/// A verifier for `insecure_skip_verify`: any certificate chain is
/// accepted, but the handshake must still be signed by the key of the
/// certificate shown, with an algorithm of the crypto provider.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyServerCert {
    fn new(provider: &CryptoProvider) -> AcceptAnyServerCert {
        AcceptAnyServerCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TlsOptions {
        TlsOptions::default()
    }

    fn reason(err: Error) -> String {
        match err {
            Error::TlsConfig { reason } => reason,
            other => panic!("not a TLS configuration error: {other:?}"),
        }
    }

    #[test]
    fn without_ca_file_verification_must_be_skipped() {
        let reason = reason(options().client_config().unwrap_err());
        assert!(reason.contains("--cacert"), "{reason}");
        let skip = TlsOptions {
            insecure_skip_verify: true,
            ..options()
        };
        let config = skip.client_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn certificate_and_key_come_together() {
        let dir = tempfile::tempdir().unwrap();
        let only_cert = TlsOptions {
            insecure_skip_verify: true,
            cert_file: Some(dir.path().join("client.pem")),
            ..options()
        };
        assert!(reason(only_cert.client_config().unwrap_err()).contains("needs its key"));
        let only_key = TlsOptions {
            insecure_skip_verify: true,
            key_file: Some(dir.path().join("client.key")),
            ..options()
        };
        assert!(reason(only_key.client_config().unwrap_err()).contains("needs its certificate"));
    }

    #[test]
    fn unusable_files_are_named_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-ca.pem");
        let reason_missing = reason(
            TlsOptions {
                ca_file: Some(missing.clone()),
                ..options()
            }
            .client_config()
            .unwrap_err(),
        );
        assert!(reason_missing.contains(&missing.display().to_string()));
        assert!(reason_missing.contains("No such file"), "{reason_missing}");

        let secret = "-----BEGIN PRIVATE KEY-----\ns3cr3t!!\n-----END PRIVATE KEY-----\n";
        let garbage_key = dir.path().join("client.key");
        std::fs::write(&garbage_key, secret).unwrap();
        let not_a_ca = dir.path().join("ca.pem");
        std::fs::write(&not_a_ca, secret).unwrap();
        for options in [
            TlsOptions {
                ca_file: Some(not_a_ca),
                ..options()
            },
            TlsOptions {
                insecure_skip_verify: true,
                cert_file: Some(garbage_key.clone()),
                key_file: Some(garbage_key),
                ..options()
            },
        ] {
            let reason = reason(options.client_config().unwrap_err());
            assert!(!reason.contains("s3cr3t"), "{reason}");
            assert!(reason.contains("cannot use"), "{reason}");
        }
    }
}
