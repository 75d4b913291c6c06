//! The lock and election services (`v3lock`, `v3election`), which the gateway
//! serves next to the core API.

use crate::harness::Pair;
use crate::observe::b64;

#[test]
fn lock_and_election() {
    let mut p = Pair::start("gateway lock and election");
    p.grant("grant for the lock", "l1", r#"{"TTL":"60"}"#);
    p.grant("grant for the election", "l2", r#"{"TTL":"60"}"#);
    let name = b64("mylock");
    let lock = format!(r#"{{"name":"{name}","lease":"{{{{l1}}}}"}}"#);
    p.post("lock", "/v3/lock/lock", &lock);
    p.post(
        "lock is a key",
        "/v3/kv/range",
        &format!(r#"{{"key":"{name}","range_end":"{}"}}"#, b64("mylock0")),
    );
    // A lock held elsewhere makes a second request wait, so every other lock
    // below takes a name of its own.
    p.post(
        "lock with an unknown lease",
        "/v3/lock/lock",
        &format!(r#"{{"name":"{}","lease":"4242"}}"#, b64("other")),
    );
    p.post(
        "lock without a lease",
        "/v3/lock/lock",
        &format!(r#"{{"name":"{}"}}"#, b64("nolease")),
    );
    p.post(
        "lock without a name",
        "/v3/lock/lock",
        r#"{"lease":"{{l1}}"}"#,
    );
    p.post(
        "unlock by key",
        "/v3/lock/unlock",
        r#"{"key":"<<b64:mylock/{{l1_hex}}>>"}"#,
    );
    p.post(
        "unlock again",
        "/v3/lock/unlock",
        r#"{"key":"<<b64:mylock/{{l1_hex}}>>"}"#,
    );
    p.post("lock again", "/v3/lock/lock", &lock);
    p.post(
        "unlock missing key",
        "/v3/lock/unlock",
        &format!(r#"{{"key":"{}"}}"#, b64("nope")),
    );
    p.post("unlock without key", "/v3/lock/unlock", "{}");

    let election = b64("elect");
    let campaign = format!(
        r#"{{"name":"{election}","lease":"{{{{l2}}}}","value":"{}"}}"#,
        b64("v1")
    );
    p.post(
        "leader before any campaign",
        "/v3/election/leader",
        &format!(r#"{{"name":"{election}"}}"#),
    );
    p.post("campaign", "/v3/election/campaign", &campaign);
    p.post(
        "leader",
        "/v3/election/leader",
        &format!(r#"{{"name":"{election}"}}"#),
    );
    let mut observe = p.stream(
        "observe",
        "/v3/election/observe",
        &format!(r#"{{"name":"{election}"}}"#),
    );
    p.line("observed leader", &mut observe);
    // A second candidate would wait for the first to resign, so these run
    // elections of their own.
    p.post(
        "campaign without lease",
        "/v3/election/campaign",
        &format!(r#"{{"name":"{}"}}"#, b64("e2")),
    );
    p.post(
        "campaign unknown lease",
        "/v3/election/campaign",
        &format!(r#"{{"name":"{}","lease":"4242"}}"#, b64("e3")),
    );
    p.post(
        "proclaim unknown leader",
        "/v3/election/proclaim",
        &format!(
            r#"{{"leader":{{"name":"{election}","key":"{}","rev":"2","lease":"1"}},"value":"{}"}}"#,
            b64("x"),
            b64("v2")
        ),
    );
    p.post(
        "proclaim without leader",
        "/v3/election/proclaim",
        r#"{"value":"djI="}"#,
    );
    p.post("resign without leader", "/v3/election/resign", "{}");
    p.post(
        "resign unknown leader",
        "/v3/election/resign",
        &format!(
            r#"{{"leader":{{"name":"{election}","key":"{}"}}}}"#,
            b64("x")
        ),
    );
    p.post(
        "leader of an unknown election",
        "/v3/election/leader",
        &format!(r#"{{"name":"{}"}}"#, b64("other")),
    );
    p.post(
        "revoke the campaign lease",
        "/v3/lease/revoke",
        r#"{"ID":"{{l2}}"}"#,
    );
    p.step("observe after revoke", &mut observe);
    p.post(
        "leader after revoke",
        "/v3/election/leader",
        &format!(r#"{{"name":"{election}"}}"#),
    );
    p.post(
        "all keys",
        "/v3/kv/range",
        &format!(r#"{{"key":"{}","range_end":"{}"}}"#, b64("\0"), b64("\0")),
    );
    p.finish(20);
}
