//! Grouping a decoded batch: replies (a PDF of their pages, `reply_received`, the agency told),
//! returned letters (`returned` with the batch's reason), and review — all in one transaction,
//! committed only while this worker's claim on the batch holds.

use anyhow::Context;
use hybridpost_core::{LetterStatus, ReplyId, ReturnReason, ScanPageId};
use hybridpost_core::{PageOutcome, ReplySource};
use hybridpost_notify::outbox::{AgencyNotice, queue_agency_notice, queue_event_webhooks};
use hybridpost_scan::document::{PdfPage, pages_pdf};
use hybridpost_scan::group::{GroupKind, Mark, Mode, ReviewReason, group};
use hybridpost_scan::input::StoredImage;
use hybridpost_seal::{Reference, base32_encode};
use hybridpost_store::letters::{self, LetterRecord, TransitionFailure};
use hybridpost_store::scan::{self, PageDecision, ReplyRecord, ScanPageRecord, ScanRecord};
use hybridpost_store::{AnyConnection, BlobKey, events, now_text};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::IntakeState;
use crate::answers::ReplyAnswer;
use crate::pages::{mark_from_json, reply_page_of, stored_image};

/// A reply's PDF, made before the transaction that records it.
pub(crate) struct BuiltReply {
    pub reply_id: ReplyId,
    pub key: String,
    pub sha256: String,
    pub bytes: i64,
}

/// What to write for one group of pages.
enum Plan {
    Reply {
        letter: LetterRecord,
        pages: Vec<ScanPageId>,
        /// Pages of the reply in all, those of an earlier upload it joins included.
        page_count: usize,
        missing: Vec<i64>,
        out_of_order: bool,
        pdf: BuiltReply,
        answer: Option<Box<ReplyAnswer>>,
        /// The waiting reply of an earlier upload these pages complete or add to.
        joins: Option<Box<ReplyRecord>>,
        /// Until when it waits for its missing pages before the agency is told.
        waiting_until: Option<String>,
    },
    Return {
        letter: LetterRecord,
        pages: Vec<ScanPageId>,
    },
    Review {
        pages: Vec<ScanPageId>,
        reason: &'static str,
        detail: String,
    },
}

/// Groups the pages of `scan` (claimed for grouping until `claim`) and records the outcome.
pub(crate) async fn group_scan(state: &IntakeState, scan: &ScanRecord, claim: &str) -> anyhow::Result<()> {
    let mode: Mode = scan.mode;
    let pages = {
        let mut conn = state.store.read().await?;
        scan::scan_pages(&mut conn, scan.scan_id).await?
    };
    // Duplicates were counted before; pages already dealt with (a grouping that is run again
    // after its worker died sees only what it wrote, which is nothing) stay as they are.
    let live: Vec<&ScanPageRecord> = pages.iter().filter(|p| p.outcome == PageOutcome::Decoded).collect();
    let marks: Vec<Mark> = live
        .iter()
        .map(|p| mark_from_json(&p.page.mark).unwrap_or_else(|e| Mark::Review(ReviewReason::Unreadable(e))))
        .collect();
    let grouping = group(&marks, mode);

    let mut plans = Vec::new();
    let mut joined = std::collections::HashSet::new();
    for (index, reason) in &grouping.review {
        plans.push(Plan::Review {
            pages: vec![live[*index].page.page_id],
            reason: reason.code(),
            detail: reason.to_string(),
        });
    }
    for g in grouping.groups {
        let page_ids: Vec<ScanPageId> = g.pages.iter().map(|i| live[*i].page.page_id).collect();
        let letter = {
            let mut conn = state.store.read().await?;
            letter_by_reference(&mut conn, &g.reference).await?
        };
        let Some(letter) = letter else {
            plans.push(Plan::Review {
                pages: page_ids,
                reason: "unknown_letter",
                detail: "the code is genuine but names no letter of this installation".into(),
            });
            continue;
        };
        match g.kind {
            GroupKind::Returned => plans.push(Plan::Return { letter, pages: page_ids }),
            GroupKind::Reply => {
                let records: Vec<&ScanPageRecord> = g.pages.iter().map(|i| live[*i]).collect();
                let now = now_text();
                // Pages that an earlier upload at this site is still waiting for join its reply.
                let (joins, earlier) = {
                    let mut conn = state.store.read().await?;
                    match scan::waiting_reply(&mut conn, letter.letter_id, scan.site_id, &now).await? {
                        // One group of this batch joins a waiting reply at most; a second one
                        // (its pages apart in the upload) makes a reply of its own.
                        Some(w) if completes(&w, &records) && joined.insert(w.reply_id) => {
                            let earlier = scan::reply_pages(&mut conn, w.reply_id).await?;
                            (Some(Box::new(w)), earlier)
                        }
                        _ => (None, Vec::new()),
                    }
                };
                let all = document_order(earlier.iter().chain(records.iter().copied()).collect());
                let missing = missing_pages(&all);
                let images = load_page_images(state, &all).await?;
                // An answer a person at the post office already read stays as they read it.
                let by_person = joins
                    .as_ref()
                    .and_then(|w| w.answer.as_deref())
                    .and_then(|a| serde_json::from_str::<ReplyAnswer>(a).ok())
                    .filter(|a| a.read_by.is_some());
                let answer = match by_person {
                    Some(kept) => Some(Box::new(kept)),
                    None => reply_answer(state, &letter, &all, &images).await?.map(Box::new),
                };
                let reply_id = joins.as_ref().map_or_else(ReplyId::new, |w| w.reply_id);
                let pdf = build_reply_pdf(state, reply_id, images).await?;
                let waiting_until = match (&joins, missing.is_empty()) {
                    (_, true) => None,
                    (Some(w), false) => w.waiting_until.clone(),
                    (None, false) => wait_until(state, scan.site_id).await?,
                };
                plans.push(Plan::Reply {
                    answer,
                    letter,
                    pages: page_ids,
                    page_count: all.len(),
                    out_of_order: g.out_of_order || joins.as_ref().is_some_and(|w| w.out_of_order),
                    missing,
                    pdf,
                    joins,
                    waiting_until,
                });
            }
        }
    }

    let reason =
        scan.return_reason.as_deref().map(str::parse::<ReturnReason>).transpose().map_err(anyhow::Error::msg)?;
    let mut tx = state.store.begin().await?;
    let now = now_text();
    let (mut replies, mut returns, mut review) = (0, 0, 0);
    for plan in plans {
        match plan {
            Plan::Review { pages, reason, detail } => {
                review += pages.len();
                for page in pages {
                    set_review(&mut tx, page, reason, &detail).await?;
                }
            }
            Plan::Reply { letter, pages, page_count, missing, out_of_order, pdf, answer, joins, waiting_until } => {
                let reply = ReplyRecord {
                    reply_id: pdf.reply_id,
                    letter_id: letter.letter_id,
                    agency_id: letter.agency_id,
                    scan_id: joins.as_ref().map_or(scan.scan_id, |w| w.scan_id),
                    site_id: scan.site_id,
                    page_count: i64::try_from(page_count).unwrap_or(i64::MAX),
                    missing_pages: missing,
                    out_of_order,
                    source: ReplySource::Scan,
                    pdf_blob: pdf.key,
                    pdf_sha256: pdf.sha256,
                    pdf_bytes: pdf.bytes,
                    created_at: joins.as_ref().map_or_else(|| now.clone(), |w| w.created_at.clone()),
                    answer: answer.as_deref().map(serde_json::to_string).transpose()?,
                    answer_status: answer.as_deref().map(|a| a.queue_status().to_owned()),
                    waiting_until,
                };
                match &joins {
                    Some(w) => {
                        let was = w.waiting_until.as_deref().unwrap_or_default();
                        if !scan::update_joined_reply(&mut tx, &reply, was, w.page_count).await? {
                            // Its wait ended (or another upload joined it) meanwhile: group again.
                            tx.rollback().await?;
                            anyhow::bail!("reply {} changed while scan {} was grouped", reply.reply_id, scan.scan_id);
                        }
                    }
                    None => scan::insert_reply(&mut tx, &reply).await?,
                }
                // The agency is told once: when the reply is complete, or when its wait ends.
                if reply.waiting_until.is_none() {
                    announce_reply(&mut tx, &letter, &reply, answer.as_deref(), scan.request_id.as_deref()).await?;
                }
                for page in &pages {
                    let outcome = PageDecision::letter(PageOutcome::Matched, letter.letter_id, Some(reply.reply_id));
                    scan::set_page_outcome(&mut tx, *page, &outcome).await?;
                }
                replies += 1;
            }
            Plan::Return { letter, pages } => {
                let Some(reason) = reason else {
                    for page in pages {
                        set_review(&mut tx, page, "no_return_reason", "a batch of returns without a reason").await?;
                    }
                    continue;
                };
                match record_return(&mut tx, &letter, reason, scan, &pages).await? {
                    ReturnRecorded::Recorded => {
                        returns += 1;
                        for page in &pages {
                            let outcome = PageDecision::letter(PageOutcome::Returned, letter.letter_id, None);
                            scan::set_page_outcome(&mut tx, *page, &outcome).await?;
                        }
                    }
                    ReturnRecorded::Refused(why) => {
                        review += pages.len();
                        for page in pages {
                            set_review(&mut tx, page, "letter_status", &why).await?;
                        }
                    }
                }
            }
        }
    }
    if !scan::finish_scan(&mut tx, scan.scan_id, claim, &now).await? {
        tx.rollback().await?;
        tracing::warn!(scan.id = %scan.scan_id, "another worker took over grouping scan {}", scan.scan_id);
        return Ok(());
    }
    tx.commit().await?;
    metrics::counter!("hybridpost_scan_replies_total").increment(replies);
    metrics::counter!("hybridpost_scan_returns_total").increment(returns);
    metrics::counter!("hybridpost_scan_review_pages_total").increment(review as u64);
    tracing::info!(
        scan.id = %scan.scan_id, replies, returns, review,
        "scan {} grouped: {replies} replies, {returns} returned letters, {review} pages for review", scan.scan_id
    );
    Ok(())
}

async fn set_review(conn: &mut AnyConnection, page: ScanPageId, reason: &str, detail: &str) -> anyhow::Result<()> {
    let outcome = PageDecision::review(reason, detail);
    scan::set_page_outcome(conn, page, &outcome).await?;
    Ok(())
}

/// The letter whose seal carries `reference`, whatever its agency.
pub(crate) async fn letter_by_reference(
    conn: &mut AnyConnection,
    reference: &Reference,
) -> anyhow::Result<Option<LetterRecord>> {
    Ok(letters::find_by_seal_reference(conn, &base32_encode(reference.as_bytes())).await?)
}

/// The answer ticked on the reply sheet among `pages` (whose `images` are loaded), when the
/// letter asks a question; `needs_review` when the page with the boxes is not among them or
/// cannot be read.
async fn reply_answer(
    state: &IntakeState,
    letter: &LetterRecord,
    pages: &[&ScanPageRecord],
    images: &[LoadedPage],
) -> anyhow::Result<Option<ReplyAnswer>> {
    // The page count the codes carry (the same on every page of a reply: it is in their MAC).
    let pages_in_codes = pages.iter().find_map(|p| reply_page_of(p)).map(|(_, total)| total);
    let question = match crate::answers::question(letter, &state.reply_key, pages_in_codes.unwrap_or(1)) {
        Ok(Some(q)) => q,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!(letter.id = %letter.letter_id, "the reply sheet of letter {} cannot be laid out: {e}", letter.letter_id);
            let detail = format!("the letter's reply sheet cannot be laid out: {e}");
            return Ok(Some(ReplyAnswer::not_read(Vec::new(), "boxes_not_found", &detail)));
        }
    };
    let first = pages.iter().position(|p| reply_page_of(p).is_some_and(|(page, _)| page == question.page));
    let Some(first) = first else {
        let detail = format!("page {} of the reply, which carries the answer boxes, did not arrive", question.page);
        return Ok(Some(ReplyAnswer::not_read(question.choices, "page_missing", &detail)));
    };
    let (image, dpi, turns) = images[first].clone();
    let limits = state.config.limits.clone();
    let answer =
        tokio::task::spawn_blocking(move || crate::answers::read(&question, &image, dpi, turns, &limits)).await?;
    Ok(Some(answer))
}

/// A stored page image as the reply PDF and the answer reader take it: the image, its
/// resolution, and the quarter turns that make it upright.
pub(crate) type LoadedPage = (StoredImage, Option<f32>, u8);

/// Reads the stored images of `pages` from blob storage, in order.
pub(crate) async fn load_page_images(
    state: &IntakeState,
    pages: &[&ScanPageRecord],
) -> anyhow::Result<Vec<LoadedPage>> {
    let mut images = Vec::with_capacity(pages.len());
    for p in pages {
        let (Some(blob), Some(meta)) = (&p.page.image_blob, &p.page.image_meta) else {
            anyhow::bail!("page {} has no stored image", p.page.page_id);
        };
        let bytes = state
            .blobs
            .get(&BlobKey::parse(blob)?)
            .await?
            .with_context(|| format!("the image of page {} is missing from storage", p.page.page_id))?;
        let meta: serde_json::Value = serde_json::from_str(meta)?;
        let (image, dpi) = stored_image(bytes, &meta).map_err(anyhow::Error::msg)?;
        images.push((image, dpi, u8::try_from(p.page.quarter_turns.rem_euclid(4)).unwrap_or(0)));
    }
    Ok(images)
}

/// Whether the pages of `records` are all pages the waiting reply `w` is missing (a reply
/// sheet scanned again, or a second reply, is a reply of its own).
fn completes(w: &ReplyRecord, records: &[&ScanPageRecord]) -> bool {
    let numbers = reply_page_numbers(records);
    !numbers.is_empty() && numbers.iter().all(|n| w.missing_pages.contains(&i64::from(*n)))
}

/// The reply-sheet page numbers the codes on `records` carry.
fn reply_page_numbers(records: &[&ScanPageRecord]) -> Vec<u8> {
    records.iter().filter_map(|p| reply_page_of(p)).map(|(page, _)| page).collect()
}

/// The reply pages the codes on `records` say exist and are not among them.
fn missing_pages(records: &[&ScanPageRecord]) -> Vec<i64> {
    let total = records.iter().filter_map(|p| reply_page_of(p)).map(|(_, total)| total).max().unwrap_or(0);
    let present = reply_page_numbers(records);
    (1..=total).filter(|n| !present.contains(n)).map(i64::from).collect()
}

/// Pages of one reply from one or more uploads (each in scan order) in document order: by
/// reply-sheet page number, an uncoded page (a citizen's extra sheet) after the coded page
/// scanned before it.
fn document_order(records: Vec<&ScanPageRecord>) -> Vec<&ScanPageRecord> {
    let mut keyed = Vec::with_capacity(records.len());
    let mut last: Option<(hybridpost_core::ScanId, u8)> = None;
    for (index, p) in records.into_iter().enumerate() {
        let page = match reply_page_of(p) {
            Some((page, _)) => page,
            None => last.filter(|(scan, _)| *scan == p.page.scan_id).map_or(0, |(_, n)| n),
        };
        last = Some((p.page.scan_id, page));
        keyed.push((page, index, p));
    }
    keyed.sort_by_key(|(page, index, _)| (*page, *index));
    keyed.into_iter().map(|(_, _, p)| p).collect()
}

/// Until when a new incomplete reply at `site` waits for its missing pages; `None` when the
/// site tells agencies at once.
async fn wait_until(state: &IntakeState, site: hybridpost_core::SiteId) -> anyhow::Result<Option<String>> {
    let minutes = {
        let mut conn = state.store.read().await?;
        hybridpost_store::agencies::site_reply_wait(&mut conn, site).await?.unwrap_or(0)
    };
    Ok((minutes > 0)
        .then(|| hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes))))
}

/// Makes the PDF of a reply's pages (as [`load_page_images`] reads them) and stores it, under
/// a name of its own for each page count (a reply joined by later pages gets a new PDF).
pub(crate) async fn build_reply_pdf(
    state: &IntakeState,
    reply_id: ReplyId,
    images: Vec<LoadedPage>,
) -> anyhow::Result<BuiltReply> {
    let count = images.len();
    let pdf = tokio::task::spawn_blocking(move || {
        let pages: Vec<PdfPage<'_>> =
            images.iter().map(|(image, dpi, turns)| PdfPage { image, dpi: *dpi, quarter_turns: *turns }).collect();
        pages_pdf(&pages)
    })
    .await??;
    let key = format!("replies/{reply_id}-{count}.pdf");
    let sha256 = hex::encode(Sha256::digest(&pdf));
    let bytes = i64::try_from(pdf.len()).unwrap_or(i64::MAX);
    state.blobs.put(&BlobKey::parse(&key)?, pdf).await.context("store the reply PDF")?;
    Ok(BuiltReply { reply_id, key, sha256, bytes })
}

/// Records a complete reply on its letter and tells the agency ([`announce_reply`]).
pub(crate) async fn record_reply(
    conn: &mut AnyConnection,
    letter: &LetterRecord,
    reply: &ReplyRecord,
    answer: Option<&ReplyAnswer>,
    request_id: Option<&str>,
) -> anyhow::Result<()> {
    scan::insert_reply(conn, reply).await?;
    announce_reply(conn, letter, reply, answer, request_id).await
}

/// Tells of a stored reply: the `reply_received` event (moving the letter to `reply_received`
/// where its status allows; a reply to a letter the site never marked dispatched is still
/// recorded, the status left as it is), and the e-mail to the agency, each with the pages
/// still missing and the `answer` read from its tick boxes when there is one.
pub(crate) async fn announce_reply(
    conn: &mut AnyConnection,
    letter: &LetterRecord,
    reply: &ReplyRecord,
    answer: Option<&ReplyAnswer>,
    request_id: Option<&str>,
) -> anyhow::Result<()> {
    let detail = json!({
        "reply_id": reply.reply_id, "scan_id": reply.scan_id, "pages": reply.page_count,
        "missing_pages": reply.missing_pages, "source": reply.source,
        "answer": answer.map(|a| json!({
            "status": a.status, "choice": a.choice, "confidence": a.confidence, "reason": a.reason,
        })),
    });
    match letters::transition(
        conn,
        letter.agency_id,
        letter.letter_id,
        LetterStatus::ReplyReceived,
        Some(detail.clone()),
        request_id,
    )
    .await
    {
        Ok(moved) => {
            queue_event_webhooks(conn, &moved.events).await?;
        }
        Err(TransitionFailure::NotAllowed(_)) => {
            let event = events::append_event(
                conn,
                events::NewEvent {
                    agency_id: letter.agency_id,
                    letter_id: letter.letter_id,
                    kind: hybridpost_core::EventKind::ReplyReceived,
                    status: letter.status,
                    detail: Some(detail),
                    request_id: request_id.map(str::to_owned),
                },
            )
            .await?;
            queue_event_webhooks(conn, &[event]).await?;
        }
        Err(TransitionFailure::NotFound) => anyhow::bail!("letter {} vanished", letter.letter_id),
        Err(TransitionFailure::Store(e)) => return Err(e.into()),
    }
    let sender_name = letter.recipient_name().to_owned();
    queue_agency_notice(
        conn,
        letter.agency_id,
        letter.letter_id,
        &AgencyNotice::ReplyReceived {
            sender_name,
            received_at: reply.created_at.clone(),
            answer: answer.map(ReplyAnswer::words),
            missing_pages: reply.missing_pages.clone(),
        },
    )
    .await?;
    Ok(())
}

/// Marks a letter returned with `reason` and tells the agency; `Err(why)` when its status does
/// not allow it (then its pages go to review with why).
pub(crate) async fn record_return(
    conn: &mut AnyConnection,
    letter: &LetterRecord,
    reason: ReturnReason,
    scan: &ScanRecord,
    pages: &[ScanPageId],
) -> anyhow::Result<ReturnRecorded> {
    let detail = json!({"reason": reason.as_str(), "scan_id": scan.scan_id, "pages": pages.len()});
    match letters::transition(
        conn,
        letter.agency_id,
        letter.letter_id,
        LetterStatus::Returned,
        Some(detail),
        scan.request_id.as_deref(),
    )
    .await
    {
        Ok(moved) => {
            queue_event_webhooks(conn, &moved.events).await?;
        }
        Err(TransitionFailure::NotAllowed(e)) => {
            return Ok(ReturnRecorded::Refused(format!("the letter cannot be marked returned: {e}")));
        }
        Err(TransitionFailure::NotFound) => anyhow::bail!("letter {} vanished", letter.letter_id),
        Err(TransitionFailure::Store(e)) => return Err(e.into()),
    }
    queue_agency_notice(
        conn,
        letter.agency_id,
        letter.letter_id,
        &AgencyNotice::LetterReturned {
            reason: reason.thai().to_owned(),
            reason_en: reason.english().to_owned(),
            returned_at: now_text(),
        },
    )
    .await?;
    Ok(ReturnRecorded::Recorded)
}

/// What became of a returned letter's pages.
pub(crate) enum ReturnRecorded {
    /// The letter is marked returned and its agency told.
    Recorded,
    /// Its state does not allow it (a letter not yet out cannot come back): why.
    Refused(String),
}
