//! The auth rows of the comparison: the v3 rows' put and linearizable range at 256
//! clients with authentication off, on with simple tokens, and on with ES256 JWTs.
//! Each setting has a fresh ectd and etcd cluster of its own (a member signs JWTs
//! with keys it is started with). All six run for the whole group, so that the
//! settings take turns as well as the servers: the share of its throughput a server
//! keeps with auth on compares runs seconds apart, not minutes, on this drifting
//! shared machine. The four clusters not being measured sit idle meanwhile, sending
//! raft heartbeats, the same background for every run. With auth on, the load logs in
//! before each run (untimed) as a user whose role may read and write the load's keys
//! ([`crate::auth`]), so every request is checked against a permission. The table
//! shows each setting's ratio ectd / etcd and, for each server, how much of its
//! throughput without auth it keeps with it.

use std::path::Path;

use super::{order, run_case, table_load, Case, CompareOptions, Rounds, Row, Side, CASES};
use super::{REQUEST_KEY_SPACE, TLS_CASES};
use crate::auth::{self, JwtKeys};
use crate::cluster;
use crate::load::Load;

/// How the clusters authenticate clients.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setting {
    /// Authentication disabled; requests carry no token.
    Off,
    /// Enabled, `--auth-token simple` (the default): opaque tokens each member
    /// looks up in memory.
    Simple,
    /// Enabled, `--auth-token jwt,...,sign-method=ES256`: tokens whose signature a
    /// member verifies.
    Jwt,
}

const SETTINGS: [Setting; 3] = [Setting::Off, Setting::Simple, Setting::Jwt];

impl Setting {
    /// The setting as the rows name it.
    fn name(self) -> &'static str {
        match self {
            Setting::Off => "auth off",
            Setting::Simple => "auth simple",
            Setting::Jwt => "auth jwt",
        }
    }

    /// The servers' names in the progress lines: ectd's, then etcd's.
    fn side_names(self) -> [&'static str; 2] {
        match self {
            Setting::Off => ["ectd, auth off", "etcd, auth off"],
            Setting::Simple => ["ectd, auth simple", "etcd, auth simple"],
            Setting::Jwt => ["ectd, auth jwt", "etcd, auth jwt"],
        }
    }

    /// The flags every member of both clusters gets.
    fn flags(self, keys: &JwtKeys) -> Vec<String> {
        match self {
            Setting::Off => Vec::new(),
            Setting::Simple => vec!["--auth-token".into(), "simple".into()],
            Setting::Jwt => vec!["--auth-token".into(), keys.auth_token_flag()],
        }
    }
}

/// The workloads measured, indices into the v3 rows' cases: put and linearizable
/// range at 256 clients, the same ones the TLS rows measure.
const AUTH_CASES: [usize; 2] = TLS_CASES;

/// The target for ectd / etcd with authentication on.
const TARGET_WITH_AUTH: f64 = 2.0;

/// A setting's clusters.
struct Pair {
    setting: Setting,
    sides: [Side; 2],
}

impl Pair {
    /// Starts an ectd and an etcd cluster with `setting`'s flags under `dir` and, with
    /// auth on, sets up the load's user in each and enables authentication.
    async fn start(
        setting: Setting,
        opts: &CompareOptions,
        ectd: &Path,
        keys: &JwtKeys,
        dir: &Path,
    ) -> anyhow::Result<Pair> {
        let n = opts.members.max(1);
        let flags = setting.flags(keys);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let [ectd_name, etcd_name] = setting.side_names();
        let sides = [
            Side {
                name: ectd_name,
                cluster: cluster::start(ectd, &dir.join("ectd"), n, None, &flags).await?,
                preloaded: false,
            },
            Side {
                name: etcd_name,
                cluster: cluster::start(&opts.etcd, &dir.join("etcd"), n, None, &flags).await?,
                preloaded: false,
            },
        ];
        if setting != Setting::Off {
            for side in &sides {
                auth::enable(&side.cluster.endpoints(), &key_space()).await?;
            }
        }
        Ok(Pair { setting, sides })
    }

    /// Runs `case` against server `s`, logged in afresh if auth is on.
    async fn run(
        &mut self,
        case: &Case,
        s: usize,
        opts: &CompareOptions,
    ) -> anyhow::Result<(f64, f64)> {
        let side = &mut self.sides[s];
        let token = match self.setting {
            Setting::Off => None,
            _ => Some(auth::login(&side.cluster.endpoints(), &key_space()).await?),
        };
        run_case(case, side, opts, None, token.as_ref()).await
    }
}

/// The request workloads' key space, all that matters to the load's permission.
fn key_space() -> Load {
    table_load(1, 1, REQUEST_KEY_SPACE)
}

/// The turns of round `round`, as (setting, server) indices: every setting's servers
/// in turn ([`order`]), the settings in order, then in reverse order the next round,
/// so that a machine getting slower or faster during the run favours no setting.
fn turns(round: usize) -> Vec<(usize, usize)> {
    let mut settings: Vec<usize> = (0..SETTINGS.len()).collect();
    if !round.is_multiple_of(2) {
        settings.reverse();
    }
    settings
        .into_iter()
        .flat_map(|p| order(round).map(|s| (p, s)))
        .collect()
}

/// The share of `off`'s throughput that `on` kept, % (p99 left out), per round.
fn kept(on: &Rounds, off: &Rounds) -> Rounds {
    Rounds {
        sides: [0, 1].map(|s| {
            on.sides[s]
                .iter()
                .zip(&off.sides[s])
                .map(|(a, b)| (100.0 * a.0 / b.0.max(1e-9), 0.0))
                .collect()
        }),
    }
}

/// The auth rows: for each setting the workloads' throughput and p99 on both servers
/// (auth off for reference, auth on against the target), then for each auth-on
/// setting the share of its throughput without auth each server keeps.
pub(super) async fn rows(
    opts: &CompareOptions,
    ectd: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<Row>> {
    let keys = auth::make_jwt_keys(&dir.join("jwt"))?;
    let mut pairs = Vec::new();
    for (i, setting) in SETTINGS.into_iter().enumerate() {
        pairs.push(Pair::start(setting, opts, ectd, &keys, &dir.join(i.to_string())).await?);
    }
    // measured[setting][workload]
    let mut measured: [[Rounds; AUTH_CASES.len()]; SETTINGS.len()] = Default::default();
    for (c, &i) in AUTH_CASES.iter().enumerate() {
        for round in 0..opts.rounds.max(1) {
            for (p, s) in turns(round) {
                let r = pairs[p].run(&CASES[i], s, opts).await?;
                measured[p][c].sides[s].push(r);
            }
        }
    }
    let mut rows = Vec::new();
    for (setting, m) in SETTINGS.iter().zip(&measured) {
        for (rounds, &i) in m.iter().zip(&AUTH_CASES) {
            let target = (*setting != Setting::Off).then_some(TARGET_WITH_AUTH);
            let name = format!("{}, {}", CASES[i].name, setting.name());
            rows.push(rounds.row(&name, "ops/s", true, target, true));
        }
    }
    let off = &measured[0];
    for (setting, on) in SETTINGS.iter().zip(&measured).skip(1) {
        for (c, &i) in AUTH_CASES.iter().enumerate() {
            let name = format!("{}: {} vs off", CASES[i].name, setting.name());
            rows.push(kept(&on[c], &off[c]).row(&name, "% kept", true, None, false));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_turns_in_reverse_every_other_round() {
        let first = turns(0);
        assert_eq!(first, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
        assert_eq!(turns(1), [(2, 1), (2, 0), (1, 1), (1, 0), (0, 1), (0, 0)]);
        assert_eq!(turns(2), first);
    }

    #[test]
    fn kept_is_per_server_and_per_round() {
        let off = Rounds {
            sides: [vec![(200.0, 1.0), (100.0, 1.0)], vec![(100.0, 1.0)]],
        };
        let on = Rounds {
            sides: [vec![(100.0, 2.0), (100.0, 2.0)], vec![(25.0, 2.0)]],
        };
        let k = kept(&on, &off);
        assert_eq!(k.sides[0], vec![(50.0, 0.0), (100.0, 0.0)]);
        assert_eq!(k.sides[1], vec![(25.0, 0.0)]);
        let row = k.row("kept", "%", true, None, false);
        assert_eq!((row.ectd, row.etcd, row.ratio), (75.0, 25.0, 3.0));
    }

    #[test]
    fn only_auth_on_settings_set_the_token_flag() {
        let keys = JwtKeys {
            private: "/k/jwt.key".into(),
            public: "/k/jwt.pub".into(),
        };
        assert!(Setting::Off.flags(&keys).is_empty());
        assert_eq!(Setting::Simple.flags(&keys), ["--auth-token", "simple"]);
        assert_eq!(
            Setting::Jwt.flags(&keys),
            [
                "--auth-token",
                "jwt,pub-key=/k/jwt.pub,priv-key=/k/jwt.key,sign-method=ES256"
            ]
        );
    }
}
