//! The answer ticked on a reply sheet (page 1 of ours, the page an agency's form puts its boxes on), read when the reply is grouped: the agency
//! gets it as data (in the reply resource, the `reply_received` event and webhook, and its
//! e-mail) with how sure the reading is, or `needs_review` with why when it is not certain.
//! A reading is never a guess: see `hybridpost_scan::answers`.

use hybridpost_render::{LetterTemplates, QrModules, ReplySheet, blank_beside_boxes, reply_answer_boxes};
use hybridpost_render::{REPLY_CODE_ORIGINS, REPLY_CODE_SIZE};
use hybridpost_scan::AreaMm;
use hybridpost_scan::answers::{Answer, AnswerBoxMm, CodePlace, Question, read_answer};
use hybridpost_scan::input::{Limits, StoredImage};
use hybridpost_seal::{Reference, ReplyCode, ReplyKey, base32_decode};
use hybridpost_store::letters::LetterRecord;
use serde::{Deserialize, Serialize};

/// How an answer was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// Exactly one box marked, every other clean: `choice` is the answer.
    Answered,
    /// No box marked, every box clean.
    NoAnswer,
    /// Not certain (two boxes marked, a correction, a faint mark, a stamp over the boxes, the
    /// boxes not found): a person must look at the reply; `reason` says why.
    NeedsReview,
}

/// One of the question's choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnswerChoice {
    /// Its number, from 1, in the order printed.
    pub choice: u8,
    /// Its words in Thai.
    pub label_th: String,
    /// Its words in English.
    pub label_en: String,
}

/// What was measured in one box.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnswerBoxView {
    /// The choice.
    pub choice: u8,
    /// Share (0–1) of the box's inside covered by ink.
    pub ink: f32,
    /// Share (0–1) of the box's inside with any mark, faint ones included.
    pub any_mark: f32,
    /// `marked`, `clean` or `unclear`.
    pub state: String,
}

/// The answer read from a reply's tick boxes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyAnswer {
    /// How it was read.
    pub status: AnswerStatus,
    /// The choice marked, when `answered`.
    pub choice: Option<u8>,
    /// How sure the reading is, 0–1: at least 0.5 for `answered` and `no_answer` (1 when every
    /// box is far from undecided), 0 for `needs_review`.
    pub confidence: f32,
    /// Why a person must look (`several_marked`, `unclear_mark`, `ink_around_boxes`,
    /// `boxes_not_found`, `codes_not_found`, `page_missing`, `page_unreadable`; and
    /// `unclear_to_person` when a person at the post office could not tell either).
    pub reason: Option<String>,
    /// The same in words.
    pub detail: Option<String>,
    /// The question's choices as printed.
    pub choices: Vec<AnswerChoice>,
    /// What was measured in each box.
    pub boxes: Vec<AnswerBoxView>,
    /// The reply page the boxes are on, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u8>,
    /// Who read the answer when the scanner could not: `post_office` once a person at the
    /// site that scanned it has looked; absent when the scanner read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_by: Option<String>,
}

impl ReplyAnswer {
    /// How the answer stands for the post office's queue (the reply's `answer_status`):
    /// `needs_review` when a person can read it on a page that arrived, `not_read` when the
    /// page with the boxes did not.
    pub fn queue_status(&self) -> &'static str {
        match self.status {
            AnswerStatus::Answered => "answered",
            AnswerStatus::NoAnswer => "no_answer",
            AnswerStatus::NeedsReview if self.reason.as_deref() == Some("page_missing") => "not_read",
            AnswerStatus::NeedsReview => "needs_review",
        }
    }

    /// The reply page that carries the boxes did not arrive or could not be read.
    pub(crate) fn not_read(choices: Vec<AnswerChoice>, reason: &str, detail: &str) -> Self {
        ReplyAnswer {
            status: AnswerStatus::NeedsReview,
            choice: None,
            confidence: 0.0,
            reason: Some(reason.into()),
            detail: Some(detail.into()),
            choices,
            boxes: Vec::new(),
            page: None,
            read_by: None,
        }
    }

    /// The answer in words for the agency (its e-mail, its console): Thai, English.
    pub fn words(&self) -> (String, String) {
        let label = self.choice.and_then(|c| self.choices.iter().find(|x| x.choice == c));
        match (self.status, label) {
            (AnswerStatus::Answered, Some(l)) => (
                format!("ข้อ {} {} (ความมั่นใจ {:.0}%)", l.choice, l.label_th, self.confidence * 100.0),
                format!("choice {}: {} (confidence {:.0}%)", l.choice, l.label_en, self.confidence * 100.0),
            ),
            (AnswerStatus::NoAnswer, _) => ("ไม่ได้กาช่องใด".into(), "no box ticked".into()),
            _ => (
                "ต้องให้เจ้าหน้าที่ตรวจดู ระบบอ่านคำตอบไม่ได้อย่างแน่นอน".into(),
                format!(
                    "needs a person to look: {}",
                    self.detail.as_deref().unwrap_or("the answer could not be read with certainty")
                ),
            ),
        }
    }
}

/// The question a letter's reply sheet asks: its answer boxes (mm on the reply page `page`),
/// blank paper near them, and its choices; `None` for a letter that asks for no reply or whose
/// form declares no boxes.
pub(crate) struct SheetQuestion {
    /// The reply page the boxes are on, from 1.
    pub page: u8,
    boxes: Vec<AnswerBoxMm>,
    clear: Vec<AreaMm>,
    code: String,
    pub choices: Vec<AnswerChoice>,
}

/// A strip right of the top-right reply code, between its symbol and the page's edge: blank on
/// every reply page (a form must leave the code places and the margin blank), the paper an
/// agency form's boxes are read against.
const QUIET_STRIP: AreaMm = AreaMm { x: 202.3, y: 12.0, width: 4.0, height: 28.0 };

/// Where the boxes are on the reply pages of `letter`, as they were printed. `pages` is the
/// page count the scanned reply codes carry, which for an agency's form is its page count.
pub(crate) fn question(letter: &LetterRecord, key: &ReplyKey, pages: u8) -> Result<Option<SheetQuestion>, String> {
    let content = letter.letter().map_err(|e| e.to_string())?;
    let (Some(request), Some(deadline), Some(seal)) = (content.reply_request(), &letter.reply_deadline, &letter.seal)
    else {
        return Ok(None);
    };
    let reference = base32_decode(&seal.reference)
        .ok()
        .and_then(|b| Reference::from_bytes(&b))
        .ok_or_else(|| format!("seal reference {:?}", seal.reference))?;
    let Some(own) = request.own_pages() else {
        // The agency's form: the boxes it declared, read against the code's quiet zone.
        let Some(first) = request.answers.first() else { return Ok(None) };
        let page = u8::try_from(first.page).map_err(|_| format!("answer boxes on page {}", first.page))?;
        let code = ReplyCode::new(reference, page, pages).map_err(|e| e.to_string())?;
        return Ok(Some(SheetQuestion {
            page,
            boxes: request
                .answers
                .iter()
                .zip(1u8..)
                .map(|(b, choice)| AnswerBoxMm { choice, x: b.x, y: b.y, side: b.side })
                .collect(),
            clear: vec![QUIET_STRIP],
            code: code.to_text(key),
            choices: request
                .answers
                .iter()
                .zip(1u8..)
                .map(|(b, choice)| AnswerChoice { choice, label_th: b.label_th.clone(), label_en: b.label_en.clone() })
                .collect(),
        }));
    };
    let code = ReplyCode::new(reference.clone(), 1, own).map_err(|e| e.to_string())?;
    let matrix = code.qr_matrix(key).map_err(|e| e.0)?;
    let modules = QrModules::new(matrix.width, matrix.modules).map_err(|e| e.to_string())?;
    let deadline = time::Date::parse(deadline, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|e| format!("reply deadline {deadline:?}: {e}"))?;
    // Every page's code has the size of page 1's: the layout is the same.
    let sheet =
        ReplySheet { pages: vec![modules; usize::from(own)], reference_digits: reference.to_digits(), deadline };
    let templates = LetterTemplates::builtin();
    let laid = reply_answer_boxes(templates, &content, &sheet).map_err(|e| e.to_string())?;
    let texts = &templates.for_layout(content.layout).reply;
    let choices = texts
        .th
        .choices
        .iter()
        .zip(&texts.en.choices)
        .zip(1u8..)
        .map(|((th, en), choice)| AnswerChoice { choice, label_th: th.clone(), label_en: en.clone() })
        .collect();
    let first: Vec<_> = laid.iter().filter(|b| b.reply_page == 1).copied().collect();
    Ok(Some(SheetQuestion {
        page: 1,
        boxes: first
            .iter()
            .map(|b| AnswerBoxMm { choice: b.choice, x: b.area.x.0, y: b.area.y.0, side: b.area.width.0 })
            .collect(),
        clear: blank_beside_boxes(&first)
            .map(|a| AreaMm { x: a.x.0, y: a.y.0, width: a.width.0, height: a.height.0 })
            .into_iter()
            .collect(),
        code: code.to_text(key),
        choices,
    }))
}

/// Reads `question` on the stored page image `page` (of `dpi`, upright after `quarter_turns`).
pub(crate) fn read(
    question: &SheetQuestion,
    page: &StoredImage,
    dpi: Option<f32>,
    quarter_turns: u8,
    limits: &Limits,
) -> ReplyAnswer {
    let image = match page.to_gray(limits) {
        Ok(image) => image,
        Err(e) => return ReplyAnswer::not_read(question.choices.clone(), "page_unreadable", &e),
    };
    let places: Vec<CodePlace> =
        REPLY_CODE_ORIGINS.iter().map(|o| CodePlace { x: o.x.0, y: o.y.0, side: REPLY_CODE_SIZE.0 }).collect();
    let q = Question { boxes: &question.boxes, clear: &question.clear };
    let reading = read_answer(&image, dpi, quarter_turns, &places, &|t| t == question.code, &q);
    let boxes = reading
        .boxes
        .iter()
        .map(|b| AnswerBoxView { choice: b.choice, ink: b.ink, any_mark: b.any_mark, state: b.state.as_str().into() })
        .collect();
    let (status, choice, reason, detail) = match reading.outcome {
        Ok(Answer::Chosen(c)) => (AnswerStatus::Answered, Some(c), None, None),
        Ok(Answer::NoMark) => (AnswerStatus::NoAnswer, None, None, None),
        Err(why) => (AnswerStatus::NeedsReview, None, Some(why.code().to_owned()), Some(why.to_string())),
    };
    ReplyAnswer {
        status,
        choice,
        confidence: reading.confidence,
        reason,
        detail,
        choices: question.choices.clone(),
        boxes,
        page: Some(question.page),
        read_by: None,
    }
}
