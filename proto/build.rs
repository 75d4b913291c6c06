//! Generates the message types and gRPC stubs from the `.proto` files under
//! `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");

    tonic_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(
            &[
                "proto/mvccpb/kv.proto",
                "proto/authpb/auth.proto",
                "proto/etcdserverpb/rpc.proto",
                "proto/v3lockpb/v3lock.proto",
                "proto/v3electionpb/v3election.proto",
                "proto/raftcmd/raftcmd.proto",
                "proto/peer/peer.proto",
            ],
            &["proto"],
        )?;
    Ok(())
}
