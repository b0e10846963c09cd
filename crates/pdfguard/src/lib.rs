//! PDF files from outside — agencies' documents, scanned replies — looked at before lopdf
//! reads them, so that no file can crash the process or make it take more memory than it
//! has.
//!
//! lopdf builds a document's whole object graph in memory, and reads it with recursive
//! parsers. Its nesting limit (100 levels) keeps arrays and dictionaries within a thread's
//! stack, but not everything:
//!
//! - a stream's `/Length` may refer to another object, which lopdf parses on the spot; if
//!   that is a stream whose `/Length` refers to a third, and so on, lopdf recurses once per
//!   link (30,000 links abort the process), and an object stream whose `/Length` lies
//!   inside itself recurses without end;
//! - a few kilobytes can make lopdf build gigabytes: sixty thousand small arrays, one large
//!   object that hundreds of thousands of cross-reference entries point into, a
//!   cross-reference stream of a billion zero-width entries, a predictor row of 2^40 bytes,
//!   a stream `/Length` lopdf copies the rest of the file for, again and again.
//!
//! [`survey`] follows lopdf 0.44's reader step by step without building anything (on an
//! explicit stack, never recursing on the file's structure) and adds up what lopdf would
//! allocate and do; [`load`] refuses a file over [`Limits`] with an error that names the
//! limit, reserves the survey's estimate from the process's [`budget`], and only
//! then lets lopdf load it. [`decode_stream`] decodes stream data with the same care.
//!
//! Every lopdf load of bytes from outside in this workspace goes through [`load`]; this
//! crate takes bytes and returns documents and errors: no HTTP, SQL, async runtime or file
//! access.

#![forbid(unsafe_code)]

pub mod budget;
mod decode;
pub mod hostile;
mod survey;
mod syntax;

use std::time::Duration;

pub use budget::{PROCESS_BUDGET_BYTES, Reservation};
pub use decode::decode_stream;
use lopdf::{Document, LoadOptions};

/// What a file may make lopdf do. [`Limits::default`] holds values generous for real
/// agency documents (official letters with attachments: hundreds of pages, thousands of
/// objects, tens of megabytes) and scanners' files, far below what hurts the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Arrays and dictionaries nested in each other at most, and literal strings nested in
    /// each other at most. Real files stay below 10; lopdf's own limit is 100.
    pub max_depth: usize,
    /// Objects lopdf parses in a row to find one stream's `/Length` (a stream whose length
    /// is another object: 1; an object in an object stream: 2). lopdf recurses once per hop.
    pub max_length_hops: usize,
    /// Cross-reference entries read in all (every table, stream and update).
    pub max_xref_entries: u64,
    /// `lopdf::Object` values in the loaded document (every number, name, array…).
    pub max_objects: u64,
    /// Largest decoded object stream or cross-reference stream, in bytes (lopdf's
    /// `max_decompressed_size`, which it applies to those while loading). Writers put a
    /// few hundred objects in each (kilobytes); content streams are decoded later by the
    /// callers, under their own limits.
    pub max_decoded_stream_bytes: usize,
    /// Memory the loaded document may take at its peak while lopdf builds it, in bytes.
    pub max_memory_bytes: u64,
    /// Bytes lopdf may parse, inflate or copy while loading, in all: objects read more than
    /// once (to resolve lengths, through overlapping entries) count every time.
    pub max_work_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_length_hops: 4,
            max_xref_entries: 500_000,
            max_objects: 1_000_000,
            max_decoded_stream_bytes: 16 << 20,
            max_memory_bytes: 160 << 20,
            max_work_bytes: 1 << 30,
        }
    }
}

/// What loading a file will cost, as [`survey`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Survey {
    /// Memory lopdf takes at its peak while loading, estimated, in bytes.
    pub memory_bytes: u64,
    /// `lopdf::Object` values in the document.
    pub objects: u64,
    /// Cross-reference entries read.
    pub xref_entries: u64,
    /// Bytes parsed, inflated or copied.
    pub work_bytes: u64,
    /// The file has an `/Encrypt` dictionary.
    pub encrypted: bool,
}

/// Why a file is not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// Nesting deeper than [`Limits::max_depth`].
    #[error(
        "arrays, dictionaries or strings in the PDF nest more than {limit} levels deep (at byte {offset}); at most {limit} levels are read"
    )]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the first level too deep opens, from the PDF header.
        offset: usize,
    },
    /// A `/Length` found through more than [`Limits::max_length_hops`] objects, or in a loop.
    #[error(
        "a stream's /Length in the PDF refers through more than {limit} objects in a row, or in a loop; at most {limit} are followed"
    )]
    LengthChain {
        /// The limit.
        limit: usize,
    },
    /// More cross-reference entries than [`Limits::max_xref_entries`].
    #[error("the PDF's cross-reference tables list more than {limit} entries; at most {limit} are read")]
    TooManyXrefEntries {
        /// The limit.
        limit: u64,
    },
    /// More objects than [`Limits::max_objects`].
    #[error(
        "the PDF has more than {limit} objects (numbers, names, arrays… counted one by one); at most {limit} are read"
    )]
    TooManyObjects {
        /// The limit.
        limit: u64,
    },
    /// More memory than [`Limits::max_memory_bytes`] (or than the whole process budget).
    #[error("reading the PDF's structure would take more than {} MiB of memory; at most {} MiB is allowed", limit >> 20, limit >> 20)]
    TooMuchMemory {
        /// The limit, in bytes.
        limit: u64,
    },
    /// More work than [`Limits::max_work_bytes`].
    #[error("reading the PDF's structure would mean processing more than {} MiB (its objects overlap or are read again and again); at most {} MiB is allowed", limit >> 20, limit >> 20)]
    TooMuchWork {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A stream that decodes to more than [`Limits::max_decoded_stream_bytes`].
    #[error("a stream in the PDF decodes to more than {} MiB; at most {} MiB is allowed", limit >> 20, limit >> 20)]
    StreamTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Stream parameters that would make lopdf allocate more than the limits allow.
    #[error("{0}")]
    StreamParameters(String),
    /// lopdf cannot read the file (or would not, as the survey found).
    #[error("the PDF cannot be read: {0}")]
    Unreadable(String),
    /// The process's memory budget stayed spent for as long as the caller waits.
    #[error("the service is reading too many PDFs at once and waited {} s for memory; try again shortly", waited.as_secs())]
    Busy {
        /// How long it waited.
        waited: Duration,
    },
}

impl GuardError {
    /// Whether the file is refused for going beyond a limit (rather than being damaged,
    /// or the process being busy): the answer names the limit.
    pub fn is_over_limit(&self) -> bool {
        !matches!(self, GuardError::Unreadable(_) | GuardError::Busy { .. })
    }

    /// The error in Thai, for agencies (the English is its `Display`).
    pub fn message_th(&self) -> String {
        let mib = |b: &u64| b >> 20;
        match self {
            GuardError::TooDeep { limit, offset } => format!(
                "อาร์เรย์ ดิกชันนารี หรือสตริงในไฟล์ PDF ซ้อนกันลึกเกิน {limit} ชั้น (ที่ไบต์ {offset}) ระบบอ่านได้ไม่เกิน {limit} ชั้น"
            ),
            GuardError::LengthChain { limit } => format!(
                "ค่า /Length ของสตรีมในไฟล์ PDF อ้างอิงต่อกันเกิน {limit} ทอดหรือวนกลับมาที่เดิม ระบบติดตามได้ไม่เกิน {limit} ทอด"
            ),
            GuardError::TooManyXrefEntries { limit } => {
                format!("ตารางอ้างอิงไขว้ของไฟล์ PDF มีเกิน {limit} รายการ ระบบอ่านได้ไม่เกิน {limit} รายการ")
            }
            GuardError::TooManyObjects { limit } => {
                format!("ไฟล์ PDF มีออบเจกต์ (ตัวเลข ชื่อ อาร์เรย์ ฯลฯ นับทีละชิ้น) เกิน {limit} ชิ้น ระบบอ่านได้ไม่เกิน {limit} ชิ้น")
            }
            GuardError::TooMuchMemory { limit } => format!(
                "การอ่านโครงสร้างไฟล์ PDF นี้ต้องใช้หน่วยความจำเกิน {} MiB ระบบอนุญาตไม่เกิน {} MiB",
                mib(limit),
                mib(limit)
            ),
            GuardError::TooMuchWork { limit } => format!(
                "การอ่านโครงสร้างไฟล์ PDF นี้ต้องประมวลผลข้อมูลเกิน {} MiB (ออบเจกต์ซ้อนทับกันหรือถูกอ่านซ้ำหลายครั้ง) ระบบอนุญาตไม่เกิน {} MiB",
                mib(limit),
                mib(limit)
            ),
            GuardError::StreamTooLarge { limit } => {
                format!("สตรีมในไฟล์ PDF เมื่อคลายการบีบอัดแล้วมีขนาดเกิน {} MiB ระบบอนุญาตไม่เกิน {} MiB", mib(limit), mib(limit))
            }
            GuardError::StreamParameters(en) => {
                format!("พารามิเตอร์การถอดรหัสสตรีมในไฟล์ PDF ต้องใช้หน่วยความจำเกินขีดจำกัด ({en})")
            }
            GuardError::Unreadable(detail) => format!("อ่านไฟล์ PDF ไม่ได้ ({detail})"),
            GuardError::Busy { waited } => format!(
                "ระบบกำลังอ่านไฟล์ PDF จำนวนมากพร้อมกันและรอหน่วยความจำแล้ว {} วินาที กรุณาลองใหม่อีกครั้งในภายหลัง",
                waited.as_secs()
            ),
        }
    }
}

/// How long a survey waits for the process budget for its own largest buffers (the
/// object streams it inflates), before giving up as [`GuardError::Busy`].
const SURVEY_WAIT: Duration = Duration::from_secs(60);

/// What lopdf's load of `pdf` would take and do, or the first limit it goes beyond. Cheap:
/// it reads the file once (and each object stream once), keeping a few bytes per object;
/// the object streams it inflates are held in the process budget while it reads them.
pub fn survey(pdf: &[u8], limits: &Limits) -> Result<Survey, GuardError> {
    // lopdf reads from the first `%PDF-`; offsets count from there.
    let start = pdf.windows(5).position(|w| w == b"%PDF-").unwrap_or(0);
    let mut encrypted = false;
    survey::Surveyor::new(&pdf[start..], limits, SURVEY_WAIT).run(&mut encrypted)
}

/// lopdf's load options for a file [`survey`] passed: its decoded-stream limit.
pub fn load_options(limits: &Limits) -> LoadOptions {
    LoadOptions { max_decompressed_size: Some(limits.max_decoded_stream_bytes), ..LoadOptions::default() }
}

/// A document loaded within the limits, holding its share of the process budget until it
/// is dropped.
#[derive(Debug)]
pub struct Loaded {
    /// The document.
    pub document: Document,
    /// What the survey found.
    pub survey: Survey,
    reservation: Reservation,
}

impl Loaded {
    /// The document and its reservation, for a caller that keeps them apart (drop the
    /// reservation last).
    pub fn into_parts(self) -> (Document, Reservation) {
        (self.document, self.reservation)
    }
}

impl std::ops::Deref for Loaded {
    type Target = Document;

    fn deref(&self) -> &Document {
        &self.document
    }
}

/// What a caller reserves from the process budget beside the document it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admit {
    /// Bytes the caller uses beside the document while it holds it (the file itself, what
    /// it decodes or writes).
    pub working_bytes: u64,
    /// Copies of the document's objects the caller makes (pages copied into another
    /// document: 1).
    pub copies: u64,
    /// How long to wait for the budget before giving up with [`GuardError::Busy`].
    pub wait: Duration,
}

impl Admit {
    /// The file itself as working memory, no copies, waiting up to `wait`.
    pub fn file(pdf: &[u8], wait: Duration) -> Admit {
        Admit { working_bytes: pdf.len() as u64, copies: 0, wait }
    }
}

/// Loads `pdf` with lopdf once [`survey`] has found it within `limits` and the survey's
/// estimate (times one plus the copies the caller will make) and the caller's working
/// memory are reserved from the process budget. lopdf's own errors (and panics) are
/// [`GuardError::Unreadable`].
pub fn load(pdf: &[u8], limits: &Limits, admit: Admit) -> Result<Loaded, GuardError> {
    let survey = survey(pdf, limits)?;
    let reservation = budget::reserve(admitted(&survey, &admit), admit.wait)?;
    let document = lopdf_load(pdf, limits)?;
    Ok(Loaded { document, survey, reservation })
}

/// Documents loaded together under one reservation.
#[derive(Debug)]
pub struct LoadedTogether {
    /// The documents, in the order asked for.
    pub documents: Vec<Document>,
    reservation: Reservation,
}

impl LoadedTogether {
    /// The share of the process budget they hold.
    pub fn reserved_bytes(&self) -> u64 {
        self.reservation.bytes()
    }
}

/// Loads several files that are used together (a cover and the pages appended to it),
/// reserving for all of them at once — never holding one's share while waiting for
/// another's, which could leave every caller waiting. An error comes with the index of
/// the file it is about; the time waited for the budget is the longest of the `Admit`s.
pub fn load_together(pdfs: &[(&[u8], Admit)], limits: &Limits) -> Result<LoadedTogether, (usize, GuardError)> {
    let mut bytes: u64 = 0;
    let mut wait = Duration::ZERO;
    for (i, (pdf, admit)) in pdfs.iter().enumerate() {
        let survey = survey(pdf, limits).map_err(|e| (i, e))?;
        bytes = bytes.saturating_add(admitted(&survey, admit));
        wait = wait.max(admit.wait);
    }
    let reservation = budget::reserve(bytes, wait).map_err(|e| (0, e))?;
    let documents = pdfs
        .iter()
        .enumerate()
        .map(|(i, (pdf, _))| lopdf_load(pdf, limits).map_err(|e| (i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LoadedTogether { documents, reservation })
}

fn admitted(survey: &Survey, admit: &Admit) -> u64 {
    survey.memory_bytes.saturating_mul(admit.copies.saturating_add(1)).saturating_add(admit.working_bytes)
}

/// lopdf's load of a surveyed file; its errors and panics as [`GuardError::Unreadable`].
fn lopdf_load(pdf: &[u8], limits: &Limits) -> Result<Document, GuardError> {
    match std::panic::catch_unwind(|| Document::load_mem_with_options(pdf, load_options(limits))) {
        Ok(Ok(document)) => Ok(document),
        Ok(Err(e)) => Err(GuardError::Unreadable(e.to_string())),
        Err(_) => Err(GuardError::Unreadable("its structure cannot be read".into())),
    }
}
