//! The public verification service's rows: PIN attempts, which limit guessing per letter and
//! per client across every node, and the single-use tokens that confirm an e-mail address a
//! citizen left on the verification page.
//!
//! A PIN attempt is written *before* the PIN is checked and counted after, so that concurrent
//! attempts on several nodes cannot all slip under the limit: the k-th attempt to commit sees
//! at least k-1 others. Successful attempts are deleted; only failures (and attempts still
//! being checked) count.

use sqlx::{AnyConnection, Row};

use crate::{Result, StoreError, conflict_or};

/// A PIN attempt being checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinAttempt {
    /// Its id.
    pub pin_attempt_id: String,
    /// The letter whose PIN was tried.
    pub letter_id: String,
    /// Keyed hash of the client's IP address.
    pub client_hash: String,
    /// When it was made (stored time format).
    pub created_at: String,
}

/// Whose attempts to count.
#[derive(Clone, Copy, Debug)]
pub enum AttemptScope<'a> {
    /// Every client's attempts on one letter.
    Letter(&'a str),
    /// One client's attempts on every letter.
    Client(&'a str),
}

/// Records an attempt as pending (it counts until [`finish_pin_attempt`]).
pub async fn insert_pin_attempt(conn: &mut AnyConnection, attempt: &PinAttempt) -> Result<()> {
    sqlx::query(
        "insert into pin_attempt (pin_attempt_id, letter_id, client_hash, outcome, created_at) \
         values ($1, $2, $3, 'pending', $4)",
    )
    .bind(&attempt.pin_attempt_id)
    .bind(&attempt.letter_id)
    .bind(&attempt.client_hash)
    .bind(&attempt.created_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "pin attempt"))?;
    Ok(())
}

/// Times of up to `limit` attempts in `scope` made after `since`, other than `exclude`, newest
/// first.
pub async fn recent_pin_attempts(
    conn: &mut AnyConnection,
    scope: AttemptScope<'_>,
    since: &str,
    exclude: &str,
    limit: i64,
) -> Result<Vec<String>> {
    let (column, value) = match scope {
        AttemptScope::Letter(id) => ("letter_id", id),
        AttemptScope::Client(hash) => ("client_hash", hash),
    };
    let rows = sqlx::query(&format!(
        "select created_at from pin_attempt where {column} = $1 and created_at > $2 and pin_attempt_id <> $3 \
         order by created_at desc limit $4"
    ))
    .bind(value)
    .bind(since)
    .bind(exclude)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
}

/// Settles an attempt: a match is forgotten, a failure stays and counts until it ages out.
pub async fn finish_pin_attempt(conn: &mut AnyConnection, pin_attempt_id: &str, matched: bool) -> Result<()> {
    let sql = if matched {
        "delete from pin_attempt where pin_attempt_id = $1"
    } else {
        "update pin_attempt set outcome = 'failed' where pin_attempt_id = $1"
    };
    sqlx::query(sql).bind(pin_attempt_id).execute(conn).await?;
    Ok(())
}

/// Forgets an attempt that was refused before its PIN was checked.
pub async fn delete_pin_attempt(conn: &mut AnyConnection, pin_attempt_id: &str) -> Result<()> {
    sqlx::query("delete from pin_attempt where pin_attempt_id = $1").bind(pin_attempt_id).execute(conn).await?;
    Ok(())
}

/// Forgets attempts made before `cutoff` (housekeeping); returns how many.
pub async fn forget_pin_attempts_before(conn: &mut AnyConnection, cutoff: &str) -> Result<u64> {
    Ok(sqlx::query("delete from pin_attempt where created_at < $1").bind(cutoff).execute(conn).await?.rows_affected())
}

/// A pending e-mail opt-in, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct OptinToken {
    /// Keyed hash of the token in the link, hex.
    pub token_hash: String,
    /// The letter whose PIN was given.
    pub letter_id: String,
    /// The recipient's citizen id hash: whose e-channel the address becomes.
    pub citizen_id_hash: String,
    /// The address to register.
    pub email: String,
    /// When the link stops working.
    pub expires_at: String,
    /// When it was used.
    pub used_at: Option<String>,
    /// When it was made.
    pub created_at: String,
}

// The address is personal data: it stays out of Debug output and so out of logs.
impl std::fmt::Debug for OptinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptinToken")
            .field("letter_id", &self.letter_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

/// What became of a token presented for confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// It was valid and is now used.
    Taken(OptinToken),
    /// It was used before.
    AlreadyUsed,
    /// It expired unused.
    Expired,
    /// No token has this hash (never issued, or altered).
    Unknown,
}

/// Opt-in requests made from a letter since `since`: each sent an e-mail, so they are capped.
pub async fn count_optin_tokens(conn: &mut AnyConnection, letter_id: &str, since: &str) -> Result<i64> {
    Ok(sqlx::query("select count(*) from optin_token where letter_id = $1 and created_at >= $2")
        .bind(letter_id)
        .bind(since)
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// Stores a new opt-in token.
pub async fn insert_optin_token(conn: &mut AnyConnection, token: &OptinToken) -> Result<()> {
    sqlx::query(
        "insert into optin_token (token_hash, letter_id, citizen_id_hash, email, expires_at, used_at, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&token.token_hash)
    .bind(&token.letter_id)
    .bind(&token.citizen_id_hash)
    .bind(&token.email)
    .bind(&token.expires_at)
    .bind(&token.used_at)
    .bind(&token.created_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "opt-in token"))?;
    Ok(())
}

/// Uses the token with this hash at `now`, once: the update is conditional, so two
/// confirmations racing cannot both take it.
pub async fn take_optin_token(conn: &mut AnyConnection, token_hash: &str, now: &str) -> Result<TokenUse> {
    let mut token = match peek_optin_token(conn, token_hash, now).await? {
        TokenUse::Taken(token) => token,
        other => return Ok(other),
    };
    let changed = sqlx::query("update optin_token set used_at = $1 where token_hash = $2 and used_at is null")
        .bind(now)
        .bind(token_hash)
        .execute(conn)
        .await?
        .rows_affected();
    match changed {
        1 => {
            token.used_at = Some(now.to_owned());
            Ok(TokenUse::Taken(token))
        }
        0 => Ok(TokenUse::AlreadyUsed),
        n => Err(StoreError::Corrupt(format!("{n} opt-in tokens share one hash"))),
    }
}

/// What [`take_optin_token`] would find, without using the token: `Taken` means it may be used.
pub async fn peek_optin_token(conn: &mut AnyConnection, token_hash: &str, now: &str) -> Result<TokenUse> {
    let row = sqlx::query(
        "select token_hash, letter_id, citizen_id_hash, email, expires_at, used_at, created_at \
         from optin_token where token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(TokenUse::Unknown) };
    let token = OptinToken {
        token_hash: r.try_get("token_hash")?,
        letter_id: r.try_get("letter_id")?,
        citizen_id_hash: r.try_get("citizen_id_hash")?,
        email: r.try_get("email")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        created_at: r.try_get("created_at")?,
    };
    if token.used_at.is_some() {
        return Ok(TokenUse::AlreadyUsed);
    }
    if token.expires_at.as_str() <= now {
        return Ok(TokenUse::Expired);
    }
    Ok(TokenUse::Taken(token))
}

/// Forgets tokens that expired before `cutoff` (housekeeping); returns how many.
pub async fn forget_optin_tokens_before(conn: &mut AnyConnection, cutoff: &str) -> Result<u64> {
    Ok(sqlx::query("delete from optin_token where expires_at < $1").bind(cutoff).execute(conn).await?.rows_affected())
}
