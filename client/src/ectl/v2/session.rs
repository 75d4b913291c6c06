//! The global settings of a v2 command and the client they make: endpoints
//! from the flags or `ETCDCTL_*` variables, TLS files, timeouts, `--debug`
//! tracing and the member-list sync etcdctl 2 does before every command.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ectd_client::v2::{Client, ClientOptions, Error, RequestInfo};
use ectd_client::TlsOptions;

use super::super::gostr::quote;
use super::flags::Parsed;
use super::output::{eprint_now, Exit, EXIT_BAD_CONNECTION, EXIT_SERVER_ERROR};

/// etcdctl 2's endpoints when none are given.
const DEFAULT_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";

/// How long connecting may take at most (shortened to the total timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// The global settings.
#[derive(Debug, Clone)]
pub struct Session {
    /// The name ectl was run as, for messages that suggest a command.
    pub program: String,
    /// `-o`: `simple`, `extended` or `json` (anything else is complained
    /// about when printing).
    pub output: String,
    /// `--debug`: trace the sync and every request on stderr.
    pub debug: bool,
    no_sync: bool,
    discovery_srv: String,
    endpoints: Vec<String>,
    ca_file: String,
    cert_file: String,
    key_file: String,
    username: String,
    /// Per request, until the response header.
    timeout: Duration,
    /// For each command (except watches), syncing included.
    total_timeout: Duration,
}

impl Session {
    /// The settings from the parsed global flags, falling back to the
    /// environment as etcdctl 2 does.
    pub fn new(program: &str, flags: &Parsed, env: impl Fn(&str) -> Option<String>) -> Session {
        let env = |name: &str| env(name).unwrap_or_default();
        let first = |candidates: [String; 6]| {
            candidates
                .into_iter()
                .find(|value| !value.is_empty())
                .unwrap_or_else(|| DEFAULT_ENDPOINTS.to_string())
        };
        let endpoints = first([
            flags.string("endpoints"),
            env("ETCDCTL_ENDPOINTS"),
            flags.string("endpoint"),
            env("ETCDCTL_ENDPOINT"),
            flags.string("peers"),
            env("ETCDCTL_PEERS"),
        ]);
        let file = |flag: &str, alias: &str, variable: &str| {
            [flags.string(flag), flags.string(alias), env(variable)]
                .into_iter()
                .find(|value| !value.is_empty())
                .unwrap_or_default()
        };
        let mut discovery_srv = flags.string("discovery-srv");
        if discovery_srv.is_empty() {
            discovery_srv = env("ETCDCTL_DISCOVERY_SRV");
        }
        let mut username = flags.string("username");
        if username.is_empty() {
            username = env("ETCDCTL_USERNAME");
        }
        Session {
            program: program.to_string(),
            output: flags.string("output"),
            debug: flags.bool("debug"),
            no_sync: flags.bool("no-sync"),
            discovery_srv,
            endpoints: endpoints.split(',').map(str::to_string).collect(),
            ca_file: file("ca-file", "cacert", "ETCDCTL_CA_FILE"),
            cert_file: file("cert-file", "cert", "ETCDCTL_CERT_FILE"),
            key_file: file("key-file", "key", "ETCDCTL_KEY_FILE"),
            username,
            timeout: flags.duration("timeout"),
            total_timeout: flags.duration("total-timeout"),
        }
    }

    /// A client synced with the cluster's member list (unless `--no-sync`).
    /// A sync that cannot reach the cluster ends the command (exit 2); a
    /// cluster that publishes no client URL too (exit 4); other sync
    /// failures are ignored, as etcdctl ignores them.
    pub async fn client(&self) -> Result<Client, Exit> {
        let client = self.new_client()?;
        if !self.no_sync {
            if self.debug {
                eprint_now(&format!(
                    "start to sync cluster using endpoints({})\n",
                    client.endpoints().join(",")
                ));
            }
            match self.within(client.sync()).await {
                Ok(()) => {}
                Err(Failure::Client(Error::NoEndpoints)) => {
                    eprint_now(&format!(
                        "etcd cluster has no published client endpoints.\nTry '--no-sync' if you \
                         want to access non-published client endpoints({}).\n",
                        client.endpoints().join(",")
                    ));
                    return Err(self.fail(EXIT_SERVER_ERROR, &Failure::Client(Error::NoEndpoints)));
                }
                Err(failure) if failure.is_connection_error() => {
                    return Err(self.fail(EXIT_BAD_CONNECTION, &failure));
                }
                Err(_) => {}
            }
            if self.debug {
                eprint_now(&format!(
                    "got endpoints({}) after sync\n",
                    client.endpoints().join(",")
                ));
            }
        }
        if self.debug {
            eprint_now(&format!(
                "Cluster-Endpoints: {}\n",
                client.endpoints().join(", ")
            ));
        }
        Ok(client)
    }

    /// A client that uses the endpoints as given (`cluster-health`).
    pub fn client_without_sync(&self) -> Result<Client, Exit> {
        let client = self.new_client()?;
        if self.debug {
            eprint_now(&format!(
                "Cluster-Endpoints: {}\n",
                client.endpoints().join(", ")
            ));
        }
        Ok(client)
    }

    fn new_client(&self) -> Result<Client, Exit> {
        if !self.discovery_srv.is_empty() {
            return Err(Exit::message(
                1,
                "ectl: DNS SRV discovery (--discovery-srv) is not supported; name the \
                 endpoints with --endpoints\n",
            ));
        }
        let mut options = self.client_options()?;
        if !self.username.is_empty() {
            options.credentials = Some(credentials(&self.username)?);
        }
        Client::new(&self.endpoints, options).map_err(|err| Exit::message(1, &format!("{err}\n")))
    }

    fn client_options(&self) -> Result<ClientOptions, Exit> {
        let secure = self.endpoints.iter().any(|e| e.starts_with("https://"));
        let files_given =
            !(self.ca_file.is_empty() && self.cert_file.is_empty() && self.key_file.is_empty());
        if secure && self.ca_file.is_empty() {
            // etcdctl would fall back on the system's CAs; ectl trusts only
            // what it is given.
            return Err(Exit::message(
                1,
                "https endpoints need --ca-file (or ETCDCTL_CA_FILE): ectl does not use the \
                 system trust store\n",
            ));
        }
        let path = |file: &str| (!file.is_empty()).then(|| PathBuf::from(file));
        let tls = (secure || files_given).then(|| TlsOptions {
            ca_file: path(&self.ca_file),
            cert_file: path(&self.cert_file),
            key_file: path(&self.key_file),
            ..TlsOptions::default()
        });
        let mut dial_timeout = DIAL_TIMEOUT;
        if !self.total_timeout.is_zero() && self.total_timeout < dial_timeout {
            dial_timeout = self.total_timeout;
        }
        Ok(ClientOptions {
            header_timeout: (!self.timeout.is_zero()).then_some(self.timeout),
            dial_timeout,
            tls,
            // `--debug` prints every request as a cURL command line.
            on_request: self.debug.then(curl_hook),
            ..ClientOptions::default()
        })
    }

    /// Runs `work` within the total timeout (`context deadline exceeded`
    /// when it runs out).
    pub async fn within<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Failure> {
        if self.total_timeout.is_zero() {
            // Expired before it started, as a Go context with a zero
            // timeout: the request is begun (and traced) but not awaited.
            let _ = futures::FutureExt::now_or_never(work);
            return Err(Failure::DeadlineExceeded);
        }
        match tokio::time::timeout(self.total_timeout, work).await {
            Ok(result) => result.map_err(Failure::Client),
            Err(_) => Err(Failure::DeadlineExceeded),
        }
    }

    /// etcdctl's `handleError`: `Error:  <err>` (and each endpoint's
    /// failure when the whole cluster failed), then the exit status.
    pub fn fail(&self, code: i32, failure: &Failure) -> Exit {
        let mut text = format!("Error:  {failure}\n");
        if let Failure::Client(Error::Cluster(cluster)) = failure {
            text.push_str(&cluster.detail());
            text.push('\n');
        }
        Exit::message(code, &text)
    }
}

/// Why a command's request failed.
#[derive(Debug)]
pub enum Failure {
    Client(Error),
    /// The total timeout ran out.
    DeadlineExceeded,
}

impl Failure {
    fn is_connection_error(&self) -> bool {
        match self {
            Failure::Client(err) => err.is_connection_error(),
            Failure::DeadlineExceeded => true,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Client(err) => err.fmt(f),
            Failure::DeadlineExceeded => f.write_str("context deadline exceeded"),
        }
    }
}

/// `user:password`, or `user` and a password typed in answer to a prompt.
fn credentials(flag: &str) -> Result<(String, String), Exit> {
    if let Some((user, password)) = flag.split_once(':') {
        return Ok((user.to_string(), password.to_string()));
    }
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(b"Password: ");
    let _ = stdout.flush();
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|err| Exit::message(1, &format!("{err}\n")))?;
    let _ = stdout.write_all(b"\n");
    Ok((
        flag.to_string(),
        password.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

/// The cURL line etcdctl's `--debug` prints for a request.
fn curl_line(request: &RequestInfo<'_>) -> String {
    let mut line = format!("cURL Command: curl -X {} {}", request.method, request.url);
    if let Some(body) = request.body {
        line.push_str(&format!(" -d {}", quote(body.as_bytes())));
    }
    line.push('\n');
    line
}

fn curl_hook() -> ectd_client::v2::RequestHook {
    Arc::new(|request: &RequestInfo<'_>| eprint_now(&curl_line(request)))
}
