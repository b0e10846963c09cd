//! Scan back: batches of scanned files uploaded by post-office sites, the pages decoded from
//! them, the replies rebuilt from those pages, and the review queue.
//!
//! Decoding is claimed per file, so several workers (on PostgreSQL, several nodes) share one
//! batch: a claim is a conditional update that hands out a claim token, and every page a
//! worker writes is checked against that token in the same transaction, so a worker whose claim
//! ran out (and was taken over) cannot write a page twice. Once every file of a batch is
//! decoded, one worker claims the batch for grouping and writes its replies, returns and review
//! pages in one transaction.

use hybridpost_core::{
    AgencyId, AgencyScope, LetterId, PageOutcome, ReplyId, ReplySource, ScanFileStatus, ScanId, ScanMode, ScanPageId,
    ScanStatus, SiteId,
};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, conflict_or};

/// A batch as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanRecord {
    /// Its id.
    pub scan_id: ScanId,
    /// The site that uploaded it.
    pub site_id: SiteId,
    /// Replies or returns.
    pub mode: ScanMode,
    /// For returns, why the letters came back.
    pub return_reason: Option<String>,
    /// Where the batch is.
    pub status: ScanStatus,
    /// Files uploaded.
    pub file_count: i64,
    /// The grouping worker's claim.
    pub claimed_until: Option<String>,
    /// The upload's request id.
    pub request_id: Option<String>,
    /// When it was uploaded.
    pub created_at: String,
    /// When its pages were grouped.
    pub finished_at: Option<String>,
}

/// A file of a batch, to store with it.
#[derive(Clone, Debug)]
pub struct NewScanFile {
    /// The uploaded name.
    pub name: String,
    /// Its size.
    pub size_bytes: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Where its bytes are; `None` for a file refused at upload.
    pub blob_key: Option<String>,
    /// Why it was refused at upload.
    pub refused: Option<String>,
}

/// A file as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanFileRecord {
    /// Its batch.
    pub scan_id: ScanId,
    /// Upload order, from 1.
    pub file_index: i64,
    /// The uploaded name.
    pub name: String,
    /// Its size.
    pub size_bytes: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Where its bytes are.
    pub blob_key: Option<String>,
    /// Where the file is.
    pub status: ScanFileStatus,
    /// Why the file could not be read.
    pub error: Option<String>,
    /// Pages found in it.
    pub page_count: Option<i64>,
    /// The claim token of the worker decoding it.
    pub claim_token: Option<String>,
}

/// A decoded page to store (and, in [`ScanPageRecord`], as stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewScanPage {
    /// Its id.
    pub page_id: ScanPageId,
    /// Its batch.
    pub scan_id: ScanId,
    /// Its file.
    pub file_index: i64,
    /// Its position in the file, from 1.
    pub page_number: i64,
    /// The zip entry.
    pub entry: Option<String>,
    /// SHA-256 of its pixels, hex.
    pub content_hash: Option<String>,
    /// The stored image.
    pub image_blob: Option<String>,
    /// The stored image's filter and parameters, JSON.
    pub image_meta: Option<String>,
    /// Its thumbnail.
    pub thumbnail_blob: Option<String>,
    /// Quarter turns that make it upright.
    pub quarter_turns: i64,
    /// What its codes said, JSON.
    pub mark: String,
    /// How it was searched, JSON.
    pub decode_log: Option<String>,
    /// Time spent decoding and searching it.
    pub decode_ms: i64,
}

/// A page as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanPageRecord {
    /// What the decoding worker wrote.
    pub page: NewScanPage,
    /// The earlier page with the same content.
    pub duplicate_of: Option<ScanPageId>,
    /// What became of it.
    pub outcome: PageOutcome,
    /// The letter it was matched or assigned to.
    pub letter_id: Option<LetterId>,
    /// The reply it is part of.
    pub reply_id: Option<ReplyId>,
    /// Why it went to review (a code such as `no_code`).
    pub review_reason: Option<String>,
    /// Why, in words.
    pub review_detail: Option<String>,
    /// When an operator dealt with it.
    pub reviewed_at: Option<String>,
    /// The key of the operator who did.
    pub reviewed_by: Option<String>,
    /// Why it was discarded.
    pub discard_reason: Option<String>,
    /// The claim token of the worker that decoded it.
    pub decoded_by: Option<String>,
    /// When it was decoded.
    pub created_at: String,
}

/// A reply as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyRecord {
    /// Its id.
    pub reply_id: ReplyId,
    /// The letter replied to.
    pub letter_id: LetterId,
    /// The letter's agency.
    pub agency_id: AgencyId,
    /// The batch it came in.
    pub scan_id: ScanId,
    /// The site that scanned it.
    pub site_id: SiteId,
    /// Pages in its PDF.
    pub page_count: i64,
    /// Reply-sheet pages that did not arrive.
    pub missing_pages: Vec<i64>,
    /// Whether the reply pages were scanned out of order.
    pub out_of_order: bool,
    /// Matched by its codes or assigned in review.
    pub source: ReplySource,
    /// Where its PDF is.
    pub pdf_blob: String,
    /// SHA-256 of the PDF, hex.
    pub pdf_sha256: String,
    /// Size of the PDF.
    pub pdf_bytes: i64,
    /// When it was made.
    pub created_at: String,
    /// The answer read from its tick boxes, JSON as the intake writes it; `None` when it has no
    /// question.
    pub answer: Option<String>,
    /// Until when it waits for its missing pages (RFC 3339) before the agency is told; `None`
    /// once the agency was told.
    pub waiting_until: Option<String>,
    /// How its answer stands: `answered`, `no_answer`, `needs_review` (in the site's queue of
    /// answers to check by eye) or `not_read` (the page with the boxes never came); `None`
    /// without a question.
    pub answer_status: Option<String>,
}

const SCAN_COLUMNS: &str = "scan_id, site_id, mode, return_reason, status, file_count, claimed_until, request_id, \
                            created_at, finished_at";
const FILE_COLUMNS: &str =
    "scan_id, file_index, name, size_bytes, sha256, blob_key, status, error, page_count, claim_token";
const PAGE_COLUMNS: &str = "page_id, scan_id, file_index, page_number, entry, content_hash, duplicate_of, image_blob, \
                            image_meta, thumbnail_blob, quarter_turns, mark, decode_log, decode_ms, outcome, letter_id, \
                            reply_id, review_reason, review_detail, reviewed_at, reviewed_by, discard_reason, \
                            decoded_by, created_at";
const REPLY_COLUMNS: &str = "reply_id, letter_id, agency_id, scan_id, site_id, page_count, missing_pages, out_of_order, \
                             source, pdf_blob, pdf_sha256, pdf_bytes, created_at, answer, waiting_until, \
                             answer_status";

/// Stores a new batch and its files. Files refused at upload are stored `failed` with why.
#[expect(clippy::too_many_arguments, reason = "the columns of one row")]
pub async fn create_scan(
    conn: &mut AnyConnection,
    scan_id: ScanId,
    site_id: SiteId,
    mode: ScanMode,
    return_reason: Option<&str>,
    files: &[NewScanFile],
    request_id: Option<&str>,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "insert into scan_batch (scan_id, site_id, mode, return_reason, status, file_count, request_id, created_at) \
         values ($1, $2, $3, $4, 'decoding', $5, $6, $7)",
    )
    .bind(scan_id.to_string())
    .bind(site_id.to_string())
    .bind(mode.as_str())
    .bind(return_reason)
    .bind(i64::try_from(files.len()).map_err(|_| StoreError::Invalid("too many files".into()))?)
    .bind(request_id)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, "scan batch"))?;
    for (i, f) in files.iter().enumerate() {
        let status = if f.refused.is_some() { ScanFileStatus::Failed } else { ScanFileStatus::Pending };
        sqlx::query(
            "insert into scan_file (scan_id, file_index, name, size_bytes, sha256, blob_key, status, error, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(scan_id.to_string())
        .bind(i64::try_from(i + 1).unwrap_or(i64::MAX))
        .bind(&f.name)
        .bind(f.size_bytes)
        .bind(&f.sha256)
        .bind(f.blob_key.as_deref())
        .bind(status.as_str())
        .bind(f.refused.as_deref())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A batch, if it exists and (when `site_id` is given) belongs to that site.
pub async fn get_scan(
    conn: &mut AnyConnection,
    site_id: Option<SiteId>,
    scan_id: ScanId,
) -> Result<Option<ScanRecord>> {
    let row = sqlx::query(&format!("select {SCAN_COLUMNS} from scan_batch where scan_id = $1"))
        .bind(scan_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let scan = scan_from_row(&row)?;
    Ok(site_id.is_none_or(|s| s == scan.site_id).then_some(scan))
}

/// The site's batches, newest first, up to `limit`, before the batch `before` if given.
pub async fn list_scans(
    conn: &mut AnyConnection,
    site_id: SiteId,
    before: Option<ScanId>,
    limit: i64,
) -> Result<Vec<ScanRecord>> {
    let rows = sqlx::query(&format!(
        "select {SCAN_COLUMNS} from scan_batch where site_id = $1 and ($2 = '' or scan_id < $2) \
         order by scan_id desc limit $3"
    ))
    .bind(site_id.to_string())
    .bind(before.map(|b| b.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(scan_from_row).collect()
}

/// The files of a batch, in upload order.
pub async fn scan_files(conn: &mut AnyConnection, scan_id: ScanId) -> Result<Vec<ScanFileRecord>> {
    let rows = sqlx::query(&format!("select {FILE_COLUMNS} from scan_file where scan_id = $1 order by file_index"))
        .bind(scan_id.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(file_from_row).collect()
}

/// The pages of a batch, in scan order (file, then page).
pub async fn scan_pages(conn: &mut AnyConnection, scan_id: ScanId) -> Result<Vec<ScanPageRecord>> {
    let rows = sqlx::query(&format!(
        "select {PAGE_COLUMNS} from scan_page where scan_id = $1 order by file_index, page_number"
    ))
    .bind(scan_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(page_from_row).collect()
}

/// Claims a file to decode (pending, or claimed by a worker whose claim ran out) until
/// `until`, under the new claim `token`. Safe with many workers.
pub async fn claim_file(
    conn: &mut AnyConnection,
    now: &str,
    until: &str,
    token: &str,
) -> Result<Option<ScanFileRecord>> {
    for _ in 0..8 {
        let candidate = sqlx::query(
            "select scan_id, file_index from scan_file where status = 'pending' \
             or (status = 'decoding' and claimed_until < $1) order by created_at, scan_id, file_index limit 1",
        )
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = candidate else { return Ok(None) };
        let scan_id: String = row.try_get(0)?;
        let file_index: i64 = row.try_get(1)?;
        let claimed = sqlx::query(
            "update scan_file set status = 'decoding', claimed_until = $1, claim_token = $2 \
             where scan_id = $3 and file_index = $4 and (status = 'pending' or (status = 'decoding' and claimed_until < $5))",
        )
        .bind(until)
        .bind(token)
        .bind(&scan_id)
        .bind(file_index)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if claimed == 1 {
            let row =
                sqlx::query(&format!("select {FILE_COLUMNS} from scan_file where scan_id = $1 and file_index = $2"))
                    .bind(&scan_id)
                    .bind(file_index)
                    .fetch_one(&mut *conn)
                    .await?;
            return file_from_row(&row).map(Some);
        }
    }
    Ok(None)
}

/// Extends the claim on a file, checking it is still ours; `false` when another worker took
/// it over.
pub async fn renew_file_claim(
    conn: &mut AnyConnection,
    scan_id: ScanId,
    file_index: i64,
    token: &str,
    until: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update scan_file set claimed_until = $1 where scan_id = $2 and file_index = $3 and claim_token = $4 \
         and status = 'decoding'",
    )
    .bind(until)
    .bind(scan_id.to_string())
    .bind(file_index)
    .bind(token)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Page numbers of a file already stored (a worker that takes over a file skips them).
pub async fn stored_page_numbers(conn: &mut AnyConnection, scan_id: ScanId, file_index: i64) -> Result<Vec<i64>> {
    let rows = sqlx::query("select page_number from scan_page where scan_id = $1 and file_index = $2")
        .bind(scan_id.to_string())
        .bind(file_index)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The first page seen with this content, if any.
pub async fn page_with_hash(conn: &mut AnyConnection, content_hash: &str) -> Result<Option<ScanPageId>> {
    let row = sqlx::query("select page_id from scan_page_hash where content_hash = $1")
        .bind(content_hash)
        .fetch_optional(conn)
        .await?;
    row.map(|r| parse_id(&r.try_get::<String, _>(0)?)).transpose()
}

/// What became of a page written with [`insert_page`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageWrite {
    /// Stored, first of its content.
    Stored,
    /// Stored as a duplicate of an earlier page.
    Duplicate(ScanPageId),
    /// Not stored: the file's claim is no longer this worker's (another took it over).
    ClaimLost,
    /// Not stored: the page was already stored (by an earlier claim on the file).
    AlreadyStored,
}

/// Stores a decoded page if the file's claim is still `token`'s, in the caller's transaction.
/// A page whose content was seen before is stored as a duplicate of the first one.
pub async fn insert_page(conn: &mut AnyConnection, page: &NewScanPage, token: &str, now: &str) -> Result<PageWrite> {
    // Locks the file's row (PostgreSQL) until commit: a worker taking the file over waits.
    let ours = sqlx::query(
        "update scan_file set claim_token = claim_token where scan_id = $1 and file_index = $2 and claim_token = $3 \
         and status = 'decoding'",
    )
    .bind(page.scan_id.to_string())
    .bind(page.file_index)
    .bind(token)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if ours != 1 {
        return Ok(PageWrite::ClaimLost);
    }
    let mut duplicate_of = None;
    if let Some(hash) = &page.content_hash {
        let first = sqlx::query(
            "insert into scan_page_hash (content_hash, page_id, created_at) values ($1, $2, $3) \
             on conflict (content_hash) do nothing",
        )
        .bind(hash)
        .bind(page.page_id.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if first == 0 {
            duplicate_of = page_with_hash(conn, hash).await?;
        }
    }
    let outcome = if duplicate_of.is_some() { PageOutcome::Duplicate } else { PageOutcome::Decoded };
    let inserted = sqlx::query(
        "insert into scan_page (page_id, scan_id, file_index, page_number, entry, content_hash, duplicate_of, \
         image_blob, image_meta, thumbnail_blob, quarter_turns, mark, decode_log, decode_ms, outcome, decoded_by, \
         created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         on conflict (scan_id, file_index, page_number) do nothing",
    )
    .bind(page.page_id.to_string())
    .bind(page.scan_id.to_string())
    .bind(page.file_index)
    .bind(page.page_number)
    .bind(page.entry.as_deref())
    .bind(page.content_hash.as_deref())
    .bind(duplicate_of.map(|d| d.to_string()))
    .bind(page.image_blob.as_deref())
    .bind(page.image_meta.as_deref())
    .bind(page.thumbnail_blob.as_deref())
    .bind(page.quarter_turns)
    .bind(&page.mark)
    .bind(page.decode_log.as_deref())
    .bind(page.decode_ms)
    .bind(outcome.as_str())
    .bind(token)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(PageWrite::AlreadyStored);
    }
    Ok(match duplicate_of {
        Some(first) => PageWrite::Duplicate(first),
        None => PageWrite::Stored,
    })
}

/// Marks a file decoded (`error` = `None`) or failed, if the claim is still `token`'s.
pub async fn finish_file(
    conn: &mut AnyConnection,
    scan_id: ScanId,
    file_index: i64,
    token: &str,
    page_count: i64,
    error: Option<&str>,
    now: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update scan_file set status = $1, error = $2, page_count = $3, decoded_at = $4, claimed_until = null \
         where scan_id = $5 and file_index = $6 and claim_token = $7 and status = 'decoding'",
    )
    .bind(if error.is_some() { "failed" } else { "done" })
    .bind(error)
    .bind(page_count)
    .bind(now)
    .bind(scan_id.to_string())
    .bind(file_index)
    .bind(token)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Claims a batch whose files are all decoded (or whose grouping worker's claim ran out) for
/// grouping, until `until`.
pub async fn claim_grouping(conn: &mut AnyConnection, now: &str, until: &str) -> Result<Option<ScanRecord>> {
    for _ in 0..8 {
        let candidate: Option<String> = sqlx::query(
            "select scan_id from scan_batch b where (status = 'decoding' and not exists \
             (select 1 from scan_file f where f.scan_id = b.scan_id and f.status in ('pending', 'decoding'))) \
             or (status = 'grouping' and claimed_until < $1) order by created_at, scan_id limit 1",
        )
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let Some(scan_id) = candidate else { return Ok(None) };
        let claimed = sqlx::query(
            "update scan_batch set status = 'grouping', claimed_until = $1 where scan_id = $2 and \
             ((status = 'decoding' and not exists (select 1 from scan_file f where f.scan_id = $2 \
             and f.status in ('pending', 'decoding'))) or (status = 'grouping' and claimed_until < $3))",
        )
        .bind(until)
        .bind(&scan_id)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if claimed == 1 {
            return get_scan(conn, None, parse_id(&scan_id)?).await;
        }
    }
    Ok(None)
}

/// Marks a batch grouped, if the grouping claim `claimed_until` is still the one taken.
/// Run it last in the transaction that writes the batch's replies and outcomes: when it says
/// `false`, roll back.
pub async fn finish_scan(conn: &mut AnyConnection, scan_id: ScanId, claimed_until: &str, now: &str) -> Result<bool> {
    let n = sqlx::query(
        "update scan_batch set status = 'done', finished_at = $1, claimed_until = null \
         where scan_id = $2 and status = 'grouping' and claimed_until = $3",
    )
    .bind(now)
    .bind(scan_id.to_string())
    .bind(claimed_until)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// What became of a page after grouping or review.
#[derive(Clone, Debug)]
pub struct PageDecision<'a> {
    /// The new outcome.
    pub outcome: PageOutcome,
    /// The letter.
    pub letter_id: Option<LetterId>,
    /// The reply.
    pub reply_id: Option<ReplyId>,
    /// Review reason code.
    pub review_reason: Option<&'a str>,
    /// Review reason in words.
    pub review_detail: Option<&'a str>,
}

impl<'a> PageDecision<'a> {
    /// The page belongs to `letter_id` (matched, returned or assigned), in `reply_id` if any.
    pub fn letter(outcome: PageOutcome, letter_id: LetterId, reply_id: Option<ReplyId>) -> Self {
        PageDecision { outcome, letter_id: Some(letter_id), reply_id, review_reason: None, review_detail: None }
    }

    /// The page waits for an operator, for `reason` (a code) and `detail` (in words).
    pub fn review(reason: &'a str, detail: &'a str) -> Self {
        PageDecision {
            outcome: PageOutcome::Review,
            letter_id: None,
            reply_id: None,
            review_reason: Some(reason),
            review_detail: Some(detail),
        }
    }
}

/// Records a page's outcome.
pub async fn set_page_outcome(conn: &mut AnyConnection, page_id: ScanPageId, o: &PageDecision<'_>) -> Result<()> {
    sqlx::query(
        "update scan_page set outcome = $1, letter_id = $2, reply_id = $3, review_reason = $4, review_detail = $5 \
         where page_id = $6",
    )
    .bind(o.outcome.as_str())
    .bind(o.letter_id.map(|l| l.to_string()))
    .bind(o.reply_id.map(|r| r.to_string()))
    .bind(o.review_reason)
    .bind(o.review_detail)
    .bind(page_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an operator's decision on a page in review (`assigned` or `discarded`), if it is
/// still in review; `false` when it is not (another operator was first).
#[expect(clippy::too_many_arguments, reason = "the columns of one decision")]
pub async fn resolve_review(
    conn: &mut AnyConnection,
    page_id: ScanPageId,
    outcome: PageOutcome,
    letter_id: Option<LetterId>,
    reply_id: Option<ReplyId>,
    discard_reason: Option<&str>,
    key_id: &str,
    now: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update scan_page set outcome = $1, letter_id = $2, reply_id = $3, discard_reason = $4, reviewed_by = $5, \
         reviewed_at = $6 where page_id = $7 and outcome = 'review'",
    )
    .bind(outcome.as_str())
    .bind(letter_id.map(|l| l.to_string()))
    .bind(reply_id.map(|r| r.to_string()))
    .bind(discard_reason)
    .bind(key_id)
    .bind(now)
    .bind(page_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A page of the site's batches, if it exists.
pub async fn get_page(
    conn: &mut AnyConnection,
    site_id: SiteId,
    page_id: ScanPageId,
) -> Result<Option<ScanPageRecord>> {
    let row = sqlx::query(&format!(
        "select {} from scan_page p join scan_batch b on b.scan_id = p.scan_id where p.page_id = $1 and b.site_id = $2",
        prefixed(PAGE_COLUMNS, "p")
    ))
    .bind(page_id.to_string())
    .bind(site_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(page_from_row).transpose()
}

/// The site's pages waiting in review, oldest first, after `after` if given.
pub async fn review_pages(
    conn: &mut AnyConnection,
    site_id: SiteId,
    after: Option<ScanPageId>,
    limit: i64,
) -> Result<Vec<ScanPageRecord>> {
    let rows = sqlx::query(&format!(
        "select {} from scan_page p join scan_batch b on b.scan_id = p.scan_id \
         where p.outcome = 'review' and b.site_id = $1 and ($2 = '' or p.page_id > $2) order by p.page_id limit $3",
        prefixed(PAGE_COLUMNS, "p")
    ))
    .bind(site_id.to_string())
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(page_from_row).collect()
}

/// At most `limit` pages of a batch in scan order after the first `skip`, only those with
/// `outcome` when given (a page of them, for a screen).
pub async fn scan_pages_from(
    conn: &mut AnyConnection,
    scan_id: ScanId,
    outcome: Option<PageOutcome>,
    skip: i64,
    limit: i64,
) -> Result<Vec<ScanPageRecord>> {
    let rows = sqlx::query(&format!(
        "select {PAGE_COLUMNS} from scan_page where scan_id = $1 and ($2 = '' or outcome = $2) \
         order by file_index, page_number limit $3 offset $4"
    ))
    .bind(scan_id.to_string())
    .bind(outcome.map(|o| o.as_str()).unwrap_or_default())
    .bind(limit)
    .bind(skip)
    .fetch_all(conn)
    .await?;
    rows.iter().map(page_from_row).collect()
}

/// How many of the site's pages wait in review.
pub async fn count_review(conn: &mut AnyConnection, site_id: SiteId) -> Result<i64> {
    Ok(sqlx::query(
        "select count(*) from scan_page p join scan_batch b on b.scan_id = p.scan_id \
         where p.outcome = 'review' and b.site_id = $1",
    )
    .bind(site_id.to_string())
    .fetch_one(conn)
    .await?
    .try_get(0)?)
}

/// The pages of `page`'s batch that wait in review after it (file, then page), at most `limit`.
pub async fn review_after(conn: &mut AnyConnection, page: &NewScanPage, limit: i64) -> Result<Vec<ScanPageRecord>> {
    let rows = sqlx::query(&format!(
        "select {PAGE_COLUMNS} from scan_page where scan_id = $1 and outcome = 'review' \
         and (file_index > $2 or (file_index = $2 and page_number > $3)) order by file_index, page_number limit $4"
    ))
    .bind(page.scan_id.to_string())
    .bind(page.file_index)
    .bind(page.page_number)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(page_from_row).collect()
}

/// Stores a reply.
pub async fn insert_reply(conn: &mut AnyConnection, r: &ReplyRecord) -> Result<()> {
    sqlx::query(&format!(
        "insert into reply ({REPLY_COLUMNS}) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(r.reply_id.to_string())
    .bind(r.letter_id.to_string())
    .bind(r.agency_id.to_string())
    .bind(r.scan_id.to_string())
    .bind(r.site_id.to_string())
    .bind(r.page_count)
    .bind(serde_json::to_string(&r.missing_pages).expect("numbers serialise"))
    .bind(i64::from(r.out_of_order))
    .bind(r.source.as_str())
    .bind(&r.pdf_blob)
    .bind(&r.pdf_sha256)
    .bind(r.pdf_bytes)
    .bind(&r.created_at)
    .bind(r.answer.as_deref())
    .bind(r.waiting_until.as_deref())
    .bind(r.answer_status.as_deref())
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "reply"))?;
    Ok(())
}

/// The reply to `letter_id` from `site_id` still waiting at `now` for missing pages, the
/// newest when there are several.
pub async fn waiting_reply(
    conn: &mut AnyConnection,
    letter_id: LetterId,
    site_id: SiteId,
    now: &str,
) -> Result<Option<ReplyRecord>> {
    let row = sqlx::query(&format!(
        "select {REPLY_COLUMNS} from reply where letter_id = $1 and site_id = $2 \
         and waiting_until is not null and waiting_until > $3 order by created_at desc, reply_id limit 1"
    ))
    .bind(letter_id.to_string())
    .bind(site_id.to_string())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(reply_from_row).transpose()
}

/// A waiting reply with the pages of a later upload joined in: its page count, missing pages,
/// order, PDF, answer and wait. Only while it still waits until `was_waiting_until` with
/// `was_page_count` pages (another worker has neither joined nor told it); returns whether it
/// did.
pub async fn update_joined_reply(
    conn: &mut AnyConnection,
    r: &ReplyRecord,
    was_waiting_until: &str,
    was_page_count: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "update reply set page_count = $1, missing_pages = $2, out_of_order = $3, pdf_blob = $4, pdf_sha256 = $5, \
         pdf_bytes = $6, answer = $7, waiting_until = $8, answer_status = $9 where reply_id = $10 \
         and waiting_until = $11 and page_count = $12",
    )
    .bind(r.page_count)
    .bind(serde_json::to_string(&r.missing_pages).expect("numbers serialise"))
    .bind(i64::from(r.out_of_order))
    .bind(&r.pdf_blob)
    .bind(&r.pdf_sha256)
    .bind(r.pdf_bytes)
    .bind(r.answer.as_deref())
    .bind(r.waiting_until.as_deref())
    .bind(r.answer_status.as_deref())
    .bind(r.reply_id.to_string())
    .bind(was_waiting_until)
    .bind(was_page_count)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replies whose wait for missing pages ended by `now`, oldest first, at most `limit`.
pub async fn replies_done_waiting(conn: &mut AnyConnection, now: &str, limit: i64) -> Result<Vec<ReplyRecord>> {
    let rows = sqlx::query(&format!(
        "select {REPLY_COLUMNS} from reply where waiting_until is not null and waiting_until <= $1 \
         order by waiting_until, reply_id limit $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(reply_from_row).collect()
}

/// Ends a reply's wait (it is told now); false when another worker ended it first.
pub async fn end_reply_wait(conn: &mut AnyConnection, reply_id: ReplyId, was_waiting_until: &str) -> Result<bool> {
    let done = sqlx::query("update reply set waiting_until = null where reply_id = $1 and waiting_until = $2")
        .bind(reply_id.to_string())
        .bind(was_waiting_until)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The site's replies whose answer a person must read (`answer_status` `needs_review`),
/// oldest first, after `after` (a reply id, for paging), at most `limit`.
pub async fn answers_to_review(
    conn: &mut AnyConnection,
    site_id: SiteId,
    after: Option<ReplyId>,
    limit: i64,
) -> Result<Vec<ReplyRecord>> {
    let rows = sqlx::query(&format!(
        "select {REPLY_COLUMNS} from reply where site_id = $1 and answer_status = 'needs_review' \
         and ($2 = '' or reply_id > $2) order by reply_id limit $3"
    ))
    .bind(site_id.to_string())
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(reply_from_row).collect()
}

/// How many of the site's replies have an answer a person must read.
pub async fn count_answers_to_review(conn: &mut AnyConnection, site_id: SiteId) -> Result<i64> {
    let row = sqlx::query("select count(*) as n from reply where site_id = $1 and answer_status = 'needs_review'")
        .bind(site_id.to_string())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// One of the site's replies.
pub async fn site_reply(conn: &mut AnyConnection, site_id: SiteId, reply_id: ReplyId) -> Result<Option<ReplyRecord>> {
    let row = sqlx::query(&format!("select {REPLY_COLUMNS} from reply where reply_id = $1 and site_id = $2"))
        .bind(reply_id.to_string())
        .bind(site_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(reply_from_row).transpose()
}

/// Records the answer a person read on a reply whose answer was in review; false when it is
/// no longer in review (another person decided first).
pub async fn set_reviewed_answer(
    conn: &mut AnyConnection,
    reply_id: ReplyId,
    answer: &str,
    answer_status: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "update reply set answer = $1, answer_status = $2 where reply_id = $3 and answer_status = 'needs_review'",
    )
    .bind(answer)
    .bind(answer_status)
    .bind(reply_id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The pages of a reply, in the order they were scanned (batch by batch: batch ids grow with
/// time).
pub async fn reply_pages(conn: &mut AnyConnection, reply_id: ReplyId) -> Result<Vec<ScanPageRecord>> {
    let rows = sqlx::query(&format!(
        "select {PAGE_COLUMNS} from scan_page where reply_id = $1 order by scan_id, file_index, page_number"
    ))
    .bind(reply_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(page_from_row).collect()
}

/// The replies to one of the agency's letters, oldest first.
pub async fn letter_replies(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    letter_id: LetterId,
) -> Result<Vec<ReplyRecord>> {
    let rows = sqlx::query(&format!(
        "select {REPLY_COLUMNS} from reply where letter_id = $1 and agency_id = $2 \
         and exists (select 1 from letter l where l.letter_id = reply.letter_id and l.test = $3) \
         order by created_at, reply_id"
    ))
    .bind(letter_id.to_string())
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .fetch_all(conn)
    .await?;
    rows.iter().map(reply_from_row).collect()
}

/// One of the agency's replies to a letter of the caller's mode.
pub async fn get_reply(conn: &mut AnyConnection, scope: AgencyScope, reply_id: ReplyId) -> Result<Option<ReplyRecord>> {
    let row = sqlx::query(&format!(
        "select {REPLY_COLUMNS} from reply where reply_id = $1 and agency_id = $2 \
         and exists (select 1 from letter l where l.letter_id = reply.letter_id and l.test = $3)"
    ))
    .bind(reply_id.to_string())
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(reply_from_row).transpose()
}

/// Counts of pages by outcome, for a batch or (with `None`) everywhere.
pub async fn page_outcomes(conn: &mut AnyConnection, scan_id: Option<ScanId>) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "select outcome, count(*) from scan_page where ($1 = '' or scan_id = $1) group by outcome order by outcome",
    )
    .bind(scan_id.map(|s| s.to_string()).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

fn prefixed(columns: &str, table: &str) -> String {
    columns.split(',').map(|c| format!("{table}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// A stored name of one of core's closed sets; another is corrupt data, not a 500 later on.
fn wire<T: std::str::FromStr<Err = hybridpost_core::UnknownName>>(r: &sqlx::any::AnyRow, col: &str) -> Result<T> {
    r.try_get::<String, _>(col)?.parse().map_err(|e| StoreError::Corrupt(format!("scan {col}: {e}")))
}

fn opt_id<T: std::str::FromStr>(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<T>> {
    r.try_get::<Option<String>, _>(col)?.map(|s| parse_id(&s)).transpose()
}

fn scan_from_row(r: &sqlx::any::AnyRow) -> Result<ScanRecord> {
    Ok(ScanRecord {
        scan_id: parse_id(&r.try_get::<String, _>("scan_id")?)?,
        site_id: parse_id(&r.try_get::<String, _>("site_id")?)?,
        mode: wire(r, "mode")?,
        return_reason: r.try_get("return_reason")?,
        status: wire(r, "status")?,
        file_count: r.try_get("file_count")?,
        claimed_until: r.try_get("claimed_until")?,
        request_id: r.try_get("request_id")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn file_from_row(r: &sqlx::any::AnyRow) -> Result<ScanFileRecord> {
    Ok(ScanFileRecord {
        scan_id: parse_id(&r.try_get::<String, _>("scan_id")?)?,
        file_index: r.try_get("file_index")?,
        name: r.try_get("name")?,
        size_bytes: r.try_get("size_bytes")?,
        sha256: r.try_get("sha256")?,
        blob_key: r.try_get("blob_key")?,
        status: wire(r, "status")?,
        error: r.try_get("error")?,
        page_count: r.try_get("page_count")?,
        claim_token: r.try_get("claim_token")?,
    })
}

fn page_from_row(r: &sqlx::any::AnyRow) -> Result<ScanPageRecord> {
    Ok(ScanPageRecord {
        page: NewScanPage {
            page_id: parse_id(&r.try_get::<String, _>("page_id")?)?,
            scan_id: parse_id(&r.try_get::<String, _>("scan_id")?)?,
            file_index: r.try_get("file_index")?,
            page_number: r.try_get("page_number")?,
            entry: r.try_get("entry")?,
            content_hash: r.try_get("content_hash")?,
            image_blob: r.try_get("image_blob")?,
            image_meta: r.try_get("image_meta")?,
            thumbnail_blob: r.try_get("thumbnail_blob")?,
            quarter_turns: r.try_get("quarter_turns")?,
            mark: r.try_get("mark")?,
            decode_log: r.try_get("decode_log")?,
            decode_ms: r.try_get("decode_ms")?,
        },
        duplicate_of: opt_id(r, "duplicate_of")?,
        outcome: wire(r, "outcome")?,
        letter_id: opt_id(r, "letter_id")?,
        reply_id: opt_id(r, "reply_id")?,
        review_reason: r.try_get("review_reason")?,
        review_detail: r.try_get("review_detail")?,
        reviewed_at: r.try_get("reviewed_at")?,
        reviewed_by: r.try_get("reviewed_by")?,
        discard_reason: r.try_get("discard_reason")?,
        decoded_by: r.try_get("decoded_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn reply_from_row(r: &sqlx::any::AnyRow) -> Result<ReplyRecord> {
    let missing: String = r.try_get("missing_pages")?;
    Ok(ReplyRecord {
        reply_id: parse_id(&r.try_get::<String, _>("reply_id")?)?,
        letter_id: parse_id(&r.try_get::<String, _>("letter_id")?)?,
        agency_id: parse_id(&r.try_get::<String, _>("agency_id")?)?,
        scan_id: parse_id(&r.try_get::<String, _>("scan_id")?)?,
        site_id: parse_id(&r.try_get::<String, _>("site_id")?)?,
        page_count: r.try_get("page_count")?,
        missing_pages: serde_json::from_str(&missing)
            .map_err(|e| StoreError::Corrupt(format!("reply missing_pages {missing:?}: {e}")))?,
        out_of_order: r.try_get::<i64, _>("out_of_order")? != 0,
        source: wire(r, "source")?,
        pdf_blob: r.try_get("pdf_blob")?,
        pdf_sha256: r.try_get("pdf_sha256")?,
        pdf_bytes: r.try_get("pdf_bytes")?,
        created_at: r.try_get("created_at")?,
        answer: r.try_get("answer")?,
        waiting_until: r.try_get("waiting_until")?,
        answer_status: r.try_get("answer_status")?,
    })
}

/// A letter that came back undelivered, as a site's returns list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteReturn {
    /// The letter.
    pub letter: crate::letters::LetterRecord,
    /// When its first returned page was scanned.
    pub returned_at: String,
    /// Why, as the operator chose for the scan (`None` for a stored name no longer known).
    pub reason: Option<hybridpost_core::ReturnReason>,
    /// The agency's name.
    pub agency_name: String,
}

/// Whose returns: a print site's (scanned there), or an agency's live letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnsOf {
    /// Letters scanned as returns at this site.
    Site(SiteId),
    /// This agency's letters (live ones: test letters are never posted).
    Agency(AgencyId),
}

/// Letters returned (scanned as returns) since `since`, newest first, at most `limit`: those
/// of a site or of an agency.
pub async fn returns_since(
    conn: &mut AnyConnection,
    of: ReturnsOf,
    since: &str,
    limit: i64,
) -> Result<Vec<SiteReturn>> {
    let (inner, outer, id) = match of {
        ReturnsOf::Site(site) => ("and b.site_id = $1", "", site.to_string()),
        ReturnsOf::Agency(agency) => ("", "where l.agency_id = $1 and l.test = 0", agency.to_string()),
    };
    let rows = sqlx::query(&format!(
        "select {}, r.returned_at, r.reason, a.name as agency_name from (select p.letter_id, \
         min(p.created_at) as returned_at, min(b.return_reason) as reason from scan_page p \
         join scan_batch b on b.scan_id = p.scan_id where p.outcome = 'returned' {inner} \
         and p.created_at >= $2 group by p.letter_id) r join letter l on l.letter_id = r.letter_id \
         join agency a on a.agency_id = l.agency_id {outer} order by r.returned_at desc, l.letter_id limit $3",
        prefixed(crate::letters::COLUMNS, "l")
    ))
    .bind(id)
    .bind(since)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let reason: Option<String> = r.try_get("reason")?;
            Ok(SiteReturn {
                letter: crate::letters::from_row(r)?,
                returned_at: r.try_get("returned_at")?,
                reason: reason.and_then(|r| r.parse().ok()),
                agency_name: r.try_get("agency_name")?,
            })
        })
        .collect()
}

/// A reply as an agency's inbox lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxReply {
    /// The reply.
    pub reply: ReplyRecord,
    /// Its letter's reference.
    pub reference: String,
    /// Its letter's recipient.
    pub recipient_name: String,
    /// When it was marked handled.
    pub handled_at: Option<String>,
    /// Who marked it handled (their name).
    pub handled_by: Option<String>,
    /// What they noted.
    pub handled_note: Option<String>,
}

/// The agency's replies to letters of the caller's mode, handled or not, newest first, older
/// than `before` when given.
pub async fn agency_inbox(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    handled: bool,
    before: Option<ReplyId>,
    limit: i64,
) -> Result<Vec<InboxReply>> {
    let state = if handled { "r.handled_at is not null" } else { "r.handled_at is null" };
    let before_clause = if before.is_some() { "and r.reply_id < $4" } else { "and $4 = ''" };
    let rows = sqlx::query(&format!(
        "select {}, r.handled_at, r.handled_note, l.reference, l.content, p.name as handled_by_name from reply r \
         join letter l on l.letter_id = r.letter_id left join person p on p.person_id = r.handled_by \
         where r.agency_id = $1 and l.test = $2 and {state} {before_clause} order by r.reply_id desc limit $3",
        prefixed(REPLY_COLUMNS, "r")
    ))
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .bind(limit)
    .bind(before.map(|b| b.to_string()).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let content: String = r.try_get("content")?;
            let content: serde_json::Value =
                serde_json::from_str(&content).map_err(|e| StoreError::Corrupt(format!("letter content: {e}")))?;
            Ok(InboxReply {
                reply: reply_from_row(r)?,
                reference: r.try_get("reference")?,
                recipient_name: content
                    .pointer("/recipient/name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                handled_at: r.try_get("handled_at")?,
                handled_by: r.try_get("handled_by_name")?,
                handled_note: r.try_get("handled_note")?,
            })
        })
        .collect()
}

/// Marks one of the agency's replies handled by `person`, with an optional note; false when it
/// is not the agency's (in the caller's mode) or was already handled.
pub async fn mark_reply_handled(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    reply_id: ReplyId,
    person: hybridpost_core::PersonId,
    note: Option<&str>,
    now: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update reply set handled_at = $1, handled_by = $2, handled_note = $3 where reply_id = $4 and agency_id = $5 \
         and handled_at is null and exists (select 1 from letter l where l.letter_id = reply.letter_id and l.test = $6)",
    )
    .bind(now)
    .bind(person.to_string())
    .bind(note)
    .bind(reply_id.to_string())
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}
