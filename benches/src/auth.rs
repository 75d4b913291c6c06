//! Authentication for a load, set up the way an operator would: a `root` user with the
//! root role, a user for the load whose role may read and write the load's keys and
//! nothing else (so every request really goes through a permission check, which
//! `root` would skip), then `AuthEnable`. The load then logs in as that user and runs
//! with every request carrying its token. Also the ES256 key pair `--auth-token jwt,...` signs
//! tokens with.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ectd_proto::authpb::{permission::Type as PermissionType, Permission};
use ectd_proto::etcdserverpb::auth_client::AuthClient;
use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::{
    AuthEnableRequest, AuthRoleAddRequest, AuthRoleGrantPermissionRequest, AuthUserAddRequest,
    AuthUserGrantRoleRequest, AuthenticateRequest, PutRequest, RangeRequest,
};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::load::{self, key, Load};

/// The user the load runs as, and its role.
pub const USER: &str = "bench";
const ROLE: &str = "bench";
const PASSWORD: &str = "bench-password";
const ROOT_PASSWORD: &str = "root-password";

/// How long every member has to accept the load's token once auth is on: a simple
/// token is known to a member only after it applied the login.
const TOKEN_ACCEPTED_WITHIN: Duration = Duration::from_secs(30);

/// The files of an ES256 key pair for `--auth-token jwt,...`.
#[derive(Debug, Clone)]
pub struct JwtKeys {
    /// The P-256 private key, PKCS#8 PEM.
    pub private: PathBuf,
    /// Its public key, SubjectPublicKeyInfo PEM.
    pub public: PathBuf,
}

impl JwtKeys {
    /// The value of `--auth-token` for these keys, as etcd spells it.
    pub fn auth_token_flag(&self) -> String {
        format!(
            "jwt,pub-key={},priv-key={},sign-method=ES256",
            self.public.display(),
            self.private.display()
        )
    }
}

/// Makes a P-256 key pair in `dir` (etcd 3.4 and ectd both read PKCS#8 private keys).
pub fn make_jwt_keys(dir: &Path) -> anyhow::Result<JwtKeys> {
    std::fs::create_dir_all(dir)?;
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let keys = JwtKeys {
        private: dir.join("jwt.key"),
        public: dir.join("jwt.pub"),
    };
    std::fs::write(&keys.private, pair.serialize_pem())?;
    std::fs::write(&keys.public, pair.public_key_pem())?;
    Ok(keys)
}

/// The key range `[key, range_end)` of the longest prefix every key of `load`'s key
/// space shares: what the load's user may read and write.
pub fn key_range(load: &Load) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = key(load, 0);
    for i in 1..load.key_space.max(1) {
        let k = key(load, i);
        let common = prefix.iter().zip(&k).take_while(|(a, b)| a == b).count();
        prefix.truncate(common);
    }
    // The end of a prefix is the prefix with its last byte below 0xff raised by one;
    // a prefix of nothing (or of 0xff bytes only) is every key, "\0" to the end.
    let mut end = prefix.clone();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return (prefix, end);
        }
    }
    (vec![0], vec![0])
}

fn to_anyhow(what: &str) -> impl Fn(tonic::Status) -> anyhow::Error + '_ {
    move |s| anyhow::anyhow!("{what}: {}", s.message())
}

/// Creates `root` and the load's user with READWRITE on [`key_range`] through the
/// first of `endpoints` and enables authentication; then checks that the user is
/// refused a key outside the range.
pub async fn enable(endpoints: &[String], load: &Load) -> anyhow::Result<()> {
    anyhow::ensure!(!endpoints.is_empty(), "no endpoints");
    let ch = channel(&endpoints[0]).await?;
    let mut auth = AuthClient::new(ch);
    auth.user_add(AuthUserAddRequest {
        name: "root".into(),
        password: ROOT_PASSWORD.into(),
        ..Default::default()
    })
    .await
    .map_err(to_anyhow("add user root"))?;
    // The role root needs no adding: it is built in.
    auth.user_grant_role(AuthUserGrantRoleRequest {
        user: "root".into(),
        role: "root".into(),
    })
    .await
    .map_err(to_anyhow("grant root to root"))?;
    auth.role_add(AuthRoleAddRequest { name: ROLE.into() })
        .await
        .map_err(to_anyhow("add role"))?;
    let (key, range_end) = key_range(load);
    auth.role_grant_permission(AuthRoleGrantPermissionRequest {
        name: ROLE.into(),
        perm: Some(Permission {
            perm_type: PermissionType::Readwrite as i32,
            key,
            range_end,
        }),
    })
    .await
    .map_err(to_anyhow("grant the key range"))?;
    auth.user_add(AuthUserAddRequest {
        name: USER.into(),
        password: PASSWORD.into(),
        ..Default::default()
    })
    .await
    .map_err(to_anyhow("add the load's user"))?;
    auth.user_grant_role(AuthUserGrantRoleRequest {
        user: USER.into(),
        role: ROLE.into(),
    })
    .await
    .map_err(to_anyhow("grant the role"))?;
    auth.auth_enable(AuthEnableRequest {})
        .await
        .map_err(to_anyhow("enable auth"))?;
    let token = login(endpoints, load).await?;
    refused_outside(&endpoints[0], &token, load).await
}

/// Logs the load's user in through the first of `endpoints` and returns its token
/// once every member accepts it. A token does not last (a simple token expires
/// `--auth-token-ttl` after its last use, a JWT a fixed time after it was signed), so
/// a load logs in afresh before each run, as etcd's clients log in again when
/// theirs is refused.
pub async fn login(endpoints: &[String], load: &Load) -> anyhow::Result<AsciiMetadataValue> {
    anyhow::ensure!(!endpoints.is_empty(), "no endpoints");
    let mut auth = AuthClient::new(channel(&endpoints[0]).await?);
    let login = auth
        .authenticate(AuthenticateRequest {
            name: USER.into(),
            password: PASSWORD.into(),
        })
        .await
        .map_err(to_anyhow("log in"))?
        .into_inner();
    let token: AsciiMetadataValue = login.token.parse()?;
    for ep in endpoints {
        accepted(ep, &token, load).await?;
    }
    Ok(token)
}

async fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(load::url(endpoint))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await?)
}

/// Waits until the member at `endpoint` answers a linearizable read of one of the
/// load's keys made with `token`.
async fn accepted(endpoint: &str, token: &AsciiMetadataValue, load: &Load) -> anyhow::Result<()> {
    let mut kv = KvClient::new(channel(endpoint).await?);
    let deadline = Instant::now() + TOKEN_ACCEPTED_WITHIN;
    loop {
        let read = RangeRequest {
            key: key(load, 0),
            ..Default::default()
        };
        match kv.range(load::request(Some(token), read)).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                anyhow::bail!(
                    "{endpoint} still refuses {USER}'s token after {TOKEN_ACCEPTED_WITHIN:?}: {}",
                    e.message()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Checks that a put just past [`key_range`] with `token` is refused: the load's user
/// is checked against its permission rather than let through.
async fn refused_outside(
    endpoint: &str,
    token: &AsciiMetadataValue,
    load: &Load,
) -> anyhow::Result<()> {
    let (_, outside) = key_range(load);
    if outside == [0] {
        // The range is every key: nothing lies outside it.
        return Ok(());
    }
    let put = PutRequest {
        key: outside,
        value: b"outside".to_vec(),
        ..Default::default()
    };
    let mut kv = KvClient::new(channel(endpoint).await?);
    match kv.put(load::request(Some(token), put)).await {
        Err(e) if e.code() == tonic::Code::PermissionDenied => Ok(()),
        Err(e) => anyhow::bail!("{endpoint}: a put outside {USER}'s keys failed otherwise: {e}"),
        Ok(_) => anyhow::bail!("{endpoint} let {USER} put outside its keys"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(key_space: u64, key_size: usize) -> Load {
        Load {
            clients: 1,
            conns: 1,
            total: 0,
            duration: None,
            key_size,
            val_size: 1,
            key_space,
            target: load::Target::All,
            quiet: true,
            tls: None,
            token: None,
        }
    }

    #[test]
    fn the_key_range_is_the_key_space_prefix() {
        let l = load(100_000, 8);
        let (k, end) = key_range(&l);
        assert_eq!((k.as_slice(), end.as_slice()), (&b"000"[..], &b"001"[..]));
        for i in [0, 1, 99_999] {
            let key = key(&l, i);
            assert!(key >= k && key < end, "{key:?}");
        }
        // Keys 0..=9 of one byte share nothing: every key.
        assert_eq!(key_range(&load(10, 1)), (vec![0], vec![0]));
    }

    #[test]
    fn jwt_keys_are_pem_files_and_make_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let keys = make_jwt_keys(dir.path()).unwrap();
        let private = std::fs::read_to_string(&keys.private).unwrap();
        let public = std::fs::read_to_string(&keys.public).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        let flag = keys.auth_token_flag();
        assert!(flag.starts_with("jwt,pub-key=") && flag.ends_with(",sign-method=ES256"));
    }
}
