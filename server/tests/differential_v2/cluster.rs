//! The rest of the v2 surface: `/v2/members`, `/v2/machines`, `/v2/stats/*` and
//! `/version`. Member-changing requests are sent only in forms both servers
//! must refuse: a successful member add would leave a single-member test
//! cluster without quorum.

use crate::harness::Pair;
use crate::http::Request;

#[test]
fn members_machines_stats_version() {
    let mut p = Pair::start("v2 members, machines, stats, version");
    p.case("members", Request::get("/v2/members"));
    p.case("members with slash", Request::get("/v2/members/"));
    p.case("leader", Request::get("/v2/members/leader"));
    p.case("HEAD members", Request::new("HEAD", "/v2/members"));
    p.case("PATCH members", Request::new("PATCH", "/v2/members"));
    p.case("DELETE without an id", Request::delete("/v2/members"));
    p.case("PUT without an id", Request::put("/v2/members").form("x=1"));
    p.case(
        "POST without a content type",
        Request::post("/v2/members").raw_body(r#"{"peerURLs":["http://127.0.0.1:1"]}"#),
    );
    p.case(
        "POST a form",
        Request::post("/v2/members").form("peerURLs=http://127.0.0.1:1"),
    );
    p.case(
        "POST bad JSON",
        Request::post("/v2/members").body_with("application/json", b"{not json".to_vec()),
    );
    p.case(
        "POST without peer URLs",
        Request::post("/v2/members").body_with("application/json", b"{}".to_vec()),
    );
    p.case(
        "POST a bad peer URL",
        Request::post("/v2/members").body_with(
            "application/json",
            br#"{"peerURLs":["not a url"]}"#.to_vec(),
        ),
    );
    p.case("DELETE a bad id", Request::delete("/v2/members/xyz"));
    p.case("DELETE an unknown id", Request::delete("/v2/members/1234"));
    p.case(
        "PUT an unknown id",
        Request::put("/v2/members/1234").body_with(
            "application/json",
            br#"{"peerURLs":["http://127.0.0.1:1"]}"#.to_vec(),
        ),
    );
    p.case(
        "PUT a bad body",
        Request::put("/v2/members/1234").body_with("application/json", b"[]".to_vec()),
    );
    p.case("GET one member", Request::get("/v2/members/1234"));
    p.case("members after", Request::get("/v2/members"));

    p.case("machines", Request::get("/v2/machines"));
    p.case("machines with slash", Request::get("/v2/machines/"));
    p.case("HEAD machines", Request::new("HEAD", "/v2/machines"));
    p.case("POST machines", Request::post("/v2/machines").form("x=1"));

    p.case(
        "a write for the stats",
        Request::put("/v2/keys/a").form("value=1"),
    );
    p.case("a read for the stats", Request::get("/v2/keys/a"));
    p.case("a failed read for the stats", Request::get("/v2/keys/b"));
    p.case("self", Request::get("/v2/stats/self"));
    p.case("leader stats", Request::get("/v2/stats/leader"));
    p.case("store stats", Request::get("/v2/stats/store"));
    p.case("unknown stats", Request::get("/v2/stats/nothing"));
    p.case("stats root", Request::get("/v2/stats"));
    p.case("POST self", Request::post("/v2/stats/self").form("x=1"));
    p.case(
        "PUT store stats",
        Request::put("/v2/stats/store").form("x=1"),
    );

    p.case("version", Request::get("/version"));
    p.case("version with slash", Request::get("/version/"));
    p.case("HEAD version", Request::new("HEAD", "/version"));
    p.case("POST version", Request::post("/version").form("x=1"));
    p.finish(35);
}
