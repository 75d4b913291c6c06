//! `member list|add|remove|update` and `cluster-health`.

use std::time::Duration;

use ectd_client::v2::{Error, Member};

use super::super::gostr::quote;
use super::flags::Parsed;
use super::output::{print_now, Exit, EXIT_CLUSTER_NOT_HEALTHY, EXIT_SERVER_ERROR};
use super::session::{Failure, Session};

/// How often `cluster-health --forever` checks.
const HEALTH_INTERVAL: Duration = Duration::from_secs(10);

/// `member list`: one line per member, the leader marked.
pub async fn list(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    if !flags.args.is_empty() {
        return Err(Exit::message(1, "No arguments accepted\n"));
    }
    let client = session.client().await?;
    let members = session
        .within(client.members())
        .await
        .map_err(|failure| Exit::message(1, &format!("{failure}\n")))?;
    let leader = session
        .within(client.leader())
        .await
        .map_err(|failure| Exit::message(1, &format!("Failed to get leader:  {failure}\n")))?;
    let mut text = String::new();
    for member in &members {
        if member.name.is_empty() {
            text.push_str(&format!(
                "{}[unstarted]: peerURLs={}\n",
                member.id,
                member.peer_urls.join(",")
            ));
        } else {
            text.push_str(&format!(
                "{}: name={} peerURLs={} clientURLs={} isLeader={}\n",
                member.id,
                member.name,
                member.peer_urls.join(","),
                member.client_urls.join(","),
                member.id == leader.id
            ));
        }
    }
    print_now(&text);
    Ok(())
}

/// `member add <name> <peerURL>`: adds the member and prints the settings
/// it must be started with.
pub async fn add(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let [name, peer_url] = flags.args.as_slice() else {
        return Err(Exit::message(
            1,
            "Provide a name and a single member peerURL\n",
        ));
    };
    let client = session.client().await?;
    let failed = |failure: Failure| Exit::message(1, &format!("{failure}\n"));
    let added = session
        .within(client.add_member(peer_url))
        .await
        .map_err(failed)?;
    print_now(&format!(
        "Added member named {name} with ID {} to cluster\n",
        added.id
    ));
    let members = session.within(client.members()).await.map_err(failed)?;
    let initial_cluster: Vec<String> = members
        .iter()
        .flat_map(|member| {
            let member_name = if member.id == added.id {
                name.as_str()
            } else {
                member.name.as_str()
            };
            member
                .peer_urls
                .iter()
                .map(move |url| format!("{member_name}={url}"))
        })
        .collect();
    print_now(&format!(
        "\nETCD_NAME={}\nETCD_INITIAL_CLUSTER={}\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n",
        quote(name.as_bytes()),
        quote(initial_cluster.join(",").as_bytes())
    ));
    Ok(())
}

/// `member remove <memberID>`: only an ID of a current member is accepted
/// (a name gets a hint).
pub async fn remove(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let [id] = flags.args.as_slice() else {
        return Err(Exit::message(1, "Provide a single member ID\n"));
    };
    let client = session.client().await?;
    let members: Vec<Member> = session.within(client.members()).await.map_err(|failure| {
        Exit::message(
            1,
            &format!("Error while verifying ID against known members: {failure}\n"),
        )
    })?;
    let mut hints = String::new();
    for member in members.iter().filter(|member| member.name == *id) {
        hints.push_str(&format!(
            "Found a member named {}; if this is correct, please use its ID, eg:\n\t{} member \
             remove {}\nFor more details, read the documentation at \
             https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md\
             #remove-a-member\n\n",
            member.name, session.program, member.id
        ));
    }
    if !members.iter().any(|member| member.id == *id) {
        return Err(Exit::message(
            1,
            &format!("{hints}Couldn't find a member in the cluster with an ID of {id}.\n"),
        ));
    }
    super::output::eprint_now(&hints);
    session
        .within(client.remove_member(id))
        .await
        .map_err(|failure| {
            // etcdctl ends this message without a newline.
            Exit::message(
                1,
                &format!("Received an error trying to remove member {id}: {failure}"),
            )
        })?;
    print_now(&format!("Removed member {id} from cluster\n"));
    Ok(())
}

/// `member update <memberID> <peerURLs>`.
pub async fn update(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let [id, urls] = flags.args.as_slice() else {
        return Err(Exit::message(
            1,
            "Provide an ID and a list of comma separated peerURL (0xabcd \
             http://example.com,http://example1.com)\n",
        ));
    };
    let client = session.client().await?;
    let urls: Vec<&str> = urls.split(',').collect();
    session
        .within(client.update_member(id, &urls))
        .await
        .map_err(|failure| Exit::message(1, &format!("{failure}\n")))?;
    print_now(&format!("Updated member with ID {id} in cluster\n"));
    Ok(())
}

/// `cluster-health`: asks every member's `/health` (through its first
/// client URL that answers) and sums up; exit 5 unless all are healthy.
pub async fn cluster_health(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let forever = flags.bool("forever");
    let client = session.client_without_sync()?;
    let members = match client.members().await {
        Ok(members) => members,
        Err(err) => {
            print_now("cluster may be unhealthy: failed to list members\n");
            return Err(session.fail(EXIT_SERVER_ERROR, &Failure::Client(err)));
        }
    };
    let checks = async {
        loop {
            let mut healthy = 0;
            for member in &members {
                if member.client_urls.is_empty() {
                    print_now(&format!(
                        "member {} is unreachable: no available published client urls\n",
                        member.id
                    ));
                    continue;
                }
                let mut checked = false;
                for url in &member.client_urls {
                    match client.health(url).await {
                        Err(err) => print_now(&format!(
                            "failed to check the health of member {} on {url}: {}\n",
                            member.id,
                            health_failure(url, &err)
                        )),
                        Ok(is_healthy) => {
                            checked = true;
                            if is_healthy {
                                healthy += 1;
                                print_now(&format!(
                                    "member {} is healthy: got healthy result from {url}\n",
                                    member.id
                                ));
                            } else {
                                print_now(&format!(
                                    "member {} is unhealthy: got unhealthy result from {url}\n",
                                    member.id
                                ));
                            }
                            break;
                        }
                    }
                }
                if !checked {
                    print_now(&format!(
                        "member {} is unreachable: [{}] are all unreachable\n",
                        member.id,
                        member.client_urls.join(" ")
                    ));
                }
            }
            print_now(if healthy == members.len() {
                "cluster is healthy\n"
            } else if healthy == 0 {
                "cluster is unavailable\n"
            } else {
                "cluster is degraded\n"
            });
            if !forever {
                return if healthy == members.len() {
                    Ok(())
                } else {
                    Err(Exit::quiet(EXIT_CLUSTER_NOT_HEALTHY))
                };
            }
            print_now("\nnext check after 10 second...\n\n");
            tokio::time::sleep(HEALTH_INTERVAL).await;
        }
    };
    tokio::select! {
        result = checks => result,
        _ = tokio::signal::ctrl_c(), if forever => Ok(()),
    }
}

/// A failed health check as Go's HTTP client reports it: a request that
/// got no answer names the URL it was for.
fn health_failure(url: &str, err: &Error) -> String {
    match err {
        Error::Endpoint(_) => format!("Get \"{url}/health\": {err}"),
        other => other.to_string(),
    }
}
