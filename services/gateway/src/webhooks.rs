//! `/v1/webhooks`: an agency's endpoints for signed webhooks carrying its event feed.
//!
//! Every event on the agency's letters is posted to each endpoint whose filter takes it, signed
//! per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), through the
//! notification outbox with its retries. The feed (`GET /v1/events`) stays the record: a
//! webhook is a push copy of it. The signing secret is shown once; it is stored wrapped under
//! the service secret, because it is needed again to sign.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use hybridpost_core::egress::WebhookTarget;
use hybridpost_core::event_kind;
use hybridpost_store::now_text;
use hybridpost_store::outbox::{self, WebhookEndpoint};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, JsonBody};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Most endpoints per agency.
const MAX_ENDPOINTS: usize = 10;

/// An endpoint to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to post: `https://` to a public host. Loopback, private, link-local and other
    /// special addresses, local names and cloud metadata services are refused, unless the
    /// operator allows private targets for receivers on the premises (then also plain
    /// `http://` to those). Stored as the WHATWG URL parser writes it.
    pub url: String,
    /// Event kinds to send: status names (`accepted`, `queued_for_print`, `dispatched`,
    /// `reply_received`, …) and `render_failed`, `unroutable`, `print_overdue`, `print_retried`,
    /// `withdrawn`, `opened_with_pin`, `notification_failed`; empty or absent for all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// A registered endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Its id.
    pub endpoint_id: String,
    /// Where webhooks go.
    pub url: String,
    /// Event kinds sent; empty means all.
    pub events: Vec<String>,
    /// When it was registered (UTC).
    pub created_at: String,
}

/// A newly registered endpoint with its signing secret.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The Standard Webhooks signing secret (`whsec_…`). Shown only now: keep it to verify
    /// `webhook-signature`.
    pub secret: String,
}

/// The agency's endpoints.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub items: Vec<Webhook>,
}

impl From<&WebhookEndpoint> for Webhook {
    fn from(e: &WebhookEndpoint) -> Self {
        Webhook {
            endpoint_id: e.endpoint_id.clone(),
            url: e.url.clone(),
            events: e.events.clone(),
            created_at: e.created_at.clone(),
        }
    }
}

fn check_events(events: &[String]) -> Result<(), String> {
    for kind in events {
        // The service's one list of kinds, so every kind it records can be subscribed to.
        if !event_kind::is_known(kind) {
            return Err(format!("{kind:?} is not an event kind"));
        }
    }
    Ok(())
}

/// Register a webhook endpoint.
///
/// Registering a URL the agency already has replaces that endpoint (with a new secret).
#[utoipa::path(
    put, path = "/v1/webhooks", tag = "webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Registered; the secret is shown only now", body = CreatedWebhook),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad url or event kind", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn put_webhook(
    State(state): State<AppState>,
    caller: AgencyCaller,
    body: JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let NewWebhook { url, mut events } = body.value;
    let mut errors = hybridpost_core::ValidationErrors::default();
    let url = match WebhookTarget::parse(&url, state.config.webhook_allow_private_targets) {
        Ok(target) => target.as_str().to_owned(),
        Err(e) => {
            errors.add("url", e);
            url
        }
    };
    if let Err(e) = check_events(&events) {
        errors.add("events", e);
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    events.sort();
    events.dedup();
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    let endpoint_id = uuid::Uuid::now_v7().simple().to_string();
    let secret = state.composer.keyring().secret();
    let endpoint = WebhookEndpoint {
        secret_wrapped: secret.wrap(&raw, outbox::webhook_secret_context(&endpoint_id).as_bytes()),
        endpoint_id,
        agency_id: caller.agency_id,
        test: caller.test,
        url,
        events,
        created_at: now_text(),
    };
    let mut tx = state.store.begin().await?;
    let existing = outbox::list_endpoints(&mut tx, caller.scope()).await?;
    for old in existing.iter().filter(|e| e.url == endpoint.url) {
        outbox::delete_endpoint(&mut tx, caller.scope(), &old.endpoint_id).await?;
    }
    if existing.iter().filter(|e| e.url != endpoint.url).count() >= MAX_ENDPOINTS {
        let mut errors = hybridpost_core::ValidationErrors::default();
        errors.add("url", format!("an agency has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"));
        return Err(ApiError::Validation(errors));
    }
    outbox::insert_endpoint(&mut tx, &endpoint).await?;
    tx.commit().await.map_err(hybridpost_store::StoreError::from)?;
    tracing::info!(agency.id = %caller.agency_id, webhook.id = %endpoint.endpoint_id, "webhook endpoint registered");
    let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(raw));
    Ok((StatusCode::CREATED, Json(CreatedWebhook { webhook: Webhook::from(&endpoint), secret })))
}

/// List the agency's webhook endpoints.
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    responses(
        (status = 200, description = "The endpoints", body = WebhookList),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    caller: AgencyCaller,
) -> Result<Json<WebhookList>, ApiError> {
    let mut conn = state.store.read().await?;
    let endpoints = outbox::list_endpoints(&mut conn, caller.scope()).await?;
    Ok(Json(WebhookList { items: endpoints.iter().map(Webhook::from).collect() }))
}

/// Delete a webhook endpoint; webhooks still queued for it are dropped.
#[utoipa::path(
    delete, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint for this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    caller: AgencyCaller,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin().await?;
    if !outbox::delete_endpoint(&mut tx, caller.scope(), &endpoint_id).await? {
        return Err(ApiError::NotFound(format!("no webhook endpoint {endpoint_id:?}")));
    }
    tx.commit().await.map_err(hybridpost_store::StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_are_status_names_or_the_other_kinds() {
        assert!(check_events(&["opened".into(), "notification_failed".into()]).is_ok());
        assert!(check_events(&["letter.opened".into()]).is_err());
    }

    #[test]
    fn an_endpoint_may_subscribe_to_every_kind_the_service_records() {
        let kinds: Vec<String> = event_kind::all().map(str::to_owned).collect();
        for kind in &kinds {
            assert!(check_events(std::slice::from_ref(kind)).is_ok(), "{kind}");
        }
        // These were emitted but refused by the filter before it used the one list.
        for kind in ["withdrawn", "opened_with_pin", "unroutable", "print_overdue", "render_failed"] {
            assert!(kinds.iter().any(|k| k == kind), "{kind}");
        }
        assert!(check_events(&kinds).is_ok());
    }
}
