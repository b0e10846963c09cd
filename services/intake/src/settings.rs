//! `/v1/site/settings`: what a post-office site sets for its own scanning: how long a reply
//! whose pages did not all arrive waits for the rest before the agency is told.

use axum::Json;
use axum::extract::State;
use hybridpost_web::problem::{ApiError, Problem};
use hybridpost_web::{JsonBody, SiteCaller};
use serde::{Deserialize, Serialize};

use crate::IntakeState;

/// Longest wait a site may set: a week.
pub const MAX_REPLY_WAIT_MINUTES: i64 = 7 * 24 * 60;

/// A site's scanning settings.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    /// How long (minutes, 0 to 10080) a reply whose pages did not all arrive waits for the rest,
    /// which may come in later uploads at this site, before the agency is told with the
    /// missing pages named. 0 tells the agency at once. A new site waits 1440 (a day).
    #[schema(minimum = 0, maximum = 10080)]
    #[serde(deserialize_with = "hybridpost_core::whole_number::deserialize")]
    pub reply_wait_minutes: i64,
}

/// The site's scanning settings.
#[utoipa::path(
    get, path = "/v1/site/settings", tag = "scans",
    responses(
        (status = 200, description = "The settings", body = SiteSettings),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn get_settings(
    State(state): State<IntakeState>,
    caller: SiteCaller,
) -> Result<Json<SiteSettings>, ApiError> {
    let mut conn = state.store.read().await?;
    let minutes = hybridpost_store::agencies::site_reply_wait(&mut conn, caller.site_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("this key's site no longer exists".into()))?;
    Ok(Json(SiteSettings { reply_wait_minutes: minutes }))
}

/// Sets the site's scanning settings; a wait already running keeps the end it had.
#[utoipa::path(
    put, path = "/v1/site/settings", tag = "scans",
    request_body = SiteSettings,
    responses(
        (status = 200, description = "The settings as stored", body = SiteSettings),
        (status = 401, description = "No or bad API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("site_key" = []))
)]
pub(crate) async fn put_settings(
    State(state): State<IntakeState>,
    caller: SiteCaller,
    body: JsonBody<SiteSettings>,
) -> Result<Json<SiteSettings>, ApiError> {
    let minutes = body.value.reply_wait_minutes;
    if !(0..=MAX_REPLY_WAIT_MINUTES).contains(&minutes) {
        let mut errors = hybridpost_core::ValidationErrors::default();
        errors.add("reply_wait_minutes", format!("must be 0 to {MAX_REPLY_WAIT_MINUTES} (a week)"));
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.store.begin().await?;
    if !hybridpost_store::agencies::set_site_reply_wait(&mut tx, caller.site_id, minutes).await? {
        return Err(ApiError::NotFound("this key's site no longer exists".into()));
    }
    tx.commit().await?;
    tracing::info!(site.id = %caller.site_id, minutes, "site {} set its reply wait to {minutes} minutes", caller.site_id);
    Ok(Json(SiteSettings { reply_wait_minutes: minutes }))
}
