//! The verification page in a real headless Chromium, against the service on a real socket:
//! the page's own script decodes the seal from the URL fragment, checks the trust list and the
//! signature with WebCrypto, and shows the verdict. Needs the Debian package `chromium`
//! (`ops/test.sh` installs it); without it this test fails rather than skips.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hybridpost_keyring::today;
use hybridpost_seal::{
    ContentDigest, DocumentType, FORMAT_VERSION, Reference, Seal, SealPayload, SigningKey, Validity, base32_encode,
};
use hybridpost_store::{agencies, letters, now_text};
use support::{AGENCY_NAME, AGENCY_NAME_EN, CITIZEN_ID, RECIPIENT_NAME, harness};
use tokio::process::Command;

/// The browser binary, overridable for machines that name it differently.
fn chromium() -> String {
    std::env::var("HYBRIDPOST_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// Runs headless Chromium on `url` with `extra` arguments, in its own profile folder.
async fn run_chromium(profile: &Path, url: &str, extra: &[&str]) -> String {
    let mut command = Command::new(chromium());
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg("--disable-dev-shm-usage")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--virtual-time-budget=10000")
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot start {} ({e}); install the Debian package `chromium` (ops/test.sh does)", chromium())
    });
    let output = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("chromium finished within 90 s")
        .unwrap();
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The page's DOM once its script has settled on a verdict (retried while it still says
/// "checking", in case the browser dumped it early).
async fn settled_dom(profile: &Path, url: &str) -> String {
    for _ in 0..3 {
        let dom = run_chromium(profile, url, &["--dump-dom"]).await;
        if !dom.contains("data-verdict=\"checking\"") {
            return dom;
        }
    }
    panic!("the page never settled on a verdict for {url}");
}

/// The opening tag of the element with id `id` in `dom`.
fn tag<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let tag_start = dom[..start].rfind('<').unwrap();
    &dom[tag_start..tag_start + dom[tag_start..].find('>').unwrap()]
}

/// The attribute `name` of the element with id `id` in `dom`.
fn attribute<'a>(dom: &'a str, id: &str, name: &str) -> &'a str {
    let tag = tag(dom, id);
    let marker = format!("{name}=\"");
    let value_start = tag.find(&marker).unwrap_or_else(|| panic!("no {name} on {tag}")) + marker.len();
    &tag[value_start..value_start + tag[value_start..].find('"').unwrap()]
}

/// The fragment of a seal's QR text.
fn fragment(seal: &Seal) -> String {
    let text = seal.to_qr_text("example.go.th");
    text.split_once('#').unwrap().1.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_checks_seals_itself_in_a_real_browser() {
    let h = harness().await;
    let letter = h.letter().await;
    let withdrawn = h.letter().await;
    let mut tx = h.store.begin().await.unwrap();
    letters::withdraw(&mut tx, withdrawn.letter_id, "cancelled", &now_text()).await.unwrap();
    tx.commit().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = hybridpost_verify::router(h.state.clone(), Duration::from_secs(10));
    let server = tokio::spawn(hybridpost_verify::run(app, listener, async {
        let _ = stopped.await;
    }));
    let profile = tempfile::tempdir().unwrap();

    // A genuine seal: verdict, agency in Thai and English, Buddhist-era date, status.
    let url = format!("{base}/V#{}", fragment(&letter.sealed.seal));
    let dom = settled_dom(profile.path(), &url).await;
    assert_eq!(attribute(&dom, "verdict", "data-verdict"), "genuine", "{dom}");
    assert!(dom.contains(AGENCY_NAME) && dom.contains(AGENCY_NAME_EN), "{dom}");
    assert!(dom.contains("จดหมายฉบับจริง") && dom.contains("Genuine letter"));
    assert!(dom.contains(&format!("พ.ศ. {}", today().ymd().0 + 543)), "Buddhist-era issue date: {dom}");
    assert!(dom.contains("หนังสือแจ้ง") && dom.contains("Notice"), "document type: {dom}");
    assert!(dom.contains(&letter.human_reference()));
    assert!(!tag(&dom, "pin-section").contains("hidden"), "the PIN form is offered");
    for private in [RECIPIENT_NAME, CITIZEN_ID] {
        assert!(!dom.contains(private));
    }

    // The same page at phone width, for people to look at.
    let shot_dir = tempfile::tempdir().unwrap();
    let shot = shot_dir.path().join("verify-page.png");
    let screenshot = format!("--screenshot={}", shot.display());
    run_chromium(profile.path(), &url, &["--window-size=360,900", "--hide-scrollbars", &screenshot]).await;
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a real screenshot");
    if let Ok(keep) = std::env::var("HYBRIDPOST_TEST_SCREENSHOT") {
        std::fs::write(keep, &png).unwrap();
    }

    // One character of the signature changed: the signature check fails.
    let mut tampered = fragment(&letter.sealed.seal).into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let dom = settled_dom(profile.path(), &format!("{base}/V#{}", String::from_utf8(tampered).unwrap())).await;
    assert_eq!(attribute(&dom, "verdict", "data-verdict"), "not-genuine", "{dom}");
    assert_eq!(attribute(&dom, "verdict", "data-reason"), "bad_signature");
    assert!(dom.contains("ไม่ใช่จดหมายฉบับจริง") && dom.contains("the seal has been altered"));
    assert!(!dom.contains(AGENCY_NAME), "nothing from an altered seal is shown as fact");

    // A well-formed seal by a key that is not in the trust list.
    let issuer = {
        let mut conn = h.store.read().await.unwrap();
        agencies::get_agency(&mut conn, h.agency_id).await.unwrap().unwrap().issuer_code
    };
    let validity = Validity { not_before: today(), not_after: today().checked_add_days(365).unwrap() };
    let stranger = SigningKey::generate(&issuer, validity).unwrap();
    let payload = SealPayload {
        version: FORMAT_VERSION,
        issuer,
        reference: Reference::parse_human(&letter.sealed.reference).unwrap(),
        issue_date: today(),
        document_type: DocumentType::Notice,
        reply_by: None,
        digest: ContentDigest::of(b"forged"),
        expires: today().checked_add_days(365).unwrap(),
    };
    let forged = Seal::sign(&payload, &stranger).unwrap();
    let dom = settled_dom(profile.path(), &format!("{base}/V#{}", fragment(&forged))).await;
    assert_eq!(attribute(&dom, "verdict", "data-verdict"), "not-genuine", "{dom}");
    assert_eq!(attribute(&dom, "verdict", "data-reason"), "unknown_key");

    // A withdrawn letter: the signature holds, the server's answer withdraws it.
    let dom = settled_dom(profile.path(), &format!("{base}/V#{}", fragment(&withdrawn.sealed.seal))).await;
    assert_eq!(attribute(&dom, "verdict", "data-verdict"), "not-genuine", "{dom}");
    assert_eq!(attribute(&dom, "verdict", "data-reason"), "withdrawn");
    assert!(dom.contains("cancelled by the agency"));

    // A test letter: sealed by the agency's test key, which no trust list carries; the page
    // says plainly what it is.
    let test_letter = h.letter_in_mode(None, true).await;
    let dom = settled_dom(profile.path(), &format!("{base}/V#{}", fragment(&test_letter.sealed.seal))).await;
    assert_eq!(attribute(&dom, "verdict", "data-verdict"), "not-genuine", "{dom}");
    assert_eq!(attribute(&dom, "verdict", "data-reason"), "test_letter", "{dom}");
    assert!(dom.contains("จดหมายทดสอบ") && dom.contains("TEST letter"), "{dom}");
    assert!(tag(&dom, "pin-section").contains("hidden"), "no PIN form for a test letter");

    // Not a seal at all.
    let junk = base32_encode(b"hello, this is not a seal");
    let dom = settled_dom(profile.path(), &format!("{base}/V#{junk}")).await;
    assert_eq!(attribute(&dom, "verdict", "data-reason"), "malformed", "{dom}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}

/// The citizens' pages held to the consoles' bar: axe-core, injected through WebDriver, finds no
/// serious or critical violation at desktop and phone sizes (many readers are elderly, on
/// phones), and the PIN form is reached from the keyboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizen_pages_pass_axe_at_both_sizes_and_work_from_the_keyboard() {
    use hybridpost_browser::{Driver, Key, Locator, axe_source, check_page, press};
    let axe = axe_source();
    let h = harness().await;
    let letter = h.letter().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = hybridpost_verify::router(h.state.clone(), Duration::from_secs(10));
    let server = tokio::spawn(hybridpost_verify::run(app, listener, async {
        let _ = stopped.await;
    }));
    let driver = Driver::start().await;
    let c = driver.browser(None).await;

    let settled = |c: &hybridpost_browser::Client| {
        let c = c.clone();
        async move {
            for _ in 0..100 {
                let verdict = c.find(Locator::Id("verdict")).await.unwrap().attr("data-verdict").await.unwrap();
                if verdict.as_deref() != Some("checking") {
                    return verdict.unwrap_or_default();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the page never settled on a verdict");
        }
    };
    c.goto(&format!("{base}/V#{}", fragment(&letter.sealed.seal))).await.unwrap();
    assert_eq!(settled(&c).await, "genuine");
    check_page(&c, &axe, "verify-genuine").await;
    // From the keyboard: Tab reaches the PIN field; a wrong PIN is answered next to it.
    let mut reached = false;
    for _ in 0..15 {
        press(&c, Key::Tab).await;
        if c.active_element().await.unwrap().attr("id").await.unwrap().as_deref() == Some("pin") {
            reached = true;
            break;
        }
    }
    assert!(reached, "the PIN field is reached with Tab");
    hybridpost_browser::type_keys(&c, "00000000").await;
    press(&c, Key::Enter).await;
    let message = c.find(Locator::Id("pin-message")).await.unwrap();
    for _ in 0..50 {
        if !message.text().await.unwrap().trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!message.text().await.unwrap().trim().is_empty(), "a wrong PIN is answered on the page");
    check_page(&c, &axe, "verify-wrong-pin").await;

    let mut tampered = fragment(&letter.sealed.seal).into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    c.goto(&format!("{base}/V#{}", String::from_utf8(tampered).unwrap())).await.unwrap();
    c.refresh().await.unwrap();
    assert_eq!(settled(&c).await, "not-genuine");
    check_page(&c, &axe, "verify-not-genuine").await;
    c.goto(&format!("{base}/v/confirm?token=not-a-token")).await.unwrap();
    check_page(&c, &axe, "verify-confirm-invalid").await;

    c.close().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
