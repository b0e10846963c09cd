//! Webhook signatures checked by the independent `standardwebhooks` package.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hybridpost_notify::{DEFAULT_TOLERANCE, WebhookClient, WebhookError, WebhookSecret, sign_webhook, verify_webhook};
use support::{PyServer, run_py};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()).expect("fits")
}

#[test]
fn our_signature_matches_the_specification_example() {
    let secret = WebhookSecret::parse(SECRET).expect("secret");
    let h = sign_webhook(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
    assert_eq!(h.signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn a_webhook_signed_by_us_is_verified_by_the_standardwebhooks_package() {
    let secret = WebhookSecret::parse(SECRET).expect("secret");
    let body = r#"{"type":"letter.returned","letter_ref":"DOPA-2569-78","reason":"ไม่มีผู้รับตามจ่าหน้า"}"#;
    let ts = now();
    let h = sign_webhook(&secret, "evt_01J9Z7", ts, body.as_bytes());
    let ts_s = ts.to_string();
    let (ok, out, err) = run_py("verify_webhook.py", &[SECRET, &h.id, &ts_s, &h.signature], Some(body.as_bytes()));
    assert!(ok, "standardwebhooks rejected our signature: {out} {err}");
    assert_eq!(out.trim(), "OK");

    // And it rejects a tampered body, so the check above is meaningful.
    let (ok, out, _) =
        run_py("verify_webhook.py", &[SECRET, &h.id, &ts_s, &h.signature], Some(body.replace("78", "79").as_bytes()));
    assert!(!ok, "tampered body accepted: {out}");
}

#[test]
fn verification_accepts_any_of_several_signatures_and_rejects_stale_ones() {
    let secret = WebhookSecret::parse(SECRET).expect("secret");
    let h = sign_webhook(&secret, "evt_2", 1_000_000, b"{}");
    let sig = format!("v1,AAAA {} v1a,ignored", h.signature);
    let headers = [("Webhook-Id", "evt_2"), ("Webhook-Timestamp", "1000000"), ("Webhook-Signature", sig.as_str())];
    assert_eq!(verify_webhook(&secret, headers, b"{}", DEFAULT_TOLERANCE, Some(1_000_100)), Ok(()));
    assert!(verify_webhook(&secret, headers, b"{}", Duration::from_secs(60), Some(1_000_100)).is_err());
    assert!(verify_webhook(&secret, headers, b"{}", DEFAULT_TOLERANCE, Some(999_000)).is_err());
    assert!(WebhookSecret::parse("whsec_short").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_to_a_receiver_is_classified_by_status() {
    let server = PyServer::start("webhook_receiver.py", &[SECRET]);
    let client = WebhookClient::new(Duration::from_secs(5), true).expect("client: the receiver is on 127.0.0.1");
    let secret = WebhookSecret::parse(SECRET).expect("secret");
    let base = format!("http://127.0.0.1:{}", server.port);
    let body = br#"{"type":"reply.received","letter_ref":"DOPA-2569-77"}"#;

    let ok = client
        .deliver(&format!("{base}/hook"), &secret, "evt_1", body)
        .await
        .expect("receiver verified the signature with standardwebhooks");
    assert_eq!(ok.status, 204);

    let wrong = WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("secret");
    let err = client.deliver(&format!("{base}/hook"), &wrong, "evt_1", body).await.expect_err("bad signature");
    assert!(matches!(err, WebhookError::Permanent { status: Some(401), .. }), "{err:?}");

    for (status, retry) in
        [(400, false), (404, false), (410, false), (408, true), (429, true), (500, true), (503, true)]
    {
        let err =
            client.deliver(&format!("{base}/status/{status}"), &secret, "evt_3", body).await.expect_err("non-2xx");
        assert_eq!(err.is_retryable(), retry, "{status}: {err:?}");
    }

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err =
        client.deliver(&format!("http://127.0.0.1:{closed}/hook"), &secret, "evt_4", body).await.expect_err("refused");
    assert!(err.is_retryable(), "{err:?}");
}
