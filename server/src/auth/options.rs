//! `--auth-token`: which tokens a member issues and accepts, as etcd spells it:
//! `simple`, or `jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>,ttl=<d>`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::token::{JwtTokens, SimpleTokens, Tokens};
use crate::config::ConfigError;

/// JWT options etcd knows.
const JWT_OPTIONS: [&str; 4] = ["pub-key", "priv-key", "sign-method", "ttl"];

/// How long a JWT is valid unless `ttl=` says otherwise.
const DEFAULT_JWT_TTL: Duration = Duration::from_secs(5 * 60);

fn err(msg: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("--auth-token: {msg}"))
}

/// The token type and its options.
fn split(spec: &str) -> Result<(&str, BTreeMap<&str, &str>), ConfigError> {
    let mut parts = spec.split(',');
    let kind = parts.next().unwrap_or("");
    let mut opts = BTreeMap::new();
    for p in parts {
        let Some((k, v)) = p.split_once('=').filter(|(_, v)| !v.contains('=')) else {
            return Err(err(format!("invalid token option {p:?}")));
        };
        if opts.insert(k, v).is_some() {
            return Err(err(format!("option {k} given twice")));
        }
    }
    Ok((kind, opts))
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(Path::new(path)).map_err(|e| err(format!("cannot read {what} {path}: {e}")))
}

fn algorithm(name: &str) -> Result<Algorithm, ConfigError> {
    Ok(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "EdDSA" => Algorithm::EdDSA,
        "" => return Err(err("jwt needs sign-method")),
        other => return Err(err(format!("unsupported sign-method {other}"))),
    })
}

/// The token provider `spec` describes; simple tokens live `simple_ttl`.
pub fn tokens(spec: &str, simple_ttl: Duration) -> Result<Tokens, ConfigError> {
    let (kind, opts) = split(spec)?;
    match kind {
        "simple" if opts.is_empty() => Ok(Tokens::Simple(SimpleTokens::new(simple_ttl))),
        "simple" => Err(err("simple tokens take no options")),
        "jwt" => jwt(&opts).map(Tokens::Jwt),
        other => Err(err(format!("unknown token type {other:?}"))),
    }
}

fn jwt(opts: &BTreeMap<&str, &str>) -> Result<JwtTokens, ConfigError> {
    if let Some(k) = opts.keys().find(|k| !JWT_OPTIONS.contains(k)) {
        return Err(err(format!("unknown jwt option {k}")));
    }
    let alg = algorithm(opts.get("sign-method").copied().unwrap_or(""))?;
    let ttl = match opts.get("ttl") {
        Some(t) => crate::config::parse_go_duration(t).map_err(err)?,
        None => DEFAULT_JWT_TTL,
    };
    let private = opts
        .get("priv-key")
        .map(|p| read(p, "priv-key"))
        .transpose()?;
    let public = opts
        .get("pub-key")
        .map(|p| read(p, "pub-key"))
        .transpose()?;
    let bad_key = |what: &str, e: jsonwebtoken::errors::Error| err(format!("{what}: {e}"));
    let (sign, verify) = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = private.ok_or_else(|| err("jwt with an HMAC method needs priv-key"))?;
            (
                Some(EncodingKey::from_secret(&secret)),
                DecodingKey::from_secret(&secret),
            )
        }
        _ => {
            let public = public.ok_or_else(|| err("jwt needs pub-key"))?;
            let verify = match alg {
                Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&public),
                Algorithm::EdDSA => DecodingKey::from_ed_pem(&public),
                _ => DecodingKey::from_rsa_pem(&public),
            }
            .map_err(|e| bad_key("pub-key", e))?;
            let sign = private
                .map(|p| match alg {
                    Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&p),
                    Algorithm::EdDSA => EncodingKey::from_ed_pem(&p),
                    _ => EncodingKey::from_rsa_pem(&p),
                })
                .transpose()
                .map_err(|e| bad_key("priv-key", e))?;
            (sign, verify)
        }
    };
    let tokens = JwtTokens::new(alg, sign, verify, ttl);
    // A key pair that does not match would hand out tokens nobody accepts.
    if let Ok(t) = tokens.assign("check", 0) {
        if tokens.lookup(&t) == super::token::Lookup::Invalid {
            return Err(err("the public and private keys do not match"));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_specs_are_read_as_etcd_reads_them() {
        let ttl = Duration::from_secs(300);
        assert!(matches!(tokens("simple", ttl), Ok(Tokens::Simple(_))));
        for bad in [
            "",
            "plain",
            "simple,x=1",
            "jwt",
            "jwt,sign-method=RS256",
            "jwt,sign-method=XX1,pub-key=/nonexistent",
            "jwt,pub-key=a,pub-key=b",
            "jwt,pub-key",
            "jwt,sign-method=HS256,colour=blue",
        ] {
            assert!(tokens(bad, ttl).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"s3cret").unwrap();
        let spec = format!(
            "jwt,sign-method=HS256,priv-key={},ttl=10m",
            secret.display()
        );
        assert!(matches!(tokens(&spec, ttl), Ok(Tokens::Jwt(_))));
    }

    #[test]
    fn es256_key_pairs_load_and_mismatches_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write_pair = |name: &str| {
            let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let priv_path = dir.path().join(format!("{name}.key"));
            let pub_path = dir.path().join(format!("{name}.pub"));
            std::fs::write(&priv_path, kp.serialize_pem()).unwrap();
            std::fs::write(&pub_path, kp.public_key_pem()).unwrap();
            (priv_path, pub_path)
        };
        let (a_priv, a_pub) = write_pair("a");
        let (_, b_pub) = write_pair("b");
        let spec = |pubk: &Path| {
            format!(
                "jwt,sign-method=ES256,priv-key={},pub-key={}",
                a_priv.display(),
                pubk.display()
            )
        };
        let ttl = Duration::from_secs(1);
        assert!(matches!(tokens(&spec(&a_pub), ttl), Ok(Tokens::Jwt(_))));
        assert!(tokens(&spec(&b_pub), ttl).is_err());
    }
}
