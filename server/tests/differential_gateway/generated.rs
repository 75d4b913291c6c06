//! Generated cases: seeded random KV requests over a small key space, so that
//! requests keep hitting the same keys and build up history, ties, deletions
//! and compactions. The seed is printed and named in every failure.

use crate::harness::Pair;
use crate::observe::b64;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

const KEYS: [&str; 10] = [
    "a", "a/1", "a/2", "a/3", "b", "b/1", "c", "\0", "k\u{7f}", "z",
];
const VALUES: [&str; 5] = ["", "v", "w", "vv", "\0"];

/// Requests per run unless `DIFF_GW_CASES` says otherwise.
const DEFAULT_CASES: usize = 160;

struct Gen {
    rng: StdRng,
    /// The store's revision, as etcd last reported it.
    rev: i64,
    compacted: i64,
}

impl Gen {
    fn key(&mut self) -> Value {
        Value::String(b64(KEYS.choose(&mut self.rng).expect("keys")))
    }

    fn value(&mut self) -> Value {
        Value::String(b64(VALUES.choose(&mut self.rng).expect("values")))
    }

    fn flag(&mut self, m: &mut Map<String, Value>, name: &str, p: f64) {
        if self.rng.gen_bool(p) {
            m.insert(name.into(), Value::Bool(true));
        }
    }

    /// A key and, sometimes, the end of a range: a prefix, from-key, or an
    /// interval between two keys of the space.
    fn span(&mut self, m: &mut Map<String, Value>) {
        m.insert("key".into(), self.key());
        match self.rng.gen_range(0..5) {
            0 => {
                m.insert("range_end".into(), Value::String(b64("\0")));
            }
            1 => {
                m.insert("range_end".into(), self.key());
            }
            2 => {
                m.insert("key".into(), Value::String(b64("a/")));
                m.insert("range_end".into(), Value::String(b64("a0")));
            }
            _ => {}
        }
    }

    fn range(&mut self) -> Map<String, Value> {
        let mut m = Map::new();
        self.span(&mut m);
        if self.rng.gen_bool(0.3) {
            m.insert("limit".into(), json!(self.rng.gen_range(0..4)));
        }
        if self.rng.gen_bool(0.3) {
            let order = ["NONE", "ASCEND", "DESCEND"].choose(&mut self.rng).copied();
            let target = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"]
                .choose(&mut self.rng)
                .copied();
            m.insert("sort_order".into(), json!(order));
            m.insert("sort_target".into(), json!(target));
        }
        if self.rng.gen_bool(0.25) {
            let rev = self.rng.gen_range(0..=self.rev + 2);
            m.insert("revision".into(), json!(rev.to_string()));
        }
        self.flag(&mut m, "keys_only", 0.15);
        self.flag(&mut m, "count_only", 0.1);
        self.flag(&mut m, "serializable", 0.2);
        m
    }

    fn put(&mut self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("key".into(), self.key());
        m.insert("value".into(), self.value());
        self.flag(&mut m, "prev_kv", 0.4);
        self.flag(&mut m, "ignore_value", 0.05);
        m
    }

    fn delete(&mut self) -> Map<String, Value> {
        let mut m = Map::new();
        self.span(&mut m);
        self.flag(&mut m, "prev_kv", 0.5);
        m
    }

    fn compare(&mut self) -> Value {
        let result = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"]
            .choose(&mut self.rng)
            .copied();
        let n = self.rng.gen_range(0..=self.rev.max(1));
        let (target, field, value) = match self.rng.gen_range(0..4) {
            0 => ("VERSION", "version", json!(self.rng.gen_range(0..3))),
            1 => ("CREATE", "create_revision", json!(n.to_string())),
            2 => ("MOD", "mod_revision", json!(n)),
            _ => ("VALUE", "value", self.value()),
        };
        json!({"key": self.key(), "target": target, "result": result, field: value})
    }

    fn op(&mut self, depth: u32) -> Value {
        match self.rng.gen_range(0..if depth < 1 { 4 } else { 3 }) {
            0 => json!({"request_range": self.range()}),
            1 => json!({"request_put": self.put()}),
            2 => json!({"request_delete_range": self.delete()}),
            _ => json!({"request_txn": self.txn(depth + 1)}),
        }
    }

    fn txn(&mut self, depth: u32) -> Value {
        let n = self.rng.gen_range(0..3);
        let compare: Vec<Value> = (0..n).map(|_| self.compare()).collect();
        let s = self.rng.gen_range(0..3);
        let success: Vec<Value> = (0..s).map(|_| self.op(depth)).collect();
        let f = self.rng.gen_range(0..3);
        let failure: Vec<Value> = (0..f).map(|_| self.op(depth)).collect();
        json!({"compare": compare, "success": success, "failure": failure})
    }

    /// The next request: its path and body.
    fn next(&mut self) -> (&'static str, Value) {
        match self.rng.gen_range(0..100) {
            0..=29 => ("/v3/kv/put", Value::Object(self.put())),
            30..=59 => ("/v3/kv/range", Value::Object(self.range())),
            60..=69 => ("/v3/kv/deleterange", Value::Object(self.delete())),
            70..=94 => ("/v3/kv/txn", self.txn(0)),
            _ => {
                let rev = self.rng.gen_range(self.compacted.max(1)..=self.rev + 1);
                ("/v3/kv/compaction", json!({"revision": rev}))
            }
        }
    }
}

#[test]
fn generated_kv_sequences() {
    let seed = std::env::var("DIFF_GW_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let cases = std::env::var("DIFF_GW_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    eprintln!("generated gateway KV cases: DIFF_GW_SEED={seed} DIFF_GW_CASES={cases}");
    let mut p = Pair::start(&format!("generated gateway KV, DIFF_GW_SEED={seed}"));
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        rev: 1,
        compacted: 0,
    };
    for i in 0..cases {
        let (path, body) = g.next();
        let answer = p.json(&format!("generated #{i}"), path, body.clone());
        if let Some(rev) = answer["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
        {
            g.rev = rev;
        }
        if path.ends_with("compaction") && answer.get("error").is_none() {
            g.compacted = body["revision"].as_i64().unwrap_or(g.compacted);
        }
    }
    p.json(
        "everything at the end",
        "/v3/kv/range",
        json!({"key": b64("\0"), "range_end": b64("\0")}),
    );
    p.gap(
        "hashkv at the end",
        crate::harness::post("/v3/maintenance/hashkv", "{}"),
        crate::kv::HASHKV_GAP,
        200,
    );
    p.finish(cases.min(150) + 2);
}
