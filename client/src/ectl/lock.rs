//! `ectl lock`: acquires a named lock, then either prints its key and holds
//! it until interrupted, or runs a command while holding it.

use std::ffi::OsString;

use ectd_client::LeasedMutex;

use super::args::LockArgs;
use super::exit::CtlError;
use super::output::GetView;
use super::signals::Interrupts;
use super::{exec, os_bytes, os_string, print_now, Context};

/// Runs `lock`. The lock lives on a lease of `--ttl` seconds that is kept
/// alive meanwhile. Without a command the lock's key is printed (as `get`
/// prints it) and held until SIGINT or SIGTERM, or until the lease is lost
/// (an error). With a command, that runs with the lock's key and revision
/// in `ETCD_LOCK_KEY` and `ETCD_LOCK_REV`; its failure is ectl's failure,
/// reported with Go's wording (`exit status 3`) and status 1, as etcdctl
/// does. Either way the lock is released and its lease revoked at the end
/// (etcdctl leaves the lease to expire).
pub async fn run(ctx: &Context<'_>, args: &LockArgs) -> Result<(), CtlError> {
    let Some((name, command)) = args.args.split_first() else {
        return Err(CtlError::bad_args(
            "lock takes a lock name argument and an optional command to execute",
        ));
    };
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let mut interrupts = Interrupts::catch()?;
    let mutex = LeasedMutex::new(&client, os_bytes(name), args.ttl);
    let mut held = tokio::select! {
        held = mutex.lock() => held?,
        () = interrupts.recv() => return Err(CtlError::error("context canceled")),
    };

    if !command.is_empty() {
        let revision = held.header().map_or(0, |h| h.revision);
        let env = lock_environment(held.key(), revision, |name| {
            std::env::var_os(name).is_some()
        });
        let ran = exec::run(command, &env).await;
        let released = held.release().await;
        ran.map_err(CtlError::error)?;
        return Ok(released?);
    }

    let resp = client.get(held.key().to_vec()).await?;
    if resp.kvs.is_empty() {
        return Err(CtlError::error("lock lost on init"));
    }
    let mut chunk = Vec::new();
    printer.get(&mut chunk, &resp, GetView::default())?;
    print_now(&chunk)?;
    tokio::select! {
        () = interrupts.recv() => Ok(held.release().await?),
        _ = held.lost() => Err(CtlError::error("session expired")),
    }
}

/// `ETCD_LOCK_KEY` and `ETCD_LOCK_REV` for the command, except those
/// already in ectl's environment (`is_set`): etcdctl puts its own values
/// first, and Go lets a later duplicate win.
fn lock_environment(
    key: &[u8],
    revision: i64,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(OsString, OsString)> {
    [
        ("ETCD_LOCK_KEY", os_string(key.to_vec())),
        ("ETCD_LOCK_REV", OsString::from(revision.to_string())),
    ]
    .into_iter()
    .filter(|(name, _)| !is_set(name))
    .map(|(name, value)| (OsString::from(name), value))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_does_not_override() {
        let env = lock_environment(b"l/694d", 15, |_| false);
        assert_eq!(
            env,
            vec![
                (OsString::from("ETCD_LOCK_KEY"), OsString::from("l/694d")),
                (OsString::from("ETCD_LOCK_REV"), OsString::from("15")),
            ]
        );
        let env = lock_environment(b"l/694d", 15, |name| name == "ETCD_LOCK_KEY");
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].0, "ETCD_LOCK_REV");
    }
}
