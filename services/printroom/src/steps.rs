//! A site's steps on a batch, for every caller — the operator API and the console — so that
//! each rule is written once: which numbers a roll of labels gives, that a batch is printed
//! before it is dispatched, and that every step's events go out by webhook in its transaction.

use hybridpost_core::{BatchId, LetterId, SiteId, TrackingNumber};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::people::{self, NewAudit};
use hybridpost_store::print::{self, BatchLetter, BatchRecord, BatchStepError};
use hybridpost_store::{BlobKey, now_text};

use crate::PrintroomState;

/// Tracking numbers for the letters of a batch, or what is wrong with those given: each
/// problem with the field it belongs to (`first_tracking_number`, `tracking_numbers.{letter}`
/// or `tracking_numbers`).
pub type Tracking = Result<Vec<(LetterId, String)>, Vec<(String, String)>>;

/// The numbers of a roll of labels stuck on the envelopes in envelope order: `first` on the
/// first, and each next label the next serial number.
pub fn tracking_from_roll(letters: &[BatchLetter], first: &str) -> Tracking {
    let first = TrackingNumber::parse(first).map_err(|e| vec![("first_tracking_number".to_owned(), e.to_string())])?;
    let mut tracking = Vec::with_capacity(letters.len());
    for (i, l) in letters.iter().enumerate() {
        match first.advance(u32::try_from(i).unwrap_or(u32::MAX)) {
            Ok(n) => tracking.push((l.letter_id, n.to_string())),
            Err(e) => {
                return Err(vec![(
                    "first_tracking_number".to_owned(),
                    format!("the roll runs out at letter {}: {e}", i + 1),
                )]);
            }
        }
    }
    Ok(tracking)
}

/// Numbers given one per letter (each checked: format and check digit).
pub fn tracking_per_letter<'a>(numbers: impl IntoIterator<Item = (LetterId, &'a str)>) -> Tracking {
    let mut tracking = Vec::new();
    let mut problems = Vec::new();
    for (letter_id, number) in numbers {
        match TrackingNumber::parse(number) {
            Ok(n) => tracking.push((letter_id, n.to_string())),
            Err(e) => problems.push((format!("tracking_numbers.{letter_id}"), e.to_string())),
        }
    }
    if problems.is_empty() { Ok(tracking) } else { Err(problems) }
}

/// Marks a ready batch of `site` printed; each letter gets a `printed` event, with webhooks.
/// `audit`: the person who did it, from a console.
pub async fn mark_printed(
    state: &PrintroomState,
    site: SiteId,
    batch_id: BatchId,
    request_id: Option<&str>,
    audit: Option<&NewAudit>,
) -> Result<BatchRecord, BatchStepError> {
    let mut tx = state.store.begin().await?;
    let batch = print::mark_printed(&mut tx, site, batch_id, &now_text(), request_id).await?;
    queue_event_webhooks(&mut tx, &batch.events).await?;
    people::append_step_audit(&mut tx, audit, &batch_id.to_string()).await?;
    tx.commit().await?;
    tracing::info!(batch.id = %batch_id, "batch printed");
    Ok(batch.value)
}

/// Marks a printed batch of `site` dispatched with one tracking number per letter; each letter
/// gets a `dispatched` event carrying its number, with webhooks. `audit`: the person who did
/// it, from a console.
pub async fn mark_dispatched(
    state: &PrintroomState,
    site: SiteId,
    batch_id: BatchId,
    tracking: &[(LetterId, String)],
    request_id: Option<&str>,
    audit: Option<&NewAudit>,
) -> Result<BatchRecord, BatchStepError> {
    let mut tx = state.store.begin().await?;
    let batch = print::mark_dispatched(&mut tx, site, batch_id, tracking, &now_text(), request_id).await?;
    queue_event_webhooks(&mut tx, &batch.events).await?;
    people::append_step_audit(&mut tx, audit, &batch_id.to_string()).await?;
    tx.commit().await?;
    tracing::info!(batch.id = %batch_id, letters = tracking.len(), "batch dispatched");
    Ok(batch.value)
}

/// Why a rendered batch's file cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Still being rendered.
    #[error("batch {0} is still being rendered; try again in a few seconds")]
    NotReady(BatchId),
    /// Storage failed, or lost the file.
    #[error("{0}")]
    Storage(String),
}

fn rendered_key(batch: &BatchRecord, key: Option<&str>, what: &str) -> Result<BlobKey, FileError> {
    use hybridpost_core::BatchStatus;
    if matches!(batch.status, BatchStatus::Closed | BatchStatus::Rendering) {
        return Err(FileError::NotReady(batch.batch_id));
    }
    let key = key.ok_or_else(|| FileError::Storage(format!("rendered batch {} has no {what}", batch.batch_id)))?;
    BlobKey::parse(key).map_err(|e| FileError::Storage(e.to_string()))
}

/// The batch's PDF, opened for streaming, and its length.
pub async fn open_pdf(
    state: &PrintroomState,
    batch: &BatchRecord,
) -> Result<(hybridpost_store::BlobReader, u64), FileError> {
    let key = rendered_key(batch, batch.pdf_blob.as_deref(), "PDF")?;
    let (file, len) =
        state.blobs.open(&key).await.map_err(|e| FileError::Storage(e.to_string()))?.ok_or_else(|| {
            FileError::Storage(format!("the PDF of batch {} is missing from storage", batch.batch_id))
        })?;
    Ok((file, len))
}

/// The batch's manifest as stored (JSON).
pub async fn manifest_json(state: &PrintroomState, batch: &BatchRecord) -> Result<Vec<u8>, FileError> {
    let key = rendered_key(batch, batch.manifest_blob.as_deref(), "manifest")?;
    state
        .blobs
        .get(&key)
        .await
        .map_err(|e| FileError::Storage(e.to_string()))?
        .ok_or_else(|| FileError::Storage(format!("the manifest of batch {} is missing", batch.batch_id)))
}

/// The batch's manifest, in envelope order.
pub async fn manifest(state: &PrintroomState, batch: &BatchRecord) -> Result<Vec<crate::ManifestEntry>, FileError> {
    let bytes = manifest_json(state, batch).await?;
    serde_json::from_slice(&bytes).map_err(|e| FileError::Storage(format!("manifest of batch {}: {e}", batch.batch_id)))
}

/// The manifest as CSV with a header line, for a spreadsheet.
pub fn manifest_csv(entries: &[crate::ManifestEntry]) -> String {
    let mut csv = String::from("envelope,letter_id,first_page,pages,sheets,postcode,urgency\r\n");
    for e in entries {
        // The urgency is a wire name or `within` and an RFC 3339 time: no comma or quote.
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            e.envelope,
            e.letter_id,
            e.first_page,
            e.pages,
            e.sheets,
            e.postcode,
            e.urgency.as_deref().unwrap_or("")
        ));
    }
    csv
}
