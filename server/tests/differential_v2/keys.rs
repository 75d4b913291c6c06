//! Files and directories: create, set, get, list (`recursive`, `sorted`),
//! delete (`dir`, `recursive`), in-order keys, hidden keys and the root.

use crate::harness::{keys, Pair};
use crate::http::Request;

#[test]
fn files_and_directories() {
    let mut p = Pair::start("v2 files and directories");
    p.case("empty root", Request::get(&keys("/")));
    p.case("root without slash", Request::get(&keys("")));
    p.case("missing key", Request::get(&keys("/missing")));
    p.case("missing nested key", Request::get(&keys("/no/such/key")));

    p.case("create a file", Request::put(&keys("/a")).form("value=1"));
    p.case("set it again", Request::put(&keys("/a")).form("value=2"));
    p.case("get the file", Request::get(&keys("/a")));
    p.case("set an empty value", Request::put(&keys("/e")));
    p.case("get the empty value", Request::get(&keys("/e")));
    p.case(
        "dir=false is a file",
        Request::put(&keys("/f?dir=false")).form("value=x"),
    );
    p.case(
        "child of a file",
        Request::put(&keys("/a/b")).form("value=1"),
    );
    p.case("get below a file", Request::get(&keys("/a/b")));
    p.case("file to dir", Request::put(&keys("/a?dir=true")));

    p.case("create a dir", Request::put(&keys("/d?dir=true")));
    p.case("create it again", Request::put(&keys("/d?dir=true")));
    p.case("value on a dir", Request::put(&keys("/d")).form("value=v"));
    p.case("get an empty dir", Request::get(&keys("/d")));
    p.case("file in dir", Request::put(&keys("/d/x")).form("value=x"));
    p.case(
        "file in implicit dir",
        Request::put(&keys("/d/e/y")).form("value=y"),
    );
    p.case(
        "second file there",
        Request::put(&keys("/d/e/z")).form("value=z"),
    );
    p.case(
        "deep implicit dirs",
        Request::put(&keys("/d/e/f/g/h/i")).form("value=deep"),
    );
    p.case(
        "dir value and dir=true",
        Request::put(&keys("/d/v?dir=true")).form("value=ignored"),
    );
    p.case("list", Request::get(&keys("/d")));
    p.case("list sorted", Request::get(&keys("/d?sorted=true")));
    p.case("list recursive", Request::get(&keys("/d?recursive=true")));
    p.case(
        "list recursive sorted",
        Request::get(&keys("/d?recursive=true&sorted=true")),
    );
    p.case(
        "list recursive false",
        Request::get(&keys("/d?recursive=false&sorted=1")),
    );
    p.case(
        "root recursive sorted",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );
    p.case("root listing", Request::get(&keys("/")));
    p.case(
        "recursive on a file",
        Request::get(&keys("/d/x?recursive=true&sorted=true")),
    );

    p.case("delete a dir as a file", Request::delete(&keys("/d")));
    p.case(
        "delete a non-empty dir",
        Request::delete(&keys("/d/e?dir=true")),
    );
    p.case(
        "recursive alone deletes a dir",
        Request::delete(&keys("/d/e/f?recursive=true")),
    );
    p.case(
        "delete a file with dir=true",
        Request::delete(&keys("/d/x?dir=true")),
    );
    p.case("delete a file", Request::delete(&keys("/d/x")));
    p.case("delete it again", Request::delete(&keys("/d/x")));
    p.case("delete a missing key", Request::delete(&keys("/nothing")));
    p.case(
        "delete a missing dir",
        Request::delete(&keys("/nothing?dir=true&recursive=true")),
    );
    p.case("empty dir", Request::put(&keys("/empty?dir=true")));
    p.case(
        "delete an empty dir",
        Request::delete(&keys("/empty?dir=true")),
    );
    p.case(
        "delete a dir recursively",
        Request::delete(&keys("/d?dir=true&recursive=true")),
    );
    p.case("after the deletes", Request::get(&keys("/?recursive=true")));
    p.case(
        "file with recursive delete",
        Request::delete(&keys("/f?recursive=true")),
    );
    p.finish(43);
}

#[test]
fn in_order_keys() {
    let mut p = Pair::start("v2 in-order keys");
    p.case(
        "into a new dir",
        Request::post(&keys("/q")).form("value=job1"),
    );
    p.case("second", Request::post(&keys("/q")).form("value=job2"));
    p.case("third, in the query", Request::post(&keys("/q?value=job3")));
    p.case("without a value", Request::post(&keys("/q")));
    p.case("queue in order", Request::get(&keys("/q?sorted=true")));
    p.case(
        "queue recursive",
        Request::get(&keys("/q?recursive=true&sorted=true")),
    );
    p.case(
        "into a nested new dir",
        Request::post(&keys("/n/m")).form("value=a"),
    );
    p.case(
        "n listing",
        Request::get(&keys("/n?recursive=true&sorted=true")),
    );
    p.case("file", Request::put(&keys("/file")).form("value=f"));
    p.case("into a file", Request::post(&keys("/file")).form("value=x"));
    p.case("into the root", Request::post(&keys("/")).form("value=r"));
    p.case(
        "root with the new key",
        Request::get(&keys("/?sorted=true")),
    );
    p.case(
        "with dir=true",
        Request::post(&keys("/q?dir=true")).form("value=d"),
    );
    p.case("queue again", Request::get(&keys("/q?sorted=true")));
    let head = p.case("first in queue", Request::get(&keys("/q?sorted=true")));
    let first = head.json()["node"]["nodes"][0]["key"]
        .as_str()
        .unwrap_or("/q/none")
        .to_string();
    p.case("take the first", Request::delete(&keys(&first)));
    p.case("queue after", Request::get(&keys("/q?sorted=true")));
    p.case(
        "post with prevExist",
        Request::post(&keys("/q?prevExist=false")).form("value=pe"),
    );
    p.case("hidden queue", Request::post(&keys("/_hq")).form("value=h"));
    p.case(
        "root sorted",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );
    p.finish(18);
}

#[test]
fn hidden_keys_and_root() {
    let mut p = Pair::start("v2 hidden keys and the root");
    p.case("hidden file", Request::put(&keys("/_h")).form("value=h"));
    p.case("visible file", Request::put(&keys("/v")).form("value=v"));
    p.case(
        "hidden in dir",
        Request::put(&keys("/d/_h")).form("value=dh"),
    );
    p.case(
        "visible in dir",
        Request::put(&keys("/d/v")).form("value=dv"),
    );
    p.case("hidden dir", Request::put(&keys("/_hd?dir=true")));
    p.case(
        "in hidden dir",
        Request::put(&keys("/_hd/x")).form("value=x"),
    );
    p.case("root hides them", Request::get(&keys("/?sorted=true")));
    p.case(
        "recursive hides them",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );
    p.case("dir hides them", Request::get(&keys("/d?sorted=true")));
    p.case("get a hidden file", Request::get(&keys("/_h")));
    p.case(
        "get a hidden dir",
        Request::get(&keys("/_hd?recursive=true")),
    );
    p.case("get in a hidden dir", Request::get(&keys("/_hd/x")));
    p.case(
        "hidden below hidden",
        Request::put(&keys("/_hd/_y")).form("value=y"),
    );
    p.case(
        "hidden dir listing",
        Request::get(&keys("/_hd?sorted=true")),
    );
    p.case(
        "underscore inside",
        Request::put(&keys("/a_b")).form("value=1"),
    );
    p.case("listing with a_b", Request::get(&keys("/?sorted=true")));
    p.case("delete hidden", Request::delete(&keys("/_h")));
    p.case(
        "delete hidden dir",
        Request::delete(&keys("/_hd?recursive=true")),
    );

    p.case("put root", Request::put(&keys("/")).form("value=x"));
    p.case(
        "put root without slash",
        Request::put(&keys("")).form("value=x"),
    );
    p.case("put root as dir", Request::put(&keys("/?dir=true")));
    p.case(
        "put root with prevExist",
        Request::put(&keys("/?prevExist=true")).form("value=x"),
    );
    p.case("delete root", Request::delete(&keys("/")));
    p.case("delete root dir", Request::delete(&keys("/?dir=true")));
    p.case(
        "delete root recursive",
        Request::delete(&keys("/?recursive=true")),
    );
    p.case(
        "delete root recursive without slash",
        Request::delete(&keys("?dir=true&recursive=true")),
    );
    p.case(
        "delete root with prevValue",
        Request::delete(&keys("/?prevValue=x")),
    );
    p.case(
        "root survives",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );
    p.case("head root", Request::new("HEAD", &keys("/")));
    p.case("head file", Request::new("HEAD", &keys("/v")));
    p.case("head missing", Request::new("HEAD", &keys("/nope")));
    p.case(
        "get root no slash recursive",
        Request::get(&keys("?recursive=true&sorted=true")),
    );
    p.finish(30);
}
