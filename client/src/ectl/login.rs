//! Whom ectl logs in as: etcdctl's `--user` and `--password` (or
//! `ETCDCTL_USER` and `ETCDCTL_PASSWORD`).

use ectd_client::Credentials;

use super::exit::CtlError;
use super::password;

/// The login the global flags ask for. `Debug` never shows a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// No login: calls carry no token.
    Anonymous,
    /// A user name and a password, both given.
    Password(Credentials),
    /// `--user` without a password: it is asked for at the terminal (or
    /// read from stdin) when ectl first connects.
    Prompt {
        /// The user name.
        user: String,
    },
}

impl Login {
    /// Reads the flags as etcdctl 3.4 does. Without `--user` there is no
    /// login, whatever `--password` says. With `--password`, `--user` is the
    /// whole user name; otherwise `--user name:password` splits at the first
    /// colon, and a `--user` without one has its password asked for. An
    /// empty user name or password means no login, as etcd's client then
    /// does not log in.
    pub fn from_flags(user: Option<&str>, password: Option<&str>) -> Login {
        let user = user.unwrap_or_default();
        if user.is_empty() {
            return Login::Anonymous;
        }
        match password.filter(|password| !password.is_empty()) {
            Some(password) => Login::with(user, password),
            None => match user.split_once(':') {
                Some((user, password)) => Login::with(user, password),
                None => Login::Prompt {
                    user: user.to_string(),
                },
            },
        }
    }

    fn with(user: &str, password: &str) -> Login {
        if user.is_empty() || password.is_empty() {
            Login::Anonymous
        } else {
            Login::Password(Credentials::new(user, password))
        }
    }

    /// The credentials to log in with, asking for the password if it was
    /// not given (`Password: ` on stdout, as etcdctl asks); `None` for no
    /// login, which an empty answer also means.
    pub fn credentials(&self) -> Result<Option<Credentials>, CtlError> {
        match self {
            Login::Anonymous => Ok(None),
            Login::Password(credentials) => Ok(Some(credentials.clone())),
            Login::Prompt { user } => {
                let password = password::prompt("Password: ")?;
                Ok((!password.is_empty()).then(|| Credentials::new(user, password)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(user: Option<&str>, password: Option<&str>) -> Login {
        Login::from_flags(user, password)
    }

    fn given(user: &str, password: &str) -> Login {
        Login::Password(Credentials::new(user, password))
    }

    #[test]
    fn flags_read_like_etcdctl() {
        assert_eq!(login(None, None), Login::Anonymous);
        assert_eq!(login(None, Some("pw")), Login::Anonymous);
        assert_eq!(login(Some(""), Some("pw")), Login::Anonymous);
        assert_eq!(login(Some("root:pw"), None), given("root", "pw"));
        assert_eq!(login(Some("root:a:b"), None), given("root", "a:b"));
        assert_eq!(login(Some("root"), Some("pw")), given("root", "pw"));
        // With --password, a colon belongs to the user name.
        assert_eq!(login(Some("root:pw"), Some("pw")), given("root:pw", "pw"));
        assert_eq!(login(Some("root:pw"), Some("")), given("root", "pw"));
        assert_eq!(
            login(Some("root"), None),
            Login::Prompt {
                user: "root".into()
            }
        );
        assert_eq!(login(Some("root:"), None), Login::Anonymous);
        assert_eq!(login(Some(":pw"), None), Login::Anonymous);
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", given("root", "s3cret"));
        assert!(
            shown.contains("root") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
