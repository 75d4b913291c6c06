//! Generated cases: seeded random sequences of v2 requests over a small key
//! space of files, directories and hidden keys, so that writes keep colliding
//! with each other and with conditions (CAS, CAD), TTLs and watchers.
//!
//! Timing is kept out of the answers: TTLs are either far longer than the run,
//! or one second followed by a pause until the key has surely expired, since
//! etcd removes expired keys on a 500 ms sync and a read in between could see
//! either state.

use crate::harness::{keys, Pair};
use crate::http::{enc, Request};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const KEYS: [&str; 12] = [
    "/a", "/b", "/d", "/d/a", "/d/b", "/d/e", "/d/e/a", "/d/e/b", "/_h", "/d/_h", "/q", "/q/x",
];

const VALUES: [&str; 7] = ["", "v", "w", "x y", "v&w=1", "é", "0"];

/// Parent directories, for in-order creates and recursive reads.
const DIRS: [&str; 5] = ["/", "/d", "/d/e", "/q", "/_hd"];

/// A short TTL and how long to wait for it to run out (see `ttl.rs`).
const SHORT_TTL: u64 = 1;
const SHORT_TTL_WAIT: Duration = Duration::from_millis(3000);

struct Gen {
    rng: StdRng,
    /// The latest `X-Etcd-Index` etcd answered with.
    index: u64,
    /// `modifiedIndex` values etcd has shown, for `prevIndex` conditions.
    seen: Vec<u64>,
}

/// One generated step.
enum Op {
    Send(Request),
    /// A write with a short TTL, then a pause until it has expired.
    ShortLived(Request),
    /// A watcher, then the writes that may wake it.
    Watch(Request, Vec<Request>),
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            index: 0,
            seen: Vec::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn key(&mut self) -> &'static str {
        KEYS.choose(&mut self.rng).copied().unwrap_or("/a")
    }

    fn value(&mut self) -> &'static str {
        VALUES.choose(&mut self.rng).copied().unwrap_or("v")
    }

    /// A `modifiedIndex` seen before, or one near the current index.
    fn some_index(&mut self) -> u64 {
        if !self.seen.is_empty() && self.chance(0.7) {
            let from = self.seen.len().saturating_sub(8);
            let i = self.rng.gen_range(from..self.seen.len());
            self.seen[i]
        } else {
            self.index + self.rng.gen_range(0..3)
        }
    }

    fn long_ttl(&mut self) -> u64 {
        self.rng.gen_range(300..3000)
    }

    /// `params` go in the query, or for PUT and POST sometimes in a form body.
    fn request(&mut self, method: &str, key: &str, params: Vec<String>) -> Request {
        let joined = params.join("&");
        let in_form = matches!(method, "PUT" | "POST") && self.chance(0.4);
        if in_form {
            Request::new(method, &keys(key)).form(&joined)
        } else if joined.is_empty() {
            Request::new(method, &keys(key))
        } else {
            Request::new(method, &keys(&format!("{key}?{joined}")))
        }
    }

    fn get(&mut self) -> Request {
        let key = if self.chance(0.3) {
            DIRS.choose(&mut self.rng).copied().unwrap_or("/")
        } else {
            self.key()
        };
        let mut params = Vec::new();
        if self.chance(0.4) {
            params.push("recursive=true".to_string());
        }
        if self.chance(0.4) {
            params.push("sorted=true".to_string());
        }
        if self.chance(0.1) {
            params.push("quorum=true".to_string());
        }
        self.request("GET", key, params)
    }

    /// A write: PUT, POST or DELETE, with or without conditions. `short` allows
    /// a short TTL.
    fn write(&mut self, short: bool) -> (Request, bool) {
        match self.rng.gen_range(0..100) {
            0..=64 => self.put(short),
            65..=74 => (self.post(), false),
            _ => (self.delete(), false),
        }
    }

    fn put(&mut self, short: bool) -> (Request, bool) {
        let key = self.key();
        let mut params = Vec::new();
        let refresh = self.chance(0.05);
        let dir = !refresh && self.chance(0.1);
        if refresh {
            params.push("refresh=true".to_string());
        } else if dir {
            params.push("dir=true".to_string());
        } else {
            let v = self.value();
            params.push(format!("value={}", enc(v)));
        }
        match self.rng.gen_range(0..100) {
            0..=39 => {}
            40..=51 => params.push("prevExist=true".into()),
            52..=64 => params.push("prevExist=false".into()),
            65..=81 => {
                let v = self.value();
                params.push(format!("prevValue={}", enc(v)));
            }
            82..=95 => {
                let i = self.some_index();
                params.push(format!("prevIndex={i}"));
            }
            _ => {
                let v = self.value();
                let i = self.some_index();
                params.push(format!("prevValue={}&prevIndex={i}", enc(v)));
            }
        }
        let mut short_lived = false;
        let ttl = self.rng.gen_range(0..100);
        if refresh || ttl < 25 {
            let t = self.long_ttl();
            params.push(format!("ttl={t}"));
        } else if ttl < 32 {
            params.push("ttl=".into());
        } else if short && ttl < 34 {
            params.push(format!("ttl={SHORT_TTL}"));
            short_lived = true;
        }
        params.shuffle(&mut self.rng);
        (self.request("PUT", key, params), short_lived)
    }

    fn post(&mut self) -> Request {
        let dir = DIRS.choose(&mut self.rng).copied().unwrap_or("/q");
        let v = self.value();
        let mut params = vec![format!("value={}", enc(v))];
        if self.chance(0.2) {
            let t = self.long_ttl();
            params.push(format!("ttl={t}"));
        }
        self.request("POST", dir, params)
    }

    fn delete(&mut self) -> Request {
        let key = self.key();
        let mut params = Vec::new();
        if self.chance(0.3) {
            params.push("dir=true".to_string());
        }
        if self.chance(0.45) {
            params.push("recursive=true".to_string());
        }
        match self.rng.gen_range(0..100) {
            0..=64 => {}
            65..=82 => {
                let v = self.value();
                params.push(format!("prevValue={}", enc(v)));
            }
            _ => {
                let i = self.some_index();
                params.push(format!("prevIndex={i}"));
            }
        }
        self.request("DELETE", key, params)
    }

    /// A watcher on a key or dir, mostly one the next write touches.
    fn watch(&mut self) -> Op {
        let n = self.rng.gen_range(1..=3);
        let writes: Vec<Request> = (0..n).map(|_| self.write(false).0).collect();
        let key = if self.chance(0.7) {
            let path = writes[0].target.trim_start_matches("/v2/keys");
            let path = path.split('?').next().unwrap_or("/");
            if self.chance(0.3) {
                match path.rsplit_once('/') {
                    Some(("", _)) | None => "/".to_string(),
                    Some((parent, _)) => parent.to_string(),
                }
            } else {
                path.to_string()
            }
        } else {
            self.key().to_string()
        };
        let mut params = vec!["wait=true".to_string()];
        if self.chance(0.5) {
            params.push("recursive=true".into());
        }
        match self.rng.gen_range(0..10) {
            0..=4 => {}
            5..=7 => {
                let back = self.rng.gen_range(0..20);
                params.push(format!(
                    "waitIndex={}",
                    self.index.saturating_sub(back).max(1)
                ));
            }
            _ => {
                let ahead = self.rng.gen_range(1..4);
                params.push(format!("waitIndex={}", self.index + ahead));
            }
        }
        let req = Request::get(&keys(&format!("{key}?{}", params.join("&"))));
        Op::Watch(req, writes)
    }

    fn op(&mut self) -> Op {
        match self.rng.gen_range(0..100) {
            0..=29 => Op::Send(self.get()),
            30..=91 => match self.write(true) {
                (r, true) => Op::ShortLived(r),
                (r, false) => Op::Send(r),
            },
            _ => self.watch(),
        }
    }

    /// Learns indexes from etcd's answer.
    fn learn(&mut self, r: &crate::http::Response) {
        if let Some(i) = r.etcd_index() {
            self.index = self.index.max(i);
        }
        if let Some(m) = r.json()["node"]["modifiedIndex"].as_u64() {
            self.seen.push(m);
        }
    }
}

#[test]
fn generated_sequences() {
    let seed: u64 = match std::env::var("DIFF_V2_SEED") {
        Ok(s) => s.parse().expect("DIFF_V2_SEED must be a u64"),
        Err(_) => rand::random(),
    };
    let ops: usize = std::env::var("DIFF_V2_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let context = format!("v2 generated, seed {seed}: rerun with DIFF_V2_SEED={seed}");
    eprintln!("{context}");
    let mut p = Pair::start(&context);
    let mut g = Gen::new(seed);
    for i in 0..ops {
        match g.op() {
            Op::Send(req) => {
                let r = p.case(&format!("op {i}"), req);
                g.learn(&r);
            }
            Op::ShortLived(req) => {
                let r = p.case(&format!("op {i} (short ttl)"), req);
                g.learn(&r);
                std::thread::sleep(SHORT_TTL_WAIT);
            }
            Op::Watch(req, writes) => {
                let mut w = p.watch(&format!("op {i} (watch)"), req);
                for (j, wr) in writes.into_iter().enumerate() {
                    let r = p.case(&format!("op {i} (write {j} under watch)"), wr);
                    g.learn(&r);
                }
                p.event_or_not(&format!("op {i} (watch outcome)"), &mut w);
            }
        }
    }
    // A generator that only produced errors would test little.
    assert!(
        g.seen.len() > ops / 4,
        "only {} successful writes or reads of files in {ops} steps",
        g.seen.len()
    );
    p.finish(ops);
}
