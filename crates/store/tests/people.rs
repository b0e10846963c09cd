//! People, sessions, sign-in failures and the audit log on SQLite and PostgreSQL (`ops/test.sh`
//! runs it on both).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use hybridpost_core::{PersonId, PersonRole, SiteId, Workplace};
use hybridpost_store::agencies::{self, Site};
use hybridpost_store::people::{self, NewAudit, Person, Session};
use hybridpost_store::testing::test_store;
use hybridpost_store::{Store, StoreError, now_text};

async fn site(store: &Store, name: &str) -> SiteId {
    let site = Site {
        site_id: SiteId::new(),
        name: name.into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let mut tx = store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();
    site.site_id
}

fn person(email: &str, workplace: Workplace, role: PersonRole) -> Person {
    Person {
        person_id: PersonId::new(),
        email: email.into(),
        name: "สมหญิง ใจดี".into(),
        workplace,
        role,
        password_hash: None,
        disabled_at: None,
        totp_enabled_at: None,
        oidc_subject: None,
        created_at: now_text(),
        updated_at: now_text(),
    }
}

#[tokio::test]
async fn people_are_tied_to_one_workplace_and_a_setup_code_works_once() {
    let db = test_store().await;
    let store = &db.store;
    let here = Workplace::Site(site(store, "ปณ. บางรัก").await);
    let there = Workplace::Site(site(store, "ปณ. สามเสนใน").await);
    let p = person("somying@post.example", here, PersonRole::Operator);
    let mut tx = store.begin().await.unwrap();
    people::insert_person(&mut tx, &p, &"a".repeat(64), "2999-01-01T00:00:00.000Z").await.unwrap();
    let twin = person("somying@post.example", there, PersonRole::Operator);
    let taken = people::insert_person(&mut tx, &twin, &"b".repeat(64), "2999-01-01T00:00:00.000Z").await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    people::insert_person(&mut tx, &p, &"a".repeat(64), "2999-01-01T00:00:00.000Z").await.unwrap();
    let wrong = person("admin@post.example", here, PersonRole::Admin);
    assert!(matches!(
        people::insert_person(&mut tx, &wrong, &"c".repeat(64), "2999-01-01T00:00:00.000Z").await,
        Err(StoreError::Invalid(_))
    ));
    tx.commit().await.unwrap();

    let mut conn = store.read().await.unwrap();
    assert_eq!(people::find_by_email(&mut conn, " SomYing@Post.Example ").await.unwrap().unwrap(), p);
    assert_eq!(people::list_people(&mut conn, here).await.unwrap(), std::slice::from_ref(&p));
    assert!(people::list_people(&mut conn, there).await.unwrap().is_empty());
    drop(conn);

    let mut tx = store.begin().await.unwrap();
    let taken = people::take_setup_code(&mut tx, &"a".repeat(64), &now_text()).await.unwrap();
    assert_eq!(taken.map(|t| t.person_id), Some(p.person_id));
    assert_eq!(people::take_setup_code(&mut tx, &"a".repeat(64), &now_text()).await.unwrap(), None, "once");
    people::set_setup_code(&mut tx, p.person_id, &"d".repeat(64), "2000-01-01T00:00:00.000Z", &now_text())
        .await
        .unwrap();
    assert_eq!(people::take_setup_code(&mut tx, &"d".repeat(64), &now_text()).await.unwrap(), None, "expired");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_session_ends_when_signed_out_idle_expired_or_its_person_disabled() {
    let db = test_store().await;
    let store = &db.store;
    let here = Workplace::Site(site(store, "ปณ. บางรัก").await);
    let p = person("somchai@post.example", here, PersonRole::Supervisor);
    let session = |token: &str, last_seen: &str, expires: &str| Session {
        token_hash: token.repeat(64),
        person_id: p.person_id,
        csrf_token: format!("csrf-{token}"),
        created_at: "2026-12-04T08:00:00.000Z".into(),
        last_seen_at: last_seen.into(),
        expires_at: expires.into(),
    };
    let mut tx = store.begin().await.unwrap();
    people::insert_person(&mut tx, &p, &"a".repeat(64), "2999-01-01T00:00:00.000Z").await.unwrap();
    people::insert_session(&mut tx, &session("1", "2026-12-04T09:00:00.000Z", "2026-12-04T20:00:00.000Z"), None)
        .await
        .unwrap();
    people::insert_session(&mut tx, &session("2", "2026-12-04T09:00:00.000Z", "2026-12-04T20:00:00.000Z"), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let now = "2026-12-04T10:00:00.000Z";
    let live = |token: &'static str, now: &'static str, idle_since: &'static str| async move {
        let mut conn = store.read().await.unwrap();
        people::live_session(&mut conn, &token.repeat(64), now, idle_since).await.unwrap()
    };
    let (s, who) = live("1", now, "2026-12-04T08:30:00.000Z").await.expect("a live session");
    assert_eq!((s.csrf_token.as_str(), who.person_id), ("csrf-1", p.person_id));
    assert!(live("1", now, "2026-12-04T09:00:00.000Z").await.is_none(), "not used since 09:00: idle");
    assert!(live("1", "2026-12-04T20:00:00.000Z", "2026-12-04T08:00:00.000Z").await.is_none(), "absolute expiry");

    let mut tx = store.begin().await.unwrap();
    assert!(people::end_session(&mut tx, &"1".repeat(64), now).await.unwrap());
    assert!(!people::end_session(&mut tx, &"1".repeat(64), now).await.unwrap());
    tx.commit().await.unwrap();
    assert!(live("1", now, "2026-12-04T08:00:00.000Z").await.is_none(), "signed out");
    assert!(live("2", now, "2026-12-04T08:00:00.000Z").await.is_some(), "the other browser stays in");

    let mut tx = store.begin().await.unwrap();
    assert!(people::set_disabled(&mut tx, p.person_id, true, now).await.unwrap());
    tx.commit().await.unwrap();
    assert!(live("2", now, "2026-12-04T08:00:00.000Z").await.is_none(), "disabled");
}

#[tokio::test]
async fn sign_in_failures_are_counted_per_key_and_the_audit_log_is_append_only() {
    let db = test_store().await;
    let store = &db.store;
    let here = Workplace::Site(site(store, "ปณ. บางรัก").await);
    let there = Workplace::Site(site(store, "ปณ. สามเสนใน").await);
    let mut tx = store.begin().await.unwrap();
    let keys = ["email:a@post.example".to_owned(), "addr:192.0.2.7".to_owned()];
    for at in ["2026-12-04T09:00:00.000Z", "2026-12-04T09:10:00.000Z"] {
        people::record_signin_failure(&mut tx, &keys, at).await.unwrap();
    }
    assert_eq!(people::signin_failures_since(&mut tx, &keys[0], "2026-12-04T09:05:00.000Z").await.unwrap(), 1);
    assert_eq!(people::signin_failures_since(&mut tx, &keys[1], "2026-12-04T08:00:00.000Z").await.unwrap(), 2);
    people::clear_signin_failures(&mut tx, &keys[0], "2026-12-04T08:00:00.000Z").await.unwrap();
    assert_eq!(people::signin_failures_since(&mut tx, &keys[0], "2026-12-04T08:00:00.000Z").await.unwrap(), 0);
    assert_eq!(people::signin_failures_since(&mut tx, &keys[1], "2026-12-04T08:00:00.000Z").await.unwrap(), 2);

    for (n, workplace) in [(1, here), (2, here), (3, there)] {
        let audit = NewAudit {
            person_id: None,
            workplace: Some(workplace),
            action: "batch.close".into(),
            target: Some(format!("batch-{n}")),
            detail: Some(serde_json::json!({"letters": n})),
            client: Some("192.0.2.7".into()),
            request_id: None,
        };
        people::append_audit(&mut tx, &audit, &now_text()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut conn = store.read().await.unwrap();
    let log = people::list_audit(&mut conn, here, None, 10).await.unwrap();
    let targets: Vec<_> = log.iter().map(|a| a.target.clone().unwrap()).collect();
    assert_eq!(targets, ["batch-2", "batch-1"], "newest first, this site's only");
    let older = people::list_audit(&mut conn, here, Some(log[0].audit_id), 10).await.unwrap();
    assert_eq!(older.len(), 1);
    drop(conn);

    let mut tx = store.begin().await.unwrap();
    let changed = sqlx::query("update audit_event set action = 'nothing'").execute(&mut *tx).await;
    assert!(changed.unwrap_err().to_string().contains("append-only"));
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let deleted = sqlx::query("delete from audit_event").execute(&mut *tx).await;
    assert!(deleted.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn authenticator_steps_are_spent_once_and_openid_attempts_and_links_hold() {
    let db = test_store().await;
    let store = &db.store;
    let here = Workplace::Site(site(store, "ปณ. บางรัก").await);
    let (a, b) =
        (person("a@post.example", here, PersonRole::Operator), person("b@post.example", here, PersonRole::Operator));
    let mut tx = store.begin().await.unwrap();
    people::insert_person(&mut tx, &a, &"a".repeat(64), "2999-01-01T00:00:00.000Z").await.unwrap();
    people::insert_person(&mut tx, &b, &"b".repeat(64), "2999-01-01T00:00:00.000Z").await.unwrap();

    // The authenticator: set up, turned on with a step, each later step spent once.
    assert!(people::begin_totp(&mut tx, a.person_id, "wrapped", &now_text()).await.unwrap());
    assert!(!people::spend_totp_step(&mut tx, a.person_id, 10).await.unwrap(), "not on yet");
    assert!(people::enable_totp(&mut tx, a.person_id, 10, &now_text()).await.unwrap());
    assert!(!people::begin_totp(&mut tx, a.person_id, "other", &now_text()).await.unwrap(), "on: turn it off first");
    assert!(!people::spend_totp_step(&mut tx, a.person_id, 10).await.unwrap(), "the confirming step is spent");
    assert!(people::spend_totp_step(&mut tx, a.person_id, 11).await.unwrap());
    assert!(!people::spend_totp_step(&mut tx, a.person_id, 11).await.unwrap(), "a step works once");
    assert!(!people::spend_totp_step(&mut tx, a.person_id, 9).await.unwrap(), "nor an earlier one");
    let secret = people::totp_secret(&mut tx, a.person_id).await.unwrap().unwrap();
    assert!(secret.enabled && secret.secret == "wrapped" && secret.last_step == Some(11));
    assert!(people::get_person(&mut tx, a.person_id).await.unwrap().unwrap().totp_enabled_at.is_some());
    assert!(people::disable_totp(&mut tx, a.person_id, &now_text()).await.unwrap());
    assert_eq!(people::totp_secret(&mut tx, a.person_id).await.unwrap(), None);

    // A half-done sign-in: found while live, gone once ended, never found after it expires.
    people::insert_signin_challenge(&mut tx, "c1", a.person_id, &now_text(), "2999-01-01T00:00:00.000Z").await.unwrap();
    people::insert_signin_challenge(&mut tx, "c2", b.person_id, &now_text(), "2000-01-01T00:00:00.000Z").await.unwrap();
    assert_eq!(
        people::signin_challenge_person(&mut tx, "c1", &now_text()).await.unwrap().unwrap().person_id,
        a.person_id
    );
    assert_eq!(people::signin_challenge_person(&mut tx, "c2", &now_text()).await.unwrap(), None, "expired");
    people::end_signin_challenge(&mut tx, "c1").await.unwrap();
    assert_eq!(people::signin_challenge_person(&mut tx, "c1", &now_text()).await.unwrap(), None);

    // An OpenID attempt is taken once, and not after it expires.
    let attempt = |state: &str| people::OidcAttempt {
        state_hash: state.into(),
        pkce_verifier: "verifier".into(),
        nonce: "nonce".into(),
    };
    people::insert_oidc_attempt(&mut tx, &attempt("s1"), &now_text(), "2999-01-01T00:00:00.000Z").await.unwrap();
    people::insert_oidc_attempt(&mut tx, &attempt("s2"), "1999-01-01T00:00:00.000Z", "2000-01-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(people::take_oidc_attempt(&mut tx, "s1", &now_text()).await.unwrap(), Some(attempt("s1")));
    assert_eq!(people::take_oidc_attempt(&mut tx, "s1", &now_text()).await.unwrap(), None, "once");
    assert_eq!(people::take_oidc_attempt(&mut tx, "s2", &now_text()).await.unwrap(), None, "expired");

    // A subject at the provider belongs to one person, linked once.
    let subject = "https://idp.example 123";
    assert!(people::link_oidc_subject(&mut tx, a.person_id, subject, &now_text()).await.unwrap());
    assert!(!people::link_oidc_subject(&mut tx, a.person_id, "https://idp.example 456", &now_text()).await.unwrap());
    assert_eq!(people::find_by_oidc_subject(&mut tx, subject).await.unwrap().unwrap().person_id, a.person_id);
    let taken = people::link_oidc_subject(&mut tx, b.person_id, subject, &now_text()).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}
