//! The notification outbox: e-mails and webhooks stored as rows in the same transaction as the
//! event that causes them, then claimed, delivered and retried by the notifier.
//!
//! - **Claiming**: a worker takes due rows with one conditional `update … returning` that sets a
//!   lease (`claimed_until`) and a fresh `claim_token`; on PostgreSQL the rows are chosen with
//!   `for update skip locked`, so workers on many nodes never take the same row, and a row whose
//!   worker died is taken again when its lease ends. SQLite has one writer, which serialises
//!   claims. Every later write about a row names the claim token, so a worker whose lease ran
//!   out cannot overwrite what the next one recorded.
//! - **Retries** are scheduled by the caller (the notifier decides backoff and give-up time);
//!   this module records each attempt and the outcome.
//! - **What a notification says** is not decided here: `hybridpost_notify` builds the rows
//!   (webhook bodies, e-mail template contexts) and its callers insert them with
//!   [`insert_notifications`] in the transaction that records the happening. The event feed
//!   stays the source of truth; webhooks are a push copy of it.

use hybridpost_core::{AgencyId, AgencyScope, EndpointId, EventKind, LetterId};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, StoreError, now_text, values_rows};

/// How a notification travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// An e-mail to an address.
    Email,
    /// A signed webhook to an agency's endpoint.
    Webhook,
}

impl NotificationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Email => "email",
            NotificationKind::Webhook => "webhook",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "email" => Ok(NotificationKind::Email),
            "webhook" => Ok(NotificationKind::Webhook),
            other => Err(StoreError::Corrupt(format!("notification kind {other:?}"))),
        }
    }
}

/// What a notification is for.
pub mod purpose {
    /// The e-mail notice of a digital letter, with its secure link.
    pub const DIGITAL_LETTER: &str = "digital_letter";
    /// An e-mail to the agency: a reply to one of its letters arrived.
    pub const REPLY_RECEIVED: &str = "reply_received";
    /// An e-mail to the agency: one of its letters came back undelivered.
    pub const LETTER_RETURNED: &str = "letter_returned";
    /// An e-mail to the agency listing notifications that failed.
    pub const FAILURE_DIGEST: &str = "failure_digest";
    /// A webhook carrying one event of the agency's feed.
    pub const EVENT: &str = "event";
    /// A test webhook an agency's admin sent from the console.
    pub const TEST: &str = "test";
}

/// A notification to store.
#[derive(Clone, Debug)]
pub struct NewNotification {
    /// E-mail or webhook.
    pub kind: NotificationKind,
    /// What it is for (see [`purpose`]).
    pub purpose: &'static str,
    /// The agency it concerns.
    pub agency_id: Option<AgencyId>,
    /// The letter it concerns.
    pub letter_id: Option<LetterId>,
    /// E-mail address, or webhook endpoint id.
    pub recipient: String,
    /// What to send, JSON text.
    pub payload: String,
}

/// Where a notification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationStatus {
    /// Waiting, or being delivered under a claim.
    Pending,
    /// Handed over (SMTP server accepted it, or the endpoint answered 2xx).
    Sent,
    /// Given up.
    Failed,
    /// Dropped before delivery: its letter was cancelled or its endpoint deleted.
    Cancelled,
}

impl NotificationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
            NotificationStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => NotificationStatus::Pending,
            "sent" => NotificationStatus::Sent,
            "failed" => NotificationStatus::Failed,
            "cancelled" => NotificationStatus::Cancelled,
            other => return Err(StoreError::Corrupt(format!("notification status {other:?}"))),
        })
    }
}

/// A stored notification.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// Its id: the Message-ID local part or the `webhook-id`.
    pub notification_id: String,
    /// E-mail or webhook.
    pub kind: NotificationKind,
    /// What it is for.
    pub purpose: String,
    /// The agency it concerns.
    pub agency_id: Option<AgencyId>,
    /// The letter it concerns.
    pub letter_id: Option<LetterId>,
    /// E-mail address or endpoint id.
    pub recipient: String,
    /// What to send, JSON text.
    pub payload: String,
    /// Where it is.
    pub status: NotificationStatus,
    /// Attempts so far (a claim counts as one).
    pub attempts: i64,
    /// Not before this time.
    pub next_attempt_at: String,
    /// The current claim, if any.
    pub claim_token: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was handed over.
    pub sent_at: Option<String>,
    /// When it was given up.
    pub failed_at: Option<String>,
    /// Whose fault a final failure was.
    pub fault: Option<String>,
    /// Whether a retry could help after a final failure.
    pub retryable: Option<bool>,
    /// When it was created.
    pub created_at: String,
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Its number, from 1.
    pub attempt: i64,
    /// When it started.
    pub started_at: String,
    /// `delivered`, `transient` or `permanent`.
    pub outcome: String,
    /// What went wrong.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

const COLUMNS: &str = "notification_id, kind, purpose, agency_id, letter_id, recipient, payload, status, attempts, \
                       next_attempt_at, claim_token, last_error, sent_at, failed_at, fault, retryable, created_at";

/// Stores notifications in one statement; returns their ids in order.
pub async fn insert_notifications(conn: &mut AnyConnection, items: &[NewNotification]) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(items.len());
    // 8 bound values a row (see crate::BOUND_VALUES_PER_STATEMENT).
    for chunk in items.chunks(crate::BOUND_VALUES_PER_STATEMENT / 8) {
        let now = now_text();
        let sql = format!(
            "insert into notification (notification_id, kind, purpose, agency_id, letter_id, recipient, payload, \
             status, attempts, next_attempt_at, created_at) values {}",
            values_rows("($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)", chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for n in chunk {
            let id = uuid::Uuid::now_v7().simple().to_string();
            q = q
                .bind(id.clone())
                .bind(n.kind.as_str())
                .bind(n.purpose)
                .bind(n.agency_id.map(|a| a.to_string()))
                .bind(n.letter_id.map(|l| l.to_string()))
                .bind(n.recipient.clone())
                .bind(n.payload.clone())
                .bind(now.clone());
            ids.push(id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(ids)
}

/// Claims up to `limit` due notifications for `token` until `lease_until`, counting the attempt.
/// Rows another worker holds are skipped (PostgreSQL: `for update skip locked`; SQLite: its
/// single writer runs one claim at a time).
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: &str,
    lease_until: &str,
    token: &str,
    limit: i64,
) -> Result<Vec<Notification>> {
    let lock = if conn.backend_name() == "PostgreSQL" { " for update skip locked" } else { "" };
    let sql = format!(
        "update notification set claimed_until = $1, claim_token = $2, attempts = attempts + 1 \
         where notification_id in (select notification_id from notification where status = 'pending' \
         and next_attempt_at <= $3 and (claimed_until is null or claimed_until <= $3) \
         order by next_attempt_at limit $4{lock}) returning {COLUMNS}"
    );
    let rows = sqlx::query(&sql).bind(lease_until).bind(token).bind(now).bind(limit).fetch_all(conn).await?;
    let mut claimed: Vec<Notification> = rows.iter().map(from_row).collect::<Result<_>>()?;
    claimed.sort_by(|a, b| a.next_attempt_at.cmp(&b.next_attempt_at));
    Ok(claimed)
}

/// Records one attempt's outcome.
pub async fn record_attempt(conn: &mut AnyConnection, notification_id: &str, attempt: &Attempt) -> Result<()> {
    sqlx::query(
        "insert into notification_attempt (notification_id, attempt, started_at, outcome, error, duration_ms, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (notification_id, attempt) do nothing",
    )
    .bind(notification_id)
    .bind(attempt.attempt)
    .bind(&attempt.started_at)
    .bind(&attempt.outcome)
    .bind(&attempt.error)
    .bind(attempt.duration_ms)
    .bind(now_text())
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a claimed notification sent. False when the claim was lost (another worker holds it,
/// or it is no longer pending).
pub async fn mark_sent(conn: &mut AnyConnection, notification_id: &str, token: &str, at: &str) -> Result<bool> {
    let n = sqlx::query(
        "update notification set status = 'sent', sent_at = $1, claimed_until = null, last_error = null \
         where notification_id = $2 and claim_token = $3 and status = 'pending'",
    )
    .bind(at)
    .bind(notification_id)
    .bind(token)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Puts a claimed notification back for another attempt at `next_attempt_at`.
pub async fn reschedule(
    conn: &mut AnyConnection,
    notification_id: &str,
    token: &str,
    next_attempt_at: &str,
    error: &str,
) -> Result<bool> {
    let n = sqlx::query(
        "update notification set next_attempt_at = $1, last_error = $2, claimed_until = null \
         where notification_id = $3 and claim_token = $4 and status = 'pending'",
    )
    .bind(next_attempt_at)
    .bind(error)
    .bind(notification_id)
    .bind(token)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Whose fault a final failure was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The recipient's side: a mailbox that does not exist, an endpoint that refuses or fails.
    Recipient,
    /// Our side: a message we could not build, a key we could not use, a server that refused us.
    Ours,
    /// The network between: connections refused, timeouts.
    Network,
}

impl Fault {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Recipient => "recipient",
            Fault::Ours => "ours",
            Fault::Network => "network",
        }
    }
}

/// Gives a claimed notification up.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    notification_id: &str,
    token: &str,
    at: &str,
    error: &str,
    fault: Fault,
    retryable: bool,
) -> Result<bool> {
    let n = sqlx::query(
        "update notification set status = 'failed', failed_at = $1, last_error = $2, fault = $3, retryable = $4, \
         claimed_until = null where notification_id = $5 and claim_token = $6 and status = 'pending'",
    )
    .bind(at)
    .bind(error)
    .bind(fault.as_str())
    .bind(i64::from(retryable))
    .bind(notification_id)
    .bind(token)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Drops a claimed notification that no longer has anything to deliver.
pub async fn mark_cancelled(conn: &mut AnyConnection, notification_id: &str, token: &str, why: &str) -> Result<bool> {
    let n = sqlx::query(
        "update notification set status = 'cancelled', last_error = $1, claimed_until = null \
         where notification_id = $2 and claim_token = $3 and status = 'pending'",
    )
    .bind(why)
    .bind(notification_id)
    .bind(token)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Reads a notification.
pub async fn get_notification(conn: &mut AnyConnection, notification_id: &str) -> Result<Option<Notification>> {
    let row = sqlx::query(&format!("select {COLUMNS} from notification where notification_id = $1"))
        .bind(notification_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A letter's notifications, oldest first.
pub async fn letter_notifications(conn: &mut AnyConnection, letter_id: LetterId) -> Result<Vec<Notification>> {
    let rows =
        sqlx::query(&format!("select {COLUMNS} from notification where letter_id = $1 order by notification_id"))
            .bind(letter_id.to_string())
            .fetch_all(conn)
            .await?;
    rows.iter().map(from_row).collect()
}

/// A notification's attempts, in order.
pub async fn attempts(conn: &mut AnyConnection, notification_id: &str) -> Result<Vec<Attempt>> {
    let rows = sqlx::query(
        "select attempt, started_at, outcome, error, duration_ms from notification_attempt \
         where notification_id = $1 order by attempt",
    )
    .bind(notification_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                attempt: r.try_get(0)?,
                started_at: r.try_get(1)?,
                outcome: r.try_get(2)?,
                error: r.try_get(3)?,
                duration_ms: r.try_get(4)?,
            })
        })
        .collect()
}

/// One delivery of a webhook, as the agency's admin follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The notification (the `webhook-id` the receiver saw).
    pub notification_id: String,
    /// What it carried: `event` or `test`.
    pub purpose: String,
    /// Where it is.
    pub status: NotificationStatus,
    /// Attempts so far.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When it was delivered.
    pub sent_at: Option<String>,
    /// How long the last attempt took, milliseconds.
    pub last_duration_ms: Option<i64>,
    /// The kind of event it carried (`letter.accepted`, `test`), from its payload.
    pub kind: Option<String>,
}

/// The latest `limit` webhooks to `endpoint_id`, newest first.
pub async fn recent_deliveries(conn: &mut AnyConnection, endpoint_id: EndpointId, limit: i64) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "select n.notification_id, n.purpose, n.status, n.attempts, n.last_error, n.created_at, n.sent_at, \
         (select a.duration_ms from notification_attempt a where a.notification_id = n.notification_id \
          order by a.attempt desc limit 1), n.payload \
         from notification n where n.recipient = $1 and n.kind = 'webhook' order by n.created_at desc limit $2",
    )
    .bind(endpoint_id.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get(2)?;
            let payload: String = r.try_get(8)?;
            let kind = serde_json::from_str::<serde_json::Value>(&payload)
                .ok()
                .and_then(|p| p.get("type").and_then(|t| t.as_str()).map(str::to_owned));
            Ok(Delivery {
                notification_id: r.try_get(0)?,
                purpose: r.try_get(1)?,
                status: NotificationStatus::parse(&status)?,
                attempts: r.try_get(3)?,
                last_error: r.try_get(4)?,
                created_at: r.try_get(5)?,
                sent_at: r.try_get(6)?,
                last_duration_ms: r.try_get(7)?,
                kind,
            })
        })
        .collect()
}

/// Notifications by status: (pending, sent, failed, cancelled).
pub async fn count_by_status(conn: &mut AnyConnection) -> Result<(i64, i64, i64, i64)> {
    let rows = sqlx::query("select status, count(*) from notification group by status").fetch_all(conn).await?;
    let mut counts = (0, 0, 0, 0);
    for r in rows {
        let n: i64 = r.try_get(1)?;
        match NotificationStatus::parse(&r.try_get::<String, _>(0)?)? {
            NotificationStatus::Pending => counts.0 = n,
            NotificationStatus::Sent => counts.1 = n,
            NotificationStatus::Failed => counts.2 = n,
            NotificationStatus::Cancelled => counts.3 = n,
        }
    }
    Ok(counts)
}

/// The earliest time a pending notification is due, if any is waiting.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<String>> {
    let row =
        sqlx::query("select min(next_attempt_at) from notification where status = 'pending'").fetch_one(conn).await?;
    Ok(row.try_get(0)?)
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Notification> {
    let agency_id: Option<String> = r.try_get("agency_id")?;
    let letter_id: Option<String> = r.try_get("letter_id")?;
    Ok(Notification {
        notification_id: r.try_get("notification_id")?,
        kind: NotificationKind::parse(&r.try_get::<String, _>("kind")?)?,
        purpose: r.try_get("purpose")?,
        agency_id: agency_id.as_deref().map(parse_id).transpose()?,
        letter_id: letter_id.as_deref().map(parse_id).transpose()?,
        recipient: r.try_get("recipient")?,
        payload: r.try_get("payload")?,
        status: NotificationStatus::parse(&r.try_get::<String, _>("status")?)?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        claim_token: r.try_get("claim_token")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get("sent_at")?,
        failed_at: r.try_get("failed_at")?,
        fault: r.try_get("fault")?,
        retryable: r.try_get::<Option<i64>, _>("retryable")?.map(|v| v != 0),
        created_at: r.try_get("created_at")?,
    })
}

// --- webhook endpoints --------------------------------------------------------------------

/// An agency's webhook endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub endpoint_id: EndpointId,
    /// The agency.
    pub agency_id: AgencyId,
    /// Registered with a test key: receives the events of test letters only (a live endpoint,
    /// live letters' only).
    pub test: bool,
    /// Where webhooks are posted.
    pub url: String,
    /// Event kinds to send; empty means all.
    pub events: Vec<EventKind>,
    /// The signing secret wrapped under the service secret.
    pub secret_wrapped: Vec<u8>,
    /// When it was registered.
    pub created_at: String,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("endpoint_id", &self.endpoint_id)
            .field("agency_id", &self.agency_id)
            .field("test", &self.test)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The associated data under which an endpoint's signing secret is wrapped with the service
/// secret: a wrapped secret copied to another endpoint's row does not unwrap.
pub fn webhook_secret_context(endpoint_id: EndpointId) -> String {
    format!("webhook-endpoint:{endpoint_id}")
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Stores an endpoint.
pub async fn insert_endpoint(conn: &mut AnyConnection, e: &WebhookEndpoint) -> Result<()> {
    use base64::Engine;
    sqlx::query(
        "insert into webhook_endpoint (endpoint_id, agency_id, url, events, secret_wrapped, created_at, test) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.endpoint_id.to_string())
    .bind(e.agency_id.to_string())
    .bind(&e.url)
    .bind(serde_json::to_string(&e.events).map_err(|err| StoreError::Invalid(err.to_string()))?)
    .bind(B64.encode(&e.secret_wrapped))
    .bind(&e.created_at)
    .bind(crate::flag(e.test))
    .execute(conn)
    .await
    .map_err(|err| crate::conflict_or(err, "webhook endpoint"))?;
    Ok(())
}

const ENDPOINT_COLUMNS: &str = "endpoint_id, agency_id, url, events, secret_wrapped, created_at, test";

/// The agency's endpoints (not deleted) of the caller's mode, oldest first.
pub async fn list_endpoints(conn: &mut AnyConnection, scope: AgencyScope) -> Result<Vec<WebhookEndpoint>> {
    let rows = sqlx::query(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoint where agency_id = $1 and test = $2 and deleted_at is null \
         order by created_at, endpoint_id"
    ))
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .fetch_all(conn)
    .await?;
    rows.iter().map(endpoint_from_row).collect()
}

/// The endpoints (not deleted, of both modes) of `agencies`, oldest first.
pub async fn endpoints_of(conn: &mut AnyConnection, agencies: &[AgencyId]) -> Result<Vec<WebhookEndpoint>> {
    let mut agencies: Vec<String> = agencies.iter().map(ToString::to_string).collect();
    agencies.sort();
    agencies.dedup();
    let mut endpoints = Vec::new();
    for chunk in agencies.chunks(500) {
        let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoint where deleted_at is null and agency_id in ({}) \
             order by created_at, endpoint_id",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q.bind(a.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            endpoints.push(endpoint_from_row(&row)?);
        }
    }
    Ok(endpoints)
}

/// A live endpoint by id, whichever agency owns it.
pub async fn get_endpoint(conn: &mut AnyConnection, endpoint_id: EndpointId) -> Result<Option<WebhookEndpoint>> {
    let row = sqlx::query(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoint where endpoint_id = $1 and deleted_at is null"
    ))
    .bind(endpoint_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(endpoint_from_row).transpose()
}

/// Deletes one of the agency's endpoints of the caller's mode; webhooks still queued for it are
/// dropped when their turn comes. False when the agency has no such endpoint in that mode.
pub async fn delete_endpoint(conn: &mut AnyConnection, scope: AgencyScope, endpoint_id: EndpointId) -> Result<bool> {
    let n = sqlx::query(
        "update webhook_endpoint set deleted_at = $1 \
         where endpoint_id = $2 and agency_id = $3 and test = $4 and deleted_at is null",
    )
    .bind(now_text())
    .bind(endpoint_id.to_string())
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

fn endpoint_from_row(r: &sqlx::any::AnyRow) -> Result<WebhookEndpoint> {
    use base64::Engine;
    let endpoint_id: EndpointId = parse_id(&r.try_get::<String, _>("endpoint_id")?)?;
    let events: String = r.try_get("events")?;
    let wrapped: String = r.try_get("secret_wrapped")?;
    Ok(WebhookEndpoint {
        agency_id: parse_id(&r.try_get::<String, _>("agency_id")?)?,
        test: r.try_get::<i64, _>("test")? != 0,
        url: r.try_get("url")?,
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Corrupt(format!("webhook endpoint {endpoint_id} events: {e}")))?,
        secret_wrapped: B64
            .decode(wrapped)
            .map_err(|e| StoreError::Corrupt(format!("webhook endpoint {endpoint_id} secret: {e}")))?,
        created_at: r.try_get("created_at")?,
        endpoint_id,
    })
}

// --- digital letters' links ---------------------------------------------------------------

/// A digital letter's secure link, as stored (the hash of its token, never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigitalLink {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// The letter.
    pub letter_id: LetterId,
    /// When the link stops working.
    pub expires_at: String,
    /// When it was first opened.
    pub opened_at: Option<String>,
}

/// Stores a letter's link; a letter keeps the first link it got (a resent notice carries the
/// same token, so nothing changes).
pub async fn insert_link(conn: &mut AnyConnection, link: &DigitalLink) -> Result<()> {
    sqlx::query(
        "insert into digital_link (token_hash, letter_id, expires_at, opened_at, created_at) \
         values ($1, $2, $3, null, $4) on conflict do nothing",
    )
    .bind(&link.token_hash)
    .bind(link.letter_id.to_string())
    .bind(&link.expires_at)
    .bind(now_text())
    .execute(conn)
    .await?;
    Ok(())
}

/// Finds a link by its token's hash.
pub async fn find_link(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<DigitalLink>> {
    let row =
        sqlx::query("select token_hash, letter_id, expires_at, opened_at from digital_link where token_hash = $1")
            .bind(token_hash)
            .fetch_optional(conn)
            .await?;
    row.map(|r| {
        Ok(DigitalLink {
            token_hash: r.try_get(0)?,
            letter_id: parse_id(&r.try_get::<String, _>(1)?)?,
            expires_at: r.try_get(2)?,
            opened_at: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Records the first opening of a link; false when it had been opened before.
pub async fn mark_link_opened(conn: &mut AnyConnection, token_hash: &str, at: &str) -> Result<bool> {
    let n = sqlx::query("update digital_link set opened_at = $1 where token_hash = $2 and opened_at is null")
        .bind(at)
        .bind(token_hash)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Live digital letters notified before `cutoff` and still not opened: (letter, agency).
pub async fn unopened_before(conn: &mut AnyConnection, cutoff: &str, limit: i64) -> Result<Vec<(LetterId, AgencyId)>> {
    let rows = sqlx::query(
        "select letter_id, agency_id from letter where status = 'notified' and updated_at < $1 \
         order by updated_at limit $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((parse_id(&r.try_get::<String, _>(0)?)?, parse_id(&r.try_get::<String, _>(1)?)?))).collect()
}

// --- digests of failures ------------------------------------------------------------------

/// Agencies with failed notifications not yet listed in a digest, whose last digest (if any)
/// was sent before `not_since`.
pub async fn agencies_due_for_digest(conn: &mut AnyConnection, not_since: &str) -> Result<Vec<AgencyId>> {
    let rows = sqlx::query(
        "select distinct n.agency_id from notification n left join notification_digest d on d.agency_id = n.agency_id \
         where n.status = 'failed' and n.digested_at is null and n.agency_id is not null \
         and n.purpose <> 'failure_digest' and (d.last_sent_at is null or d.last_sent_at < $1)",
    )
    .bind(not_since)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| parse_id(&r.try_get::<String, _>(0)?)).collect()
}

/// The agency's failed notifications not yet listed in a digest, oldest first.
pub async fn undigested_failures(
    conn: &mut AnyConnection,
    agency_id: AgencyId,
    limit: i64,
) -> Result<Vec<Notification>> {
    let rows = sqlx::query(&format!(
        "select {COLUMNS} from notification where agency_id = $1 and status = 'failed' and digested_at is null \
         and purpose <> 'failure_digest' order by failed_at, notification_id limit $2"
    ))
    .bind(agency_id.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Marks failures as listed in a digest sent `at`, and remembers when the agency got it.
pub async fn mark_digested(conn: &mut AnyConnection, agency_id: AgencyId, ids: &[String], at: &str) -> Result<()> {
    for id in ids {
        sqlx::query("update notification set digested_at = $1 where notification_id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "insert into notification_digest (agency_id, last_sent_at, created_at) values ($1, $2, $2) \
         on conflict (agency_id) do update set last_sent_at = excluded.last_sent_at",
    )
    .bind(agency_id.to_string())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
