//! `lease …` and `put --lease`: every subcommand in every output format,
//! and their argument errors.
//!
//! Leases the commands refer to are granted through the library with fixed
//! IDs, so both servers know them under the same IDs. Masked are only the
//! IDs the server picks for `lease grant` and the remaining TTL, which
//! depends on when the question is asked.

use super::harness::{mask_after, with_client, Printed, Tool, Transcript};

const FORMATS: [&str; 4] = ["simple", "json", "fields", "protobuf"];

/// Fixed-ID leases with distinct TTLs, so that `lease list` (ordered by
/// expiry) lists them in a fixed order.
const HOLDER: (i64, i64) = (0x694d_77aa_9e1e_4e0b, 3600);
const SPARE: (i64, i64) = (0x694d_77aa_9e1e_4e0c, 3000);
const TO_REVOKE: [(i64, i64); 4] = [
    (0x694d_77aa_9e1e_4e10, 2000),
    (0x694d_77aa_9e1e_4e11, 2001),
    (0x694d_77aa_9e1e_4e12, 2002),
    (0x694d_77aa_9e1e_4e13, 2003),
];
/// Renewed every 20 s, so a keep-alive shows one renewal in its first
/// seconds.
const KEPT_ALIVE: (i64, i64) = (0x694d_77aa_9e1e_4e20, 60);
/// Revoked while a keep-alive renews it every second or so.
const SHORT_LIVED: (i64, i64) = (0x694d_77aa_9e1e_4e21, 5);
/// No such lease.
const UNKNOWN: &str = "1234";

fn hex(lease: (i64, i64)) -> String {
    format!("{:x}", lease.0)
}

pub fn scenario(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    with_client(endpoint, |client| async move {
        let fixed = [HOLDER, SPARE, KEPT_ALIVE, SHORT_LIVED];
        for (id, ttl) in fixed.into_iter().chain(TO_REVOKE) {
            let granted = client.lease_grant(ttl, id).await.expect("grant lease");
            assert_eq!(granted.id, id);
        }
    });

    grant(tool, endpoint, t);
    put_with_lease(tool, endpoint, t);
    time_to_live(tool, endpoint, t);
    keep_alive(tool, endpoint, t);
    revoke(tool, endpoint, t);
    for format in FORMATS {
        t.run(tool, endpoint, &["lease", "list", "-w", format]);
    }
    t.run(tool, endpoint, &["lease", "list", "-w", "table"]);
}

/// The ID the server picked is masked, in each format's spelling of it.
fn mask_granted_id(text: &str) -> String {
    let text = mask_after(text, "lease ", |c| c.is_ascii_hexdigit());
    let text = mask_after(&text, "\"ID\":", |c| c.is_ascii_digit());
    mask_after(&text, "\"ID\" : ", |c| c.is_ascii_digit())
}

fn grant(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    for format in FORMATS {
        let args = ["lease", "grant", "100", "-w", format];
        let printed = tool.run(endpoint, &args, b"");
        // Protobuf shows only the header, no ID.
        let printed = if format == "protobuf" {
            printed
        } else {
            printed.masked(mask_granted_id)
        };
        t.record(args.join(" "), printed);
    }
    // Refused only when printing, after the lease was granted.
    t.run(tool, endpoint, &["lease", "grant", "100", "-w", "table"]);
    for args in [
        &["lease", "grant"][..],
        &["lease", "grant", "abc"],
        &["lease", "grant", "0x10"],
        &["lease", "grant", "1", "2"],
        &["lease", "grant", "99999999999"],
    ] {
        t.run(tool, endpoint, args);
    }
    // Forget the leases with server-picked IDs, so that `lease list`
    // compares.
    with_client(endpoint, |client| async move {
        let fixed: Vec<i64> = [HOLDER, SPARE, KEPT_ALIVE, SHORT_LIVED]
            .into_iter()
            .chain(TO_REVOKE)
            .map(|(id, _)| id)
            .collect();
        let leases = client.lease_leases().await.expect("list leases").leases;
        for lease in leases.iter().filter(|l| !fixed.contains(&l.id)) {
            client.lease_revoke(lease.id).await.expect("revoke lease");
        }
    });
}

fn put_with_lease(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    let holder = hex(HOLDER);
    t.run(tool, endpoint, &["put", "leased", "v1", "--lease", &holder]);
    t.run(
        tool,
        endpoint,
        &[
            "put",
            "leased",
            "v2",
            &format!("--lease={holder}"),
            "--prev-kv",
            "-w",
            "json",
        ],
    );
    t.run(
        tool,
        endpoint,
        &["put", "spare-key", "v", "--lease", &hex(SPARE)],
    );
    t.run(tool, endpoint, &["get", "leased", "-w", "json"]);
    t.run(tool, endpoint, &["get", "", "--prefix", "-w", "fields"]);
    t.run(tool, endpoint, &["put", "orphan", "v", "--lease", UNKNOWN]);
}

/// The remaining TTL, in each format's spelling of it.
fn mask_remaining(text: &str) -> String {
    let text = mask_after(text, "remaining(", |c| c.is_ascii_digit());
    let text = mask_after(&text, "\"ttl\":", |c| c.is_ascii_digit());
    mask_after(&text, "\"TTL\" : ", |c| c.is_ascii_digit())
}

fn time_to_live(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    let holder = hex(HOLDER);
    for format in FORMATS {
        for keys in [&[][..], &["--keys"]] {
            let mut args = vec!["lease", "timetolive", holder.as_str(), "-w", format];
            args.extend_from_slice(keys);
            let printed = tool.run(endpoint, &args, b"");
            let printed = if format == "protobuf" {
                printed
            } else {
                printed.masked(mask_remaining)
            };
            t.record(args.join(" "), printed);
        }
        t.run(
            tool,
            endpoint,
            &["lease", "timetolive", UNKNOWN, "--keys", "-w", format],
        );
    }
    t.run(tool, endpoint, &["lease", "timetolive", UNKNOWN]);
    for args in [
        &["lease", "timetolive"][..],
        &["lease", "timetolive", "zz"],
        &["lease", "timetolive", UNKNOWN, "extra"],
        &["lease", "timetolive", UNKNOWN, "-w", "table"],
        &["lease", "timetolive", "zz", "-w", "yaml"],
    ] {
        t.run(tool, endpoint, args);
    }
}

fn keep_alive(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    let holder = hex(HOLDER);
    for format in FORMATS {
        t.run(
            tool,
            endpoint,
            &["lease", "keep-alive", "--once", &holder, "-w", format],
        );
    }
    for args in [
        &["lease", "keep-alive", "--once", UNKNOWN][..],
        &["lease", "keep-alive", "--once", UNKNOWN, "-w", "json"],
        &["lease", "keep-alive", "--once", &holder, "-w", "table"],
        &["lease", "keep-alive"],
        &["lease", "keep-alive", "zz"],
        &["lease", "keep-alive", "1", "2"],
        // Renewing a lease that does not exist ends at once.
        &["lease", "keep-alive", UNKNOWN],
        &["lease", "keep-alive", UNKNOWN, "-w", "json"],
    ] {
        t.run(tool, endpoint, args);
    }

    // The first renewal, then nothing for 20 s: stopped after the first.
    for format in ["simple", "json"] {
        let args = ["lease", "keep-alive", &hex(KEPT_ALIVE), "-w", format];
        let mut renewing = tool.spawn(endpoint, &args);
        renewing.wait_for("a renewal", |out| out.ends_with(b"\n"));
        t.record(args.join(" "), renewing.terminate());
    }

    // Revoked while being renewed: renewals (how many depends on timing,
    // so repeated lines are collapsed), then the end is announced.
    let args = ["lease", "keep-alive", &hex(SHORT_LIVED)];
    let mut renewing = tool.spawn(endpoint, &args);
    renewing.wait_for("a renewal", |out| out.ends_with(b"\n"));
    with_client(endpoint, |client| async move {
        client.lease_revoke(SHORT_LIVED.0).await.expect("revoke");
    });
    let printed = renewing.finish();
    t.record(args.join(" "), collapse_repeated_lines(printed));
}

fn collapse_repeated_lines(printed: Printed) -> Printed {
    printed.masked(|text| {
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        lines.dedup();
        lines.concat()
    })
}

fn revoke(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    for ((id, _), format) in TO_REVOKE.iter().zip(FORMATS) {
        // Protobuf is refused only after the lease was revoked.
        t.run(
            tool,
            endpoint,
            &["lease", "revoke", &format!("{id:x}"), "-w", format],
        );
    }
    let revoked = format!("{:x}", TO_REVOKE[0].0);
    t.run(tool, endpoint, &["lease", "revoke", &revoked]);
    // Revoking deletes the attached keys.
    t.run(tool, endpoint, &["lease", "revoke", &hex(HOLDER)]);
    t.run(tool, endpoint, &["get", "", "--prefix", "-w", "json"]);
    for args in [
        &["lease", "revoke"][..],
        &["lease", "revoke", "zz"],
        &["lease", "revoke", "1", "2"],
        &["lease", "revoke", UNKNOWN, "-w", "yaml"],
    ] {
        t.run(tool, endpoint, args);
    }
}
