//! The middleware every service wears: a request id on every request (taken from the client's
//! `x-request-id` or made), a trace span carrying it, a time limit, request metrics, and the
//! step that finishes every error response as problem+json with the request id and logs it once.
//!
//! The time limit is a [`Deadline`] each request carries. It is `request_timeout` from the
//! start; a route whose body may take long to arrive (scan uploads from a post office on a
//! poor line) wears [`idle_body_timeout`], which lets the deadline wait on the client only
//! while it sends nothing: a slow but steady upload goes on for as long as it takes, a stalled
//! one is stopped. Either way the answer is a problem+json 408, and the handler's future is
//! dropped, so handlers clean up in `Drop`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::problem::{ApiError, PageForPeople, Problem, ProblemExtension, problem_response};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service as served: the roles' `routes`, their OpenAPI document at `/openapi.json`,
/// `/healthz` and `/readyz`, a problem+json 404 for any other path (`/metrics` among them: it
/// has a listener of its own, [`crate::health::metrics_router`]), and the common layers.
pub fn serve_app(
    routes: Router,
    openapi: utoipa::openapi::OpenApi,
    store: hybridpost_store::Store,
    timeout: Duration,
) -> Router {
    let openapi = std::sync::Arc::new(crate::openapi::document_json(&openapi));
    let app = routes
        .route("/openapi.json", axum::routing::get(move || std::future::ready(axum::Json(openapi.as_ref().clone()))))
        .merge(crate::health::router().with_state(store))
        .fallback(|| {
            std::future::ready(crate::problem::ApiError::NotFound(
                "there is nothing at this path; see /openapi.json".into(),
            ))
        });
    with_common_layers(app, timeout)
}

/// Adds the common layers to `router`: request ids, tracing, time limit, metrics, problem+json.
pub fn with_common_layers<S: Clone + Send + Sync + 'static>(router: Router<S>, timeout: Duration) -> Router<S> {
    router
        // Inside `finish_problems`, so that a 408 is finished and logged like any error.
        .layer(middleware::from_fn_with_state(timeout, limit_time))
        .layer(middleware::from_fn(finish_problems))
        .layer(middleware::from_fn(record_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!(
                        "request",
                        request.id = %request_id,
                        http.method = %req.method(),
                        http.path = %req.uri().path(),
                        agency.id = tracing::field::Empty,
                        site.id = tracing::field::Empty,
                    )
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}

/// When a request is stopped, and why: in every request's extensions (see the module doc).
#[derive(Clone, Debug)]
pub struct Deadline(Arc<DeadlineInner>);

#[derive(Debug)]
struct DeadlineInner {
    state: Mutex<DeadlineState>,
    /// Woken when the deadline moves earlier, for the task waiting on the later one.
    moved_earlier: tokio::sync::Notify,
}

#[derive(Debug)]
struct DeadlineState {
    at: tokio::time::Instant,
    /// What runs against the deadline now.
    waiting_on: Waiting,
    /// The time the server has for its own work, from the start or from the last bytes.
    timeout: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Waiting {
    /// The server's own work.
    Server,
    /// The client's next bytes, for at most this long.
    Client(Duration),
}

impl Deadline {
    fn new(timeout: Duration) -> Deadline {
        Deadline(Arc::new(DeadlineInner {
            state: Mutex::new(DeadlineState {
                at: tokio::time::Instant::now() + timeout,
                waiting_on: Waiting::Server,
                timeout,
            }),
            moved_earlier: tokio::sync::Notify::new(),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DeadlineState> {
        self.0.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, after: Duration, waiting_on: Waiting) {
        let at = tokio::time::Instant::now() + after;
        let earlier = {
            let mut state = self.state();
            let earlier = at < state.at;
            state.at = at;
            state.waiting_on = waiting_on;
            earlier
        };
        if earlier {
            self.0.moved_earlier.notify_one();
        }
    }

    /// The server works: it has the full timeout from now.
    fn server_works(&self) {
        let timeout = self.state().timeout;
        self.set(timeout, Waiting::Server);
    }

    /// The server waits for the client's next bytes, for at most `idle` from now.
    fn client_sends(&self, idle: Duration) {
        self.set(idle, Waiting::Client(idle));
    }

    /// When the deadline is now.
    fn at(&self) -> tokio::time::Instant {
        self.state().at
    }

    /// Why the request is stopped, if its deadline has passed (it may have moved meanwhile).
    fn expired(&self) -> Option<String> {
        let state = self.state();
        (state.at <= tokio::time::Instant::now()).then(|| match state.waiting_on {
            Waiting::Server => {
                format!("the request took longer than {} s and was stopped", state.timeout.as_secs_f64())
            }
            Waiting::Client(idle) => format!(
                "no bytes of the request body arrived for {} s, so it was stopped; send it again",
                idle.as_secs_f64()
            ),
        })
    }
}

/// Runs the request against its [`Deadline`]; past it, the handler is dropped and the answer is
/// a 408.
async fn limit_time(State(timeout): State<Duration>, mut req: Request, next: Next) -> Response {
    let deadline = Deadline::new(timeout);
    req.extensions_mut().insert(deadline.clone());
    let run = next.run(req);
    tokio::pin!(run);
    loop {
        tokio::select! {
            response = &mut run => return response,
            () = tokio::time::sleep_until(deadline.at()) => {
                if let Some(detail) = deadline.expired() {
                    metrics::counter!("hybridpost_http_timeouts_total").increment(1);
                    return ApiError::RequestTimeout(detail).into_response();
                }
            }
            // Sleep again until the new, earlier deadline.
            () = deadline.0.moved_earlier.notified() => {}
        }
    }
}

/// Middleware for a route whose body may arrive slowly: while the handler waits for body bytes
/// the request's deadline is `idle` after the wait began, and whenever bytes arrive (or the body
/// ends) the server has its full timeout again. Use with
/// `axum::middleware::from_fn_with_state(idle, idle_body_timeout)`, inside the common layers.
pub async fn idle_body_timeout(State(idle): State<Duration>, req: Request, next: Next) -> Response {
    let Some(deadline) = req.extensions().get::<Deadline>().cloned() else {
        // Without the common layers there is no deadline to move.
        return next.run(req).await;
    };
    let req = req.map(|inner| Body::new(IdleBody { inner, deadline, idle, waiting: false }));
    next.run(req).await
}

/// A request body that tells its [`Deadline`] when the server is waiting on the client.
struct IdleBody {
    inner: Body,
    deadline: Deadline,
    idle: Duration,
    /// Between a poll that found no bytes and the next bytes.
    waiting: bool,
}

impl HttpBody for IdleBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Pending => {
                // The idle clock starts when the server starts waiting, not at the last bytes:
                // time the handler spent storing them is not the client's.
                if !self.waiting {
                    self.waiting = true;
                    self.deadline.client_sends(self.idle);
                }
            }
            Poll::Ready(Some(Ok(_)) | None) => {
                self.waiting = false;
                self.deadline.server_works();
            }
            Poll::Ready(Some(Err(_))) => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Turns every 4xx/5xx response into problem+json carrying the request id, and logs it once:
/// 5xx with the hidden internal message, at error level, or at warning level for a 503 (a
/// draining node's `/readyz`, a database that does not answer: the state of the service, which
/// the client is told to retry, not a fault of the request's code), 4xx at debug level.
async fn finish_problems(req: Request, next: Next) -> Response {
    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if response.extensions().get::<PageForPeople>().is_some() {
        tracing::debug!(http.status = status.as_u16(), "request refused with a page for people");
        return response;
    }
    let (mut problem, internal) = match response.extensions_mut().remove::<ProblemExtension>() {
        Some(ext) => (ext.problem, ext.internal),
        None => (generic_problem(status), None),
    };
    problem.request_id = request_id;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(
            http.status = status.as_u16(),
            problem.r#type = %problem.kind,
            error = internal.as_deref().unwrap_or(&problem.detail),
            "request refused with {status}"
        );
    } else if status.is_server_error() {
        tracing::error!(
            http.status = status.as_u16(),
            problem.r#type = %problem.kind,
            error = internal.as_deref().unwrap_or(&problem.detail),
            "request failed with {status}"
        );
    } else {
        tracing::debug!(http.status = status.as_u16(), problem.r#type = %problem.kind, "request refused: {}", problem.detail);
    }
    let mut finished = problem_response(&problem);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            finished.headers_mut().append(name.clone(), value.clone());
        }
    }
    finished
}

fn generic_problem(status: StatusCode) -> Problem {
    let reason = status.canonical_reason().unwrap_or("Error");
    let detail = match status {
        StatusCode::NOT_FOUND => "there is nothing at this path; see /openapi.json for the routes".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this path does not take that method; see the Allow header".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long and was stopped".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        _ => reason.to_owned(),
    };
    let slug = reason.to_ascii_lowercase().replace(' ', "-");
    Problem {
        kind: format!("urn:hybridpost:problem:{slug}"),
        title: reason.to_owned(),
        status: status.as_u16(),
        detail,
        request_id: None,
        errors: Vec::new(),
    }
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("hybridpost_http_requests_total", &labels).increment(1);
    metrics::histogram!("hybridpost_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
