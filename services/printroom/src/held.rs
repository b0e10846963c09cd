//! Letters that cannot move on by themselves: the periodic check that reports letters no site
//! serves and letters waiting too long, and the gauge of held letters by reason.
//!
//! Letters whose render failed are reported when their batch is rendered
//! ([`hybridpost_store::print::finish_render`]); this check counts them with the rest.

use hybridpost_core::{HoldReason, LetterId};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::{held, timestamp_text};

use crate::PrintroomState;

/// Most overdue letters reported in one check: a large backlog is reported over a few checks
/// rather than in one long transaction.
const OVERDUE_PER_CHECK: i64 = 1000;

/// What one check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeldCheck {
    /// Letters newly reported `unroutable`.
    pub unroutable: Vec<LetterId>,
    /// Letters a site now serves, whose `unroutable` alarm was cleared.
    pub rerouted: Vec<LetterId>,
    /// Letters newly reported `print_overdue`.
    pub overdue: Vec<LetterId>,
    /// Letters waiting for print with a standing alarm, per reason (the gauge's values).
    pub held: Vec<(HoldReason, i64)>,
}

/// Reports letters no site serves and letters waiting longer than the alarm age (each once),
/// clears the alarm of letters a site now serves, and sets `hybridpost_letters_held{reason}`.
pub async fn check_held_letters(state: &PrintroomState) -> anyhow::Result<HeldCheck> {
    let now = time::OffsetDateTime::now_utc();
    let now_text = timestamp_text(now);
    let mut tx = state.store.begin().await?;
    let rerouted = held::reroute(&mut tx, &now_text).await?;
    let unroutable = held::find_unroutable(&mut tx, &now_text).await?;
    queue_event_webhooks(&mut tx, &unroutable.events).await?;
    let unroutable = unroutable.value;
    let overdue = match state.config.alarm_after {
        Some(after) => {
            let cutoff = timestamp_text(now - after);
            let overdue =
                held::find_overdue(&mut tx, &cutoff, after.as_secs() / 3600, OVERDUE_PER_CHECK, &now_text).await?;
            queue_event_webhooks(&mut tx, &overdue.events).await?;
            overdue.value
        }
        None => Vec::new(),
    };
    tx.commit().await?;
    let held = {
        let mut conn = state.store.read().await?;
        held::count_stuck(&mut conn).await?
    };
    for (reason, n) in &held {
        metrics::gauge!("hybridpost_letters_held", "reason" => reason.as_str()).set(*n as f64);
    }
    if !unroutable.is_empty() {
        tracing::warn!(
            letters = unroutable.len(),
            "{} letter(s) wait for a postcode no print site serves",
            unroutable.len()
        );
    }
    if !overdue.is_empty() {
        tracing::warn!(
            letters = overdue.len(),
            "{} letter(s) waited for print longer than the alarm age",
            overdue.len()
        );
    }
    if !rerouted.is_empty() {
        tracing::info!(letters = rerouted.len(), "{} unroutable letter(s) now have a print site", rerouted.len());
    }
    Ok(HeldCheck { unroutable, rerouted, overdue, held })
}
