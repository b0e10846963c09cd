//! Scan back: post offices upload scanned replies and returned letters; hybridpost reads the
//! codes on every page, rebuilds each reply as a PDF linked to its letter, marks returned
//! letters, tells the agency, and puts every page it cannot match in front of a person.
//!
//! - **Upload** (`POST /v1/scans`, a site's key): one or more files (PDF, TIFF, PNG, JPEG, or a
//!   zip of those) and a mode, `replies` or `returns` (with the reason the letters came back).
//!   The files are stored and the answer is 202 with the batch id at once; workers do the rest.
//!   An upload may take as long as it needs while bytes keep coming; one that stalls for
//!   `upload_idle_timeout` is stopped with a 408. An upload that does not end in a stored batch
//!   leaves no files: they are deleted when it fails, and leftovers of a crash are swept up.
//! - **Decoding** (workers, claimed per file, so several nodes share a batch): each page is
//!   decoded under limits, recognised when it was uploaded before (content hash), searched for
//!   codes (where they are printed first, then the whole page, other orientations, filters)
//!   under a time budget, and stored with the record of how it was searched. A file that cannot
//!   be read gets its own error; its neighbours go on.
//! - **Grouping** (one worker per batch, once its files are decoded): pages become replies
//!   (a PDF of the pages, `reply_received` on the letter, e-mail and webhook to the agency) or
//!   returns (`returned` with the reason), or go to review — in one transaction.
//! - **Review** (`GET /v1/review`, `POST /v1/review/{page_id}`): an operator assigns a page to a
//!   letter by the reference printed on it, or discards it with a reason. Nothing leaves the
//!   queue silently.
//! - **Agencies** read replies with `GET /v1/letters/{letter_id}/replies` and
//!   `GET /v1/replies/{reply_id}/pdf`.
#![forbid(unsafe_code)]

mod answer_review;
mod answers;
mod api;
mod matching;
mod pages;
mod replies;
mod review;
mod settings;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use hybridpost_keyring::Keyring;
use hybridpost_scan::AreaMm;
use hybridpost_seal::ReplyKey;
use hybridpost_store::{BlobStore, Store};
use hybridpost_web::auth::ApiKeys;
use hybridpost_web::layers::idle_body_timeout;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use answer_review::{AnswerDecision, AnswerToReview, ReadByEye, answer_to_review, decide_answer};
pub use answers::{AnswerBoxView, AnswerChoice, AnswerStatus, ReplyAnswer};
pub use api::{ConsoleUpload, FileView, PageView, ScanAccepted, ScanList, ScanView, upload_scan};
pub use replies::ReplyView;
pub use review::{
    ReviewDecision, ReviewItem, ReviewList, ReviewResult, Reviewer, decide, letter_for_reference, page_preview,
};
pub use settings::{MAX_REPLY_WAIT_MINUTES, SiteSettings};
pub use worker::{decode_next_file, group_next_scan, run_workers, sweep_upload_leftovers, tell_waited_replies};

/// Settings of scan intake.
#[derive(Clone, Debug)]
pub struct IntakeConfig {
    /// Limits on each uploaded file.
    pub limits: hybridpost_scan::input::Limits,
    /// Most files in one upload.
    pub max_files: usize,
    /// Largest upload, all files together, bytes.
    pub max_upload_bytes: usize,
    /// Time allowed to search one page for codes; a page whose search runs out goes to review
    /// unless a code was found.
    pub page_budget: Duration,
    /// How long a worker's claim on a file or batch lasts; a dead worker's file is decoded
    /// again after it.
    pub lease: Duration,
    /// Decoding workers in this process (files decoded at once).
    pub workers: usize,
    /// Threads searching the pages of one file at once. Every search in the process holds one
    /// of its cores while it runs, however many workers and threads there are.
    pub page_threads: usize,
    /// Longer side of review thumbnails, pixels.
    pub thumbnail_side: u32,
    /// How long an upload may send nothing before it is stopped (408). There is no limit on an
    /// upload's total time: a post office on a poor line sends slowly but steadily.
    pub upload_idle_timeout: Duration,
    /// Files of an upload that never became a batch (the process stopped mid-upload) are
    /// deleted once they are this old.
    pub upload_leftover_age: Duration,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            limits: hybridpost_scan::input::Limits { max_file_bytes: 100 * 1024 * 1024, ..Default::default() },
            max_files: 200,
            max_upload_bytes: 1024 * 1024 * 1024,
            page_budget: Duration::from_secs(3),
            lease: Duration::from_secs(300),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            page_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            thumbnail_side: 400,
            upload_idle_timeout: Duration::from_secs(60),
            upload_leftover_age: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Where codes are printed on an upright A4 page: the two reply codes of a reply page and the
/// seal of page 1, each with its quiet zone.
pub fn code_areas() -> Vec<AreaMm> {
    let mut areas: Vec<AreaMm> = hybridpost_render::REPLY_CODE_AREAS
        .iter()
        .map(|a| AreaMm { x: a.x.0, y: a.y.0, width: a.width.0, height: a.height.0 })
        .collect();
    let layouts = hybridpost_render::LetterTemplates::builtin();
    for layout in [&layouts.official, &layouts.plain] {
        // The seal with its quiet zone: four modules of at most 1 mm.
        let s = layout.seal_square();
        let area = AreaMm { x: s.x.0 - 4.0, y: s.y.0 - 4.0, width: s.width.0 + 8.0, height: s.height.0 + 8.0 };
        if !areas.contains(&area) {
            areas.push(area);
        }
    }
    areas
}

/// Everything the handlers and workers share.
#[derive(Clone)]
pub struct IntakeState {
    /// The database.
    pub store: Store,
    /// API-key checks.
    pub keys: ApiKeys,
    /// Uploaded files, page images, thumbnails and reply PDFs.
    pub blobs: BlobStore,
    /// Seal keys and the trust list, to check the seals of returned letters.
    pub keyring: Keyring,
    /// The key of reply-code MACs.
    pub reply_key: ReplyKey,
    /// Settings.
    pub config: Arc<IntakeConfig>,
}

impl std::fmt::Debug for IntakeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl FromRef<IntakeState> for ApiKeys {
    fn from_ref(state: &IntakeState) -> ApiKeys {
        state.keys.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hybridpost scan intake API",
        description = "For post-office sites: upload scanned replies and returned letters, follow their \
                       decoding, and work the review queue (a site's key). For agencies: read the replies to \
                       their letters (an agency's key). Authenticate with `Authorization: Bearer <api key>`.",
        version = "1"
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "scans", description = "Scanned pages uploaded by a post-office site"),
        (name = "review", description = "Pages nobody could match, for a site's operators"),
        (name = "replies", description = "Citizens' replies, for the agency that sent the letter")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["site_key", "agency_key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("hpk_…").build()),
            );
        }
    }
}

/// The routes with their OpenAPI description, before state. The upload waits on its client
/// for at most `config.upload_idle_timeout` at a time instead of the request timeout.
pub fn api(config: &IntakeConfig) -> OpenApiRouter<IntakeState> {
    let idle = config.upload_idle_timeout;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::list_scans))
        .routes(routes!(api::create_scan).layer(axum::middleware::from_fn_with_state(idle, idle_body_timeout)))
        .routes(routes!(api::get_scan))
        .routes(routes!(answer_review::list_answers))
        .routes(routes!(answer_review::decide_answer_api))
        .routes(routes!(review::list_review))
        .routes(routes!(review::decide_review))
        .routes(routes!(review::review_thumbnail))
        .routes(routes!(replies::letter_replies))
        .routes(routes!(replies::reply_pdf))
        .routes(routes!(settings::get_settings, settings::put_settings))
}

/// The intake routes with their state, and the OpenAPI document.
pub fn parts(state: IntakeState) -> (Router, utoipa::openapi::OpenApi) {
    let limit = state.config.max_upload_bytes;
    let (router, openapi) = api(&state.config).split_for_parts();
    // A decision is one of its variants exactly: an unknown field is refused.
    let openapi = hybridpost_web::openapi::patch_schemas(
        openapi,
        &serde_json::json!({"ReviewDecision": {"oneOf": {"additionalProperties": false}}}),
    );
    (router.layer(axum::extract::DefaultBodyLimit::max(limit)).with_state(state), openapi)
}

/// The intake API as served alone, with `/openapi.json`, health and the common layers.
pub fn router(state: IntakeState, timeout: Duration) -> Router {
    let store = state.store.clone();
    let (routes, openapi) = parts(state);
    hybridpost_web::layers::serve_app(routes, openapi, store, timeout)
}
