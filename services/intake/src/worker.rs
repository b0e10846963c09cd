//! The intake workers: decoding files page by page, grouping decoded batches, and sweeping up
//! the files of uploads that never became a batch.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Context;
use hybridpost_core::ScanPageId;
use hybridpost_ordered::Bounds;
use hybridpost_store::scan::{self, NewScanPage, PageWrite, ScanFileRecord};
use hybridpost_store::{BlobKey, now_text, timestamp_text};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::IntakeState;
use crate::pages::{ProcessedPage, Searcher, mark_json};

/// How often leftover uploads are looked for (and once at start-up).
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// How often replies whose wait for missing pages ended are looked for.
const TELL_WAITED_EVERY: Duration = Duration::from_secs(30);

/// Tells the agencies of replies whose wait for their missing pages ended by now, naming the
/// pages still missing: one `reply_received` event and one e-mail each, whichever node gets
/// there first. Returns how many were told.
pub async fn tell_waited_replies(state: &IntakeState) -> anyhow::Result<usize> {
    let due = {
        let mut conn = state.store.read().await?;
        scan::replies_done_waiting(&mut conn, &now_text(), 100).await?
    };
    let mut told = 0;
    for reply in due {
        let Some(was) = reply.waiting_until.clone() else { continue };
        let mut tx = state.store.begin().await?;
        if !scan::end_reply_wait(&mut tx, reply.reply_id, &was).await? {
            tx.rollback().await?;
            continue;
        }
        let Some(letter) = hybridpost_store::letters::get_letter_any_agency(&mut tx, reply.letter_id).await? else {
            anyhow::bail!("reply {} names no letter {}", reply.reply_id, reply.letter_id);
        };
        let answer: Option<crate::answers::ReplyAnswer> =
            reply.answer.as_deref().map(serde_json::from_str).transpose()?;
        let reply = scan::ReplyRecord { waiting_until: None, ..reply };
        crate::matching::announce_reply(&mut tx, &letter, &reply, answer.as_ref(), None).await?;
        tx.commit().await?;
        told += 1;
    }
    Ok(told)
}

/// Runs the decoding and grouping workers, the leftover sweep and the telling of replies that
/// waited for missing pages, until the process stops.
pub async fn run_workers(state: IntakeState) {
    let mut tasks = tokio::task::JoinSet::new();
    let sweeper = state.clone();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        while hybridpost_web::drain::tick(&mut every).await {
            match sweep_upload_leftovers(&sweeper).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(folders = n, "deleted the files of {n} uploads that never became a batch"),
                Err(e) => tracing::warn!("sweeping leftover uploads failed: {e:#}"),
            }
        }
    });
    let teller = state.clone();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(TELL_WAITED_EVERY);
        while hybridpost_web::drain::tick(&mut every).await {
            match tell_waited_replies(&teller).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(replies = n, "told agencies of {n} replies whose wait for missing pages ended"),
                Err(e) => tracing::warn!("telling agencies of replies that waited failed: {e:#}"),
            }
        }
    });
    for n in 0..state.config.workers.max(1) {
        let state = state.clone();
        tasks.spawn(async move {
            while !hybridpost_web::drain::is_draining() {
                let mut busy = false;
                match decode_next_file(&state).await {
                    Ok(worked) => busy |= worked,
                    Err(e) => hybridpost_web::drain::round_failed(&format!("scan decoding (worker {n})"), &e),
                }
                match group_next_scan(&state).await {
                    Ok(worked) => busy |= worked,
                    Err(e) => hybridpost_web::drain::round_failed(&format!("scan grouping (worker {n})"), &e),
                }
                if !busy && !hybridpost_web::drain::pause(Duration::from_millis(500)).await {
                    break;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Deletes the folders under `scans/` that belong to no batch and were last written more than
/// `upload_leftover_age` ago: what an upload leaves when the process stops in the middle of it
/// (a failed upload deletes its own). Uploads under way in this process are left alone; the
/// age covers those of other nodes sharing the blob folder. Returns how many were deleted.
pub async fn sweep_upload_leftovers(state: &IntakeState) -> anyhow::Result<usize> {
    let scans = BlobKey::parse("scans").expect("a valid blob folder name");
    let folders = state.blobs.folders(&scans).await.context("listing scan uploads")?;
    let cutoff = std::time::SystemTime::now().checked_sub(state.config.upload_leftover_age);
    let mut deleted = 0;
    for folder in folders {
        let Ok(scan_id) = folder.name.parse::<hybridpost_core::ScanId>() else { continue };
        if cutoff.is_none_or(|cutoff| folder.modified > cutoff) || crate::api::uploads_in_progress().contains(&scan_id)
        {
            continue;
        }
        let batch = {
            let mut conn = state.store.read().await?;
            scan::get_scan(&mut conn, None, scan_id).await?
        };
        if batch.is_none() {
            let key = BlobKey::parse(&format!("scans/{}", folder.name)).context("scan folder name")?;
            state.blobs.delete_all(&key).await.with_context(|| format!("deleting leftover upload {scan_id}"))?;
            tracing::info!(scan.id = %scan_id, "deleted the files of upload {scan_id}, which never became a batch");
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Counts a file in the `hybridpost_scan_files_decoding` gauge while this process holds its
/// claim and decodes it (until dropped, however the decoding ends).
struct DecodingNow;

impl DecodingNow {
    fn start() -> Self {
        metrics::gauge!("hybridpost_scan_files_decoding").increment(1.0);
        DecodingNow
    }
}

impl Drop for DecodingNow {
    fn drop(&mut self) {
        metrics::gauge!("hybridpost_scan_files_decoding").decrement(1.0);
    }
}

fn until(state: &IntakeState) -> String {
    timestamp_text(OffsetDateTime::now_utc() + state.config.lease)
}

/// Claims one file waiting to be decoded and decodes it, page by page. Returns whether there
/// was one. A page already stored (by a worker that died) is skipped; when another worker takes
/// the file over (this one was too slow), this one stops without writing.
pub async fn decode_next_file(state: &IntakeState) -> anyhow::Result<bool> {
    let token = uuid::Uuid::new_v4().to_string();
    let file = {
        let mut tx = state.store.begin().await?;
        let file = scan::claim_file(&mut tx, &now_text(), &until(state), &token).await?;
        tx.commit().await?;
        file
    };
    let Some(file) = file else { return Ok(false) };
    let _decoding = DecodingNow::start();
    let span = tracing::info_span!("scan_file", scan.id = %file.scan_id, file.index = file.file_index);
    decode_claimed_file(state, &file, &token).instrument(span).await?;
    Ok(true)
}

/// Decodes a claimed file and records how that ended: its page count, or why it cannot be
/// read; a file that waits for memory stays claimed.
async fn decode_claimed_file(state: &IntakeState, file: &ScanFileRecord, token: &str) -> anyhow::Result<()> {
    match decode_file(state, file, token).await {
        Ok(Some(pages)) => {
            let mut tx = state.store.begin().await?;
            scan::finish_file(&mut tx, file.scan_id, file.file_index, token, pages, None, &now_text()).await?;
            tx.commit().await?;
            tracing::info!(scan.id = %file.scan_id, pages, "scan file {} decoded: {pages} pages", file.file_index);
        }
        Ok(None) => tracing::warn!("another worker took over scan file {} of {}", file.file_index, file.scan_id),
        Err(FileFailure(why)) if why.starts_with(BUSY) => {
            // The process had no memory for the file: leave it claimed; when the claim runs
            // out, a worker (here or on another node) decodes it again.
            tracing::warn!(scan.id = %file.scan_id, "scan file {} waits: {why}", file.file_index);
        }
        Err(FileFailure(why)) => {
            let mut tx = state.store.begin().await?;
            scan::finish_file(&mut tx, file.scan_id, file.file_index, token, 0, Some(&why), &now_text()).await?;
            tx.commit().await?;
            metrics::counter!("hybridpost_scan_files_failed_total").increment(1);
            tracing::info!(scan.id = %file.scan_id, "scan file {} cannot be read: {why}", file.file_index);
        }
    }
    Ok(())
}

type PageResult = Result<hybridpost_scan::input::Page, hybridpost_scan::input::PageError>;

/// The process's CPU slots for searching pages: one per core, shared by every worker, so that a
/// page's time budget is spent searching, not waiting for a core.
struct CpuSlots {
    free: std::sync::Mutex<usize>,
    wake: std::sync::Condvar,
}

/// A held CPU slot, given back when dropped.
struct CpuSlot(&'static CpuSlots);

impl Drop for CpuSlot {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
            self.0.wake.notify_one();
        }
    }
}

/// Waits for a free CPU slot.
fn cpu_slot() -> CpuSlot {
    static SLOTS: std::sync::OnceLock<CpuSlots> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| CpuSlots {
        free: std::sync::Mutex::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        wake: std::sync::Condvar::new(),
    });
    let mut free = slots.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    while *free == 0 {
        free = slots.wake.wait(free).unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    *free -= 1;
    CpuSlot(slots)
}

/// Why a whole file could not be read, in words for the operator.
struct FileFailure(String);

/// How a [`FileFailure`] starts when the file was not read for want of memory, not for
/// anything in it: it is decoded again later, not failed.
const BUSY: &str = "busy: ";

impl From<anyhow::Error> for FileFailure {
    fn from(e: anyhow::Error) -> Self {
        FileFailure(format!("{e:#}"))
    }
}

/// Decodes one claimed file; `Ok(None)` when the claim was lost.
async fn decode_file(state: &IntakeState, file: &ScanFileRecord, token: &str) -> Result<Option<i64>, FileFailure> {
    let key = file.blob_key.as_deref().ok_or_else(|| FileFailure("the file was not stored".into()))?;
    let key = BlobKey::parse(key).map_err(|e| FileFailure(e.to_string()))?;
    let bytes = state
        .blobs
        .get(&key)
        .await
        .map_err(|e| FileFailure(format!("cannot read the uploaded file: {e}")))?
        .ok_or_else(|| FileFailure("the uploaded file is missing from storage".into()))?;
    let done: HashSet<i64> = {
        let mut conn = state.store.read().await.map_err(anyhow::Error::from)?;
        scan::stored_page_numbers(&mut conn, file.scan_id, file.file_index)
            .await
            .map_err(anyhow::Error::from)?
            .into_iter()
            .collect()
    };
    let searcher = page_searcher(state).await?;

    // Pages are decoded and searched on a blocking thread and handed over one at a time (the
    // channel holds two), so memory stays at a few pages whatever the file's length.
    let (sender, receiver) = mpsc::channel::<ProcessedPage>(2);
    let limits = state.config.limits.clone();
    let name = file.name.clone();
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let threads = state.config.page_threads.max(1);
    let decoder = tokio::task::spawn_blocking(move || -> Result<u32, String> {
        let reader = hybridpost_scan::input::open(&name, bytes, &limits).map_err(|e| match e {
            hybridpost_scan::input::FileError::Busy(why) => format!("{BUSY}{why}"),
            other => other.to_string(),
        })?;
        let count = reader.page_count();
        let seen_before = |hash: &str| {
            runtime
                .block_on(async {
                    let mut conn = store.read().await?;
                    scan::page_with_hash(&mut conn, hash).await
                })
                .ok()
                .flatten()
                .is_some()
        };
        let pages = reader.filter(|page| !done.contains(&i64::from(page_number(page))));
        search_pages(pages, &searcher, &seen_before, threads, &sender);
        Ok(count)
    });

    if !store_pages(state, file, token, receiver).await? {
        return Ok(None);
    }
    let count = decoder.await.map_err(|e| FileFailure(format!("the decoder stopped: {e}")))?.map_err(FileFailure)?;
    Ok(Some(i64::from(count)))
}

/// How the pages of a file are searched: the configured budget and code areas, and today's
/// trust list.
async fn page_searcher(state: &IntakeState) -> Result<Searcher, FileFailure> {
    let trust_list = state.keyring.verified_trust_list().await.map_err(|e| FileFailure(e.to_string()))?;
    Ok(Searcher {
        options: hybridpost_scan::find::FindOptions {
            budget: state.config.page_budget,
            areas: crate::code_areas(),
            dpi: None,
        },
        reply_key: state.reply_key.clone(),
        trust_list,
        today: hybridpost_keyring::today(),
        thumbnail_side: state.config.thumbnail_side,
    })
}

/// A page's position in its file, decoded or not.
fn page_number(page: &PageResult) -> u32 {
    match page {
        Ok(p) => p.number,
        Err(e) => e.number,
    }
}

/// Searches `pages` on `threads` threads, each search holding one of the process's CPU slots,
/// and hands them to `sender` in the file's order until its receiver goes away. The calling
/// thread decodes the pages, in order. At most `2 × threads + 1` pages are out at once, from
/// the one being decoded to the one being handed over: one decoding, one decoded waiting for
/// each search thread, and one being searched by each; a page searched early waits for its
/// turn within that bound.
fn search_pages(
    pages: impl Iterator<Item = PageResult>,
    searcher: &Searcher,
    seen_before: &(dyn Fn(&str) -> bool + Sync),
    threads: usize,
    sender: &mpsc::Sender<ProcessedPage>,
) {
    hybridpost_ordered::map_in_order(
        pages,
        Bounds { threads, in_flight: 2 * threads + 1 },
        |page| {
            let _slot = cpu_slot();
            match page {
                Ok(page) => searcher.process(page, seen_before),
                Err(e) => searcher.failed(e),
            }
        },
        |page| if sender.blocking_send(page).is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) },
    );
}

/// Stores the pages the decoder hands over as they come, renewing the file's claim every third
/// of a lease; `false` when the claim was lost (then the decoder stops: its receiver is gone).
async fn store_pages(
    state: &IntakeState,
    file: &ScanFileRecord,
    token: &str,
    mut receiver: mpsc::Receiver<ProcessedPage>,
) -> Result<bool, FileFailure> {
    let mut last_renewal = std::time::Instant::now();
    while let Some(page) = receiver.recv().await {
        match store_page(state, file, token, page).await? {
            PageWrite::ClaimLost => return Ok(false),
            PageWrite::Stored | PageWrite::Duplicate(_) | PageWrite::AlreadyStored => {}
        }
        if last_renewal.elapsed() > state.config.lease / 3 {
            let mut tx = state.store.begin().await.map_err(anyhow::Error::from)?;
            let ours = scan::renew_file_claim(&mut tx, file.scan_id, file.file_index, token, &until(state))
                .await
                .map_err(anyhow::Error::from)?;
            tx.commit().await.map_err(anyhow::Error::from)?;
            if !ours {
                return Ok(false);
            }
            last_renewal = std::time::Instant::now();
        }
    }
    Ok(true)
}

/// Stores a page's image and thumbnail, then its row, under the file's claim.
async fn store_page(
    state: &IntakeState,
    file: &ScanFileRecord,
    token: &str,
    mut page: ProcessedPage,
) -> anyhow::Result<PageWrite> {
    let page_id = ScanPageId::new();
    let base = format!("scans/{}/{}-{}", file.scan_id, file.file_index, page.number);
    let mut image_blob = None;
    let mut image_meta = None;
    if let Some((bytes, meta)) = page.image.take() {
        let key = format!("{base}.img");
        state.blobs.put(&BlobKey::parse(&key)?, bytes).await.context("store the page image")?;
        image_blob = Some(key);
        image_meta = Some(meta.to_string());
    }
    let mut thumbnail_blob = None;
    if let Some(png) = page.thumbnail.take() {
        let key = format!("{base}-thumb.png");
        state.blobs.put(&BlobKey::parse(&key)?, png).await.context("store the page thumbnail")?;
        thumbnail_blob = Some(key);
    }
    let row = NewScanPage {
        page_id,
        scan_id: file.scan_id,
        file_index: file.file_index,
        page_number: i64::from(page.number),
        entry: page.entry.take(),
        content_hash: page.content_hash.take(),
        image_blob,
        image_meta,
        thumbnail_blob,
        quarter_turns: i64::from(page.quarter_turns),
        mark: mark_json(&page.mark).to_string(),
        decode_log: Some(page.decode_log.to_string()),
        decode_ms: page.decode_ms,
    };
    let mut tx = state.store.begin().await?;
    let written = scan::insert_page(&mut tx, &row, token, &now_text()).await?;
    tx.commit().await?;
    metrics::counter!("hybridpost_scan_pages_total").increment(1);
    if page.duplicate {
        metrics::counter!("hybridpost_scan_duplicate_pages_total").increment(1);
    }
    metrics::histogram!("hybridpost_scan_page_seconds").record(page.decode_ms as f64 / 1000.0);
    Ok(written)
}

/// Claims one batch whose files are all decoded and groups its pages into replies, returns and
/// review, in one transaction. Returns whether there was one.
pub async fn group_next_scan(state: &IntakeState) -> anyhow::Result<bool> {
    let claim = until(state);
    let scan = {
        let mut tx = state.store.begin().await?;
        let scan = scan::claim_grouping(&mut tx, &now_text(), &claim).await?;
        tx.commit().await?;
        scan
    };
    let Some(scan) = scan else { return Ok(false) };
    crate::matching::group_scan(state, &scan, &claim).await?;
    Ok(true)
}
