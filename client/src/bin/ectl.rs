//! `ectl`: an etcdctl-compatible command-line client for ectd and etcd v3.

#[path = "../ectl/mod.rs"]
mod ectl;

fn main() {
    std::process::exit(ectl::main());
}
