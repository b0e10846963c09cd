//! `/v1/webhooks`: an agency's endpoints for signed webhooks carrying its event feed.
//!
//! Every event on the agency's letters is posted to each endpoint whose filter takes it, signed
//! per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), through the
//! notification outbox with its retries. The feed (`GET /v1/events`) stays the record: a
//! webhook is a push copy of it. The signing secret is shown once; it is stored wrapped under
//! the service secret, because it is needed again to sign.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use base64::Engine;
use hybridpost_core::egress::WebhookTarget;
use hybridpost_core::{EndpointId, EventKind};
use hybridpost_store::now_text;
use hybridpost_store::outbox::{self, WebhookEndpoint};
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{AgencyCaller, IdPath, JsonBody, ListQuery, Page, paging};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Most endpoints per agency.
pub const MAX_ENDPOINTS: usize = 10;

/// An endpoint to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to post: `https://` to a public host. Loopback, private, link-local and other
    /// special addresses, local names and cloud metadata services are refused, unless the
    /// operator allows private targets for receivers on the premises (then also plain
    /// `http://` to those). Stored as the WHATWG URL parser writes it.
    #[schema(format = "uri", max_length = 2000, pattern = "^https://")]
    pub url: String,
    /// Event kinds to send (each kind the service records); empty or absent for all.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub events: Vec<EventKind>,
}

/// A registered endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Its id.
    pub endpoint_id: EndpointId,
    /// Where webhooks go.
    pub url: String,
    /// Event kinds sent; empty means all.
    pub events: Vec<EventKind>,
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

impl From<&WebhookEndpoint> for Webhook {
    fn from(e: &WebhookEndpoint) -> Self {
        Webhook {
            endpoint_id: e.endpoint_id,
            url: e.url.clone(),
            events: e.events.clone(),
            created_at: e.created_at.clone(),
        }
    }
}

/// Register a webhook endpoint.
///
/// Registering a URL the agency already has replaces that endpoint (with a new secret).
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Registered; the secret is shown only now", body = CreatedWebhook),
        (status = 400, description = "Malformed JSON, unknown field or unknown event kind", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The agency has the most endpoints it may have", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A url that webhooks may not go to", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn create_webhook(
    State(state): State<AppState>,
    caller: AgencyCaller,
    body: JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let NewWebhook { url, events } = body.value;
    let secret = state.composer.keyring().secret();
    let created = register_webhook(
        &state.store,
        secret,
        caller.scope(),
        &url,
        events,
        state.config.webhook_allow_private_targets,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Registers an endpoint for the agency in `scope` (the API's `POST /v1/webhooks` and the
/// console's Settings): the URL checked, a new signing secret made and stored wrapped, an
/// endpoint with the same URL replaced. The secret is in the answer, once.
pub async fn register_webhook(
    store: &hybridpost_store::Store,
    secret: &hybridpost_seal::ServiceSecret,
    scope: hybridpost_core::AgencyScope,
    url: &str,
    mut events: Vec<EventKind>,
    allow_private_targets: bool,
) -> Result<CreatedWebhook, ApiError> {
    let url = match WebhookTarget::parse(url, allow_private_targets) {
        Ok(target) => target.as_str().to_owned(),
        Err(e) => {
            let mut errors = hybridpost_core::ValidationErrors::default();
            errors.add("url", e);
            return Err(ApiError::Validation(errors));
        }
    };
    events.sort();
    events.dedup();
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    let endpoint_id = EndpointId::new();
    let endpoint = WebhookEndpoint {
        secret_wrapped: secret.wrap(&raw, outbox::webhook_secret_context(endpoint_id).as_bytes()),
        endpoint_id,
        agency_id: scope.agency_id,
        test: scope.test,
        url,
        events,
        created_at: now_text(),
    };
    let mut tx = store.begin().await?;
    let existing = outbox::list_endpoints(&mut tx, scope).await?;
    for old in existing.iter().filter(|e| e.url == endpoint.url) {
        outbox::delete_endpoint(&mut tx, scope, old.endpoint_id).await?;
    }
    if existing.iter().filter(|e| e.url != endpoint.url).count() >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict {
            kind: "webhook-limit",
            detail: format!("an agency has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
        });
    }
    outbox::insert_endpoint(&mut tx, &endpoint).await?;
    tx.commit().await?;
    tracing::info!(agency.id = %scope.agency_id, webhook.id = %endpoint.endpoint_id, "webhook endpoint registered");
    let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(raw));
    Ok(CreatedWebhook { webhook: Webhook::from(&endpoint), secret })
}

/// List the agency's webhook endpoints, oldest first.
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of endpoints", body = Page<Webhook>),
        (status = 400, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    caller: AgencyCaller,
    uri: Uri,
) -> Result<Json<Page<Webhook>>, ApiError> {
    let request = paging::query::<ListQuery>(&uri)?.request::<EndpointId>()?;
    let mut conn = state.store.read().await?;
    // An agency has at most MAX_ENDPOINTS: they are read whole and paged here. Ids are
    // time-ordered, so id order is registration order.
    let mut endpoints = outbox::list_endpoints(&mut conn, caller.scope()).await?;
    endpoints.sort_by_key(|e| e.endpoint_id);
    let rows: Vec<&WebhookEndpoint> = endpoints
        .iter()
        .filter(|e| request.after.is_none_or(|after| e.endpoint_id > after))
        .take(usize::try_from(request.limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(request.page(&rows, |e| e.endpoint_id, |e| Webhook::from(*e))))
}

/// Delete a webhook endpoint; webhooks still queued for it are dropped.
#[utoipa::path(
    delete, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = EndpointId, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint for this agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agency_key" = []))
)]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    caller: AgencyCaller,
    IdPath(endpoint_id): IdPath<EndpointId>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin().await?;
    if !outbox::delete_endpoint(&mut tx, caller.scope(), endpoint_id).await? {
        return Err(ApiError::NotFound(format!("no webhook endpoint \"{endpoint_id}\"")));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_may_subscribe_to_every_kind_the_service_records() {
        // The filter is the one list of kinds: each kind the service records reads as a filter.
        for kind in EventKind::ALL {
            let body = serde_json::json!({"url": "https://hooks.example.go.th/in", "events": [kind]});
            let parsed: NewWebhook =
                hybridpost_web::json::parse(body.to_string().as_bytes()).expect("a kind is accepted");
            assert_eq!(parsed.events, [*kind]);
        }
        // These were emitted but refused by the filter before it used the one list.
        for name in ["withdrawn", "opened_with_pin", "unroutable", "print_overdue", "render_failed"] {
            assert!(EventKind::ALL.iter().any(|k| k.as_str() == name), "{name}");
        }
        let body = br#"{"url": "https://hooks.example.go.th/in", "events": ["letter.opened"]}"#;
        let refused = hybridpost_web::json::parse::<NewWebhook>(body).unwrap_err();
        assert!(refused.to_string().contains("events[0]"), "{refused}");
    }
}
