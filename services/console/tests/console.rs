//! The console's sign-in, sessions and guards over HTTP, on a real store (SQLite, or PostgreSQL
//! under `ops/test.sh`): a setup link works once, forms without the token or from another origin
//! are refused, cookies carry their flags, sign-in is throttled, signing out ends the session on
//! every node, and every step is in the audit log.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

#[path = "../../../crates/pdfcheck/tests/support/mod.rs"]
mod pdfs;
mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_console::ConsoleConfig;
use hybridpost_console::people::{NewPerson, create_person};
use hybridpost_core::{Channel, ChannelReason, LetterStatus};
use hybridpost_core::{PersonRole, SiteId, Workplace};
use hybridpost_store::agencies::{self, Agency, Site};
use hybridpost_store::letters::{self, LetterRecord};
use hybridpost_store::people;
use hybridpost_store::testing::{TestStore, test_store};
use hybridpost_store::{Store, now_text};
use tower::ServiceExt;

const ORIGIN: &str = "http://console.test";

struct World {
    db: TestStore,
    _blobs: tempfile::TempDir,
    app: Router,
    /// A second node on the same database.
    other_node: Router,
    config: ConsoleConfig,
    site: SiteId,
}

async fn add_site(store: &Store, name: &str, prefix: &str) -> SiteId {
    let site = Site {
        site_id: SiteId::new(),
        name: name.into(),
        postcode_prefixes: vec![prefix.into()],
        created_at: now_text(),
    };
    let mut tx = store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();
    site.site_id
}

async fn world_with(config: ConsoleConfig) -> World {
    let db = test_store().await;
    let site = add_site(&db.store, "ปณ. บางรัก", "10").await;
    let blobs = tempfile::tempdir().unwrap();
    let state = support::console_state(&db.store, config.clone(), blobs.path());
    let app = hybridpost_console::router(state.clone());
    let other_node = hybridpost_console::router(state);
    World { db, _blobs: blobs, app, other_node, config, site }
}

async fn world() -> World {
    world_with(ConsoleConfig { public_url: ORIGIN.into(), ..ConsoleConfig::default() }).await
}

/// An answer: status, headers, body text.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).map_or("", |v| v.to_str().unwrap())
    }

    /// The `Set-Cookie` line for cookie `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value of the hidden `csrf` field in the page.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form token in the page") + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn send(app: &Router, method: Method, path: &str, cookies: &[&str], origin: Option<&str>, form: &str) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if !cookies.is_empty() {
        req = req.header(header::COOKIE, cookies.join("; "));
    }
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    if !form.is_empty() {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let res = app.clone().oneshot(req.body(Body::from(form.to_owned())).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Answer { status, headers, body }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates a person and sets their password through the setup link; returns their session cookie.
async fn person_with_password(w: &World, email: &str, site: SiteId, password: &str) -> String {
    person_with_role(w, email, site, PersonRole::Operator, password).await
}

async fn person_with_role(w: &World, email: &str, site: SiteId, role: PersonRole, password: &str) -> String {
    let new = NewPerson {
        email: email.into(), name: "สมหญิง ใจดี".into(), workplace: Workplace::Site(site), role
    };
    let created = create_person(&w.db.store, &w.config, new, None, "test").await.unwrap();
    set_password_with(w, &created.setup_link, password).await
}

/// Sets the password through a setup link; returns the session cookie.
async fn set_password_with(w: &World, link: &str, password: &str) -> String {
    let path = link.strip_prefix(w.config.public_url.as_str()).unwrap().to_owned();
    let page = send(&w.app, Method::GET, &path, &[], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let form_cookie = cookie_value(&page.set_cookie("hp_form").unwrap());
    let body = form(&[("csrf", &page.csrf()), ("password", password), ("confirm", password)]);
    let done = send(&w.app, Method::POST, &path, &[&form_cookie], Some(ORIGIN), &body).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/console/today");
    let again = send(&w.app, Method::POST, &path, &[&form_cookie], Some(ORIGIN), &body).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "a setup link works once");
    cookie_value(&done.set_cookie("hp_session").unwrap())
}

#[tokio::test]
async fn a_person_sets_a_password_sees_their_site_and_signs_out_on_every_node() {
    let w = world().await;
    let session = person_with_password(&w, "Somying@Post.Example", w.site, "ไปรษณีย์บางรัก 2569").await;

    let today = send(&w.app, Method::GET, "/console/today", &[&session], None, "").await;
    assert_eq!(today.status, StatusCode::OK, "{}", today.body);
    assert!(today.body.contains("ปณ. บางรัก") && today.body.contains("สมหญิง ใจดี"));
    assert!(today.body.contains("<html lang=\"th\">"));
    let csp = today.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(today.headers[header::CACHE_CONTROL], "no-store");
    let on_other_node = send(&w.other_node, Method::GET, "/console/today", &[&session], None, "").await;
    assert_eq!(on_other_node.status, StatusCode::OK, "a session works on every node");

    // Signing out needs the session's form token and this origin.
    let token = today.csrf();
    let no_token = send(&w.app, Method::POST, "/console/sign-out", &[&session], Some(ORIGIN), "csrf=x").await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let foreign = send(
        &w.app,
        Method::POST,
        "/console/sign-out",
        &[&session],
        Some("http://evil.test"),
        &form(&[("csrf", &token)]),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let no_origin =
        send(&w.app, Method::POST, "/console/sign-out", &[&session], None, &form(&[("csrf", &token)])).await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN, "a form with neither Origin nor Referer is refused");
    let out =
        send(&w.app, Method::POST, "/console/sign-out", &[&session], Some(ORIGIN), &form(&[("csrf", &token)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie("hp_session").unwrap().contains("Max-Age=0"));
    for node in [&w.app, &w.other_node] {
        let after = send(node, Method::GET, "/console/today", &[&session], None, "").await;
        assert_eq!(
            (after.status, after.location()),
            (StatusCode::SEE_OTHER, "/console/sign-in"),
            "signed out everywhere"
        );
    }

    // Signing in again with the password set.
    let page = send(&w.app, Method::GET, "/console/sign-in", &[], None, "").await;
    let form_cookie = cookie_value(&page.set_cookie("hp_form").unwrap());
    let body = form(&[("csrf", &page.csrf()), ("email", "somying@post.example"), ("password", "ไปรษณีย์บางรัก 2569")]);
    let signed_in = send(&w.app, Method::POST, "/console/sign-in", &[&form_cookie], Some(ORIGIN), &body).await;
    assert_eq!(
        (signed_in.status, signed_in.location()),
        (StatusCode::SEE_OTHER, "/console/today"),
        "{}",
        signed_in.body
    );

    let mut conn = w.db.store.read().await.unwrap();
    let log = people::list_audit(&mut conn, Workplace::Site(w.site), None, 50).await.unwrap();
    let actions: Vec<&str> = log.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["person.create", "password.set", "signout", "signin"]);
}

#[tokio::test]
async fn cookies_are_secure_host_only_over_https() {
    let w = world_with(ConsoleConfig { public_url: "https://post.example".into(), ..ConsoleConfig::default() }).await;
    let new = NewPerson {
        email: "a@post.example".into(),
        name: "ก".into(),
        workplace: Workplace::Site(w.site),
        role: PersonRole::Supervisor,
    };
    let created = create_person(&w.db.store, &w.config, new, None, "test").await.unwrap();
    let path = created.setup_link.strip_prefix("https://post.example").unwrap().to_owned();
    let page = send(&w.app, Method::GET, &path, &[], None, "").await;
    let form_cookie = page.set_cookie("hp_form").unwrap();
    assert!(
        form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Strict") && form_cookie.contains("Secure")
    );
    let body = form(&[("csrf", &page.csrf()), ("password", "0123456789ab"), ("confirm", "0123456789ab")]);
    let done =
        send(&w.app, Method::POST, &path, &[&cookie_value(&form_cookie)], Some("https://post.example"), &body).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let session = done.set_cookie("__Host-hp_session").expect("a __Host- cookie over https");
    for flag in ["Path=/", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(session.split("; ").any(|f| f == flag), "{flag} in {session}");
    }
}

#[tokio::test]
async fn a_password_too_short_or_mistyped_is_refused_next_to_the_field() {
    let w = world().await;
    let new = NewPerson {
        email: "b@post.example".into(),
        name: "ข".into(),
        workplace: Workplace::Site(w.site),
        role: PersonRole::Operator,
    };
    let created = create_person(&w.db.store, &w.config, new, None, "test").await.unwrap();
    let path = created.setup_link.strip_prefix(ORIGIN).unwrap().to_owned();
    let page = send(&w.app, Method::GET, &path, &[], None, "").await;
    let form_cookie = cookie_value(&page.set_cookie("hp_form").unwrap());
    for (password, confirm, says) in
        [("short", "short", "อย่างน้อย 10 ตัวอักษร"), ("0123456789ab", "0123456789ac", "ไม่ตรงกัน")]
    {
        let body = form(&[("csrf", &page.csrf()), ("password", password), ("confirm", confirm)]);
        let refused = send(&w.app, Method::POST, &path, &[&form_cookie], Some(ORIGIN), &body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains(says), "{}", refused.body);
        assert!(refused.body.contains("aria-describedby=\"password-error\""));
    }
    // The link still works after a refusal.
    assert_eq!(send(&w.app, Method::GET, &path, &[], None, "").await.status, StatusCode::OK);
    // Taken e-mail addresses and roles of the other kind of workplace are refused.
    let twin = NewPerson {
        email: "B@post.example".into(),
        name: "ค".into(),
        workplace: Workplace::Site(w.site),
        role: PersonRole::Operator,
    };
    assert!(
        create_person(&w.db.store, &w.config, twin, None, "test")
            .await
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
    let wrong = NewPerson {
        email: "c@post.example".into(),
        name: "ง".into(),
        workplace: Workplace::Site(w.site),
        role: PersonRole::Sender,
    };
    assert!(
        create_person(&w.db.store, &w.config, wrong, None, "test")
            .await
            .unwrap_err()
            .to_string()
            .contains("belongs to agency")
    );
}

#[tokio::test]
async fn sign_in_is_throttled_per_account() {
    let w = world().await;
    person_with_password(&w, "somchai@post.example", w.site, "ถูกต้องแน่นอน 123").await;
    let attempt = |password: &'static str| {
        let app = w.app.clone();
        async move {
            let page = send(&app, Method::GET, "/console/sign-in", &[], None, "").await;
            let form_cookie = cookie_value(&page.set_cookie("hp_form").unwrap());
            let body = form(&[("csrf", &page.csrf()), ("email", "somchai@post.example"), ("password", password)]);
            send(&app, Method::POST, "/console/sign-in", &[&form_cookie], Some(ORIGIN), &body).await
        }
    };
    for _ in 0..5 {
        let wrong = attempt("ผิด").await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.body.contains("อีเมลหรือรหัสผ่านไม่ถูกต้อง"));
    }
    let throttled = attempt("ถูกต้องแน่นอน 123").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits out the window");
    assert!(throttled.body.contains("15 นาที"));

    // A form without its cookie (another site's page posting here) is refused.
    let page = send(&w.app, Method::GET, "/console/sign-in", &[], None, "").await;
    let body = form(&[("csrf", &page.csrf()), ("email", "x@post.example"), ("password", "y")]);
    assert_eq!(
        send(&w.app, Method::POST, "/console/sign-in", &[], Some(ORIGIN), &body).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn another_sites_person_sees_only_their_own_site() {
    let w = world().await;
    let elsewhere = add_site(&w.db.store, "ปณ. เชียงใหม่", "50").await;
    let session = person_with_password(&w, "cm@post.example", elsewhere, "เชียงใหม่ 2569 ครับ").await;
    let today = send(&w.app, Method::GET, "/console/today", &[&session], None, "").await;
    assert!(today.body.contains("ปณ. เชียงใหม่"));
    assert!(!today.body.contains("ปณ. บางรัก"));
    assert_eq!(send(&w.app, Method::GET, "/console/nothing-here", &[], None, "").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_supervisor_adds_resets_and_disables_people_of_their_site_and_reads_the_audit_log() {
    let w = world().await;
    let boss = person_with_role(&w, "boss@post.example", w.site, PersonRole::Supervisor, "หัวหน้างาน 2569 ครับ").await;
    let clerk = person_with_password(&w, "clerk@post.example", w.site, "เจ้าหน้าที่ 2569 ค่ะ").await;
    let elsewhere = add_site(&w.db.store, "ปณ. เชียงใหม่", "50").await;
    let foreign = create_person(
        &w.db.store,
        &w.config,
        NewPerson {
            email: "cm@post.example".into(),
            name: "ค".into(),
            workplace: Workplace::Site(elsewhere),
            role: PersonRole::Operator,
        },
        None,
        "test",
    )
    .await
    .unwrap();

    // Operators have no such pages.
    for path in ["/console/people", "/console/audit"] {
        assert_eq!(send(&w.app, Method::GET, path, &[&clerk], None, "").await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let page = send(&w.app, Method::GET, "/console/people", &[&boss], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("clerk@post.example") && !page.body.contains("cm@post.example"));
    let token = page.csrf();

    // Adding a person shows their link once; a taken address is said next to the form.
    let add = form(&[("csrf", &token), ("name", "นายใหม่ มาดี"), ("email", "new@post.example"), ("role", "operator")]);
    let added = send(&w.app, Method::POST, "/console/people", &[&boss], Some(ORIGIN), &add).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    // The page escapes `/` in attribute values as `&#x2f;`.
    let body = added.body.replace("&#x2f;", "/");
    let at = body.find("/console/setup/").unwrap();
    let link = format!("{ORIGIN}{}", body[at..].split('"').next().unwrap());
    set_password_with(&w, &link, "พนักงานใหม่ 2569").await;
    let again = send(&w.app, Method::POST, "/console/people", &[&boss], Some(ORIGIN), &add).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("มีผู้ใช้อีเมล new@post.example อยู่แล้ว"), "{}", again.body);
    let agency_role = form(&[("csrf", &token), ("name", "ก"), ("email", "x@post.example"), ("role", "sender")]);
    assert_eq!(
        send(&w.app, Method::POST, "/console/people", &[&boss], Some(ORIGIN), &agency_role).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Another site's person is not found; this site's clerk is disabled and signed out everywhere.
    let foreign_reset = format!("/console/people/{}/reset", foreign.person.person_id);
    assert_eq!(
        send(&w.app, Method::POST, &foreign_reset, &[&boss], Some(ORIGIN), &form(&[("csrf", &token)])).await.status,
        StatusCode::NOT_FOUND
    );
    let mut conn = w.db.store.read().await.unwrap();
    let clerk_id = people::find_by_email(&mut conn, "clerk@post.example").await.unwrap().unwrap().person_id;
    drop(conn);
    let off = send(
        &w.app,
        Method::POST,
        &format!("/console/people/{clerk_id}/disable"),
        &[&boss],
        Some(ORIGIN),
        &form(&[("csrf", &token)]),
    )
    .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    let after = send(&w.other_node, Method::GET, "/console/today", &[&clerk], None, "").await;
    assert_eq!(after.location(), "/console/sign-in", "a disabled person's session ends on every node");
    let reset = send(
        &w.app,
        Method::POST,
        &format!("/console/people/{clerk_id}/reset"),
        &[&boss],
        Some(ORIGIN),
        &form(&[("csrf", &token)]),
    )
    .await;
    assert!(reset.body.replace("&#x2f;", "/").contains("/console/setup/"));

    let log = send(&w.app, Method::GET, "/console/audit", &[&boss], None, "").await;
    assert_eq!(log.status, StatusCode::OK);
    for action in ["person.create", "person.disable", "person.reset", "password.set"] {
        assert!(log.body.contains(&format!("data-action=\"{action}\"")), "{action} in the audit page");
    }
    assert!(!log.body.contains("cm@post.example"), "another site's lines are not shown");
}

/// The code an authenticator app shows for time step `step` of base32 `key`, computed by
/// Python's standard library (RFC 6238 written out again, not this crate's implementation).
fn app_code(key: &str, step: i64) -> String {
    const SCRIPT: &str = "import base64,hmac,hashlib,struct,sys\n\
        k=sys.argv[1]; key=base64.b32decode(k+'='*(-len(k)%8)); c=int(sys.argv[2])\n\
        h=hmac.new(key,struct.pack('>Q',c),hashlib.sha1).digest(); o=h[-1]&15\n\
        print('%06d'%((struct.unpack('>I',h[o:o+4])[0]&0x7fffffff)%1000000))";
    let python = std::env::var("HYBRIDPOST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python).args(["-c", SCRIPT, key, &step.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A code for a time step after `last` that the service accepts now (it allows one step of
/// drift either way), waiting for the clock when `last` is already the next step.
async fn next_code(key: &str, last: &mut i64) -> String {
    loop {
        let now = time::OffsetDateTime::now_utc().unix_timestamp() / 30;
        let step = (*last + 1).max(now);
        if step <= now + 1 {
            *last = step;
            return app_code(key, step);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Signs in with the password: the answer (a session, or the page asking for the code).
async fn sign_in_with_password(w: &World, email: &str, password: &str) -> Answer {
    let page = send(&w.app, Method::GET, "/console/sign-in", &[], None, "").await;
    let form_cookie = cookie_value(&page.set_cookie("hp_form").unwrap());
    let body = form(&[("csrf", &page.csrf()), ("email", email), ("password", password)]);
    let mut answer = send(&w.app, Method::POST, "/console/sign-in", &[&form_cookie], Some(ORIGIN), &body).await;
    // The code page comes with a fresh form token; keep the old cookie for callers when not.
    if answer.set_cookie("hp_form").is_none() {
        answer.headers.append(header::SET_COOKIE, form_cookie.parse().unwrap());
    }
    answer
}

#[tokio::test]
async fn an_authenticator_code_follows_the_password_works_once_and_a_new_password_turns_it_off() {
    const PASSWORD: &str = "รหัสผ่านยาวพอ 2569";
    let w = world().await;
    let email = "somsri@post.example";
    let session = person_with_password(&w, email, w.site, PASSWORD).await;

    // Set up: a new key, shown as a picture and as text; a wrong first code is refused there.
    let page = send(&w.app, Method::GET, "/console/account", &[&session], None, "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ยังไม่เปิดใช้"), "{}", page.body);
    let token = page.csrf();
    let begun = send(
        &w.app,
        Method::POST,
        "/console/account/authenticator/begin",
        &[&session],
        Some(ORIGIN),
        &form(&[("csrf", &token)]),
    )
    .await;
    assert_eq!((begun.status, begun.location()), (StatusCode::SEE_OTHER, "/console/account"));
    let page = send(&w.app, Method::GET, "/console/account", &[&session], None, "").await;
    let at = page.body.find("id=\"authenticator-key\">").unwrap() + 23;
    let key: String = page.body[at..].split('<').next().unwrap().split_whitespace().collect();
    assert_eq!(key.len(), 32, "160 bits in base32: {key}");
    let qr = send(&w.app, Method::GET, "/console/account/authenticator.svg", &[&session], None, "").await;
    assert_eq!(qr.status, StatusCode::OK);
    assert_eq!(qr.headers[header::CONTENT_TYPE], "image/svg+xml");
    assert!(qr.body.contains("<svg"));
    let confirm = |code: String| {
        let (app, session, token) = (w.app.clone(), session.clone(), token.clone());
        async move {
            let body = form(&[("csrf", &token), ("code", &code)]);
            send(&app, Method::POST, "/console/account/authenticator/confirm", &[&session], Some(ORIGIN), &body).await
        }
    };
    let mut last = 0;
    let right = next_code(&key, &mut last).await;
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = confirm(wrong).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("รหัสไม่ถูกต้องหรือใช้ไปแล้ว"));
    let confirmed = confirm(right.clone()).await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER, "{}", confirmed.body);
    let page = send(&w.app, Method::GET, "/console/account", &[&session], None, "").await;
    assert!(page.body.contains("เปิดใช้ตั้งแต่"), "{}", page.body);
    assert_eq!(
        send(&w.app, Method::GET, "/console/account/authenticator.svg", &[&session], None, "").await.status,
        StatusCode::NOT_FOUND,
        "the key is not shown again once it is on"
    );

    // Sign-in: the right password alone starts no session; it asks for the code.
    let asked = sign_in_with_password(&w, email, PASSWORD).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.set_cookie("hp_session").is_none(), "no session before the code");
    assert!(asked.body.contains("autocomplete=\"one-time-code\""));
    let challenge = cookie_value(&asked.set_cookie("hp_second").unwrap());
    let form_cookie = cookie_value(&asked.set_cookie("hp_form").unwrap());
    let code_token = asked.csrf();
    let send_code = |code: String, challenge: String| {
        let (app, form_cookie, code_token) = (w.app.clone(), form_cookie.clone(), code_token.clone());
        async move {
            let body = form(&[("csrf", &code_token), ("code", &code)]);
            send(&app, Method::POST, "/console/sign-in/code", &[&form_cookie, &challenge], Some(ORIGIN), &body).await
        }
    };
    // The code that turned it on has been used: refused.
    let reused = send_code(right, challenge.clone()).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "a code works once");
    let code = next_code(&key, &mut last).await;
    let signed_in = send_code(format!("{} {}", &code[..3], &code[3..]), challenge.clone()).await;
    assert_eq!(
        (signed_in.status, signed_in.location()),
        (StatusCode::SEE_OTHER, "/console/today"),
        "{}",
        signed_in.body
    );
    let second_session = cookie_value(&signed_in.set_cookie("hp_session").unwrap());
    assert_eq!(
        send(&w.other_node, Method::GET, "/console/today", &[&second_session], None, "").await.status,
        StatusCode::OK
    );
    let again = send_code("123456".into(), challenge).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "a half-done sign-in finishes once");
    assert!(again.body.contains("หมดเวลาพิมพ์รหัส"), "{}", again.body);

    // Wrong codes count against the account like wrong passwords: five, then it waits.
    let asked = sign_in_with_password(&w, email, PASSWORD).await;
    let challenge = cookie_value(&asked.set_cookie("hp_second").unwrap());
    let (form_cookie, code_token) = (cookie_value(&asked.set_cookie("hp_form").unwrap()), asked.csrf());
    let guess = |n: u32| {
        let (app, form_cookie, code_token, challenge) =
            (w.app.clone(), form_cookie.clone(), code_token.clone(), challenge.clone());
        async move {
            let body = form(&[("csrf", &code_token), ("code", &format!("{n:06}"))]);
            send(&app, Method::POST, "/console/sign-in/code", &[&form_cookie, &challenge], Some(ORIGIN), &body).await
        }
    };
    // Guesses none of the codes the service would take in the next minute.
    let now = time::OffsetDateTime::now_utc().unix_timestamp() / 30;
    let live: Vec<String> = (now - 1..=now + 2).map(|step| app_code(&key, step)).collect();
    let mut guesses = (0..1_000_000).filter(|n| !live.contains(&format!("{n:06}")));
    for _ in 0..5 {
        assert_eq!(guess(guesses.next().unwrap()).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(guess(guesses.next().unwrap()).await.status, StatusCode::TOO_MANY_REQUESTS);

    // Lost phone: a supervisor's new set-password link turns the code off.
    let person = {
        let mut conn = w.db.store.read().await.unwrap();
        people::find_by_email(&mut conn, email).await.unwrap().unwrap()
    };
    let mut tx = w.db.store.begin().await.unwrap();
    people::clear_signin_failures(&mut tx, &format!("email:{email}"), "").await.unwrap();
    tx.commit().await.unwrap();
    let link =
        hybridpost_console::people::new_setup_link(&w.db.store, &w.config, &person, &person, "test").await.unwrap();
    set_password_with(&w, &link.setup_link, "รหัสผ่านใหม่ 2570").await;
    let direct = sign_in_with_password(&w, email, "รหัสผ่านใหม่ 2570").await;
    assert_eq!(direct.status, StatusCode::SEE_OTHER, "no code asked after the reset: {}", direct.body);

    let mut conn = w.db.store.read().await.unwrap();
    let log = people::list_audit(&mut conn, Workplace::Site(w.site), None, 100).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
    for action in ["authenticator.on", "authenticator.code_failed", "signin.code_failed", "signin.throttled"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        log.iter()
            .any(|a| a.action == "password.set"
                && a.detail.as_ref().is_some_and(|d| d.to_string().contains("turned off"))),
        "the reset's line says the code was turned off"
    );
}

/// A stored letter of `agency` (as the API stores one), `n` making its reference and name.
fn agency_letter(agency: hybridpost_core::AgencyId, n: usize, status: LetterStatus, test: bool) -> LetterRecord {
    LetterRecord {
        letter_id: hybridpost_core::LetterId::new(),
        agency_id: agency,
        reference: format!("พท {n:04}"),
        status,
        channel: if n.is_multiple_of(3) { Channel::Digital } else { Channel::Print },
        channel_reason: ChannelReason::NoCitizenId,
        test,
        postcode: "10400".into(),
        citizen_id_hash: None,
        reply_deadline: None,
        content: serde_json::json!({"subject": "แจ้งผล", "recipient": {"name": format!("ผู้รับ ที่ {n}")}}),
        created_at: now_text(),
        updated_at: now_text(),
        seal: None,
        withdrawn: None,
    }
}

/// An agency person with a password; their session cookie.
async fn agency_person(w: &World, agency: hybridpost_core::AgencyId, email: &str, role: PersonRole) -> String {
    let new = NewPerson {
        email: email.into(), name: "สมศรี ธุรการ".into(), workplace: Workplace::Agency(agency), role
    };
    let created = create_person(&w.db.store, &w.config, new, None, "test").await.unwrap();
    set_password_with(w, &created.setup_link, "หน่วยงาน 2569 ค่ะ").await
}

fn rows(body: &str) -> usize {
    body.matches("<tr data-status=").count()
}

#[tokio::test]
async fn an_agencys_people_search_page_and_act_on_their_own_letters_only() {
    let w = world().await;
    let (agency, elsewhere) = (Agency::new("สำนักงานเขตพญาไท"), Agency::new("เทศบาลนครเชียงใหม่"));
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_agency(&mut tx, &elsewhere).await.unwrap();
    // 120 live letters (every tenth cancelled), one test letter, one letter of another agency.
    let mut all: Vec<LetterRecord> = (0..120)
        .map(|n| {
            let status = if n % 10 == 0 { LetterStatus::Cancelled } else { LetterStatus::QueuedForPrint };
            agency_letter(agency.agency_id, n, status, false)
        })
        .collect();
    all.push(agency_letter(agency.agency_id, 500, LetterStatus::QueuedForPrint, true));
    all.push(agency_letter(elsewhere.agency_id, 600, LetterStatus::QueuedForPrint, false));
    letters::insert_letters(&mut tx, &all).await.unwrap();
    tx.commit().await.unwrap();
    let (test_letter, foreign) = (all[120].letter_id, all[121].letter_id);

    let viewer = agency_person(&w, agency.agency_id, "viewer@phayathai.example", PersonRole::Viewer).await;
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let operator = person_with_password(&w, "op@post.example", w.site, "ไปรษณีย์ 2569 ครับ").await;
    let get = |cookie: &str, path: &str| {
        let (app, cookie, path) = (w.app.clone(), cookie.to_owned(), path.to_owned());
        async move { send(&app, Method::GET, &path, &[&cookie], None, "").await }
    };

    // A post office's people have no letters pages; agency people start from theirs.
    assert_eq!(get(&operator, "/console/letters").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&viewer, "/console/today").await.location(), "/console/letters");
    assert_eq!(get(&viewer, "/console/batches").await.status, StatusCode::NOT_FOUND, "no print pages for agencies");

    // Fifty a screen, newest first, then the older ones: 120 live letters in all.
    let mut seen = 0;
    let mut path = "/console/letters".to_owned();
    loop {
        let page = get(&viewer, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen += rows(&page.body);
        let body = page.body.replace("&#x2f;", "/").replace("&amp;", "&");
        match body
            .find("href=\"/console/letters?before=")
            .map(|at| body[at + 6..].split('"').next().unwrap().to_owned())
        {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(seen, 120);
    let first = get(&viewer, "/console/letters").await;
    assert!(first.body.find("พท 0119").unwrap() < first.body.find("พท 0118").unwrap(), "newest first");
    assert!(!first.body.contains("พท 0500") && !first.body.contains("พท 0600"), "no test or foreign letters");

    // Searches: the start of a name or of a reference, status, channel, dates.
    let count = |q: &'static str| {
        let get = &get;
        let viewer = viewer.clone();
        async move {
            let page = get(&viewer, &format!("/console/letters?{q}")).await;
            assert_eq!(page.status, StatusCode::OK, "{q}: {}", page.body);
            rows(&page.body)
        }
    };
    assert_eq!(
        count("q=%E0%B8%9C%E0%B8%B9%E0%B9%89%E0%B8%A3%E0%B8%B1%E0%B8%9A+%E0%B8%97%E0%B8%B5%E0%B9%88+7").await,
        11,
        "ผู้รับ ที่ 7, 70–79"
    );
    assert_eq!(count("q=%E0%B8%9E%E0%B8%97+0011").await, 1, "พท 0011");
    assert_eq!(count("q=%25").await, 0, "a % is a character, not a wildcard");
    assert_eq!(count("status=cancelled").await, 12);
    assert_eq!(count("channel=digital").await, 40);
    assert_eq!(count("status=cancelled&channel=digital").await, 4, "0, 30, 60, 90");
    assert_eq!(count("from=2000-01-01&to=2999-12-31").await, 50, "a full screen");
    assert_eq!(count("from=2999-01-01").await, 0);
    let bad = get(&viewer, "/console/letters?status=lost&from=31-12-2569").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("สถานะไม่ถูกต้อง") && bad.body.contains("ปปปป-ดด-วว"), "{}", bad.body);

    // Test letters only in test mode, and each letter only in its own mode and agency.
    let test_page = get(&viewer, "/console/letters?mode=test").await;
    assert_eq!(rows(&test_page.body), 1);
    assert!(test_page.body.contains("พท 0500") && test_page.body.contains("โหมดทดสอบ"));
    assert_eq!(get(&viewer, &format!("/console/letters/{test_letter}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&viewer, &format!("/console/letters/{test_letter}?mode=test")).await.status, StatusCode::OK);
    for path in [format!("/console/letters/{foreign}"), format!("/console/letters/{foreign}/proof.pdf")] {
        assert_eq!(get(&sender, &path).await.status, StatusCode::NOT_FOUND, "{path}");
    }

    // Cancel: a viewer cannot; a sender can, once; a form without the token is refused.
    let queued = all[11].letter_id;
    let page = get(&sender, &format!("/console/letters/{queued}")).await;
    assert!(page.body.contains("id=\"cancel\""));
    assert!(!get(&viewer, &format!("/console/letters/{queued}")).await.body.contains("id=\"cancel\""));
    let cancel = |cookie: &str, token: &str| {
        let (app, cookie, body) = (w.app.clone(), cookie.to_owned(), form(&[("csrf", token)]));
        async move {
            send(&app, Method::POST, &format!("/console/letters/{queued}/cancel"), &[&cookie], Some(ORIGIN), &body)
                .await
        }
    };
    let viewer_token = get(&viewer, "/console/letters").await.csrf();
    assert_eq!(cancel(&viewer, &viewer_token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(cancel(&sender, "not the token").await.status, StatusCode::FORBIDDEN);
    let done = cancel(&sender, &page.csrf()).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, format!("/console/letters/{queued}").as_str()));
    let again = cancel(&sender, &page.csrf()).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("ทำรายการนี้กับหนังสือในสถานะนี้ไม่ได้แล้ว"), "{}", again.body);
    let mut conn = w.db.store.read().await.unwrap();
    let scope = hybridpost_core::AgencyScope { agency_id: agency.agency_id, test: false };
    let letter = letters::get_letter(&mut conn, scope, queued).await.unwrap().unwrap();
    assert_eq!(letter.status, LetterStatus::Cancelled);
    assert_eq!(letter.withdrawn.map(|w| w.0).as_deref(), Some("cancelled"), "its seal stops verifying");
    let log = people::list_audit(&mut conn, Workplace::Agency(agency.agency_id), None, 20).await.unwrap();
    assert!(log.iter().any(|a| a.action == "letter.cancel" && a.target.as_deref() == Some("พท 0011")), "{log:?}");
}

#[tokio::test]
async fn an_agency_admin_sets_the_contact_and_makes_and_revokes_keys_and_no_one_else_can() {
    let w = world().await;
    let (agency, elsewhere) = (Agency::new("สำนักงานเขตพญาไท"), Agency::new("เทศบาลนครเชียงใหม่"));
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_agency(&mut tx, &elsewhere).await.unwrap();
    tx.commit().await.unwrap();
    let admin = agency_person(&w, agency.agency_id, "admin@phayathai.example", PersonRole::Admin).await;
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let foreign = agency_person(&w, elsewhere.agency_id, "admin@chiangmai.example", PersonRole::Admin).await;
    let operator = person_with_password(&w, "op@post.example", w.site, "ไปรษณีย์ 2569 ครับ").await;
    for who in [&sender, &operator] {
        assert_eq!(
            send(&w.app, Method::GET, "/console/settings", &[who], None, "").await.status,
            StatusCode::NOT_FOUND
        );
    }
    let page = send(&w.app, Method::GET, "/console/settings", &[&admin], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = page.csrf();
    let post = |cookie: &str, path: &str, body: String| {
        let (app, cookie, path) = (w.app.clone(), cookie.to_owned(), path.to_owned());
        async move { send(&app, Method::POST, &path, &[&cookie], Some(ORIGIN), &body).await }
    };

    // The contact e-mail: a bad one is said next to the field; a good one is kept.
    let bad =
        post(&admin, "/console/settings/contact", form(&[("csrf", &token), ("contact", "saraban at phayathai")])).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"contact-error\"") && bad.body.contains("saraban at phayathai"));
    let good =
        post(&admin, "/console/settings/contact", form(&[("csrf", &token), ("contact", "saraban@phayathai.example")]))
            .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    let mut conn = w.db.store.read().await.unwrap();
    let stored = agencies::get_agency(&mut conn, agency.agency_id).await.unwrap().unwrap();
    assert_eq!(stored.contact_email.as_deref(), Some("saraban@phayathai.example"));
    drop(conn);

    // A test key, shown once, works for test letters; revoked, it does not; another agency's
    // admin cannot revoke it.
    let made = post(&admin, "/console/settings/keys", form(&[("csrf", &token), ("mode", "test")])).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let needle = "id=\"new-key\" class=\"mono wide\" readonly value=\"";
    let at = made.body.find(needle).unwrap() + needle.len();
    let key = made.body[at..].split('"').next().unwrap().to_owned();
    assert!(key.starts_with("hpk_test_"), "{key}");
    let hash = hybridpost_web::auth::hash_api_key(&key);
    let mut conn = w.db.store.read().await.unwrap();
    let record = agencies::find_api_key(&mut conn, &hash).await.unwrap().expect("the new key works");
    assert_eq!(record.principal, agencies::Principal::Agency { agency_id: agency.agency_id, test: true });
    drop(conn);
    let again = send(&w.app, Method::GET, "/console/settings", &[&admin], None, "").await;
    assert!(!again.body.contains(&key), "the key is shown once");
    let revoke = format!("/console/settings/keys/{}/revoke", record.key_id);
    let foreign_token = send(&w.app, Method::GET, "/console/settings", &[&foreign], None, "").await.csrf();
    assert_eq!(post(&foreign, &revoke, form(&[("csrf", &foreign_token)])).await.status, StatusCode::NOT_FOUND);
    assert_eq!(post(&sender, &revoke, form(&[("csrf", &token)])).await.status, StatusCode::NOT_FOUND);
    assert_eq!(post(&admin, &revoke, form(&[("csrf", &token)])).await.status, StatusCode::SEE_OTHER);
    let mut conn = w.db.store.read().await.unwrap();
    assert_eq!(agencies::find_api_key(&mut conn, &hash).await.unwrap(), None, "revoked");
    let log = people::list_audit(&mut conn, Workplace::Agency(agency.agency_id), None, 20).await.unwrap();
    for action in ["agency.contact", "apikey.create", "apikey.revoke"] {
        assert!(log.iter().any(|a| a.action == action), "{action} in {log:?}");
    }
}

#[tokio::test]
async fn an_agency_admin_adds_people_with_agency_roles_only() {
    let w = world().await;
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    tx.commit().await.unwrap();
    let admin = agency_person(&w, agency.agency_id, "admin@phayathai.example", PersonRole::Admin).await;
    let page = send(&w.app, Method::GET, "/console/people", &[&admin], None, "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ผู้ใช้งานของหน่วยงานนี้") && page.body.contains("value=\"sender\" checked"));
    assert!(!page.body.contains("value=\"operator\""), "no post-office roles offered to an agency");
    let add = |role: &'static str, email: &'static str| {
        let (app, admin, token) = (w.app.clone(), admin.clone(), page.csrf());
        async move {
            let body = form(&[("csrf", &token), ("name", "สมใจ ส่งหนังสือ"), ("email", email), ("role", role)]);
            send(&app, Method::POST, "/console/people", &[&admin], Some(ORIGIN), &body).await
        }
    };
    assert_eq!(add("sender", "sender@phayathai.example").await.status, StatusCode::CREATED);
    assert_eq!(add("operator", "op@phayathai.example").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut conn = w.db.store.read().await.unwrap();
    let added = people::find_by_email(&mut conn, "sender@phayathai.example").await.unwrap().unwrap();
    assert_eq!((added.workplace, added.role), (Workplace::Agency(agency.agency_id), PersonRole::Sender));
    assert_eq!(people::find_by_email(&mut conn, "op@phayathai.example").await.unwrap(), None);
}

/// The columns of the mail-merge file in the tests, as a district office would name them.
const MERGE_COLUMNS: [&str; 15] = [
    "เลขที่หนังสือ",
    "ชื่อ-นามสกุล",
    "เลขประจำตัวประชาชน",
    "บ้านเลขที่",
    "ถนน",
    "แขวง",
    "เขต",
    "จังหวัด",
    "รหัสไปรษณีย์",
    "office",
    "tax_year",
    "parcel",
    "assessed_value",
    "tax_amount",
    "due_date",
];

/// Row `n` of the file (spreadsheet row `n + 2`), right unless `broken` says which way not.
fn merge_row(n: usize, broken: Option<&str>) -> Vec<String> {
    let mut row: Vec<String> = [
        format!("กท 5301/ภ {n:04}"),
        format!("นายสมชาย ใจดี {n}"),
        String::new(),
        format!("{}/1", n + 1),
        "พหลโยธิน".into(),
        "สามเสนใน".into(),
        "พญาไท".into(),
        "กรุงเทพมหานคร".into(),
        "10400".into(),
        "สำนักงานเขตพญาไท".into(),
        "2570".into(),
        format!("ที่ดินโฉนดเลขที่ {}", 1000 + n),
        "2450000".into(),
        "1225.5".into(),
        "2027-04-30".into(),
    ]
    .into();
    match broken {
        Some("postcode") => row[8] = "10399".into(),
        Some("name") => row[1] = String::new(),
        Some("citizen_id") => row[2] = "1101700230709".into(),
        _ => {}
    }
    row
}

/// An XLSX file of `rows` letters, with the rows in `broken` wrong.
fn merge_xlsx(rows: usize, broken: &[(usize, &str)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in MERGE_COLUMNS.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    for n in 0..rows {
        let fault = broken.iter().find(|(row, _)| *row == n).map(|(_, f)| *f);
        for (c, value) in merge_row(n, fault).iter().enumerate() {
            // Numbers as an office's spreadsheet holds them: the amounts and postcode as numbers.
            match (c, value.parse::<f64>()) {
                (8 | 10 | 12 | 13, Ok(number)) => sheet.write_number(n as u32 + 1, c as u16, number).unwrap(),
                _ => sheet.write_string(n as u32 + 1, c as u16, value).unwrap(),
            };
        }
    }
    book.save_to_buffer().unwrap()
}

/// A multipart form: the form token first, then `fields`, then the file.
fn multipart(csrf: &str, fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    multipart_with(csrf, fields, "file", file)
}

/// A multipart form whose file is field `file_field`.
fn multipart_with(
    csrf: &str,
    fields: &[(&str, &str)],
    file_field: &str,
    file: Option<(&str, &[u8])>,
) -> (String, Vec<u8>) {
    let boundary = "hybridpost-test-boundary-7e3f";
    let mut body = Vec::new();
    for (name, value) in std::iter::once(&("csrf", csrf)).chain(fields) {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(w: &World, path: &str, cookie: &str, content_type: &str, body: Vec<u8>) -> Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    let res = w.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Answer { status, headers, body }
}

/// The agency API's state over the console's store: its batch worker sends what the console
/// submits.
fn gateway(w: &World, blobs: &std::path::Path) -> hybridpost_gateway::AppState {
    let store = w.db.store.clone();
    let secret = hybridpost_seal::ServiceSecret::new(&[7u8; 32]).unwrap();
    hybridpost_gateway::AppState::new(
        store.clone(),
        hybridpost_web::auth::ApiKeys::new(store.clone(), hybridpost_web::rate_limit::RateLimiter::new(0, 0)),
        hybridpost_gateway::GatewayConfig {
            citizen_id_key: std::sync::Arc::from(&b"console test citizen key"[..]),
            max_body_bytes: 1 << 20,
            webhook_allow_private_targets: false,
        },
        hybridpost_compose::Composer::new(hybridpost_keyring::Keyring::new(store.clone(), secret), ORIGIN),
        hybridpost_store::testing::test_blobs(blobs, 1 << 20),
    )
}

/// The choices a sender makes for the tax notices.
fn tax_notice_choices(csrf: &str) -> String {
    form(&[
        ("csrf", csrf),
        ("template", "tax-notice"),
        ("layout", "official"),
        ("language", "th"),
        ("subject", "แจ้งการประเมินภาษีที่ดินและสิ่งปลูกสร้าง ประจำปีภาษี ๒๕๗๐"),
        ("signatory_name", "นางสาวสมศรี รักงาน"),
        ("signatory_position", "ผู้อำนวยการเขตพญาไท"),
        ("contact", "ฝ่ายรายได้ โทร. 0 2279 0000"),
        ("reply_deadline", ""),
        ("col.reference", "เลขที่หนังสือ"),
        ("col.name", "ชื่อ-นามสกุล"),
        ("col.citizen_id", "เลขประจำตัวประชาชน"),
        ("col.house_number", "บ้านเลขที่"),
        ("col.road", "ถนน"),
        ("col.subdistrict", "แขวง"),
        ("col.district", "เขต"),
        ("col.province", "จังหวัด"),
        ("col.postcode", "รหัสไปรษณีย์"),
        ("col.data.office", "office"),
        ("col.data.tax_year", "tax_year"),
        ("col.data.parcel", "parcel"),
        ("col.data.assessed_value", "assessed_value"),
        ("col.data.tax_amount", "tax_amount"),
        ("col.data.due_date", "due_date"),
    ])
}

/// Uploads `xlsx` as a new draft and makes the tax-notice choices; the draft's path.
async fn merge_draft(w: &World, cookie: &str, name: &str, xlsx: &[u8]) -> String {
    let page = send(&w.app, Method::GET, "/console/send-many", &[cookie], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (content_type, body) = multipart(&page.csrf(), &[("template", "tax-notice")], Some((name, xlsx)));
    let uploaded = upload(w, "/console/send-many", cookie, &content_type, body).await;
    assert_eq!(uploaded.status, StatusCode::SEE_OTHER, "{}", uploaded.body);
    let draft = uploaded.location().to_owned();
    assert!(draft.starts_with("/console/send-many/drafts/"), "{draft}");
    let page = send(&w.app, Method::GET, &draft, &[cookie], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let saved = send(&w.app, Method::POST, &draft, &[cookie], Some(ORIGIN), &tax_notice_choices(&page.csrf())).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    draft
}

#[tokio::test]
async fn a_sender_merges_a_spreadsheet_sees_every_problem_fixes_it_sends_once_and_no_one_else_can() {
    let w = world().await;
    let (agency, elsewhere) = (Agency::new("สำนักงานเขตพญาไท"), Agency::new("เทศบาลนครเชียงใหม่"));
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_agency(&mut tx, &elsewhere).await.unwrap();
    tx.commit().await.unwrap();
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let viewer = agency_person(&w, agency.agency_id, "viewer@phayathai.example", PersonRole::Viewer).await;
    let foreign = agency_person(&w, elsewhere.agency_id, "sender@chiangmai.example", PersonRole::Sender).await;
    let blobs = tempfile::tempdir().unwrap();
    let api = gateway(&w, blobs.path());
    let get = |cookie: &str, path: &str| {
        let (app, cookie, path) = (w.app.clone(), cookie.to_owned(), path.to_owned());
        async move { send(&app, Method::GET, &path, &[&cookie], None, "").await }
    };

    // 40 rows; rows 5, 17 and 31 of the spreadsheet (letters 3, 15 and 29) are wrong.
    let broken = [(3, "postcode"), (15, "name"), (29, "citizen_id")];
    let draft = merge_draft(&w, &sender, "ภาษี 2570.xlsx", &merge_xlsx(40, &broken)).await;
    let page = get(&sender, &draft).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("ปัญหาที่ต้องแก้ไข 3 รายการ"), "every problem, in one view: {}", page.body);
    for row in [5, 17, 31] {
        assert!(page.body.contains(&format!("<tr data-row=\"{row}\">")), "row {row} is listed");
    }
    assert!(page.body.contains("10400"), "the wrong postcode's suggestion is shown");
    assert!(!page.body.contains("id=\"send\""), "no send button while there are problems");
    let csv = get(&sender, &format!("{draft}/problems.csv")).await;
    assert_eq!(csv.body.lines().count(), 4, "a header and the three problems: {}", csv.body);

    // Any row's letter as a PDF, before anything is sent.
    let preview = get(&sender, &format!("{draft}/preview?row=17")).await;
    assert_eq!(preview.location(), format!("{draft}/rows/17/preview.pdf"));
    let pdf = get(&sender, &format!("{draft}/rows/18/preview.pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK, "{}", pdf.body);
    assert_eq!(pdf.headers[header::CONTENT_TYPE], "application/pdf");
    assert!(pdf.body.starts_with("%PDF"));
    assert_eq!(get(&sender, &format!("{draft}/rows/99/preview.pdf")).await.status, StatusCode::NOT_FOUND);

    // Sending with problems sends nothing.
    let refused = send(
        &w.app,
        Method::POST,
        &format!("{draft}/send"),
        &[&sender],
        Some(ORIGIN),
        &form(&[("csrf", &page.csrf())]),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let counts = |w: &World| {
        let store = w.db.store.clone();
        async move {
            let mut conn = store.read().await.unwrap();
            letters::count_letters(&mut conn).await.unwrap()
        }
    };
    assert_eq!(counts(&w).await, 0);

    // The fixed file, uploaded again onto the draft: the choices stay, every row is ready.
    let (content_type, body) = multipart(&page.csrf(), &[], Some(("ภาษี 2570 แก้ไข.xlsx", &merge_xlsx(40, &[]))));
    let again = upload(&w, &format!("{draft}/file"), &sender, &content_type, body).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let ready = get(&sender, &draft).await;
    assert!(ready.body.contains("id=\"ready\""), "{}", ready.body);
    let sent = send(
        &w.app,
        Method::POST,
        &format!("{draft}/send"),
        &[&sender],
        Some(ORIGIN),
        &form(&[("csrf", &ready.csrf())]),
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let batch = sent.location().to_owned();
    assert!(batch.starts_with("/console/send-many/") && !batch.contains("drafts"), "{batch}");
    let progress = get(&sender, &batch).await;
    assert!(progress.body.contains("http-equiv=\"refresh\""), "the page follows the batch while it is sent");
    while hybridpost_gateway::send_one_batch(&api).await.unwrap() {}
    assert_eq!(counts(&w).await, 40);
    let done = get(&sender, &batch).await;
    assert!(done.body.contains("<span id=\"sent\">40</span>"), "{}", done.body);
    assert!(!done.body.contains("http-equiv=\"refresh\""));
    let result = get(&sender, &format!("{batch}/result.csv")).await;
    let lines: Vec<&str> = result.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "row,letter_id,channel,status,error");
    assert_eq!(lines.len(), 41);
    assert!(lines[1].starts_with("2,") && lines[1].ends_with(",print,queued_for_print,"), "{}", lines[1]);
    // The draft now leads to its batch; the agency's audit log has the upload and the send.
    assert_eq!(get(&sender, &draft).await.location(), batch);

    // The same file in a new draft with the same choices: nothing is sent twice.
    let second = merge_draft(&w, &sender, "ภาษี 2570 แก้ไข.xlsx", &merge_xlsx(40, &[])).await;
    let page = get(&sender, &second).await;
    let resent = send(
        &w.app,
        Method::POST,
        &format!("{second}/send"),
        &[&sender],
        Some(ORIGIN),
        &form(&[("csrf", &page.csrf())]),
    )
    .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    while hybridpost_gateway::send_one_batch(&api).await.unwrap() {}
    let resent_page = get(&sender, resent.location()).await;
    assert!(resent_page.body.contains("<span id=\"sent\">0</span>"), "{}", resent_page.body);
    assert!(resent_page.body.contains("<span id=\"sent-before\">40</span>"));
    assert_eq!(counts(&w).await, 40, "no letter sent twice");

    // A viewer follows batches but cannot upload or open a draft; another agency sees nothing.
    let viewer_page = get(&viewer, "/console/send-many").await;
    assert_eq!(viewer_page.status, StatusCode::OK);
    assert!(!viewer_page.body.contains("enctype=\"multipart/form-data\""), "no upload form for a viewer");
    let (content_type, body) = multipart(&viewer_page.csrf(), &[], Some(("x.xlsx", &merge_xlsx(2, &[]))));
    assert_eq!(upload(&w, "/console/send-many", &viewer, &content_type, body).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&viewer, &draft).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&viewer, &batch).await.status, StatusCode::OK);
    for path in [draft.clone(), format!("{draft}/rows/2/preview.pdf"), batch.clone(), format!("{batch}/result.csv")] {
        assert_eq!(get(&foreign, &path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let foreign_list = get(&foreign, "/console/send-many").await;
    assert!(foreign_list.body.contains("id=\"no-batches\""), "another agency's batches are not listed");

    // A file that is not a spreadsheet gets a message next to the field, and nothing is kept.
    let (content_type, body) = multipart(&page.csrf(), &[], Some(("letters.xlsx", b"not a spreadsheet")));
    let bad = upload(&w, "/console/send-many", &sender, &content_type, body).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"upload-error\""), "{}", bad.body);
    // Without the form token, nothing is read.
    let (content_type, body) = multipart("wrong", &[], Some(("x.xlsx", &merge_xlsx(2, &[]))));
    assert_eq!(upload(&w, "/console/send-many", &sender, &content_type, body).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_sender_checks_proofs_and_sends_one_letter_from_the_form_and_no_one_else_can() {
    let w = world().await;
    let (agency, elsewhere) = (Agency::new("สำนักงานเขตพญาไท"), Agency::new("เทศบาลนครเชียงใหม่"));
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_agency(&mut tx, &elsewhere).await.unwrap();
    tx.commit().await.unwrap();
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let viewer = agency_person(&w, agency.agency_id, "viewer@phayathai.example", PersonRole::Viewer).await;
    let operator = person_with_password(&w, "op@post.example", w.site, "ไปรษณีย์ 2569 ครับ").await;
    let blobs = tempfile::tempdir().unwrap();
    let api = gateway(&w, blobs.path());
    // The batch worker, as `serve` runs it beside the API.
    let worker = tokio::spawn(hybridpost_gateway::run_worker(api));

    let page = send(&w.app, Method::GET, "/console/send-one", &[&sender], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let letter = |postcode: &'static str, action: &'static str| {
        form(&[
            ("csrf", &csrf),
            ("action", action),
            ("reference", "กท 5301/ว 77"),
            ("recipient_name", "นางสมใจ รักษ์ดี"),
            ("house_number", "12/3"),
            ("postcode", postcode),
            ("subdistrict", "สามเสนใน"),
            ("district", "พญาไท"),
            ("province", "กรุงเทพมหานคร"),
            ("subject", "ขอเชิญประชุมประชาคม"),
            ("body", "ด้วยสำนักงานเขตพญาไทจะจัดประชุม\r\n\r\nจึงเรียนมาเพื่อโปรดเข้าร่วม"),
            ("layout", "official"),
            ("language", "th"),
        ])
    };
    let count = || {
        let store = w.db.store.clone();
        async move { letters::count_letters(&mut store.read().await.unwrap()).await.unwrap() }
    };

    // A wrong postcode: the problem next to its field, with the right one; nothing sent, even
    // when Send is pressed.
    for action in ["check", "send"] {
        let checked =
            send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &letter("10399", action)).await;
        assert_eq!(checked.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", checked.body);
        assert!(checked.body.contains("id=\"e-postcode\""), "{}", checked.body);
        assert!(checked.body.contains("รหัสไปรษณีย์ 10399") && checked.body.contains("10400"));
        assert!(checked.body.contains("value=\"นางสมใจ รักษ์ดี\""), "what was typed stays");
    }
    assert_eq!(count().await, 0);
    let ready =
        send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &letter("10400", "check")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(ready.body.contains("id=\"ready\""), "{}", ready.body);
    // The proof, as it will print.
    let proof =
        send(&w.app, Method::POST, "/console/send-one/proof", &[&sender], Some(ORIGIN), &letter("10400", "")).await;
    assert_eq!(proof.status, StatusCode::OK, "{}", proof.body);
    assert_eq!(proof.headers[header::CONTENT_TYPE], "application/pdf");
    // Sent: the clerk lands on the letter's page; sending the same form again sends nothing new.
    let sent =
        send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &letter("10400", "send")).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert!(sent.location().starts_with("/console/letters/"), "{}", sent.location());
    let again =
        send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &letter("10400", "send")).await;
    assert_eq!(again.location(), sent.location(), "the same letter, not a second one");
    assert_eq!(count().await, 1);
    let shown = send(&w.app, Method::GET, sent.location(), &[&sender], None, "").await;
    assert!(shown.body.contains("กท 5301&#x2f;ว 77"), "{}", shown.body);

    // The address help: a postcode's places from the official table, for agency people only.
    let places = send(&w.app, Method::GET, "/console/postcodes/10400", &[&sender], None, "").await;
    let places: serde_json::Value = serde_json::from_str(&places.body).unwrap();
    assert!(places["places"].as_array().unwrap().iter().any(|p| p[0] == "สามเสนใน" && p[1] == "พญาไท"), "{places}");
    assert_eq!(
        send(&w.app, Method::GET, "/console/postcodes/10400", &[&operator], None, "").await.status,
        StatusCode::NOT_FOUND
    );
    // A viewer cannot send; without the form token nothing is read.
    assert_eq!(
        send(&w.app, Method::GET, "/console/send-one", &[&viewer], None, "").await.status,
        StatusCode::FORBIDDEN
    );
    let viewer_send = letter("10400", "send")
        .replace(&csrf, &send(&w.app, Method::GET, "/console/letters", &[&viewer], None, "").await.csrf());
    assert_eq!(
        send(&w.app, Method::POST, "/console/send-one", &[&viewer], Some(ORIGIN), &viewer_send).await.status,
        StatusCode::FORBIDDEN
    );
    let forged = letter("10400", "send").replace(&csrf, "forged");
    assert_eq!(
        send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &forged).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(count().await, 1);
    worker.abort();
}

#[tokio::test]
async fn the_form_marks_a_letter_urgent_or_secret_dates_it_and_chooses_its_digits() {
    let w = world().await;
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    tx.commit().await.unwrap();
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let page = send(&w.app, Method::GET, "/console/send-one", &[&sender], None, "").await;
    assert!(page.body.contains("id=\"f-urgency\"") && page.body.contains("ด่วนที่สุด"), "{}", page.body);
    let csrf = page.csrf();
    let letter = |secrecy: &'static str, action: &'static str| {
        form(&[
            ("csrf", &csrf),
            ("action", action),
            ("reference", "กท 5301/ว 78"),
            ("recipient_name", "นายอำเภอเมือง"),
            ("recipient_position", "นายอำเภอเมืองเชียงใหม่"),
            ("house_number", "12"),
            ("postcode", "10400"),
            ("subdistrict", "สามเสนใน"),
            ("district", "พญาไท"),
            ("province", "กรุงเทพมหานคร"),
            ("subject", "ขอความอนุเคราะห์ข้อมูล"),
            ("body", "ด้วยสำนักงานเขตขอความอนุเคราะห์ข้อมูล 12 รายการ"),
            ("layout", "official"),
            ("language", "th"),
            ("urgency", "most_urgent"),
            ("secrecy", secrecy),
            ("digits", "arabic"),
            ("letter_date", "2025-10-01"),
        ])
    };
    // A classified letter from an agency not allowed to send one: said next to the field.
    let refused =
        send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &letter("secret", "check")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("id=\"e-secrecy\"") && refused.body.contains("หนังสือลับ"), "{}", refused.body);
    assert!(refused.body.contains("<option value=\"secret\" selected>"), "the choice stays");
    // The letter's date is checked: more than a year ago is refused next to its field.
    let old = send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &letter("", "check")).await;
    assert!(old.body.contains("id=\"e-letter_date\""), "{}", old.body);
    // The proof: urgent, addressed to the position, in Arabic digits, dated as asked.
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date().to_string();
    let dated = letter("", "").replace("2025-10-01", &today);
    let (status, proof) = posted_bytes(&w, "/console/send-one/proof", &sender, &dated).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&proof));
    let dir = pdfs::scratch();
    let text = pdfs::run("pdftotext", &[pdfs::arg(&pdfs::write(dir.path(), "urgent.pdf", &proof)), "-"]);
    for part in ["ด่วนที่สุด", "เรียน นายอำเภอเมืองเชียงใหม่", "กท 5301/ว 78", "12 รายการ"]
    {
        assert!(text.contains(part), "{part:?} in the proof:\n{text}");
    }
}

#[tokio::test]
async fn a_letter_sent_from_the_form_for_later_waits_and_is_cancelled_before_its_time() {
    let w = world().await;
    let agency = Agency::new("สำนักงานเขตพญาไท");
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    tx.commit().await.unwrap();
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let blobs = tempfile::tempdir().unwrap();
    let api = gateway(&w, blobs.path());
    let page = send(&w.app, Method::GET, "/console/send-one", &[&sender], None, "").await;
    let later = (time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7))
        + std::time::Duration::from_secs(3 * 86400))
    .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"))
    .unwrap();
    let body = form(&[
        ("csrf", &page.csrf()),
        ("action", "send"),
        ("reference", "กท 5301/ว 78"),
        ("recipient_name", "นางสมใจ รักษ์ดี"),
        ("house_number", "12/3"),
        ("postcode", "10400"),
        ("subdistrict", "สามเสนใน"),
        ("district", "พญาไท"),
        ("province", "กรุงเทพมหานคร"),
        ("subject", "ขอเชิญประชุมประชาคม"),
        ("body", "ด้วยสำนักงานเขตพญาไทจะจัดประชุม"),
        ("send_after", &later),
    ]);
    let sent = send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &body).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let batch = sent.location().to_owned();
    assert!(batch.starts_with("/console/send-many/"), "{batch}");
    while hybridpost_gateway::send_one_batch(&api).await.unwrap() {}
    let held = send(&w.app, Method::GET, &batch, &[&sender], None, "").await;
    assert!(held.body.contains("id=\"held-until\""), "{}", held.body);
    assert!(!held.body.contains("http-equiv=\"refresh\""), "nothing to follow until its time");
    let mut conn = w.db.store.read().await.unwrap();
    assert_eq!(letters::count_letters(&mut conn).await.unwrap(), 0, "held, not sent");
    drop(conn);
    // The letters list says a letter waits, and where to find it; the test list does not.
    let list = send(&w.app, Method::GET, "/console/letters", &[&sender], None, "").await;
    assert!(list.body.contains("id=\"held-letters\""), "{}", list.body);
    assert!(list.body.contains("มีหนังสืออีก 1 ฉบับ"), "{}", list.body);
    let test_list = send(&w.app, Method::GET, "/console/letters?mode=test", &[&sender], None, "").await;
    assert!(!test_list.body.contains("id=\"held-letters\""), "{}", test_list.body);
    let cancel = form(&[("csrf", &held.csrf())]);
    let cancelled = send(&w.app, Method::POST, &format!("{batch}/cancel"), &[&sender], Some(ORIGIN), &cancel).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER, "{}", cancelled.body);
    let after = send(&w.app, Method::GET, &batch, &[&sender], None, "").await;
    assert!(after.body.contains("id=\"batch-cancelled\""), "{}", after.body);
    let list = send(&w.app, Method::GET, "/console/letters", &[&sender], None, "").await;
    assert!(!list.body.contains("id=\"held-letters\""), "a cancelled letter does not wait: {}", list.body);
    while hybridpost_gateway::send_one_batch(&api).await.unwrap() {}
    let mut conn = w.db.store.read().await.unwrap();
    assert_eq!(letters::count_letters(&mut conn).await.unwrap(), 0, "a cancelled letter is never sent");
    drop(conn);

    // A mail merge for later: its send-after time is one of the draft's choices.
    let draft = merge_draft(&w, &sender, "later.xlsx", &merge_xlsx(3, &[])).await;
    let page = send(&w.app, Method::GET, &draft, &[&sender], None, "").await;
    let choices = format!("{}&send_after={}", tax_notice_choices(&page.csrf()), urlencode(&later));
    let saved = send(&w.app, Method::POST, &draft, &[&sender], Some(ORIGIN), &choices).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = send(&w.app, Method::GET, &draft, &[&sender], None, "").await;
    assert!(page.body.contains(&format!("value=\"{later}\"")), "the choice is kept: {}", page.body);
    let sent = send(
        &w.app,
        Method::POST,
        &format!("{draft}/send"),
        &[&sender],
        Some(ORIGIN),
        &form(&[("csrf", &page.csrf())]),
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    while hybridpost_gateway::send_one_batch(&api).await.unwrap() {}
    let held = send(&w.app, Method::GET, sent.location(), &[&sender], None, "").await;
    assert!(held.body.contains("id=\"held-until\""), "{}", held.body);
    let mut conn = w.db.store.read().await.unwrap();
    assert_eq!(letters::count_letters(&mut conn).await.unwrap(), 0, "the three rows wait for their time");
}

#[tokio::test]
async fn every_agency_page_and_action_keeps_to_its_agency_and_role() {
    let w = world().await;
    let (agency, elsewhere) = (Agency::new("สำนักงานเขตพญาไท"), Agency::new("เทศบาลนครเชียงใหม่"));
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_agency(&mut tx, &elsewhere).await.unwrap();
    let letter = agency_letter(agency.agency_id, 7, LetterStatus::QueuedForPrint, false);
    letters::insert_letters(&mut tx, std::slice::from_ref(&letter)).await.unwrap();
    tx.commit().await.unwrap();
    let admin = agency_person(&w, agency.agency_id, "admin@phayathai.example", PersonRole::Admin).await;
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let viewer = agency_person(&w, agency.agency_id, "viewer@phayathai.example", PersonRole::Viewer).await;
    let foreign = agency_person(&w, elsewhere.agency_id, "admin@chiangmai.example", PersonRole::Admin).await;
    let operator = person_with_password(&w, "op@post.example", w.site, "ไปรษณีย์ 2569 ครับ").await;
    // The agency's things: a letter, a batch, a draft and a webhook endpoint.
    let scope = hybridpost_core::AgencyScope::live(agency.agency_id);
    let row: hybridpost_core::NewLetter = serde_json::from_value(serde_json::json!({
        "reference": "พท 1", "recipient": {"name": "ก", "address": {"house_number": "1", "subdistrict": "สามเสนใน",
        "district": "พญาไท", "province": "กรุงเทพมหานคร", "postcode": "10400"}}, "subject": "ข", "body": ["ค"]}))
    .unwrap();
    let batch = hybridpost_gateway::submit(
        &w.db.store,
        scope,
        hybridpost_store::letter_batches::BatchSource::Api,
        None,
        None,
        &[(0, row)],
        Some(time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(86400)),
    )
    .await
    .unwrap();
    let page = send(&w.app, Method::GET, "/console/send-many", &[&sender], None, "").await;
    let (content_type, body) =
        multipart(&page.csrf(), &[("template", "tax-notice")], Some(("a.xlsx", &merge_xlsx(2, &[]))));
    let draft = upload(&w, "/console/send-many", &sender, &content_type, body).await.location().to_owned();
    let secret = hybridpost_seal::ServiceSecret::new(&[7u8; 32]).unwrap();
    let endpoint = hybridpost_gateway::register_webhook(
        &w.db.store,
        &secret,
        scope,
        "https://hooks.example.go.th/in",
        Vec::new(),
        false,
    )
    .await
    .unwrap()
    .webhook
    .endpoint_id;
    let (letter, batch) = (letter.letter_id, batch);

    let status = |cookie: &str, method: Method, path: String| {
        let (app, cookie) = (w.app.clone(), cookie.to_owned());
        async move {
            let token = send(&app, Method::GET, "/console/account", &[&cookie], None, "").await.csrf();
            let form = if method == Method::POST { form(&[("csrf", &token)]) } else { String::new() };
            send(&app, method, &path, &[&cookie], Some(ORIGIN), &form).await.status
        }
    };

    // Another agency's admin: every page of this agency's things is "not found", every action too.
    let things = [
        (Method::GET, format!("/console/letters/{letter}")),
        (Method::GET, format!("/console/letters/{letter}/proof.pdf")),
        (Method::POST, format!("/console/letters/{letter}/cancel")),
        (Method::GET, format!("/console/send-many/{batch}")),
        (Method::GET, format!("/console/send-many/{batch}/result.csv")),
        (Method::POST, format!("/console/send-many/{batch}/cancel")),
        (Method::GET, draft.clone()),
        (Method::GET, format!("{draft}/rows/2/preview.pdf")),
        (Method::GET, format!("{draft}/problems.csv")),
        (Method::POST, format!("{draft}/send")),
        (Method::POST, format!("/console/settings/webhooks/{endpoint}/test")),
        (Method::POST, format!("/console/settings/webhooks/{endpoint}/delete")),
    ];
    for (method, path) in &things {
        assert_eq!(status(&foreign, method.clone(), path.clone()).await, StatusCode::NOT_FOUND, "{method} {path}");
    }
    // A post office's person: no agency page exists for them.
    for path in [
        "/console/letters",
        "/console/send-one",
        "/console/send-many",
        "/console/replies",
        "/console/usage",
        "/console/settings/webhooks",
        "/console/postcodes/10400",
    ] {
        assert_eq!(status(&operator, Method::GET, path.into()).await, StatusCode::NOT_FOUND, "{path}");
    }
    // A viewer reads, never sends or manages: forms to send are refused, settings do not exist.
    for (method, path, expected) in [
        (Method::GET, "/console/letters".to_owned(), StatusCode::OK),
        (Method::GET, format!("/console/letters/{letter}"), StatusCode::OK),
        (Method::GET, format!("/console/send-many/{batch}"), StatusCode::OK),
        (Method::GET, "/console/replies".to_owned(), StatusCode::OK),
        (Method::GET, "/console/usage".to_owned(), StatusCode::OK),
        (Method::GET, "/console/send-one".to_owned(), StatusCode::FORBIDDEN),
        (Method::POST, "/console/send-one".to_owned(), StatusCode::FORBIDDEN),
        (Method::GET, draft.clone(), StatusCode::FORBIDDEN),
        (Method::POST, format!("{draft}/send"), StatusCode::FORBIDDEN),
        (Method::POST, format!("/console/send-many/{batch}/cancel"), StatusCode::FORBIDDEN),
        (Method::POST, format!("/console/letters/{letter}/cancel"), StatusCode::NOT_FOUND),
        (Method::GET, "/console/settings".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "/console/settings/webhooks".to_owned(), StatusCode::NOT_FOUND),
        (Method::POST, "/console/settings/keys".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "/console/people".to_owned(), StatusCode::NOT_FOUND),
    ] {
        assert_eq!(status(&viewer, method.clone(), path.clone()).await, expected, "viewer {method} {path}");
    }
    // A sender sends, but does not manage keys, webhooks or people.
    for (method, path, expected) in [
        (Method::GET, "/console/send-one".to_owned(), StatusCode::OK),
        (Method::GET, draft.clone(), StatusCode::OK),
        (Method::GET, "/console/settings".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "/console/settings/webhooks".to_owned(), StatusCode::NOT_FOUND),
        (Method::POST, format!("/console/settings/webhooks/{endpoint}/delete"), StatusCode::NOT_FOUND),
        (Method::POST, "/console/settings/keys".to_owned(), StatusCode::NOT_FOUND),
        (Method::GET, "/console/people".to_owned(), StatusCode::NOT_FOUND),
    ] {
        assert_eq!(status(&sender, method.clone(), path.clone()).await, expected, "sender {method} {path}");
    }
    // The admin manages them; the batch held until tomorrow is still the agency's to cancel.
    assert_eq!(status(&admin, Method::GET, "/console/settings/webhooks".into()).await, StatusCode::OK);
    assert_eq!(status(&admin, Method::POST, format!("/console/send-many/{batch}/cancel")).await, StatusCode::SEE_OTHER);
}

/// The bytes a form post answers (a PDF), with its status.
async fn posted_bytes(w: &World, path: &str, cookie: &str, form: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let res = w.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// The value of the hidden field `name` in a page.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = body.find(&marker).unwrap_or_else(|| panic!("no field {name} in the page")) + marker.len();
    body[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_sender_fills_a_content_template_or_attaches_the_agencys_pdf_with_its_page_by_page_check() {
    use pdfs::{Font, LETTER, PageSpec, body_text, build};
    let w = world().await;
    let (agency, elsewhere) = (Agency::new("สำนักงานเขตพญาไท"), Agency::new("เทศบาลนครเชียงใหม่"));
    let mut tx = w.db.store.begin().await.unwrap();
    agencies::insert_agency(&mut tx, &agency).await.unwrap();
    agencies::insert_agency(&mut tx, &elsewhere).await.unwrap();
    tx.commit().await.unwrap();
    let sender = agency_person(&w, agency.agency_id, "sender@phayathai.example", PersonRole::Sender).await;
    let viewer = agency_person(&w, agency.agency_id, "viewer@phayathai.example", PersonRole::Viewer).await;
    let blobs = tempfile::tempdir().unwrap();
    let worker = tokio::spawn(hybridpost_gateway::run_worker(gateway(&w, blobs.path())));
    let page = send(&w.app, Method::GET, "/console/send-one", &[&sender], None, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-template=\"appointment\"") && page.body.contains("id=\"f-pdf\""), "{}", page.body);
    let csrf = page.csrf();
    let address: [(&str, &str); 7] = [
        ("recipient_name", "นางสมใจ รักษ์ดี"),
        ("house_number", "12/3"),
        ("postcode", "10400"),
        ("subdistrict", "สามเสนใน"),
        ("district", "พญาไท"),
        ("province", "กรุงเทพมหานคร"),
        ("subject", "นัดหมายยื่นเอกสาร"),
    ];
    let day = (time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(30 * 86400))
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap();

    // A content template: a value left out is named; filled in, the list value one per line.
    let template_form = |action: &str, reference: &str, place: &str| {
        let mut pairs: Vec<(&str, &str)> = vec![("csrf", &csrf), ("action", action), ("reference", reference)];
        pairs.extend(address);
        pairs.extend([
            ("content", "template"),
            ("template", "appointment"),
            ("data.appointment.purpose", "ด้วยสำนักงานเขตพญาไทต้องการตรวจสอบเอกสารที่ดิน"),
            ("data.appointment.date", day.as_str()),
            ("data.appointment.time", "10.00"),
            ("data.appointment.place", place),
            ("data.appointment.documents", "สำเนาบัตรประชาชน\r\nสำเนาทะเบียนบ้าน"),
            ("data.tax-notice.office", "ไม่ได้เลือกแม่แบบนี้"),
        ]);
        form(&pairs)
    };
    let missing = send(
        &w.app,
        Method::POST,
        "/console/send-one",
        &[&sender],
        Some(ORIGIN),
        &template_form("check", "กท 5301/ว 90", ""),
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.body);
    assert!(missing.body.contains("id=\"e-template-data\"") && missing.body.contains("place"), "{}", missing.body);
    assert!(missing.body.contains("สำเนาทะเบียนบ้าน</textarea>"), "what was typed stays");
    let filled = template_form("check", "กท 5301/ว 90", "ฝ่ายโยธา ชั้น 2");
    let ready = send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &filled).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert!(ready.body.contains("id=\"ready\""), "{}", ready.body);
    let (status, proof) = posted_bytes(&w, "/console/send-one/proof", &sender, &filled).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&proof));
    let dir = pdfs::scratch();
    let text = pdfs::run("pdftotext", &[pdfs::arg(&pdfs::write(dir.path(), "template.pdf", &proof)), "-"]);
    // Lines break anywhere a Thai word ends: compare without the breaks.
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains("ฝ่ายโยธาชั้น๒") && joined.contains("(๑)สำเนาบัตรประชาชน"), "{text}");
    assert!(joined.contains("(๒)สำเนาทะเบียนบ้าน"), "the list's items numbered, one per line typed: {text}");
    assert!(joined.contains("เวลา๑๐.๐๐น."), "a time keeps its zeros: {text}");
    let sent = send(
        &w.app,
        Method::POST,
        "/console/send-one",
        &[&sender],
        Some(ORIGIN),
        &template_form("send", "กท 5301/ว 90", "ฝ่ายโยธา ชั้น 2"),
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let letter_id: hybridpost_core::LetterId = sent.location().trim_start_matches("/console/letters/").parse().unwrap();
    let scope = hybridpost_core::AgencyScope { agency_id: agency.agency_id, test: false };
    let stored = letters::get_letter(&mut w.db.store.read().await.unwrap(), scope, letter_id).await.unwrap().unwrap();
    assert_eq!(stored.content["template"], "appointment");
    assert_eq!(stored.content["data"]["documents"], serde_json::json!(["สำเนาบัตรประชาชน", "สำเนาทะเบียนบ้าน"]));
    assert_eq!(stored.content["data"]["place"], "ฝ่ายโยธา ชั้น 2");
    assert!(stored.content["data"].get("office").is_none(), "only the chosen template's values");

    // The agency's own PDF: sending without one attached says so next to the file field.
    let mut document_fields: Vec<(&str, &str)> = vec![("reference", "กท 5301/ว 91")];
    document_fields.extend(address);
    document_fields.push(("content", "document"));
    let mut unattached = document_fields.clone();
    unattached.extend([("csrf", csrf.as_str()), ("action", "send")]);
    let refused = send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &form(&unattached)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("id=\"e-pdf\""), "{}", refused.body);
    // A PDF with three problems on two pages: each listed with its page; nothing attached.
    let bad = build(&[
        PageSpec::a4(&body_text("Fine page")),
        PageSpec::sized(LETTER, &body_text("Letter-size page")),
        PageSpec::a4("BT /F2 10 Tf 1 0 0 1 8 600 Tm (Too close to the left) Tj ET").with_font("F2", Font::Helvetica),
    ]);
    let (content_type, body) = multipart_with(&csrf, &document_fields, "pdf", Some(("ประกาศ.pdf", &bad)));
    let checked = upload(&w, "/console/send-one/document", &sender, &content_type, body).await;
    assert_eq!(checked.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", checked.body);
    let report = &checked.body[checked.body.find("id=\"pdf-report\"").expect("the check's report")..];
    let report = &report[..report.find("</table>").unwrap()];
    assert_eq!(report.matches("<tr><td>").count(), 3, "{report}");
    assert!(report.contains("<tr><td>2</td>") && report.contains("<tr><td>3</td>"), "{report}");
    assert_eq!(report.matches("ส่งไม่ได้").count(), 3, "{report}");
    assert_eq!(hidden(&checked.body, "document_id"), "", "nothing attached");
    assert!(checked.body.contains("value=\"นางสมใจ รักษ์ดี\""), "what was typed stays");
    // A good one: checked, attached, its proof behind the cover page, then sent.
    let good =
        build(&[PageSpec::a4(&body_text("Notice of the district office")), PageSpec::a4(&body_text("Page two"))]);
    let (content_type, body) = multipart_with(&csrf, &document_fields, "pdf", Some(("ประกาศ.pdf", &good)));
    let attached = upload(&w, "/console/send-one/document", &sender, &content_type, body).await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
    assert!(attached.body.contains("id=\"document-attached\""), "{}", attached.body);
    assert!(attached.body.contains("ไม่พบปัญหาในหน้าใด"), "the report says each page passed");
    let document_id = hidden(&attached.body, "document_id");
    assert!(!document_id.is_empty());
    let mut with_pdf = document_fields.clone();
    with_pdf.extend([("csrf", csrf.as_str()), ("document_id", document_id.as_str()), ("document_name", "ประกาศ.pdf")]);
    let (status, proof) = posted_bytes(&w, "/console/send-one/proof", &sender, &form(&with_pdf)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&proof));
    let proof = pdfs::write(dir.path(), "document.pdf", &proof);
    let info = pdfs::run("pdfinfo", &[pdfs::arg(&proof)]);
    assert!(info.contains("Pages:           3"), "the cover page, then the agency's two: {info}");
    let text = pdfs::run("pdftotext", &["-f", "2", "-l", "3", pdfs::arg(&proof), "-"]);
    assert!(text.contains("Notice of the district office") && text.contains("Page two"), "{text}");
    with_pdf.push(("action", "send"));
    let sent = send(&w.app, Method::POST, "/console/send-one", &[&sender], Some(ORIGIN), &form(&with_pdf)).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let letter_id: hybridpost_core::LetterId = sent.location().trim_start_matches("/console/letters/").parse().unwrap();
    let stored = letters::get_letter(&mut w.db.store.read().await.unwrap(), scope, letter_id).await.unwrap().unwrap();
    assert_eq!(stored.content["document_id"], document_id.as_str());

    // Another agency's document, or one made up, is not attached; a viewer cannot attach.
    let other_sender = agency_person(&w, elsewhere.agency_id, "sender@chiangmai.example", PersonRole::Sender).await;
    let other_csrf = send(&w.app, Method::GET, "/console/send-one", &[&other_sender], None, "").await.csrf();
    let mut borrowed = document_fields.clone();
    borrowed.extend([("csrf", other_csrf.as_str()), ("document_id", document_id.as_str()), ("action", "check")]);
    let refused =
        send(&w.app, Method::POST, "/console/send-one", &[&other_sender], Some(ORIGIN), &form(&borrowed)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("id=\"e-pdf\""), "{}", refused.body);
    let (status, _) = posted_bytes(&w, "/console/send-one/proof", &other_sender, &form(&borrowed)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no proof of another agency's PDF");
    let viewer_csrf = send(&w.app, Method::GET, "/console/letters", &[&viewer], None, "").await.csrf();
    let (content_type, body) = multipart_with(&viewer_csrf, &document_fields, "pdf", Some(("ประกาศ.pdf", &good)));
    let forbidden = upload(&w, "/console/send-one/document", &viewer, &content_type, body).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    worker.abort();
}
