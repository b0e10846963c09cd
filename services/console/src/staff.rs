//! A supervisor's pages: the people of their site (add one, give a new set-password link,
//! disable or enable) and the site's audit log. Operators get "not found" here, as another
//! site's people do for everything of this one.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{PersonId, PersonRole};
use hybridpost_store::people::{self, Person};
use serde::Deserialize;

use crate::batches::when;
use crate::pages::{self, Lang};
use crate::people::{CreateError, Created, NewPerson};
use crate::{ConsoleState, SignedIn, see_other};

/// Audit lines on one page.
const AUDIT_PER_PAGE: i64 = 100;

fn supervisor(me: &SignedIn) -> Result<(), Response> {
    if me.person.role.manages_people() { Ok(()) } else { Err(pages::not_found()) }
}

fn person_view(p: &Person, me: &SignedIn) -> serde_json::Value {
    let lang = me.lang;
    let state = if p.disabled_at.is_some() {
        lang.pick("ระงับการใช้งาน", "disabled")
    } else if p.password_hash.is_none() {
        lang.pick("รอตั้งรหัสผ่าน", "waiting to set a password")
    } else {
        lang.pick("ใช้งานได้", "active")
    };
    serde_json::json!({
        "id": p.person_id.to_string(), "name": p.name, "email": p.email,
        "role": if lang == Lang::Thai { p.role.thai() } else { p.role.as_str() },
        "state": state, "disabled": p.disabled_at.is_some(), "me": p.person_id == me.person.person_id,
    })
}

#[derive(Default, Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

async fn render_people(
    state: &ConsoleState,
    me: &SignedIn,
    status: StatusCode,
    form: &AddForm,
    error: Option<String>,
    created: Option<&Created>,
) -> Response {
    let found = async {
        let mut conn = state.store.read().await?;
        people::list_people(&mut conn, me.person.workplace).await
    }
    .await;
    let listed = match found {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("cannot list people: {e}");
            return pages::unavailable(me.lang);
        }
    };
    pages::render(
        status,
        "people.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(me),
            "csrf": me.session.csrf_token,
            "path": "/console/people",
            "people": listed.iter().map(|p| person_view(p, me)).collect::<Vec<_>>(),
            "form": {"email": form.email, "name": form.name, "role": if !form.role.is_empty() { form.role.as_str() } else if matches!(me.person.workplace, hybridpost_core::Workplace::Agency(_)) { "sender" } else { "operator" }},
            "error": error,
            "created": created.map(|c| serde_json::json!({
                "name": c.person.name, "email": c.person.email, "link": c.setup_link,
                "expires": when(&c.expires_at, me.lang),
            })),
        }),
    )
}

pub(crate) async fn people_page(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    if let Err(r) = supervisor(&me) {
        return r;
    }
    render_people(&state, &me, StatusCode::OK, &AddForm::default(), None, None).await
}

pub(crate) async fn add_person(State(state): State<ConsoleState>, me: SignedIn, Form(form): Form<AddForm>) -> Response {
    if let Err(r) = supervisor(&me) {
        return r;
    }
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let role = match form.role.parse::<PersonRole>() {
        Ok(role) => role,
        Err(_) => {
            let why = me.lang.pick("กรุณาเลือกบทบาท", "Choose a role.").to_owned();
            return render_people(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(why), None).await;
        }
    };
    let new = NewPerson { email: form.email.clone(), name: form.name.clone(), workplace: me.person.workplace, role };
    match crate::people::create_person(&state.store, &state.config, new, Some(&me.person), &me.client).await {
        Ok(created) => render_people(&state, &me, StatusCode::CREATED, &AddForm::default(), None, Some(&created)).await,
        Err(CreateError::Store(e)) => {
            tracing::error!("cannot add a person: {e}");
            pages::unavailable(me.lang)
        }
        Err(e) => {
            let why = match (&e, me.lang) {
                (CreateError::Taken(email), Lang::Thai) => format!("มีผู้ใช้อีเมล {email} อยู่แล้ว"),
                (CreateError::Invalid(_), Lang::Thai) => "กรุณากรอกอีเมลที่ถูกต้อง และชื่อยาว 1 ถึง 200 ตัวอักษร".to_owned(),
                _ => e.to_string(),
            };
            render_people(&state, &me, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(why), None).await
        }
    }
}

/// One of the supervisor's own site's people.
async fn colleague(state: &ConsoleState, me: &SignedIn, person_id: PersonId) -> Result<Person, Response> {
    supervisor(me)?;
    let found = async {
        let mut conn = state.store.read().await?;
        people::get_person(&mut conn, person_id).await
    }
    .await;
    match found {
        Ok(Some(p)) if p.workplace == me.person.workplace => Ok(p),
        Ok(_) => Err(pages::not_found()),
        Err(e) => {
            tracing::error!("cannot read a person: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn reset(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path(person_id): Path<PersonId>,
    Form(form): Form<TokenForm>,
) -> Response {
    let person = match colleague(&state, &me, person_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    match crate::people::new_setup_link(&state.store, &state.config, &person, &me.person, &me.client).await {
        Ok(created) => render_people(&state, &me, StatusCode::OK, &AddForm::default(), None, Some(&created)).await,
        Err(e) => {
            tracing::error!("cannot give a new setup link: {e}");
            pages::unavailable(me.lang)
        }
    }
}

pub(crate) async fn disable(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Path((person_id, to)): Path<(PersonId, String)>,
    Form(form): Form<TokenForm>,
) -> Response {
    let person = match colleague(&state, &me, person_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !me.form_token_matches(&form.csrf) {
        return me.refuse_form();
    }
    let disabled = match to.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return pages::not_found(),
    };
    if person.person_id == me.person.person_id {
        let why = me.lang.pick("ระงับการใช้งานของตนเองไม่ได้", "You cannot disable yourself.").to_owned();
        return render_people(&state, &me, StatusCode::CONFLICT, &AddForm::default(), Some(why), None).await;
    }
    match crate::people::set_disabled(&state.store, &person, disabled, &me.person, &me.client).await {
        Ok(()) => see_other("/console/people"),
        Err(e) => {
            tracing::error!("cannot change a person: {e}");
            pages::unavailable(me.lang)
        }
    }
}

/// What an audit action is, in the reader's language.
fn action_name(action: &str, lang: Lang) -> &str {
    let (th, en) = match action {
        "signin" => ("ลงชื่อเข้าใช้", "signed in"),
        "signin.failed" => ("ลงชื่อเข้าใช้ไม่สำเร็จ", "failed to sign in"),
        "signin.throttled" => ("ถูกระงับการลงชื่อเข้าใช้ชั่วคราว", "sign-in throttled"),
        "signout" => ("ออกจากระบบ", "signed out"),
        "signin.code_failed" => ("รหัสจากแอปไม่ถูกต้อง", "typed a wrong code from the app"),
        "signin.oidc" => ("ลงชื่อเข้าใช้ผ่านผู้ให้บริการยืนยันตัวตน", "signed in through the identity provider"),
        "signin.oidc_refused" => ("ผู้ให้บริการยืนยันตัวตนส่งผู้ที่ไม่มีบัญชีมา", "the identity provider sent someone with no account"),
        "authenticator.on" => ("เปิดใช้รหัสจากแอป", "turned on codes from an app"),
        "authenticator.off" => ("ยกเลิกรหัสจากแอป", "turned off codes from an app"),
        "authenticator.code_failed" => ("รหัสจากแอปไม่ถูกต้อง", "typed a wrong code from the app"),
        "authenticator.throttled" => ("ถูกระงับการใส่รหัสชั่วคราว", "codes throttled"),
        "letter.cancel" => ("ยกเลิกหนังสือ", "cancelled a letter"),
        "letter.withdraw" => ("เพิกถอนหนังสือ", "withdrew a letter"),
        "reply.handled" => ("ดำเนินการหนังสือตอบกลับแล้ว", "handled a reply"),
        "agency.contact" => ("เปลี่ยนอีเมลติดต่อ", "changed the contact e-mail"),
        "apikey.create" => ("สร้างคีย์ API", "made an API key"),
        "agency.prices" => ("กำหนดราคาประมาณการ", "set the estimate's prices"),
        "usage.export" => ("ดาวน์โหลดรายงานการใช้งาน", "downloaded the usage report"),
        "apikey.revoke" => ("ยกเลิกคีย์ API", "revoked an API key"),
        "password.set" => ("ตั้งรหัสผ่าน", "set a password"),
        "person.create" => ("เพิ่มผู้ใช้", "added a person"),
        "person.reset" => ("ออกลิงก์ตั้งรหัสผ่านใหม่", "gave a new set-password link"),
        "person.disable" => ("ระงับการใช้งาน", "disabled a person"),
        "person.enable" => ("เปิดการใช้งาน", "enabled a person"),
        "batch.close" => ("ปิดชุดพิมพ์", "closed a batch"),
        "batch.reprint" => ("พิมพ์ซองใหม่", "reprinted envelopes"),
        "batch.printed" => ("บันทึกว่าพิมพ์แล้ว", "marked a batch printed"),
        "batch.dispatch" => ("บันทึกการส่งออก", "dispatched a batch"),
        "page.assign" => ("กำหนดหน้าให้หนังสือ", "assigned a page"),
        "page.discard" => ("ทิ้งหน้า", "discarded a page"),
        "scan.upload" => ("อัปโหลดเอกสารที่สแกน", "uploaded scans"),
        "returns.export" => ("ดาวน์โหลดรายการหนังสือตีกลับ", "downloaded the returns list"),
        other => return other,
    };
    lang.pick(th, en)
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    before: Option<i64>,
}

pub(crate) async fn audit_page(
    State(state): State<ConsoleState>,
    me: SignedIn,
    Query(q): Query<AuditQuery>,
) -> Response {
    if let Err(r) = supervisor(&me) {
        return r;
    }
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let log = people::list_audit(&mut conn, me.person.workplace, q.before, AUDIT_PER_PAGE + 1).await?;
        let staff = people::list_people(&mut conn, me.person.workplace).await?;
        Ok((log, staff))
    }
    .await;
    let (mut log, staff) = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("cannot read the audit log: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let more = log.len() > AUDIT_PER_PAGE as usize;
    log.truncate(AUDIT_PER_PAGE as usize);
    let name_of = |id: Option<PersonId>| {
        id.and_then(|id| staff.iter().find(|p| p.person_id == id)).map(|p| p.name.clone()).unwrap_or_else(|| "—".into())
    };
    let lines: Vec<serde_json::Value> = log
        .iter()
        .map(|a| {
            serde_json::json!({
                "at": when(&a.at, me.lang), "who": name_of(a.person_id),
                "action": action_name(&a.action, me.lang), "code": a.action,
                "target": a.target, "client": a.client,
            })
        })
        .collect();
    pages::render(
        StatusCode::OK,
        "audit.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(&me),
            "csrf": me.session.csrf_token,
            "path": "/console/audit",
            "lines": lines,
            "older": if more { log.last().map(|a| a.audit_id) } else { None },
        }),
    )
}
