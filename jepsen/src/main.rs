//! ectd-jepsen: fault injection and consistency checking against real ectd clusters.
//!
//! Not built yet: the harness arrives once multi-member clusters exist.

fn main() {
    eprintln!("ectd-jepsen: no workloads yet; the harness needs a multi-member cluster");
    std::process::exit(2);
}
