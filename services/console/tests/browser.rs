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

use hybridpost_browser::{Driver, Key, Locator, axe_source, check_page, focused, path_of, press, wait_for_path};
use hybridpost_console::ConsoleConfig;
use hybridpost_console::people::{NewPerson, create_person};
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
