//! Failed authentications are limited per client address and answered 429 in words that say
//! so; an unknown key is answered from memory once it has been looked up. Runs on the database
//! `HYBRIDPOST_TEST_DATABASE_URL` names (SQLite when unset).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, Request, StatusCode, header};
use axum::routing::get;
use hybridpost_store::agencies::{self, Agency, Principal};
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, now_text};
use hybridpost_web::auth::{ApiKeys, generate_api_key};
use hybridpost_web::layers::with_common_layers;
use hybridpost_web::{AgencyCaller, RateLimiter};
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    problem: serde_json::Value,
}

async fn add_agency_key(store: &Store) -> String {
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test: false });
    let mut tx = store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await.unwrap();
    tx.commit().await.unwrap();
    key.key
}

fn app(keys: ApiKeys) -> Router {
    let routes = Router::new()
        .route("/v1/whoami", get(|caller: AgencyCaller| async move { caller.agency_id.to_string() }))
        .with_state(keys);
    with_common_layers(routes, Duration::from_secs(10))
}

/// `GET /v1/whoami` from `peer`, with `key` (none: no Authorization header) and headers.
async fn call(app: &Router, peer: &str, key: Option<&str>, extra: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder().uri("/v1/whoami");
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 50000)));
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Answer { status, retry_after, problem: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null) }
}

fn made_up_key() -> String {
    generate_api_key(Principal::Agency { agency_id: hybridpost_core::AgencyId::new(), test: false }).key
}

async fn setup(keys: impl FnOnce(ApiKeys) -> ApiKeys) -> (TestStore, Router, String) {
    let db = test_store().await;
    let good = add_agency_key(&db.store).await;
    // No per-key limit; three failures in a row per address, one forgiven every 2 s.
    let api_keys =
        keys(ApiKeys::new(db.store.clone(), RateLimiter::new(0, 0)).with_failure_limit(RateLimiter::with_rate(0.5, 3)));
    let app = app(api_keys);
    (db, app, good)
}

#[tokio::test]
async fn failed_authentications_are_limited_per_client_address_with_a_429_that_says_so() {
    let (_db, app, good) = setup(|k| k).await;
    assert_eq!(call(&app, "192.0.2.1", Some(&good), &[]).await.status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(call(&app, "192.0.2.1", Some(&made_up_key()), &[]).await.status, StatusCode::UNAUTHORIZED);
    }
    let refused = call(&app, "192.0.2.1", Some(&made_up_key()), &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.retry_after.as_deref(), Some("2"));
    assert_eq!(refused.problem["type"], "urn:hybridpost:problem:rate-limited");
    let detail = refused.problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("too many failed authentications"), "{detail}");
    assert!(detail.contains("from this address") && !detail.contains("this API key"), "{detail}");
    // Without a key, or with a malformed one, the address is refused the same way…
    assert_eq!(call(&app, "192.0.2.1", None, &[]).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(call(&app, "192.0.2.1", Some("hpk_x"), &[]).await.status, StatusCode::TOO_MANY_REQUESTS);
    // …and a forwarding header it sends itself changes nothing when no proxy is trusted.
    let spoofed = call(&app, "192.0.2.1", Some(&made_up_key()), &[("x-forwarded-for", "203.0.113.50")]).await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
    // The good key it used a moment ago keeps working, and other addresses have their own count.
    assert_eq!(call(&app, "192.0.2.1", Some(&good), &[]).await.status, StatusCode::OK);
    assert_eq!(call(&app, "198.51.100.2", Some(&made_up_key()), &[]).await.status, StatusCode::UNAUTHORIZED);
    // Failures are forgiven with time: one every 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(call(&app, "192.0.2.1", Some(&made_up_key()), &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "192.0.2.1", Some(&made_up_key()), &[]).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_failures_count_per_forwarded_address() {
    let xff = HeaderName::from_static("x-forwarded-for");
    let (_db, app, _) = setup(|k| k.with_client_ip_header(Some(xff))).await;
    let from = |client: &'static str| [("x-forwarded-for", client)];
    for _ in 0..3 {
        let answer = call(&app, "10.0.0.1", Some(&made_up_key()), &from("203.0.113.1")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let refused = call(&app, "10.0.0.1", Some(&made_up_key()), &from("203.0.113.1")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not refused for the first one's failures.
    let other = call(&app, "10.0.0.1", Some(&made_up_key()), &from("203.0.113.2")).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_key_is_answered_from_memory_without_asking_the_database_again() {
    let (db, app, _) = setup(|k| k.with_failure_limit(RateLimiter::new(0, 0))).await;
    let unknown = made_up_key();
    assert_eq!(call(&app, "192.0.2.9", Some(&unknown), &[]).await.status, StatusCode::UNAUTHORIZED);
    // With the database gone, the key already known to be unknown is still refused with 401,
    // from memory; a key never seen needs the database and gets 503.
    db.store.close().await;
    assert_eq!(call(&app, "192.0.2.9", Some(&unknown), &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "192.0.2.9", Some(&made_up_key()), &[]).await.status, StatusCode::SERVICE_UNAVAILABLE);
}
