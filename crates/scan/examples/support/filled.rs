//! Filled-in reply sheets for the answer reader's corpus and tests: a real reply page
//! (rendered, with its reply codes, rasterised by pdftoppm at 300 dpi), a citizen's mark of one
//! of every kind drawn on it by `hybridpost_scan::pen`, then the scanner damage of the code
//! corpus, and the reader run as the intake runs it: `find_codes` for the page's code and
//! orientation, then `read_answer`.

use hybridpost_render::{AnswerBox, REPLY_CODE_ORIGINS, REPLY_CODE_SIZE, blank_beside_boxes};
use hybridpost_scan::AreaMm;
use hybridpost_scan::answers::{Answer, AnswerBoxMm, AnswerReading, CodePlace, Question, read_answer};
use hybridpost_scan::degrade::{self, Rng};
use hybridpost_scan::find::{FindOptions, find_codes};
use hybridpost_scan::pen::{self, Pen};
use image::GrayImage;

use crate::pages;

/// Resolution the blank sheets are rasterised at; scans at lower resolutions are made from it.
pub const MASTER_DPI: u32 = 300;

/// What the citizen did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A tick in one box.
    Tick,
    /// A cross in one box.
    Cross,
    /// One box filled in.
    Filled,
    /// A tick in faint pencil.
    Faint,
    /// One box filled in or crossed out to cancel it, another ticked.
    Corrected,
    /// Nothing.
    None,
    /// Ticks in two boxes.
    Two,
    /// An office stamp over the boxes (with or without a tick).
    Stamp,
}

impl Kind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tick => "tick",
            Kind::Cross => "cross",
            Kind::Filled => "filled",
            Kind::Faint => "faint_pencil",
            Kind::Corrected => "corrected",
            Kind::None => "none",
            Kind::Two => "two_marked",
            Kind::Stamp => "stamp",
        }
    }

    /// The kind of sheet `i` of a corpus: every kind, ticks most often.
    pub fn of_sheet(i: usize) -> Kind {
        const MIX: [Kind; 12] = [
            Kind::Tick,
            Kind::Cross,
            Kind::Filled,
            Kind::Faint,
            Kind::Tick,
            Kind::Corrected,
            Kind::None,
            Kind::Two,
            Kind::Tick,
            Kind::Stamp,
            Kind::Cross,
            Kind::Tick,
        ];
        MIX[i % MIX.len()]
    }
}

/// What a reading is worth against what was marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Certain, and what the citizen marked.
    Right,
    /// Not certain: a person looks.
    Review,
    /// Certain, and not what the citizen marked (or certain where nothing can be).
    Wrong,
}

/// A blank reply page and where its boxes are.
pub struct Blank {
    /// The page at [`MASTER_DPI`].
    pub page: GrayImage,
    /// Its reply code's text.
    pub code: String,
    /// Its answer boxes.
    pub boxes: Vec<AnswerBox>,
}

/// Renders `count` letters with a one-page reply sheet (different references, so different
/// codes) and rasterises their reply pages.
pub fn blanks(count: usize, work: &std::path::Path) -> Result<Vec<Blank>, Box<dyn std::error::Error>> {
    let key = pages::signing_key();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&(0x5EED_0000_u64 + i as u64).to_be_bytes());
        let reference = hybridpost_seal::Reference::from_bytes(&bytes).ok_or("a 12-byte reference")?;
        let letter = pages::render(&reference, &key, 1, 0)?;
        let images = pages::rasterise(&letter.pdf, MASTER_DPI, &work.join(format!("blank-{i}")))?;
        let page = images.last().cloned().ok_or("no pages")?;
        let code = letter.texts.last().cloned().flatten().ok_or("the reply page has no code")?;
        out.push(Blank { page, code, boxes: letter.answer_boxes.clone() });
    }
    Ok(out)
}

/// One filled-in, scanned sheet.
pub struct Sheet {
    /// What was marked.
    pub kind: Kind,
    /// The box ticked (a mark the citizen meant), if any: the one right answer.
    pub meant: Option<u8>,
    /// The scan.
    pub scan: GrayImage,
    /// Its resolution.
    pub dpi: u32,
    /// The damage done, for the report.
    pub damage: Vec<String>,
}

fn mm_area(b: &AnswerBox) -> AreaMm {
    AreaMm { x: b.area.x.0, y: b.area.y.0, width: b.area.width.0, height: b.area.height.0 }
}

/// Sheet `index` of a corpus seeded with `seed`: `blank` filled in as [`Kind::of_sheet`] says,
/// then scanned with damage.
pub fn fill_and_scan(blank: &Blank, index: usize, seed: u64) -> Sheet {
    let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
    let kind = Kind::of_sheet(index);
    let mut page = blank.page.clone();
    let boxes: Vec<AreaMm> = blank.boxes.iter().map(mm_area).collect();
    let n = boxes.len().max(1);
    let choice = rng.below(n);
    let other = (choice + 1 + rng.below(n - 1)) % n;
    let dpi = MASTER_DPI;
    let pen_ink = |rng: &mut Rng| Pen { width: rng.range(0.3, 0.8), ink: rng.range(10.0, 90.0) as u8 };
    let mut meant = None;
    match kind {
        Kind::Tick => {
            pen::tick(&mut page, dpi, pen_ink(&mut rng), boxes[choice], &mut rng);
            meant = Some(choice);
        }
        Kind::Cross => {
            pen::cross(&mut page, dpi, pen_ink(&mut rng), boxes[choice], &mut rng);
            meant = Some(choice);
        }
        Kind::Filled => {
            pen::fill(&mut page, dpi, pen_ink(&mut rng), boxes[choice], &mut rng);
            meant = Some(choice);
        }
        Kind::Faint => {
            // A pencil pressed lightly: 40 to 95 grey levels below white paper, where a pen's
            // ink is 165 to 245 below.
            let pencil = Pen { width: rng.range(0.25, 0.45), ink: rng.range(160.0, 215.0) as u8 };
            pen::tick(&mut page, dpi, pencil, boxes[choice], &mut rng);
            meant = Some(choice);
        }
        Kind::Corrected => {
            let cancel = pen_ink(&mut rng);
            if rng.unit() < 0.5 {
                pen::fill(&mut page, dpi, cancel, boxes[other], &mut rng);
            } else {
                pen::cross(&mut page, dpi, cancel, boxes[other], &mut rng);
            }
            pen::tick(&mut page, dpi, pen_ink(&mut rng), boxes[choice], &mut rng);
        }
        Kind::None => {}
        Kind::Two => {
            pen::tick(&mut page, dpi, pen_ink(&mut rng), boxes[choice], &mut rng);
            pen::tick(&mut page, dpi, pen_ink(&mut rng), boxes[other], &mut rng);
        }
        Kind::Stamp => {
            if rng.unit() < 0.5 {
                pen::tick(&mut page, dpi, pen_ink(&mut rng), boxes[choice], &mut rng);
            }
            // A red or blue stamp pad reads 90 to 170 in grey, centred near the boxes.
            let b = boxes[rng.below(n)];
            let centre = (b.x + rng.range(-6.0, 10.0), b.y + rng.range(-6.0, 8.0));
            pen::stamp(&mut page, dpi, rng.range(90.0, 170.0) as u8, centre, rng.range(10.0, 16.0), &mut rng);
        }
    }

    // The scanner.
    let mut damage = Vec::new();
    let target = [150, 200, 200, 300][rng.below(4)];
    let mut scan = if target == MASTER_DPI {
        page
    } else {
        let k = target as f32 / MASTER_DPI as f32;
        let (w, h) = ((page.width() as f32 * k).round() as u32, (page.height() as f32 * k).round() as u32);
        image::imageops::resize(&page, w, h, image::imageops::FilterType::Triangle)
    };
    damage.push(format!("{target}dpi"));
    if rng.unit() < 0.5 {
        let (paper, ink) = (rng.range(200.0, 250.0) as u8, rng.range(0.0, 70.0) as u8);
        degrade::contrast(&mut scan, paper, ink);
        damage.push(format!("contrast {paper}/{ink}"));
    }
    if rng.unit() < 0.6 {
        let degrees = rng.range(-3.0, 3.0);
        scan = degrade::skew(&scan, degrees);
        damage.push(format!("skew {degrees:.1}"));
    }
    if rng.unit() < 0.4 {
        let sigma = rng.range(0.4, 1.2);
        scan = degrade::blur(&scan, sigma);
        damage.push(format!("blur {sigma:.1}"));
    }
    if rng.unit() < 0.5 {
        let sigma = rng.range(2.0, 8.0);
        degrade::noise(&mut scan, sigma, &mut rng);
        damage.push(format!("noise {sigma:.0}"));
    }
    if rng.unit() < 0.15 {
        scan = degrade::turn(&scan, 2);
        damage.push("upside down".into());
    }
    if rng.unit() < 0.5 {
        let quality = rng.range(40.0, 90.0) as u8;
        scan = pages::from_jpeg(&degrade::jpeg(&scan, quality));
        damage.push(format!("jpeg {quality}"));
    }
    Sheet { kind, meant: meant.map(|i| blank.boxes[i].choice), scan, dpi: target, damage }
}

/// Reads `sheet` as the intake does: the page's code and orientation first, then its boxes.
pub fn read(blank: &Blank, sheet: &Sheet) -> AnswerReading {
    let options = FindOptions {
        budget: std::time::Duration::from_secs(2),
        areas: pages::known_areas(),
        dpi: Some(sheet.dpi as f32),
    };
    let findings = find_codes(&sheet.scan, &options, &|found| found.iter().any(|f| f.text == blank.code));
    let turns = findings.quarter_turns.unwrap_or(0);
    let places: Vec<CodePlace> =
        REPLY_CODE_ORIGINS.iter().map(|o| CodePlace { x: o.x.0, y: o.y.0, side: REPLY_CODE_SIZE.0 }).collect();
    let boxes: Vec<AnswerBoxMm> = blank
        .boxes
        .iter()
        .map(|b| AnswerBoxMm { choice: b.choice, x: b.area.x.0, y: b.area.y.0, side: b.area.width.0 })
        .collect();
    let clear: Vec<AreaMm> = blank_beside_boxes(&blank.boxes)
        .map(|a| AreaMm { x: a.x.0, y: a.y.0, width: a.width.0, height: a.height.0 })
        .into_iter()
        .collect();
    let question = Question { boxes: &boxes, clear: &clear };
    read_answer(&sheet.scan, Some(sheet.dpi as f32), turns, &places, &|t| t == blank.code, &question)
}

/// What `reading` is worth for `sheet`.
pub fn verdict(sheet: &Sheet, reading: &AnswerReading) -> Verdict {
    let Ok(answer) = reading.outcome else { return Verdict::Review };
    let right = match sheet.kind {
        Kind::Tick | Kind::Cross | Kind::Filled | Kind::Faint => answer == Answer::Chosen(sheet.meant.unwrap_or(0)),
        Kind::None => answer == Answer::NoMark,
        // Two answers, a correction or a stamp over the boxes: no certain reading is right.
        Kind::Corrected | Kind::Two | Kind::Stamp => false,
    };
    if right { Verdict::Right } else { Verdict::Wrong }
}
