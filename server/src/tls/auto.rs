//! Self-signed certificates for `--auto-tls` and `--peer-auto-tls`, made once in
//! the data directory (`fixtures/client`, `fixtures/peer`, as etcd lays them out)
//! and reused on restart.

use std::path::{Path, PathBuf};

use super::TlsError;

/// The certificate's file name in its directory.
pub const CERT_FILE: &str = "cert.pem";
/// The key's file name in its directory.
pub const KEY_FILE: &str = "key.pem";

/// The certificate and key in `dir`, made for `hosts` (DNS names or IP
/// addresses) and valid for `years` if they do not exist yet.
pub fn self_signed(
    dir: &Path,
    hosts: &[String],
    years: u32,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join(CERT_FILE);
    let key = dir.join(KEY_FILE);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let io = |e: std::io::Error| TlsError(format!("auto-TLS in {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut names: Vec<String> = hosts.to_vec();
    if names.is_empty() {
        names.push("localhost".into());
    }
    names.sort();
    names.dedup();
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|e| TlsError(format!("auto-TLS certificate: {e}")))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "ectd");
    params.distinguished_name = dn;
    let now = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
    params.not_before = now - std::time::Duration::from_secs(3600);
    params.not_after = now + std::time::Duration::from_secs(u64::from(years.max(1)) * 365 * 86400);
    let pair = rcgen::KeyPair::generate().map_err(|e| TlsError(format!("auto-TLS key: {e}")))?;
    let made = params
        .self_signed(&pair)
        .map_err(|e| TlsError(format!("auto-TLS certificate: {e}")))?;
    write_private(&key, pair.serialize_pem().as_bytes()).map_err(io)?;
    std::fs::write(&cert, made.pem()).map_err(io)?;
    tracing::info!(dir = %dir.display(), "made a self-signed TLS certificate (auto-TLS)");
    Ok((cert, key))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}
