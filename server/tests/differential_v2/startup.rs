//! What a new member's v2 store holds when it starts serving: etcd 3.4 records
//! the member and the cluster version in the same store before its first
//! answer, so the first `X-Etcd-Index` a client sees already counts them.

use crate::harness::{keys, Pair};
use crate::http::Request;

#[test]
fn first_answers_after_start() {
    let mut p = Pair::start_unsettled("v2 first answers after start");
    p.case("the first read", Request::get(&keys("/")));
    p.case("the first write", Request::put(&keys("/a")).form("value=1"));
    p.case("the first listing", Request::get(&keys("/?recursive=true")));
    p.finish(3);
}
