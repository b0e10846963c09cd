//! The registry of citizens' verified e-channels, keyed by a keyed hash of the citizen id so
//! the table holds no citizen ids, and the citizens' requested changes of channel, which take
//! effect only after a cooling-off period (see migration 0008).

use hybridpost_core::LetterId;
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, now_text};

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

/// Removes the citizen's e-channel: their letters go on paper again. False when they had none.
pub async fn remove_channel(conn: &mut AnyConnection, citizen_id_hash: &str) -> Result<bool> {
    let n = sqlx::query("delete from e_channel where citizen_id_hash = $1")
        .bind(citizen_id_hash)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Where a requested change of channel stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    /// Confirmed from the e-mail address; waits out the cooling-off period.
    Pending,
    /// The address is the citizen's e-channel.
    Effective,
    /// Stopped with the code printed on the confirmation letter.
    Stopped,
    /// A newer request of the same citizen replaced it before it took effect.
    Superseded,
}

impl ChangeStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::Pending => "pending",
            ChangeStatus::Effective => "effective",
            ChangeStatus::Stopped => "stopped",
            ChangeStatus::Superseded => "superseded",
        }
    }

    fn parse(s: &str) -> Result<ChangeStatus> {
        [ChangeStatus::Pending, ChangeStatus::Effective, ChangeStatus::Stopped, ChangeStatus::Superseded]
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("channel change status {s:?}")))
    }
}

/// A citizen's request to receive letters by e-mail (see migration 0008).
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelChange {
    /// Its id (UUIDv7).
    pub change_id: String,
    /// Keyed hash of the citizen id of the letter's recipient.
    pub citizen_id_hash: String,
    /// The confirmed address.
    pub email: String,
    /// The letter whose PIN was used.
    pub letter_id: LetterId,
    /// The confirmation letter posted to the recipient's address.
    pub confirmation_letter_id: Option<LetterId>,
    /// Keyed hash of the stop code printed on the confirmation letter.
    pub stop_code_hash: String,
    /// Where it stands.
    pub status: ChangeStatus,
    /// When it takes (or took) effect.
    pub effective_at: String,
    /// When it took effect, was stopped or superseded.
    pub decided_at: Option<String>,
    /// When it was confirmed.
    pub created_at: String,
}

// The address stays out of logs.
impl std::fmt::Debug for ChannelChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelChange")
            .field("change_id", &self.change_id)
            .field("letter_id", &self.letter_id)
            .field("status", &self.status)
            .field("effective_at", &self.effective_at)
            .finish_non_exhaustive()
    }
}

const CHANGE_COLUMNS: &str = "change_id, citizen_id_hash, email, letter_id, confirmation_letter_id, stop_code_hash, \
                              status, effective_at, decided_at, created_at";

/// Stores a confirmed change; older pending changes of the same citizen are superseded, so
/// only the newest request can take effect.
pub async fn insert_change(conn: &mut AnyConnection, change: &ChannelChange) -> Result<()> {
    sqlx::query(
        "update channel_change set status = 'superseded', decided_at = $1 \
         where citizen_id_hash = $2 and status = 'pending'",
    )
    .bind(&change.created_at)
    .bind(&change.citizen_id_hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "insert into channel_change ({CHANGE_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&change.change_id)
    .bind(&change.citizen_id_hash)
    .bind(&change.email)
    .bind(change.letter_id.to_string())
    .bind(change.confirmation_letter_id.map(|l| l.to_string()))
    .bind(&change.stop_code_hash)
    .bind(change.status.as_str())
    .bind(&change.effective_at)
    .bind(&change.decided_at)
    .bind(&change.created_at)
    .execute(conn)
    .await
    .map_err(|e| crate::conflict_or(e, "channel change"))?;
    Ok(())
}

/// Pending changes whose cooling-off period has ended by `now`, oldest first.
pub async fn due_changes(conn: &mut AnyConnection, now: &str, limit: i64) -> Result<Vec<ChannelChange>> {
    let rows = sqlx::query(&format!(
        "select {CHANGE_COLUMNS} from channel_change where status = 'pending' and effective_at <= $1 \
         order by effective_at limit $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(change_from_row).collect()
}

/// The change whose stop code has this keyed hash.
pub async fn change_by_stop_code(conn: &mut AnyConnection, stop_code_hash: &str) -> Result<Option<ChannelChange>> {
    let row = sqlx::query(&format!("select {CHANGE_COLUMNS} from channel_change where stop_code_hash = $1"))
        .bind(stop_code_hash)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(change_from_row).transpose()
}

/// Moves a change from `from` to `to` at `at`; false when it was no longer in `from` (another
/// node decided it first).
pub async fn decide_change(
    conn: &mut AnyConnection,
    change_id: &str,
    from: ChangeStatus,
    to: ChangeStatus,
    at: &str,
) -> Result<bool> {
    let n = sqlx::query("update channel_change set status = $1, decided_at = $2 where change_id = $3 and status = $4")
        .bind(to.as_str())
        .bind(at)
        .bind(change_id)
        .bind(from.as_str())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// The citizen's verified address, if it is `email` (a stop after the change took effect
/// removes only the address that change registered).
pub async fn channel_is(conn: &mut AnyConnection, citizen_id_hash: &str, email: &str) -> Result<bool> {
    Ok(find_verified_email(conn, citizen_id_hash).await?.as_deref() == Some(email))
}

fn change_from_row(r: &sqlx::any::AnyRow) -> Result<ChannelChange> {
    let letter = |col: &str| -> Result<Option<LetterId>> {
        r.try_get::<Option<String>, _>(col)?.map(|s| parse_id(&s)).transpose()
    };
    Ok(ChannelChange {
        change_id: r.try_get("change_id")?,
        citizen_id_hash: r.try_get("citizen_id_hash")?,
        email: r.try_get("email")?,
        letter_id: letter("letter_id")?.ok_or_else(|| StoreError::Corrupt("channel change without letter".into()))?,
        confirmation_letter_id: letter("confirmation_letter_id")?,
        stop_code_hash: r.try_get("stop_code_hash")?,
        status: ChangeStatus::parse(&r.try_get::<String, _>("status")?)?,
        effective_at: r.try_get("effective_at")?,
        decided_at: r.try_get("decided_at")?,
        created_at: r.try_get("created_at")?,
    })
}
