//! `ectl snapshot save|status|restore`: backups in etcd's format.
//!
//! `save` downloads a member's snapshot (an etcd backend database followed by
//! its SHA-256) from ectd or etcd; `status` summarises a snapshot file;
//! `restore` builds an ectd data directory from an ectd or etcd snapshot, or
//! from a stopped etcd member's database (`--from-data-dir`), which is how a
//! cluster moves from etcd to ectd.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ectd_client::proto::etcdserverpb::SnapshotRequest;
use ectd_server::backup::{self, RestoreOptions};
use indicatif::{ProgressBar, ProgressStyle};

use super::args::{RestoreArgs, SnapshotCommand};
use super::exit::{CtlError, EXIT_INTERRUPTED};
use super::Context;

/// Runs a `snapshot` subcommand.
pub async fn run(
    ctx: &Context<'_>,
    command: &SnapshotCommand,
    out: &mut Vec<u8>,
) -> Result<(), CtlError> {
    match command {
        SnapshotCommand::Save(args) => {
            let [path] = args.args.as_slice() else {
                return Err(CtlError::bad_args("snapshot save expects one argument"));
            };
            save(ctx, path)
                .await
                .map_err(|e| e.with_code(EXIT_INTERRUPTED))?;
            out.extend(format!("Snapshot saved at {path}\n").bytes());
            Ok(())
        }
        SnapshotCommand::Status(args) => {
            let [path] = args.args.as_slice() else {
                return Err(CtlError::bad_args(
                    "snapshot status requires exactly one argument",
                ));
            };
            let printer = ctx.printer()?;
            let st = backup::status(Path::new(path)).map_err(|e| CtlError::error(e.to_string()))?;
            printer.db_status(out, &st)
        }
        SnapshotCommand::Restore(args) => restore(args),
    }
}

/// Downloads one endpoint's snapshot to `path` through `<path>.part`, with a
/// progress bar on a terminal.
async fn save(ctx: &Context<'_>, path: &str) -> Result<(), CtlError> {
    let endpoints = &ctx.settings.endpoints;
    if endpoints.len() != 1 {
        return Err(CtlError::error(format!(
            "snapshot must be requested to one selected node, not multiple [{}]",
            endpoints.join(" ")
        )));
    }
    let part = format!("{path}.part");
    let result = download(ctx, &endpoints[0], &part).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
        return result;
    }
    std::fs::rename(&part, path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        CtlError::error(format!("could not rename {part} to {path} ({e})"))
    })
}

async fn download(ctx: &Context<'_>, endpoint: &str, part: &str) -> Result<(), CtlError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(part)
        .map_err(|e| CtlError::error(format!("could not open {part} ({e})")))?;
    let client = ctx.connect_one(endpoint).await?;
    let mut stream = ctx
        .within(async {
            client
                .maintenance()
                .snapshot(SnapshotRequest {})
                .await
                .map_err(ectd_client::Error::from)
        })
        .await?
        .into_inner();
    let bar = ProgressBar::hidden();
    let mut size = 0u64;
    loop {
        let msg = ctx
            .within(async { stream.message().await.map_err(ectd_client::Error::from) })
            .await?;
        let Some(msg) = msg else { break };
        if size == 0 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(msg.remaining_bytes + msg.blob.len() as u64 + 32);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bytes}/{total_bytes} [{bar:40}] {bytes_per_sec}, {eta} left",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
        }
        f.write_all(&msg.blob)?;
        size += msg.blob.len() as u64;
        bar.set_position(size);
    }
    bar.finish_and_clear();
    // The stream ends with the SHA-256 of the database, whose size is a
    // multiple of 512.
    if size % 512 != 32 {
        return Err(CtlError::error(format!(
            "sha256 checksum not found [bytes: {size}]"
        )));
    }
    f.sync_all()?;
    Ok(())
}

/// Builds a data directory from a snapshot file or an etcd member's database.
fn restore(args: &RestoreArgs) -> Result<(), CtlError> {
    let (snapshot, skip_hash_check) = match (args.args.as_slice(), args.from_data_dir.as_str()) {
        ([file], "") => (PathBuf::from(file), args.skip_hash_check),
        ([], dir) if !dir.is_empty() => (etcd_db(Path::new(dir))?, true),
        ([_], _) => {
            return Err(CtlError::bad_args(
                "snapshot restore takes a file or --from-data-dir, not both",
            ))
        }
        _ => {
            return Err(CtlError::bad_args(
                "snapshot restore requires exactly one argument",
            ))
        }
    };
    let data_dir = if args.data_dir.is_empty() {
        format!("{}.etcd", args.name)
    } else {
        args.data_dir.clone()
    };
    let opts = RestoreOptions {
        snapshot,
        data_dir: PathBuf::from(&data_dir),
        wal_dir: (!args.wal_dir.is_empty()).then(|| PathBuf::from(&args.wal_dir)),
        name: args.name.clone(),
        initial_cluster: args.initial_cluster.clone(),
        initial_cluster_token: args.initial_cluster_token.clone(),
        initial_advertise_peer_urls: args
            .initial_advertise_peer_urls
            .split(',')
            .map(str::to_string)
            .collect(),
        skip_hash_check,
    };
    let restored = backup::restore(&opts).map_err(|e| CtlError::error(e.to_string()))?;
    eprintln!(
        "restored snapshot: data-dir {data_dir}, member {:x} of cluster {:x}, revision {}, {} history records, {} leases, {} users, {} roles",
        restored.member_id,
        restored.cluster_id,
        restored.imported.revision,
        restored.imported.key_records,
        restored.imported.leases,
        restored.imported.users,
        restored.imported.roles,
    );
    Ok(())
}

/// The database of the etcd data directory `dir`, refused while a running
/// member holds it.
fn etcd_db(dir: &Path) -> Result<PathBuf, CtlError> {
    let db = dir.join("member").join("snap").join("db");
    let f =
        std::fs::File::open(&db).map_err(|e| CtlError::error(format!("{}: {e}", db.display())))?;
    // A running member holds an exclusive lock on its database.
    if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_err() {
        return Err(CtlError::error(format!(
            "{}: the database is in use; stop the etcd member first",
            db.display()
        )));
    }
    Ok(db)
}
