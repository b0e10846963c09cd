//! `/healthz` (the process answers) and `/readyz` (and its database does), mounted on every
//! role; `/metrics` (Prometheus text format) for a listener of its own, never the public one:
//! metrics name routes, volumes and error rates, which are nobody else's business.

use std::sync::OnceLock;

use axum::extract::{FromRef, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use hybridpost_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::problem::ApiError;

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests build many routers); then ours
        // renders nothing, which is acceptable there.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The health routes, and the metrics recorder installed so that requests are counted.
pub fn router<S>() -> Router<S>
where
    Store: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    metrics_handle();
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// `/metrics` alone, to serve on the metrics listener (`metrics_listen`), with `/healthz` so a
/// scraper can tell the process is up.
pub fn metrics_router() -> Router {
    metrics_handle();
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz))
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(store): State<Store>) -> Result<impl IntoResponse, ApiError> {
    if crate::drain::is_draining() {
        return Err(ApiError::Unavailable("this node is shutting down".into()));
    }
    store.ping().await.map_err(|e| ApiError::Unavailable(format!("the database does not answer: {e}")))?;
    Ok(Json(serde_json::json!({"status": "ready"})))
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics_handle().render())
}
