//! The common layers' time limit: every timeout is a problem+json 408 with the request id, and
//! a route wearing `idle_body_timeout` waits on a slow body for as long as bytes keep coming.
//! Server errors are logged once, a 503 as a warning and any other 5xx as an error.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Request, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use hybridpost_web::layers::{idle_body_timeout, with_common_layers};
use tower::ServiceExt;

/// A body sent in `chunks` pieces, one every `every`; with `stall_after`, it stops sending
/// (without ending) after that many.
struct SlowBody {
    left: usize,
    sent: usize,
    every: Duration,
    stall_after: Option<usize>,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl SlowBody {
    fn new(chunks: usize, every: Duration, stall_after: Option<usize>) -> SlowBody {
        SlowBody { left: chunks, sent: 0, every, stall_after, sleep: Box::pin(tokio::time::sleep(every)) }
    }
}

impl HttpBody for SlowBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if self.stall_after == Some(self.sent) {
            // Never wakes: the client went quiet with the connection open.
            return Poll::Pending;
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let next = tokio::time::Instant::now() + self.every;
        self.sleep.as_mut().reset(next);
        self.left -= 1;
        self.sent += 1;
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(b"0123456789")))))
    }
}

fn app(timeout: Duration, idle: Duration) -> Router {
    let routes = Router::new()
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() })
                .layer(from_fn_with_state(idle, idle_body_timeout)),
        )
        .route("/plain", post(|body: Bytes| async move { body.len().to_string() }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "done"
            }),
        );
    with_common_layers(routes, timeout)
}

async fn send(app: &Router, path: &str, body: Body) -> (StatusCode, String, String, serde_json::Value) {
    let method = if path == "/slow" { "GET" } else { "POST" };
    let req = Request::builder().method(method).uri(path).header("x-request-id", "req-7").body(body).unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).map_or("", |v| v.to_str().unwrap()).to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, content_type, text, json)
}

#[tokio::test]
async fn a_request_over_its_time_gets_a_problem_408_with_its_request_id() {
    let app = app(Duration::from_millis(200), Duration::from_millis(200));
    let (status, content_type, _, problem) = send(&app, "/slow", Body::empty()).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["type"], "urn:hybridpost:problem:request-timeout");
    assert_eq!(problem["status"], 408);
    assert_eq!(problem["request_id"], "req-7");
    assert_eq!(problem["detail"], "the request took longer than 0.2 s and was stopped");
}

#[tokio::test]
async fn a_slow_but_steady_body_is_read_to_the_end_long_after_the_request_timeout() {
    let app = app(Duration::from_millis(300), Duration::from_millis(300));
    // 20 pieces 100 ms apart: 2 s, more than six times the request timeout and the idle timeout.
    let started = std::time::Instant::now();
    let (status, _, text, _) =
        send(&app, "/upload", Body::new(SlowBody::new(20, Duration::from_millis(100), None))).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "200"));
    assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
    // The same body on a route without the idle layer is cut off at the request timeout.
    let (status, _, _, problem) =
        send(&app, "/plain", Body::new(SlowBody::new(20, Duration::from_millis(100), None))).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(problem["detail"], "the request took longer than 0.3 s and was stopped");
}

#[tokio::test]
async fn a_body_that_stalls_is_stopped_after_the_idle_time_with_a_problem_saying_so() {
    let app = app(Duration::from_secs(30), Duration::from_millis(300));
    let started = std::time::Instant::now();
    let body = Body::new(SlowBody::new(20, Duration::from_millis(50), Some(5)));
    let (status, content_type, _, problem) = send(&app, "/upload", body).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["request_id"], "req-7");
    assert_eq!(problem["detail"], "no bytes of the request body arrived for 0.3 s, so it was stopped; send it again");
    // Stopped by the idle time after the last piece, not by the 30 s request timeout.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// Log lines written while a test runs, as text.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_503_is_logged_as_a_warning_and_a_500_as_an_error() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let routes = Router::new()
        .route("/unavailable", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/broken", post(|| async { StatusCode::INTERNAL_SERVER_ERROR }));
    let app = with_common_layers(routes, Duration::from_secs(5));

    let (status, _, _, problem) = send(&app, "/unavailable", Body::empty()).await;
    assert_eq!((status, problem["status"].as_u64()), (StatusCode::SERVICE_UNAVAILABLE, Some(503)));
    let (status, _, _, _) = send(&app, "/broken", Body::empty()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line =
        |needle: &str| log.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in {log}"));
    assert!(line("request refused with 503").contains(" WARN "), "{log}");
    assert!(line("request failed with 500").contains(" ERROR "), "{log}");
    assert!(!log.contains("request failed with 503"), "{log}");
}
