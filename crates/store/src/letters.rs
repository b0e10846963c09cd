//! Letters: their record, the agency-scoped reads, and status changes with their events.

use base64::Engine;
use hybridpost_core::{
    AgencyId, AgencyScope, Channel, ChannelReason, DocumentId, LetterId, LetterStatus, NewLetter, TransitionError,
};
use serde::Deserialize;
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::events::{NewEvent, Recorded, append_event};
use crate::{Result, StoreError, conflict_or, flag, now_text, placeholder_row, values_rows};

/// A letter as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct LetterRecord {
    /// Its id.
    pub letter_id: LetterId,
    /// The sending agency.
    pub agency_id: AgencyId,
    /// The agency's reference.
    pub reference: String,
    /// Where it is in its life.
    pub status: LetterStatus,
    /// How it is delivered.
    pub channel: Channel,
    /// Why that channel.
    pub channel_reason: ChannelReason,
    /// Sent with a test key: rendered, never printed or sent.
    pub test: bool,
    /// The recipient's postcode (print sites are chosen by its prefix).
    pub postcode: String,
    /// Keyed hash of the recipient's citizen id.
    pub citizen_id_hash: Option<String>,
    /// Reply deadline, `YYYY-MM-DD`.
    pub reply_deadline: Option<String>,
    /// The letter as submitted, JSON.
    pub content: serde_json::Value,
    /// When it was accepted.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Its verification seal; letters accepted before seals existed have none.
    pub seal: Option<LetterSeal>,
    /// Why it was withdrawn (`cancelled`, `superseded`, `reported_lost`), and when.
    pub withdrawn: Option<(String, String)>,
}

/// A letter's seal and what goes with it.
#[derive(Clone, PartialEq, Eq)]
pub struct LetterSeal {
    /// The random reference in the seal, unpadded base32 (also printed on the letter).
    pub reference: String,
    /// The COSE_Sign1 bytes.
    pub seal: Vec<u8>,
    /// The date printed and sealed, `YYYY-MM-DD`.
    pub issue_date: String,
    /// Keyed hash of the PIN, hex.
    pub pin_hash: String,
    /// The PIN wrapped under the service secret, for printing.
    pub pin_wrapped: Vec<u8>,
}

impl LetterRecord {
    /// The agency and mode the letter belongs to.
    pub fn scope(&self) -> AgencyScope {
        AgencyScope { agency_id: self.agency_id, test: self.test }
    }

    /// The letter as the agency submitted it.
    pub fn letter(&self) -> Result<NewLetter> {
        NewLetter::deserialize(&self.content)
            .map_err(|e| StoreError::Corrupt(format!("letter {} content: {e}", self.letter_id)))
    }

    /// The agency's own PDF the letter carries, when it was sent as one.
    pub fn document_id(&self) -> Result<Option<DocumentId>> {
        self.text_field("/document_id")
            .map(|id| {
                id.parse().map_err(|_| StoreError::Corrupt(format!("letter {} document id {id:?}", self.letter_id)))
            })
            .transpose()
    }

    /// The agency PDFs the letter is made of: its own PDF (`document_id`), then its
    /// enclosures' PDFs in the order listed.
    pub fn document_ids(&self) -> Result<Vec<DocumentId>> {
        let letter = self.letter()?;
        letter
            .document_ids()
            .into_iter()
            .map(|id| {
                id.parse().map_err(|_| StoreError::Corrupt(format!("letter {} document id {id:?}", self.letter_id)))
            })
            .collect()
    }

    /// The recipient's name as submitted (for greetings; never logged).
    pub fn recipient_name(&self) -> &str {
        self.text_field("/recipient/name").unwrap_or_default()
    }

    /// The letter's subject.
    pub fn subject(&self) -> &str {
        self.text_field("/subject").unwrap_or_default()
    }

    /// Its print priority, from the urgency it was sent with (0 without; see
    /// [`hybridpost_core::Urgency::priority`]).
    pub fn priority(&self) -> i64 {
        self.content
            .get("urgency")
            .and_then(|u| hybridpost_core::Urgency::deserialize(u).ok())
            .map_or(0, |u| u.priority())
    }

    // The content's fields, read in one place; `NewLetter` names them.
    fn text_field(&self, pointer: &str) -> Option<&str> {
        self.content.pointer(pointer).and_then(serde_json::Value::as_str)
    }
}

impl std::fmt::Debug for LetterSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LetterSeal")
            .field("reference", &self.reference)
            .field("issue_date", &self.issue_date)
            .finish_non_exhaustive()
    }
}

/// Why a status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TransitionFailure {
    /// The status machine does not allow it.
    #[error(transparent)]
    NotAllowed(#[from] TransitionError),
    /// No such letter.
    #[error("no such letter")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) const COLUMNS: &str = "letter_id, agency_id, reference, status, channel, channel_reason, test, postcode, \
                       citizen_id_hash, reply_deadline, content, created_at, updated_at, seal_reference, seal, \
                       issue_date, pin_hash, pin_wrapped, withdrawn_reason, withdrawn_at";

/// Stores a new letter (its events are appended separately, in the same transaction).
pub async fn insert_letter(conn: &mut AnyConnection, l: &LetterRecord) -> Result<()> {
    insert_letters(conn, std::slice::from_ref(l)).await
}

/// Stores new letters in one statement.
pub async fn insert_letters(conn: &mut AnyConnection, letters: &[LetterRecord]) -> Result<()> {
    if letters.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "insert into letter ({COLUMNS}, search_name, priority) values {}",
        values_rows(&placeholder_row(22), letters.len())
    );
    let mut query = sqlx::query(&sql);
    for l in letters {
        query = bind_letter(query, l);
    }
    query.execute(conn).await.map_err(|e| conflict_or(e, "letter"))?;
    Ok(())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_letter<'q>(query: AnyQuery<'q>, l: &LetterRecord) -> AnyQuery<'q> {
    query
        .bind(l.letter_id.to_string())
        .bind(l.agency_id.to_string())
        .bind(l.reference.clone())
        .bind(l.status.as_str())
        .bind(l.channel.as_str())
        .bind(l.channel_reason.as_str())
        .bind(flag(l.test))
        .bind(l.postcode.clone())
        .bind(l.citizen_id_hash.clone())
        .bind(l.reply_deadline.clone())
        .bind(l.content.to_string())
        .bind(l.created_at.clone())
        .bind(l.updated_at.clone())
        .bind(l.seal.as_ref().map(|s| s.reference.clone()))
        .bind(l.seal.as_ref().map(|s| B64.encode(&s.seal)))
        .bind(l.seal.as_ref().map(|s| s.issue_date.clone()))
        .bind(l.seal.as_ref().map(|s| s.pin_hash.clone()))
        .bind(l.seal.as_ref().map(|s| B64.encode(&s.pin_wrapped)))
        .bind(l.withdrawn.as_ref().map(|w| w.0.clone()))
        .bind(l.withdrawn.as_ref().map(|w| w.1.clone()))
        .bind(search_text(l.recipient_name()))
        .bind(l.priority())
}

/// Text as the letter search compares it: trimmed, lower case.
pub fn search_text(text: &str) -> String {
    text.trim().to_lowercase()
}

/// What the agency console's letter list is narrowed by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LetterSearch {
    /// The start of the agency's reference, or of the recipient's name.
    pub text: Option<String>,
    /// Only letters in this status.
    pub status: Option<LetterStatus>,
    /// Only letters going by this channel.
    pub channel: Option<Channel>,
    /// Only letters accepted at or after this time (RFC 3339, UTC).
    pub created_from: Option<String>,
    /// Only letters accepted before this time.
    pub created_before: Option<String>,
}

/// A page of the agency's letters in the caller's mode that match `search`, newest first, older
/// than `before` when given.
pub async fn search_letters(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    search: &LetterSearch,
    before: Option<LetterId>,
    limit: i64,
) -> Result<Vec<LetterRecord>> {
    let mut sql = format!("select {COLUMNS} from letter where agency_id = $1 and test = $2");
    let mut binds: Vec<String> = vec![scope.agency_id.to_string()];
    let next = |binds: &mut Vec<String>, value: String| {
        binds.push(value);
        // $1 is the agency, $2 the mode (bound apart, as a number).
        format!("${}", binds.len() + 1)
    };
    if let Some(text) = search.text.as_deref().map(search_text).filter(|t| !t.is_empty()) {
        // The start of the reference (as typed) or of the name (lower case), each answered from
        // its own index: a prefix LIKE on PostgreSQL (`text_pattern_ops`), a range on SQLite,
        // whose LIKE ignores case and so no index.
        let typed = search.text.as_deref().unwrap_or_default().trim().to_owned();
        if conn.backend_name() == "PostgreSQL" {
            let like = |t: &str| format!("{}%", t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let reference = next(&mut binds, like(&typed));
            let name = next(&mut binds, like(&text));
            sql.push_str(&format!(
                " and (reference like {reference} escape '\\' or search_name like {name} escape '\\')"
            ));
        } else {
            let (r_from, r_to) = (next(&mut binds, typed.clone()), next(&mut binds, format!("{typed}\u{10FFFF}")));
            let (n_from, n_to) = (next(&mut binds, text.clone()), next(&mut binds, format!("{text}\u{10FFFF}")));
            sql.push_str(&format!(
                " and ((reference >= {r_from} and reference < {r_to}) or (search_name >= {n_from} and search_name < {n_to}))"
            ));
        }
    }
    if let Some(status) = search.status {
        sql.push_str(&format!(" and status = {}", next(&mut binds, status.as_str().to_owned())));
    }
    if let Some(channel) = search.channel {
        sql.push_str(&format!(" and channel = {}", next(&mut binds, channel.as_str().to_owned())));
    }
    if let Some(from) = &search.created_from {
        sql.push_str(&format!(" and created_at >= {}", next(&mut binds, from.clone())));
    }
    if let Some(until) = &search.created_before {
        sql.push_str(&format!(" and created_at < {}", next(&mut binds, until.clone())));
    }
    if let Some(before) = before {
        sql.push_str(&format!(" and letter_id < {}", next(&mut binds, before.to_string())));
    }
    sql.push_str(&format!(" order by letter_id desc limit {}", limit.clamp(1, 1000)));
    let mut q = sqlx::query(&sql).bind(binds[0].clone()).bind(flag(scope.test));
    for value in &binds[1..] {
        q = q.bind(value.clone());
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Finds a letter by the random reference in its seal, whichever agency sent it. For the public
/// verification page: the caller shows only what the seal already says and the status.
pub async fn find_by_seal_reference(conn: &mut AnyConnection, reference: &str) -> Result<Option<LetterRecord>> {
    let row = sqlx::query(&format!("select {COLUMNS} from letter where seal_reference = $1"))
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Reads a letter by id whichever agency sent it, for services that act on every agency's
/// letters (printing, scanning, verification). Agency-facing code uses [`get_letter`].
pub async fn get_letter_any_agency(conn: &mut AnyConnection, letter_id: LetterId) -> Result<Option<LetterRecord>> {
    let row = sqlx::query(&format!("select {COLUMNS} from letter where letter_id = $1"))
        .bind(letter_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Seal references (plain base32) of every withdrawn letter, with the reason.
pub async fn withdrawn_references(conn: &mut AnyConnection) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "select seal_reference, withdrawn_reason from letter where withdrawn_reason is not null and seal_reference is not null",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Marks a letter withdrawn with `reason`: its seal stops verifying as genuine. Returns false
/// when it was already withdrawn (the first reason stays).
pub async fn withdraw(conn: &mut AnyConnection, letter_id: LetterId, reason: &str, at: &str) -> Result<bool> {
    let changed = sqlx::query(
        "update letter set withdrawn_reason = $1, withdrawn_at = $2, updated_at = $2 \
         where letter_id = $3 and withdrawn_reason is null",
    )
    .bind(reason)
    .bind(at)
    .bind(letter_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Reads one of the agency's letters in the caller's mode; another agency's letter, or a letter
/// of the other mode (a live letter for a test key, a test letter for a live key), is `None`, as
/// if it did not exist.
pub async fn get_letter(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    letter_id: LetterId,
) -> Result<Option<LetterRecord>> {
    let row =
        sqlx::query(&format!("select {COLUMNS} from letter where letter_id = $1 and agency_id = $2 and test = $3"))
            .bind(letter_id.to_string())
            .bind(scope.agency_id.to_string())
            .bind(flag(scope.test))
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(from_row).transpose()
}

/// Reads a letter of the agency in either mode: for the services that move letters along
/// ([`transition`]), never for answering an agency.
async fn get_agency_letter(
    conn: &mut AnyConnection,
    agency_id: AgencyId,
    letter_id: LetterId,
) -> Result<Option<LetterRecord>> {
    let row = sqlx::query(&format!("select {COLUMNS} from letter where letter_id = $1 and agency_id = $2"))
        .bind(letter_id.to_string())
        .bind(agency_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A page of the agency's letters in the caller's mode, newest first, older than `before` when
/// given.
pub async fn list_letters(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    status: Option<LetterStatus>,
    before: Option<LetterId>,
    limit: i64,
) -> Result<Vec<LetterRecord>> {
    // Ids are UUIDv7, so their text order is their creation order.
    let mut sql = format!("select {COLUMNS} from letter where agency_id = $1 and test = $2");
    let mut n = 2;
    if status.is_some() {
        n += 1;
        sql.push_str(&format!(" and status = ${n}"));
    }
    if before.is_some() {
        n += 1;
        sql.push_str(&format!(" and letter_id < ${n}"));
    }
    sql.push_str(&format!(" order by letter_id desc limit ${}", n + 1));
    let mut q = sqlx::query(&sql).bind(scope.agency_id.to_string()).bind(flag(scope.test));
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    if let Some(b) = before {
        q = q.bind(b.to_string());
    }
    let rows = q.bind(limit).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Number of letters stored (all agencies).
pub async fn count_letters(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query("select count(*) from letter").fetch_one(conn).await?.try_get(0)?)
}

/// Moves one of the agency's letters to `to` and records the event, if the status machine
/// allows it. The update is conditional on the status read, so two racing changes cannot both
/// win. Run it inside the caller's transaction. It acts on letters of either mode: code
/// answering an agency reads the letter through [`get_letter`] with the caller's scope first.
/// Returns the letter as it now is, and its event, whose webhooks the caller queues.
pub async fn transition(
    conn: &mut AnyConnection,
    agency_id: AgencyId,
    letter_id: LetterId,
    to: LetterStatus,
    detail: Option<serde_json::Value>,
    request_id: Option<&str>,
) -> Result<Recorded<LetterRecord>, TransitionFailure> {
    let mut letter = get_agency_letter(conn, agency_id, letter_id).await?.ok_or(TransitionFailure::NotFound)?;
    let from = letter.status;
    from.transition(to)?;
    let now = now_text();
    let changed = sqlx::query("update letter set status = $1, updated_at = $2 where letter_id = $3 and status = $4")
        .bind(to.as_str())
        .bind(&now)
        .bind(letter_id.to_string())
        .bind(from.as_str())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
    if changed != 1 {
        // Someone else changed it between our read and our write: report against what it is now.
        let now_status =
            get_agency_letter(conn, agency_id, letter_id).await?.ok_or(TransitionFailure::NotFound)?.status;
        now_status.transition(to)?;
        return Err(StoreError::Conflict(format!("letter {letter_id} changed while it was being updated")).into());
    }
    let event = append_event(
        conn,
        NewEvent {
            agency_id,
            letter_id,
            kind: to.into(),
            status: to,
            detail,
            request_id: request_id.map(str::to_owned),
        },
    )
    .await?;
    letter.status = to;
    letter.updated_at = now;
    Ok(Recorded::new(letter, vec![event]))
}

pub(crate) fn from_row(r: &sqlx::any::AnyRow) -> Result<LetterRecord> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("letter {what}: {e}"));
    let content: String = r.try_get("content")?;
    Ok(LetterRecord {
        letter_id: parse_id(&r.try_get::<String, _>("letter_id")?)?,
        agency_id: parse_id(&r.try_get::<String, _>("agency_id")?)?,
        reference: r.try_get("reference")?,
        status: r.try_get::<String, _>("status")?.parse().map_err(|e| corrupt("status", format!("{e}")))?,
        channel: r.try_get::<String, _>("channel")?.parse().map_err(|e| corrupt("channel", e))?,
        channel_reason: r.try_get::<String, _>("channel_reason")?.parse().map_err(|e| corrupt("channel reason", e))?,
        test: r.try_get::<i64, _>("test")? != 0,
        postcode: r.try_get("postcode")?,
        citizen_id_hash: r.try_get("citizen_id_hash")?,
        reply_deadline: r.try_get("reply_deadline")?,
        content: serde_json::from_str(&content).map_err(|e| corrupt("content", e.to_string()))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        seal: seal_from_row(r)?,
        withdrawn: match (r.try_get::<Option<String>, _>("withdrawn_reason")?, r.try_get("withdrawn_at")?) {
            (Some(reason), Some(at)) => Some((reason, at)),
            _ => None,
        },
    })
}

fn seal_from_row(r: &sqlx::any::AnyRow) -> Result<Option<LetterSeal>> {
    use base64::Engine;
    let Some(reference) = r.try_get::<Option<String>, _>("seal_reference")? else {
        return Ok(None);
    };
    let bytes = |col: &str| -> Result<Vec<u8>> {
        let text: Option<String> = r.try_get(col)?;
        B64.decode(text.unwrap_or_default())
            .map_err(|e| StoreError::Corrupt(format!("letter seal {reference}: {col}: {e}")))
    };
    Ok(Some(LetterSeal {
        seal: bytes("seal")?,
        issue_date: r.try_get::<Option<String>, _>("issue_date")?.unwrap_or_default(),
        pin_hash: r.try_get::<Option<String>, _>("pin_hash")?.unwrap_or_default(),
        pin_wrapped: bytes("pin_wrapped")?,
        reference,
    }))
}
