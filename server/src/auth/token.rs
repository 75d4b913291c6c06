//! Auth tokens: etcd's `simple` tokens (random, kept in each member's memory
//! with a TTL renewed on use) and signed JWTs (`--auth-token jwt,...`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Letters a simple token's random part is drawn from.
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Length of a simple token's random part.
const PREFIX_LEN: usize = 16;

/// Simple tokens held before expired ones are swept on the next login.
const SWEEP_AT: usize = 1 << 16;

/// How finely a simple token's expiry follows its last use.
const RENEW_RESOLUTION_MS: u64 = 1000;

/// Most simple tokens a member holds; past it the one closest to expiry goes.
const MAX_SIMPLE_TOKENS: usize = 1 << 20;

/// How tokens are made and checked (`--auth-token`).
pub enum Tokens {
    /// `simple`: opaque tokens valid on every member that applied the login.
    Simple(SimpleTokens),
    /// `jwt`: signed tokens carrying the user and the auth revision.
    Jwt(JwtTokens),
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The token's user and, for a JWT, the auth revision it was issued at.
    User(String, Option<u64>),
    /// A simple token issued at a raft index this member has not applied yet.
    NotYetApplied(u64),
    /// Unknown, expired, malformed or badly signed.
    Invalid,
}

/// One simple token: its user and when it expires, in milliseconds since the
/// provider was made (renewed on each use without a write lock).
struct SimpleToken {
    user: String,
    deadline_ms: AtomicU64,
}

/// Simple tokens: `<16 letters>.<raft index of the login>` -> user.
pub struct SimpleTokens {
    ttl: Duration,
    epoch: Instant,
    tokens: RwLock<HashMap<String, Arc<SimpleToken>>>,
}

impl SimpleTokens {
    /// Tokens that expire after `ttl` without use.
    pub fn new(ttl: Duration) -> SimpleTokens {
        SimpleTokens {
            ttl,
            epoch: Instant::now(),
            tokens: RwLock::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn deadline_ms(&self) -> u64 {
        self.now_ms().saturating_add(self.ttl.as_millis() as u64)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<SimpleToken>>> {
        self.tokens.write().expect("simple tokens lock")
    }

    /// A fresh random prefix for a login.
    pub fn prefix() -> String {
        use rand::Rng as _;
        let mut rng = rand::thread_rng();
        (0..PREFIX_LEN)
            .map(|_| LETTERS[rng.gen_range(0..LETTERS.len())] as char)
            .collect()
    }

    /// Records the token of a login applied at `index`.
    pub fn assign(&self, prefix: &str, index: u64, user: &str) -> String {
        let token = format!("{prefix}.{index}");
        let now = self.now_ms();
        let mut tokens = self.write();
        if tokens.len() >= SWEEP_AT {
            tokens.retain(|_, t| t.deadline_ms.load(Ordering::Relaxed) > now);
        }
        if tokens.len() >= MAX_SIMPLE_TOKENS {
            let oldest = tokens
                .iter()
                .min_by_key(|(_, t)| t.deadline_ms.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                tokens.remove(&k);
            }
        }
        let entry = SimpleToken {
            user: user.to_string(),
            deadline_ms: AtomicU64::new(self.deadline_ms()),
        };
        tokens.insert(token.clone(), Arc::new(entry));
        token
    }

    /// The user of `token`, renewing its TTL.
    pub fn lookup(&self, token: &str, applied: u64) -> Lookup {
        let Some(index) = token
            .split_once('.')
            .and_then(|(p, i)| (!p.contains('.')).then_some(i))
            .and_then(|i| i.parse::<u64>().ok())
        else {
            return Lookup::Invalid;
        };
        if index > applied {
            return Lookup::NotYetApplied(index);
        }
        let now = self.now_ms();
        let found = self
            .tokens
            .read()
            .expect("simple tokens lock")
            .get(token)
            .cloned();
        match found {
            Some(t) if t.deadline_ms.load(Ordering::Relaxed) > now => {
                // Renewed at most once a second, so that many clients sharing
                // a token do not all write the same cache line.
                let renewed = self.deadline_ms();
                if renewed >= t.deadline_ms.load(Ordering::Relaxed) + RENEW_RESOLUTION_MS {
                    t.deadline_ms.store(renewed, Ordering::Relaxed);
                }
                Lookup::User(t.user.clone(), None)
            }
            Some(_) => {
                self.write().remove(token);
                Lookup::Invalid
            }
            None => Lookup::Invalid,
        }
    }

    /// Drops every token of `user` (deleted, or its password changed).
    pub fn invalidate_user(&self, user: &str) {
        self.write().retain(|_, t| t.user != user);
    }

    /// Drops every token (auth turned off).
    pub fn clear(&self) {
        self.write().clear();
    }
}

/// A JWT's claims, as etcd writes them.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    username: String,
    revision: u64,
    exp: u64,
}

/// Signed tokens.
pub struct JwtTokens {
    algorithm: Algorithm,
    sign: Option<EncodingKey>,
    verify: DecodingKey,
    ttl: Duration,
    /// Tokens whose signature was checked: token -> (user, revision, expiry in
    /// Unix seconds), so a client's every request does not pay for a
    /// signature check.
    verified: RwLock<HashMap<String, (String, u64, u64)>>,
}

/// Most verified JWTs remembered; past it the memory starts over.
const MAX_VERIFIED_JWTS: usize = 1 << 14;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl JwtTokens {
    /// Tokens signed with `sign` (None: this member only verifies) and checked
    /// with `verify`, valid for `ttl`.
    pub fn new(
        algorithm: Algorithm,
        sign: Option<EncodingKey>,
        verify: DecodingKey,
        ttl: Duration,
    ) -> JwtTokens {
        JwtTokens {
            algorithm,
            sign,
            verify,
            ttl,
            verified: RwLock::default(),
        }
    }

    /// A token for `user` at auth revision `revision`.
    pub fn assign(&self, user: &str, revision: u64) -> Result<String, Error> {
        let Some(key) = &self.sign else {
            tracing::warn!("a login needs a token, but the JWT key given can only verify");
            return Err(Error::AuthFailed);
        };
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            + self.ttl;
        let claims = Claims {
            username: user.to_string(),
            revision,
            exp: exp.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key).map_err(|e| {
            tracing::warn!(error = %e, "signing a JWT failed");
            Error::AuthFailed
        })
    }

    /// The user and revision `token` carries, if it is validly signed and not expired.
    pub fn lookup(&self, token: &str) -> Lookup {
        let now = unix_now();
        let known = self
            .verified
            .read()
            .expect("verified JWTs lock")
            .get(token)
            .cloned();
        if let Some((user, revision, exp)) = known {
            return if exp > now {
                Lookup::User(user, Some(revision))
            } else {
                Lookup::Invalid
            };
        }
        let mut v = Validation::new(self.algorithm);
        v.leeway = 0;
        v.required_spec_claims.clear();
        v.required_spec_claims.insert("exp".into());
        match jsonwebtoken::decode::<Claims>(token, &self.verify, &v) {
            Ok(t) => {
                let c = t.claims;
                let mut verified = self.verified.write().expect("verified JWTs lock");
                if verified.len() >= MAX_VERIFIED_JWTS {
                    verified.retain(|_, (_, _, exp)| *exp > now);
                    if verified.len() >= MAX_VERIFIED_JWTS {
                        verified.clear();
                    }
                }
                verified.insert(token.to_string(), (c.username.clone(), c.revision, c.exp));
                Lookup::User(c.username, Some(c.revision))
            }
            Err(_) => Lookup::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_tokens_name_the_login_index_and_expire() {
        let t = SimpleTokens::new(Duration::from_millis(50));
        let p = SimpleTokens::prefix();
        assert_eq!(p.len(), PREFIX_LEN);
        let token = t.assign(&p, 7, "alice");
        assert_eq!(token, format!("{p}.7"));
        assert_eq!(t.lookup(&token, 6), Lookup::NotYetApplied(7));
        assert_eq!(t.lookup(&token, 7), Lookup::User("alice".into(), None));
        assert_eq!(t.lookup("garbage", 7), Lookup::Invalid);
        assert_eq!(t.lookup("a.b.3", 7), Lookup::Invalid);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(t.lookup(&token, 7), Lookup::Invalid);
    }

    #[test]
    fn invalidating_a_user_drops_only_its_tokens() {
        let t = SimpleTokens::new(Duration::from_secs(60));
        let a = t.assign("aaaa", 1, "alice");
        let b = t.assign("bbbb", 2, "bob");
        t.invalidate_user("alice");
        assert_eq!(t.lookup(&a, 9), Lookup::Invalid);
        assert_eq!(t.lookup(&b, 9), Lookup::User("bob".into(), None));
    }

    #[test]
    fn jwts_carry_user_and_revision_and_refuse_other_keys() {
        let t = JwtTokens::new(
            Algorithm::HS256,
            Some(EncodingKey::from_secret(b"k")),
            DecodingKey::from_secret(b"k"),
            Duration::from_secs(60),
        );
        let tok = t.assign("bob", 5).unwrap();
        assert_eq!(t.lookup(&tok), Lookup::User("bob".into(), Some(5)));
        let other = JwtTokens::new(
            Algorithm::HS256,
            None,
            DecodingKey::from_secret(b"x"),
            Duration::from_secs(60),
        );
        assert_eq!(other.lookup(&tok), Lookup::Invalid);
        assert!(other.assign("bob", 5).is_err());
    }
}
