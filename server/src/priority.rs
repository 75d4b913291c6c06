//! Background work that must not slow requests down runs on threads of lower
//! CPU priority: on a busy member the background work waits, not the requests.

/// The nice value of background threads (requests and apply run at 0).
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`BACKGROUND_NICE`]; a failure
/// only means the work competes with requests on equal terms.
pub fn lower_this_thread() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
        tracing::debug!(error = %e, "could not lower a background thread's priority");
    }
}
