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

/// Logs a failed round of a background worker, which tries again at its next round: a
/// warning when the database was only [busy](is_busy), an error otherwise.
pub fn round_failed(what: &str, e: &anyhow::Error) {
    if is_busy(e) {
        tracing::warn!("{what} failed, the database being busy; the next round tries again: {e:#}");
    } else {
        tracing::error!("{what} failed: {e:#}");
    }
}

/// Whether `e` comes of the database being busy or briefly out of reach: no connection came
/// free within the pool's wait (on SQLite one writer serves every role, and a long write such
/// as a large batch holds it), or the connection broke.
pub fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<hybridpost_store::StoreError>().is_some_and(|s| s.is_unavailable()))
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use hybridpost_store::StoreError;

    use super::is_busy;

    #[test]
    fn a_pool_wait_that_timed_out_is_busy_under_any_context_and_other_failures_are_not() {
        let timed_out: anyhow::Result<()> = Err(StoreError::Database(sqlx::Error::PoolTimedOut).into());
        let wrapped = timed_out.context("claiming a scan").context("scan grouping").unwrap_err();
        assert!(is_busy(&wrapped), "{wrapped:#}");
        let corrupt = anyhow::Error::from(StoreError::Corrupt("a timestamp".into())).context("claiming a scan");
        assert!(!is_busy(&corrupt), "{corrupt:#}");
        assert!(!is_busy(&anyhow::anyhow!("pool timed out (only the words)")));
    }
}
