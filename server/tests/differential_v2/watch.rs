//! Watchers: `wait=true` with and without `waitIndex` and `recursive`, answered
//! by later writes or from the event history, `stream=true`, and the history's
//! bound of 1,000 events (error 401 beyond it).

use crate::harness::{keys, Pair};
use crate::http::Request;

#[test]
fn waiters() {
    let mut p = Pair::start("v2 waiters");
    let first = p.case("a file", Request::put(&keys("/w/a")).form("value=1"));
    let first = first.etcd_index().unwrap_or(0);

    let mut w = p.watch("wait on the file", Request::get(&keys("/w/a?wait=true")));
    p.no_event("nothing yet", &mut w);
    p.case("a sibling", Request::put(&keys("/w/b")).form("value=1"));
    p.no_event("the sibling is not seen", &mut w);
    p.case(
        "the file changes",
        Request::put(&keys("/w/a")).form("value=2"),
    );
    p.event("the change is seen", &mut w);

    let mut w = p.watch(
        "wait on the dir, recursive",
        Request::get(&keys("/w?wait=true&recursive=true")),
    );
    p.case(
        "a new nested file",
        Request::put(&keys("/w/c/d")).form("value=1"),
    );
    p.event("seen by the recursive waiter", &mut w);

    let mut w = p.watch(
        "wait on the dir, not recursive",
        Request::get(&keys("/w?wait=true")),
    );
    p.case(
        "a child changes",
        Request::put(&keys("/w/b")).form("value=2"),
    );
    p.no_event("not seen without recursive", &mut w);
    p.case(
        "the dir itself changes",
        Request::put(&keys("/w?dir=true&prevExist=true&ttl=500")),
    );
    p.event("seen", &mut w);

    let mut w = p.watch(
        "wait on a missing key",
        Request::get(&keys("/w/new?wait=true")),
    );
    p.case(
        "it is created",
        Request::put(&keys("/w/new?prevExist=false")).form("value=n"),
    );
    p.event("create seen", &mut w);
    let mut w = p.watch("wait for a swap", Request::get(&keys("/w/new?wait=true")));
    p.case(
        "a failed swap",
        Request::put(&keys("/w/new?prevValue=zzz")).form("value=x"),
    );
    p.no_event("failures are not events", &mut w);
    p.case(
        "a swap",
        Request::put(&keys("/w/new?prevValue=n")).form("value=x"),
    );
    p.event("swap seen", &mut w);
    let mut w = p.watch(
        "wait for a compare-and-delete",
        Request::get(&keys("/w/new?wait=true")),
    );
    p.case(
        "compare-and-delete",
        Request::delete(&keys("/w/new?prevValue=x")),
    );
    p.event("compare-and-delete seen", &mut w);
    let mut w = p.watch("wait for an update", Request::get(&keys("/w/b?wait=true")));
    p.case(
        "update",
        Request::put(&keys("/w/b?prevExist=true")).form("value=u"),
    );
    p.event("update seen", &mut w);
    let mut w = p.watch("wait for a refresh", Request::get(&keys("/w/b?wait=true")));
    p.case("ttl", Request::put(&keys("/w/b?ttl=100")).form("value=t"));
    p.event("ttl change seen", &mut w);
    let mut w = p.watch("wait across refresh", Request::get(&keys("/w/b?wait=true")));
    p.case("refresh", Request::put(&keys("/w/b?refresh=true&ttl=200")));
    p.event_or_not("refresh seen or not", &mut w);
    drop(w);

    let before_delete = p
        .case("index before the dir delete", Request::get(&keys("/w/c/d")))
        .etcd_index()
        .unwrap_or(0);
    let mut on_child = p.watch(
        "wait on a file in a dir",
        Request::get(&keys("/w/c/d?wait=true")),
    );
    p.case(
        "the dir is deleted",
        Request::delete(&keys("/w/c?recursive=true")),
    );
    p.event("the child's waiter sees it", &mut on_child);
    let mut from_history = p.watch(
        "the dir's delete from history, on the child",
        Request::get(&keys(&format!(
            "/w/c/d?wait=true&waitIndex={}",
            before_delete + 1
        ))),
    );
    p.event("answered with the dir's delete", &mut from_history);

    let mut root = p.watch(
        "recursive root",
        Request::get(&keys("/?wait=true&recursive=true")),
    );
    p.case("a hidden key", Request::put(&keys("/_h")).form("value=h"));
    p.no_event("hidden keys are not seen", &mut root);
    p.case(
        "a key in a hidden dir",
        Request::put(&keys("/_hd/x")).form("value=h"),
    );
    p.no_event("nor below hidden dirs", &mut root);
    p.case("a visible key", Request::put(&keys("/y")).form("value=y"));
    p.event("the visible one is seen", &mut root);
    let mut hidden = p.watch("wait on a hidden key", Request::get(&keys("/_h?wait=true")));
    let hidden_index = p
        .case("it changes", Request::put(&keys("/_h")).form("value=i"))
        .etcd_index()
        .unwrap_or(0);
    p.event("seen by its own waiter", &mut hidden);
    let mut w = p.watch(
        "hidden key in the root's history",
        Request::get(&keys(&format!(
            "/?wait=true&recursive=true&waitIndex={hidden_index}"
        ))),
    );
    p.event_or_not("answered from history or not", &mut w);
    drop(w);

    let mut w = p.watch(
        "waitIndex in the past",
        Request::get(&keys(&format!("/w/a?wait=true&waitIndex={first}"))),
    );
    p.event("answered from history", &mut w);
    let mut w = p.watch(
        "waitIndex after the first change",
        Request::get(&keys(&format!("/w/a?wait=true&waitIndex={}", first + 1))),
    );
    p.event("the second change", &mut w);
    let mut w = p.watch(
        "recursive waitIndex in the past",
        Request::get(&keys(&format!(
            "/w?wait=true&recursive=true&waitIndex={}",
            first + 1
        ))),
    );
    p.event("first event under the dir", &mut w);
    let mut w = p.watch(
        "waitIndex=1 on the root",
        Request::get(&keys("/?wait=true&recursive=true&waitIndex=1")),
    );
    p.event("the oldest event", &mut w);
    let mut w = p.watch(
        "waitIndex=0",
        Request::get(&keys("/w/a?wait=true&waitIndex=0")),
    );
    p.no_event("waits like no waitIndex", &mut w);
    drop(w);

    let now = p.case("index now", Request::get(&keys("/w/a")));
    let now = now.etcd_index().unwrap_or(0);
    let mut w = p.watch(
        "past index, no event since",
        Request::get(&keys(&format!("/w/a?wait=true&waitIndex={}", now - 2))),
    );
    p.no_event("waits", &mut w);
    p.case(
        "now it changes",
        Request::put(&keys("/w/a")).form("value=3"),
    );
    p.event("seen", &mut w);

    let mut w = p.watch(
        "waitIndex in the future",
        Request::get(&keys(&format!("/w/a?wait=true&waitIndex={}", now + 4))),
    );
    p.case("too early", Request::put(&keys("/w/a")).form("value=4"));
    p.no_event("not yet", &mut w);
    p.case("still early", Request::put(&keys("/w/a")).form("value=5"));
    p.no_event("still not", &mut w);
    p.case("reaching it", Request::put(&keys("/w/a")).form("value=6"));
    p.event("seen at its index", &mut w);

    let mut w = p.watch(
        "wait with quorum",
        Request::get(&keys("/w/a?wait=true&quorum=true")),
    );
    p.case("a change", Request::delete(&keys("/w/a")));
    p.event("the answer", &mut w);
    let mut w = p.watch(
        "wait with sorted and recursive",
        Request::get(&keys("/w?wait=true&recursive=true&sorted=true")),
    );
    p.case(
        "in-order key under it",
        Request::post(&keys("/w/q")).form("value=job"),
    );
    p.event("in-order create seen", &mut w);
    p.watch(
        "wait on a key whose parent is a file",
        Request::get(&keys("/y/z?wait=true&waitIndex=1")),
    );
    p.finish(47);
}

#[test]
fn streams() {
    let mut p = Pair::start("v2 streams");
    let start = p.case("a file", Request::put(&keys("/s/a")).form("value=0"));
    let start = start.etcd_index().unwrap_or(0);
    let mut s = p.watch(
        "stream a dir",
        Request::get(&keys("/s?wait=true&recursive=true&stream=true")),
    );
    p.case("one", Request::put(&keys("/s/a")).form("value=1"));
    p.case("two", Request::put(&keys("/s/b")).form("value=2"));
    p.case("three", Request::delete(&keys("/s/a")));
    p.case("outside", Request::put(&keys("/t")).form("value=t"));
    p.event("first event", &mut s);
    p.event("second event", &mut s);
    p.event("third event", &mut s);
    p.no_event("nothing from outside", &mut s);
    p.case("four", Request::put(&keys("/s/c/d")).form("value=4"));
    p.event("fourth event", &mut s);
    drop(s);
    p.case(
        "a write after the stream is closed",
        Request::put(&keys("/s/b")).form("value=x"),
    );

    let mut s = p.watch(
        "stream a file",
        Request::get(&keys("/s/b?wait=true&stream=true")),
    );
    for i in 0..3 {
        p.case(
            &format!("file write {i}"),
            Request::put(&keys("/s/b")).form(&format!("value={i}")),
        );
        p.event(&format!("file event {i}"), &mut s);
    }
    drop(s);

    let mut s = p.watch(
        "stream from history",
        Request::get(&keys(&format!(
            "/s?wait=true&recursive=true&stream=true&waitIndex={start}"
        ))),
    );
    p.event("the first event from history", &mut s);
    p.event_or_not("more from history, or not", &mut s);
    p.case("a later write", Request::put(&keys("/s/e")).form("value=e"));
    p.event_or_not("is it streamed", &mut s);
    drop(s);

    let mut s = p.watch(
        "stream=false",
        Request::get(&keys("/s/b?wait=true&stream=false")),
    );
    p.case("write", Request::put(&keys("/s/b")).form("value=f"));
    p.event("one event, then the end", &mut s);
    p.finish(16);
}

#[test]
fn history_is_bounded() {
    let mut p = Pair::start("v2 event history");
    let first = p
        .case("first write", Request::put(&keys("/h/k")).form("value=0"))
        .etcd_index()
        .unwrap_or(0);
    // Enough writes to push the first out of the last 1,000 events.
    const WRITES: u64 = 1010;
    let mut last = first;
    for i in 1..WRITES {
        let target = if i % 3 == 0 {
            keys(&format!("/h/other{}", i % 7))
        } else {
            keys("/h/k")
        };
        last = p
            .case(
                &format!("write {i}"),
                Request::put(&target).form(&format!("value={i}")),
            )
            .etcd_index()
            .unwrap_or(last);
    }
    let oldest_kept = last - 999;
    let mut w = p.watch(
        "the oldest event kept",
        Request::get(&keys(&format!(
            "/h?wait=true&recursive=true&waitIndex={oldest_kept}"
        ))),
    );
    p.event("answered", &mut w);
    let mut w = p.watch(
        "a key's oldest kept event",
        Request::get(&keys(&format!("/h/k?wait=true&waitIndex={oldest_kept}"))),
    );
    p.event("answered", &mut w);
    for (label, idx) in [
        ("just cleared", oldest_kept - 1),
        ("the first write", first),
        ("index 1", 1),
    ] {
        p.watch(
            &format!("{label}: 401"),
            Request::get(&keys(&format!("/h/k?wait=true&waitIndex={idx}"))),
        );
        p.watch(
            &format!("{label}, recursive: 401"),
            Request::get(&keys(&format!(
                "/?wait=true&recursive=true&waitIndex={idx}"
            ))),
        );
    }
    p.watch(
        "streaming from a cleared index",
        Request::get(&keys(&format!(
            "/h?wait=true&recursive=true&stream=true&waitIndex={first}"
        ))),
    );
    p.watch(
        "a missing key from a cleared index",
        Request::get(&keys(&format!("/none?wait=true&waitIndex={first}"))),
    );
    let mut w = p.watch(
        "a missing key from a kept index",
        Request::get(&keys(&format!("/none?wait=true&waitIndex={oldest_kept}"))),
    );
    p.no_event("waits", &mut w);
    drop(w);
    p.case("listing", Request::get(&keys("/h?sorted=true")));
    p.finish(1000);
}
