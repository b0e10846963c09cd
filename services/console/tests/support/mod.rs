//! What the console's own tests share: a console over a test store whose print room has no
//! renderer (these tests sign in and out; batches are walked through by the binary's tests,
//! `services/hybridpost/tests/console_day.rs`, with the real one).

use std::sync::Arc;

use hybridpost_console::{ConsoleConfig, ConsoleState};
use hybridpost_printroom::{
    BatchJob, BatchRenderError, BatchRenderer, PrintItem, PrintroomConfig, PrintroomState, RenderedBatch,
};
use hybridpost_store::Store;
use hybridpost_web::auth::ApiKeys;
use hybridpost_web::rate_limit::RateLimiter;

/// A renderer these tests never reach.
struct NoRenderer;

impl BatchRenderer for NoRenderer {
    fn render(
        &self,
        _job: &BatchJob,
        _letters: &mut dyn Iterator<Item = PrintItem>,
        _out: &mut dyn std::io::Write,
    ) -> Result<RenderedBatch, BatchRenderError> {
        Err(BatchRenderError::Manifest("the console's own tests render no batch".into()))
    }
}

/// The console's state over `store`, with blobs in `blobs_dir`.
pub fn console_state(store: &Store, config: ConsoleConfig, blobs_dir: &std::path::Path) -> ConsoleState {
    let print = PrintroomState {
        store: store.clone(),
        keys: ApiKeys::new(store.clone(), RateLimiter::new(0, 0)),
        blobs: hybridpost_store::testing::test_blobs(blobs_dir, 1 << 20),
        renderer: Arc::new(NoRenderer),
        config: Arc::new(PrintroomConfig::default()),
    };
    let secret = hybridpost_seal::ServiceSecret::new(&[7u8; 32]).expect("a service secret");
    let intake = hybridpost_intake::IntakeState {
        store: store.clone(),
        keys: ApiKeys::new(store.clone(), RateLimiter::new(0, 0)),
        blobs: print.blobs.clone(),
        keyring: hybridpost_keyring::Keyring::new(store.clone(), secret),
        reply_key: hybridpost_seal::ReplyKey::generate(),
        config: Arc::new(hybridpost_intake::IntakeConfig::default()),
    };
    let composer = hybridpost_compose::Composer::new(intake.keyring.clone(), config.public_url.clone());
    ConsoleState::new(store.clone(), config, print, intake, composer).expect("the console's settings work")
}
