//! Stopping a node without losing work. On SIGTERM the process starts *draining*: `/readyz`
//! answers 503 at once (a load balancer stops sending it requests), the workers of every role
//! finish the item in hand and claim nothing new, open requests are finished, and only then does
//! the process exit. Whatever a node still held when it was killed outright is a lease that
//! another node takes over when it expires.
//!
//! Draining is per process: the one signal a node gets is for all of its roles.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;

fn state() -> &'static watch::Sender<bool> {
    static STATE: OnceLock<watch::Sender<bool>> = OnceLock::new();
    STATE.get_or_init(|| watch::channel(false).0)
}

/// Starts draining this process (once; later calls change nothing).
pub fn begin() {
    state().send_replace(true);
}

/// True once draining has started: claim no new work.
pub fn is_draining() -> bool {
    *state().borrow()
}

/// Completes when draining starts (at once if it has).
pub async fn started() {
    let mut changes = state().subscribe();
    // The sender lives in a static, so the channel never closes.
    let _ = changes.wait_for(|draining| *draining).await;
}

/// Waits for `wait` unless draining starts first (or has): true to go on, false when the worker
/// should return.
async fn unless_draining(wait: impl std::future::Future) -> bool {
    tokio::select! {
        biased;
        () = started() => false,
        _ = wait => true,
    }
}

/// Waits `pause` between rounds of a worker: true to go on, false when draining has started
/// (before or during the pause), when the worker should return.
pub async fn pause(pause: Duration) -> bool {
    unless_draining(tokio::time::sleep(pause)).await
}

/// Waits for the interval's next tick: true to go on, false when draining has started.
pub async fn tick(interval: &mut tokio::time::Interval) -> bool {
    unless_draining(interval.tick()).await
}
