//! An agency admin's webhooks, under Settings: the endpoints its systems receive the event feed
//! at (registered here as through `POST /v1/webhooks`, the signing secret shown once), each with
//! its latest deliveries (status, attempts, response time, last error), a test webhook to send,
//! and deletion. Live and test endpoints are apart (`?mode=test`), as their letters are.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{AgencyScope, EndpointId, EventKind, PersonRole};
use hybridpost_store::now_text;
use hybridpost_store::outbox::{self, NotificationStatus};
use hybridpost_web::problem::ApiError;
use serde::Deserialize;

use crate::batches::when;
use crate::letters::{agency_of, event_name};
use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, me_context, see_other};

/// Deliveries shown per endpoint.
const DELIVERIES_SHOWN: i64 = 10;

fn admin_scope(me: &SignedIn, mode: &str) -> Result<AgencyScope, Response> {
    let agency = agency_of(me)?;
    if me.person.role != PersonRole::Admin {
        return Err(pages::not_found());
    }
    Ok(AgencyScope { agency_id: agency, test: mode == "test" })
}

fn mode_query(test: bool) -> &'static str {
    if test { "?mode=test" } else { "" }
}

#[derive(Default, Deserialize)]
pub(crate) struct ModeQuery {
    #[serde(default)]
    mode: String,
}

/// What the page shows beside the endpoints: a secret just made, or a problem with the form.
#[derive(Default)]
struct Shown {
    created: Option<(String, String)>,
    error: Option<String>,
    typed_url: Option<String>,
    queued_test: bool,
}

pub(crate) async fn webhooks_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Query(q): Query<ModeQuery>,
) -> Response {
    match admin_scope(&me, &q.mode) {
        Ok(scope) => render(&state, &me, scope, StatusCode::OK, Shown::default()).await,
        Err(r) => r,
    }
}

fn status_name(status: NotificationStatus, lang: Lang) -> &'static str {
    match status {
        NotificationStatus::Pending => lang.pick("รอส่ง/กำลังลองใหม่", "waiting or retrying"),
        NotificationStatus::Sent => lang.pick("ส่งถึงแล้ว", "delivered"),
        NotificationStatus::Failed => lang.pick("ส่งไม่สำเร็จ", "failed"),
        NotificationStatus::Cancelled => lang.pick("ยกเลิก", "cancelled"),
    }
}

async fn render(state: &ConsoleState, me: &SignedIn, scope: AgencyScope, status: StatusCode, shown: Shown) -> Response {
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let mut endpoints = outbox::list_endpoints(&mut conn, scope).await?;
        endpoints.sort_by_key(|e| e.endpoint_id);
        let mut with_deliveries = Vec::new();
        for e in endpoints {
            let deliveries = outbox::recent_deliveries(&mut conn, e.endpoint_id, DELIVERIES_SHOWN).await?;
            with_deliveries.push((e, deliveries));
        }
        Ok(with_deliveries)
    }
    .await;
    let endpoints = match found {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("cannot read an agency's webhooks: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let lang = me.lang;
    let rows: Vec<serde_json::Value> = endpoints
        .iter()
        .map(|(e, deliveries)| {
            let events: Vec<&str> = e.events.iter().map(|k| event_name(*k, lang)).collect();
            serde_json::json!({
                "id": e.endpoint_id.to_string(), "url": e.url, "created": when(&e.created_at, lang),
                "events": if events.is_empty() { lang.pick("ทุกเหตุการณ์", "every event").to_owned() } else { events.join(", ") },
                "deliveries": deliveries.iter().map(|d| serde_json::json!({
                    "id": d.notification_id, "at": when(&d.created_at, lang),
                    "what": d.kind.clone().unwrap_or_else(|| d.purpose.clone()),
                    "status": status_name(d.status, lang), "code": d.status.as_str(), "attempts": d.attempts,
                    "ms": d.last_duration_ms, "error": d.last_error,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let kinds: Vec<serde_json::Value> =
        EventKind::ALL.iter().map(|k| serde_json::json!({"code": k.as_str(), "name": event_name(*k, lang)})).collect();
    pages::render(
        status,
        "webhooks.html",
        lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/settings",
            "test": scope.test, "mode": mode_query(scope.test), "endpoints": rows, "kinds": kinds,
            "max": hybridpost_gateway::MAX_ENDPOINTS,
            "created": shown.created.map(|(url, secret)| serde_json::json!({"url": url, "secret": secret})),
            "error": shown.error, "url": shown.typed_url.unwrap_or_default(), "queued_test": shown.queued_test,
        }),
    )
}

/// Registers an endpoint; the secret is shown on the page that answers, once.
pub(crate) async fn create(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Query(q): Query<ModeQuery>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut fields: HashMap<&str, &str> = HashMap::new();
    let mut events = Vec::new();
    for (k, v) in &form {
        if k == "events" {
            events.push(v.as_str());
        } else {
            fields.insert(k.as_str(), v.as_str());
        }
    }
    if !me.form_token_matches(fields.get("csrf").copied().unwrap_or_default()) {
        return me.refuse_form();
    }
    let scope = match admin_scope(&me, &q.mode) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let url = fields.get("url").copied().unwrap_or_default().trim().chars().take(2000).collect::<String>();
    let kinds: Vec<EventKind> =
        events.iter().filter_map(|e| serde_json::from_value(serde_json::Value::from(*e)).ok()).collect();
    let secret = state.intake.keyring.secret();
    let allow_private = state.config.webhook_allow_private_targets;
    match hybridpost_gateway::register_webhook(&state.store, secret, scope, &url, kinds.clone(), allow_private).await {
        Ok(created) => {
            let detail = serde_json::json!({"url": created.webhook.url, "events": kinds, "test": scope.test});
            if let Err(r) =
                crate::audit(&state, &me, "webhook.create", &created.webhook.endpoint_id.to_string(), Some(detail))
                    .await
            {
                return r;
            }
            let shown = Shown { created: Some((created.webhook.url, created.secret)), ..Shown::default() };
            render(&state, &me, scope, StatusCode::CREATED, shown).await
        }
        Err(e) => {
            let (status, why) = match &e {
                ApiError::Validation(errors) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    errors.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "),
                ),
                ApiError::Conflict { .. } => (
                    StatusCode::CONFLICT,
                    match me.lang {
                        Lang::Thai => {
                            format!("หน่วยงานมีปลายทางได้ไม่เกิน {} แห่ง ลบแห่งที่ไม่ใช้ก่อน", hybridpost_gateway::MAX_ENDPOINTS)
                        }
                        Lang::English => e.to_string(),
                    },
                ),
                other => {
                    tracing::error!("cannot register a webhook: {other}");
                    return pages::unavailable(me.lang);
                }
            };
            let why = match (me.lang, status) {
                (Lang::Thai, StatusCode::UNPROCESSABLE_ENTITY) => format!("ใช้ที่อยู่นี้ไม่ได้: {why}"),
                _ => why,
            };
            let shown = Shown { error: Some(why), typed_url: Some(url), ..Shown::default() };
            render(&state, &me, scope, status, shown).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Deletes an endpoint (`delete`) or queues a test webhook to it (`test`).
pub(crate) async fn act(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path((endpoint_id, action)): Path<(EndpointId, String)>,
    Query(q): Query<ModeQuery>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let scope = match admin_scope(&me, &q.mode) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if action != "delete" && action != "test" {
        return pages::not_found();
    }
    let done: hybridpost_store::Result<bool> = async {
        let mut tx = state.store.begin().await?;
        let endpoint = outbox::list_endpoints(&mut tx, scope).await?.into_iter().find(|e| e.endpoint_id == endpoint_id);
        let Some(endpoint) = endpoint else { return Ok(false) };
        let entry = if action == "delete" {
            outbox::delete_endpoint(&mut tx, scope, endpoint_id).await?;
            me.audit("webhook.delete", Some(serde_json::json!({"url": endpoint.url})))
        } else {
            outbox::insert_notifications(&mut tx, &[hybridpost_notify::outbox::test_webhook(&endpoint, &now_text())])
                .await?;
            me.audit("webhook.test", Some(serde_json::json!({"url": endpoint.url})))
        };
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &endpoint_id.to_string()).await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match done {
        Ok(true) if action == "test" => {
            let shown = Shown { queued_test: true, ..Shown::default() };
            render(&state, &me, scope, StatusCode::OK, shown).await
        }
        Ok(true) => see_other(&format!("/console/settings/webhooks{}", mode_query(scope.test))),
        Ok(false) => pages::not_found(),
        Err(e) => {
            tracing::error!("cannot change a webhook endpoint: {e}");
            pages::unavailable(me.lang)
        }
    }
}
