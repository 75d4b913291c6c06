//! State snapshots: the whole state machine exported as one SST file per column
//! family, sent to members that fell behind the leader's log, and installed in
//! place of their state.
//!
//! A snapshot is taken from one RocksDB snapshot, so its data, applied index and
//! raft configuration agree. The member's own identity (`member_id`, `cluster_id`)
//! never travels: the receiver keeps its own.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use protobuf::Message as _;
use raft::prelude::{ConfState, Snapshot};
use rocksdb::{IngestExternalFileOptions, Options, SstFileWriter, WriteBatch};

use crate::engine::schema::{self, meta};
use crate::engine::{Cf, Engine};
use crate::raft::SnapshotSource;

/// Meta keys that describe this member rather than the replicated state.
const LOCAL_KEYS: [&[u8]; 3] = [meta::MEMBER_ID, meta::CLUSTER_ID, meta::INSTALLING];

fn u64_at(
    snap: &rocksdb::SnapshotWithThreadMode<'_, rocksdb::DB>,
    engine: &Engine,
    key: &[u8],
) -> u64 {
    snap.get_cf(engine.cf(Cf::Meta), key)
        .expect("reading meta from a snapshot")
        .map_or(0, |v| {
            u64::from_be_bytes(v.as_slice().try_into().expect("meta u64"))
        })
}

/// A snapshot exported to a directory, ready to send.
#[derive(Clone, Debug)]
pub struct Exported {
    /// Applied index the data is at.
    pub index: u64,
    /// Term of that entry.
    pub term: u64,
    /// Raft configuration at that index.
    pub conf_state: ConfState,
    /// Directory holding `<cf>.sst` files.
    pub dir: PathBuf,
}

/// Exports the current state into `dir` (created, replaced if present).
pub fn export(engine: &Engine, dir: &Path) -> Result<Exported, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let snap = engine.db().snapshot();
    let index = u64_at(&snap, engine, meta::APPLIED_INDEX);
    let term = u64_at(&snap, engine, meta::APPLIED_TERM);
    let mut conf_state = ConfState::default();
    if let Some(raw) = snap
        .get_cf(engine.cf(Cf::Meta), meta::CONF_STATE)
        .map_err(|e| e.to_string())?
    {
        conf_state
            .merge_from_bytes(&raw)
            .map_err(|e| format!("stored configuration: {e}"))?;
    }
    for cf in schema::ALL {
        let path = dir.join(format!("{}.sst", cf.name()));
        let opts = Options::default();
        let mut w = SstFileWriter::create(&opts);
        w.open(&path).map_err(|e| e.to_string())?;
        let mut it = snap.raw_iterator_cf(engine.cf(cf));
        it.seek_to_first();
        let mut n = 0;
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            if !(cf == Cf::Meta && LOCAL_KEYS.contains(&k)) {
                w.put(k, it.value().expect("valid iterator has a value"))
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
            it.next();
        }
        it.status().map_err(|e| e.to_string())?;
        if n > 0 {
            w.finish().map_err(|e| e.to_string())?;
        } else {
            drop(w);
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(Exported {
        index,
        term,
        conf_state,
        dir: dir.to_path_buf(),
    })
}

/// Replaces the state machine's contents with the snapshot in `dir`, keeping this
/// member's identity. The ingested files are durable once this returns.
///
/// Crash-safe: the old state is deleted together with an `installing` marker naming
/// `dir`, the files are copied in (so `dir` stays whole), and only then is the marker
/// removed. A member stopped in between finds the marker on restart and runs the
/// install again from `dir` ([`resume_install`]).
pub fn install(engine: &Engine, dir: &Path) -> Result<(), String> {
    let db = engine.db();
    let mut batch = WriteBatch::default();
    for cf in schema::ALL {
        let mut it = db.raw_iterator_cf(engine.cf(cf));
        it.seek_to_first();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            if !(cf == Cf::Meta && LOCAL_KEYS.contains(&k)) {
                batch.delete_cf(engine.cf(cf), k);
            }
            it.next();
        }
    }
    let path = dir.to_str().ok_or("snapshot directory is not UTF-8")?;
    batch.put_cf(engine.cf(Cf::Meta), meta::INSTALLING, path.as_bytes());
    engine.write(batch).map_err(|e| e.to_string())?;
    engine.flush().map_err(|e| e.to_string())?;
    fail::fail_point!("snapshot_install_midway");
    for cf in schema::ALL {
        let path = dir.join(format!("{}.sst", cf.name()));
        if !path.exists() {
            continue;
        }
        let mut opts = IngestExternalFileOptions::default();
        opts.set_move_files(false);
        db.ingest_external_file_cf_opts(engine.cf(cf), &opts, vec![path])
            .map_err(|e| format!("ingesting {} snapshot: {e}", cf.name()))?;
    }
    let mut done = WriteBatch::default();
    done.delete_cf(engine.cf(Cf::Meta), meta::INSTALLING);
    engine.write(done).map_err(|e| e.to_string())?;
    engine.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// Finishes a snapshot install that was interrupted (see [`install`]); does nothing if
/// none was. Returns the directory installed from, if any.
pub fn resume_install(engine: &Engine) -> Result<Option<PathBuf>, String> {
    let Some(raw) = engine
        .get(Cf::Meta, meta::INSTALLING)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let dir = PathBuf::from(String::from_utf8_lossy(&raw).into_owned());
    if !dir.is_dir() {
        return Err(format!(
            "an interrupted snapshot install needs {}, which is gone",
            dir.display()
        ));
    }
    install(engine, &dir)?;
    Ok(Some(dir))
}

/// Prepares snapshots for raft in the background: the first request starts an
/// export and is answered "temporarily unavailable"; later requests get the export
/// once it is ready and recent enough.
pub struct Exporter {
    engine: Engine,
    dir: PathBuf,
    state: Mutex<ExportState>,
}

#[derive(Default)]
struct ExportState {
    ready: Option<Exported>,
    running: bool,
    exports: u64,
}

impl Exporter {
    /// An exporter writing under `dir`.
    pub fn new(engine: Engine, dir: PathBuf) -> Arc<Exporter> {
        Arc::new(Exporter {
            engine,
            dir,
            state: Mutex::new(ExportState::default()),
        })
    }
}

/// Whether `id` is a member (voter or learner, either side of a joint configuration)
/// of `cs`.
fn includes(cs: &ConfState, id: u64) -> bool {
    [
        cs.get_voters(),
        cs.get_learners(),
        cs.get_voters_outgoing(),
        cs.get_learners_next(),
    ]
    .iter()
    .any(|ids| ids.contains(&id))
}

impl SnapshotSource for Arc<Exporter> {
    fn snapshot(&self, request_index: u64, to: u64) -> Option<Snapshot> {
        let mut st = self.state.lock().expect("exporter lock");
        if let Some(e) = &st.ready {
            // An export from before `to` was added would be refused by `to`: a member
            // just added (empty, so in need of a snapshot) needs a newer one.
            if e.index >= request_index && e.index > 0 && includes(&e.conf_state, to) {
                let mut s = Snapshot::default();
                let md = s.mut_metadata();
                md.index = e.index;
                md.term = e.term;
                md.set_conf_state(e.conf_state.clone());
                s.data = e.dir.to_string_lossy().as_bytes().to_vec().into();
                return Some(s);
            }
        }
        if !st.running {
            st.running = true;
            st.exports += 1;
            let dir = self.dir.join(format!("out-{}", st.exports));
            let me = self.clone();
            std::thread::Builder::new()
                .name("snapshot-export".into())
                .spawn(move || {
                    let res = export(&me.engine, &dir);
                    let mut st = me.state.lock().expect("exporter lock");
                    st.running = false;
                    match res {
                        Ok(e) => {
                            tracing::info!(index = e.index, "exported a state snapshot");
                            if let Some(old) = st.ready.replace(e) {
                                // A send still streaming the old export fails and is retried.
                                let _ = std::fs::remove_dir_all(old.dir);
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "exporting a state snapshot failed")
                        }
                    }
                })
                .expect("spawning the snapshot exporter");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn set_state(engine: &Engine, index: u64, voters: Vec<u64>) {
        let mut cs = ConfState::default();
        cs.set_voters(voters);
        let mut batch = WriteBatch::default();
        let meta_cf = engine.cf(Cf::Meta);
        batch.put_cf(meta_cf, meta::APPLIED_INDEX, index.to_be_bytes());
        batch.put_cf(meta_cf, meta::APPLIED_TERM, 2u64.to_be_bytes());
        batch.put_cf(
            meta_cf,
            meta::CONF_STATE,
            cs.write_to_bytes().expect("encoding a ConfState"),
        );
        engine.write(batch).unwrap();
    }

    /// Asks until the background export answers, for up to 10 s.
    fn wait_for(exporter: &Arc<Exporter>, min: u64, to: u64) -> Snapshot {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = exporter.snapshot(min, to) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no snapshot for {to} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn meta_u64(engine: &Engine, key: &[u8]) -> Option<u64> {
        engine
            .get(Cf::Meta, key)
            .unwrap()
            .map(|v| u64::from_be_bytes(v.as_slice().try_into().unwrap()))
    }

    #[test]
    fn an_install_interrupted_midway_is_finished_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        // The leader's state at index 9, exported.
        let leader = Engine::open(&dir.path().join("leader")).unwrap();
        set_state(&leader, 9, vec![1, 2, 3]);
        let exported = export(&leader, &dir.path().join("export")).unwrap();
        // A member with its identity and older state, stopped right after the old state
        // was deleted together with the marker (the first durable step of `install`).
        let member = Engine::open(&dir.path().join("member")).unwrap();
        set_state(&member, 4, vec![1, 2]);
        let mut batch = WriteBatch::default();
        batch.put_cf(member.cf(Cf::Meta), meta::MEMBER_ID, 3u64.to_be_bytes());
        member.write(batch).unwrap();
        let mut crashed = WriteBatch::default();
        for key in [meta::APPLIED_INDEX, meta::APPLIED_TERM, meta::CONF_STATE] {
            crashed.delete_cf(member.cf(Cf::Meta), key);
        }
        let marker = exported.dir.to_str().unwrap().as_bytes();
        crashed.put_cf(member.cf(Cf::Meta), meta::INSTALLING, marker);
        member.write(crashed).unwrap();

        let resumed = resume_install(&member).unwrap();
        assert_eq!(resumed.as_deref(), Some(exported.dir.as_path()));
        assert_eq!(meta_u64(&member, meta::APPLIED_INDEX), Some(9));
        assert_eq!(meta_u64(&member, meta::MEMBER_ID), Some(3), "identity kept");
        assert!(member.get(Cf::Meta, meta::CONF_STATE).unwrap().is_some());
        assert!(member.get(Cf::Meta, meta::INSTALLING).unwrap().is_none());
        // The files were copied, not moved: a second interruption could redo it again.
        assert!(exported.dir.join("meta.sst").is_file());
        assert_eq!(
            resume_install(&member).unwrap(),
            None,
            "nothing left to finish"
        );
    }

    #[test]
    fn a_member_added_after_an_export_gets_a_newer_one_that_includes_it() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(&dir.path().join("db")).unwrap();
        set_state(&engine, 5, vec![1, 2]);
        let exporter = Exporter::new(engine.clone(), dir.path().join("snap"));
        let first = wait_for(&exporter, 1, 2);
        assert_eq!(first.get_metadata().index, 5);
        // Member 3 joins at index 6; the ready export (index 5) leaves it out, so it would
        // refuse it: a new export is made instead of handing out the old one.
        set_state(&engine, 6, vec![1, 2, 3]);
        let for_new = wait_for(&exporter, 1, 3);
        assert_eq!(for_new.get_metadata().index, 6);
        assert!(for_new.get_metadata().get_conf_state().voters.contains(&3));
        // Members already in the old configuration can use the newest export too.
        assert_eq!(wait_for(&exporter, 1, 2).get_metadata().index, 6);
    }
}
