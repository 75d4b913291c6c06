//! Certificates for TLS tests, made on the spot with rcgen and written as
//! PEM files: a CA with a server certificate for `127.0.0.1` and
//! `localhost` and a client certificate, and an unrelated second CA with a
//! client certificate of its own.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The PEM files, all in one directory.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed neither the server's nor the client's certificate.
    pub other_ca: PathBuf,
    /// A client certificate signed by `other_ca`.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
}

impl Pki {
    /// Generates every certificate and writes them into `dir`.
    pub fn create(dir: &Path) -> Pki {
        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write PEM file");
            path
        };
        let ca = Authority::new("ectd test CA");
        let other = Authority::new("unrelated test CA");
        // etcd also dials itself (its gRPC gateway) with the server
        // certificate, so that one serves both purposes.
        let (server, server_key) = ca.sign(
            "server",
            &["127.0.0.1", "localhost"],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        );
        let (client, client_key) = ca.sign("client", &[], &[ExtendedKeyUsagePurpose::ClientAuth]);
        let (stranger, stranger_key) =
            other.sign("client", &[], &[ExtendedKeyUsagePurpose::ClientAuth]);
        Pki {
            ca: write("ca.pem", ca.cert.pem()),
            server_cert: write("server.pem", server.pem()),
            server_key: write("server.key", server_key.serialize_pem()),
            client_cert: write("client.pem", client.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            other_ca: write("other-ca.pem", other.cert.pem()),
            stranger_cert: write("stranger.pem", stranger.pem()),
            stranger_key: write("stranger.key", stranger_key.serialize_pem()),
        }
    }
}

struct Authority {
    cert: Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-sign CA");
        Authority { cert, key }
    }

    fn sign(
        &self,
        common_name: &str,
        names: &[&str],
        usages: &[ExtendedKeyUsagePurpose],
    ) -> (Certificate, KeyPair) {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = usages.to_vec();
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("sign certificate");
        (cert, key)
    }
}
