//! The console in a real headless Chromium driven through WebDriver (Debian's `chromium` and
//! `chromium-driver`), against the console on a real socket over a real store: a person sets
//! their password from the setup link, reads Today, switches to English, signs out and in again
//! — from the keyboard — and axe-core (`HYBRIDPOST_TEST_AXE`, installed by `ops/test.sh`) finds
//! no serious or critical violation on any page, at desktop and phone sizes. Without the
//! browser, its driver or axe-core this test fails rather than skips.
//!
//! With `HYBRIDPOST_SCREENSHOTS=<folder>`, every page is also saved there as a PNG at both sizes
//! (the pictures in `docs/console/`).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hybridpost_console::ConsoleConfig;
use hybridpost_console::people::{NewPerson, create_person};
use hybridpost_core::{PersonRole, SiteId, Workplace};
use hybridpost_store::agencies::{self, Site};
use hybridpost_store::now_text;
use hybridpost_store::testing::test_store;
use serde_json::{Value, json};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver on a port of its own, stopped when dropped.
struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        let program = std::env::var("HYBRIDPOST_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = tokio::process::Command::new(&program)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} ({e}); install chromium-driver (ops/test.sh does)"));
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Driver { child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("HYBRIDPOST_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=th",
                         "--window-size=1366,768"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn axe_source() -> String {
    let path = std::env::var("HYBRIDPOST_TEST_AXE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ops/.node/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core is not at {} ({e}); ops/test.sh installs it", path.display()))
}

/// Checks the page at both sizes: axe-core finds nothing serious or critical; saves pictures
/// when asked.
async fn check_page(c: &Client, axe: &str, name: &str) {
    for (w, h) in [(1366, 768), (390, 844)] {
        c.set_window_size(w, h).await.unwrap();
        c.execute(axe, vec![]).await.unwrap();
        let result = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v =>
                   ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))));",
                vec![],
            )
            .await
            .unwrap();
        let serious: Vec<&Value> = result
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{name} at {w}×{h}: {serious:#?}");
        if let Ok(dir) = std::env::var("HYBRIDPOST_SCREENSHOTS") {
            std::fs::create_dir_all(&dir).unwrap();
            let png = c.screenshot().await.unwrap();
            std::fs::write(PathBuf::from(dir).join(format!("{name}-{w}x{h}.png")), png).unwrap();
        }
    }
    c.set_window_size(1366, 768).await.unwrap();
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// The tag and text of the element that has the focus.
async fn focused(c: &Client) -> String {
    let e = c.active_element().await.unwrap();
    let tag = e.tag_name().await.unwrap();
    let text = e.text().await.unwrap();
    format!("{tag}:{}", text.trim())
}

/// Presses `key` on the focused element.
async fn press(c: &Client, key: Key) {
    c.active_element().await.unwrap().send_keys(&char::from(key).to_string()).await.unwrap();
}

/// Waits until the page's path is `path`.
async fn wait_for_path(c: &Client, path: &str) {
    for _ in 0..100 {
        if path_of(c).await == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached {path}; it is at {}", path_of(c).await);
}

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
    let c = driver.browser().await;

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
    // From the keyboard: the skip link, the account's sign-out, the language, the menu.
    let mut order = Vec::new();
    for _ in 0..4 {
        press(&c, Key::Tab).await;
        order.push(focused(&c).await);
    }
    assert_eq!(order, ["a:ข้ามไปที่เนื้อหา", "button:ออกจากระบบ", "a:English", "a:วันนี้"]);
    c.find(Locator::Css("a[lang=en]")).await.unwrap().send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
    c.wait().for_element(Locator::Css("html[lang=en]")).await.unwrap();
    check_page(&c, &axe, "today-en").await;

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
