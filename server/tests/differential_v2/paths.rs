//! Key paths as they arrive on the wire: percent-escapes, special characters,
//! double and trailing slashes, dot segments, long keys and long values.

use crate::harness::{keys, Pair};
use crate::http::{enc, Request};

#[test]
fn special_characters_and_escapes() {
    let mut p = Pair::start("v2 key paths");
    let names = [
        "/a%20b",
        "/%E2%98%83",
        "/q%3Fmark",
        "/pct%25",
        "/plus+sign",
        "/hash%23tag",
        "/amp%26and",
        "/dot.name",
        "/semi;colon",
        "/quote%22s",
        "/nl%0Aline",
        "/tab%09",
        "/nul%00byte",
        "/%C3%A9t%C3%A9",
        "/colon:and@at",
        "/~tilde",
    ];
    for (i, name) in names.iter().enumerate() {
        p.case(
            &format!("put {name}"),
            Request::put(&keys(name)).form(&format!("value=v{i}")),
        );
        p.case(&format!("get {name}"), Request::get(&keys(name)));
    }
    p.case(
        "invalid UTF-8 in a key",
        Request::put(&keys("/bad%FFutf8")).form("value=k"),
    );
    p.case("get invalid UTF-8 key", Request::get(&keys("/bad%FFutf8")));
    p.case(
        "invalid UTF-8 in a value",
        Request::put(&keys("/badval")).form("value=%FF%FEx"),
    );
    p.case("get invalid UTF-8 value", Request::get(&keys("/badval")));
    p.case("listing of odd names", Request::get(&keys("/?sorted=true")));
    p.case("encoded plus is plus", Request::get(&keys("/plus%2Bsign")));
    p.case(
        "escaped slash",
        Request::put(&keys("/enc%2Fslash/x")).form("value=s"),
    );
    p.case("same key unescaped", Request::get(&keys("/enc/slash/x")));
    p.case(
        "escaped dir listing",
        Request::get(&keys("/enc%2Fslash?sorted=true")),
    );
    p.case("query after escaped ?", Request::get(&keys("/q?mark")));
    p.case("invalid escape", Request::get(&keys("/bad%zz")));
    p.case("truncated escape", Request::get(&keys("/bad%2")));
    p.case(
        "escaped value",
        Request::put(&keys("/val")).form(&format!("value={}", enc("a b&c=d+é\n\"<>"))),
    );
    p.case("get escaped value", Request::get(&keys("/val")));
    p.case(
        "plus in form is space",
        Request::put(&keys("/val2")).form("value=a+b"),
    );
    p.case(
        "plus in query is space",
        Request::put(&keys("/val3?value=a+b")),
    );
    p.case("escaped delete", Request::delete(&keys("/a%20b")));
    p.case("delete unicode", Request::delete(&keys("/%E2%98%83")));

    p.case("double slash get", Request::get(&keys("//a")));
    p.case(
        "double slash put",
        Request::put(&keys("//dbl")).form("value=1"),
    );
    p.case("double slash delete", Request::delete(&keys("//dbl")));
    p.case("double slash head", Request::new("HEAD", &keys("//dbl")));
    p.case(
        "inner double slash",
        Request::get(&keys("/x//y?recursive=true")),
    );
    p.case("slashes before keys", Request::get("/v2//keys/a"));
    p.case("dot segment", Request::get(&keys("/./dot.name")));
    p.case(
        "dot-dot segment",
        Request::put(&keys("/x/../dd")).form("value=1"),
    );
    p.case("escaped dot-dot", Request::get(&keys("/%2E%2E/dot.name")));
    p.case("escaped slashes", Request::get(&keys("/%2F%2Fdot.name")));

    p.case(
        "trailing slash put",
        Request::put(&keys("/ts/")).form("value=t"),
    );
    p.case("trailing slash get", Request::get(&keys("/ts/")));
    p.case("without the slash", Request::get(&keys("/ts")));
    p.case("trailing slash dir", Request::put(&keys("/tsd/?dir=true")));
    p.case("dir with slash", Request::get(&keys("/tsd/")));
    p.case("trailing slash delete", Request::delete(&keys("/ts/")));
    p.case(
        "trailing slash recursive delete",
        Request::delete(&keys("/tsd/?dir=true")),
    );
    p.case(
        "after trailing",
        Request::get(&keys("/?recursive=true&sorted=true")),
    );
    p.finish(60);
}

#[test]
fn long_keys_and_values() {
    let mut p = Pair::start("v2 long keys and values");
    let long_key = format!("/{}", "k".repeat(2000));
    p.case("long key", Request::put(&keys(&long_key)).form("value=1"));
    p.case("get long key", Request::get(&keys(&long_key)));
    let deep: String = (0..60).map(|i| format!("/l{i}")).collect();
    p.case("deep key", Request::put(&keys(&deep)).form("value=deep"));
    p.case("get deep key", Request::get(&keys(&deep)));
    p.case(
        "deep listing",
        Request::get(&keys("/l0?recursive=true&sorted=true")),
    );
    let big = "v".repeat(100 * 1024);
    p.case(
        "100 KiB value",
        Request::put(&keys("/big")).form(&format!("value={big}")),
    );
    p.case("get 100 KiB", Request::get(&keys("/big")));
    let bigger: String = (0..512 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    p.case(
        "512 KiB value replaces it",
        Request::put(&keys("/big")).form(&format!("value={bigger}")),
    );
    p.case("get 512 KiB", Request::get(&keys("/big")));
    p.case(
        "long value in the query",
        Request::put(&keys(&format!("/bigq?value={}", "q".repeat(4000)))),
    );
    p.case("get long query value", Request::get(&keys("/bigq")));
    p.case(
        "escaped long value",
        Request::put(&keys("/bige")).form(&format!("value={}", enc(&"é&".repeat(3000)))),
    );
    p.case(
        "listing with long values",
        Request::get(&keys("/?sorted=true")),
    );
    p.case("delete big", Request::delete(&keys("/big")));
    p.finish(13);
}
