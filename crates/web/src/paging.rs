//! Query strings of paged lists: `?cursor=…&limit=…`, read strictly, with one wording of their
//! errors for every API.

use axum::extract::Query;
use axum::http::Uri;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// The query of `uri` as `T` (unknown parameters refused when `T` says so), or a 400 naming
/// what is wrong.
pub fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|rejection| ApiError::BadRequest(format!("bad query: {}", rejection.body_text())))
}

/// A page's size: `limit` when given, from 1 to `max`, else `default`.
pub fn limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::BadRequest(format!("limit must be from 1 to {max}")))
    }
}

/// A cursor handed out by this API (an id), read back.
pub fn cursor<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<T>, ApiError> {
    cursor
        .map(|c| c.parse::<T>().map_err(|_| ApiError::BadRequest(format!("{c:?} is not a cursor from this API"))))
        .transpose()
}

/// The cursor of the page after `items` when the page is full, `None` on the last page.
pub fn next_cursor<T, C: ToString>(items: &[T], limit: i64, id: impl Fn(&T) -> C) -> Option<String> {
    (i64::try_from(items.len()).ok() == Some(limit)).then(|| items.last().map(|last| id(last).to_string())).flatten()
}
