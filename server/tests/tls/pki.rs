//! Certificates made by the tests: a CA, member and client certificates signed by
//! it, and a second, unrelated CA whose certificates must be refused.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A certificate authority that signs leaf certificates into a directory.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
    dir: PathBuf,
    name: String,
}

/// A certificate and key on disk.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// A new CA named `name`, its certificate written to `dir/<name>.crt`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        Ca {
            cert,
            key,
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// The CA certificate file.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.join(format!("{}.crt", self.name))
    }

    /// A leaf certificate with Common Name `cn` for `hosts`, usable by servers and
    /// clients, written as `<file>.crt` and `<file>.key`.
    pub fn issue(&self, file: &str, cn: &str, hosts: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut p = CertificateParams::new(hosts).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        let leaf = Leaf {
            cert: self.dir.join(format!("{file}.crt")),
            key: self.dir.join(format!("{file}.key")),
        };
        std::fs::write(&leaf.cert, cert.pem()).unwrap();
        std::fs::write(&leaf.key, key.serialize_pem()).unwrap();
        leaf
    }
}

/// Where the test certificates live.
pub struct Pki {
    /// Holds the files for as long as the certificates are used.
    _dir: tempfile::TempDir,
    pub ca: Ca,
    pub other_ca: Ca,
    /// Server certificate for 127.0.0.1 and localhost.
    pub server: Leaf,
    /// Client certificate from `ca`.
    pub client: Leaf,
    /// Client certificate from `other_ca`.
    pub stranger: Leaf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("ectd-pki-")
            .tempdir()
            .unwrap();
        let ca = Ca::new(dir.path(), "ca");
        let other_ca = Ca::new(dir.path(), "other-ca");
        let server = ca.issue("server", "server", &["127.0.0.1", "localhost"]);
        let client = ca.issue("client", "root", &[]);
        let stranger = other_ca.issue("stranger", "root", &[]);
        Pki {
            _dir: dir,
            ca,
            other_ca,
            server,
            client,
            stranger,
        }
    }
}
