//! Time to live: `ttl` on files and directories, clearing it with `ttl=`,
//! invalid values, `refresh=true`, and expiry seen by reads and watchers.
//!
//! etcd removes expired keys when the leader's periodic sync (every 500 ms)
//! reaches the log, so a key with `ttl=1` is gone 1–1.5 s after it was written
//! and may still be read in between. Cases never read a key whose TTL is
//! running out; they wait until it is surely gone.

use crate::harness::{keys, Pair};
use crate::http::Request;
use std::time::Duration;

/// Long enough for a TTL of one second to have run out and been applied on
/// both servers.
const EXPIRED: Duration = Duration::from_millis(3000);

#[test]
fn ttls_and_refresh() {
    let mut p = Pair::start("v2 ttl and refresh");
    p.case(
        "file with ttl",
        Request::put(&keys("/t?ttl=100")).form("value=v"),
    );
    p.case("get it", Request::get(&keys("/t")));
    p.case("listed with ttl", Request::get(&keys("/?sorted=true")));
    p.case(
        "ttl in the form",
        Request::put(&keys("/t")).form("value=w&ttl=200"),
    );
    p.case(
        "empty ttl clears it",
        Request::put(&keys("/t?ttl=")).form("value=x"),
    );
    p.case("permanent now", Request::get(&keys("/t")));
    p.case(
        "set keeps no ttl",
        Request::put(&keys("/t")).form("value=y"),
    );
    p.case("ttl=abc", Request::put(&keys("/t?ttl=abc")).form("value=z"));
    p.case("ttl=-1", Request::put(&keys("/t?ttl=-1")).form("value=z"));
    p.case("ttl=1.5", Request::put(&keys("/t?ttl=1.5")).form("value=z"));
    p.case("ttl=+5", Request::put(&keys("/t?ttl=%2B5")).form("value=z"));
    p.case(
        "ttl overflow",
        Request::put(&keys("/t?ttl=18446744073709551616")).form("value=z"),
    );
    p.case(
        "ttl on a missing key's get",
        Request::get(&keys("/t?ttl=5")),
    );
    p.case(
        "a year",
        Request::put(&keys("/year?ttl=31536000")).form("value=y"),
    );
    p.case("get a year", Request::get(&keys("/year")));
    p.case(
        "create with ttl",
        Request::put(&keys("/c?prevExist=false&ttl=300")).form("value=c"),
    );
    p.case(
        "swap keeps no ttl unless given",
        Request::put(&keys("/c?prevValue=c")).form("value=d"),
    );
    p.case(
        "swap with ttl",
        Request::put(&keys("/c?prevValue=d&ttl=400")).form("value=e"),
    );
    p.case(
        "update with ttl",
        Request::put(&keys("/c?prevExist=true&ttl=500")).form("value=f"),
    );
    p.case(
        "in-order with ttl",
        Request::post(&keys("/q?ttl=100")).form("value=job"),
    );
    p.case(
        "queue",
        Request::get(&keys("/q?recursive=true&sorted=true")),
    );

    p.case(
        "refresh with ttl",
        Request::put(&keys("/c?refresh=true&ttl=600")),
    );
    p.case("after refresh", Request::get(&keys("/c")));
    p.case(
        "refresh with prevExist",
        Request::put(&keys("/c?refresh=true&prevExist=true&ttl=700")),
    );
    p.case(
        "refresh with prevValue",
        Request::put(&keys("/c?refresh=true&prevValue=f&ttl=800")),
    );
    p.case(
        "refresh with stale prevValue",
        Request::put(&keys("/c?refresh=true&prevValue=zzz&ttl=800")),
    );
    p.case(
        "refresh in the form",
        Request::put(&keys("/c")).form("refresh=true&ttl=900"),
    );
    p.case(
        "refresh without ttl",
        Request::put(&keys("/c?refresh=true")),
    );
    p.case(
        "refresh with empty ttl",
        Request::put(&keys("/c?refresh=true&ttl=")),
    );
    p.case(
        "refresh with a value",
        Request::put(&keys("/c?refresh=true&ttl=100")).form("value=v"),
    );
    p.case(
        "refresh with an empty value",
        Request::put(&keys("/c?refresh=true&ttl=100")).form("value="),
    );
    p.case(
        "refresh a missing key",
        Request::put(&keys("/none?refresh=true&ttl=100")),
    );
    p.case(
        "refresh a permanent key",
        Request::put(&keys("/t?refresh=true&ttl=100")),
    );
    p.case("permanent key now has a ttl", Request::get(&keys("/t")));
    p.case(
        "refresh=false with a value",
        Request::put(&keys("/t?refresh=false")).form("value=plain"),
    );
    p.case(
        "refresh=maybe",
        Request::put(&keys("/t?refresh=maybe&ttl=1")),
    );
    p.case(
        "refresh on POST",
        Request::post(&keys("/q?refresh=true&ttl=5")),
    );

    p.case("dir with ttl", Request::put(&keys("/td?dir=true&ttl=100")));
    p.case("child", Request::put(&keys("/td/c")).form("value=c"));
    p.case(
        "child with ttl",
        Request::put(&keys("/td/t?ttl=50")).form("value=t"),
    );
    p.case(
        "dir listing",
        Request::get(&keys("/td?recursive=true&sorted=true")),
    );
    p.case(
        "dir ttl update",
        Request::put(&keys("/td?dir=true&ttl=200&prevExist=true")),
    );
    p.case(
        "dir refresh",
        Request::put(&keys("/td?dir=true&refresh=true&ttl=300&prevExist=true")),
    );
    p.case(
        "dir refresh without dir=true",
        Request::put(&keys("/td?refresh=true&ttl=310")),
    );
    p.case(
        "dir ttl cleared",
        Request::put(&keys("/td?dir=true&ttl=&prevExist=true")),
    );
    p.case("dir is permanent", Request::get(&keys("/td")));
    p.case(
        "dir ttl without prevExist",
        Request::put(&keys("/td?dir=true&ttl=100")),
    );
    p.case("root", Request::get(&keys("/?recursive=true&sorted=true")));
    p.finish(45);
}

#[test]
fn expiry() {
    let mut p = Pair::start("v2 expiry");
    p.case(
        "short file",
        Request::put(&keys("/s?ttl=1")).form("value=s"),
    );
    p.case("short dir", Request::put(&keys("/sd?dir=true&ttl=1")));
    p.case(
        "child of short dir",
        Request::put(&keys("/sd/c")).form("value=c"),
    );
    p.case(
        "long file",
        Request::put(&keys("/l?ttl=100")).form("value=l"),
    );
    let mut on_file = p.watch("watch the short file", Request::get(&keys("/s?wait=true")));
    let mut on_child = p.watch(
        "watch the child of the short dir",
        Request::get(&keys("/sd/c?wait=true")),
    );
    let mut on_root = p.watch(
        "stream the root",
        Request::get(&keys("/?wait=true&recursive=true&stream=true")),
    );
    p.event("the file expires", &mut on_file);
    p.event("the dir's expiry reaches its child", &mut on_child);
    p.event("root stream: first expiry", &mut on_root);
    p.event("root stream: second expiry", &mut on_root);
    std::thread::sleep(EXPIRED);
    p.no_event("root stream: nothing more", &mut on_root);
    drop(on_root);
    p.case("the file is gone", Request::get(&keys("/s")));
    p.case("the dir is gone", Request::get(&keys("/sd/c")));
    p.case("the long file stays", Request::get(&keys("/l")));
    p.case(
        "root after expiry",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );

    p.case(
        "refreshed short key",
        Request::put(&keys("/r?ttl=1")).form("value=r"),
    );
    p.case(
        "refresh it to long",
        Request::put(&keys("/r?refresh=true&ttl=100")),
    );
    p.case(
        "swap with short ttl",
        Request::put(&keys("/c?ttl=1")).form("value=c"),
    );
    p.case(
        "swap it to permanent",
        Request::put(&keys("/c?ttl=")).form("value=d"),
    );
    let idx = p
        .case("ttl=0", Request::put(&keys("/z?ttl=0")).form("value=z"))
        .etcd_index();
    std::thread::sleep(EXPIRED);
    p.case("refreshed key stays", Request::get(&keys("/r")));
    p.case("permanent key stays", Request::get(&keys("/c")));
    p.case("ttl=0 key is gone", Request::get(&keys("/z")));
    if let Some(i) = idx {
        let mut history = p.watch(
            "expiry in history",
            Request::get(&keys(&format!("/z?wait=true&waitIndex={}", i + 1))),
        );
        p.event("the ttl=0 expiry", &mut history);
    }
    p.finish(20);
}
