//! Print rooms: post-office sites print the paper letters of their postcodes.
//!
//! - **Batching**: letters queued for print are grouped per site — a letter belongs to the site
//!   with the longest postcode prefix matching its postcode — into batches in postcode order, at
//!   each cut-off (`print_batch_interval_secs`) or when an operator closes one now. Letters of
//!   test keys never enter a batch.
//! - **Rendering**: a worker claims a closed batch with a lease and renders it through a
//!   [`BatchRenderer`] into one PDF, streamed to blob storage, with a manifest. Rendering is
//!   deterministic, so a batch whose worker died is rendered again to the same bytes. A letter
//!   that fails to render leaves the batch, is held back from printing and gets a
//!   `render_failed` event saying why; the rest of the batch goes on.
//! - **Held letters**: every minute a check reports, once each, letters no site serves
//!   (`unroutable`) and letters waiting longer than the alarm age (`print_overdue`), clears the
//!   alarm of letters a new site serves, and sets the gauge `hybridpost_letters_held{reason}`.
//! - **Operator API** (a site's API key): list batches, download the PDF and manifest, mark a
//!   batch printed, then dispatched with one UPU S10 tracking number per letter. Every step is an
//!   event on each letter's timeline.
#![forbid(unsafe_code)]

mod api;
mod batching;
mod held;
mod pdf;
pub mod steps;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use hybridpost_compose::Inputs;
use hybridpost_core::{AgencyId, LetterId};
use hybridpost_store::letters::LetterRecord;
use hybridpost_store::{BlobStore, Store};
use hybridpost_web::auth::ApiKeys;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use api::{BatchDetail, BatchList, BatchSummary, DispatchRequest, ManifestEntry};
pub use batching::{MAX_REPRINT_LETTERS, close_batch_for_site, close_batches, render_next_batch, reprint, run_workers};
pub use held::{HeldCheck, check_held_letters};
pub use pdf::{BatchRenderError, ComposeError, ComposeFn, Composed, PdfBatchRenderer};

/// Settings of the print room.
#[derive(Clone, Debug)]
pub struct PrintroomConfig {
    /// Most letters in one batch.
    pub max_batch_letters: i64,
    /// How long a rendering worker's claim on a batch lasts; a batch whose worker died is
    /// rendered again after it.
    pub render_lease: Duration,
    /// Time between automatic cut-offs.
    pub batch_interval: Duration,
    /// A letter waiting for print longer than this raises the `print_overdue` alarm; `None`
    /// turns that alarm off.
    pub alarm_after: Option<Duration>,
}

impl Default for PrintroomConfig {
    fn default() -> Self {
        PrintroomConfig {
            max_batch_letters: 5_000,
            render_lease: Duration::from_secs(600),
            batch_interval: Duration::from_secs(3600),
            alarm_after: Some(Duration::from_secs(48 * 3600)),
        }
    }
}

/// What a batch is, for its cover sheet.
#[derive(Clone, Debug)]
pub struct BatchJob {
    /// The batch id.
    pub batch_id: String,
    /// The site's name.
    pub site_name: String,
    /// When the batch was closed (UTC, RFC 3339).
    pub created_at: String,
    /// Letters in the batch.
    pub letter_count: usize,
    /// Lowest and highest postcode.
    pub postcodes: (String, String),
}

/// A letter to print, with what it is laid out with.
#[derive(Clone, Debug)]
pub struct PrintItem {
    /// Envelope order in the batch, from 1.
    pub position: i64,
    /// The letter.
    pub letter: LetterRecord,
    /// Its agency, the agency's emblem and the agency's PDFs the letter names.
    pub inputs: Inputs,
}

/// Where a letter landed in the batch PDF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The letter.
    pub letter_id: LetterId,
    /// First page, from 1.
    pub first_page: u32,
    /// Pages of the letter (without a blank back).
    pub pages: u32,
    /// Sheets of paper, duplex.
    pub sheets: u32,
    /// Its urgency, when it has one.
    pub urgency: Option<String>,
}

/// A letter that could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// The letter.
    pub letter_id: LetterId,
    /// Its agency.
    pub agency_id: AgencyId,
    /// Why, in words for the agency.
    pub reason: String,
}

/// What rendering a batch produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderedBatch {
    /// Letters placed, in envelope order.
    pub placed: Vec<Placed>,
    /// Letters left out.
    pub failed: Vec<Failed>,
    /// Pages of the PDF.
    pub pages: u32,
    /// Sheets of paper.
    pub sheets: u32,
}

/// Renders a batch's PDF: a cover sheet, then every letter on new sheets in the order given.
/// Runs on a blocking thread; letters arrive one at a time so memory stays bounded.
pub trait BatchRenderer: Send + Sync + 'static {
    /// Writes the batch PDF to `out`. A letter that fails to render is reported in
    /// [`RenderedBatch::failed`] and leaves nothing in the output; an error fails the batch.
    fn render(
        &self,
        job: &BatchJob,
        letters: &mut dyn Iterator<Item = PrintItem>,
        out: &mut dyn std::io::Write,
    ) -> Result<RenderedBatch, BatchRenderError>;
}

/// Everything the handlers and workers share.
#[derive(Clone)]
pub struct PrintroomState {
    /// The database.
    pub store: Store,
    /// API-key checks.
    pub keys: ApiKeys,
    /// Where batch PDFs and manifests go.
    pub blobs: BlobStore,
    /// Renders batches.
    pub renderer: Arc<dyn BatchRenderer>,
    /// Settings.
    pub config: Arc<PrintroomConfig>,
}

impl std::fmt::Debug for PrintroomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintroomState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl FromRef<PrintroomState> for ApiKeys {
    fn from_ref(state: &PrintroomState) -> ApiKeys {
        state.keys.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hybridpost print room API",
        description = "For post-office sites: fetch print batches, mark them printed and dispatched. \
                       Authenticate with the site's `Authorization: Bearer <api key>`.",
        version = "1"
    ),
    modifiers(&BearerAuth),
    tags((name = "print", description = "Print batches of a post-office site"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "site_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("hpk_…").build()),
        );
    }
}

/// The routes with their OpenAPI description, before state.
pub fn api() -> OpenApiRouter<PrintroomState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::list_batches, api::close_batch))
        .routes(routes!(api::get_batch))
        .routes(routes!(api::batch_pdf))
        .routes(routes!(api::batch_manifest))
        .routes(routes!(api::mark_printed))
        .routes(routes!(api::mark_dispatched))
}

/// The print-room routes with their state, and the OpenAPI document.
pub fn parts(state: PrintroomState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, openapi) = api().split_for_parts();
    // One of the two ways to give tracking numbers, not neither.
    let openapi =
        hybridpost_web::openapi::patch_schemas(openapi, &serde_json::json!({"DispatchRequest": {"minProperties": 1}}));
    (router.layer(axum::extract::DefaultBodyLimit::max(1024 * 1024)).with_state(state), openapi)
}

/// The print-room API as served alone, with `/openapi.json`, health and the common layers.
pub fn router(state: PrintroomState, timeout: Duration) -> Router {
    let store = state.store.clone();
    let (routes, openapi) = parts(state);
    hybridpost_web::layers::serve_app(routes, openapi, store, timeout)
}
