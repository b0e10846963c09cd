//! A verification service over a fresh test store, with sealed letters made through the keyring
//! (no agency API needed), a clock the tests can move, and an `.eml` outbox.
#![allow(dead_code, reason = "each test file uses a different part of the harness")]
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use hybridpost_core::{AgencyId, Channel, ChannelReason, LetterId, LetterStatus};
use hybridpost_keyring::{Keyring, SealRequest, SealedLetter, today};
use hybridpost_notify::{Mailer, MailerConfig, TransportConfig};
use hybridpost_seal::{ContentDigest, DocumentType, ServiceSecret};
use hybridpost_store::agencies::{self, Agency};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, now_text};
use hybridpost_verify::{CopyRenderer, VerifyConfig, VerifyState};
use serde_json::json;

/// What the test renderer returns as a letter's digital copy.
pub const PDF: &[u8] = b"%PDF-1.7\n% hybridpost test copy\n%%EOF\n";
/// The recipient's details, which must never appear in a public answer.
pub const RECIPIENT_NAME: &str = "นายสมชาย ใจดี";
pub const RECIPIENT_ROAD: &str = "ถนนพหลโยธินทดสอบ";
pub const CITIZEN_ID: &str = "1101700230708";
pub const CITIZEN_ID_HASH: &str = "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2";
pub const AGENCY_NAME: &str = "สำนักงานเขตพญาไท";
pub const AGENCY_NAME_EN: &str = "Phaya Thai District Office";

/// A clock that starts now and moves only when told.
#[derive(Clone, Debug, Default)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

pub struct Harness {
    pub app: Router,
    pub state: VerifyState,
    pub store: Store,
    pub keyring: Keyring,
    pub outbox: PathBuf,
    pub clock: TestClock,
    pub agency_id: AgencyId,
    _dir: tempfile::TempDir,
    _db: TestStore,
}

/// A sealed letter as stored, with its PIN.
pub struct Letter {
    pub letter_id: LetterId,
    pub sealed: SealedLetter,
}

impl Letter {
    /// The reference as printed: groups of four.
    pub fn human_reference(&self) -> String {
        hybridpost_seal::Reference::parse_human(&self.sealed.reference).unwrap().to_human()
    }
}

pub async fn harness() -> Harness {
    harness_with(|_| {}).await
}

pub async fn harness_with(adjust: impl FnOnce(&mut VerifyConfig)) -> Harness {
    let db = test_store().await;
    let store = db.store.clone();
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let keyring = Keyring::new(store.clone(), ServiceSecret::new(&[7; 32]).unwrap());
    keyring.ensure_trust_list(today()).await.unwrap();
    let mut agency = Agency::new(AGENCY_NAME);
    agency.name_en = Some(AGENCY_NAME_EN.into());
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    tx.commit().await.unwrap();

    let mailer =
        Mailer::new(MailerConfig { transport: TransportConfig::FileOutbox(outbox.clone()), dkim: None }).unwrap();
    let renderer: CopyRenderer = Arc::new(|_letter| Box::pin(async { Ok(PDF.to_vec()) }));
    let mut config = VerifyConfig::new("https://verify.example.go.th/", "ไปรษณีย์ไฮบริด <noreply@example.go.th>");
    config.requests_per_second = 0;
    adjust(&mut config);
    let clock = TestClock::default();
    let offset = clock.0.clone();
    let state =
        VerifyState::new(store.clone(), keyring.clone(), mailer, renderer, config).with_clock(Arc::new(move || {
            time::OffsetDateTime::now_utc() + time::Duration::milliseconds(offset.load(Ordering::SeqCst))
        }));
    let app = hybridpost_verify::router(state.clone(), Duration::from_secs(10));
    Harness { app, state, store, keyring, outbox, clock, agency_id: agency.agency_id, _dir: dir, _db: db }
}

impl Harness {
    /// A letter of the harness's agency, sealed today, queued for print, with a reply deadline.
    pub async fn letter(&self) -> Letter {
        self.letter_with(Some(CITIZEN_ID_HASH)).await
    }

    /// A letter whose recipient has the given citizen id hash (none: sent without a citizen id).
    pub async fn letter_with(&self, citizen_id_hash: Option<&str>) -> Letter {
        self.letter_in_mode(citizen_id_hash, false).await
    }

    /// A live letter, or a test letter sealed with the agency's test key.
    pub async fn letter_in_mode(&self, citizen_id_hash: Option<&str>, test: bool) -> Letter {
        self.letter_marked(citizen_id_hash, test, None).await
    }

    /// A classified letter (`secrecy` ลับ or ลับมาก as the API names them).
    pub async fn classified_letter(&self, secrecy: &str) -> Letter {
        self.letter_marked(Some(CITIZEN_ID_HASH), false, Some(secrecy)).await
    }

    async fn letter_marked(&self, citizen_id_hash: Option<&str>, test: bool, secrecy: Option<&str>) -> Letter {
        let issue_date = today();
        let request = SealRequest {
            issue_date,
            document_type: DocumentType::Notice,
            reply_by: issue_date.checked_add_days(30),
            digest: ContentDigest::of(b"letter content"),
        };
        let scope = hybridpost_core::AgencyScope { agency_id: self.agency_id, test };
        let sealed = self.keyring.seal_for_agency(scope, &request).await.unwrap();
        let now = now_text();
        let record = LetterRecord {
            letter_id: LetterId::new(),
            agency_id: self.agency_id,
            reference: "กท 1234/2569".into(),
            status: LetterStatus::QueuedForPrint,
            channel: Channel::Print,
            channel_reason: ChannelReason::NoVerifiedEChannel,
            test,
            postcode: "10400".into(),
            citizen_id_hash: citizen_id_hash.map(str::to_owned),
            reply_deadline: request.reply_by.map(|d| d.to_string()),
            content: json!({
                "reference": "กท 1234/2569",
                "language": "th",
                "recipient": {
                    "name": RECIPIENT_NAME,
                    "citizen_id": CITIZEN_ID,
                    "address": {"house_number": "99", "road": RECIPIENT_ROAD, "subdistrict": "สามเสนใน",
                                "district": "พญาไท", "province": "กรุงเทพมหานคร", "postcode": "10400"}
                },
                "subject": "แจ้งผลการพิจารณาคำขอ",
                "body": ["ตามที่ท่านได้ยื่นคำขอ"]
            }),
            created_at: now.clone(),
            updated_at: now,
            seal: Some(sealed.to_stored(issue_date)),
            withdrawn: None,
        };
        let mut record = record;
        if let Some(secrecy) = secrecy {
            record.content["secrecy"] = json!(secrecy);
        }
        let mut tx = self.store.begin().await.unwrap();
        letters::insert_letter(&mut tx, &record).await.unwrap();
        tx.commit().await.unwrap();
        Letter { letter_id: record.letter_id, sealed }
    }
}
