//! The consoles: web pages for people who are not developers — post-office staff first, agency
//! staff next — served by the same binary under `/console/`.
//!
//! This crate owns:
//! - people's sign-in: passwords (argon2id), one-time setup links, throttling per account and
//!   per client address, sessions stored in the database (so they work, and end, on every node);
//! - the guards every page wears: a session cookie `HttpOnly`, `SameSite=Strict` and `Secure`
//!   when served over https; a CSRF check on every form (the request's `Origin` must be the
//!   service's own, and the form must carry the session's token); a strict CSP; no caching;
//! - the audit log of what people do, and the pages, server-rendered from `templates/console/`,
//!   Thai first with English.
//!
//! Templates are minijinja, as the e-mails are: one template language for everything people
//! read, with strict undefined variables and a test that renders every page, so a misspelt
//! name fails the build's tests rather than showing an empty field. Compile-time checking
//! (askama) was weighed against that: it would add a second template language and a proc macro
//! to every build, for checks the page tests already make.
//!
//! It must not hold a second copy of any rule: console actions call the same store functions and
//! status machine as the API, and a person sees only their own site's or agency's data.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![expect(
    clippy::result_large_err,
    reason = "a handler's early return is the page to show; boxing every one would add noise, not speed"
)]

mod account;
mod answers_review;
mod batches;
mod letters;
mod merge;
mod oidc;
mod pages;
mod password;
pub mod people;
mod replies;
mod returns;
mod review;
mod scans;
mod second_step;
mod send_one;
mod session;
mod settings;
mod sheet;
mod signin;
mod staff;
mod thai_messages;
mod today;
mod usage;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hybridpost_store::Store;

pub use oidc::OidcConfig;
pub use pages::Lang;
pub use session::SignedIn;

/// How the consoles behave.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// The service's public URL (`https://…` makes cookies `Secure`); forms must come from its
    /// origin.
    pub public_url: String,
    /// A session ends after this long without use.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub absolute_timeout: Duration,
    /// Failed sign-ins to one account within [`ConsoleConfig::throttle_window`] before it is
    /// refused for the rest of the window.
    pub max_failures_per_account: i64,
    /// Failed sign-ins from one client address within the window before it is refused.
    pub max_failures_per_address: i64,
    /// The window failed sign-ins are counted in.
    pub throttle_window: Duration,
    /// How long a setup link works.
    pub setup_link_ttl: Duration,
    /// The header carrying the client address behind a proxy, if any.
    pub client_ip_header: Option<HeaderName>,
    /// Sign-in through an OpenID Connect provider, when one is set up.
    pub oidc: Option<OidcConfig>,
    /// Webhooks registered in Settings may go to private addresses (as the agency API's
    /// setting of the same name).
    pub webhook_allow_private_targets: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            public_url: "http://127.0.0.1:8080".into(),
            idle_timeout: Duration::from_secs(60 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            max_failures_per_account: 5,
            max_failures_per_address: 30,
            throttle_window: Duration::from_secs(15 * 60),
            setup_link_ttl: Duration::from_secs(72 * 60 * 60),
            client_ip_header: None,
            oidc: None,
            webhook_allow_private_targets: false,
        }
    }
}

impl ConsoleConfig {
    /// Whether the service is served over https (cookies are then `Secure`).
    pub fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The scheme and host of the public URL, as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        let rest = self.public_url.find("://").map_or(0, |i| i + 3);
        match self.public_url[rest..].find('/') {
            Some(i) => &self.public_url[..rest + i],
            None => &self.public_url,
        }
    }
}

/// What the console's handlers share.
#[derive(Clone, Debug)]
pub struct ConsoleState {
    /// The store.
    pub store: Store,
    /// Settings.
    pub config: Arc<ConsoleConfig>,
    /// The print room: its batches' steps and files, shared with the operator API.
    pub print: hybridpost_printroom::PrintroomState,
    /// Scan intake: uploads, pages and the review queue, shared with the operator API.
    pub intake: hybridpost_intake::IntakeState,
    /// Letters' proofs, as they will print.
    pub composer: hybridpost_compose::Composer,
    /// The OpenID provider people may sign in through, when one is set up.
    oidc: Option<Arc<oidc::Provider>>,
}

impl ConsoleState {
    /// The console's state over the print room's and scan intake's; fails when the OpenID
    /// provider's settings cannot work (a malformed URL).
    pub fn new(
        store: Store,
        config: ConsoleConfig,
        print: hybridpost_printroom::PrintroomState,
        intake: hybridpost_intake::IntakeState,
        composer: hybridpost_compose::Composer,
    ) -> anyhow::Result<Self> {
        let oidc = match &config.oidc {
            Some(settings) => Some(Arc::new(oidc::Provider::new(settings, &config.public_url)?)),
            None => None,
        };
        Ok(ConsoleState { store, config: Arc::new(config), print, intake, composer, oidc })
    }
}

/// Every console route, with the console's headers and CSRF origin check.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/today") }))
        .route("/console/", get(|| async { Redirect::to("/console/today") }))
        .route("/console/sign-in", get(signin::sign_in_page).post(signin::sign_in))
        .route("/console/sign-in/code", post(second_step::sign_in_code))
        .route("/console/sign-in/oidc", get(oidc::start))
        .route("/console/oidc/callback", get(oidc::callback))
        .route("/console/sign-out", post(signin::sign_out))
        .route("/console/account", get(account::account_page))
        .route("/console/account/authenticator.svg", get(account::authenticator_qr))
        .route("/console/account/authenticator/{step}", post(account::authenticator))
        .route("/console/setup/{code}", get(signin::setup_page).post(signin::set_password))
        .route("/console/lang/{lang}", get(pages::choose_lang))
        .route("/console/today", get(today::today_page))
        .route("/console/batches", get(batches::list_page))
        .route("/console/batches/close", post(batches::close_now))
        .route("/console/batches/{batch_id}", get(batches::detail_page))
        .route("/console/batches/{batch_id}/pdf", get(batches::pdf))
        .route("/console/batches/{batch_id}/manifest.csv", get(batches::manifest))
        .route("/console/batches/{batch_id}/reprint", post(batches::reprint))
        .route("/console/batches/{batch_id}/printed", post(batches::mark_printed))
        .route("/console/batches/{batch_id}/dispatch", get(batches::dispatch_page).post(batches::dispatch))
        // An upload waits on its client only while it sends nothing, as the scan API's does.
        .route(
            "/console/scans",
            get(scans::scans_page).post(scans::upload).layer(middleware::from_fn_with_state(
                state.intake.config.upload_idle_timeout,
                hybridpost_web::layers::idle_body_timeout,
            )),
        )
        .route("/console/scans/{scan_id}", get(scans::scan_page))
        .route("/console/pages/{page_id}/thumbnail", get(scans::thumbnail))
        .route("/console/pages/{page_id}/image", get(scans::image))
        .route("/console/review", get(review::next_page))
        .route("/console/review/answers", get(answers_review::next_answer))
        .route("/console/review/answers/{reply_id}", get(answers_review::answer).post(answers_review::decide))
        .route("/console/review/{page_id}", get(review::page))
        .route("/console/review/{page_id}/assign", post(review::assign))
        .route("/console/review/{page_id}/discard", post(review::discard))
        .route("/console/letters", get(letters::list_page))
        .route("/console/letters/{letter_id}", get(letters::letter_page))
        .route("/console/letters/{letter_id}/proof.pdf", get(letters::proof))
        .route("/console/letters/{letter_id}/{step}", post(letters::step))
        .route("/console/send-one", get(send_one::form_page).post(send_one::submit))
        .route("/console/send-one/proof", post(send_one::proof))
        .route("/console/send-one/document", post(send_one::attach_pdf))
        .route("/console/postcodes/{code}", get(send_one::postcode_places))
        .route("/console/send-many", get(merge::send_many_page).post(merge::upload))
        .route("/console/send-many/drafts/{draft_id}", get(merge::draft_page).post(merge::save_choices))
        .route("/console/send-many/drafts/{draft_id}/file", post(merge::replace_file))
        .route("/console/send-many/drafts/{draft_id}/rows/{row}/preview.pdf", get(merge::preview))
        .route("/console/send-many/drafts/{draft_id}/preview", get(merge::preview_row))
        .route("/console/send-many/drafts/{draft_id}/problems.csv", get(merge::problems_csv))
        .route("/console/send-many/drafts/{draft_id}/send", post(merge::send))
        .route("/console/send-many/{batch_id}", get(merge::batch_page))
        .route("/console/send-many/{batch_id}/result.csv", get(merge::result_csv))
        .route("/console/send-many/{batch_id}/cancel", post(merge::cancel_batch))
        .route("/console/replies", get(replies::inbox_page))
        .route("/console/replies/{reply_id}/pdf", get(letters::reply_pdf))
        .route("/console/replies/{reply_id}/handled", post(replies::mark_handled))
        .route("/console/settings", get(settings::settings_page))
        .route("/console/settings/contact", post(settings::set_contact))
        .route("/console/settings/prices", post(settings::set_prices))
        .route("/console/usage", get(usage::usage_page))
        .route("/console/usage.csv", get(usage::usage_csv))
        .route("/console/settings/keys", post(settings::create_key))
        .route("/console/settings/keys/{key_id}/revoke", post(settings::revoke_key))
        .route("/console/settings/webhooks", get(webhooks::webhooks_page).post(webhooks::create))
        .route("/console/settings/webhooks/{endpoint_id}/{action}", post(webhooks::act))
        .route("/console/returns", get(returns::returns_page))
        .route("/console/returns.csv", get(returns::returns_csv))
        .route("/console/people", get(staff::people_page).post(staff::add_person))
        .route("/console/people/{person_id}/reset", post(staff::reset))
        .route("/console/people/{person_id}/{change}", post(staff::disable))
        .route("/console/audit", get(staff::audit_page))
        .route("/console/static/{file}", get(pages::asset))
        .route("/console/{*rest}", get(|| async { pages::not_found() }))
        // Scans are uploaded through the console too: the same limit as the scan API's.
        .layer(axum::extract::DefaultBodyLimit::max(state.intake.config.max_upload_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), same_origin_forms))
        .layer(middleware::from_fn(console_headers))
        .with_state(state)
}

/// Only this origin may post a console form: a request that changes anything must carry an
/// `Origin` (or, failing that, a `Referer`) naming the service's own origin, or it is refused
/// before any handler runs. The form token is checked by each handler against the session.
async fn same_origin_forms(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let expected = state.config.origin();
    let headers = req.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let same = match (origin, referer) {
        (Some(o), _) => o == expected,
        (None, Some(r)) => r == expected || r.starts_with(&format!("{expected}/")),
        (None, None) => false,
    };
    if !same {
        tracing::warn!(origin = origin.unwrap_or(""), "console form refused: it did not come from {expected}");
        return pages::refused(StatusCode::FORBIDDEN, pages::Lang::Thai);
    }
    next.run(req).await
}

/// The page may load scripts, styles, fonts and images only from this origin, may not be
/// framed, and posts forms only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     font-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

async fn console_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/console/static/");
    let mut response = next.run(req).await;
    // Pages for people: the common layers keep their bodies rather than writing problem+json.
    response.extensions_mut().insert(hybridpost_web::problem::PageForPeople);
    let headers = response.headers_mut();
    // A PDF the console's own pages frame sets its own policy (see `letters::framed_pdf`).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The signed-in person as the page header shows them.
pub(crate) fn me_context(me: &SignedIn) -> serde_json::Value {
    let role = if me.lang == Lang::Thai { me.person.role.thai() } else { me.person.role.as_str() };
    serde_json::json!({
        "name": me.person.name, "role": role, "supervisor": me.person.role.manages_people(),
        "agency": matches!(me.person.workplace, hybridpost_core::Workplace::Agency(_)),
        "admin": me.person.role == hybridpost_core::PersonRole::Admin,
        "sends": letters::may_send(me),
    })
}

/// Records what `me` did to `target` in their workplace's audit log, for actions that change
/// nothing stored (a reprint); a step that changes something records its line in its own
/// transaction instead. The page that says the console is unavailable when it cannot be written.
pub(crate) async fn audit(
    state: &ConsoleState,
    me: &SignedIn,
    action: &str,
    target: &str,
    detail: Option<serde_json::Value>,
) -> Result<(), Response> {
    let entry = me.audit(action, detail);
    let written = async {
        let mut tx = state.store.begin().await?;
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), target).await?;
        tx.commit().await
    }
    .await;
    written.map_err(|e| {
        tracing::error!(person.id = %me.person.person_id, "cannot record {action} on {target} in the audit log: {e}");
        pages::unavailable(me.lang)
    })
}

/// A redirect after a form, as `303 See Other`.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
