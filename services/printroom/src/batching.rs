//! Closing batches at cut-off and rendering them.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use hybridpost_core::{BatchId, SiteId};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_store::agencies::{self, Agency, Site};
use hybridpost_store::letters;
use hybridpost_store::print::{self, BatchRecord, Placement, RenderFailure, RenderResult};
use hybridpost_store::{BlobKey, now_text, timestamp_text};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{BatchJob, PrintItem, PrintroomState, RenderedBatch};
use hybridpost_compose::Inputs;
use hybridpost_render::Emblem;

/// Closes one batch for every site that has letters waiting. Returns the batches made.
pub async fn close_batches(state: &PrintroomState) -> anyhow::Result<Vec<BatchRecord>> {
    let sites = {
        let mut conn = state.store.read().await?;
        agencies::list_sites(&mut conn).await?
    };
    let mut made = Vec::new();
    for site in &sites {
        if let Some(batch) = close_for(state, &sites, site, None).await? {
            made.push(batch);
        }
    }
    Ok(made)
}

/// Closes a batch for `site` now, if it has letters waiting. `audit`: the person who closed it,
/// from a console, recorded in the same transaction.
pub async fn close_batch_for_site(
    state: &PrintroomState,
    site_id: SiteId,
    audit: Option<&hybridpost_store::people::NewAudit>,
) -> anyhow::Result<Option<BatchRecord>> {
    let sites = {
        let mut conn = state.store.read().await?;
        agencies::list_sites(&mut conn).await?
    };
    let site = sites.iter().find(|s| s.site_id == site_id).with_context(|| format!("no site {site_id}"))?;
    close_for(state, &sites, site, audit).await
}

async fn close_for(
    state: &PrintroomState,
    sites: &[Site],
    site: &Site,
    audit: Option<&hybridpost_store::people::NewAudit>,
) -> anyhow::Result<Option<BatchRecord>> {
    let max = state.config.max_batch_letters;
    let mut tx = state.store.begin().await?;
    // Letters matching this site's prefixes may belong to a site with a longer prefix; read
    // more than a batch's worth so that those do not crowd out this site's own.
    let candidates = print::queued_letters(&mut tx, &site.postcode_prefixes, max.saturating_mul(2)).await?;
    let own: Vec<_> = candidates
        .into_iter()
        .filter(|l| agencies::site_for_postcode(sites, &l.postcode).is_some_and(|s| s.site_id == site.site_id))
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .collect();
    if own.is_empty() {
        return Ok(None);
    }
    let closed = print::create_batch(&mut tx, site.site_id, &own, &now_text()).await?;
    queue_event_webhooks(&mut tx, &closed.events).await?;
    let batch = closed.value;
    if let Some(b) = &batch {
        hybridpost_store::people::append_step_audit(&mut tx, audit, &b.batch_id.to_string()).await?;
    }
    tx.commit().await.context("cannot save the batch")?;
    if let Some(b) = &batch {
        metrics::counter!("hybridpost_print_batches_closed_total").increment(1);
        tracing::info!(batch.id = %b.batch_id, site.id = %site.site_id, letters = b.letter_count, "batch closed");
    }
    Ok(batch)
}

/// One line of a batch manifest.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ManifestEntry {
    /// Envelope order: the order in which the printed letters go into envelopes, from 1.
    pub envelope: u32,
    /// The letter.
    pub letter_id: hybridpost_core::LetterId,
    /// Its first page in the batch PDF, from 1.
    pub first_page: u32,
    /// Its pages (without a blank back).
    pub pages: u32,
    /// Sheets of paper, printed on both sides.
    pub sheets: u32,
    /// The recipient's postcode.
    pub postcode: String,
    /// Its urgency (`most_urgent`, `within …`): the print room handles it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
}

/// Renders the oldest batch waiting, if any, and returns its id.
pub async fn render_next_batch(state: &PrintroomState) -> anyhow::Result<Option<BatchId>> {
    let now = time::OffsetDateTime::now_utc();
    let until = timestamp_text(now + state.config.render_lease);
    let batch = {
        let mut tx = state.store.begin().await?;
        let claimed = print::claim_for_render(&mut tx, &timestamp_text(now), &until).await?;
        tx.commit().await?;
        claimed
    };
    let Some(batch) = batch else { return Ok(None) };
    let batch_id = batch.batch_id;
    let started = std::time::Instant::now();
    let (members, site) = {
        let mut conn = state.store.read().await?;
        let members = print::batch_letters(&mut conn, batch_id).await?;
        let site = agencies::get_site(&mut conn, batch.site_id).await?.context("the batch's site is gone")?;
        (members, site)
    };
    let job = BatchJob {
        batch_id: batch_id.to_string(),
        site_name: site.name.clone(),
        created_at: batch.created_at.clone(),
        letter_count: members.len(),
        postcodes: (
            members.iter().map(|m| m.postcode.clone()).min().unwrap_or_default(),
            members.iter().map(|m| m.postcode.clone()).max().unwrap_or_default(),
        ),
    };

    let (sender, receiver) = tokio::sync::mpsc::channel::<PrintItem>(32);
    let loader = spawn_loader(state, members.clone(), sender);

    let pdf_key = BlobKey::parse(&format!("batches/{batch_id}.pdf"))?;
    let manifest_key = BlobKey::parse(&format!("batches/{batch_id}.manifest.json"))?;
    let rendered = write_pdf(state, job, receiver, &pdf_key).await;
    loader.await.context("the letter loader panicked")??;
    let (rendered, sha, size) = rendered?;

    let manifest = manifest_entries(&members, &rendered);
    state.blobs.put(&manifest_key, serde_json::to_vec_pretty(&manifest)?).await?;
    let result = render_result(&rendered, &pdf_key, &manifest_key, sha);
    let mut tx = state.store.begin().await?;
    let finished = print::finish_render(&mut tx, batch_id, &result, &now_text()).await?;
    queue_event_webhooks(&mut tx, &finished.events).await?;
    let finished = finished.value;
    tx.commit().await?;
    if !finished {
        tracing::warn!(batch.id = %batch_id, "another worker finished this batch first");
        return Ok(Some(batch_id));
    }
    let secs = started.elapsed().as_secs_f64();
    metrics::counter!("hybridpost_print_pages_rendered_total").increment(u64::from(rendered.pages));
    tracing::info!(
        batch.id = %batch_id,
        letters = rendered.placed.len(),
        failed = rendered.failed.len(),
        pages = rendered.pages,
        bytes = size,
        "batch rendered in {secs:.1} s"
    );
    Ok(Some(batch_id))
}

/// Most envelopes one reprint may hold: a reprint replaces what a jam ate, not a batch.
pub const MAX_REPRINT_LETTERS: usize = 50;

/// A reprint of some letters of a rendered batch, for sheets a printer jam ate: the letters
/// at `envelopes` (positions in envelope order) laid out by the same renderer as the batch,
/// so their pages print the same, after a cover sheet naming the batch as reprinted.
pub async fn reprint(state: &PrintroomState, batch: &BatchRecord, envelopes: &[i64]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(!envelopes.is_empty(), "no envelope chosen");
    anyhow::ensure!(
        envelopes.len() <= MAX_REPRINT_LETTERS,
        "at most {MAX_REPRINT_LETTERS} envelopes can be reprinted at once"
    );
    let (members, site) = {
        let mut conn = state.store.read().await?;
        let members = print::batch_letters(&mut conn, batch.batch_id).await?;
        let site = agencies::get_site(&mut conn, batch.site_id).await?.context("the batch's site is gone")?;
        (members, site)
    };
    let chosen: Vec<print::BatchLetter> =
        members.into_iter().filter(|m| envelopes.contains(&m.position) && m.first_page.is_some()).collect();
    anyhow::ensure!(chosen.len() == envelopes.len(), "an envelope number is not a printed letter of this batch");
    let job = BatchJob {
        batch_id: format!("{} (reprint)", batch.batch_id),
        site_name: site.name.clone(),
        created_at: batch.created_at.clone(),
        letter_count: chosen.len(),
        postcodes: (
            chosen.iter().map(|m| m.postcode.clone()).min().unwrap_or_default(),
            chosen.iter().map(|m| m.postcode.clone()).max().unwrap_or_default(),
        ),
    };
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<PrintItem>(8);
    let loader = spawn_loader(state, chosen, sender);
    let renderer = Arc::clone(&state.renderer);
    let rendered = tokio::task::spawn_blocking(move || -> anyhow::Result<(RenderedBatch, Vec<u8>)> {
        let mut out = Vec::new();
        let mut items = std::iter::from_fn(|| receiver.blocking_recv());
        let rendered = renderer.render(&job, &mut items, &mut out)?;
        Ok((rendered, out))
    })
    .await
    .context("the batch renderer panicked")?;
    loader.await.context("the letter loader panicked")??;
    let (rendered, pdf) = rendered?;
    if let Some(f) = rendered.failed.first() {
        anyhow::bail!("letter {} cannot be laid out again: {}", f.letter_id, f.reason);
    }
    Ok(pdf)
}

/// Reads the batch's letters (with their agencies, cached, and their PDFs) a few at a time and
/// hands them to the renderer's thread, so that memory does not grow with the batch.
fn spawn_loader(
    state: &PrintroomState,
    loading: Vec<print::BatchLetter>,
    sender: tokio::sync::mpsc::Sender<PrintItem>,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let store = state.store.clone();
    let blobs = state.blobs.clone();
    tokio::spawn(async move {
        // Each agency and its emblem once per batch: the emblem is decoded once and shared.
        let mut agencies_seen: HashMap<hybridpost_core::AgencyId, (Agency, Option<Emblem>)> = HashMap::new();
        for member in loading {
            let mut conn = store.read().await?;
            let Some(letter) = letters::get_letter_any_agency(&mut conn, member.letter_id).await? else {
                anyhow::bail!("letter {} of the batch is gone", member.letter_id);
            };
            let (agency, emblem) = match agencies_seen.get(&letter.agency_id) {
                Some(letterhead) => letterhead.clone(),
                None => {
                    let letterhead = hybridpost_compose::load_letterhead(&mut conn, &blobs, letter.agency_id)
                        .await?
                        .context("agency gone")?;
                    agencies_seen.insert(letter.agency_id, letterhead.clone());
                    letterhead
                }
            };
            let documents =
                hybridpost_store::documents::load_all(&mut conn, &blobs, letter.scope(), &letter.document_ids()?)
                    .await?;
            drop(conn);
            let inputs = Inputs { agency, emblem, documents };
            if sender.send(PrintItem { position: member.position, letter, inputs }).await.is_err() {
                break;
            }
        }
        anyhow::Ok(())
    })
}

/// Renders the batch on a blocking thread, writing its PDF to storage as it goes: what was
/// placed and left out, the PDF's SHA-256 and its size.
async fn write_pdf(
    state: &PrintroomState,
    job: BatchJob,
    mut receiver: tokio::sync::mpsc::Receiver<PrintItem>,
    pdf_key: &BlobKey,
) -> anyhow::Result<(RenderedBatch, String, usize)> {
    let writer = state.blobs.writer(pdf_key)?;
    let renderer = Arc::clone(&state.renderer);
    tokio::task::spawn_blocking(move || -> anyhow::Result<(RenderedBatch, String, usize)> {
        let mut out = HashingWriter { inner: writer, sha: Sha256::new() };
        let mut items = std::iter::from_fn(|| receiver.blocking_recv());
        let rendered = renderer.render(&job, &mut items, &mut out)?;
        out.flush()?;
        let HashingWriter { inner, sha } = out;
        let size = inner.written();
        inner.commit()?;
        Ok((rendered, hex::encode(sha.finalize()), size))
    })
    .await
    .context("the batch renderer panicked")?
}

/// The manifest: each placed letter in envelope order with its pages and postcode.
fn manifest_entries(members: &[print::BatchLetter], rendered: &RenderedBatch) -> Vec<ManifestEntry> {
    let postcode_of: HashMap<_, _> = members.iter().map(|m| (m.letter_id, m.postcode.clone())).collect();
    rendered
        .placed
        .iter()
        .enumerate()
        .map(|(i, p)| ManifestEntry {
            envelope: u32::try_from(i + 1).unwrap_or(u32::MAX),
            letter_id: p.letter_id,
            first_page: p.first_page,
            pages: p.pages,
            sheets: p.sheets,
            postcode: postcode_of.get(&p.letter_id).cloned().unwrap_or_default(),
            urgency: p.urgency.clone(),
        })
        .collect()
}

/// What the store records of a rendered batch.
fn render_result(rendered: &RenderedBatch, pdf_key: &BlobKey, manifest_key: &BlobKey, sha: String) -> RenderResult {
    RenderResult {
        placements: rendered
            .placed
            .iter()
            .map(|p| Placement {
                letter_id: p.letter_id,
                first_page: i64::from(p.first_page),
                pages: i64::from(p.pages),
                sheets: i64::from(p.sheets),
            })
            .collect(),
        failures: rendered
            .failed
            .iter()
            .map(|f| RenderFailure { letter_id: f.letter_id, agency_id: f.agency_id, reason: f.reason.clone() })
            .collect(),
        page_count: i64::from(rendered.pages),
        sheet_count: i64::from(rendered.sheets),
        pdf_blob: pdf_key.as_str().to_owned(),
        manifest_blob: manifest_key.as_str().to_owned(),
        pdf_sha256: sha,
    }
}

/// Time between checks for unroutable and overdue letters.
const ALARM_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the cut-off, held-letter check and rendering loops until the task is dropped.
pub async fn run_workers(state: PrintroomState) {
    let cutoff = {
        let state = state.clone();
        async move {
            let mut tick = tokio::time::interval(state.config.batch_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            while hybridpost_web::drain::tick(&mut tick).await {
                if let Err(e) = close_batches(&state).await {
                    hybridpost_web::drain::round_failed("closing print batches", &e);
                }
            }
        }
    };
    let alarms = {
        let state = state.clone();
        async move {
            let mut tick = tokio::time::interval(ALARM_CHECK_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while hybridpost_web::drain::tick(&mut tick).await {
                if let Err(e) = crate::held::check_held_letters(&state).await {
                    hybridpost_web::drain::round_failed("checking held letters", &e);
                }
            }
        }
    };
    let render = async move {
        while !hybridpost_web::drain::is_draining() {
            match render_next_batch(&state).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => hybridpost_web::drain::round_failed("rendering a print batch", &e),
            }
            if !hybridpost_web::drain::pause(std::time::Duration::from_secs(2)).await {
                break;
            }
        }
    };
    tokio::join!(cutoff, alarms, render);
}

struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
