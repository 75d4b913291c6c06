//! How parameters arrive and what is done with bad ones: form bodies against
//! query strings, malformed values, `quorum=true`, unknown parameters, and the
//! HTTP methods the key space does not take (with CORS as etcd sends it).

use crate::harness::{keys, Pair};
use crate::http::Request;

#[test]
fn form_bodies_and_queries() {
    let mut p = Pair::start("v2 form bodies and query strings");
    p.case(
        "value in the form",
        Request::put(&keys("/f")).form("value=form"),
    );
    p.case("value in the query", Request::put(&keys("/f?value=query")));
    p.case(
        "both: the form wins",
        Request::put(&keys("/f?value=query")).form("value=form"),
    );
    p.case("get", Request::get(&keys("/f")));
    p.case(
        "repeated: the first wins",
        Request::put(&keys("/f")).form("value=first&value=second"),
    );
    p.case(
        "repeated in the query",
        Request::put(&keys("/f?value=q1&value=q2")),
    );
    p.case(
        "form without a content type is ignored",
        Request::put(&keys("/f")).raw_body("value=raw"),
    );
    p.case("what that stored", Request::get(&keys("/f")));
    p.case(
        "JSON body is ignored",
        Request::put(&keys("/f")).body_with("application/json", br#"{"value":"j"}"#.to_vec()),
    );
    p.case(
        "form with charset",
        Request::put(&keys("/f")).body_with(
            "application/x-www-form-urlencoded; charset=utf-8",
            b"value=cs".to_vec(),
        ),
    );
    p.case(
        "every parameter in the form",
        Request::put(&keys("/g")).form("value=x&ttl=100&prevExist=false"),
    );
    p.case(
        "conditions in the form",
        Request::put(&keys("/g")).form("value=y&prevValue=x"),
    );
    p.case(
        "form conditions fail",
        Request::put(&keys("/g")).form("value=z&prevValue=x"),
    );
    p.case(
        "form condition beats the query",
        Request::put(&keys("/g?prevValue=nope")).form("value=z&prevValue=y"),
    );
    p.case(
        "dir in the form",
        Request::put(&keys("/fd")).form("dir=true"),
    );
    p.case(
        "delete conditions in the form are not read",
        Request::delete(&keys("/g")).form("prevValue=wrong"),
    );
    p.case(
        "value on POST in both",
        Request::post(&keys("/q?value=query")).form("value=form"),
    );
    p.case(
        "GET reads the query only",
        Request::get(&keys("/fd")).form("recursive=true&sorted=true"),
    );
    p.case("empty form", Request::put(&keys("/e")).form(""));
    p.case(
        "form without value",
        Request::put(&keys("/e")).form("value"),
    );
    p.case(
        "escaped form key",
        Request::put(&keys("/e")).form("%76alue=esc"),
    );
    p.case("state", Request::get(&keys("/?recursive=true&sorted=true")));
    p.finish(22);
}

#[test]
fn bad_parameters() {
    let mut p = Pair::start("v2 bad parameters");
    p.case("a file", Request::put(&keys("/a")).form("value=1"));
    p.case("a dir", Request::put(&keys("/d/x")).form("value=1"));
    let bad_puts = [
        "prevIndex=abc",
        "prevIndex=-1",
        "prevIndex=1.0",
        "prevIndex=18446744073709551616",
        "prevExist=maybe",
        "prevExist=",
        "prevExist=1",
        "prevExist=T",
        "dir=maybe",
        "dir=",
        "refresh=x",
        "ttl=abc",
        "ttl=-5",
        "ttl=%20",
        "prevValue=",
        "recursive=yes",
        "sorted=2",
        "wait=nope",
        "waitIndex=abc",
        "stream=abc",
        "quorum=abc",
        "prevIndex=abc&ttl=abc",
        "ttl=abc&prevExist=maybe",
        "unknown=1",
    ];
    for q in bad_puts {
        p.case(
            &format!("PUT {q}"),
            Request::put(&keys(&format!("/a?{q}"))).form("value=2"),
        );
    }
    let bad_gets = [
        "recursive=maybe",
        "sorted=yes",
        "quorum=maybe",
        "wait=maybe",
        "wait=true&waitIndex=abc",
        "wait=true&waitIndex=-1",
        "wait=true&waitIndex=18446744073709551616",
        "wait=true&stream=maybe",
        "waitIndex=abc",
        "stream=true",
        "dir=abc",
        "prevIndex=abc",
        "recursive=1&sorted=t",
        "recursive=TRUE&sorted=True",
        "recursive=FALSE",
        "foo=bar",
        "recursive",
    ];
    for q in bad_gets {
        p.case(&format!("GET {q}"), Request::get(&keys(&format!("/d?{q}"))));
    }
    let bad_deletes = [
        "prevIndex=abc",
        "prevValue=",
        "dir=maybe",
        "recursive=maybe",
        "prevExist=maybe",
    ];
    for q in bad_deletes {
        p.case(
            &format!("DELETE {q}"),
            Request::delete(&keys(&format!("/a?{q}"))),
        );
    }
    p.case(
        "POST with bad ttl",
        Request::post(&keys("/q?ttl=abc")).form("value=x"),
    );
    p.case(
        "POST with bad prevIndex",
        Request::post(&keys("/q?prevIndex=x")).form("value=x"),
    );
    p.case(
        "nothing changed",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );
    p.finish(45);
}

#[test]
fn quorum_reads() {
    let mut p = Pair::start("v2 quorum reads");
    p.case("a file", Request::put(&keys("/a")).form("value=1"));
    p.case("a dir", Request::put(&keys("/d/x")).form("value=1"));
    p.case("quorum get", Request::get(&keys("/a?quorum=true")));
    p.case("quorum missing", Request::get(&keys("/nope?quorum=true")));
    p.case(
        "quorum listing",
        Request::get(&keys("/?quorum=true&recursive=true&sorted=true")),
    );
    p.case("quorum=false", Request::get(&keys("/a?quorum=false")));
    p.case("quorum dir", Request::get(&keys("/d?quorum=true")));
    p.case("quorum head", Request::new("HEAD", &keys("/a?quorum=true")));
    p.case(
        "quorum on a write is ignored",
        Request::put(&keys("/a?quorum=true")).form("value=2"),
    );
    p.case("index after", Request::get(&keys("/a")));
    p.finish(10);
}

#[test]
fn methods_and_cors() {
    let mut p = Pair::start("v2 methods and CORS");
    p.case("a file", Request::put(&keys("/a")).form("value=1"));
    for m in ["PATCH", "TRACE", "FOO", "OPTIONS"] {
        p.case(&format!("{m} on a key"), Request::new(m, &keys("/a")));
        p.case(&format!("{m} on the root"), Request::new(m, &keys("/")));
    }
    p.case(
        "PATCH with a form",
        Request::new("PATCH", &keys("/a")).form("value=patched"),
    );
    p.case("PATCH changed nothing", Request::get(&keys("/a")));
    p.case(
        "CORS preflight",
        Request::new("OPTIONS", &keys("/a"))
            .header("Origin", "http://example.com")
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "content-type"),
    );
    p.case(
        "GET with an Origin",
        Request::get(&keys("/a")).header("Origin", "http://example.com"),
    );
    p.case(
        "PUT with an Origin",
        Request::put(&keys("/a"))
            .header("Origin", "http://other.example")
            .form("value=2"),
    );
    p.case(
        "error with an Origin",
        Request::get(&keys("/missing")).header("Origin", "http://example.com"),
    );
    p.case("HEAD on a key", Request::new("HEAD", &keys("/a")));
    p.case(
        "HEAD on a missing key",
        Request::new("HEAD", &keys("/missing")),
    );
    p.case("not the key space", Request::get("/v2/keysx"));
    p.case("no such v2 path", Request::get("/v2/key"));
    p.case("v2 alone", Request::get("/v2"));
    p.case("v2 slash", Request::get("/v2/"));
    p.case("PUT on v2", Request::put("/v2/nothing").form("value=1"));
    p.finish(21);
}
