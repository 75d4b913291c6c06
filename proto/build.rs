//! Generates the message types and gRPC stubs from the `.proto` files under
//! `proto/`, and the JSON (serde) impls the `/v3` gateway speaks for etcd's
//! public packages.

use std::path::PathBuf;

/// The packages clients see; `raftcmd` and `peer` never travel as JSON.
const JSON_PACKAGES: &[&str] = &[
    ".mvccpb",
    ".authpb",
    ".etcdserverpb",
    ".v3lockpb",
    ".v3electionpb",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = out.join("descriptors.bin");
    // Each message knows its full name (`prost::Name`), by which the gateway
    // looks up its fields in the descriptors.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_build::configure()
        .build_server(true)
        .build_client(true)
        .file_descriptor_set_path(&descriptors)
        .compile_protos_with_config(
            config,
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

    // etcd's gateway names JSON fields as the .proto files do, so field names
    // are kept rather than camel-cased. The gateway writes its answers with
    // these impls; it reads requests by the descriptors above, as etcd's
    // gateway reads them (both spellings, unknown fields skipped).
    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&descriptors)?)?
        .preserve_proto_field_names()
        .ignore_unknown_fields()
        .build(JSON_PACKAGES)?;
    Ok(())
}
