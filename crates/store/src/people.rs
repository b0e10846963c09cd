//! People who sign in to the consoles, their sessions, failed sign-ins and the audit log.
//!
//! Secrets are stored hashed: passwords as argon2id PHC strings (hashed by the caller), session
//! tokens and one-time setup codes as SHA-256. A session lives in the database, so it works on
//! every node and ends on every node when it is signed out. The audit log is append-only: the
//! database refuses to change or delete its rows.

use hybridpost_core::{AgencyId, PersonId, PersonRole, SiteId, Workplace};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, conflict_or};

/// A person who signs in to a console.
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    /// Their id.
    pub person_id: PersonId,
    /// Their sign-in name, lower case.
    pub email: String,
    /// Their name as shown.
    pub name: String,
    /// Where they work.
    pub workplace: Workplace,
    /// What they may do there.
    pub role: PersonRole,
    /// argon2id PHC string; `None` until they set a password.
    pub password_hash: Option<String>,
    /// When they were disabled; a disabled person cannot sign in.
    pub disabled_at: Option<String>,
    /// Since when sign-in asks them for a one-time code from their authenticator app.
    pub totp_enabled_at: Option<String>,
    /// Who they are at the OpenID provider (`issuer sub`), once they have signed in through it.
    pub oidc_subject: Option<String>,
    /// When they were created.
    pub created_at: String,
    /// When they last changed.
    pub updated_at: String,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("person_id", &self.person_id)
            .field("email", &self.email)
            .field("workplace", &self.workplace)
            .field("role", &self.role)
            .field("disabled_at", &self.disabled_at)
            .field("totp_enabled_at", &self.totp_enabled_at)
            .field("oidc_subject", &self.oidc_subject)
            .finish_non_exhaustive()
    }
}

const PERSON_COLUMNS: &str = "person_id, email, name, site_id, agency_id, role, password_hash, disabled_at, \
     totp_enabled_at, oidc_subject, created_at, updated_at";

/// Stores a new person with a one-time setup code (its SHA-256, and when it stops working).
/// A taken e-mail address is a [`StoreError::Conflict`].
pub async fn insert_person(
    conn: &mut AnyConnection,
    person: &Person,
    setup_code_hash: &str,
    setup_expires_at: &str,
) -> Result<()> {
    person.workplace.check_role(person.role).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let (site, agency) = workplace_columns(person.workplace);
    sqlx::query(
        "insert into person (person_id, email, name, site_id, agency_id, role, password_hash, setup_code_hash, \
         setup_expires_at, disabled_at, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(person.person_id.to_string())
    .bind(&person.email)
    .bind(&person.name)
    .bind(site)
    .bind(agency)
    .bind(person.role.as_str())
    .bind(&person.password_hash)
    .bind(setup_code_hash)
    .bind(setup_expires_at)
    .bind(&person.disabled_at)
    .bind(&person.created_at)
    .bind(&person.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "a person with this e-mail address"))?;
    Ok(())
}

fn workplace_columns(workplace: Workplace) -> (Option<String>, Option<String>) {
    match workplace {
        Workplace::Site(s) => (Some(s.to_string()), None),
        Workplace::Agency(a) => (None, Some(a.to_string())),
    }
}

/// Reads a person.
pub async fn get_person(conn: &mut AnyConnection, person_id: PersonId) -> Result<Option<Person>> {
    let row = sqlx::query(&format!("select {PERSON_COLUMNS} from person where person_id = $1"))
        .bind(person_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(person_from_row).transpose()
}

/// Finds a person by sign-in name (any case).
pub async fn find_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<Person>> {
    let row = sqlx::query(&format!("select {PERSON_COLUMNS} from person where email = $1"))
        .bind(email.trim().to_lowercase())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(person_from_row).transpose()
}

/// The people of a workplace, by name.
pub async fn list_people(conn: &mut AnyConnection, workplace: Workplace) -> Result<Vec<Person>> {
    let (column, id) = match workplace {
        Workplace::Site(s) => ("site_id", s.to_string()),
        Workplace::Agency(a) => ("agency_id", a.to_string()),
    };
    let rows = sqlx::query(&format!("select {PERSON_COLUMNS} from person where {column} = $1 order by name, email"))
        .bind(id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(person_from_row).collect()
}

/// Uses a one-time setup code: the person it belongs to when it is known, unexpired and the
/// person is not disabled, and the code is spent (it works once).
pub async fn take_setup_code(conn: &mut AnyConnection, code_hash: &str, now: &str) -> Result<Option<Person>> {
    let row = sqlx::query(
        "update person set setup_code_hash = null, setup_expires_at = null, updated_at = $1 \
         where setup_code_hash = $2 and setup_expires_at > $1 and disabled_at is null returning person_id",
    )
    .bind(now)
    .bind(code_hash)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => get_person(conn, parse_id(&r.try_get::<String, _>(0)?)?).await,
        None => Ok(None),
    }
}

/// Whether a setup code is valid now, without spending it.
pub async fn setup_code_person(conn: &mut AnyConnection, code_hash: &str, now: &str) -> Result<Option<Person>> {
    let row = sqlx::query(&format!(
        "select {PERSON_COLUMNS} from person where setup_code_hash = $1 and setup_expires_at > $2 \
         and disabled_at is null"
    ))
    .bind(code_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(person_from_row).transpose()
}

/// Gives a person a new one-time setup code (a reset); their password stays until they use it.
pub async fn set_setup_code(
    conn: &mut AnyConnection,
    person_id: PersonId,
    code_hash: &str,
    expires_at: &str,
    now: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update person set setup_code_hash = $1, setup_expires_at = $2, updated_at = $3 where person_id = $4",
    )
    .bind(code_hash)
    .bind(expires_at)
    .bind(now)
    .bind(person_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Sets a person's password hash.
pub async fn set_password(conn: &mut AnyConnection, person_id: PersonId, hash: &str, now: &str) -> Result<bool> {
    let n = sqlx::query("update person set password_hash = $1, updated_at = $2 where person_id = $3")
        .bind(hash)
        .bind(now)
        .bind(person_id.to_string())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Disables a person (their sessions end) or enables them again.
pub async fn set_disabled(conn: &mut AnyConnection, person_id: PersonId, disabled: bool, now: &str) -> Result<bool> {
    let n = sqlx::query("update person set disabled_at = $1, updated_at = $2 where person_id = $3")
        .bind(disabled.then_some(now))
        .bind(now)
        .bind(person_id.to_string())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if disabled {
        end_sessions_of(conn, person_id, now).await?;
    }
    Ok(n == 1)
}

/// Changes a person's role (within their kind of workplace).
pub async fn set_role(conn: &mut AnyConnection, person: &Person, role: PersonRole, now: &str) -> Result<bool> {
    person.workplace.check_role(role).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let n = sqlx::query("update person set role = $1, updated_at = $2 where person_id = $3")
        .bind(role.as_str())
        .bind(now)
        .bind(person.person_id.to_string())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

// --- the second step and the OpenID provider ------------------------------------------------

/// A person's authenticator secret (base32) and the last time step whose code was accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret {
    /// The shared secret, base32.
    pub secret: String,
    /// Whether the person has confirmed it with a code (only then is it asked at sign-in).
    pub enabled: bool,
    /// The last time step accepted; a code for it or an earlier one is refused.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecret").field("enabled", &self.enabled).finish_non_exhaustive()
    }
}

/// A person's authenticator secret, if they have one (set up or being set up).
pub async fn totp_secret(conn: &mut AnyConnection, person_id: PersonId) -> Result<Option<TotpSecret>> {
    let row = sqlx::query("select totp_secret, totp_enabled_at, totp_last_step from person where person_id = $1")
        .bind(person_id.to_string())
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let Some(secret) = r.try_get::<Option<String>, _>("totp_secret")? else { return Ok(None) };
    Ok(Some(TotpSecret {
        secret,
        enabled: r.try_get::<Option<String>, _>("totp_enabled_at")?.is_some(),
        last_step: r.try_get("totp_last_step")?,
    }))
}

/// Starts setting up an authenticator: a new secret, not yet asked at sign-in. Refused (false)
/// when one is already on: it must be turned off first.
pub async fn begin_totp(conn: &mut AnyConnection, person_id: PersonId, secret: &str, now: &str) -> Result<bool> {
    let n = sqlx::query(
        "update person set totp_secret = $1, totp_enabled_at = null, totp_last_step = null, updated_at = $2 \
         where person_id = $3 and totp_enabled_at is null",
    )
    .bind(secret)
    .bind(now)
    .bind(person_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Turns the authenticator on, with the step of the code that confirmed it (spent).
pub async fn enable_totp(conn: &mut AnyConnection, person_id: PersonId, step: i64, now: &str) -> Result<bool> {
    let n = sqlx::query(
        "update person set totp_enabled_at = $1, totp_last_step = $2, updated_at = $1 \
         where person_id = $3 and totp_secret is not null and totp_enabled_at is null",
    )
    .bind(now)
    .bind(step)
    .bind(person_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Turns the authenticator off and forgets its secret.
pub async fn disable_totp(conn: &mut AnyConnection, person_id: PersonId, now: &str) -> Result<bool> {
    let n = sqlx::query(
        "update person set totp_secret = null, totp_enabled_at = null, totp_last_step = null, updated_at = $1 \
         where person_id = $2 and totp_secret is not null",
    )
    .bind(now)
    .bind(person_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Spends time step `step`: true when it is later than every step accepted before, so a code
/// works once even when two nodes check it at the same moment.
pub async fn spend_totp_step(conn: &mut AnyConnection, person_id: PersonId, step: i64) -> Result<bool> {
    let n = sqlx::query(
        "update person set totp_last_step = $1 where person_id = $2 and totp_enabled_at is not null \
         and (totp_last_step is null or totp_last_step < $1)",
    )
    .bind(step)
    .bind(person_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Stores a half-done sign-in (password right, code to come) until `expires_at`; older ones of
/// the same person, and every expired one, are dropped.
pub async fn insert_signin_challenge(
    conn: &mut AnyConnection,
    token_hash: &str,
    person_id: PersonId,
    now: &str,
    expires_at: &str,
) -> Result<()> {
    sqlx::query("delete from signin_challenge where person_id = $1 or expires_at <= $2")
        .bind(person_id.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("insert into signin_challenge (token_hash, person_id, created_at, expires_at) values ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(person_id.to_string())
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The person of a live half-done sign-in, if it is unexpired and the person not disabled.
pub async fn signin_challenge_person(conn: &mut AnyConnection, token_hash: &str, now: &str) -> Result<Option<Person>> {
    let columns: Vec<String> = PERSON_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect();
    let row = sqlx::query(&format!(
        "select {} from signin_challenge c join person p on p.person_id = c.person_id \
         where c.token_hash = $1 and c.expires_at > $2 and p.disabled_at is null",
        columns.join(", ")
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(person_from_row).transpose()
}

/// Ends a half-done sign-in (finished, or given up after too many wrong codes).
pub async fn end_signin_challenge(conn: &mut AnyConnection, token_hash: &str) -> Result<()> {
    sqlx::query("delete from signin_challenge where token_hash = $1").bind(token_hash).execute(conn).await?;
    Ok(())
}

/// An OpenID Connect sign-in on its way to the provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcAttempt {
    /// SHA-256 of the `state` sent, hex.
    pub state_hash: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
}

impl std::fmt::Debug for OidcAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcAttempt").field("state_hash", &self.state_hash).finish_non_exhaustive()
    }
}

/// Stores an attempt until `expires_at`, dropping expired ones.
pub async fn insert_oidc_attempt(conn: &mut AnyConnection, a: &OidcAttempt, now: &str, expires_at: &str) -> Result<()> {
    sqlx::query("delete from oidc_attempt where expires_at <= $1").bind(now).execute(&mut *conn).await?;
    sqlx::query(
        "insert into oidc_attempt (state_hash, pkce_verifier, nonce, created_at, expires_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(&a.state_hash)
    .bind(&a.pkce_verifier)
    .bind(&a.nonce)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the unexpired attempt with this state (it works once).
pub async fn take_oidc_attempt(conn: &mut AnyConnection, state_hash: &str, now: &str) -> Result<Option<OidcAttempt>> {
    let row = sqlx::query(
        "delete from oidc_attempt where state_hash = $1 and expires_at > $2 returning pkce_verifier, nonce",
    )
    .bind(state_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(OidcAttempt {
        state_hash: state_hash.to_owned(),
        pkce_verifier: r.try_get("pkce_verifier")?,
        nonce: r.try_get("nonce")?,
    }))
}

/// The person the OpenID provider knows as `subject` (`issuer sub`).
pub async fn find_by_oidc_subject(conn: &mut AnyConnection, subject: &str) -> Result<Option<Person>> {
    let row = sqlx::query(&format!("select {PERSON_COLUMNS} from person where oidc_subject = $1"))
        .bind(subject)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(person_from_row).transpose()
}

/// Remembers who the person is at the OpenID provider; false when they are already linked
/// (to this subject or another).
pub async fn link_oidc_subject(
    conn: &mut AnyConnection,
    person_id: PersonId,
    subject: &str,
    now: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update person set oidc_subject = $1, updated_at = $2 where person_id = $3 and oidc_subject is null",
    )
    .bind(subject)
    .bind(now)
    .bind(person_id.to_string())
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "a person linked to this OpenID account"))?
    .rows_affected();
    Ok(n == 1)
}

fn person_from_row(r: &sqlx::any::AnyRow) -> Result<Person> {
    let person_id: PersonId = parse_id(&r.try_get::<String, _>("person_id")?)?;
    let site: Option<String> = r.try_get("site_id")?;
    let agency: Option<String> = r.try_get("agency_id")?;
    let workplace = match (site, agency) {
        (Some(s), None) => Workplace::Site(parse_id::<SiteId>(&s)?),
        (None, Some(a)) => Workplace::Agency(parse_id::<AgencyId>(&a)?),
        _ => return Err(StoreError::Corrupt(format!("person {person_id} has no single workplace"))),
    };
    Ok(Person {
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        workplace,
        role: r.try_get::<String, _>("role")?.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        password_hash: r.try_get("password_hash")?,
        disabled_at: r.try_get("disabled_at")?,
        totp_enabled_at: r.try_get("totp_enabled_at")?,
        oidc_subject: r.try_get("oidc_subject")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        person_id,
    })
}

// --- sessions ------------------------------------------------------------------------------

/// A signed-in browser.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie's token, hex.
    pub token_hash: String,
    /// Who.
    pub person_id: PersonId,
    /// The session's form token (CSRF).
    pub csrf_token: String,
    /// When it began.
    pub created_at: String,
    /// When it was last used.
    pub last_seen_at: String,
    /// When it ends whatever happens.
    pub expires_at: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("person_id", &self.person_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Stores a new session.
pub async fn insert_session(conn: &mut AnyConnection, s: &Session, client: Option<&str>) -> Result<()> {
    sqlx::query(
        "insert into person_session (token_hash, person_id, csrf_token, created_at, last_seen_at, expires_at, client) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.token_hash)
    .bind(s.person_id.to_string())
    .bind(&s.csrf_token)
    .bind(&s.created_at)
    .bind(&s.last_seen_at)
    .bind(&s.expires_at)
    .bind(client)
    .execute(conn)
    .await?;
    Ok(())
}

/// The live session with this token hash and its person: not ended, not past `now` (absolute
/// expiry), used since `idle_since` (idle expiry), its person not disabled.
pub async fn live_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: &str,
    idle_since: &str,
) -> Result<Option<(Session, Person)>> {
    let columns: Vec<String> = PERSON_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect();
    let row = sqlx::query(&format!(
        "select s.token_hash, s.csrf_token, s.created_at as session_created_at, s.last_seen_at, s.expires_at, {} \
         from person_session s join person p on p.person_id = s.person_id \
         where s.token_hash = $1 and s.ended_at is null and s.expires_at > $2 and s.last_seen_at > $3 \
         and p.disabled_at is null",
        columns.join(", ")
    ))
    .bind(token_hash)
    .bind(now)
    .bind(idle_since)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let person = person_from_row(&r)?;
    let session = Session {
        token_hash: r.try_get("token_hash")?,
        person_id: person.person_id,
        csrf_token: r.try_get("csrf_token")?,
        created_at: r.try_get("session_created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
    };
    Ok(Some((session, person)))
}

/// Records that a session was used at `now`.
pub async fn touch_session(conn: &mut AnyConnection, token_hash: &str, now: &str) -> Result<()> {
    sqlx::query("update person_session set last_seen_at = $1 where token_hash = $2 and ended_at is null")
        .bind(now)
        .bind(token_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a session (sign-out). False when it had already ended.
pub async fn end_session(conn: &mut AnyConnection, token_hash: &str, now: &str) -> Result<bool> {
    let n = sqlx::query("update person_session set ended_at = $1 where token_hash = $2 and ended_at is null")
        .bind(now)
        .bind(token_hash)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Ends every session of a person. Returns how many were live.
pub async fn end_sessions_of(conn: &mut AnyConnection, person_id: PersonId, now: &str) -> Result<u64> {
    Ok(sqlx::query("update person_session set ended_at = $1 where person_id = $2 and ended_at is null")
        .bind(now)
        .bind(person_id.to_string())
        .execute(conn)
        .await?
        .rows_affected())
}

// --- throttling sign-in --------------------------------------------------------------------

/// Records a failed sign-in under each of `keys` (the account and the client address).
pub async fn record_signin_failure(conn: &mut AnyConnection, keys: &[String], at: &str) -> Result<()> {
    for key in keys {
        sqlx::query("insert into signin_failure (throttle_key, at) values ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Failed sign-ins under `key` since `since`.
pub async fn signin_failures_since(conn: &mut AnyConnection, key: &str, since: &str) -> Result<i64> {
    Ok(sqlx::query("select count(*) from signin_failure where throttle_key = $1 and at > $2")
        .bind(key)
        .bind(since)
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// Forgets the failures under `key` (after a successful sign-in) and every failure older than
/// `before`.
pub async fn clear_signin_failures(conn: &mut AnyConnection, key: &str, before: &str) -> Result<()> {
    sqlx::query("delete from signin_failure where throttle_key = $1 or at < $2")
        .bind(key)
        .bind(before)
        .execute(conn)
        .await?;
    Ok(())
}

// --- the audit log -------------------------------------------------------------------------

/// An action to record in the audit log.
#[derive(Clone, Debug)]
pub struct NewAudit {
    /// Who did it (none for a failed sign-in by an unknown name).
    pub person_id: Option<PersonId>,
    /// Whose log it goes in.
    pub workplace: Option<Workplace>,
    /// What was done: `signin`, `signout`, `batch.close`, `page.assign`, `person.create`, …
    pub action: String,
    /// To what (a batch id, a page id, a person's e-mail address).
    pub target: Option<String>,
    /// More, as JSON (never a secret).
    pub detail: Option<serde_json::Value>,
    /// From where (the client address).
    pub client: Option<String>,
    /// The request.
    pub request_id: Option<String>,
}

/// A recorded action.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Position in the log.
    pub audit_id: i64,
    /// When.
    pub at: String,
    /// Who.
    pub person_id: Option<PersonId>,
    /// What.
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// More.
    pub detail: Option<serde_json::Value>,
    /// From where.
    pub client: Option<String>,
    /// The request.
    pub request_id: Option<String>,
}

/// Appends an action to the audit log, at `at`.
pub async fn append_audit(conn: &mut AnyConnection, a: &NewAudit, at: &str) -> Result<()> {
    let (site, agency) = a.workplace.map_or((None, None), workplace_columns);
    sqlx::query(
        "insert into audit_event (at, person_id, site_id, agency_id, action, target, detail, client, request_id) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(at)
    .bind(a.person_id.map(|p| p.to_string()))
    .bind(site)
    .bind(agency)
    .bind(&a.action)
    .bind(&a.target)
    .bind(a.detail.as_ref().map(|d| d.to_string()))
    .bind(&a.client)
    .bind(&a.request_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a person's step (`audit`, from a console; `None` for an API key's) about `target`,
/// in the step's own transaction: the step and its line commit together or not at all.
pub async fn append_step_audit(conn: &mut AnyConnection, audit: Option<&NewAudit>, target: &str) -> Result<()> {
    match audit {
        Some(a) => {
            let line = NewAudit { target: Some(target.to_owned()), ..a.clone() };
            append_audit(conn, &line, &crate::now_text()).await
        }
        None => Ok(()),
    }
}

/// A workplace's audit log, newest first, before `before` (an `audit_id`) when given.
pub async fn list_audit(
    conn: &mut AnyConnection,
    workplace: Workplace,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRecord>> {
    let (column, id) = match workplace {
        Workplace::Site(s) => ("site_id", s.to_string()),
        Workplace::Agency(a) => ("agency_id", a.to_string()),
    };
    let rows = sqlx::query(&format!(
        "select audit_id, at, person_id, action, target, detail, client, request_id from audit_event \
         where {column} = $1 and audit_id < $2 order by audit_id desc limit $3"
    ))
    .bind(id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let person: Option<String> = r.try_get("person_id")?;
            let detail: Option<String> = r.try_get("detail")?;
            Ok(AuditRecord {
                audit_id: r.try_get("audit_id")?,
                at: r.try_get("at")?,
                person_id: person.as_deref().map(parse_id).transpose()?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                detail: detail
                    .map(|d| serde_json::from_str(&d))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
                client: r.try_get("client")?,
                request_id: r.try_get("request_id")?,
            })
        })
        .collect()
}

// --- what a site's day looks like ----------------------------------------------------------

/// The counts on a print site's Today page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteToday {
    /// Live letters waiting for print at this site.
    pub waiting: i64,
    /// The site's batches by state.
    pub batches: Vec<(hybridpost_core::BatchStatus, i64)>,
    /// Pages waiting in the site's review queue.
    pub review: i64,
    /// Returned letters' pages scanned at the site since the given time.
    pub returned: i64,
}

/// The Today counts of `site` (one of `sites`, which decide which site serves a postcode):
/// returns counted since `since`.
pub async fn site_today(
    conn: &mut AnyConnection,
    site: &crate::agencies::Site,
    sites: &[crate::agencies::Site],
    since: &str,
) -> Result<SiteToday> {
    // A thousand postcodes or so are ever waiting: grouped by postcode, routed here.
    let rows = sqlx::query(
        "select postcode, count(*) from letter where status = 'queued_for_print' and test = 0 group by postcode",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut today = SiteToday::default();
    for r in &rows {
        let postcode: String = r.try_get(0)?;
        if crate::agencies::site_for_postcode(sites, &postcode).is_some_and(|s| s.site_id == site.site_id) {
            today.waiting += r.try_get::<i64, _>(1)?;
        }
    }
    let rows = sqlx::query("select status, count(*) from print_batch where site_id = $1 group by status")
        .bind(site.site_id.to_string())
        .fetch_all(&mut *conn)
        .await?;
    for r in &rows {
        let status = r.try_get::<String, _>(0)?.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?;
        today.batches.push((status, r.try_get(1)?));
    }
    today.batches.sort();
    today.review = sqlx::query(
        "select count(*) from scan_page p join scan_batch b on b.scan_id = p.scan_id \
         where p.outcome = 'review' and b.site_id = $1",
    )
    .bind(site.site_id.to_string())
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    today.returned = sqlx::query(
        "select count(*) from scan_page p join scan_batch b on b.scan_id = p.scan_id \
         where p.outcome = 'returned' and b.site_id = $1 and b.created_at >= $2",
    )
    .bind(site.site_id.to_string())
    .bind(since)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    Ok(today)
}
