//! Conditional writes: `prevExist`, `prevValue` and `prevIndex` on PUT
//! (create, update, compare-and-swap) and on DELETE (compare-and-delete), with
//! every error they can give.

use crate::harness::{keys, Pair};
use crate::http::Request;

#[test]
fn compare_and_swap() {
    let mut p = Pair::start("v2 compare-and-swap");
    p.case(
        "create with prevExist=false",
        Request::put(&keys("/c?prevExist=false")).form("value=one"),
    );
    p.case(
        "create again: 105",
        Request::put(&keys("/c?prevExist=false")).form("value=two"),
    );
    p.case(
        "update a missing key: 100",
        Request::put(&keys("/missing?prevExist=true")).form("value=x"),
    );
    let r = p.case(
        "update",
        Request::put(&keys("/c?prevExist=true")).form("value=two"),
    );
    let idx = r.json()["node"]["modifiedIndex"].as_u64().unwrap_or(0);
    p.case(
        "swap on value",
        Request::put(&keys("/c?prevValue=two")).form("value=three"),
    );
    p.case(
        "swap on a stale value: 101",
        Request::put(&keys("/c?prevValue=two")).form("value=four"),
    );
    p.case(
        "swap on a stale index: 101",
        Request::put(&keys(&format!("/c?prevIndex={idx}"))).form("value=four"),
    );
    let cur = p.case("current", Request::get(&keys("/c")));
    let cur = cur.json()["node"]["modifiedIndex"].as_u64().unwrap_or(0);
    p.case(
        "swap on index",
        Request::put(&keys(&format!("/c?prevIndex={cur}"))).form("value=five"),
    );
    p.case(
        "both stale: 101 with both causes",
        Request::put(&keys(&format!("/c?prevIndex={cur}&prevValue=three"))).form("value=six"),
    );
    p.case(
        "value right, index stale",
        Request::put(&keys(&format!("/c?prevIndex={cur}&prevValue=five"))).form("value=six"),
    );
    let now = p.case("current again", Request::get(&keys("/c")));
    let now = now.json()["node"]["modifiedIndex"].as_u64().unwrap_or(0);
    p.case(
        "index right, value stale",
        Request::put(&keys(&format!("/c?prevIndex={now}&prevValue=three"))).form("value=six"),
    );
    p.case(
        "both right",
        Request::put(&keys(&format!("/c?prevIndex={now}&prevValue=five"))).form("value=six"),
    );
    p.case(
        "prevExist=true and prevValue",
        Request::put(&keys("/c?prevExist=true&prevValue=six")).form("value=seven"),
    );
    p.case(
        "prevExist=false and prevValue",
        Request::put(&keys("/c?prevExist=false&prevValue=seven")).form("value=eight"),
    );
    p.case(
        "prevExist=false on a missing key with prevValue",
        Request::put(&keys("/new?prevExist=false&prevValue=x")).form("value=n"),
    );
    p.case(
        "prevValue on a missing key: 100",
        Request::put(&keys("/nokey?prevValue=x")).form("value=y"),
    );
    p.case(
        "prevIndex on a missing key: 100",
        Request::put(&keys("/nokey?prevIndex=3")).form("value=y"),
    );
    p.case(
        "empty prevValue",
        Request::put(&keys("/c?prevValue=")).form("value=y"),
    );
    p.case(
        "prevIndex=0",
        Request::put(&keys("/c?prevIndex=0")).form("value=zero"),
    );
    p.case(
        "swap to the same value",
        Request::put(&keys("/c?prevValue=zero")).form("value=zero"),
    );
    p.case(
        "values with spaces",
        Request::put(&keys("/c?prevValue=zero")).form("value=a+b"),
    );
    p.case(
        "compare with spaces",
        Request::put(&keys("/c?prevValue=a%20b")).form("value=c"),
    );

    p.case("a dir", Request::put(&keys("/dir?dir=true")));
    p.case(
        "prevValue on a dir: 102",
        Request::put(&keys("/dir?prevValue=x")).form("value=y"),
    );
    p.case(
        "prevIndex on a dir",
        Request::put(&keys("/dir?prevIndex=1")).form("value=y"),
    );
    p.case(
        "prevExist=false on a dir",
        Request::put(&keys("/dir?prevExist=false&dir=true")),
    );
    p.case(
        "prevExist=true on a dir with dir=true",
        Request::put(&keys("/dir?prevExist=true&dir=true")),
    );
    p.case(
        "prevExist=true on a dir with a value",
        Request::put(&keys("/dir?prevExist=true")).form("value=v"),
    );
    p.case(
        "prevExist=false dir create",
        Request::put(&keys("/dir2?prevExist=false&dir=true")),
    );
    p.case(
        "prevExist=true dir on a missing key",
        Request::put(&keys("/nodir?prevExist=true&dir=true")),
    );
    p.case(
        "prevExist=true dir on a file",
        Request::put(&keys("/c?prevExist=true&dir=true")),
    );
    p.case(
        "prevValue and dir=true",
        Request::put(&keys("/c?prevValue=c&dir=true")),
    );
    p.case(
        "create below a file",
        Request::put(&keys("/c/x?prevExist=false")).form("value=1"),
    );
    p.case("state", Request::get(&keys("/?recursive=true&sorted=true")));
    p.finish(34);
}

#[test]
fn compare_and_delete() {
    let mut p = Pair::start("v2 compare-and-delete");
    let r = p.case("a file", Request::put(&keys("/f")).form("value=one"));
    let idx = r.json()["node"]["modifiedIndex"].as_u64().unwrap_or(0);
    p.case(
        "delete on a stale value: 101",
        Request::delete(&keys("/f?prevValue=two")),
    );
    p.case(
        "delete on a stale index: 101",
        Request::delete(&keys(&format!("/f?prevIndex={}", idx + 100))),
    );
    p.case(
        "both stale",
        Request::delete(&keys(&format!("/f?prevIndex={}&prevValue=two", idx + 100))),
    );
    p.case(
        "value right, index stale",
        Request::delete(&keys(&format!("/f?prevIndex={}&prevValue=one", idx + 1))),
    );
    p.case(
        "delete on value",
        Request::delete(&keys("/f?prevValue=one")),
    );
    p.case("again: 100", Request::delete(&keys("/f?prevValue=one")));
    let r = p.case("another file", Request::put(&keys("/g")).form("value=g"));
    let idx = r.json()["node"]["modifiedIndex"].as_u64().unwrap_or(0);
    p.case(
        "delete on index",
        Request::delete(&keys(&format!("/g?prevIndex={idx}"))),
    );
    let r = p.case("a third", Request::put(&keys("/h")).form("value=h"));
    let idx = r.json()["node"]["modifiedIndex"].as_u64().unwrap_or(0);
    p.case(
        "delete on both",
        Request::delete(&keys(&format!("/h?prevIndex={idx}&prevValue=h"))),
    );
    p.case("empty prevValue", Request::delete(&keys("/h?prevValue=")));
    p.case("prevIndex=0", Request::delete(&keys("/h?prevIndex=0")));
    p.case("a dir", Request::put(&keys("/d/x")).form("value=x"));
    p.case(
        "prevValue on a dir",
        Request::delete(&keys("/d?prevValue=x")),
    );
    p.case(
        "prevValue on a dir with dir=true",
        Request::delete(&keys("/d?dir=true&prevValue=x")),
    );
    p.case(
        "prevIndex on a dir with recursive",
        Request::delete(&keys("/d?recursive=true&prevIndex=1")),
    );
    p.case(
        "prevExist on delete",
        Request::delete(&keys("/d/x?prevExist=false")),
    );
    p.case(
        "prevValue on a missing key",
        Request::delete(&keys("/none?prevValue=x")),
    );
    p.case(
        "prevIndex on a missing key",
        Request::delete(&keys("/none?prevIndex=1")),
    );
    p.case("state", Request::get(&keys("/?recursive=true&sorted=true")));
    p.finish(20);
}
