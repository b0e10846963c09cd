//! The notifier: delivers the notification outbox and serves digital letters' secure links.
//!
//! - **Delivery**: workers claim due rows of the outbox (`hybridpost_store::outbox`) under a
//!   lease, send each e-mail through the [`Mailer`] (SMTP, or `.eml` files when no server is
//!   configured) and each webhook signed per Standard Webhooks, record every attempt, and retry
//!   transient failures with exponential backoff and jitter until the give-up time. A final
//!   failure writes a `notification_failed` event on the letter saying whose fault it was and
//!   whether a retry could help.
//! - **Digital letters**: the notice carries a link `/d/{token}`; the token is an HMAC of the
//!   notification id under the service secret's link-token key, so a resent notice carries the
//!   same link and no token is ever stored (the database holds its SHA-256). Handing the notice
//!   to the mail server moves the letter to `notified`; the first opening records `opened`. A
//!   notice refused permanently, or a letter not opened in time, falls back to paper.
//! - **Digests**: an agency with failed notifications gets at most one `failure_digest` e-mail a
//!   day listing them.
//!
//! It must not put a letter's content into an e-mail: notices carry the link only.
#![forbid(unsafe_code)]

mod checks;
mod deliver;
pub mod links;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hybridpost_compose::Composer;
use hybridpost_notify::{Mailer, WebhookClient};
use hybridpost_seal::ServiceSecret;
use hybridpost_store::Store;

pub use checks::{fall_back_unopened, send_failure_digests};
pub use deliver::{StepReport, backoff_delay, drain, run_step};
pub use links::{link_token, token_hash};

/// Settings of the notifier.
#[derive(Clone, Debug)]
pub struct NotifierConfig {
    /// Base of links in e-mails (`https://post.example.go.th`).
    pub public_url: String,
    /// The sender of every e-mail, e.g. `ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>`; its domain
    /// is the Message-ID's.
    pub mail_from: String,
    /// Deliveries in flight at once (match the SMTP connection limit).
    pub concurrency: usize,
    /// Rows one worker claims at a time.
    pub claim_batch: i64,
    /// How long a claim lasts; a row whose worker died is delivered again after it.
    pub lease: Duration,
    /// First retry delay; doubled on every attempt, with jitter.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// After this long since it was queued, a transient failure is final.
    pub give_up_after: Duration,
    /// How long a digital letter's link works.
    pub link_ttl: Duration,
    /// A digital letter not opened this long after its notice falls back to paper.
    pub open_timeout: Duration,
    /// Shortest time between two failure digests to one agency.
    pub digest_interval: Duration,
    /// How long an idle worker waits before looking for due rows again.
    pub poll_interval: Duration,
    /// Time between runs of the paper-fallback and digest checks.
    pub check_interval: Duration,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            public_url: "http://127.0.0.1:8080".into(),
            mail_from: "hybridpost <noreply@hybridpost.invalid>".into(),
            concurrency: 8,
            claim_batch: 4,
            lease: Duration::from_secs(300),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(48 * 3600),
            link_ttl: Duration::from_secs(30 * 24 * 3600),
            open_timeout: Duration::from_secs(7 * 24 * 3600),
            digest_interval: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_millis(500),
            check_interval: Duration::from_secs(60),
        }
    }
}

/// Everything the workers and the link pages share.
#[derive(Clone, Debug)]
pub struct NotifierState {
    /// The database.
    pub store: Store,
    /// Sends e-mail.
    pub mailer: Mailer,
    /// Sends webhooks.
    pub webhooks: WebhookClient,
    /// Derives link tokens and unwraps webhook secrets.
    pub secret: ServiceSecret,
    /// Lays out the PDF behind a link.
    pub composer: Composer,
    /// Where agencies' own PDFs are (for letters that are one).
    pub blobs: hybridpost_store::BlobStore,
    /// Settings.
    pub config: Arc<NotifierConfig>,
}

/// The `/d/…` pages with their state; no OpenAPI document (they are for citizens' browsers).
pub fn parts(state: NotifierState) -> (Router, utoipa::openapi::OpenApi) {
    let openapi = utoipa::openapi::OpenApiBuilder::new()
        .info(utoipa::openapi::InfoBuilder::new().title("hybridpost notifier").version("1").build())
        .build();
    (links::router().with_state(state), openapi)
}

/// Runs the delivery workers and the periodic checks until the task is dropped.
pub async fn run_workers(state: NotifierState) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..state.config.concurrency.max(1) {
        let state = state.clone();
        tasks.spawn(async move {
            while !hybridpost_web::drain::is_draining() {
                match run_step(&state).await {
                    Ok(report) if report.claimed > 0 => continue,
                    Ok(_) => {}
                    Err(e) => hybridpost_web::drain::round_failed("delivering notifications", &e),
                }
                if !hybridpost_web::drain::pause(state.config.poll_interval).await {
                    break;
                }
            }
        });
    }
    let checks = state.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(checks.config.check_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while hybridpost_web::drain::tick(&mut tick).await {
            if let Err(e) = fall_back_unopened(&checks).await {
                hybridpost_web::drain::round_failed("paper fallback of unopened letters", &e);
            }
            if let Err(e) = send_failure_digests(&checks).await {
                hybridpost_web::drain::round_failed("queuing failure digests", &e);
            }
        }
    });
    while tasks.join_next().await.is_some() {}
}

/// The current time as stored, plus `d`.
pub(crate) fn stored_time_after(d: Duration) -> String {
    hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() + d)
}
