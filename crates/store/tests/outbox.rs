//! The notification outbox on SQLite and PostgreSQL (`ops/test.sh` runs it on both): claims
//! never hand one row to two workers, and a lost claim cannot overwrite the next worker's
//! result. What goes into it, and that it commits with its event, is `hybridpost-notify`'s
//! `tests/outbox.rs`.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::collections::HashSet;
use std::sync::Arc;

use hybridpost_core::{AgencyId, Channel, ChannelReason, LetterId, LetterStatus};
use hybridpost_store::agencies::{self, Agency};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::outbox::{
    self, Attempt, DigitalLink, Fault, NewNotification, NotificationKind, NotificationStatus,
};
use hybridpost_store::testing::test_store;
use hybridpost_store::{Store, now_text, timestamp_text};
use tokio::sync::Mutex;

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

fn email(to: &str) -> NewNotification {
    NewNotification {
        kind: NotificationKind::Email,
        purpose: outbox::purpose::DIGITAL_LETTER,
        agency_id: None,
        letter_id: None,
        recipient: to.into(),
        payload: "{}".into(),
    }
}

fn later(secs: i64) -> String {
    timestamp_text(time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
}

#[tokio::test]
async fn a_lost_claim_cannot_overwrite_the_next_workers_result() {
    let db = test_store().await;
    let store = &db.store;
    let mut tx = store.begin().await.unwrap();
    let id = outbox::insert_notifications(&mut tx, &[email("a@example.co.th")]).await.unwrap().remove(0);
    tx.commit().await.unwrap();

    let claim = |token: &'static str, lease: i64| async move {
        let mut tx = store.begin().await.unwrap();
        let got = outbox::claim_due(&mut tx, &now_text(), &later(lease), token, 10).await.unwrap();
        tx.commit().await.unwrap();
        got
    };
    // The first worker's lease is already over when it is taken again.
    assert_eq!(claim("first", -1).await.len(), 1);
    let second = claim("second", 60).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempts, 2);
    assert!(claim("third", 60).await.is_empty(), "a leased row is not handed out again");

    let mut tx = store.begin().await.unwrap();
    assert!(!outbox::mark_sent(&mut tx, &id, "first", &now_text()).await.unwrap());
    assert!(outbox::reschedule(&mut tx, &id, "second", &later(-1), "451 busy").await.unwrap());
    outbox::record_attempt(
        &mut tx,
        &id,
        &Attempt {
            attempt: 2,
            started_at: now_text(),
            outcome: "transient".into(),
            error: Some("451 busy".into()),
            duration_ms: 3,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let third = claim("third", 60).await;
    assert_eq!(third.len(), 1, "a rescheduled row is due again");
    let mut tx = store.begin().await.unwrap();
    assert!(
        outbox::mark_failed(&mut tx, &id, "third", &now_text(), "550 no such user", Fault::Recipient, false)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut conn = store.read().await.unwrap();
    let n = outbox::get_notification(&mut conn, &id).await.unwrap().unwrap();
    assert_eq!(n.status, NotificationStatus::Failed);
    assert_eq!((n.fault.as_deref(), n.retryable), (Some("recipient"), Some(false)));
    assert_eq!(outbox::attempts(&mut conn, &id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_claiming_at_once_take_each_notification_exactly_once() {
    let db = test_store().await;
    let store = db.store.clone();
    const N: usize = 300;
    let mut tx = store.begin().await.unwrap();
    let rows: Vec<NewNotification> = (0..N).map(|i| email(&format!("c{i}@example.co.th"))).collect();
    outbox::insert_notifications(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();

    let taken = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..2 {
        let (store, taken) = (store.clone(), taken.clone());
        workers.push(tokio::spawn(async move {
            let token = format!("worker-{w}");
            loop {
                let mut tx = store.begin().await.unwrap();
                let got = outbox::claim_due(&mut tx, &now_text(), &later(300), &token, 7).await.unwrap();
                tx.commit().await.unwrap();
                if got.is_empty() {
                    break;
                }
                let mut tx = store.begin().await.unwrap();
                for n in &got {
                    assert!(outbox::mark_sent(&mut tx, &n.notification_id, &token, &now_text()).await.unwrap());
                }
                tx.commit().await.unwrap();
                taken.lock().await.extend(got.into_iter().map(|n| (w, n.notification_id)));
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let taken = taken.lock().await;
    let unique: HashSet<&String> = taken.iter().map(|(_, id)| id).collect();
    assert_eq!(taken.len(), N, "every notification claimed once");
    assert_eq!(unique.len(), N);
    let mut conn = store.read().await.unwrap();
    assert_eq!(outbox::count_by_status(&mut conn).await.unwrap(), (0, N as i64, 0, 0));
}

#[tokio::test]
async fn a_link_is_opened_once_and_undigested_failures_are_listed_per_agency() {
    let db = test_store().await;
    let store = &db.store;
    let a = agency(store, Some("saraban@rd.go.th")).await;
    let l = letter(a);
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, &l).await.unwrap();
    let link =
        DigitalLink { token_hash: "cd".repeat(32), letter_id: l.letter_id, expires_at: later(3600), opened_at: None };
    outbox::insert_link(&mut tx, &link).await.unwrap();
    outbox::insert_link(&mut tx, &link).await.unwrap();
    let mut failing = email("x@reject.invalid");
    failing.agency_id = Some(a);
    failing.letter_id = Some(l.letter_id);
    let id = outbox::insert_notifications(&mut tx, &[failing]).await.unwrap().remove(0);
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert!(outbox::mark_link_opened(&mut tx, &link.token_hash, &now_text()).await.unwrap());
    assert!(!outbox::mark_link_opened(&mut tx, &link.token_hash, &now_text()).await.unwrap());
    let got = outbox::claim_due(&mut tx, &now_text(), &later(60), "t", 10).await.unwrap();
    assert_eq!(got.len(), 1);
    outbox::mark_failed(&mut tx, &id, "t", &now_text(), "550", Fault::Recipient, false).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(outbox::agencies_due_for_digest(&mut tx, &now_text()).await.unwrap(), vec![a]);
    let failures = outbox::undigested_failures(&mut tx, a, 100).await.unwrap();
    assert_eq!(failures.len(), 1);
    outbox::mark_digested(&mut tx, a, &[id], &now_text()).await.unwrap();
    assert!(outbox::agencies_due_for_digest(&mut tx, &now_text()).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    let mut conn = store.read().await.unwrap();
    let stored = outbox::find_link(&mut conn, &link.token_hash).await.unwrap().unwrap();
    assert!(stored.opened_at.is_some());
}
