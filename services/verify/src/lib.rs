//! The public verification service: what a citizen reaches by scanning a letter's seal.
//!
//! - `GET /V` (and `/v`): the verification page. Its script reads the seal from the URL
//!   fragment (which never reaches a server), checks the published trust list against the root
//!   keys the page carries, checks the seal's ES256 signature itself with WebCrypto, and only
//!   then asks this service for the letter's status. A form takes a reference typed by hand.
//! - `GET /.well-known/hybridpost/trust-list.json`: the signed trust list.
//! - `GET /v1/public/seals/{reference}`: a letter's public status: agency, issue date, status,
//!   withdrawal, reply deadline. Nothing personal.
//! - `POST /v1/public/seals/{reference}/copy`: with the PIN printed on the letter, its PDF.
//! - `POST /v1/public/seals/{reference}/opt-in`: with the PIN, an e-mail address to receive
//!   letters at; `GET /v/confirm?token=…` shows the link mailed there and its button confirms
//!   it; a confirmation letter goes by post and the change waits out a cooling-off period
//!   (see [`channel`]). `/v/keep-paper` takes the code printed on that letter, and
//!   `/v/paper/…` is every digital notice's way back to paper.
//!
//! No route needs an API key. Every route is rate limited per client address, and PIN attempts
//! are limited per letter and per client in the database, so the limit holds across nodes.
//! Responses carry a strict Content-Security-Policy (same-origin scripts and styles only),
//! `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.
//!
//! This service must never show or log a recipient's name, address, citizen id or e-mail
//! address, nor a PIN.
#![forbid(unsafe_code)]

pub mod channel;
mod client;
mod optin;
mod page;
mod pin;
mod seals;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::HeaderName;
use axum::{Extension, Router, middleware};
use hybridpost_keyring::Keyring;
use hybridpost_notify::Mailer;
use hybridpost_store::Store;
use hybridpost_store::letters::LetterRecord;
use hybridpost_web::json::BodyLimit;
use hybridpost_web::problem::Problem;
use hybridpost_web::rate_limit::RateLimiter;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use seals::{PublicAgency, PublicStatus, SealStatus, Withdrawal};

/// A future returned by a [`CopyRenderer`].
pub type RenderFuture =
    Pin<Box<dyn Future<Output = Result<Vec<u8>, hybridpost_web::problem::BoxError>> + Send + 'static>>;

/// Renders a letter's digital copy (its PDF). Rendering lives elsewhere; the service only hands
/// the copy to a citizen who gave the right PIN. An `Err` is shown as "not available".
pub type CopyRenderer = Arc<dyn Fn(LetterRecord) -> RenderFuture + Send + Sync>;

/// The current time; tests pass a clock they can move.
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(time::OffsetDateTime::now_utc)
}

/// Settings of the verification service.
#[derive(Clone, Debug)]
pub struct VerifyConfig {
    /// Base URL of this service as citizens reach it (`https://verify.example.go.th`), for the
    /// links in confirmation e-mails.
    pub public_url: String,
    /// Sender of confirmation e-mails (`ไปรษณีย์ไฮบริด <noreply@example.go.th>`).
    pub mail_from: String,
    /// Failed PIN attempts allowed on one letter within [`VerifyConfig::pin_window`].
    pub pin_failures_per_letter: u32,
    /// Failed PIN attempts allowed from one client address within the window.
    pub pin_failures_per_client: u32,
    /// The sliding window over which failed PIN attempts count.
    pub pin_window: Duration,
    /// How long an e-mail confirmation link works.
    pub optin_link_lifetime: Duration,
    /// E-mail opt-in requests one letter may make in 24 hours (each sends an e-mail).
    pub optin_requests_per_letter: u32,
    /// How long a confirmed change of channel waits before letters go by e-mail, while the
    /// confirmation letter travels to the postal address.
    pub channel_change_cooling_off: Duration,
    /// Sustained requests per second per client address; 0 turns the limit off.
    pub requests_per_second: u32,
    /// Burst of requests per client address above the sustained rate.
    pub request_burst: u32,
    /// Behind a reverse proxy: the header in which it passes the client's address
    /// (`x-forwarded-for`, `x-real-ip`); its last entry is used. Unset: the connection's address.
    pub client_ip_header: Option<HeaderName>,
}

impl VerifyConfig {
    /// The defaults: 5 failed PINs per letter and 20 per client per hour, 48-hour links,
    /// 10 requests per second per client with bursts of 60.
    pub fn new(public_url: impl Into<String>, mail_from: impl Into<String>) -> VerifyConfig {
        VerifyConfig {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            mail_from: mail_from.into(),
            pin_failures_per_letter: 5,
            pin_failures_per_client: 20,
            pin_window: Duration::from_secs(60 * 60),
            optin_link_lifetime: Duration::from_secs(48 * 60 * 60),
            optin_requests_per_letter: 3,
            channel_change_cooling_off: Duration::from_secs(14 * 24 * 60 * 60),
            requests_per_second: 10,
            request_burst: 60,
            client_ip_header: None,
        }
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct VerifyState {
    /// The database.
    pub store: Store,
    /// Root keys, the trust list, PIN checks and the service secret.
    pub keyring: Keyring,
    /// Sends confirmation e-mails.
    pub mailer: Mailer,
    /// Makes a letter's digital copy.
    pub renderer: CopyRenderer,
    /// Settings.
    pub config: Arc<VerifyConfig>,
    /// The current time.
    pub clock: Clock,
    pub(crate) limiter: RateLimiter,
}

impl fmt::Debug for VerifyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl VerifyState {
    /// The state of the service, on the system clock.
    pub fn new(
        store: Store,
        keyring: Keyring,
        mailer: Mailer,
        renderer: CopyRenderer,
        config: VerifyConfig,
    ) -> VerifyState {
        let limiter = RateLimiter::new(config.requests_per_second, config.request_burst);
        VerifyState { store, keyring, mailer, renderer, config: Arc::new(config), clock: system_clock(), limiter }
    }

    /// The same state on another clock.
    pub fn with_clock(mut self, clock: Clock) -> VerifyState {
        self.clock = clock;
        self
    }

    /// The current time.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        (self.clock)()
    }
}

impl FromRef<VerifyState> for Store {
    fn from_ref(state: &VerifyState) -> Store {
        state.store.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hybridpost public verification API",
        description = "What the verification page uses: the trust list, a letter's public status by the reference \
                       printed on it, its digital copy and e-mail opt-in with the letter's PIN. No API key; rate \
                       limited per client. Errors are RFC 9457 problem+json.",
        version = "1"
    ),
    components(schemas(Problem)),
    tags((name = "verification", description = "Public letter verification"))
)]
struct ApiDoc;

/// The JSON routes with their OpenAPI description, before state and layers.
pub fn api() -> OpenApiRouter<VerifyState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(seals::get_trust_list))
        .routes(routes!(seals::get_seal_status))
        .routes(routes!(seals::open_copy))
        .routes(routes!(optin::request_optin))
}

/// Largest body a public route accepts: a PIN and an e-mail address.
const MAX_BODY_BYTES: usize = 4 * 1024;

/// The service's routes (pages and JSON) with their state, limits and security headers (no
/// common layers), and the OpenAPI document of the JSON routes.
pub fn parts(state: VerifyState) -> (Router, utoipa::openapi::OpenApi) {
    let (json_routes, openapi) = api().split_for_parts();
    let router = json_routes
        .merge(page::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(BodyLimit(MAX_BODY_BYTES)))
        .layer(middleware::from_fn_with_state(state.clone(), client::limit_per_client))
        .layer(middleware::from_fn(client::security_headers))
        .with_state(state);
    (router, openapi)
}

/// The verification service as served alone: its routes, `/openapi.json`, health and metrics,
/// and the common layers.
pub fn router(state: VerifyState, timeout: Duration) -> Router {
    let store = state.store.clone();
    let (routes, openapi) = parts(state);
    hybridpost_web::layers::serve_app(routes, openapi, store, timeout)
}

/// Forgets PIN attempts older than a day (longer than any sensible window) and confirmation
/// links that expired a week ago; returns how many of each. Idempotent: every node may run it.
pub async fn forget_stale(
    store: &Store,
    now: time::OffsetDateTime,
) -> Result<(u64, u64), hybridpost_store::StoreError> {
    let attempts_cutoff = hybridpost_store::timestamp_text(now - time::Duration::days(1));
    let links_cutoff = hybridpost_store::timestamp_text(now - time::Duration::days(7));
    let mut tx = store.begin().await?;
    let attempts = hybridpost_store::verify::forget_pin_attempts_before(&mut tx, &attempts_cutoff).await?;
    let links = hybridpost_store::verify::forget_optin_tokens_before(&mut tx, &links_cutoff).await?;
    tx.commit().await?;
    Ok((attempts, links))
}

/// Serves `router` on `listener`, telling handlers each client's address (the per-client
/// limits need it), until `shutdown` completes; then finishes open requests.
pub async fn run(
    router: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    hybridpost_web::serve(router, listener, shutdown).await?;
    Ok(())
}
