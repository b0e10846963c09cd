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
}
