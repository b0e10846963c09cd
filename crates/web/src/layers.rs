//! The middleware every service wears: a request id on every request (taken from the client's
//! `x-request-id` or made), a trace span carrying it, a timeout, request metrics, and the step
//! that finishes every error response as problem+json with the request id and logs it once.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::problem::{PageForPeople, Problem, ProblemExtension, problem_response};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service as served: the roles' `routes`, their OpenAPI document at `/openapi.json`,
/// `/healthz`, `/readyz` and `/metrics`, a problem+json 404 for any other path, and the common
/// layers.
pub fn serve_app(
    routes: Router,
    openapi: utoipa::openapi::OpenApi,
    store: hybridpost_store::Store,
    timeout: Duration,
) -> Router {
    let openapi = std::sync::Arc::new(openapi);
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

/// Adds the common layers to `router`: request ids, tracing, timeout, metrics, problem+json.
pub fn with_common_layers<S: Clone + Send + Sync + 'static>(router: Router<S>, timeout: Duration) -> Router<S> {
    router
        .layer(middleware::from_fn(finish_problems))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
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

/// Turns every 4xx/5xx response into problem+json carrying the request id, and logs it once:
/// 5xx at error level with the hidden internal message, 4xx at debug level.
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
    if status.is_server_error() {
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
