//! Adding, starting, updating and removing a member with `member` commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ectd_client::v2::{Client, ClientOptions};

use crate::cluster::{Addresses, Cluster};
use crate::harness::{finish, replace_word, Printed, COMMAND_LIMIT};

/// Runs the membership script with `tool` against a one-member cluster of
/// `server`; returns each step (its command line) and what it printed,
/// masked.
pub fn membership(server: PathBuf, tool: &Path) -> Vec<(String, Printed)> {
    let mut cluster = Cluster::start_with(1, server, &["--enable-v2"]);
    let first = cluster.members[0].clone();
    let joining = Addresses::new("m2");
    let first_url = format!("http://{}", first.client);
    let first_id = cluster.wait_until("the member has published its client URL", || {
        let first_url = first_url.clone();
        async move {
            let client = Client::new(&[first_url], ClientOptions::default()).ok()?;
            let members = client.members().await.ok()?;
            let member = members.into_iter().next()?;
            (!member.client_urls.is_empty()).then_some(member.id)
        }
    });
    let run = |args: &[&str]| {
        let mut command = Command::new(tool);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCDCTL_") {
                command.env_remove(name);
            }
        }
        let child = command
            .env("ETCDCTL_API", "2")
            .args(["--endpoints", &first_url])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        finish(child, COMMAND_LIMIT)
    };

    let add = ["member", "add", "m2", &joining.peer_url];
    let added = run(&add);
    assert_eq!(added.code, Some(0), "{added:?}");
    let joined_id = added
        .stdout
        .split(" with ID ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the new member's ID")
        .to_string();
    let initial_cluster = added
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("ETCD_INITIAL_CLUSTER="))
        .expect("ETCD_INITIAL_CLUSTER")
        .trim_matches('"')
        .to_string();
    let mut steps = vec![(add.join(" "), added)];
    cluster.join(&joining, &initial_cluster, "");
    let joined_url = format!("http://{}", joining.client);
    cluster.wait_until("the new member is healthy", || {
        let joined_url = joined_url.clone();
        async move {
            let client = Client::new(&[joined_url.as_str()], ClientOptions::default()).ok()?;
            let healthy = client.health(&joined_url).await.ok()?;
            let members = client.members().await.ok()?;
            (healthy && members.iter().all(|m| !m.client_urls.is_empty())).then_some(())
        }
    });
    // etcd refuses to remove a member until its peers have been connected
    // for five seconds (its health interval).
    std::thread::sleep(Duration::from_secs(6));
    for args in [
        &["member", "list"][..],
        &["cluster-health"],
        &["member", "update", &joined_id, &joining.peer_url],
        &["member", "remove", "m2"],
        &["member", "remove", &joined_id],
    ] {
        steps.push((args.join(" "), run(args)));
    }
    cluster.stop("m2");
    for args in [&["member", "list"][..], &["cluster-health"]] {
        steps.push((args.join(" "), run(args)));
    }

    let tool_name = tool.file_name().unwrap().to_string_lossy().into_owned();
    let mask = |text: &str| {
        let text = replace_word(text, &tool_name, "<tool>")
            .replace(&first.client, "<m1-client>")
            .replace(&first.peer_url, "<m1-peer>")
            .replace(&joining.client, "<m2-client>")
            .replace(&joining.peer_url, "<m2-peer>")
            .replace(&first_id, "<m1-id>")
            .replace(&joined_id, "<m2-id>");
        // The member list, and so what is printed from it, is in ID order.
        let mut lines: Vec<String> = text.lines().map(sort_initial_cluster).collect();
        if text.contains("peerURLs=") || text.contains("cluster is ") {
            lines.sort_unstable();
        }
        lines.join("\n")
    };
    steps
        .into_iter()
        .map(|(what, printed)| {
            let printed = Printed {
                stdout: mask(&printed.stdout),
                stderr: mask(&printed.stderr),
                code: printed.code,
            };
            (mask(&what), printed)
        })
        .collect()
}

/// `ETCD_INITIAL_CLUSTER="b=…,a=…"` with its entries sorted; other lines
/// as they are.
fn sort_initial_cluster(line: &str) -> String {
    match line.strip_prefix("ETCD_INITIAL_CLUSTER=") {
        Some(value) => {
            let mut entries: Vec<&str> = value.trim_matches('"').split(',').collect();
            entries.sort_unstable();
            format!("ETCD_INITIAL_CLUSTER=\"{}\"", entries.join(","))
        }
        None => line.to_string(),
    }
}
