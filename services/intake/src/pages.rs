//! One page's work off the async runtime: decoding it, searching it for codes, and what of it
//! is kept — and the stored forms of page images and marks.

use std::time::Instant;

use hybridpost_scan::find::{FindOptions, Found, find_codes};
use hybridpost_scan::group::{Mark, PageCodes, ReviewReason, classify};
use hybridpost_scan::input::{Page, PageError, StoredImage};
use hybridpost_seal::{Reference, ReplyKey, Seal, TrustList, Verdict, VerifyContext, base32_decode, base32_encode};
use serde_json::json;

/// Everything kept of one page, ready to store.
#[derive(Debug)]
pub(crate) struct ProcessedPage {
    pub number: u32,
    pub entry: Option<String>,
    pub content_hash: Option<String>,
    /// The stored image and its parameters; none for a page that could not be decoded.
    pub image: Option<(Vec<u8>, serde_json::Value)>,
    pub thumbnail: Option<Vec<u8>>,
    pub quarter_turns: u8,
    pub mark: Mark,
    pub decode_log: serde_json::Value,
    pub decode_ms: i64,
    /// An earlier page with the same content: nothing was searched.
    pub duplicate: bool,
}

/// What the page search needs.
pub(crate) struct Searcher {
    pub options: FindOptions,
    pub reply_key: ReplyKey,
    pub trust_list: Option<TrustList>,
    pub today: hybridpost_seal::Date,
    pub thumbnail_side: u32,
}

impl Searcher {
    /// The letter a seal text names, if it is a genuine seal.
    fn seal_reference(&self, text: &str) -> Option<Result<Reference, String>> {
        let seal = match Seal::from_qr_text(text) {
            Ok(seal) => seal,
            Err(Verdict::NotASeal) => return None,
            Err(other) => return Some(Err(verdict_words(&other))),
        };
        let Some(trust_list) = &self.trust_list else {
            return Some(Err("this installation has no trust list to check seals against".into()));
        };
        let none = |_: &Reference| None;
        match seal.verify(&VerifyContext { trust_list, today: self.today, withdrawn: &none }) {
            Verdict::Genuine { payload, .. } => Some(Ok(payload.reference)),
            // A returned letter may come back after its seal's expiry; the signature is what
            // says which letter it is.
            other => Some(Err(verdict_words(&other))),
        }
    }

    /// Whether a code found so far is enough to stop searching: a reply code whose MAC checks
    /// or a genuine seal.
    fn enough(&self, found: &[Found]) -> bool {
        let texts: Vec<String> = found.iter().map(|f| f.text.clone()).collect();
        let codes = PageCodes { texts: &texts, unreadable: 0, timed_out: false };
        matches!(classify(codes, &self.reply_key, &|t| self.seal_reference(t)), Mark::Reply { .. } | Mark::Seal { .. })
    }

    /// Searches a decoded page and prepares what is kept of it. `seen_before` says whether a
    /// page with this content hash was stored already (then it is not searched).
    pub fn process(&self, page: Page, seen_before: &dyn Fn(&str) -> bool) -> ProcessedPage {
        let started = Instant::now();
        let content_hash = hex::encode(page.content_hash);
        let image = Some(stored_parts(&page.stored, page.dpi));
        if seen_before(&content_hash) {
            return ProcessedPage {
                number: page.number,
                entry: page.entry,
                content_hash: Some(content_hash),
                image,
                thumbnail: None,
                quarter_turns: 0,
                mark: Mark::Blank,
                decode_log: json!({"duplicate": true}),
                decode_ms: elapsed_ms(started),
                duplicate: true,
            };
        }
        let mut options = self.options.clone();
        options.dpi = page.dpi.or(options.dpi);
        let findings = find_codes(&page.image, &options, &|found| self.enough(found));
        let texts: Vec<String> = findings.codes.iter().map(|f| f.text.clone()).collect();
        let mark = classify(
            PageCodes { texts: &texts, unreadable: findings.unreadable, timed_out: findings.timed_out },
            &self.reply_key,
            &|t| self.seal_reference(t),
        );
        let quarter_turns = findings.quarter_turns.unwrap_or(0);
        let thumbnail = Some(hybridpost_scan::document::thumbnail_png(&page.image, self.thumbnail_side, quarter_turns));
        let decode_log = json!({
            "steps": findings.steps.iter().map(|s| json!({
                "step": s.step.as_str(),
                "ms": s.duration.as_secs_f64() * 1000.0,
                "codes": s.codes,
            })).collect::<Vec<_>>(),
            // Which step read each code; not the codes' text (it can be a seal).
            "found_by": findings.codes.iter().map(|f| f.step.as_str()).collect::<Vec<_>>(),
            "codes": findings.codes.len(),
            "unreadable": findings.unreadable,
            "timed_out": findings.timed_out,
            "search_ms": findings.elapsed.as_secs_f64() * 1000.0,
            "dpi": options.dpi,
            "width": page.image.width(),
            "height": page.image.height(),
        });
        ProcessedPage {
            number: page.number,
            entry: page.entry,
            content_hash: Some(content_hash),
            image,
            thumbnail,
            quarter_turns,
            mark,
            decode_log,
            decode_ms: elapsed_ms(started),
            duplicate: false,
        }
    }

    /// A page that could not be decoded: it goes to review with why.
    pub fn failed(&self, error: PageError) -> ProcessedPage {
        let reason = error.reason.clone();
        ProcessedPage {
            number: error.number,
            entry: error.entry,
            content_hash: None,
            image: None,
            thumbnail: None,
            quarter_turns: 0,
            mark: Mark::Review(ReviewReason::Unreadable(reason.clone())),
            decode_log: json!({"error": reason}),
            decode_ms: 0,
            duplicate: false,
        }
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

fn verdict_words(v: &Verdict) -> String {
    format!("{v:?}").split(['{', '(']).next().unwrap_or("invalid").trim().to_owned()
}

/// The stored image's bytes and the parameters needed to embed it again.
pub(crate) fn stored_parts(image: &StoredImage, dpi: Option<f32>) -> (Vec<u8>, serde_json::Value) {
    match image {
        StoredImage::Jpeg { bytes, width, height, components } => (
            bytes.clone(),
            json!({"filter": "jpeg", "width": width, "height": height, "components": components, "dpi": dpi}),
        ),
        StoredImage::Ccitt { bytes, width, height, k, black_is_1, byte_align } => (
            bytes.clone(),
            json!({"filter": "ccitt", "width": width, "height": height, "k": k, "black_is_1": black_is_1,
                   "byte_align": byte_align, "dpi": dpi}),
        ),
        StoredImage::FlateGray { bytes, width, height } => {
            (bytes.clone(), json!({"filter": "flate_gray", "width": width, "height": height, "dpi": dpi}))
        }
    }
}

/// The stored image back from its bytes and parameters, with its resolution.
pub(crate) fn stored_image(bytes: Vec<u8>, meta: &serde_json::Value) -> Result<(StoredImage, Option<f32>), String> {
    let num = |k: &str| meta.get(k).and_then(serde_json::Value::as_u64).ok_or_else(|| format!("image meta lacks {k}"));
    let width = u32::try_from(num("width")?).map_err(|e| e.to_string())?;
    let height = u32::try_from(num("height")?).map_err(|e| e.to_string())?;
    #[expect(clippy::cast_possible_truncation, reason = "a resolution fits an f32")]
    let dpi = meta.get("dpi").and_then(serde_json::Value::as_f64).map(|d| d as f32);
    let image = match meta.get("filter").and_then(serde_json::Value::as_str) {
        Some("jpeg") => StoredImage::Jpeg {
            bytes,
            width,
            height,
            components: u8::try_from(num("components")?).map_err(|e| e.to_string())?,
        },
        Some("ccitt") => StoredImage::Ccitt {
            bytes,
            width,
            height,
            k: meta
                .get("k")
                .and_then(serde_json::Value::as_i64)
                .and_then(|k| i32::try_from(k).ok())
                .ok_or("image meta lacks k")?,
            black_is_1: meta.get("black_is_1").and_then(serde_json::Value::as_bool).unwrap_or(false),
            byte_align: meta.get("byte_align").and_then(serde_json::Value::as_bool).unwrap_or(false),
        },
        Some("flate_gray") => StoredImage::FlateGray { bytes, width, height },
        other => return Err(format!("unknown stored image filter {other:?}")),
    };
    Ok((image, dpi))
}

/// A mark as stored: JSON naming the letter by its reference in base32.
pub(crate) fn mark_json(mark: &Mark) -> serde_json::Value {
    match mark {
        Mark::Reply { reference, page, pages } => {
            json!({"kind": "reply", "reference": base32_encode(reference.as_bytes()), "page": page, "pages": pages})
        }
        Mark::Seal { reference } => json!({"kind": "seal", "reference": base32_encode(reference.as_bytes())}),
        Mark::Blank => json!({"kind": "blank"}),
        Mark::Review(reason) => {
            let why = match reason {
                ReviewReason::Unreadable(why) | ReviewReason::Rejected(why) => Some(why.as_str()),
                _ => None,
            };
            json!({"kind": "review", "reason": reason.code(), "detail": reason.to_string(), "why": why})
        }
    }
}

/// The reply page a stored page's reply code names, and the pages its reply has; `None` for a
/// page without a reply code.
pub(crate) fn reply_page_of(page: &hybridpost_store::scan::ScanPageRecord) -> Option<(u8, u8)> {
    match mark_from_json(&page.page.mark) {
        Ok(Mark::Reply { page, pages, .. }) => Some((page, pages)),
        _ => None,
    }
}

/// A stored mark read back.
pub(crate) fn mark_from_json(text: &str) -> Result<Mark, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("mark {text:?}: {e}"))?;
    let reference = || -> Result<Reference, String> {
        let r = v.get("reference").and_then(serde_json::Value::as_str).ok_or("mark lacks its reference")?;
        Reference::from_bytes(&base32_decode(r).map_err(|e| e.to_string())?).ok_or_else(|| "bad reference".into())
    };
    let small = |k: &str| {
        v.get(k).and_then(serde_json::Value::as_u64).and_then(|n| u8::try_from(n).ok()).ok_or(format!("mark lacks {k}"))
    };
    Ok(match v.get("kind").and_then(serde_json::Value::as_str) {
        Some("reply") => Mark::Reply { reference: reference()?, page: small("page")?, pages: small("pages")? },
        Some("seal") => Mark::Seal { reference: reference()? },
        Some("blank") => Mark::Blank,
        Some("review") => {
            let detail = v.get("why").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            Mark::Review(match v.get("reason").and_then(serde_json::Value::as_str) {
                Some("unreadable") => ReviewReason::Unreadable(detail),
                Some("damaged_code") => ReviewReason::DamagedCode,
                Some("rejected_code") => ReviewReason::Rejected(detail),
                Some("conflicting_codes") => ReviewReason::Conflict,
                Some("timed_out") => ReviewReason::TimedOut,
                Some("follows_review") => ReviewReason::FollowsReview,
                _ => ReviewReason::NoCode,
            })
        }
        other => return Err(format!("unknown mark kind {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_through_their_stored_form() {
        let reference = Reference::from_bytes(&[3; 12]).unwrap();
        for mark in [
            Mark::Reply { reference: reference.clone(), page: 2, pages: 3 },
            Mark::Seal { reference },
            Mark::Blank,
            Mark::Review(ReviewReason::Rejected("bad mac".into())),
            Mark::Review(ReviewReason::Unreadable("damaged".into())),
            Mark::Review(ReviewReason::DamagedCode),
            Mark::Review(ReviewReason::TimedOut),
        ] {
            assert_eq!(mark_from_json(&mark_json(&mark).to_string()).unwrap(), mark);
        }
    }

    #[test]
    fn stored_images_round_trip_through_their_parameters() {
        let ccitt = StoredImage::Ccitt {
            bytes: vec![1, 2, 3],
            width: 1700,
            height: 2200,
            k: -1,
            black_is_1: true,
            byte_align: false,
        };
        let (bytes, meta) = stored_parts(&ccitt, Some(200.0));
        assert_eq!(stored_image(bytes, &meta).unwrap(), (ccitt, Some(200.0)));
    }
}
