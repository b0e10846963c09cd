//! The console's sign-in, sessions and guards over HTTP, on a real store (SQLite, or PostgreSQL
//! under `ops/test.sh`): a setup link works once, forms without the token or from another origin
//! are refused, cookies carry their flags, sign-in is throttled, signing out ends the session on
//! every node, and every step is in the audit log.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hybridpost_console::ConsoleConfig;
use hybridpost_console::people::{NewPerson, create_person};
use hybridpost_core::{PersonRole, SiteId, Workplace};
use hybridpost_store::agencies::{self, Site};
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
    let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
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
