//! The registry of citizens' verified e-channels, keyed by a keyed hash of the citizen id so
//! the table holds no citizen ids.

use sqlx::{AnyConnection, Row};

use crate::{Result, now_text};

/// Records (or replaces) a citizen's verified e-mail address.
pub async fn upsert_verified_email(
    conn: &mut AnyConnection,
    citizen_id_hash: &str,
    email: &str,
    source: &str,
) -> Result<()> {
    let now = now_text();
    sqlx::query(
        "insert into e_channel (citizen_id_hash, email, verified_at, source, created_at) values ($1, $2, $3, $4, $3) \
         on conflict (citizen_id_hash) do update set email = excluded.email, verified_at = excluded.verified_at, \
         source = excluded.source",
    )
    .bind(citizen_id_hash)
    .bind(email)
    .bind(&now)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(())
}

/// The citizen's verified e-mail address, if they have one.
pub async fn find_verified_email(conn: &mut AnyConnection, citizen_id_hash: &str) -> Result<Option<String>> {
    let row = sqlx::query("select email from e_channel where citizen_id_hash = $1")
        .bind(citizen_id_hash)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("email")).transpose()?)
}
