//! The agency API: agencies submit letters, read them with their timelines, cancel them before
//! they are batched, page through their event feed, and register webhooks for it. Every route needs an agency API key and
//! sees only that agency's letters. The OpenAPI document is generated from these handlers.
#![forbid(unsafe_code)]

mod bulk;
mod documents;
mod events;
mod held;
mod letters;
pub mod steps;
mod webhooks;
mod writer;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::{Extension, Router};
use hybridpost_compose::Composer;
use hybridpost_store::{BlobStore, Store};
use hybridpost_web::auth::ApiKeys;
use hybridpost_web::json::BodyLimit;
use hybridpost_web::openapi::KeySchemes;
use hybridpost_web::problem::Problem;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use bulk::{
    BatchRow, BatchRowState, LetterBatch, MAX_BATCH_ROWS, NewLetterBatch, check_row, check_row_with_warnings, row_key,
    run_worker, send_one_batch, submit,
};
pub use documents::{
    DocumentSummary, MAX_PDF_BYTES, MAX_PDF_UPLOADS_AT_ONCE, PdfCheckProblem, PdfCheckReport, check_pdf_bytes,
    store_document,
};
pub use events::{Event, EventFeed};
pub use letters::{LetterDetail, LetterList, LetterSummary};
pub use webhooks::{CreatedWebhook, MAX_ENDPOINTS, NewWebhook, Webhook, register_webhook};
pub use writer::LetterWriter;

/// Settings of the agency API.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Key for the keyed hash of citizen ids (the e-channel registry is keyed by it).
    pub citizen_id_key: Arc<[u8]>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Webhooks may go to private addresses and local names (receivers on the premises), and
    /// over plain `http://` to those. Off: public `https://` targets only.
    pub webhook_allow_private_targets: bool,
}

// The key never appears in logs.
impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("citizen_id_key", &"[redacted]")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("webhook_allow_private_targets", &self.webhook_allow_private_targets)
            .finish()
    }
}

/// Everything the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// API-key checks and rate limits.
    pub keys: ApiKeys,
    /// Settings.
    pub config: Arc<GatewayConfig>,
    /// Group commit for new letters.
    pub writer: LetterWriter,
    /// Seal keys (every accepted letter is sealed) and the layout of proofs.
    pub composer: Composer,
    /// Where agencies' PDFs are kept.
    pub blobs: BlobStore,
}

impl AppState {
    /// The state for `store`; starts the letter writer task, so call it inside a Tokio runtime.
    pub fn new(store: Store, keys: ApiKeys, config: GatewayConfig, composer: Composer, blobs: BlobStore) -> AppState {
        let writer = LetterWriter::spawn(store.clone());
        AppState { store, keys, config: Arc::new(config), writer, composer, blobs }
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

impl FromRef<AppState> for ApiKeys {
    fn from_ref(state: &AppState) -> ApiKeys {
        state.keys.clone()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hybridpost agency API",
        description = "Send letters to citizens: digitally when they have a verified e-channel, on paper otherwise. \
                       Authenticate with `Authorization: Bearer <api key>`. Errors are RFC 9457 problem+json.",
        version = "1"
    ),
    modifiers(&KeySchemes),
    components(schemas(Problem)),
    tags((name = "letters", description = "Submit, read and cancel letters"),
         (name = "events", description = "The agency's event feed"),
         (name = "documents", description = "Agencies' own PDFs: print checks and uploads"),
         (name = "webhooks", description = "Signed webhooks carrying the agency's event feed"))
)]
struct ApiDoc;

/// Links from a created letter to what can be done with it (OpenAPI 3.1 `links`): a client
/// generator or a reader follows `letter_id` from the answer to `POST /v1/letters`.
struct LetterLinks;

impl utoipa::Modify for LetterLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::link::LinkBuilder;
        let Some(post) = openapi.paths.paths.get_mut("/v1/letters").and_then(|item| item.post.as_mut()) else {
            return;
        };
        let Some(utoipa::openapi::RefOr::T(created)) = post.responses.responses.get_mut("201") else { return };
        for (name, operation, description) in [
            ("GetLetter", "get_letter", "Read the letter with its timeline"),
            ("LetterPdf", "letter_pdf", "Its PDF proof"),
            ("CancelLetter", "cancel_letter", "Cancel it before it is batched"),
            ("WithdrawLetter", "withdraw_letter", "Withdraw it once it is out"),
            ("RetryLetter", "retry_letter", "Print it again after a failed render"),
            ("LetterReplies", "letter_replies", "The citizen's replies to it"),
        ] {
            let link = LinkBuilder::new()
                .operation_id(operation)
                .parameter("letter_id", "$response.body#/letter_id")
                .description(description)
                .build();
            created.links.insert(name.to_owned(), utoipa::openapi::RefOr::T(link));
        }
    }
}

/// The API routes with their OpenAPI description, before state and layers.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(letters::create_letter, letters::list_letters))
        .routes(routes!(letters::get_letter))
        .routes(routes!(letters::letter_pdf))
        .routes(routes!(letters::cancel_letter))
        .routes(routes!(letters::withdraw_letter))
        .routes(routes!(held::retry_letter))
        .routes(routes!(events::list_events))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::delete_webhook))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(documents::check_pdf))
                .routes(routes!(documents::upload_document))
                .layer(DefaultBodyLimit::max(documents::MAX_PDF_BYTES))
                // One count for both routes: a request waits here, its body unread, while
                // the process reads as many PDF bodies as it allows.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(pdf_upload_slots())),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(bulk::create_batch))
                .routes(routes!(bulk::get_batch))
                .routes(routes!(bulk::cancel_batch))
                .layer(DefaultBodyLimit::max(bulk::MAX_BATCH_BODY_BYTES))
                .layer(Extension(BodyLimit(bulk::MAX_BATCH_BODY_BYTES)))
                // Batch bodies are large: a few are read at once, the others wait unread.
                .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(batch_upload_slots())),
        )
}

/// The process's slots for letter batches being read and checked.
fn batch_upload_slots() -> Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(bulk::BATCH_UPLOADS_AT_ONCE))).clone()
}

/// The process's slots for PDF uploads being read, shared by every router built.
fn pdf_upload_slots() -> Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(documents::MAX_PDF_UPLOADS_AT_ONCE))).clone()
}

/// The agency API's routes with their state and body limit (no common layers), and its
/// OpenAPI document; the binary merges these with the other roles'.
pub fn parts(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let limit = state.config.max_body_bytes;
    let (router, mut openapi) = api().split_for_parts();
    // After the routes: the links name operations the document must already have.
    utoipa::Modify::modify(&LetterLinks, &mut openapi);
    let router = router.layer(DefaultBodyLimit::max(limit)).layer(Extension(BodyLimit(limit))).with_state(state);
    (router, openapi)
}

/// The complete agency API as served alone: routes, `/openapi.json`, health, and the common
/// layers (metrics are served on a listener of their own).
pub fn router(state: AppState, timeout: Duration) -> Router {
    let store = state.store.clone();
    let (routes, openapi) = parts(state);
    hybridpost_web::layers::serve_app(routes, openapi, store, timeout)
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes open requests.
pub async fn run(
    router: Router,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    hybridpost_web::serve(router, listener, shutdown).await?;
    Ok(())
}
