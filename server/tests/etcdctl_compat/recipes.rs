//! `etcdctl lock` and `etcdctl elect`, built on leases and revisions.

use crate::both::{same, Both};

#[test]
fn etcdctl_lock_and_elect() {
    let mut t = Both::start();
    // A lock held while a command runs: the command's output and exit status.
    t.run(&["lock", "mylock", "echo", "held"]);
    t.run(&["lock", "mylock", "sh", "-c", "exit 3"]);
    // The lock is free again: nothing left under its prefix.
    t.run(&["get", "mylock", "--prefix", "--keys-only"]);

    // A waiting second holder gets the lock once the first goes away.
    let first = t.spawn_each(&same(&["lock", "queue"]));
    let second = t.spawn_each(&same(&["lock", "queue", "echo", "second"]));
    t.alias_keys("queue/", "QUEUE_HOLDER");
    t.stop(first);
    t.wait(second);

    // Elections: a leader, an observer, a second candidate that takes over.
    let leader = t.spawn_each(&same(&["elect", "el", "p1"]));
    let listen = t.spawn_each(&same(&["elect", "--listen", "el"]));
    let next = t.spawn_each(&same(&["elect", "el", "p2"]));
    t.alias_keys("el/", "CANDIDATE");
    t.stop(leader);
    std::thread::sleep(std::time::Duration::from_millis(500));
    t.stop(next);
    t.stop(listen);
    t.run(&["get", "el", "--prefix", "--keys-only"]);
    t.finish(8);
}
