//! Creating people: by `hybridpost admin create-user` and, later, by supervisors and admins in
//! the console. Each new person gets a one-time link to set their password.

use hybridpost_core::{PersonId, PersonRole, Workplace};
use hybridpost_store::people::{self, NewAudit, Person};
use hybridpost_store::{Store, StoreError, agencies, timestamp_text};

use crate::ConsoleConfig;
use crate::password::{random_token, token_hash};

/// Who to create.
#[derive(Clone, Debug)]
pub struct NewPerson {
    /// Sign-in name.
    pub email: String,
    /// Name as shown.
    pub name: String,
    /// Where they work.
    pub workplace: Workplace,
    /// What they may do.
    pub role: PersonRole,
}

/// Why a person cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// A field is wrong; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The e-mail address is taken.
    #[error("a person with the e-mail address {0} already exists")]
    Taken(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A person created, with their one-time link to set a password.
#[derive(Debug)]
pub struct Created {
    /// The person.
    pub person: Person,
    /// `{public_url}/console/setup/{code}`: works once, until `expires_at`.
    pub setup_link: String,
    /// When the link stops working.
    pub expires_at: String,
}

/// Creates a person at `new.workplace` (which must exist) with a setup link, and records it in
/// the workplace's audit log as done by `by` (`None`: the command line).
pub async fn create_person(
    store: &Store,
    config: &ConsoleConfig,
    new: NewPerson,
    by: Option<&Person>,
    client: &str,
) -> Result<Created, CreateError> {
    let email = new.email.trim().to_lowercase();
    let name = new.name.trim().to_owned();
    if email.len() > 254
        || !email.contains('@')
        || email.starts_with('@')
        || email.ends_with('@')
        || email.contains(char::is_whitespace)
    {
        return Err(CreateError::Invalid(format!("{:?} is not an e-mail address", new.email)));
    }
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CreateError::Invalid("the name must be 1 to 200 characters".into()));
    }
    new.workplace.check_role(new.role).map_err(|e| CreateError::Invalid(e.to_string()))?;
    let now = time::OffsetDateTime::now_utc();
    let code = random_token();
    let expires_at = timestamp_text(now + config.setup_link_ttl);
    let person = Person {
        person_id: PersonId::new(),
        email: email.clone(),
        name,
        workplace: new.workplace,
        role: new.role,
        password_hash: None,
        disabled_at: None,
        totp_enabled_at: None,
        oidc_subject: None,
        created_at: timestamp_text(now),
        updated_at: timestamp_text(now),
    };
    let mut tx = store.begin().await?;
    let exists = match new.workplace {
        Workplace::Site(s) => agencies::get_site(&mut tx, s).await?.is_some(),
        Workplace::Agency(a) => agencies::get_agency(&mut tx, a).await?.is_some(),
    };
    if !exists {
        return Err(CreateError::Invalid(format!("there is no such {}", new.workplace.kind())));
    }
    match people::insert_person(&mut tx, &person, &token_hash(&code), &expires_at).await {
        Err(StoreError::Conflict(_)) => return Err(CreateError::Taken(email)),
        other => other?,
    }
    people::append_audit(
        &mut tx,
        &NewAudit {
            person_id: by.map(|p| p.person_id),
            workplace: Some(person.workplace),
            action: "person.create".into(),
            target: Some(person.email.clone()),
            detail: Some(
                serde_json::json!({"role": person.role, "by": if by.is_some() { "console" } else { "command line" }}),
            ),
            client: Some(client.to_owned()),
            request_id: None,
        },
        &timestamp_text(now),
    )
    .await?;
    tx.commit().await?;
    let setup_link = format!("{}/console/setup/{code}", config.public_url.trim_end_matches('/'));
    Ok(Created { person, setup_link, expires_at })
}

/// A person's new one-time link to set a password (after a forgotten password), recorded in the
/// workplace's audit log as done by `by`. Their password works until the link is used.
pub async fn new_setup_link(
    store: &Store,
    config: &ConsoleConfig,
    person: &Person,
    by: &Person,
    client: &str,
) -> Result<Created, CreateError> {
    let now = time::OffsetDateTime::now_utc();
    let code = random_token();
    let expires_at = timestamp_text(now + config.setup_link_ttl);
    let mut tx = store.begin().await?;
    people::set_setup_code(&mut tx, person.person_id, &token_hash(&code), &expires_at, &timestamp_text(now)).await?;
    people::append_audit(
        &mut tx,
        &NewAudit {
            person_id: Some(by.person_id),
            workplace: Some(person.workplace),
            action: "person.reset".into(),
            target: Some(person.email.clone()),
            detail: None,
            client: Some(client.to_owned()),
            request_id: None,
        },
        &timestamp_text(now),
    )
    .await?;
    tx.commit().await?;
    let setup_link = format!("{}/console/setup/{code}", config.public_url.trim_end_matches('/'));
    Ok(Created { person: person.clone(), setup_link, expires_at })
}

/// Disables a person (their sessions end on every node) or enables them again, recorded in the
/// workplace's audit log as done by `by`.
pub async fn set_disabled(
    store: &Store,
    person: &Person,
    disabled: bool,
    by: &Person,
    client: &str,
) -> Result<(), StoreError> {
    let now = hybridpost_store::now_text();
    let mut tx = store.begin().await?;
    people::set_disabled(&mut tx, person.person_id, disabled, &now).await?;
    people::append_audit(
        &mut tx,
        &NewAudit {
            person_id: Some(by.person_id),
            workplace: Some(person.workplace),
            action: if disabled { "person.disable" } else { "person.enable" }.into(),
            target: Some(person.email.clone()),
            detail: None,
            client: Some(client.to_owned()),
            request_id: None,
        },
        &now,
    )
    .await?;
    tx.commit().await
}
