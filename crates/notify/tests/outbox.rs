//! What goes into the outbox, on a real store (SQLite, or PostgreSQL under `ops/test.sh`):
//! webhooks per matching endpoint and mode, a digital letter's notice that commits or rolls back
//! with its letter, and agency notices to the contact address.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_core::{AgencyId, AgencyScope, Channel, ChannelReason, EndpointId, EventKind, LetterId, LetterStatus};
use hybridpost_notify::outbox::{AgencyNotice, queue_agency_notice, queue_digital_notice, queue_event_webhooks};
use hybridpost_store::agencies::{self, Agency};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::outbox::{self, NotificationKind, NotificationStatus, WebhookEndpoint};
use hybridpost_store::testing::test_store;
use hybridpost_store::{Store, now_text};

async fn agency(store: &Store, contact: Option<&str>) -> AgencyId {
    let mut a = Agency::new("กรมสรรพากร");
    a.name_en = Some("The Revenue Department".into());
    a.contact_email = contact.map(str::to_owned);
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &a).await.unwrap();
    tx.commit().await.unwrap();
    a.agency_id
}

fn letter(agency_id: AgencyId) -> LetterRecord {
    LetterRecord {
        letter_id: LetterId::new(),
        agency_id,
        reference: "RD-2569-000123".into(),
        status: LetterStatus::Accepted,
        channel: Channel::Digital,
        channel_reason: ChannelReason::VerifiedEChannel,
        test: false,
        postcode: "10400".into(),
        citizen_id_hash: Some("ab".repeat(32)),
        reply_deadline: None,
        content: serde_json::json!({"subject": "แจ้งผล", "recipient": {"name": "สมชาย ใจดี"}}),
        created_at: now_text(),
        updated_at: now_text(),
        seal: None,
        withdrawn: None,
    }
}

fn accepted(l: &LetterRecord) -> NewEvent {
    NewEvent {
        agency_id: l.agency_id,
        letter_id: l.letter_id,
        kind: EventKind::Accepted,
        status: LetterStatus::Accepted,
        detail: None,
        request_id: None,
    }
}

#[tokio::test]
async fn a_digital_notice_commits_or_rolls_back_with_its_letter() {
    let db = test_store().await;
    let store = &db.store;
    let a = agency(store, None).await;

    let kept = letter(a);
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &kept).await.unwrap();
    let event = events::append_event(&mut tx, accepted(&kept)).await.unwrap();
    assert_eq!(queue_event_webhooks(&mut tx, &[event]).await.unwrap(), 0, "the agency has no endpoint");
    let id = queue_digital_notice(&mut tx, &kept, "somchai@example.co.th").await.unwrap();
    tx.commit().await.unwrap();

    let dropped = letter(a);
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &dropped).await.unwrap();
    queue_digital_notice(&mut tx, &dropped, "somchai@example.co.th").await.unwrap();
    tx.rollback().await.unwrap();

    let mut conn = store.read().await.unwrap();
    let n = outbox::get_notification(&mut conn, &id).await.unwrap().unwrap();
    assert_eq!(n.status, NotificationStatus::Pending);
    assert_eq!(n.letter_id, Some(kept.letter_id));
    assert_eq!(n.kind, NotificationKind::Email);
    assert!(outbox::letter_notifications(&mut conn, dropped.letter_id).await.unwrap().is_empty());
    assert_eq!(outbox::count_by_status(&mut conn).await.unwrap(), (1, 0, 0, 0));
}

#[tokio::test]
async fn events_of_an_agency_with_endpoints_queue_one_webhook_per_matching_endpoint() {
    let db = test_store().await;
    let store = &db.store;
    let a = agency(store, None).await;
    let other = agency(store, None).await;
    let ids: std::collections::HashMap<&str, EndpointId> =
        ["all", "opened-only", "gone", "others", "test"].into_iter().map(|name| (name, EndpointId::new())).collect();
    let endpoint = |id: &str, agency_id, events: &[EventKind]| WebhookEndpoint {
        endpoint_id: ids[id],
        agency_id,
        test: id == "test",
        url: "https://agency.example/hooks".into(),
        events: events.to_vec(),
        secret_wrapped: vec![1, 2, 3],
        created_at: now_text(),
    };
    let mut tx = store.begin().await.unwrap();
    outbox::insert_endpoint(&mut tx, &endpoint("all", a, &[])).await.unwrap();
    outbox::insert_endpoint(&mut tx, &endpoint("opened-only", a, &[EventKind::Opened])).await.unwrap();
    outbox::insert_endpoint(&mut tx, &endpoint("gone", a, &[])).await.unwrap();
    outbox::insert_endpoint(&mut tx, &endpoint("others", other, &[])).await.unwrap();
    outbox::insert_endpoint(&mut tx, &endpoint("test", a, &[])).await.unwrap();
    assert!(outbox::delete_endpoint(&mut tx, AgencyScope::live(a), ids["gone"]).await.unwrap());
    assert!(
        !outbox::delete_endpoint(&mut tx, AgencyScope::live(a), ids["others"]).await.unwrap(),
        "another agency's endpoint"
    );
    tx.commit().await.unwrap();

    let l = letter(a);
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &l).await.unwrap();
    let failed = NewEvent {
        kind: EventKind::NotificationFailed,
        detail: Some(serde_json::json!({"channel": "webhook"})),
        ..accepted(&l)
    };
    let recorded = events::append_events(&mut tx, vec![accepted(&l), failed]).await.unwrap();
    assert_eq!(queue_event_webhooks(&mut tx, &recorded).await.unwrap(), 1);
    tx.commit().await.unwrap();

    let mut conn = store.read().await.unwrap();
    let queued = outbox::letter_notifications(&mut conn, l.letter_id).await.unwrap();
    assert_eq!(
        queued.len(),
        1,
        "one live endpoint takes every event; a failed webhook is not pushed; a test endpoint takes only test \
         letters' events: {queued:?}"
    );
    assert_eq!(queued[0].recipient, ids["all"].to_string());
    let body: serde_json::Value = serde_json::from_str(&queued[0].payload).unwrap();
    assert_eq!(body["type"], "letter.accepted");
    assert_eq!(body["data"]["letter_id"], l.letter_id.to_string());
    let listed = outbox::list_endpoints(&mut conn, AgencyScope::live(a)).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.endpoint_id).collect::<Vec<_>>(), [ids["all"], ids["opened-only"]]);

    // The same letter as a test letter: its events reach the test endpoint only.
    let t = LetterRecord { test: true, ..letter(a) };
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &t).await.unwrap();
    let recorded = events::append_events(&mut tx, vec![accepted(&t)]).await.unwrap();
    assert!(recorded[0].test);
    queue_event_webhooks(&mut tx, &recorded).await.unwrap();
    tx.commit().await.unwrap();
    let queued = outbox::letter_notifications(&mut conn, t.letter_id).await.unwrap();
    assert_eq!(queued.iter().map(|n| n.recipient.as_str()).collect::<Vec<_>>(), [ids["test"].to_string()]);
}

#[tokio::test]
async fn agency_notices_go_to_the_contact_address_when_there_is_one() {
    let db = test_store().await;
    let store = &db.store;
    let with = agency(store, Some("saraban@rd.go.th")).await;
    let without = agency(store, None).await;
    let (l1, l2) = (letter(with), letter(without));
    let mut tx = store.begin().await.unwrap();
    letters::insert_letters(&mut tx, &[l1.clone(), l2.clone()]).await.unwrap();
    let notice = AgencyNotice::LetterReturned {
        reason: "ไม่มีผู้รับตามจ่าหน้า".into(),
        reason_en: "addressee unknown".into(),
        returned_at: now_text(),
    };
    let id = queue_agency_notice(&mut tx, with, l1.letter_id, &notice).await.unwrap().unwrap();
    assert!(queue_agency_notice(&mut tx, without, l2.letter_id, &notice).await.unwrap().is_none());
    let reply = AgencyNotice::ReplyReceived {
        sender_name: "สมชาย ใจดี".into(),
        received_at: now_text(),
        answer: None,
        missing_pages: Vec::new(),
    };
    queue_agency_notice(&mut tx, with, l1.letter_id, &reply).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let mut conn = store.read().await.unwrap();
    let n = outbox::get_notification(&mut conn, &id).await.unwrap().unwrap();
    assert_eq!(n.recipient, "saraban@rd.go.th");
    assert_eq!(n.purpose, "letter_returned");
    let payload: serde_json::Value = serde_json::from_str(&n.payload).unwrap();
    assert_eq!(payload["context"]["letter_ref"], "RD-2569-000123");
    assert_eq!(payload["context"]["agency_name_en"], "The Revenue Department");
    assert_eq!(payload["link_path"], format!("/console/letters/{}", l1.letter_id));
}
