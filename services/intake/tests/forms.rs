//! Agencies' own forms returned as replies, on the store named by `HYBRIDPOST_TEST_DATABASE_URL`:
//! the sample form of `fixtures/forms/` uploaded as the agency's document, sent as a letter's
//! reply sheet with its answer boxes declared, printed with the reply codes stamped on each
//! page, filled in (drawn on), scanned with the corpus degradations and uploaded in pieces.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use axum::http::{Method, StatusCode};
use hybridpost_scan::AreaMm;
use hybridpost_scan::degrade::{self, Rng};
use hybridpost_store::letters::LetterRecord;
use serde_json::{Value, json};
use support::*;

const DPI: u32 = 200;
const FORM: &[u8] = include_bytes!("../../../fixtures/forms/household-survey.pdf");
const FORM_OVER_CODE_PLACE: &[u8] = include_bytes!("../../../fixtures/forms/household-survey-over-code-place.pdf");
const ANSWERS: &str = include_str!("../../../fixtures/forms/household-survey.answers.json");

/// Uploads `pdf` as a document of agency A; its id.
async fn upload_document(w: &World, pdf: &[u8]) -> String {
    let answer = call_raw(&w.gateway, "/v1/documents", &w.a.1, "application/pdf", pdf.to_vec()).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.json()["document_id"].as_str().unwrap().to_owned()
}

/// The sample letter of agency A asking for `reply` back.
fn letter_asking(reply: Value) -> Value {
    let mut content: Value = serde_json::from_str(FIXTURE).unwrap();
    content["recipient"].as_object_mut().unwrap().remove("citizen_id");
    content["reply"] = reply;
    content
}

async fn send_form_letter(w: &World, form_id: &str) -> LetterRecord {
    let answers: Value = serde_json::from_str(ANSWERS).unwrap();
    let content = letter_asking(json!({"deadline": "2027-01-31", "form_document_id": form_id, "answers": answers}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    letter(w, answer.json()["letter_id"].as_str().unwrap().parse().unwrap()).await
}

/// A page as an office scanner gives it back: grey paper, a little skew, blur, noise, JPEG.
fn scanned(page: &image::GrayImage, seed: u64) -> image::GrayImage {
    let mut rng = Rng::new(seed);
    let mut scan = page.clone();
    degrade::contrast(&mut scan, 235, 30);
    scan = degrade::skew(&scan, rng.range(-1.5, 1.5));
    scan = degrade::blur(&scan, 0.7);
    degrade::noise(&mut scan, 5.0, &mut rng);
    image::load_from_memory(&degrade::jpeg(&scan, 70)).unwrap().to_luma8()
}

#[tokio::test]
async fn a_form_over_a_code_place_is_refused_naming_each_page_and_the_place() {
    let w = world().await;
    let form = upload_document(&w, FORM_OVER_CODE_PLACE).await;
    let content = letter_asking(json!({"deadline": "2027-01-31", "form_document_id": form}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["field"] == "reply.form_document_id")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "one refusal per page: {body:#}");
    for (n, message) in (1..).zip(&messages) {
        assert!(
            message.starts_with(&format!("page {n}: content in the top-right reply code place (164–205 mm")),
            "{message}"
        );
        assert!(message.contains("ที่พิมพ์รหัสตอบกลับมุมขวาบน"), "{message}");
    }

    // Answer boxes must be on one of the form's pages and clear of the code places.
    let good = upload_document(&w, FORM).await;
    let boxes = json!([
        {"page": 4, "x": 25.0, "y": 120.0, "side": 5.0, "label_th": "ใช่", "label_en": "Yes"},
        {"page": 4, "x": 170.0, "y": 20.0, "side": 5.0, "label_th": "ไม่ใช่", "label_en": "No"},
    ]);
    let content = letter_asking(json!({"deadline": "2027-01-31", "form_document_id": good, "answers": boxes}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["reply.answers[0].page", "reply.answers[1].page", "reply.answers[1]"], "{body:#}");

    // Our own sheet and a form at once, or boxes without a form, are refused by the checks.
    let content = letter_asking(json!({"deadline": "2027-01-31", "form_document_id": good, "pages": 2}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.json()["errors"][0]["field"], "reply.pages");
    // Agency B cannot name agency A's form.
    let content = letter_asking(json!({"deadline": "2027-01-31", "form_document_id": good}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.b.1), Some(content)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.json()["errors"][0]["field"], "reply.form_document_id");
}

#[tokio::test]
async fn a_three_page_form_comes_back_shuffled_with_a_page_missing_as_one_reply_with_its_answer() {
    let w = world().await;
    let form = upload_document(&w, FORM).await;
    let letter = send_form_letter(&w, &form).await;
    dispatch(&w, &letter).await;
    let pdf = letter_pdf_with_documents(&w, &letter).await;
    // The picture in docs/ is drawn from this PDF.
    if let Some(path) = std::env::var_os("HYBRIDPOST_FORM_PDF") {
        std::fs::write(path, &pdf).unwrap();
    }
    let pages = rasterise(&pdf, DPI);
    let letter_pages = pages.len() - 3;
    assert!(letter_pages >= 1, "the letter, then the form's three pages");
    let form_text = {
        let path = w.dir.path().join("letter.pdf");
        std::fs::write(&path, &pdf).unwrap();
        tool("qpdf", &["--check", path.to_str().unwrap()]);
        tool("pdftotext", &["-f", &(letter_pages + 1).to_string(), path.to_str().unwrap(), "-"])
    };
    // The form's own words, and on each page the reference and the sheet number we print.
    assert!(form_text.contains("แบบสำรวจข้อมูลครัวเรือน"), "{form_text}");
    for n in ["๑", "๒", "๓"] {
        assert!(form_text.contains(&format!("แผ่นที่ {n} จาก ๓")), "sheet {n} of 3 is printed: {form_text}");
    }
    assert!(form_text.contains(&reference_digits(&letter)), "{form_text}");

    // The citizen ticks the second box on page 1 and fills in the rest; page 2 is lost.
    let answers: Vec<Value> = serde_json::from_str(ANSWERS).unwrap();
    let b = &answers[1];
    let area = AreaMm {
        x: b["x"].as_f64().unwrap() as f32,
        y: b["y"].as_f64().unwrap() as f32,
        width: b["side"].as_f64().unwrap() as f32,
        height: b["side"].as_f64().unwrap() as f32,
    };
    let mut first = pages[letter_pages].clone();
    let pen = hybridpost_scan::pen::Pen { width: 0.6, ink: 30 };
    hybridpost_scan::pen::tick(&mut first, DPI, pen, area, &mut Rng::new(5));
    let third = degrade::turn(&scanned(&pages[letter_pages + 2], 3), 2);
    let upload_pdf = scanned_pdf(&[third, scanned(&first, 1)], DPI as f32);
    let answer = upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("form.pdf", upload_pdf)]).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer.bytes));
    drain(&w).await;

    let replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", letter.letter_id), Some(&w.a.1), None).await;
    let replies = replies.json();
    let items = replies["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one reply: {replies:#}");
    let reply = &items[0];
    assert_eq!(reply["pages"], 2, "{reply:#}");
    assert_eq!(reply["missing_pages"], json!([2]), "the missing page is named: {reply:#}");
    assert_eq!(reply["out_of_order"], true, "{reply:#}");
    let answer = &reply["answer"];
    assert_eq!(answer["status"], "answered", "{answer:#}");
    assert_eq!(answer["choice"], 2, "{answer:#}");
    assert_eq!(answer["choices"][1]["label_en"], "There is no elderly person in the household", "{answer:#}");

    // Page 2 may still come in a later upload: the agency is told when the wait ends.
    assert!(reply["waiting_until"].is_string(), "{reply:#}");
    assert_eq!(notices(&w, "reply_received", letter.letter_id).await, 0, "not told while it waits");
    assert!(timeline(&w, letter.letter_id).await.iter().all(|(kind, _)| kind != "reply_received"));
    assert_eq!(hybridpost_intake::tell_waited_replies(&w.state).await.unwrap(), 0, "its wait has not ended");
    end_waits(&w).await;
    assert_eq!(hybridpost_intake::tell_waited_replies(&w.state).await.unwrap(), 1);
    assert_eq!(hybridpost_intake::tell_waited_replies(&w.state).await.unwrap(), 0, "told once");
    assert_eq!(notices(&w, "reply_received", letter.letter_id).await, 1);
    let events = timeline(&w, letter.letter_id).await;
    let told: Vec<&Value> = events.iter().filter(|(kind, _)| kind == "reply_received").map(|(_, d)| d).collect();
    assert_eq!(told.len(), 1, "{events:?}");
    assert_eq!(told[0]["missing_pages"], json!([2]), "the missing page is named: {:#}", told[0]);
    assert_eq!(told[0]["answer"]["choice"], 2, "{:#}", told[0]);
    assert_eq!(letter_status(&w, &letter).await, "reply_received");
}

/// Ends every reply's wait for missing pages, as time passing would.
async fn end_waits(w: &World) {
    let mut tx = w.store.begin().await.unwrap();
    let waiting =
        hybridpost_store::scan::replies_done_waiting(&mut tx, "9999-12-31T00:00:00.000Z", 1000).await.unwrap();
    for r in waiting {
        let was = r.waiting_until.clone().unwrap();
        let ended = hybridpost_store::scan::ReplyRecord { waiting_until: Some("2000-01-01T00:00:00.000Z".into()), ..r };
        let pages = ended.page_count;
        assert!(hybridpost_store::scan::update_joined_reply(&mut tx, &ended, &was, pages).await.unwrap());
    }
    tx.commit().await.unwrap();
}

async fn letter_status(w: &World, l: &LetterRecord) -> String {
    letter(w, l.letter_id).await.status.as_str().to_owned()
}

#[tokio::test]
async fn a_three_page_reply_uploaded_in_two_goes_is_one_reply_told_once() {
    let w = world().await;
    let content = letter_asking(json!({"deadline": "2027-01-31", "pages": 3}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    let letter = letter(&w, answer.json()["letter_id"].as_str().unwrap().parse().unwrap()).await;
    dispatch(&w, &letter).await;
    let pages = rasterise(&letter_pdf(&w, &letter).await, DPI);
    let sheet = &pages[pages.len() - 3..];
    let replies_path = format!("/v1/letters/{}/replies", letter.letter_id);

    // Page 1 in the morning's upload, pages 3 and 2 (out of order) in the afternoon's.
    let first = scanned_pdf(&[scanned(&sheet[0], 11)], DPI as f32);
    let answer = upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("am.pdf", first)]).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer.bytes));
    drain(&w).await;
    let waiting = call(&w.intake, Method::GET, &replies_path, Some(&w.a.1), None).await.json();
    let waiting = &waiting["items"][0];
    assert_eq!(waiting["missing_pages"], json!([2, 3]), "{waiting:#}");
    assert!(waiting["waiting_until"].is_string(), "{waiting:#}");
    assert_eq!(notices(&w, "reply_received", letter.letter_id).await, 0);

    let rest = scanned_pdf(&[scanned(&sheet[2], 13), scanned(&sheet[1], 12)], DPI as f32);
    let answer = upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("pm.pdf", rest)]).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&answer.bytes));
    drain(&w).await;
    let replies = call(&w.intake, Method::GET, &replies_path, Some(&w.a.1), None).await.json();
    let items = replies["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one reply: {replies:#}");
    let reply = &items[0];
    assert_eq!(reply["reply_id"], waiting["reply_id"], "the same reply, completed: {reply:#}");
    assert_eq!(reply["pages"], 3, "{reply:#}");
    assert_eq!(reply["missing_pages"], json!([]), "{reply:#}");
    assert_eq!(reply["out_of_order"], true, "{reply:#}");
    assert_eq!(reply["waiting_until"], Value::Null, "{reply:#}");
    assert_eq!(reply["answer"]["status"], "no_answer", "page 1's boxes were read: {reply:#}");
    // One notice and one event, when it was complete; the sweep finds nothing left to tell.
    assert_eq!(notices(&w, "reply_received", letter.letter_id).await, 1);
    let events = timeline(&w, letter.letter_id).await;
    assert_eq!(events.iter().filter(|(kind, _)| kind == "reply_received").count(), 1, "{events:?}");
    end_waits(&w).await;
    assert_eq!(hybridpost_intake::tell_waited_replies(&w.state).await.unwrap(), 0);

    // Its PDF has the three pages in order: page n's codes say page n.
    let pdf = call(&w.intake, Method::GET, reply["pdf_url"].as_str().unwrap(), Some(&w.a.1), None).await;
    assert_eq!(pdf.status, StatusCode::OK);
    let key = w.composer.reply_key();
    for (n, page) in (1u8..).zip(rasterise(&pdf.bytes, 150)) {
        let options = hybridpost_scan::find::FindOptions {
            budget: std::time::Duration::from_secs(60),
            areas: Vec::new(),
            dpi: Some(150.0),
        };
        let found = hybridpost_scan::find::find_codes(&page, &options, &|found| !found.is_empty());
        let decoded = found.codes.iter().find_map(|f| hybridpost_seal::ReplyCode::parse(&f.text, &key).ok());
        assert_eq!(decoded.map(|c| c.page()), Some(n), "page {n} of the PDF");
    }
}

#[tokio::test]
async fn a_site_sets_its_wait_and_a_wait_of_zero_tells_at_once() {
    let w = world().await;
    let settings = call(&w.intake, Method::GET, "/v1/site/settings", Some(&w.site.1), None).await;
    assert_eq!(settings.status, StatusCode::OK);
    assert_eq!(settings.json()["reply_wait_minutes"], 1440, "a day unless the site says otherwise");
    let too_long = json!({"reply_wait_minutes": 20000});
    let refused = call(&w.intake, Method::PUT, "/v1/site/settings", Some(&w.site.1), Some(too_long)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["errors"][0]["field"], "reply_wait_minutes");
    let agency = call(&w.intake, Method::GET, "/v1/site/settings", Some(&w.a.1), None).await;
    assert_eq!(agency.status, StatusCode::FORBIDDEN, "an agency key has no site settings");
    let zero = json!({"reply_wait_minutes": 0});
    let set = call(&w.intake, Method::PUT, "/v1/site/settings", Some(&w.site.1), Some(zero)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", String::from_utf8_lossy(&set.bytes));
    let other = call(&w.intake, Method::GET, "/v1/site/settings", Some(&w.other_site.1), None).await;
    assert_eq!(other.json()["reply_wait_minutes"], 1440, "one site's setting is its own");

    let content = letter_asking(json!({"deadline": "2027-01-31", "pages": 2}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    let letter = letter(&w, answer.json()["letter_id"].as_str().unwrap().parse().unwrap()).await;
    dispatch(&w, &letter).await;
    let pages = rasterise(&letter_pdf(&w, &letter).await, DPI);
    let page_two = scanned_pdf(&[scanned(&pages[pages.len() - 1], 21)], DPI as f32);
    upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("p2.pdf", page_two)]).await;
    drain(&w).await;
    let replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", letter.letter_id), Some(&w.a.1), None).await;
    let reply = &replies.json()["items"][0];
    assert_eq!(reply["missing_pages"], json!([1]), "{reply:#}");
    assert_eq!(reply["waiting_until"], Value::Null, "{reply:#}");
    assert_eq!(reply["answer"]["reason"], "page_missing", "the boxes are on page 1: {reply:#}");
    assert_eq!(notices(&w, "reply_received", letter.letter_id).await, 1, "told at once");
}

#[tokio::test]
async fn an_answer_the_scanner_cannot_read_waits_for_a_person_at_the_post_office() {
    let w = world().await;
    let letter = send_letter(&w, &w.a.1, "นายสมชาย ใจดี").await;
    dispatch(&w, &letter).await;
    let pages = rasterise(&letter_pdf(&w, &letter).await, DPI);
    // The citizen ticks the first box, then the third as well.
    let mut sheet = pages.last().unwrap().clone();
    let pen = hybridpost_scan::pen::Pen { width: 0.6, ink: 30 };
    for b in [0, 2].map(|i| answer_boxes(&letter)[i].area) {
        let area = AreaMm { x: b.x.0, y: b.y.0, width: b.width.0, height: b.height.0 };
        hybridpost_scan::pen::tick(&mut sheet, DPI, pen, area, &mut Rng::new(9));
    }
    let pdf = scanned_pdf(&[scanned(&sheet, 31)], DPI as f32);
    upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("two.pdf", pdf)]).await;
    drain(&w).await;
    let replies_path = format!("/v1/letters/{}/replies", letter.letter_id);
    let reply = call(&w.intake, Method::GET, &replies_path, Some(&w.a.1), None).await.json()["items"][0].clone();
    assert_eq!(reply["answer"]["status"], "needs_review", "{reply:#}");
    assert_eq!(reply["answer"]["reason"], "several_marked", "{reply:#}");

    // In the site's queue, with the question and the page; not in another site's.
    let queue = call(&w.intake, Method::GET, "/v1/review/answers", Some(&w.site.1), None).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", String::from_utf8_lossy(&queue.bytes));
    let queue = queue.json();
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue:#}");
    assert_eq!(items[0]["reply_id"], reply["reply_id"]);
    assert_eq!(items[0]["reason"], "several_marked");
    assert_eq!(items[0]["choices"].as_array().unwrap().len(), 3, "{queue:#}");
    let thumbnail =
        call(&w.intake, Method::GET, items[0]["thumbnail_url"].as_str().unwrap(), Some(&w.site.1), None).await;
    assert_eq!((thumbnail.status, thumbnail.content_type.as_str()), (StatusCode::OK, "image/png"));
    let other = call(&w.intake, Method::GET, "/v1/review/answers", Some(&w.other_site.1), None).await.json();
    assert_eq!(other["items"], json!([]), "another site's queue is its own");
    let agency = call(&w.intake, Method::GET, "/v1/review/answers", Some(&w.a.1), None).await;
    assert_eq!(agency.status, StatusCode::FORBIDDEN);

    // A person reads it: a choice the question lacks is refused; another site cannot decide.
    let path = format!("/v1/review/answers/{}", reply["reply_id"].as_str().unwrap());
    let wrong = call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(json!({"choice": 7}))).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.json()["errors"][0]["field"], "choice");
    let elsewhere = call(&w.intake, Method::POST, &path, Some(&w.other_site.1), Some(json!({"choice": 3}))).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let decided = call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(json!({"choice": 3}))).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", String::from_utf8_lossy(&decided.bytes));
    let again = call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(json!({"choice": null}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "decided once");

    // The agency has it as data, with who read it, and an event (and so a webhook) says so.
    let reply = call(&w.intake, Method::GET, &replies_path, Some(&w.a.1), None).await.json()["items"][0].clone();
    let answer = &reply["answer"];
    assert_eq!((answer["status"].as_str(), answer["choice"].as_i64()), (Some("answered"), Some(3)), "{answer:#}");
    assert_eq!(answer["read_by"], "post_office", "{answer:#}");
    assert_eq!(answer["confidence"], 1.0, "{answer:#}");
    let events = timeline(&w, letter.letter_id).await;
    let reviewed: Vec<&Value> =
        events.iter().filter(|(kind, _)| kind == "reply_answer_reviewed").map(|(_, d)| d).collect();
    assert_eq!(reviewed.len(), 1, "{events:?}");
    assert_eq!(reviewed[0]["answer"]["choice"], 3, "{:#}", reviewed[0]);
    let queue = call(&w.intake, Method::GET, "/v1/review/answers", Some(&w.site.1), None).await.json();
    assert_eq!(queue["items"], json!([]), "the queue is empty");
}

#[tokio::test]
async fn an_answer_a_person_read_stays_when_the_rest_of_the_reply_arrives() {
    let w = world().await;
    let content = letter_asking(json!({"deadline": "2027-01-31", "pages": 2}));
    let answer = call(&w.gateway, Method::POST, "/v1/letters", Some(&w.a.1), Some(content)).await;
    let letter = letter(&w, answer.json()["letter_id"].as_str().unwrap().parse().unwrap()).await;
    dispatch(&w, &letter).await;
    let pages = rasterise(&letter_pdf(&w, &letter).await, DPI);
    let (mut first, second) = (pages[pages.len() - 2].clone(), pages[pages.len() - 1].clone());
    let pen = hybridpost_scan::pen::Pen { width: 0.6, ink: 30 };
    let boxes = answer_boxes(&letter);
    for b in [boxes[0].area, boxes[1].area] {
        let area = AreaMm { x: b.x.0, y: b.y.0, width: b.width.0, height: b.height.0 };
        hybridpost_scan::pen::tick(&mut first, DPI, pen, area, &mut Rng::new(4));
    }
    let pdf = scanned_pdf(&[scanned(&first, 41)], DPI as f32);
    upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("p1.pdf", pdf)]).await;
    drain(&w).await;
    let queue = call(&w.intake, Method::GET, "/v1/review/answers", Some(&w.site.1), None).await.json();
    let reply_id = queue["items"][0]["reply_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/review/answers/{reply_id}");
    let decided = call(&w.intake, Method::POST, &path, Some(&w.site.1), Some(json!({"choice": 1}))).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", String::from_utf8_lossy(&decided.bytes));

    let pdf = scanned_pdf(&[scanned(&second, 42)], DPI as f32);
    upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("p2.pdf", pdf)]).await;
    drain(&w).await;
    let replies =
        call(&w.intake, Method::GET, &format!("/v1/letters/{}/replies", letter.letter_id), Some(&w.a.1), None).await;
    let replies = replies.json();
    assert_eq!(replies["items"].as_array().unwrap().len(), 1, "{replies:#}");
    let reply = &replies["items"][0];
    assert_eq!((reply["pages"].as_i64(), reply["waiting_until"].is_null()), (Some(2), true), "{reply:#}");
    let answer = &reply["answer"];
    assert_eq!((answer["choice"].as_i64(), answer["read_by"].as_str()), (Some(1), Some("post_office")), "{answer:#}");
    assert_eq!(notices(&w, "reply_received", letter.letter_id).await, 1);
}
