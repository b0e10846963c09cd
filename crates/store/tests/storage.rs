//! Storage tests. The same tests run on SQLite and on PostgreSQL: `ops/test.sh` runs the suite
//! once with each (see `hybridpost_store::testing`).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_core::AgencyScope;
use hybridpost_core::{AgencyId, Channel, ChannelReason, LetterId, LetterStatus, SiteId};
use hybridpost_store::agencies::{self, Agency, ApiKeyRecord, Principal, Site};
use hybridpost_store::events::{self, FeedCursor, NewEvent};
use hybridpost_store::letters::{self, LetterRecord, LetterSeal, TransitionFailure};
use hybridpost_store::testing::test_store;
use hybridpost_store::{Store, channels, idempotency, now_text};

async fn agency(store: &Store, name: &str) -> AgencyId {
    let a = Agency::new(name);
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &a).await.unwrap();
    tx.commit().await.unwrap();
    a.agency_id
}

fn letter(agency_id: AgencyId, status: LetterStatus) -> LetterRecord {
    LetterRecord {
        letter_id: LetterId::new(),
        agency_id,
        reference: "มท 0808.2/ว 1234".into(),
        status,
        channel: Channel::Print,
        channel_reason: ChannelReason::NoCitizenId,
        test: false,
        postcode: "10400".into(),
        citizen_id_hash: None,
        reply_deadline: Some("2027-01-31".into()),
        content: serde_json::json!({"subject": "แจ้งผลการพิจารณาคำขอ"}),
        created_at: now_text(),
        updated_at: now_text(),
        seal: Some(LetterSeal {
            reference: LetterId::new().to_string().replace('-', "").to_uppercase(),
            seal: vec![0xd2, 0x84, 1, 2, 3],
            issue_date: "2026-11-22".into(),
            pin_hash: "ab".repeat(32),
            pin_wrapped: vec![7; 40],
        }),
        withdrawn: None,
    }
}

async fn insert(store: &Store, l: &LetterRecord) {
    let mut tx = store.begin().await.unwrap();
    letters::insert_letter(&mut tx, l).await.unwrap();
    // The store's own tests register no webhook endpoints: there are no webhooks to queue.
    let _recorded = events::append_event(
        &mut tx,
        NewEvent {
            agency_id: l.agency_id,
            letter_id: l.letter_id,
            kind: l.status.into(),
            status: l.status,
            detail: None,
            request_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let t = test_store().await;
    t.store.migrate().await.unwrap();
    t.store.ping().await.unwrap();
}

#[tokio::test]
async fn api_keys_are_found_by_hash_with_their_principal() {
    let t = test_store().await;
    let agency_id = agency(&t.store, "กรมการปกครอง").await;
    let site = Site {
        site_id: SiteId::new(),
        name: "ปณ. สามเสนใน".into(),
        postcode_prefixes: vec!["10".into(), "11".into()],
        created_at: now_text(),
    };
    let mut tx = t.store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    let agency_key = ApiKeyRecord {
        key_id: "k1".into(),
        key_hash: "aa".repeat(32),
        key_prefix: "hpk_abcd".into(),
        principal: Principal::Agency { agency_id, test: true },
    };
    let site_key = ApiKeyRecord {
        key_id: "k2".into(),
        key_hash: "bb".repeat(32),
        key_prefix: "hpk_efgh".into(),
        principal: Principal::Site { site_id: site.site_id },
    };
    agencies::insert_api_key(&mut tx, &agency_key, &now_text()).await.unwrap();
    agencies::insert_api_key(&mut tx, &site_key, &now_text()).await.unwrap();
    let dup = agencies::insert_api_key(&mut tx, &agency_key, &now_text()).await.unwrap_err();
    assert!(dup.is_unique_violation(), "{dup}");
    drop(tx);

    // The failed insert rolled the transaction back as a whole: nothing was written.
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(agencies::find_api_key(&mut conn, &agency_key.key_hash).await.unwrap(), None);

    let mut tx = t.store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    agencies::insert_api_key(&mut tx, &agency_key, &now_text()).await.unwrap();
    agencies::insert_api_key(&mut tx, &site_key, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(agencies::find_api_key(&mut conn, &agency_key.key_hash).await.unwrap(), Some(agency_key));
    assert_eq!(agencies::find_api_key(&mut conn, &site_key.key_hash).await.unwrap(), Some(site_key));
    assert_eq!(agencies::find_api_key(&mut conn, &"cc".repeat(32)).await.unwrap(), None);
    let read_site = agencies::get_site(&mut conn, site.site_id).await.unwrap().unwrap();
    assert_eq!(read_site.postcode_prefixes, ["10", "11"]);
}

#[tokio::test]
async fn a_letter_is_visible_only_to_its_own_agency() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let b = agency(&t.store, "B").await;
    let l = letter(a, LetterStatus::QueuedForPrint);
    insert(&t.store, &l).await;
    let mut conn = t.store.read().await.unwrap();
    let read = letters::get_letter(&mut conn, AgencyScope::live(a), l.letter_id).await.unwrap().unwrap();
    assert_eq!(read, l);
    assert_eq!(letters::get_letter(&mut conn, AgencyScope::live(b), l.letter_id).await.unwrap(), None);
    assert!(letters::list_letters(&mut conn, AgencyScope::live(b), None, None, 10).await.unwrap().is_empty());
    assert!(events::list_events(&mut conn, AgencyScope::live(b), FeedCursor::default(), 10).await.unwrap().is_empty());
    let failure =
        letters::transition(&mut conn, b, l.letter_id, LetterStatus::Cancelled, None, None).await.unwrap_err();
    assert!(matches!(failure, TransitionFailure::NotFound), "{failure}");
}

#[tokio::test]
async fn letters_page_newest_first_and_filter_by_status() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let status = if i % 2 == 0 { LetterStatus::QueuedForPrint } else { LetterStatus::Accepted };
        let l = letter(a, status);
        insert(&t.store, &l).await;
        ids.push(l.letter_id);
    }
    ids.reverse();
    let mut conn = t.store.read().await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = letters::list_letters(&mut conn, AgencyScope::live(a), None, before, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|l| l.letter_id);
        seen.extend(page.iter().map(|l| l.letter_id));
    }
    assert_eq!(seen, ids);
    let queued = letters::list_letters(&mut conn, AgencyScope::live(a), Some(LetterStatus::QueuedForPrint), None, 100)
        .await
        .unwrap();
    assert_eq!(queued.len(), 4);
    assert!(queued.iter().all(|l| l.status == LetterStatus::QueuedForPrint));
}

#[tokio::test]
async fn transitions_follow_the_status_machine_and_record_events() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let l = letter(a, LetterStatus::QueuedForPrint);
    insert(&t.store, &l).await;

    let mut tx = t.store.begin().await.unwrap();
    let moved = letters::transition(&mut tx, a, l.letter_id, LetterStatus::Batched, None, Some("req-1")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(moved.events.len(), 1, "{moved:?}");
    let (after, event) = (moved.value, &moved.events[0]);
    assert_eq!(after.status, LetterStatus::Batched);
    assert_eq!((event.kind.as_str(), event.request_id.as_deref()), ("batched", Some("req-1")));

    let mut tx = t.store.begin().await.unwrap();
    let refused = letters::transition(&mut tx, a, l.letter_id, LetterStatus::Cancelled, None, None).await.unwrap_err();
    drop(tx);
    assert!(matches!(refused, TransitionFailure::NotAllowed(_)), "{refused}");

    let mut conn = t.store.read().await.unwrap();
    let timeline = events::letter_timeline(&mut conn, l.letter_id).await.unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["queued_for_print", "batched"]);
    assert_eq!(
        letters::get_letter(&mut conn, AgencyScope::live(a), l.letter_id).await.unwrap().unwrap().status,
        LetterStatus::Batched
    );
}

#[tokio::test]
async fn a_reader_polling_during_concurrent_writes_misses_no_event() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let b = agency(&t.store, "B").await;
    let la = letter(a, LetterStatus::Accepted);
    let lb = letter(b, LetterStatus::Accepted);
    insert(&t.store, &la).await;
    insert(&t.store, &lb).await;

    // Writers hold their transaction open for varying times, so on PostgreSQL they commit out
    // of sequence order; a reader polls the feed all the while.
    let mut writers = Vec::new();
    for i in 0..40u64 {
        let store = t.store.clone();
        let (agency_id, letter_id) = if i % 2 == 0 { (a, la.letter_id) } else { (b, lb.letter_id) };
        writers.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let e = events::append_event(
                &mut tx,
                NewEvent {
                    agency_id,
                    letter_id,
                    kind: hybridpost_core::EventKind::Accepted,
                    status: LetterStatus::Accepted,
                    detail: None,
                    request_id: None,
                },
            )
            .await
            .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis((i * 7) % 23)).await;
            tx.commit().await.unwrap();
            e.event_id
        }));
    }
    let store = t.store.clone();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut cursor = FeedCursor::default();
        let started = std::time::Instant::now();
        while seen.len() < 21 && started.elapsed() < std::time::Duration::from_secs(20) {
            let mut conn = store.read().await.unwrap();
            let page = events::list_events(&mut conn, AgencyScope::live(a), cursor, 5).await.unwrap();
            drop(conn);
            if let Some(last) = page.last() {
                assert!(last.cursor > cursor, "the cursor only moves forward");
                cursor = last.cursor;
            }
            seen.extend(page.into_iter().map(|e| e.event_id));
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        seen
    });
    let mut written_for_a = vec![];
    for (i, w) in writers.into_iter().enumerate() {
        let id = w.await.unwrap();
        if i % 2 == 0 {
            written_for_a.push(id);
        }
    }
    let seen = reader.await.unwrap();
    let mut conn = t.store.read().await.unwrap();
    let all_a = events::list_events(&mut conn, AgencyScope::live(a), FeedCursor::default(), 100).await.unwrap();
    assert_eq!(all_a.len(), 21, "the letter's first event and 20 more");
    let mut expected: Vec<_> = all_a.iter().map(|e| e.event_id).collect();
    let mut got = seen.clone();
    expected.sort();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), seen.len(), "no event was returned twice");
    assert_eq!(got, expected, "the polling reader saw every event of agency A and none of B");
    for id in written_for_a {
        assert!(seen.contains(&id));
    }
}

#[tokio::test]
async fn the_events_of_a_whole_print_batch_are_recorded_in_order() {
    // 5000 letters' events are 40000 bound values: more than SQLite takes in one statement.
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let l = letter(a, LetterStatus::Accepted);
    insert(&t.store, &l).await;
    let batch: Vec<NewEvent> = (0..5000)
        .map(|_| NewEvent {
            agency_id: a,
            letter_id: l.letter_id,
            kind: hybridpost_core::EventKind::Batched,
            status: LetterStatus::Batched,
            detail: None,
            request_id: None,
        })
        .collect();
    let mut tx = t.store.begin().await.unwrap();
    let written = events::append_events(&mut tx, batch).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(written.len(), 5000);
    assert!(
        written.windows(2).all(|w| (w[0].cursor.tx_order, w[0].cursor.seq) < (w[1].cursor.tx_order, w[1].cursor.seq))
    );
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(events::letter_timeline(&mut conn, l.letter_id).await.unwrap().len(), 5001);
}

#[tokio::test]
async fn racing_transitions_let_exactly_one_win() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let l = letter(a, LetterStatus::QueuedForPrint);
    insert(&t.store, &l).await;
    let mut tasks = Vec::new();
    for to in [LetterStatus::Cancelled, LetterStatus::Batched, LetterStatus::Cancelled, LetterStatus::Batched] {
        let store = t.store.clone();
        let id = l.letter_id;
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            match letters::transition(&mut tx, a, id, to, None, None).await {
                Ok(_) => {
                    tx.commit().await.unwrap();
                    true
                }
                Err(_) => false,
            }
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(events::letter_timeline(&mut conn, l.letter_id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_idempotency_key_is_stored_once_per_agency() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let b = agency(&t.store, "B").await;
    let record = idempotency::IdempotencyRecord {
        request_hash: "h".into(),
        status_code: 201,
        response_body: "{\"letter_id\":\"x\"}".into(),
    };
    let mut tx = t.store.begin().await.unwrap();
    idempotency::insert(&mut tx, AgencyScope::live(a), "key-1", &record, &now_text()).await.unwrap();
    idempotency::insert(&mut tx, AgencyScope::live(b), "key-1", &record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = t.store.begin().await.unwrap();
    let err = idempotency::insert(&mut tx, AgencyScope::live(a), "key-1", &record, &now_text()).await.unwrap_err();
    assert!(err.is_unique_violation());
    drop(tx);
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(idempotency::get(&mut conn, AgencyScope::live(a), "key-1").await.unwrap(), Some(record));
    assert_eq!(idempotency::get(&mut conn, AgencyScope::live(a), "key-2").await.unwrap(), None);
}

#[tokio::test]
async fn a_verified_email_can_be_replaced() {
    let t = test_store().await;
    let mut tx = t.store.begin().await.unwrap();
    channels::upsert_verified_email(&mut tx, "hash-1", "a@example.go.th", "import").await.unwrap();
    channels::upsert_verified_email(&mut tx, "hash-1", "b@example.go.th", "opt-in").await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(channels::find_verified_email(&mut conn, "hash-1").await.unwrap().as_deref(), Some("b@example.go.th"));
    assert_eq!(channels::find_verified_email(&mut conn, "hash-2").await.unwrap(), None);
}

#[tokio::test]
async fn letters_are_found_by_seal_reference_and_withdrawn_once() {
    let db = test_store().await;
    let agency = agency(&db.store, "ก").await;
    let l = letter(agency, LetterStatus::QueuedForPrint);
    insert(&db.store, &l).await;
    let reference = l.seal.as_ref().unwrap().reference.clone();
    let mut conn = db.store.read().await.unwrap();
    let found = letters::find_by_seal_reference(&mut conn, &reference).await.unwrap().unwrap();
    assert_eq!(found, l, "the seal, PIN hash and wrapped PIN read back as written");
    assert!(letters::find_by_seal_reference(&mut conn, "NOSUCHREFERENCE").await.unwrap().is_none());
    drop(conn);

    let mut tx = db.store.begin().await.unwrap();
    assert!(letters::withdraw(&mut tx, l.letter_id, "reported_lost", &now_text()).await.unwrap());
    assert!(!letters::withdraw(&mut tx, l.letter_id, "superseded", &now_text()).await.unwrap(), "once only");
    tx.commit().await.unwrap();
    let mut conn = db.store.read().await.unwrap();
    let found = letters::get_letter_any_agency(&mut conn, l.letter_id).await.unwrap().unwrap();
    assert_eq!(found.withdrawn.unwrap().0, "reported_lost", "the first reason stays");

    let mut twin = letter(agency, LetterStatus::QueuedForPrint);
    twin.seal.as_mut().unwrap().reference = reference;
    let mut tx = db.store.begin().await.unwrap();
    let err = letters::insert_letter(&mut tx, &twin).await.unwrap_err();
    assert!(err.is_unique_violation(), "seal references are unique: {err}");
}

#[tokio::test]
async fn migration_0008_masks_the_citizen_ids_of_letters_stored_before_it() {
    use sqlx::Executor;
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let mut raw = letter(a, LetterStatus::QueuedForPrint);
    raw.content =
        serde_json::json!({"subject": "s", "recipient": {"name": "นายสมชาย ใจดี", "citizen_id": "1101700230708"}});
    let mut without = letter(a, LetterStatus::QueuedForPrint);
    without.content = serde_json::json!({"subject": "s", "recipient": {"name": "นางสาวมาลี"}});
    insert(&t.store, &raw).await;
    insert(&t.store, &without).await;
    // The statement of the migration that masks stored ids, run again over letters written as
    // they were before it (migrations ran when the store was made).
    let migration = match t.store.backend() {
        hybridpost_store::Backend::Sqlite => {
            include_str!("../migrations/sqlite/0008_test_world_and_channel_changes.sql")
        }
        hybridpost_store::Backend::Postgres => {
            include_str!("../migrations/postgres/0008_test_world_and_channel_changes.sql")
        }
    };
    let start = migration.find("update letter\nset content").expect("the masking statement");
    let statement = &migration[start..start + migration[start..].find(';').unwrap()];
    for _ in 0..2 {
        let mut tx = t.store.begin().await.unwrap();
        tx.execute(statement).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut conn = t.store.read().await.unwrap();
    let masked = letters::get_letter_any_agency(&mut conn, raw.letter_id).await.unwrap().unwrap();
    assert_eq!(masked.content["recipient"]["citizen_id"], "xxxxxxxxx0708", "{}", masked.content);
    assert_eq!(masked.content["recipient"]["name"], "นายสมชาย ใจดี", "nothing else changes");
    let untouched = letters::get_letter_any_agency(&mut conn, without.letter_id).await.unwrap().unwrap();
    assert_eq!(untouched.content, without.content);
}

#[tokio::test]
async fn test_and_live_letters_of_one_agency_are_separate_worlds_in_storage() {
    let t = test_store().await;
    let a = agency(&t.store, "A").await;
    let live = letter(a, LetterStatus::QueuedForPrint);
    let mut test = letter(a, LetterStatus::QueuedForPrint);
    test.test = true;
    insert(&t.store, &live).await;
    insert(&t.store, &test).await;
    let (live_scope, test_scope) = (AgencyScope::live(a), AgencyScope::test(a));
    let mut conn = t.store.read().await.unwrap();
    assert!(letters::get_letter(&mut conn, live_scope, test.letter_id).await.unwrap().is_none());
    assert!(letters::get_letter(&mut conn, test_scope, live.letter_id).await.unwrap().is_none());
    assert!(letters::get_letter(&mut conn, test_scope, test.letter_id).await.unwrap().is_some());
    let ids = |v: Vec<LetterRecord>| v.into_iter().map(|l| l.letter_id).collect::<Vec<_>>();
    assert_eq!(ids(letters::list_letters(&mut conn, live_scope, None, None, 10).await.unwrap()), vec![live.letter_id]);
    assert_eq!(ids(letters::list_letters(&mut conn, test_scope, None, None, 10).await.unwrap()), vec![test.letter_id]);
    for (scope, own) in [(live_scope, live.letter_id), (test_scope, test.letter_id)] {
        // On PostgreSQL the feed shows an event once every older transaction has ended; tests
        // running beside this one can hold that back for a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let feed = loop {
            let feed = events::list_events(&mut conn, scope, FeedCursor::default(), 10).await.unwrap();
            if !feed.is_empty() || std::time::Instant::now() > deadline {
                break feed;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(!feed.is_empty() && feed.iter().all(|e| e.letter_id == own && e.test == scope.test), "{feed:?}");
    }
    // Idempotency keys: the same key in each mode is two records.
    drop(conn);
    let record = |hash: &str| idempotency::IdempotencyRecord {
        request_hash: hash.into(),
        status_code: 201,
        response_body: "{}".into(),
    };
    let mut tx = t.store.begin().await.unwrap();
    idempotency::insert(&mut tx, test_scope, "k", &record("test"), &now_text()).await.unwrap();
    idempotency::insert(&mut tx, live_scope, "k", &record("live"), &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    let mut conn = t.store.read().await.unwrap();
    assert_eq!(idempotency::get(&mut conn, live_scope, "k").await.unwrap().unwrap().request_hash, "live");
    assert_eq!(idempotency::get(&mut conn, test_scope, "k").await.unwrap().unwrap().request_hash, "test");
}
