//! etcd's TLS flags for the client and peer ports, as given; [`crate::tls`] turns
//! them into rustls configurations.

use clap::Args;

/// TLS settings of the client and peer ports, with etcd's flag names, `ETCD_*`
/// variables and (nested under `client-transport-security` and
/// `peer-transport-security`) config-file keys.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFlags {
    /// Path to the client server TLS certificate file (PEM).
    #[arg(long, env = "ETCD_CERT_FILE")]
    pub cert_file: Option<String>,
    /// Path to the client server TLS key file (PEM).
    #[arg(long, env = "ETCD_KEY_FILE")]
    pub key_file: Option<String>,
    /// Path to the client server TLS trusted CA certificate file.
    #[arg(long, env = "ETCD_TRUSTED_CA_FILE")]
    pub trusted_ca_file: Option<String>,
    /// Require clients on the client port to present a certificate signed by
    /// `--trusted-ca-file`.
    #[arg(
        long,
        env = "ETCD_CLIENT_CERT_AUTH",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub client_cert_auth: bool,
    /// Client TLS with a self-signed certificate made in the data directory.
    #[arg(
        long,
        env = "ETCD_AUTO_TLS",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub auto_tls: bool,
    /// Path to the peer server TLS certificate file (also presented to peers as
    /// this member's client certificate).
    #[arg(long, env = "ETCD_PEER_CERT_FILE")]
    pub peer_cert_file: Option<String>,
    /// Path to the peer server TLS key file.
    #[arg(long, env = "ETCD_PEER_KEY_FILE")]
    pub peer_key_file: Option<String>,
    /// Path to the peer server TLS trusted CA file.
    #[arg(long, env = "ETCD_PEER_TRUSTED_CA_FILE")]
    pub peer_trusted_ca_file: Option<String>,
    /// Require peers to present a certificate signed by `--peer-trusted-ca-file`.
    #[arg(
        long,
        env = "ETCD_PEER_CLIENT_CERT_AUTH",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub peer_client_cert_auth: bool,
    /// Peer TLS with self-signed certificates made in the data directory.
    #[arg(
        long,
        env = "ETCD_PEER_AUTO_TLS",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub peer_auto_tls: bool,
    /// Accept peer connections only from certificates with this Common Name.
    #[arg(long, env = "ETCD_PEER_CERT_ALLOWED_CN")]
    pub peer_cert_allowed_cn: Option<String>,
    /// Accept peer connections only from certificates naming this host (a DNS name
    /// or IP address in the subject alternative names).
    #[arg(long, env = "ETCD_PEER_CERT_ALLOWED_HOSTNAME")]
    pub peer_cert_allowed_hostname: Option<String>,
    /// Comma-separated TLS 1.2 cipher suites, by their IANA names (TLS 1.3 suites
    /// are not configurable, as in etcd).
    #[arg(long, env = "ETCD_CIPHER_SUITES", value_delimiter = ',')]
    pub cipher_suites: Vec<String>,
    /// Lowest TLS version accepted: TLS1.2 (default) or TLS1.3.
    #[arg(long, env = "ETCD_TLS_MIN_VERSION")]
    pub tls_min_version: Option<String>,
    /// Highest TLS version accepted: TLS1.2 or TLS1.3 (default: the highest).
    #[arg(long, env = "ETCD_TLS_MAX_VERSION")]
    pub tls_max_version: Option<String>,
    /// Validity, in years, of the certificates `--auto-tls` and `--peer-auto-tls`
    /// make.
    #[arg(long, env = "ETCD_SELF_SIGNED_CERT_VALIDITY", default_value_t = 1)]
    pub self_signed_cert_validity: u32,
}

/// One port's TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortTls {
    /// Certificate file.
    pub cert_file: Option<String>,
    /// Key file.
    pub key_file: Option<String>,
    /// Trusted CA file for the other side's certificates.
    pub trusted_ca_file: Option<String>,
    /// Whether the other side must present a certificate.
    pub client_cert_auth: bool,
    /// Whether to make a self-signed certificate.
    pub auto_tls: bool,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}

impl TlsFlags {
    /// The client port's settings.
    pub fn client(&self) -> PortTls {
        PortTls {
            cert_file: given(&self.cert_file),
            key_file: given(&self.key_file),
            trusted_ca_file: given(&self.trusted_ca_file),
            client_cert_auth: self.client_cert_auth,
            auto_tls: self.auto_tls,
        }
    }

    /// The peer port's settings.
    pub fn peer(&self) -> PortTls {
        PortTls {
            cert_file: given(&self.peer_cert_file),
            key_file: given(&self.peer_key_file),
            trusted_ca_file: given(&self.peer_trusted_ca_file),
            client_cert_auth: self.peer_client_cert_auth,
            auto_tls: self.peer_auto_tls,
        }
    }

    /// The allowed peer Common Name, if one is required.
    pub fn allowed_cn(&self) -> Option<String> {
        given(&self.peer_cert_allowed_cn)
    }

    /// The allowed peer host name, if one is required.
    pub fn allowed_hostname(&self) -> Option<String> {
        given(&self.peer_cert_allowed_hostname)
    }
}

impl PortTls {
    /// Whether anything asks for TLS on this port.
    pub fn is_set(&self) -> bool {
        self.cert_file.is_some()
            || self.key_file.is_some()
            || self.trusted_ca_file.is_some()
            || self.client_cert_auth
            || self.auto_tls
    }
}
