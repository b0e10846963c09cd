//! Scan back end to end on the store named by `HYBRIDPOST_TEST_DATABASE_URL`: real letters sent
//! through the agency API, rendered as printed, rasterised with `pdftoppm`, degraded a little,
//! uploaded as scans, decoded by the workers, grouped into replies, returns and review.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::collections::{BTreeMap, HashSet};

use axum::http::{Method, StatusCode};
use hybridpost_core::LetterStatus;
use serde_json::{Value, json};
use support::*;

const DPI: u32 = 150;

fn count(scan: &Value, outcome: &str) -> i64 {
    scan["counts"][outcome].as_i64().unwrap_or(0)
}

async fn scan_view(w: &World, key: &str, scan_id: &str) -> Value {
    let answer = call(&w.intake, Method::GET, &format!("/v1/scans/{scan_id}"), Some(key), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.json()
}

fn accepted(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.json()["scan_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn replies_are_matched_rebuilt_as_pdfs_and_told_to_the_agency() {
    let w = world().await;
    let first = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let second = send_letter(&w, &w.a.1, "นางสาวมาลี ศรีสุข").await;
    dispatch(&w, &first).await;
    let first_pages = rasterise(&letter_pdf(&w, &first).await, DPI);
    let second_pages = rasterise(&letter_pdf(&w, &second).await, DPI);
    assert_eq!(first_pages.len(), 2, "page 1 and the reply sheet");
    let reply_sheet = |pages: &[image::GrayImage]| pages.last().unwrap().clone();
    // The first citizen ticks the second box ("I do not agree"); the second ticks nothing.
    let mut ticked = reply_sheet(&first_pages);
    let boxes = answer_boxes(&first);
    assert_eq!(boxes.len(), 3, "the reply sheet asks one question of three choices");
    let b = boxes[1].area;
    let area = hybridpost_scan::AreaMm { x: b.x.0, y: b.y.0, width: b.width.0, height: b.height.0 };
    let pen = hybridpost_scan::pen::Pen { width: 0.6, ink: 30 };
    hybridpost_scan::pen::tick(&mut ticked, DPI, pen, area, &mut hybridpost_scan::degrade::Rng::new(21));

    // One PDF from the scanner: the first reply upside down, then the citizen's extra sheet;
    // then the second reply as a JPEG of its own.
    let upside_down = image::imageops::rotate180(&ticked);
    let extra = handwritten_page(1, upside_down.width(), upside_down.height());
    let pdf = scanned_pdf(&[upside_down, extra], DPI as f32);
    let scan_id = accepted(
        &upload(
            &w,
            &w.site.1,
            vec![
                Part::Text("mode", "replies"),
                Part::File("scan-0001.pdf", pdf),
                Part::File("scan-0002.jpg", jpeg(&reply_sheet(&second_pages), 60)),
            ],
        )
        .await,
    );
    drain(&w).await;

    let scan = scan_view(&w, &w.site.1, &scan_id).await;
    assert_eq!(scan["status"], "done", "{scan:#}");
    assert_eq!(count(&scan, "matched"), 3, "{scan:#}");
    assert_eq!(count(&scan, "review"), 0, "{scan:#}");
    let steps: Vec<&str> = scan["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["decode"]["found_by"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(!steps.is_empty(), "every matched page records the step that read its code: {scan:#}");

    // The dispatched letter moves to reply_received; the other one keeps its status but its
    // timeline has the reply.
    assert_eq!(letter(&w, first.letter_id).await.status, LetterStatus::ReplyReceived);
    assert_eq!(letter(&w, second.letter_id).await.status, LetterStatus::QueuedForPrint);
    for l in [&first, &second] {
        let events = timeline(&w, l.letter_id).await;
        assert_eq!(events.iter().filter(|(kind, _)| kind == "reply_received").count(), 1, "{events:?}");
        assert_eq!(notices(&w, "reply_received", l.letter_id).await, 1, "the agency is told by e-mail");
    }
    // The answers as data: in the event (and so its webhook) and in the reply resource.
    let events = timeline(&w, first.letter_id).await;
    let (_, detail) = events.iter().find(|(kind, _)| kind == "reply_received").unwrap();
    assert_eq!(detail["answer"]["status"], "answered", "{detail:#}");
    assert_eq!(detail["answer"]["choice"], 2, "{detail:#}");
    let second_replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", second.letter_id), Some(&w.a.1), None).await;
    let answer = &second_replies.json()["items"][0]["answer"];
    assert_eq!(answer["status"], "no_answer", "{answer:#}");
    assert!(answer["confidence"].as_f64().unwrap() >= 0.5, "{answer:#}");

    // The agency reads the reply and its PDF: two pages, upright.
    let replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", first.letter_id), Some(&w.a.1), None).await;
    assert_eq!(replies.status, StatusCode::OK);
    let page = replies.json();
    assert_eq!(page["next_cursor"], json!(null), "{page:#}");
    let replies = &page["items"];
    assert_eq!(replies.as_array().unwrap().len(), 1, "{replies:#}");
    assert_eq!(replies[0]["pages"], 2);
    assert_eq!(replies[0]["missing_pages"], json!([]));
    let answer = &replies[0]["answer"];
    assert_eq!(answer["status"], "answered", "{answer:#}");
    assert_eq!(answer["choice"], 2, "{answer:#}");
    assert!(answer["confidence"].as_f64().unwrap() >= 0.5, "{answer:#}");
    assert_eq!(answer["choices"][1]["label_en"], "I do not agree", "{answer:#}");
    let states: Vec<&str> = answer["boxes"].as_array().unwrap().iter().map(|b| b["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["clean", "marked", "clean"], "{answer:#}");
    let pdf = call(&w.intake, Method::GET, replies[0]["pdf_url"].as_str().unwrap(), Some(&w.a.1), None).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.content_type, "application/pdf");
    let path = w.dir.path().join("reply.pdf");
    std::fs::write(&path, &pdf.bytes).unwrap();
    let path = path.to_str().unwrap();
    tool("qpdf", &["--check", path]);
    assert!(tool("pdfinfo", &[path]).contains("Pages:           2"));
    // The reply page was scanned upside down; in the PDF it is upright again: its reply codes
    // are where the layout prints them (the top-right one in the top right).
    let rendered = rasterise(&pdf.bytes, 50);
    let first_page = &rendered[0];
    let dark_in = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut dark = 0u32;
        for y in y0..y1 {
            for x in x0..x1 {
                dark += u32::from(first_page.get_pixel(x, y).0[0] < 128);
            }
        }
        f64::from(dark) / f64::from((x1 - x0) * (y1 - y0))
    };
    let (wd, ht) = (first_page.width(), first_page.height());
    let top_right = dark_in(wd * 80 / 100, ht * 2 / 100, wd * 97 / 100, ht * 14 / 100);
    let bottom_right = dark_in(wd * 80 / 100, ht * 86 / 100, wd * 97 / 100, ht * 98 / 100);
    assert!(top_right > 0.2 && bottom_right < 0.05, "the reply page is upright: {top_right} {bottom_right}");

    // Agency B sees none of it.
    let other =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", first.letter_id), Some(&w.b.1), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let pdf = call(&w.intake, Method::GET, replies[0]["pdf_url"].as_str().unwrap(), Some(&w.b.1), None).await;
    assert_eq!(pdf.status, StatusCode::NOT_FOUND);

    // Nor does a test key of agency A: test mode sees test letters' replies only.
    let test_key = hybridpost_web::auth::generate_api_key(hybridpost_store::agencies::Principal::Agency {
        agency_id: w.a.0,
        test: true,
    });
    let mut tx = w.store.begin().await.unwrap();
    hybridpost_store::agencies::insert_api_key(&mut tx, &test_key.record, &hybridpost_store::now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let test_key = Some(test_key.key.as_str());
    let path = format!("/v1/letters/{}/replies", first.letter_id);
    assert_eq!(call(&w.intake, Method::GET, &path, test_key, None).await.status, StatusCode::NOT_FOUND);
    let pdf = call(&w.intake, Method::GET, replies[0]["pdf_url"].as_str().unwrap(), test_key, None).await;
    assert_eq!(pdf.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_batch_with_bad_files_keeps_every_good_page_and_says_what_is_wrong_with_each_file() {
    let w = world().await;
    let l = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let m = send_letter(&w, &w.a.1, "นางสาวมาลี ศรีสุข").await;
    let l_pdf = letter_pdf(&w, &l).await;
    let l_reply = rasterise(&l_pdf, DPI).pop().unwrap();
    let m_reply = rasterise(&letter_pdf(&w, &m).await, DPI).pop().unwrap();

    let dir = w.dir.path();
    let plain = dir.join("plain.pdf");
    std::fs::write(&plain, &l_pdf).unwrap();
    let locked = dir.join("locked.pdf");
    tool("qpdf", &["--encrypt", "user-pw", "owner-pw", "256", "--", plain.to_str().unwrap(), locked.to_str().unwrap()]);
    let huge = dir.join("huge.png");
    huge_png(&huge, 40_000, 40_000);

    let files = vec![
        Part::Text("mode", "replies"),
        Part::File("good-1.png", png(&l_reply)),
        Part::File("truncated.pdf", l_pdf[..l_pdf.len() / 3].to_vec()),
        Part::File("empty.pdf", Vec::new()),
        Part::File("notes.txt", "ใบตอบรับ — not a scan\n".repeat(50).into_bytes()),
        Part::File("huge.png", std::fs::read(&huge).unwrap()),
        Part::File("locked.pdf", std::fs::read(&locked).unwrap()),
        Part::File("good-2.jpg", jpeg(&m_reply, 70)),
    ];
    let scan_id = accepted(&upload(&w, &w.site.1, files).await);
    drain(&w).await;
    let scan = scan_view(&w, &w.site.1, &scan_id).await;
    assert_eq!(scan["status"], "done");
    assert_eq!(count(&scan, "matched"), 2, "both good pages are matched: {scan:#}");
    let errors: BTreeMap<String, String> = scan["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "failed" || f["pages"].as_i64() == Some(0))
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["error"].as_str().unwrap_or("").to_owned()))
        .collect();
    let pages_in_review: Vec<&Value> =
        scan["pages"].as_array().unwrap().iter().filter(|p| p["outcome"] == "review").collect();
    // Every bad file is refused as a whole or has its one page in review; each says why.
    for (name, words) in
        [("truncated.pdf", "damaged"), ("empty.pdf", "empty"), ("notes.txt", "not a scan"), ("locked.pdf", "password")]
    {
        let error = errors.get(name).unwrap_or_else(|| panic!("{name} has no error: {scan:#}"));
        assert!(error.contains(words), "{name}: {error:?} should say {words:?}");
    }
    let huge_said = errors.get("huge.png").cloned().unwrap_or_default()
        + &pages_in_review.iter().map(|p| p["review_detail"].as_str().unwrap_or("").to_owned()).collect::<String>();
    assert!(
        huge_said.contains("40000") && huge_said.contains("limit"),
        "the huge PNG's error names its size: {scan:#}"
    );

    // The worker is still up: the next batch is decoded as well.
    let again = accepted(
        &upload(
            &w,
            &w.site.1,
            vec![Part::Text("mode", "replies"), Part::File("n.png", png(&handwritten_page(9, 800, 1100)))],
        )
        .await,
    );
    drain(&w).await;
    assert_eq!(scan_view(&w, &w.site.1, &again).await["status"], "done");
}

/// Writes a valid grey PNG of `width` × `height` white pixels without holding it in memory.
fn huge_png(path: &std::path::Path, width: u32, height: u32) {
    let script = r"
import struct, sys, zlib
w, h, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
z = zlib.compressobj(1)
row = b'\x00' + b'\xff' * w
parts = [z.compress(row) for _ in range(h)]
parts.append(z.flush())
with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n')
    f.write(chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)))
    f.write(chunk(b'IDAT', b''.join(parts)))
    f.write(chunk(b'IEND', b''))
";
    tool("python3", &["-c", script, &width.to_string(), &height.to_string(), path.to_str().unwrap()]);
}

#[tokio::test]
async fn returned_letters_are_marked_returned_with_the_batch_reason_and_the_agency_is_told() {
    let w = world().await;
    let out = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let never_sent = send_letter(&w, &w.a.1, "นางสาวมาลี ศรีสุข").await;
    dispatch(&w, &out).await;
    let out_pages = rasterise(&letter_pdf(&w, &out).await, DPI);
    let never_pages = rasterise(&letter_pdf(&w, &never_sent).await, DPI);

    // A batch of returns needs its reason.
    let refused =
        upload(&w, &w.site.1, vec![Part::Text("mode", "returns"), Part::File("r.png", png(&out_pages[0]))]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.json()["errors"][0]["message"].as_str().unwrap().contains("moved"));

    let files = vec![
        Part::Text("mode", "returns"),
        Part::Text("reason", "moved"),
        Part::File("returned.pdf", scanned_pdf(&out_pages, DPI as f32)),
        Part::File("early.png", png(&never_pages[0])),
    ];
    let scan_id = accepted(&upload(&w, &w.site.1, files).await);
    drain(&w).await;
    let scan = scan_view(&w, &w.site.1, &scan_id).await;
    assert_eq!(count(&scan, "returned"), 2, "page 1 and the reply sheet of the returned letter: {scan:#}");
    assert_eq!(count(&scan, "review"), 1, "a letter never dispatched cannot come back: {scan:#}");
    let review = scan["pages"].as_array().unwrap().iter().find(|p| p["outcome"] == "review").unwrap();
    assert_eq!(review["review_reason"], "letter_status");

    assert_eq!(letter(&w, out.letter_id).await.status, LetterStatus::Returned);
    let events = timeline(&w, out.letter_id).await;
    let (_, detail) = events.iter().find(|(kind, _)| kind == "returned").unwrap();
    assert_eq!(detail["reason"], "moved");
    assert_eq!(notices(&w, "letter_returned", out.letter_id).await, 1);
    assert_eq!(letter(&w, never_sent.letter_id).await.status, LetterStatus::QueuedForPrint);
}

#[tokio::test]
async fn the_same_page_uploaded_twice_is_recognised_and_not_counted_twice() {
    let w = world().await;
    let l = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let reply = rasterise(&letter_pdf(&w, &l).await, DPI).pop().unwrap();
    let first =
        accepted(&upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("a.png", png(&reply))]).await);
    drain(&w).await;
    // The same page again, once in the same upload twice and once in a PDF.
    let second = accepted(
        &upload(
            &w,
            &w.site.1,
            vec![
                Part::Text("mode", "replies"),
                Part::File("a-again.png", png(&reply)),
                Part::File("b.png", png(&reply)),
            ],
        )
        .await,
    );
    drain(&w).await;
    assert_eq!(count(&scan_view(&w, &w.site.1, &first).await, "matched"), 1);
    let again = scan_view(&w, &w.site.1, &second).await;
    assert_eq!(count(&again, "duplicate"), 2, "{again:#}");
    assert_eq!(count(&again, "matched"), 0);
    let replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", l.letter_id), Some(&w.a.1), None).await;
    assert_eq!(replies.json()["items"].as_array().unwrap().len(), 1, "one reply, not three");
    assert_eq!(notices(&w, "reply_received", l.letter_id).await, 1);
}

#[tokio::test]
async fn unmatched_pages_wait_in_review_until_an_operator_assigns_or_discards_them() {
    let w = world().await;
    let l = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    dispatch(&w, &l).await;
    let mut reply = rasterise(&letter_pdf(&w, &l).await, DPI).pop().unwrap();
    // A stamp over both codes: the page cannot say which letter it is.
    let mm = |v: f32| (v * DPI as f32 / 25.4) as u32;
    for area in hybridpost_render::REPLY_CODE_AREAS {
        for y in mm(area.y.0)..mm(area.y.0 + area.height.0).min(reply.height()) {
            for x in mm(area.x.0)..mm(area.x.0 + area.width.0).min(reply.width()) {
                reply.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
    let extra = handwritten_page(3, reply.width(), reply.height());
    let envelope = handwritten_page(4, reply.width() / 2, reply.height() / 3);
    let scan_id = accepted(
        &upload(
            &w,
            &w.site.1,
            vec![
                Part::Text("mode", "replies"),
                Part::File("stamped.png", png(&reply)),
                Part::File("extra.png", png(&extra)),
                Part::File("envelope.png", png(&envelope)),
            ],
        )
        .await,
    );
    drain(&w).await;
    let scan = scan_view(&w, &w.site.1, &scan_id).await;
    assert_eq!(count(&scan, "review"), 3, "{scan:#}");

    let queue = call(&w.intake, Method::GET, "/v1/review", Some(&w.site.1), None).await;
    assert_eq!(queue.status, StatusCode::OK);
    let items = queue.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["reason"], "no_code");
    let thumbnail =
        call(&w.intake, Method::GET, items[0]["thumbnail_url"].as_str().unwrap(), Some(&w.site.1), None).await;
    assert_eq!(thumbnail.status, StatusCode::OK);
    assert_eq!(thumbnail.content_type, "image/png");
    let picture = image::load_from_memory(&thumbnail.bytes).unwrap();
    assert!(picture.width().max(picture.height()) <= 400);

    // Another site's operator sees none of it.
    let theirs = call(&w.intake, Method::GET, "/v1/review", Some(&w.other_site.1), None).await;
    assert_eq!(theirs.json()["items"], json!([]));
    let path = format!("/v1/review/{}", items[0]["page_id"].as_str().unwrap());
    let decision = json!({"action": "discard", "reason": "x"});
    assert_eq!(
        call(&w.intake, Method::POST, &path, Some(&w.other_site.1), Some(decision)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&w.intake, Method::GET, &format!("/v1/scans/{scan_id}"), Some(&w.other_site.1), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(call(&w.intake, Method::GET, "/v1/review", Some(&w.a.1), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(call(&w.intake, Method::GET, "/v1/review", None, None).await.status, StatusCode::UNAUTHORIZED);

    // A mistyped reference is refused with the reason; the page stays in review.
    let mut digits: Vec<char> = reference_digits(&l).chars().collect();
    let last = digits.len() - 1;
    digits[last] = if digits[last] == '0' { '1' } else { '0' };
    let wrong: String = digits.into_iter().collect();
    let answer =
        call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(json!({"action": "assign", "reference": wrong})))
            .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&answer.bytes));
    assert!(answer.json()["errors"][0]["message"].as_str().unwrap().contains("check digit"));

    // The operator reads the reference off the stamped page and assigns it with its extra sheet.
    let decision = json!({"action": "assign", "reference": reference_digits(&l), "with_pages": [items[1]["page_id"]]});
    let answer = call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(decision.clone())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.bytes));
    let result = answer.json();
    assert_eq!(result["outcome"], "assigned");
    assert_eq!(result["letter_id"], json!(l.letter_id));
    assert_eq!(letter(&w, l.letter_id).await.status, LetterStatus::ReplyReceived);
    let replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", l.letter_id), Some(&w.a.1), None).await;
    let replies = replies.json()["items"].clone();
    assert_eq!(replies[0]["source"], "review");
    assert_eq!(replies[0]["pages"], 2);
    // Deciding again is a conflict, not a second reply.
    assert_eq!(
        call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(decision)).await.status,
        StatusCode::CONFLICT
    );

    // The envelope is discarded with a reason; an empty reason is refused.
    let envelope_path = format!("/v1/review/{}", items[2]["page_id"].as_str().unwrap());
    let empty = json!({"action": "discard", "reason": "  "});
    assert_eq!(
        call(&w.intake, Method::POST, &envelope_path, Some(&w.site.1), Some(empty)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let discard = json!({"action": "discard", "reason": "ซองจดหมาย (an envelope)"});
    assert_eq!(
        call(&w.intake, Method::POST, &envelope_path, Some(&w.site.1), Some(discard)).await.status,
        StatusCode::OK
    );
    let queue = call(&w.intake, Method::GET, "/v1/review", Some(&w.site.1), None).await;
    assert_eq!(queue.json()["items"], json!([]), "nothing left, nothing lost");
    let scan = scan_view(&w, &w.site.1, &scan_id).await;
    assert_eq!((count(&scan, "assigned"), count(&scan, "discarded")), (2, 1), "{scan:#}");
}

#[tokio::test]
async fn uploads_are_checked_and_scoped_to_site_keys() {
    let w = world().await;
    let page = png(&handwritten_page(5, 600, 800));
    let no_mode = upload(&w, &w.site.1, vec![Part::File("a.png", page.clone())]).await;
    assert_eq!(no_mode.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_mode.content_type, "application/problem+json");
    let bad_mode = upload(&w, &w.site.1, vec![Part::Text("mode", "letters"), Part::File("a.png", page.clone())]).await;
    assert_eq!(bad_mode.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_file = upload(&w, &w.site.1, vec![Part::Text("mode", "replies")]).await;
    assert_eq!(no_file.status, StatusCode::UNPROCESSABLE_ENTITY);
    let as_json = call(&w.intake, Method::POST, "/v1/scans", Some(&w.site.1), Some(json!({"mode": "replies"}))).await;
    assert_eq!(as_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let agency = upload(&w, &w.a.1, vec![Part::Text("mode", "replies"), Part::File("a.png", page.clone())]).await;
    assert_eq!(agency.status, StatusCode::FORBIDDEN);
    // Nothing was stored by the refused uploads.
    let list = call(&w.intake, Method::GET, "/v1/scans", Some(&w.site.1), None).await;
    assert_eq!(list.json()["items"], json!([]));
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_alone() {
    let w = world_with(|c| c.limits.max_file_bytes = 200_000).await;
    let l = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let reply = rasterise(&letter_pdf(&w, &l).await, DPI).pop().unwrap();
    let big = vec![0u8; 300_000];
    let answer = upload(
        &w,
        &w.site.1,
        vec![Part::Text("mode", "replies"), Part::File("big.tif", big), Part::File("reply.jpg", jpeg(&reply, 60))],
    )
    .await;
    let scan_id = accepted(&answer);
    assert_eq!(answer.json()["refused_files"], 1);
    drain(&w).await;
    let scan = scan_view(&w, &w.site.1, &scan_id).await;
    assert_eq!(scan["files"][0]["status"], "failed");
    assert_eq!(scan["files"][0]["error"], "the file is 300000 bytes, the limit is 200000");
    assert_eq!(count(&scan, "matched"), 1, "{scan:#}");
}

#[tokio::test]
async fn two_workers_never_decode_the_same_page() {
    let w = world().await;
    let l = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let reply = rasterise(&letter_pdf(&w, &l).await, 100).pop().unwrap();
    let mut parts = vec![Part::Text("mode", "replies")];
    let names: Vec<String> = (0..8).map(|i| format!("extra-{i}.png")).collect();
    parts.push(Part::File("reply.png", png(&reply)));
    for (i, name) in names.iter().enumerate() {
        parts.push(Part::File(name, png(&handwritten_page(100 + i as u32, 400, 560))));
    }
    let scan_id = accepted(&upload(&w, &w.site.1, parts).await);

    // Two workers, as two nodes would run them, until nothing is left.
    let run = |state: hybridpost_intake::IntakeState| async move {
        let mut files = 0;
        while hybridpost_intake::decode_next_file(&state).await.unwrap() {
            files += 1;
        }
        files
    };
    let (a, b) = tokio::join!(tokio::spawn(run(w.state.clone())), tokio::spawn(run(w.state.clone())));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, 9, "every file decoded once: {a} + {b}");
    drain(&w).await;

    let mut conn = w.store.read().await.unwrap();
    let pages = hybridpost_store::scan::scan_pages(&mut conn, scan_id.parse().unwrap()).await.unwrap();
    assert_eq!(pages.len(), 9);
    let distinct: HashSet<(i64, i64)> = pages.iter().map(|p| (p.page.file_index, p.page.page_number)).collect();
    assert_eq!(distinct.len(), 9, "no page stored twice");
    let files = hybridpost_store::scan::scan_files(&mut conn, scan_id.parse().unwrap()).await.unwrap();
    for p in &pages {
        let file = files.iter().find(|f| f.file_index == p.page.file_index).unwrap();
        assert_eq!(p.decoded_by, file.claim_token, "each page decoded under its file's one claim");
    }
    // The reply and its eight extra sheets are one reply of nine pages.
    assert_eq!(pages.iter().filter(|p| p.outcome == "matched").count(), 9);
}

#[tokio::test]
async fn a_worker_whose_claim_was_taken_over_writes_nothing() {
    let w = world().await;
    let scan_id = accepted(
        &upload(
            &w,
            &w.site.1,
            vec![Part::Text("mode", "replies"), Part::File("a.png", png(&handwritten_page(7, 400, 560)))],
        )
        .await,
    );
    let store = &w.store;
    let now = hybridpost_store::now_text();
    let past = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - time::Duration::seconds(5));
    // A worker claims the file and dies: its claim has run out.
    let mut tx = store.begin().await.unwrap();
    let dead = hybridpost_store::scan::claim_file(&mut tx, &now, &past, "dead-worker").await.unwrap().unwrap();
    tx.commit().await.unwrap();
    // Another takes it over and decodes it.
    assert!(hybridpost_intake::decode_next_file(&w.state).await.unwrap());
    // The first one wakes up and tries to write its page: refused.
    let page = hybridpost_store::scan::NewScanPage {
        page_id: hybridpost_core::ScanPageId::new(),
        scan_id: dead.scan_id,
        file_index: dead.file_index,
        page_number: 1,
        entry: None,
        content_hash: None,
        image_blob: None,
        image_meta: None,
        thumbnail_blob: None,
        quarter_turns: 0,
        mark: json!({"kind": "blank"}).to_string(),
        decode_log: None,
        decode_ms: 0,
    };
    let mut tx = store.begin().await.unwrap();
    let written = hybridpost_store::scan::insert_page(&mut tx, &page, "dead-worker", &now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(written, hybridpost_store::scan::PageWrite::ClaimLost);
    let mut conn = store.read().await.unwrap();
    assert_eq!(hybridpost_store::scan::scan_pages(&mut conn, scan_id.parse().unwrap()).await.unwrap().len(), 1);
}

/// `GET /healthz` over a real connection; its status.
async fn healthz(addr: std::net::SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn hostile_scanner_pdfs_fail_alone_naming_their_limit_and_the_server_keeps_answering() {
    use hybridpost_pdfguard::hostile::{self, Nest, Place};
    let w = world().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, w.intake.clone())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    assert_eq!(healthz(addr).await, 200);
    let l = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    let reply = rasterise(&letter_pdf(&w, &l).await, DPI).pop().unwrap();
    let (width, height) = (300, 420);
    let grey: Vec<u8> = (0..width * height).map(|i| if (i / width) % 20 < 10 { 40 } else { 230 }).collect();
    let scan = |kind, depth, place| hostile::nested_scan(kind, depth, place, width, height, &grey);
    let refused = [
        ("deep-body.pdf", scan(Nest::Arrays, 30_000, Place::Body), "64 levels"),
        ("deep-dictionaries.pdf", scan(Nest::Dictionaries, 30_000, Place::Body), "64 levels"),
        ("deep-object-stream.pdf", scan(Nest::Arrays, 1_000_000, Place::ObjectStream), "64 levels"),
        ("length-chain.pdf", hostile::length_chain(30_000), "at most 4"),
        ("self-measuring.pdf", hostile::self_measuring_object_stream(), "at most 4"),
        ("small-arrays.pdf", hostile::many_small_arrays(60_000, 120), "at most"),
    ];
    let mut parts = vec![Part::Text("mode", "replies")];
    for (name, pdf, _) in &refused {
        parts.push(Part::File(name, pdf.clone()));
    }
    // Nesting in the page's content is never read: the scanned image is.
    parts.push(Part::File("deep-content.pdf", scan(Nest::Arrays, 30_000, Place::Content)));
    parts.push(Part::File("reply.png", png(&reply)));
    let scan_id = accepted(&upload(&w, &w.site.1, parts).await);
    drain(&w).await;
    assert_eq!(healthz(addr).await, 200, "the server still answers after decoding them");
    let view = scan_view(&w, &w.site.1, &scan_id).await;
    let files = view["files"].as_array().unwrap();
    for (name, _, limit) in &refused {
        let file = files.iter().find(|f| f["name"] == *name).unwrap();
        assert_eq!(file["status"], "failed", "{name}: {file}");
        let error = file["error"].as_str().unwrap();
        assert!(error.contains(limit), "{name}: the error names the limit: {error}");
    }
    let content = files.iter().find(|f| f["name"] == "deep-content.pdf").unwrap();
    assert_eq!(content["pages"], 1, "{content}");
    assert_eq!(count(&view, "matched"), 1, "the good page is matched: {view:#}");
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}
