//! The console in a real headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`), against the console on a real socket over a real store: a person sets
//! their password from the setup link, reads Today, switches to English, signs out and in again
//! — from the keyboard — and axe-core (`HYBRIDPOST_TEST_AXE`, installed by `ops/test.sh`) finds
//! no serious or critical violation on any page, at desktop and phone sizes. Without the
//! browser, its driver or axe-core this test fails rather than skips (see `hybridpost-browser`;
//! `HYBRIDPOST_SCREENSHOTS=<folder>` saves every page checked).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use hybridpost_browser::{
    Client, Driver, Key, Locator, axe_source, check_page, focused, path_of, press, wait_for_path,
};
use hybridpost_console::people::{NewPerson, create_person};
use hybridpost_console::{ConsoleConfig, OidcConfig};
use hybridpost_core::{PersonRole, SiteId, Workplace};
use hybridpost_store::agencies::{self, Site};
use hybridpost_store::now_text;
use hybridpost_store::testing::test_store;

#[tokio::test]
async fn a_person_sets_a_password_reads_today_and_signs_out_and_in_from_the_keyboard() {
    let axe = axe_source();
    let db = test_store().await;
    let site = Site {
        site_id: SiteId::new(),
        name: "ปณ. สามเสนใน".into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let mut tx = db.store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let config = ConsoleConfig { public_url: format!("http://{addr}"), ..ConsoleConfig::default() };
    let blobs = tempfile::tempdir().unwrap();
    let app = hybridpost_web::layers::with_common_layers(
        hybridpost_console::router(support::console_state(&db.store, config.clone(), blobs.path())),
        Duration::from_secs(30),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let new = NewPerson {
        email: "somying@post.example".into(),
        name: "สมหญิง ใจดี".into(),
        workplace: Workplace::Site(site.site_id),
        role: PersonRole::Supervisor,
    };
    let created = create_person(&db.store, &config, new, None, "test").await.unwrap();

    let driver = Driver::start().await;
    let c = driver.browser(None).await;

    // The setup link: the password field has the focus; a mistyped second password is refused
    // next to the field, and the link still works.
    c.goto(&created.setup_link).await.unwrap();
    check_page(&c, &axe, "setup").await;
    let password = "ไปรษณีย์สามเสน 2569";
    c.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    press(&c, Key::Tab).await;
    c.active_element().await.unwrap().send_keys("ไปรษณีย์สามเสน 2568").await.unwrap();
    press(&c, Key::Enter).await;
    let error = c.wait().for_element(Locator::Css("#password-error")).await.unwrap();
    assert!(error.text().await.unwrap().contains("ไม่ตรงกัน"));
    check_page(&c, &axe, "setup-error").await;
    c.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Id("confirm")).await.unwrap().send_keys(password).await.unwrap();
    press(&c, Key::Enter).await;
    wait_for_path(&c, "/console/today").await;

    // Today, in Thai, then in English.
    let heading = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert!(heading.starts_with("ปณ. สามเสนใน") && heading.contains("2569"), "{heading}");
    check_page(&c, &axe, "today").await;
    // From the keyboard: the skip link, the account and its sign-out, the language, the menu.
    let mut order = Vec::new();
    for _ in 0..5 {
        press(&c, Key::Tab).await;
        order.push(focused(&c).await);
    }
    assert!(order[1].starts_with("a:สมหญิง ใจดี"), "{order:?}");
    order.remove(1);
    assert_eq!(order, ["a:ข้ามไปที่เนื้อหา", "button:ออกจากระบบ", "a:English", "a:วันนี้"]);
    c.find(Locator::Css("a[lang=en]")).await.unwrap().send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
    c.wait().for_element(Locator::Css("html[lang=en]")).await.unwrap();
    check_page(&c, &axe, "today-en").await;
    // A supervisor's pages: people (adding one shows the link) and the audit log.
    c.goto(&format!("http://{addr}/console/lang/th?back=/console/people")).await.unwrap();
    check_page(&c, &axe, "people").await;
    c.find(Locator::Id("name")).await.unwrap().send_keys("นายใหม่ มาดี").await.unwrap();
    c.find(Locator::Id("email")).await.unwrap().send_keys("new@post.example").await.unwrap();
    c.find(Locator::Css("form[action='/console/people'] button")).await.unwrap().click().await.unwrap();
    let link = c.wait().for_element(Locator::Id("setup-link")).await.unwrap();
    assert!(link.prop("value").await.unwrap().unwrap().contains("/console/setup/"));
    check_page(&c, &axe, "people-added").await;
    c.goto(&format!("http://{addr}/console/audit")).await.unwrap();
    assert!(c.find(Locator::Css("tr[data-action='person.create']")).await.is_ok());
    check_page(&c, &axe, "audit").await;

    // My account: setting up an authenticator app shows a QR code that a phone can scan — the
    // picture as the browser drew it decodes to the otpauth URL with the key shown beside it.
    c.goto(&format!("http://{addr}/console/account")).await.unwrap();
    check_page(&c, &axe, "account").await;
    c.find(Locator::Css("form[action='/console/account/authenticator/begin'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let key = c.wait().for_element(Locator::Id("authenticator-key")).await.unwrap().text().await.unwrap();
    let key: String = key.split_whitespace().collect();
    check_page(&c, &axe, "account-authenticator").await;
    c.execute("document.querySelector('img.qr').scrollIntoView({block: 'center'})", vec![]).await.unwrap();
    let shot = c.screenshot().await.unwrap();
    let picture = image::load_from_memory(&shot).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, url) = grids[0].decode().unwrap();
    assert!(url.starts_with("otpauth://totp/hybridpost:somying%40post.example?"), "{url}");
    assert!(url.contains(&format!("secret={key}")) && url.contains("issuer=hybridpost"), "{url}");
    c.find(Locator::Css("form[action='/console/account/authenticator/off'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("authenticator-state")).await.unwrap();
    c.goto(&format!("http://{addr}/console/lang/en?back=/console/today")).await.unwrap();

    // Sign out from the keyboard; the session is over.
    c.find(Locator::Css("form[action='/console/sign-out'] button"))
        .await
        .unwrap()
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    wait_for_path(&c, "/console/sign-in").await;
    c.goto(&format!("http://{addr}/console/today")).await.unwrap();
    assert_eq!(path_of(&c).await, "/console/sign-in", "signed out");
    check_page(&c, &axe, "sign-in").await;

    // A wrong password is said next to the form; the right one signs in.
    c.find(Locator::Id("email")).await.unwrap().send_keys("somying@post.example").await.unwrap();
    press(&c, Key::Tab).await;
    c.active_element().await.unwrap().send_keys("not the password").await.unwrap();
    press(&c, Key::Enter).await;
    let error = c.wait().for_element(Locator::Css("#signin-error")).await.unwrap();
    assert!(error.text().await.unwrap().contains("e-mail address or the password is wrong"));
    check_page(&c, &axe, "sign-in-error").await;
    c.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    press(&c, Key::Enter).await;
    wait_for_path(&c, "/console/today").await;

    c.close().await.unwrap();
}

/// The test suite's OpenID provider (`ops/oidc/provider.mjs`, the certified `oidc-provider`
/// package from npm, which `ops/test.sh` installs), running until dropped.
struct OidcProvider {
    child: std::process::Child,
    issuer: String,
    /// Its standard output, kept open: a write to a closed pipe would end it.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_oidc_provider(client_id: &str, client_secret: &str, redirect_uri: &str) -> OidcProvider {
    use std::io::BufRead;
    let ops = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops");
    let script = std::env::var("HYBRIDPOST_TEST_OIDC_PROVIDER")
        .unwrap_or_else(|_| ops.join("oidc/provider.mjs").display().to_string());
    let modules = std::env::var("HYBRIDPOST_TEST_OIDC_MODULES")
        .unwrap_or_else(|_| ops.join(".node/node_modules").display().to_string());
    assert!(
        std::path::Path::new(&modules).join("oidc-provider").exists(),
        "oidc-provider is not installed in {modules}: run ops/test.sh (it installs it)"
    );
    let node = std::env::var("HYBRIDPOST_TEST_NODE").unwrap_or_else(|_| "node".into());
    let mut child = std::process::Command::new(&node)
        .arg(&script)
        .env("OIDC_CLIENT_ID", client_id)
        .env("OIDC_CLIENT_SECRET", client_secret)
        .env("OIDC_REDIRECT_URI", redirect_uri)
        .env("OIDC_PROVIDER_MODULES", &modules)
        // Its standard input stays open while the test runs; it exits when the test does.
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {node} {script}: {e}; install Node.js (ops/test.sh does)"));
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("a piped standard output"));
    stdout.read_line(&mut line).expect("the provider's first line");
    let issuer = line.trim().strip_prefix("ready ").unwrap_or_else(|| panic!("the provider said {line:?}")).to_owned();
    OidcProvider { child, issuer, _stdout: stdout }
}

#[tokio::test]
async fn a_person_signs_in_through_the_organisations_openid_provider() {
    // The console's log in the test's output: a refused sign-in says why there.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let axe = axe_source();
    let db = test_store().await;
    let site = Site {
        site_id: SiteId::new(),
        name: "ปณ. บางรัก".into(),
        postcode_prefixes: vec!["10".into()],
        created_at: now_text(),
    };
    let mut tx = db.store.begin().await.unwrap();
    agencies::insert_site(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let provider =
        start_oidc_provider("hybridpost-console", "a client secret", &format!("http://{addr}/console/oidc/callback"));
    let config = ConsoleConfig {
        public_url: format!("http://{addr}"),
        oidc: Some(OidcConfig {
            issuer_url: provider.issuer.clone(),
            client_id: "hybridpost-console".into(),
            client_secret: "a client secret".into(),
            name: "ThaID".into(),
        }),
        ..ConsoleConfig::default()
    };
    let blobs = tempfile::tempdir().unwrap();
    let app = hybridpost_web::layers::with_common_layers(
        hybridpost_console::router(support::console_state(&db.store, config.clone(), blobs.path())),
        Duration::from_secs(30),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // A person made by a supervisor, who never set a password.
    let new = NewPerson {
        email: "somchai@post.example".into(),
        name: "สมชาย รักงาน".into(),
        workplace: Workplace::Site(site.site_id),
        role: PersonRole::Operator,
    };
    let somchai = create_person(&db.store, &config, new, None, "test").await.unwrap().person;

    let driver = Driver::start().await;
    let c = driver.browser(None).await;
    let through_provider = |c: &Client, login: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Id("sign-in-provider")).await.unwrap().click().await.unwrap();
            // The provider's own sign-in page, on another site.
            let field =
                match c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("input[name=login]")).await {
                    Ok(field) => field,
                    Err(e) => panic!(
                        "no provider sign-in page ({e}) at {}: {}",
                        c.current_url().await.unwrap(),
                        c.source().await.unwrap()
                    ),
                };
            field.send_keys(login).await.unwrap();
            c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("at the provider").await.unwrap();
            c.find(Locator::Css("button.login-submit")).await.unwrap().click().await.unwrap();
        }
    };

    // The sign-in page offers the provider; its page leads back signed in.
    c.goto(&format!("http://{addr}/console/sign-in")).await.unwrap();
    let button = c.find(Locator::Id("sign-in-provider")).await.unwrap();
    assert_eq!(button.text().await.unwrap(), "เข้าสู่ระบบด้วย ThaID");
    check_page(&c, &axe, "sign-in-oidc").await;
    through_provider(&c, "somchai@post.example").await;
    wait_for_path(&c, "/console/today").await;
    let heading = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert!(heading.starts_with("ปณ. บางรัก"), "{heading}");
    let mut conn = db.store.read().await.unwrap();
    let linked = hybridpost_store::people::get_person(&mut conn, somchai.person_id).await.unwrap().unwrap();
    assert_eq!(linked.oidc_subject.as_deref(), Some(format!("{} somchai@post.example", provider.issuer).as_str()));
    let log = hybridpost_store::people::list_audit(&mut conn, Workplace::Site(site.site_id), None, 10).await.unwrap();
    assert!(log.iter().any(|a| a.action == "signin.oidc"), "{log:?}");
    drop(conn);

    // Signed out here, still signed in at the provider: the button leads straight back in,
    // now by the provider's subject.
    c.find(Locator::Css("form[action='/console/sign-out'] button")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/console/sign-in").await;
    c.find(Locator::Id("sign-in-provider")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/console/today").await;

    // A callback this browser did not start is refused.
    c.goto(&format!("http://{addr}/console/oidc/callback?code=stolen&state=forged")).await.unwrap();
    let text = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(text.contains("เริ่มจากเบราว์เซอร์อื่น"), "{text}");
    c.close().await.unwrap();

    // Someone the provider knows but the console does not: refused, and told what to do.
    let stranger = driver.browser(None).await;
    stranger.goto(&format!("http://{addr}/console/sign-in")).await.unwrap();
    through_provider(&stranger, "stranger@post.example").await;
    let message = stranger.wait().for_element(Locator::Css("main p")).await.unwrap().text().await.unwrap();
    assert!(message.contains("ไม่พบบัญชีผู้ใช้ที่ตรงกับตัวตนนี้"), "{message}");
    assert_eq!(path_of(&stranger).await, "/console/oidc/callback");
    check_page(&stranger, &axe, "oidc-refused").await;
    stranger.goto(&format!("http://{addr}/console/today")).await.unwrap();
    assert_eq!(path_of(&stranger).await, "/console/sign-in", "no session");
    stranger.close().await.unwrap();
}
