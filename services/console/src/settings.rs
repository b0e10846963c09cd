//! An agency admin's settings: the contact e-mail the agency's notices go to, and the API keys
//! of its systems (made here and shown once, live or test; revoked here, within seconds on
//! every node). Other roles, and site people, get "not found".

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{AgencyId, PersonRole};
use hybridpost_store::agencies::{self, Principal};
use hybridpost_store::now_text;
use serde::Deserialize;

use crate::batches::when;
use crate::letters::agency_of;
use crate::pages;
use crate::usage::{baht, parse_baht};
use crate::{ConsoleState, SignedIn, me_context, see_other};

fn admin_of(me: &SignedIn) -> Result<AgencyId, Response> {
    let agency = agency_of(me)?;
    if me.person.role == PersonRole::Admin { Ok(agency) } else { Err(pages::not_found()) }
}

/// A key just made, to show once.
struct NewKey {
    key: String,
    test: bool,
}

async fn render(
    state: &ConsoleState,
    me: &SignedIn,
    agency_id: AgencyId,
    status: StatusCode,
    contact_error: Option<&str>,
    contact_typed: Option<&str>,
    created: Option<NewKey>,
) -> Response {
    render_with(state, me, agency_id, status, contact_error, contact_typed, created, None).await
}

/// Prices as typed, with what is wrong with them.
struct TypedPrices<'a> {
    form: &'a PricesForm,
    error: &'a str,
}

#[expect(clippy::too_many_arguments, reason = "each form's typed values and error go back to the one page")]
async fn render_with(
    state: &ConsoleState,
    me: &SignedIn,
    agency_id: AgencyId,
    status: StatusCode,
    contact_error: Option<&str>,
    contact_typed: Option<&str>,
    created: Option<NewKey>,
    typed_prices: Option<TypedPrices<'_>>,
) -> Response {
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let agency = agencies::get_agency(&mut conn, agency_id).await?;
        let keys = agencies::list_agency_keys(&mut conn, agency_id).await?;
        let prices = hybridpost_store::usage::agency_prices(&mut conn, agency_id).await?;
        Ok((agency, keys, prices))
    }
    .await;
    let (agency, keys, prices) = match found {
        Ok((Some(agency), keys, prices)) => (agency, keys, prices),
        Ok((None, _, _)) => return pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read an agency's settings: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            serde_json::json!({"id": k.key_id, "prefix": k.key_prefix, "test": k.test, "created": when(&k.created_at, me.lang),
                               "revoked": k.revoked_at.as_deref().map(|at| when(at, me.lang))})
        })
        .collect();
    pages::render(
        status,
        "settings.html",
        me.lang,
        serde_json::json!({
            "me": me_context(me), "csrf": me.session.csrf_token, "path": "/console/settings",
            "agency": agency.name,
            "contact": contact_typed.map(str::to_owned).or(agency.contact_email).unwrap_or_default(),
            "contact_error": contact_error, "keys": keys,
            "created": created.map(|c| serde_json::json!({"key": c.key, "test": c.test})),
            "prices": match &typed_prices {
                Some(t) => serde_json::json!({"letter": t.form.letter, "sheet": t.form.sheet, "email": t.form.email}),
                None => serde_json::json!({"letter": prices.letter.map(baht).unwrap_or_default(),
                    "sheet": prices.sheet.map(baht).unwrap_or_default(), "email": prices.email.map(baht).unwrap_or_default()}),
            },
            "prices_error": typed_prices.as_ref().map(|t| t.error),
        }),
    )
}

pub(crate) async fn settings_page(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    match admin_of(&me) {
        Ok(agency) => render(&state, &me, agency, StatusCode::OK, None, None, None).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contact: String,
}

pub(crate) async fn set_contact(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Form(form): Form<ContactForm>,
) -> Response {
    let agency_id = match admin_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let contact = form.contact.trim().to_owned();
    if !contact.is_empty() && (contact.len() > 254 || hybridpost_core::letter::check_email(&contact).is_err()) {
        let error = me.lang.pick("อีเมลไม่ถูกต้อง", "That is not an e-mail address.");
        return render(&state, &me, agency_id, StatusCode::UNPROCESSABLE_ENTITY, Some(error), Some(&contact), None)
            .await;
    }
    let done = async {
        let mut tx = state.store.begin().await?;
        let Some(mut agency) = agencies::get_agency(&mut tx, agency_id).await? else { return Ok(()) };
        agency.contact_email = Some(contact.clone()).filter(|c| !c.is_empty());
        agencies::update_agency_profile(&mut tx, &agency).await?;
        let entry = me.audit("agency.contact", Some(serde_json::json!({"contact": contact})));
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &agency.name).await?;
        tx.commit().await
    }
    .await;
    match done {
        Ok(()) => see_other("/console/settings"),
        Err(e) => {
            tracing::error!("cannot change an agency's contact: {e}");
            pages::unavailable(me.lang)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mode: String,
}

/// Makes a key (live, or test with `mode=test`) and shows it once.
pub(crate) async fn create_key(State(state): State<ConsoleState>, me: SignedIn, Form(form): Form<KeyForm>) -> Response {
    let agency_id = match admin_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let test = form.mode == "test";
    let key = hybridpost_web::auth::generate_api_key(Principal::Agency { agency_id, test });
    let done = async {
        let mut tx = state.store.begin().await?;
        agencies::insert_api_key(&mut tx, &key.record, &now_text()).await?;
        let entry = me.audit("apikey.create", Some(serde_json::json!({"test": test, "prefix": key.record.key_prefix})));
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &key.record.key_id).await?;
        tx.commit().await
    }
    .await;
    match done {
        // Shown in this answer only: a reload does not show it again.
        Ok(()) => {
            let created = NewKey { key: key.key, test };
            render(&state, &me, agency_id, StatusCode::CREATED, None, None, Some(created)).await
        }
        Err(e) => {
            tracing::error!("cannot make an API key: {e}");
            pages::unavailable(me.lang)
        }
    }
}

pub(crate) async fn revoke_key(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(key_id): Path<String>,
    Form(form): Form<KeyForm>,
) -> Response {
    let agency_id = match admin_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let done: hybridpost_store::Result<bool> = async {
        let mut tx = state.store.begin().await?;
        let revoked = agencies::revoke_agency_key(&mut tx, agency_id, &key_id, &now_text()).await?;
        if revoked {
            hybridpost_store::people::append_step_audit(&mut tx, Some(&me.audit("apikey.revoke", None)), &key_id)
                .await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }
    .await;
    match done {
        Ok(true) => see_other("/console/settings"),
        Ok(false) => pages::not_found(),
        Err(e) => {
            tracing::error!("cannot revoke an API key: {e}");
            pages::unavailable(me.lang)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct PricesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    letter: String,
    #[serde(default)]
    sheet: String,
    #[serde(default)]
    email: String,
}

/// The prices of the usage report's estimate, in baht with up to two decimals.
pub(crate) async fn set_prices(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Form(form): Form<PricesForm>,
) -> Response {
    let agency_id = match admin_of(&me) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let (Ok(letter), Ok(sheet), Ok(email)) =
        (parse_baht(&form.letter), parse_baht(&form.sheet), parse_baht(&form.email))
    else {
        let error = me.lang.pick(
            "ราคาต้องเป็นจำนวนบาท ทศนิยมไม่เกิน 2 ตำแหน่ง เช่น 3.50",
            "Prices are amounts in baht with at most two decimals, such as 3.50.",
        );
        let typed = TypedPrices { form: &form, error };
        return render_with(&state, &me, agency_id, StatusCode::UNPROCESSABLE_ENTITY, None, None, None, Some(typed))
            .await;
    };
    let prices = hybridpost_store::usage::Prices { letter, sheet, email };
    let done = async {
        let mut tx = state.store.begin().await?;
        hybridpost_store::usage::set_agency_prices(&mut tx, agency_id, prices).await?;
        let detail = serde_json::json!({"letter": letter, "sheet": sheet, "email": email});
        let entry = me.audit("agency.prices", Some(detail));
        hybridpost_store::people::append_step_audit(&mut tx, Some(&entry), &agency_id.to_string()).await?;
        tx.commit().await
    }
    .await;
    match done {
        Ok(()) => see_other("/console/settings#prices"),
        Err(e) => {
            tracing::error!("cannot set an agency's prices: {e}");
            pages::unavailable(me.lang)
        }
    }
}
