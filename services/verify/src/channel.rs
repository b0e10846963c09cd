//! Changes of a citizen's delivery channel, and the way back to paper.
//!
//! Whoever reads a letter's PIN could ask for the recipient's mail to go to their own e-mail
//! address, so a request made with a PIN never takes effect at once:
//!
//! 1. With the PIN, someone leaves an address on the verification page; a link is mailed there
//!    (at most [`crate::VerifyConfig::optin_requests_per_letter`] a day per letter).
//! 2. Opening the link and pressing its button confirms the address. That stores a *pending*
//!    change and posts a confirmation letter, in hybridpost's own name, to the postal address
//!    of the letter the PIN came from. The letter says which address (masked), from when, and
//!    carries a stop code.
//! 3. After the cooling-off period ([`crate::VerifyConfig::channel_change_cooling_off`]) the
//!    change takes effect (the `verify` role's worker), unless the code on the confirmation
//!    letter stopped it at `/v/keep-paper`. The same code also undoes it later.
//! 4. Every digital notice carries a link back to paper (`/v/paper/…`), one button away.
//!
//! Each step is an event on the timeline of the letter whose PIN was used.

use hybridpost_core::{
    Channel, ChannelReason, EventKind, LetterId, LetterLayout, LetterStatus, NewLetter, NewRecipient,
};
use hybridpost_keyring::{SealRequest, to_seal_date};
use hybridpost_notify::outbox::queue_event_webhooks;
use hybridpost_seal::{ContentDigest, DocumentType, Purpose, Reference};
use hybridpost_store::channels::{self, ChangeStatus, ChannelChange};
use hybridpost_store::events::{self, NewEvent};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::verify::{self as verify_store, TokenUse};
use hybridpost_store::{AnyConnection, StoreError, agencies, timestamp_text};
use hybridpost_web::problem::ApiError;
use rand::RngCore;

use crate::VerifyState;
use crate::client::keyed_hash;

/// Source recorded on e-channels registered through a confirmed change.
const CHANNEL_SOURCE: &str = "verify_page";
/// Changes applied per round of the worker.
const DUE_BATCH: i64 = 100;

/// Keyed hash of an opt-in token, as stored.
pub(crate) fn token_hash(state: &VerifyState, token: &str) -> String {
    keyed_hash(state.keyring.secret(), b"optin-token", token.as_bytes())
}

/// A stop code as printed: 16 base32 characters in groups of four (80 random bits).
fn new_stop_code() -> String {
    let mut raw = [0u8; 10];
    rand::rng().fill_bytes(&mut raw);
    let plain = hybridpost_seal::base32_encode(&raw);
    plain.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// A code as typed, in the stored form: upper case, no spaces or dashes, `0`/`1`/`8` read as
/// `O`/`I`/`B` (base32 has no such digits). `None` when it cannot be a code.
fn normalise_stop_code(typed: &str) -> Option<String> {
    let plain: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '1' => 'I',
            '8' => 'B',
            c => c,
        })
        .collect();
    (plain.len() == 16 && plain.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))).then_some(plain)
}

fn stop_code_hash(state: &VerifyState, plain: &str) -> String {
    keyed_hash(state.keyring.secret(), b"stop-code", plain.as_bytes())
}

/// `m***@example.co.th`: enough for its owner to recognise, not enough to write to.
pub(crate) fn masked_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// The token of a digital notice's "back to paper" link for `letter_id` (the notifier makes the
/// same one; see `hybridpost_notifier::links::paper_link`).
fn paper_token(state: &VerifyState, letter_id: LetterId) -> String {
    state.keyring.secret().token(Purpose::PaperLink, format!("paper-link/v1:{letter_id}").as_bytes())
}

/// True when `token` is the back-to-paper token of `letter_id` (compared in constant time).
pub(crate) fn paper_token_matches(state: &VerifyState, letter_id: LetterId, token: &str) -> bool {
    let expected = paper_token(state, letter_id);
    expected.len() == token.len() && expected.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// What confirming a link did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// The change waits out its cooling-off period; a confirmation letter is on its way.
    Pending {
        /// When letters start to go by e-mail (UTC).
        effective_at: time::OffsetDateTime,
    },
    /// The link was used before.
    AlreadyUsed,
    /// The link expired.
    Expired,
    /// The link is not one we sent (altered, cut short, or missing).
    Invalid,
}

/// A token as it may appear in a link: base64url, 43 characters for our 32 random bytes.
pub(crate) fn plausible_token(token: Option<&str>) -> Option<&str> {
    token
        .map(str::trim)
        .filter(|t| t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// What the link's token would do, without using it (the page a GET shows).
pub(crate) async fn peek(state: &VerifyState, token: Option<&str>) -> Result<Confirmation, ApiError> {
    let Some(token) = plausible_token(token) else { return Ok(Confirmation::Invalid) };
    let now = state.now();
    let mut conn = state.store.read().await?;
    Ok(match verify_store::peek_optin_token(&mut conn, &token_hash(state, token), &timestamp_text(now)).await? {
        TokenUse::Taken(_) => Confirmation::Pending { effective_at: now + cooling_off(state)? },
        TokenUse::AlreadyUsed => Confirmation::AlreadyUsed,
        TokenUse::Expired => Confirmation::Expired,
        TokenUse::Unknown => Confirmation::Invalid,
    })
}

fn cooling_off(state: &VerifyState) -> Result<time::Duration, ApiError> {
    time::Duration::try_from(state.config.channel_change_cooling_off)
        .map_err(|e| ApiError::internal(format!("cooling-off period out of range: {e}")))
}

/// Confirms the address of a link (the button on its page): stores the pending change, posts
/// the confirmation letter and records the request on the letter's timeline, in one
/// transaction that also uses up the token.
pub(crate) async fn confirm(state: &VerifyState, token: Option<&str>) -> Result<Confirmation, ApiError> {
    let Some(token) = plausible_token(token) else { return Ok(Confirmation::Invalid) };
    let hash = token_hash(state, token);
    let now = state.now();
    let now_text = timestamp_text(now);
    // Look first, so that the letter is sealed (which may write a key) outside the transaction.
    let request = {
        let mut conn = state.store.read().await?;
        match verify_store::peek_optin_token(&mut conn, &hash, &now_text).await? {
            TokenUse::Taken(request) => request,
            TokenUse::AlreadyUsed => return Ok(Confirmation::AlreadyUsed),
            TokenUse::Expired => return Ok(Confirmation::Expired),
            TokenUse::Unknown => return Ok(Confirmation::Invalid),
        }
    };
    let letter_id: LetterId = request
        .letter_id
        .parse()
        .map_err(|_| ApiError::internal(format!("opt-in of letter {:?}", request.letter_id)))?;
    let origin = {
        let mut conn = state.store.read().await?;
        letters::get_letter_any_agency(&mut conn, letter_id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("opt-in of a letter that is gone: {letter_id}")))?
    };
    let effective_at = now + cooling_off(state)?;
    let stop_code = new_stop_code();
    let change_id = uuid::Uuid::now_v7().to_string();
    let service = {
        let mut tx = state.store.begin().await?;
        let agency = agencies::ensure_service_agency(&mut tx).await?;
        tx.commit().await?;
        agency
    };
    let confirmation =
        confirmation_letter(state, &origin, &service, &request.email, &stop_code, &change_id, now, effective_at)
            .await?;
    let confirmation_id = confirmation.letter_id;

    let mut tx = state.store.begin().await?;
    match verify_store::take_optin_token(&mut tx, &hash, &now_text).await? {
        TokenUse::Taken(_) => {}
        // Another request used it between our look and now: nothing of ours is kept.
        TokenUse::AlreadyUsed => return Ok(Confirmation::AlreadyUsed),
        TokenUse::Expired => return Ok(Confirmation::Expired),
        TokenUse::Unknown => return Ok(Confirmation::Invalid),
    }
    letters::insert_letter(&mut tx, &confirmation).await?;
    let accepted = |kind: LetterStatus, detail| NewEvent {
        agency_id: service.agency_id,
        letter_id: confirmation_id,
        kind: kind.into(),
        status: kind,
        detail: Some(detail),
        request_id: None,
    };
    let recorded = events::append_events(
        &mut tx,
        vec![
            accepted(
                LetterStatus::Accepted,
                serde_json::json!({"channel": Channel::Print, "channel_reason": ChannelReason::ChannelChangeConfirmation}),
            ),
            accepted(LetterStatus::QueuedForPrint, serde_json::json!({"postcode": confirmation.postcode, "test": false})),
        ],
    )
    .await?;
    queue_event_webhooks(&mut tx, &recorded).await?;
    channels::insert_change(
        &mut tx,
        &ChannelChange {
            change_id: change_id.clone(),
            citizen_id_hash: request.citizen_id_hash.clone(),
            email: request.email.clone(),
            letter_id,
            confirmation_letter_id: Some(confirmation_id),
            stop_code_hash: stop_code_hash(state, &stop_code.replace('-', "")),
            status: ChangeStatus::Pending,
            effective_at: timestamp_text(effective_at),
            decided_at: None,
            created_at: now_text.clone(),
        },
    )
    .await?;
    timeline_event(
        &mut tx,
        &origin,
        EventKind::ChannelChangeRequested,
        serde_json::json!({
            "change_id": change_id,
            "effective_at": timestamp_text(effective_at),
            "confirmation_letter_id": confirmation_id,
        }),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("hybridpost_verify_optin_confirmed_total").increment(1);
    tracing::info!(
        letter.id = %letter_id,
        change.id = %change_id,
        "channel change from letter {letter_id} confirmed; confirmation letter {confirmation_id} queued for print"
    );
    Ok(Confirmation::Pending { effective_at })
}

/// An event on `letter`'s timeline that does not change its status.
async fn timeline_event(
    conn: &mut AnyConnection,
    letter: &LetterRecord,
    kind: EventKind,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let status = letters::get_letter_any_agency(conn, letter.letter_id).await?.map_or(letter.status, |l| l.status);
    let event = events::append_event(
        conn,
        NewEvent {
            agency_id: letter.agency_id,
            letter_id: letter.letter_id,
            kind,
            status,
            detail: Some(detail),
            request_id: None,
        },
    )
    .await?;
    queue_event_webhooks(conn, &[event]).await?;
    Ok(())
}

/// The confirmation letter: hybridpost's own, sealed with its key, queued for print to the
/// postal address of `origin`, never digital.
#[expect(clippy::too_many_arguments, reason = "each is one fact printed on the letter")]
async fn confirmation_letter(
    state: &VerifyState,
    origin: &LetterRecord,
    service: &agencies::Agency,
    email: &str,
    stop_code: &str,
    change_id: &str,
    now: time::OffsetDateTime,
    effective_at: time::OffsetDateTime,
) -> Result<LetterRecord, ApiError> {
    let stored = origin.letter()?;
    let bangkok = time::macros::offset!(+7);
    let today = now.to_offset(bangkok).date();
    let effective = effective_at.to_offset(bangkok).date();
    let (asked_th, from_th) = (hybridpost_thai::format_thai_date(today), hybridpost_thai::format_thai_date(effective));
    let en = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    let asked_en = today.format(&en).unwrap_or_default();
    let from_en = effective.format(&en).unwrap_or_default();
    let masked = masked_email(email);
    let url = format!("{}/v/keep-paper", state.config.public_url);
    let origin_ref = origin
        .seal
        .as_ref()
        .map(|s| Reference::parse_human(&s.reference).map_or_else(|| s.reference.clone(), |r| r.to_human()))
        .unwrap_or_default();
    let content = NewLetter {
        reference: format!("HP/CC/{}", &change_id.replace('-', "")[20..]),
        layout: LetterLayout::Plain,
        recipient: NewRecipient {
            name: stored.recipient.name.clone(),
            address: stored.recipient.address.clone(),
            citizen_id: None,
            email: None,
            position: None,
            ministry_id: None,
            department_id: None,
        },
        subject: "ยืนยันการขอรับจดหมายทางอีเมล (Your request to receive letters by e-mail)".into(),
        salutation: Some(format!("เรียน {}", stored.recipient.name)),
        body: Some(vec![
            format!(
                "เมื่อวันที่ {asked_th} มีผู้ใช้รหัส PIN ของจดหมายเลขอ้างอิง {origin_ref} ที่ส่งถึงท่าน \
                 ขอให้ส่งจดหมายฉบับต่อไปของท่านทางอีเมล {masked} แทนการส่งทางไปรษณีย์"
            ),
            format!(
                "การเปลี่ยนแปลงนี้จะมีผลตั้งแต่วันที่ {from_th} หากท่านเป็นผู้ขอ ไม่ต้องดำเนินการใด ๆ \
                 หากท่านไม่ได้ขอ หรือต้องการรับจดหมายทางไปรษณีย์ต่อไป กรุณากรอกรหัสด้านล่างที่ {url} \
                 รหัสนี้ยกเลิกการเปลี่ยนแปลงได้ทั้งก่อนและหลังวันที่มีผล"
            ),
            format!(
                "On {asked_en}, the PIN of letter {origin_ref} was used to ask for your letters to come by e-mail to \
                 {masked} from {from_en}. If this was not you, or you want to keep letters on paper, enter the code \
                 below at {url}."
            ),
            format!("รหัสยกเลิก (stop code): {stop_code}"),
        ]),
        closing: Some("ขอแสดงความนับถือ".into()),
        ..stored_defaults(stored)
    };
    let checked = content.check(today).map_err(|e| {
        ApiError::internal(format!("the confirmation letter for letter {} is not valid: {e:?}", origin.letter_id))
    })?;
    let content = serde_json::to_value(&checked.letter).map_err(ApiError::internal)?;
    let canonical = serde_json::to_vec(&content).map_err(ApiError::internal)?;
    let issue_date = to_seal_date(today);
    let sealed = state
        .keyring
        .seal_letter(
            &service.issuer_code,
            service.agency_id,
            &SealRequest {
                issue_date,
                document_type: DocumentType::Notice,
                reply_by: None,
                digest: ContentDigest::of(&canonical),
            },
        )
        .await
        .map_err(|e| ApiError::internal(format!("the confirmation letter could not be sealed: {e}")))?;
    let now_text = timestamp_text(now);
    Ok(LetterRecord {
        letter_id: LetterId::new(),
        agency_id: service.agency_id,
        reference: checked.letter.reference.clone(),
        status: LetterStatus::QueuedForPrint,
        channel: Channel::Print,
        channel_reason: ChannelReason::ChannelChangeConfirmation,
        test: false,
        postcode: checked.letter.recipient.address.postcode.clone(),
        citizen_id_hash: None,
        reply_deadline: None,
        content,
        created_at: now_text.clone(),
        updated_at: now_text,
        seal: Some(sealed.to_stored(issue_date)),
        withdrawn: None,
    })
}

/// The fields of a confirmation letter that are not written above: the stored letter's
/// language and layout, nothing else of it.
fn stored_defaults(stored: NewLetter) -> NewLetter {
    NewLetter {
        date: None,
        urgency: None,
        secrecy: None,
        digits: None,
        sender: None,
        references: Vec::new(),
        enclosures: Vec::new(),
        template: None,
        document_id: None,
        data: None,
        signatory: None,
        contact: None,
        reply: None,
        send_after: None,
        ..stored
    }
}

/// Makes every pending change whose cooling-off period has passed effective: the address
/// becomes the citizen's e-channel, and the letter's timeline says so. Returns how many.
pub async fn apply_due_changes(state: &VerifyState) -> anyhow::Result<usize> {
    let now = timestamp_text(state.now());
    let due = {
        let mut conn = state.store.read().await?;
        channels::due_changes(&mut conn, &now, DUE_BATCH).await?
    };
    let mut applied = 0;
    for change in due {
        let mut tx = state.store.begin().await?;
        // Another node, or a stop, may have decided it since it was read.
        if !channels::decide_change(&mut tx, &change.change_id, ChangeStatus::Pending, ChangeStatus::Effective, &now)
            .await?
        {
            continue;
        }
        channels::upsert_verified_email(&mut tx, &change.citizen_id_hash, &change.email, CHANNEL_SOURCE).await?;
        if let Some(letter) = letters::get_letter_any_agency(&mut tx, change.letter_id).await? {
            timeline_event(
                &mut tx,
                &letter,
                EventKind::ChannelChangeEffective,
                serde_json::json!({"change_id": change.change_id}),
            )
            .await?;
        }
        tx.commit().await?;
        applied += 1;
        metrics::counter!("hybridpost_verify_channel_changes_effective_total").increment(1);
        tracing::info!(change.id = %change.change_id, letter.id = %change.letter_id, "channel change {} took effect", change.change_id);
    }
    Ok(applied)
}

/// What a stop code did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The change will not take effect.
    StoppedBeforeEffect,
    /// The change had taken effect; the address is no longer the citizen's e-channel.
    Undone,
    /// The code's change was stopped, undone or replaced before.
    AlreadyDecided,
    /// Not a code we printed.
    Unknown,
}

/// Stops (or undoes) the change of the code printed on a confirmation letter.
pub(crate) async fn stop(state: &VerifyState, typed: &str) -> Result<Stop, ApiError> {
    let Some(plain) = normalise_stop_code(typed) else { return Ok(Stop::Unknown) };
    let now = timestamp_text(state.now());
    let mut tx = state.store.begin().await?;
    let Some(change) = channels::change_by_stop_code(&mut tx, &stop_code_hash(state, &plain)).await? else {
        return Ok(Stop::Unknown);
    };
    let outcome = match change.status {
        ChangeStatus::Pending => Stop::StoppedBeforeEffect,
        ChangeStatus::Effective => Stop::Undone,
        ChangeStatus::Stopped | ChangeStatus::Superseded => return Ok(Stop::AlreadyDecided),
    };
    if !channels::decide_change(&mut tx, &change.change_id, change.status, ChangeStatus::Stopped, &now).await? {
        return Ok(Stop::AlreadyDecided);
    }
    if outcome == Stop::Undone && channels::channel_is(&mut tx, &change.citizen_id_hash, &change.email).await? {
        channels::remove_channel(&mut tx, &change.citizen_id_hash).await?;
    }
    if let Some(letter) = letters::get_letter_any_agency(&mut tx, change.letter_id).await? {
        let detail = serde_json::json!({"change_id": change.change_id, "after_effect": outcome == Stop::Undone});
        timeline_event(&mut tx, &letter, EventKind::ChannelChangeStopped, detail).await?;
    }
    tx.commit().await?;
    metrics::counter!("hybridpost_verify_channel_changes_stopped_total").increment(1);
    tracing::info!(change.id = %change.change_id, "channel change {} stopped with its printed code", change.change_id);
    Ok(outcome)
}

/// What a back-to-paper link did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BackToPaper {
    /// The citizen's letters go on paper from now on.
    Done,
    /// They already did.
    AlreadyPaper,
    /// Not a link we made.
    Unknown,
}

/// The button behind a digital notice's "back to paper" link: removes the recipient's
/// e-channel and stops any pending change of theirs.
pub(crate) async fn back_to_paper(state: &VerifyState, letter_id: &str, token: &str) -> Result<BackToPaper, ApiError> {
    let Ok(letter_id) = letter_id.parse::<LetterId>() else { return Ok(BackToPaper::Unknown) };
    if !paper_token_matches(state, letter_id, token) {
        return Ok(BackToPaper::Unknown);
    }
    let mut tx = state.store.begin().await?;
    let Some(letter) = letters::get_letter_any_agency(&mut tx, letter_id).await? else {
        return Ok(BackToPaper::Unknown);
    };
    let Some(citizen) = letter.citizen_id_hash.clone() else { return Ok(BackToPaper::AlreadyPaper) };
    let removed = channels::remove_channel(&mut tx, &citizen).await?;
    if !removed {
        return Ok(BackToPaper::AlreadyPaper);
    }
    timeline_event(&mut tx, &letter, EventKind::ChannelReturnedToPaper, serde_json::json!({"via": "digital_notice"}))
        .await?;
    tx.commit().await?;
    metrics::counter!("hybridpost_verify_back_to_paper_total").increment(1);
    tracing::info!(letter.id = %letter_id, "recipient of letter {letter_id} went back to paper");
    Ok(BackToPaper::Done)
}

/// The `verify` role's worker: applies due channel changes every `every`.
pub async fn run_workers(state: VerifyState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while hybridpost_web::drain::tick(&mut tick).await {
        if let Err(e) = apply_due_changes(&state).await {
            tracing::warn!("channel changes not applied this round: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_codes_are_sixteen_base32_characters_read_as_typed() {
        let code = new_stop_code();
        assert_eq!(code.len(), 19, "{code}");
        let plain = normalise_stop_code(&code).expect("a printed code reads back");
        assert_eq!(plain, code.replace('-', ""));
        assert_eq!(normalise_stop_code(&code.to_lowercase().replace('-', " ")).as_deref(), Some(plain.as_str()));
        assert_eq!(normalise_stop_code("ABCD-EFGH-IJKL-MN0P").as_deref(), Some("ABCDEFGHIJKLMNOP"));
        for bad in ["", "ABCD", "ABCD-EFGH-IJKL-MNOPQ", "ABCD-EFGH-IJKL-MN9P", "<script>aaaaaaaaaaa"] {
            assert_eq!(normalise_stop_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn masked_addresses_keep_the_first_letter_and_the_domain() {
        assert_eq!(masked_email("malee.s@example.co.th"), "m***@example.co.th");
        assert_eq!(masked_email("nobody"), "***");
    }
}
