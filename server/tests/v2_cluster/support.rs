//! Running a scenario, finding the leader, and writing through whichever member
//! answers.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::Cluster;
use crate::http::{self, Reply};
use ectd_client::proto::etcdserverpb::StatusResponse;
use ectd_client::{Client, ConnectOptions};

/// The flag that turns the v2 API on, for both servers.
pub(crate) const ENABLE_V2: &[&str] = &["--enable-v2"];

/// Runs one scenario on its own runtime, after every other scenario of this file
/// has finished: TTL deadlines are measured, and on a small machine two clusters
/// electing leaders at once would measure each other.
pub(crate) fn run(test: impl Future<Output = ()>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(async {
            // A hung request must fail the scenario, and dropping it kills the
            // cluster it started.
            if tokio::time::timeout(SCENARIO_LIMIT, test).await.is_err() {
                panic!("the scenario did not finish within {SCENARIO_LIMIT:?}");
            }
        });
}

/// The longest a scenario may run; the longest takes well under half of it.
const SCENARIO_LIMIT: Duration = Duration::from_secs(150);

async fn status(endpoint: &str) -> Result<StatusResponse, String> {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
    };
    Client::endpoint_status(endpoint, options)
        .await
        .map_err(|e| format!("status of {endpoint}: {e}"))
}

/// The index (into `cl.members`) of the leader that every member in `which`
/// names, once they agree and it is one of them.
pub(crate) async fn agreed_leader(cl: &Cluster, which: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut ids = Vec::new();
        let mut leaders = Vec::new();
        let mut last = String::new();
        for &i in which {
            match status(&cl.members[i].endpoint()).await {
                Ok(s) => {
                    ids.push((i, s.header.map_or(0, |h| h.member_id)));
                    leaders.push(s.leader);
                }
                Err(e) => last = e,
            }
        }
        if leaders.len() == which.len() && leaders.iter().all(|&l| l != 0 && l == leaders[0]) {
            if let Some(&(i, _)) = ids.iter().find(|(_, id)| *id == leaders[0]) {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "members {which:?} do not agree on a leader among them: ids {ids:x?}, \
             leaders {leaders:x?}, {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `op` to the members in `endpoints`, starting with the first and moving on
/// after a transport failure or a 5xx answer, until one gives a definite answer
/// (which may be an etcd error such as 105) or `limit` passes. A write that failed
/// in transport may still have been applied: callers that care must check.
pub(crate) async fn until_answered<F, Fut>(
    endpoints: &[String],
    limit: Duration,
    what: &str,
    mut op: F,
) -> Reply
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Reply, String>>,
{
    let deadline = Instant::now() + limit;
    let mut attempt = 0;
    loop {
        let ep = endpoints[attempt % endpoints.len()].clone();
        let why = match op(ep).await {
            Ok(r) if r.status < 500 => return r,
            Ok(r) => format!("HTTP {}: {}", r.status, r.body),
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "{what}: no definite answer within {limit:?}; last: {why}"
        );
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `PUT key=value` with `params` through `endpoints`; panics unless it succeeds.
pub(crate) async fn must_put(
    endpoints: &[String],
    key: &str,
    value: &str,
    params: &[(&str, &str)],
) -> Reply {
    let r = until_answered(endpoints, Duration::from_secs(20), key, |ep| async move {
        http::put(&ep, key, Some(value), params).await
    })
    .await;
    assert!(
        r.status == 200 || r.status == 201,
        "PUT {key}={value:?} {params:?}: HTTP {} {}",
        r.status,
        r.body
    );
    r
}

/// Panics unless `key` is absent on `endpoint` (a quorum read).
pub(crate) async fn assert_absent(endpoint: &str, key: &str, when: &str) {
    let r = http::get(endpoint, key, &[("quorum", "true")])
        .await
        .unwrap_or_else(|e| panic!("{when}: GET {key}: {e}"));
    assert!(
        r.status == 404 && r.error_code() == Some(100),
        "{when}: {key} should be gone from {endpoint}, got HTTP {} {}",
        r.status,
        r.body
    );
}
