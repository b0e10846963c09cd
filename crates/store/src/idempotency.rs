//! Idempotency records: the response to a request sent with an `Idempotency-Key`, so a repeat
//! gets the same answer and the same key with another body is refused.

use hybridpost_core::AgencyScope;
use sqlx::{AnyConnection, Row};

use crate::{Result, conflict_or};

/// A stored response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// SHA-256 of the canonical request body, hex.
    pub request_hash: String,
    /// HTTP status of the response.
    pub status_code: u16,
    /// Response body.
    pub response_body: String,
}

/// The record for this agency's key, if any.
pub async fn get(conn: &mut AnyConnection, scope: AgencyScope, key: &str) -> Result<Option<IdempotencyRecord>> {
    let row = sqlx::query(
        "select request_hash, status_code, response_body from idempotency_key \
         where agency_id = $1 and test = $2 and idempotency_key = $3",
    )
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(IdempotencyRecord {
            request_hash: r.try_get("request_hash")?,
            status_code: u16::try_from(r.try_get::<i64, _>("status_code")?).unwrap_or(500),
            response_body: r.try_get("response_body")?,
        })
    })
    .transpose()
}

/// Stores the record; a second record for the same key is a conflict (a concurrent repeat).
pub async fn insert(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    key: &str,
    record: &IdempotencyRecord,
    created_at: &str,
) -> Result<()> {
    sqlx::query(
        "insert into idempotency_key \
         (agency_id, idempotency_key, request_hash, status_code, response_body, created_at, test) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(scope.agency_id.to_string())
    .bind(key)
    .bind(&record.request_hash)
    .bind(i64::from(record.status_code))
    .bind(&record.response_body)
    .bind(created_at)
    .bind(crate::flag(scope.test))
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "idempotency key"))?;
    Ok(())
}

/// Deletes records created before `before` (they are kept 24 hours).
pub async fn delete_older_than(conn: &mut AnyConnection, before: &str) -> Result<u64> {
    Ok(sqlx::query("delete from idempotency_key where created_at < $1")
        .bind(before)
        .execute(conn)
        .await?
        .rows_affected())
}
