//! The batch renderer over `hybridpost-render`'s streaming batch writer.

use std::sync::Arc;

pub use hybridpost_compose::{ComposeError, Composed};
use hybridpost_render::{BatchInfo, BatchLetter, BatchWriter, RenderError};

use crate::{BatchJob, BatchRenderer, Failed, Placed, PrintItem, RenderedBatch};

/// Lays out one letter; an error is the reason the letter cannot be printed, for the agency.
pub type ComposeFn = dyn Fn(&PrintItem) -> Result<Composed, ComposeError> + Send + Sync;

/// Why a batch could not be written (a letter that cannot be laid out is left out instead).
#[derive(Debug, thiserror::Error)]
pub enum BatchRenderError {
    /// The batch writer failed (writing to storage, or a font).
    #[error("the batch PDF cannot be written: {0}")]
    Write(#[from] RenderError),
    /// The writer's manifest names a letter id that does not read back (a bug).
    #[error("the batch manifest names a bad letter id {0:?}")]
    Manifest(String),
}

/// Renders batches with the streaming batch writer: a cover sheet, every letter on a new
/// sheet, blank backs for duplex; a letter that fails is left out and reported.
#[derive(Clone)]
pub struct PdfBatchRenderer {
    compose: Arc<ComposeFn>,
}

impl std::fmt::Debug for PdfBatchRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfBatchRenderer").finish_non_exhaustive()
    }
}

impl PdfBatchRenderer {
    /// A renderer laying out letters with `compose`.
    pub fn new(compose: Arc<ComposeFn>) -> Self {
        PdfBatchRenderer { compose }
    }
}

impl BatchRenderer for PdfBatchRenderer {
    fn render(
        &self,
        job: &BatchJob,
        letters: &mut dyn Iterator<Item = PrintItem>,
        out: &mut dyn std::io::Write,
    ) -> Result<RenderedBatch, BatchRenderError> {
        let info = BatchInfo {
            batch_id: job.batch_id.clone(),
            site: job.site_name.clone(),
            created_at: job.created_at.clone(),
        };
        let mut writer = BatchWriter::new(out, info)?;
        let mut failed = Vec::new();
        for item in letters {
            let urgency = item.letter.letter().ok().and_then(|l| l.urgency).map(|u| u.label());
            let letter = BatchLetter {
                letter_id: item.letter.letter_id.to_string(),
                postcode: item.letter.postcode.clone(),
                urgency,
            };
            let fail =
                |reason: String| Failed { letter_id: item.letter.letter_id, agency_id: item.letter.agency_id, reason };
            let result = match (self.compose)(&item) {
                Ok(Composed::Document(doc)) => writer.append_document(letter, &doc).map(drop),
                Ok(Composed::WithPdfs(first, pdfs)) => {
                    let id = letter.letter_id.clone();
                    let result = {
                        let mut pages = writer.begin_letter(letter);
                        let mut appended = pages.append_document(&first).map(drop);
                        for pdf in &pdfs {
                            appended = appended.and_then(|()| pages.append_pdf_pages(pdf).map(drop));
                        }
                        appended.and_then(|()| pages.commit())
                    };
                    if let Err(e) = &result {
                        writer.skip(&id, &e.to_string());
                    }
                    result.map(drop)
                }
                Err(e) => {
                    let reason = e.to_string();
                    writer.skip(&letter.letter_id, &reason);
                    failed.push(fail(reason));
                    continue;
                }
            };
            if let Err(e) = result {
                failed.push(fail(e.to_string()));
            }
        }
        let (_, manifest) = writer.finish()?;
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let placed = manifest
            .letters
            .iter()
            .map(|e| {
                Ok(Placed {
                    letter_id: e.letter_id.parse().map_err(|_| BatchRenderError::Manifest(e.letter_id.clone()))?,
                    first_page: to_u32(e.first_page),
                    urgency: e.urgency.clone(),
                    pages: to_u32(e.pages),
                    sheets: to_u32(e.sheets),
                })
            })
            .collect::<Result<Vec<_>, BatchRenderError>>()?;
        Ok(RenderedBatch { placed, failed, pages: to_u32(manifest.pages), sheets: to_u32(manifest.sheets) })
    }
}
