//! Running a command-line tool such as etcdctl with a deadline.

use std::io::Read;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::time::Duration;

/// How long one etcdctl run may take.
pub const CTL_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for `child`, spawned with stdout and stderr piped, and returns its exit
/// status, stdout and stderr. If it does not finish within `timeout` it is killed
/// with `kill -9` and the test panics, naming the run as `what`.
pub fn wait_output(
    mut child: Child,
    timeout: Duration,
    what: &str,
) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let pid = child.id();
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // stderr is drained on its own thread so that neither pipe can fill up and
        // block the tool while the other is being read.
        let err_reader = std::thread::spawn(move || {
            let mut err = Vec::new();
            let _ = err_pipe.read_to_end(&mut err);
            err
        });
        let mut out = Vec::new();
        let _ = out_pipe.read_to_end(&mut out);
        let err = err_reader.join().unwrap_or_default();
        let status = child.wait().expect("waiting for etcdctl");
        let _ = tx.send((status, out, err));
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{what} did not finish within {timeout:?}");
        }
    }
}
