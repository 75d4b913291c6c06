//! Certificate checks beyond the chain: the peer identity `--peer-cert-allowed-cn`
//! and `--peer-cert-allowed-hostname` ask for, and the no-check verifier peer
//! auto-TLS needs for self-signed peers.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// The peer identity required on the peer port.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    /// The Common Name a peer certificate must have.
    pub cn: Option<String>,
    /// A DNS name or IP address a peer certificate must name.
    pub hostname: Option<String>,
}

impl Allowed {
    /// Whether nothing beyond the chain is required.
    pub fn is_empty(&self) -> bool {
        self.cn.is_none() && self.hostname.is_none()
    }

    /// Whether the certificate `der` is one the required identity allows (either
    /// requirement is enough when both are set, as in etcd).
    pub fn admits(&self, der: &[u8]) -> bool {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            return false;
        };
        let cn_ok = self.cn.as_ref().is_some_and(|want| {
            cert.subject()
                .iter_common_name()
                .any(|cn| cn.as_str().is_ok_and(|cn| cn == want))
        });
        let host_ok = self.hostname.as_ref().is_some_and(|want| {
            let want_ip: Option<std::net::IpAddr> = want.parse().ok();
            let Ok(Some(san)) = cert.subject_alternative_name() else {
                return false;
            };
            san.value.general_names.iter().any(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => d.eq_ignore_ascii_case(want),
                x509_parser::extensions::GeneralName::IPAddress(raw) => {
                    want_ip.is_some_and(|ip| match ip {
                        std::net::IpAddr::V4(v4) => raw[..] == v4.octets()[..],
                        std::net::IpAddr::V6(v6) => raw[..] == v6.octets()[..],
                    })
                }
                _ => false,
            })
        });
        cn_ok || host_ok
    }
}

/// Checks the chain with the inner verifier, then the required identity.
#[derive(Debug)]
pub struct AllowedPeers {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Allowed,
}

impl AllowedPeers {
    /// `inner` checked first, then `allowed`.
    pub fn new(inner: Arc<dyn ClientCertVerifier>, allowed: Allowed) -> AllowedPeers {
        AllowedPeers { inner, allowed }
    }
}

impl ClientCertVerifier for AllowedPeers {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if !self.allowed.admits(end_entity) {
            tracing::warn!(
                allowed_cn = self.allowed.cn.as_deref().unwrap_or(""),
                allowed_hostname = self.allowed.hostname.as_deref().unwrap_or(""),
                "refused a peer certificate outside the allowed CN/hostname"
            );
            return Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any server certificate (self-signed auto-TLS peers), still checking
/// that the handshake is signed by the certificate's key.
#[derive(Debug)]
pub struct AnyServer {
    provider: Arc<CryptoProvider>,
}

impl AnyServer {
    /// A verifier using `provider`'s signature algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> AnyServer {
        AnyServer { provider }
    }
}

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
