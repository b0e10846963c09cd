//! A post-office operator's day in the console, on the real binary (`hybridpost serve` with
//! every role, on the test database) and a real headless Chromium driven through WebDriver:
//! the operator sets a password from the link `admin create-user` printed, sees the letters
//! waiting, closes a batch, downloads its PDF, reprints one envelope (its pages print as in the
//! batch), marks the batch printed, dispatches it by scanning each envelope's barcode (a bad
//! scan is stopped on the spot), and signs out; another site's person finds none of it.
//! axe-core checks every page at desktop and phone sizes.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

#[path = "../../../crates/pdfcheck/tests/support/mod.rs"]
mod pdfs;
mod support;

use std::path::Path;
use std::process::Command;

use hybridpost_browser::{
    Client, Driver, Key, Locator, axe_source, check_page, downloaded, focused, path_of, press, this_page, type_keys,
    wait_for_next_page, wait_for_path,
};
use serde_json::Value;
use support::{BIN, database_env, http, spawn_serve};

fn hybridpost(data: &Path, env: &[(String, String)], public_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).args(args).env_remove("RUST_LOG").env_remove("HYBRIDPOST_TEST_DATABASE_URL");
    cmd.env("HYBRIDPOST_PUBLIC_URL", public_url);
    // A debug build searches a page many times slower than a release build: the page budget
    // is raised to match, so that a busy test machine does not send a readable page to review.
    cmd.env("HYBRIDPOST_SCAN_PAGE_BUDGET_MS", "60000");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn admin(data: &Path, env: &[(String, String)], public_url: &str, args: &[&str]) -> Value {
    let out = hybridpost(data, env, public_url, &[&["admin"], args].concat()).output().unwrap();
    assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tool(name: &str, args: &[&str]) -> Vec<u8> {
    let out =
        Command::new(name).args(args).output().unwrap_or_else(|e| panic!("{name}: {e} (ops/test.sh installs it)"));
    assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Page `page` of `pdf` as pixels, at 60 dpi.
fn page_pixels(pdf: &Path, page: i64, out: &Path) -> image::RgbImage {
    let n = page.to_string();
    std::fs::create_dir_all(out).unwrap();
    let prefix = out.join(format!("p{n}"));
    tool(
        "pdftoppm",
        &["-r", "60", "-f", &n, "-l", &n, "-singlefile", "-png", pdf.to_str().unwrap(), prefix.to_str().unwrap()],
    );
    image::open(prefix.with_extension("png")).unwrap().to_rgb8()
}

fn page_count(pdf: &Path) -> i64 {
    let info = String::from_utf8(tool("pdfinfo", &[pdf.to_str().unwrap()])).unwrap();
    info.lines().find_map(|l| l.strip_prefix("Pages:")).unwrap().trim().parse().unwrap()
}

/// The 30-digit reference printed on a reply sheet (six groups of five digits).
fn regex_lite_find_reference(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(6)
        .find_map(|w| w.iter().all(|g| g.len() == 5 && g.chars().all(|c| c.is_ascii_digit())).then(|| w.join(" ")))
}

/// Waits until the page's path starts with `prefix`.
async fn wait_for_path_prefix(c: &Client, prefix: &str) {
    for _ in 0..100 {
        if path_of(c).await.starts_with(prefix) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {prefix}…; it is at {}", path_of(c).await);
}

/// Clicks the element `css` and waits for the next page at `path` (which may be this page's).
async fn click_to(c: &Client, css: &str, path: &str) {
    let before = this_page(c).await;
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    wait_for_next_page(c, &before, path).await;
}

/// Sets the password from a setup link; ends on the person's first page (`lands_on`).
async fn set_password(c: &Client, link: &str, password: &str, lands_on: &str) {
    c.goto(link).await.unwrap();
    c.find(Locator::Id("password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Id("confirm")).await.unwrap().send_keys(password).await.unwrap();
    press(c, Key::Enter).await;
    wait_for_path(c, lands_on).await;
}

/// A GET with the browser's session cookie: the status and the body's bytes.
async fn get_as(c: &Client, addr: std::net::SocketAddr, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let cookie = c.get_named_cookie("hp_session").await.unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncookie: hp_session={}\r\n\r\n",
        cookie.value()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let status = std::str::from_utf8(&answer[9..12]).unwrap().parse().unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (status, answer[split + 4..].to_vec())
}

/// Waits until the element `css` says `needle` (the page may still be the one before a click:
/// an element of it that goes stale is looked for again); returns its text.
async fn wait_for_text(c: &Client, css: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
        {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never said {needle:?}; it says {last:?}");
}

/// Uploads one scanned file of replies from the console's scans page and waits until the
/// batch is decoded and grouped.
async fn upload_scan(c: &Client, file: &Path) {
    click_to(c, "nav.menu a[href='/console/scans']", "/console/scans").await;
    c.find(Locator::Id("files")).await.unwrap().send_keys(&file.display().to_string()).await.unwrap();
    c.find(Locator::Css("#upload-form button[type=submit]")).await.unwrap().click().await.unwrap();
    for _ in 0..100 {
        if path_of(c).await.starts_with("/console/scans/") && c.find(Locator::Id("scan-running")).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if path_of(c).await.starts_with("/console/scans/") {
            c.refresh().await.unwrap();
        }
    }
}

/// The text of the page's `main`.
async fn main_text(c: &Client) -> String {
    c.find(Locator::Css("main")).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operators_day_close_print_reprint_and_dispatch_by_scanning() {
    let axe = axe_source();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut env = database_env(dir.path(), "console");
    // The webhook receiver of the walkthrough listens on 127.0.0.1.
    env.push(("HYBRIDPOST_WEBHOOK_ALLOW_PRIVATE_TARGETS".into(), "true".into()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");

    let agency = admin(&data, &env, &url, &["create-agency", "--name", "สำนักงานเขตพญาไท"]);
    let key = agency["api_key"].as_str().unwrap().to_owned();
    let here = admin(&data, &env, &url, &["create-site", "--name", "ปณ. สามเสนใน", "--postcode-prefixes", "10,11"]);
    let there = admin(&data, &env, &url, &["create-site", "--name", "ปณ. เชียงใหม่", "--postcode-prefixes", "50"]);
    let operator = admin(
        &data,
        &env,
        &url,
        &[
            "create-user",
            "--email",
            "somying@post.example",
            "--name",
            "สมหญิง ใจดี",
            "--role",
            "operator",
            "--site-id",
            here["site_id"].as_str().unwrap(),
        ],
    );
    let stranger = admin(
        &data,
        &env,
        &url,
        &[
            "create-user",
            "--email",
            "somchai@post.example",
            "--name",
            "สมชาย เชียงใหม่",
            "--role",
            "supervisor",
            "--site-id",
            there["site_id"].as_str().unwrap(),
        ],
    );
    let server = spawn_serve(hybridpost(&data, &env, &url, &["serve", "--listen", &format!("127.0.0.1:{port}")]));

    // Three paper letters for this site.
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/letters/official.json")).unwrap(),
    )
    .unwrap();
    let names = ["นายหนึ่ง ทดสอบ", "นางสาวสอง ทดสอบ", "นายสาม ทดสอบ"];
    let mut letters = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut letter = fixture.clone();
        letter["recipient"]["name"] = (*name).into();
        letter["reference"] = format!("มท 0808.2/ว {}", 100 + i).into();
        letter["recipient"].as_object_mut().unwrap().remove("citizen_id");
        let (status, body) = http(server.addr, "POST", "/v1/letters", Some(&key), Some(&letter.to_string()));
        assert_eq!(status, 201, "{body}");
        letters.push(serde_json::from_str::<Value>(&body).unwrap()["letter_id"].as_str().unwrap().to_owned());
    }

    let driver = Driver::start().await;
    let c = driver.browser(Some(&downloads)).await;
    set_password(&c, operator["setup_link"].as_str().unwrap(), "ไปรษณีย์สามเสน 2569", "/console/today").await;
    assert_eq!(c.find(Locator::Id("waiting")).await.unwrap().text().await.unwrap(), "3");
    check_page(&c, &axe, "today").await;

    // Close a batch now; it renders within seconds.
    click_to(&c, "nav.menu a[href='/console/batches']", "/console/batches").await;
    check_page(&c, &axe, "batches").await;
    c.find(Locator::Css("form[action='/console/batches/close'] button")).await.unwrap().click().await.unwrap();
    for _ in 0..100 {
        if path_of(&c).await.starts_with("/console/batches/") && c.find(Locator::Css("a[href$='/pdf']")).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        c.refresh().await.unwrap();
    }
    let batch_path = path_of(&c).await;
    assert_eq!(c.find(Locator::Id("letter-count")).await.unwrap().text().await.unwrap(), "3");
    check_page(&c, &axe, "batch").await;

    // The PDF, downloaded as a person does.
    c.find(Locator::Css("a[href$='/pdf']")).await.unwrap().click().await.unwrap();
    let pdf = downloaded(&downloads, "batch-").await;
    tool("qpdf", &["--check", pdf.to_str().unwrap()]);
    let text = String::from_utf8(tool("pdftotext", &[pdf.to_str().unwrap(), "-"])).unwrap();
    for name in names {
        assert!(text.contains(name), "{name} in the batch PDF");
    }

    // A jam ate envelope 2: its reprint prints the same pages.
    let manifest: Value = {
        let (status, body) = http(
            server.addr,
            "GET",
            &format!("/v1/print/batches/{}/manifest", &batch_path[17..]),
            Some(here["api_key"].as_str().unwrap()),
            None,
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let second = &manifest[1];
    c.find(Locator::Id("envelopes")).await.unwrap().send_keys("2").await.unwrap();
    press(&c, Key::Enter).await;
    let reprint = downloaded(&downloads, &format!("batch-{}-reprint-2", &batch_path[17..])).await;
    let (first, pages, sheets) =
        (second["first_page"].as_i64().unwrap(), second["pages"].as_i64().unwrap(), second["sheets"].as_i64().unwrap());
    let reprint_first = page_count(&reprint) - sheets * 2 + 1;
    let pixels = dir.path().join("pixels");
    std::fs::create_dir_all(&pixels).unwrap();
    for k in 0..pages {
        let batch_page = page_pixels(&pdf, first + k, &pixels.join("batch"));
        let reprint_page = page_pixels(&reprint, reprint_first + k, &pixels.join("reprint"));
        assert!(batch_page == reprint_page, "page {} of envelope 2 reprints the same", k + 1);
    }

    // Printed, then dispatched by scanning each envelope: a bad scan stops the operator.
    click_to(&c, "form[action$='/printed'] button", &batch_path).await;
    click_to(&c, "a[href$='/dispatch']", &format!("{batch_path}/dispatch")).await;
    check_page(&c, &axe, "dispatch").await;
    c.find(Locator::Id("numbers")).await.unwrap().click().await.unwrap();
    type_keys(&c, "RB123456786TH\n").await;
    let alarm = c.find(Locator::Id("scan-alarm")).await.unwrap();
    assert!(alarm.is_displayed().await.unwrap(), "a bad check digit raises the alarm");
    assert!(alarm.text().await.unwrap().contains("RB123456786TH"));
    check_page(&c, &axe, "dispatch-alarm").await;
    c.find(Locator::Id("numbers")).await.unwrap().clear().await.unwrap();
    c.find(Locator::Id("numbers")).await.unwrap().click().await.unwrap();
    for number in ["RB123456785TH", "RB123456799TH", "RB123456808TH"] {
        type_keys(&c, &format!("{number}\n")).await;
    }
    assert_eq!(c.find(Locator::Id("scanned")).await.unwrap().text().await.unwrap(), "3");
    assert!(!c.find(Locator::Id("scan-alarm")).await.unwrap().is_displayed().await.unwrap());
    click_to(&c, "#scan-form button[type=submit]", &batch_path).await;
    let page = main_text(&c).await;
    assert!(page.contains("ส่งแล้ว") && page.contains("RB123456799TH"), "{page}");
    check_page(&c, &axe, "batch-dispatched").await;

    // The agency sees each letter dispatched with its envelope's number.
    for (letter, number) in letters.iter().zip(["RB123456785TH", "RB123456799TH", "RB123456808TH"]) {
        let (status, body) = http(server.addr, "GET", &format!("/v1/letters/{letter}"), Some(&key), None);
        assert_eq!(status, 200, "{body}");
        let detail: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(detail["status"], "dispatched");
        let last = detail["timeline"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["kind"].as_str(), last["detail"]["tracking_number"].as_str()),
            (Some("dispatched"), Some(number))
        );
    }

    // Another site's person finds none of this site's pages.
    let other = driver.browser(None).await;
    set_password(&other, stranger["setup_link"].as_str().unwrap(), "เชียงใหม่ 2569 ครับผม", "/console/today").await;
    for path in [
        batch_path.clone(),
        format!("{batch_path}/pdf"),
        format!("{batch_path}/dispatch"),
        format!("{batch_path}/manifest.csv"),
    ] {
        other.goto(&format!("{url}{path}")).await.unwrap();
        assert!(main_text(&other).await.contains("ไม่พบหน้านี้"), "{path} for another site");
    }
    other.close().await.unwrap();

    // Envelope 1 comes back (its first page, as the scanner sees it) with a page nobody can
    // read; both are uploaded as returns from the console.
    let first_page = manifest[0]["first_page"].as_i64().unwrap().to_string();
    let returned = dir.path().join("returned");
    tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-f",
            &first_page,
            "-l",
            &first_page,
            "-singlefile",
            "-png",
            pdf.to_str().unwrap(),
            returned.to_str().unwrap(),
        ],
    );
    let returned = returned.with_extension("png");
    let smudge = dir.path().join("smudge.png");
    // Lines of "handwriting" with no code on them, scanned before anything else.
    let mut noise = image::GrayImage::from_pixel(1240, 1754, image::Luma([255]));
    for (x, y, p) in noise.enumerate_pixels_mut() {
        if (200..1500).contains(&y) && y % 60 < 14 && (100..1140).contains(&x) && (x / 37 + y / 60) % 5 != 0 {
            *p = image::Luma([30]);
        }
    }
    noise.save(&smudge).unwrap();
    click_to(&c, "nav.menu a[href='/console/scans']", "/console/scans").await;
    check_page(&c, &axe, "scans").await;
    c.find(Locator::Css("input[name=mode][value=returns]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#reason option[value=moved]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("files"))
        .await
        .unwrap()
        .send_keys(&format!("{}\n{}", smudge.display(), returned.display()))
        .await
        .unwrap();
    assert_eq!(c.find_all(Locator::Css("#file-progress progress")).await.unwrap().len(), 2, "a bar per file");
    c.find(Locator::Css("#upload-form button[type=submit]")).await.unwrap().click().await.unwrap();
    for _ in 0..100 {
        if path_of(&c).await.starts_with("/console/scans/") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let scan_path = path_of(&c).await;
    assert!(scan_path.starts_with("/console/scans/"), "{scan_path}");
    for _ in 0..300 {
        if c.find(Locator::Id("scan-running")).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        c.refresh().await.unwrap();
    }
    assert!(c.find(Locator::Css(".page-card[data-outcome=returned]")).await.is_ok(), "{}", main_text(&c).await);
    assert!(c.find(Locator::Css(".page-card[data-outcome=review]")).await.is_ok(), "{}", main_text(&c).await);
    check_page(&c, &axe, "scan").await;

    // The returned letter is listed with its reason, on the page and in the CSV.
    click_to(&c, "nav.menu a[href='/console/returns']", "/console/returns").await;
    let page = main_text(&c).await;
    assert!(page.contains(names[0]) && page.contains("ย้ายไม่ทราบที่อยู่ใหม่"), "{page}");
    check_page(&c, &axe, "returns").await;
    c.find(Locator::Css("a[href^='/console/returns.csv']")).await.unwrap().click().await.unwrap();
    let csv = std::fs::read_to_string(downloaded(&downloads, "returns-").await).unwrap();
    assert!(csv.contains(names[0]) && csv.contains(",moved"), "{csv}");

    // The review queue: the smudge is discarded. Then envelope 2's reply sheet comes back so
    // damaged that no code on it can be read: the operator types the reference
    // printed on it, sees whose letter it is, and assigns it; the reply reaches the letter.
    c.find(Locator::Css("nav.menu a[href='/console/review']")).await.unwrap().click().await.unwrap();
    wait_for_path_prefix(&c, "/console/review/").await;
    check_page(&c, &axe, "review").await;
    c.find(Locator::Css("#discard-reason option[value=not_ours]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("form[action$='/discard'] button")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("queue-empty")).await.unwrap();
    check_page(&c, &axe, "review-empty").await;

    let sheet_page = (second["first_page"].as_i64().unwrap() + second["pages"].as_i64().unwrap() - 1).to_string();
    let sheet_text =
        String::from_utf8(tool("pdftotext", &["-f", &sheet_page, "-l", &sheet_page, pdf.to_str().unwrap(), "-"]))
            .unwrap();
    let digits = regex_lite_find_reference(&sheet_text)
        .unwrap_or_else(|| panic!("a printed reference on the reply sheet: {sheet_text}"));
    let coarse = dir.path().join("reply-sheet");
    let sheet_args = ["-r", "100", "-gray", "-f", &sheet_page, "-l", &sheet_page, "-singlefile", "-png"];
    tool("pdftoppm", &[&sheet_args[..], &[pdf.to_str().unwrap(), coarse.to_str().unwrap()]].concat());
    let coarse = coarse.with_extension("png");
    // Water got at it: every other small square of the page is washed out, codes and all.
    let mut damaged = image::open(&coarse).unwrap().to_luma8();
    for (x, y, p) in damaged.enumerate_pixels_mut() {
        if (x / 6 + y / 6) % 2 == 0 {
            *p = image::Luma([255]);
        }
    }
    damaged.save(&coarse).unwrap();
    upload_scan(&c, &coarse).await;
    assert!(c.find(Locator::Css(".page-card[data-outcome=review]")).await.is_ok(), "{}", main_text(&c).await);
    c.find(Locator::Css("nav.menu a[href='/console/review']")).await.unwrap().click().await.unwrap();
    wait_for_path_prefix(&c, "/console/review/").await;
    // From the keyboard: the reference field has the focus; one digit wrong is caught at once.
    let wrong: String = digits
        .chars()
        .rev()
        .enumerate()
        .map(|(i, d)| if i == 0 { if d == '0' { '1' } else { '0' } } else { d })
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    type_keys(&c, &wrong).await;
    let check = c.find(Locator::Id("reference-check")).await.unwrap().text().await.unwrap();
    assert!(check.contains("ไม่ถูกต้อง"), "{check}");
    c.find(Locator::Id("reference")).await.unwrap().clear().await.unwrap();
    c.find(Locator::Id("reference")).await.unwrap().click().await.unwrap();
    type_keys(&c, &digits).await;
    assert!(c.find(Locator::Id("reference-check")).await.unwrap().text().await.unwrap().contains("ถูกต้อง"));
    press(&c, Key::Enter).await;
    let found = c.wait().for_element(Locator::Id("letter-found")).await.unwrap().text().await.unwrap();
    assert!(found.contains(names[1]) && found.contains("สำนักงานเขตพญาไท"), "{found}");
    check_page(&c, &axe, "review-letter").await;
    press(&c, Key::Enter).await;
    c.wait().for_element(Locator::Id("queue-empty")).await.unwrap();
    let (status, body) = http(server.addr, "GET", &format!("/v1/letters/{}/replies", letters[1]), Some(&key), None);
    assert_eq!(status, 200, "{body}");
    let replies: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(replies["items"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(replies["items"][0]["source"], "review");

    // Envelope 3's reply sheet comes back with the first and the last box ticked: its codes
    // read, but which answer the citizen meant is not certain, so it waits for a person. The
    // operator opens the answers to read, looks at the page and records the last choice, from
    // the keyboard.
    let third = &manifest[2];
    let third_sheet = (third["first_page"].as_i64().unwrap() + third["pages"].as_i64().unwrap() - 1).to_string();
    let third_text =
        String::from_utf8(tool("pdftotext", &["-f", &third_sheet, "-l", &third_sheet, pdf.to_str().unwrap(), "-"]))
            .unwrap();
    let third_digits = regex_lite_find_reference(&third_text).unwrap();
    let ticked = dir.path().join("ticked-sheet");
    let sheet_args = ["-r", "150", "-gray", "-f", &third_sheet, "-l", &third_sheet, "-singlefile", "-png"];
    tool("pdftoppm", &[&sheet_args[..], &[pdf.to_str().unwrap(), ticked.to_str().unwrap()]].concat());
    let ticked = ticked.with_extension("png");
    let mut sheet = image::open(&ticked).unwrap().to_luma8();
    let mut third_letter = fixture.clone();
    third_letter["recipient"]["name"] = names[2].into();
    third_letter["reference"] = "มท 0808.2/ว 102".into();
    let content: hybridpost_core::NewLetter = serde_json::from_value(third_letter).unwrap();
    let matrix = hybridpost_seal::qr_matrix("HPR1 LAYOUT ONLY").unwrap();
    let layout = hybridpost_render::ReplySheet {
        pages: vec![hybridpost_render::QrModules::new(matrix.width, matrix.modules).unwrap()],
        reference_digits: third_digits,
        deadline: time::Date::from_calendar_date(2027, time::Month::January, 31).unwrap(),
    };
    let boxes = hybridpost_render::reply_answer_boxes(hybridpost_render::LetterTemplates::builtin(), &content, &layout)
        .unwrap();
    let pen = hybridpost_scan::pen::Pen { width: 0.6, ink: 30 };
    for b in [boxes[0].area, boxes[2].area] {
        let area = hybridpost_scan::AreaMm { x: b.x.0, y: b.y.0, width: b.width.0, height: b.height.0 };
        hybridpost_scan::pen::tick(&mut sheet, 150, pen, area, &mut hybridpost_scan::degrade::Rng::new(3));
    }
    sheet.save(&ticked).unwrap();
    upload_scan(&c, &ticked).await;
    assert!(c.find(Locator::Css(".page-card[data-outcome=matched]")).await.is_ok(), "{}", main_text(&c).await);
    c.find(Locator::Css("nav.menu a[href='/console/review']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("queue-empty")).await.unwrap();
    c.find(Locator::Id("answers-link")).await.unwrap().click().await.unwrap();
    wait_for_path_prefix(&c, "/console/review/answers/").await;
    let why = main_text(&c).await;
    assert!(why.contains("มีเครื่องหมายมากกว่าหนึ่งช่อง"), "the operator is told why: {why}");
    check_page(&c, &axe, "review-answer").await;
    // The first choice has the focus; the arrow keys move along the choices, Tab to the button.
    press(&c, Key::Down).await;
    press(&c, Key::Down).await;
    press(&c, Key::Tab).await;
    press(&c, Key::Enter).await;
    c.wait().for_element(Locator::Id("answers-empty")).await.unwrap();
    check_page(&c, &axe, "review-answers-empty").await;
    let (status, body) = http(server.addr, "GET", &format!("/v1/letters/{}/replies", letters[2]), Some(&key), None);
    assert_eq!(status, 200, "{body}");
    let replies: Value = serde_json::from_str(&body).unwrap();
    let answer = &replies["items"][0]["answer"];
    assert_eq!((answer["status"].as_str(), answer["choice"].as_i64()), (Some("answered"), Some(3)), "{body}");
    assert_eq!(answer["read_by"], "post_office", "{body}");

    // Sign out.
    c.find(Locator::Css("form[action='/console/sign-out'] button")).await.unwrap().click().await.unwrap();
    wait_for_path(&c, "/console/sign-in").await;
    c.goto(&format!("{url}/console/today")).await.unwrap();
    assert_eq!(path_of(&c).await, "/console/sign-in");
    c.close().await.unwrap();

    // The agency's clerk follows the letters in their own console: the list, a search by the
    // recipient's name, the letter with its tracking number, the reply the post office assigned
    // and the proof; then withdraws a letter reported lost.
    let clerk = admin(
        &data,
        &env,
        &url,
        &[
            "create-user",
            "--email",
            "clerk@phayathai.example",
            "--name",
            "สมศรี ธุรการ",
            "--role",
            "sender",
            "--agency-id",
            agency["agency_id"].as_str().unwrap(),
        ],
    );
    let a = driver.browser(None).await;
    set_password(&a, clerk["setup_link"].as_str().unwrap(), "สำนักงานเขตพญาไท 2569", "/console/letters").await;
    assert_eq!(a.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 3);
    check_page(&a, &axe, "letters").await;
    a.find(Locator::Id("q")).await.unwrap().send_keys(names[1]).await.unwrap();
    let before = this_page(&a).await;
    press(&a, Key::Enter).await;
    wait_for_next_page(&a, &before, "/console/letters").await;
    let rows = a.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains(names[1]));
    click_to(&a, "tbody tr a", &format!("/console/letters/{}", letters[1])).await;
    let tracking = a.find(Locator::Id("tracking")).await.unwrap().text().await.unwrap();
    assert!(tracking.ends_with("TH") && tracking.len() == 13, "{tracking}");
    assert_eq!(a.find_all(Locator::Css("#replies li")).await.unwrap().len(), 1, "the reply assigned in review");
    for kind in ["accepted", "printed", "dispatched", "reply_received"] {
        assert!(
            a.find(Locator::Css(&format!("#timeline li[data-kind='{kind}']"))).await.is_ok(),
            "{kind} on the timeline"
        );
    }
    check_page(&a, &axe, "letter").await;
    let (status, proof) = get_as(&a, server.addr, &format!("/console/letters/{}/proof.pdf", letters[1])).await;
    assert_eq!(status, 200);
    let proof_path = dir.path().join("proof.pdf");
    std::fs::write(&proof_path, &proof).unwrap();
    tool("qpdf", &["--check", proof_path.to_str().unwrap()]);
    let proof_text = String::from_utf8(tool("pdftotext", &[proof_path.to_str().unwrap(), "-"])).unwrap();
    assert!(proof_text.contains(names[1]), "the proof is the letter: {proof_text}");
    let reply_link = a.find(Locator::Css("#replies a")).await.unwrap().attr("href").await.unwrap().unwrap();
    let (status, reply) = get_as(&a, server.addr, &reply_link.replace("&#x2f;", "/")).await;
    assert_eq!(status, 200);
    assert!(reply.starts_with(b"%PDF-"), "the reply's PDF");
    // A letter that is out cannot be cancelled, only withdrawn.
    assert!(a.find(Locator::Id("cancel")).await.is_err());
    a.find(Locator::Css("#reason option[value='reported_lost']")).await.unwrap().click().await.unwrap();
    a.find(Locator::Css("form[action$='/withdraw'] button")).await.unwrap().click().await.unwrap();
    wait_for_text(&a, "main dl", "ผู้รับแจ้งว่าสูญหาย").await;
    // The replies inbox: the reply waits there until the clerk marks it handled, with a note;
    // then it is listed as handled, by whom.
    click_to(&a, "nav.menu a[href='/console/replies']", "/console/replies").await;
    let waiting = a.find_all(Locator::Css("#inbox tbody tr")).await.unwrap();
    assert_eq!(waiting.len(), 2);
    // The answer column: envelope 2's reply was assigned by hand in review (its codes could
    // not be read, and the boxes are found by them), so no answer was read and the cell says
    // so; envelope 3's answer is the one the operator read.
    let mut seen = Vec::new();
    for row in &waiting {
        let text = row.text().await.unwrap();
        let answer = row.find(Locator::Css("td.answer")).await.unwrap().text().await.unwrap();
        if text.contains("มท 0808.2/ว 101") {
            assert_eq!(answer.trim(), "–");
            seen.push(101);
        } else if text.contains("มท 0808.2/ว 102") {
            assert!(answer.contains("ข้อ 3"), "{answer}");
            seen.push(102);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, [101, 102], "both replies are in the inbox");
    check_page(&a, &axe, "replies").await;
    for _ in 0..2 {
        a.find(Locator::Css("#inbox input[name=note]")).await.unwrap().send_keys("โทรแจ้งผู้ยื่นคำขอแล้ว").await.unwrap();
        a.find(Locator::Css("#inbox form button")).await.unwrap().click().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    a.wait().for_element(Locator::Id("inbox-empty")).await.unwrap();
    a.goto(&format!("{url}/console/replies?handled=1")).await.unwrap();
    let handled = a.find(Locator::Css("#inbox tbody tr")).await.unwrap().text().await.unwrap();
    assert!(handled.contains("สมศรี ธุรการ") && handled.contains("โทรแจ้งผู้ยื่นคำขอแล้ว"), "{handled}");
    // The returns report: envelope 1 came back, with its reason.
    click_to(&a, "nav.menu a[href='/console/returns']", "/console/returns").await;
    let returned = a.find(Locator::Css("table.list tbody")).await.unwrap().text().await.unwrap();
    assert!(returned.contains(names[0]) && returned.contains("ย้าย"), "{returned}");
    assert_eq!(a.find_all(Locator::Css("table.list tbody tr")).await.unwrap().len(), 1);
    check_page(&a, &axe, "agency-returns").await;
    // The same in the CSV, as Python's csv module reads it.
    let (status, csv) = get_as(&a, server.addr, "/console/returns.csv").await;
    assert_eq!(status, 200);
    let returns_path = dir.path().join("agency-returns.csv");
    std::fs::write(&returns_path, &csv).unwrap();
    let returned_rows = python_csv(&returns_path);
    assert_eq!(returned_rows.len(), 1, "{returned_rows:?}");
    assert_eq!(returned_rows[0]["recipient"], names[0]);
    assert_eq!(returned_rows[0]["reason_code"], "moved");
    assert_eq!(returned_rows[0]["letter_id"], letters[0].as_str());
    // Test letters are apart; the post office's pages do not exist for an agency.
    a.goto(&format!("{url}/console/letters?mode=test")).await.unwrap();
    a.find(Locator::Id("no-letters")).await.unwrap();
    a.goto(&format!("{url}/console/batches")).await.unwrap();
    assert!(main_text(&a).await.contains("ไม่พบหน้านี้"), "no print pages for agencies");
    a.close().await.unwrap();

    // The agency's admin makes a live API key in Settings; the API takes it at once.
    let boss = admin(
        &data,
        &env,
        &url,
        &[
            "create-user",
            "--email",
            "admin@phayathai.example",
            "--name",
            "สมปอง หัวหน้า",
            "--role",
            "admin",
            "--agency-id",
            agency["agency_id"].as_str().unwrap(),
        ],
    );
    let b = driver.browser(None).await;
    set_password(&b, boss["setup_link"].as_str().unwrap(), "หัวหน้าสำนักงาน 2569", "/console/letters").await;
    click_to(&b, "nav.menu a[href='/console/settings']", "/console/settings").await;
    check_page(&b, &axe, "settings").await;
    b.find(Locator::Id("new-live-key")).await.unwrap().click().await.unwrap();
    let new_key = b.wait().for_element(Locator::Id("new-key")).await.unwrap().prop("value").await.unwrap().unwrap();
    check_page(&b, &axe, "settings-key").await;
    let (status, body) = http(server.addr, "GET", "/v1/letters", Some(&new_key), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["items"].as_array().unwrap().len(), 3);

    // Prices for the estimate, then this month's usage: three paper letters (one returned, one
    // answered, one still out), their sheets, the estimate; the CSV says the same to Python.
    b.find(Locator::Id("price-letter")).await.unwrap().send_keys("3.50").await.unwrap();
    b.find(Locator::Id("price-sheet")).await.unwrap().send_keys("0.5").await.unwrap();
    click_to(&b, "form[action='/console/settings/prices'] button", "/console/settings").await;
    assert_eq!(b.find(Locator::Id("price-sheet")).await.unwrap().prop("value").await.unwrap().unwrap(), "0.50");
    click_to(&b, "nav.menu a[href='/console/usage']", "/console/usage").await;
    check_page(&b, &axe, "usage").await;
    let mut cells = Vec::new();
    for cell in b.find_all(Locator::Css("#usage tbody tr:first-child td")).await.unwrap() {
        cells.push(cell.text().await.unwrap());
    }
    // Letters, paper, digital, delivered, returned, replied, cancelled, pages, sheets, e-mails, estimate.
    assert_eq!(cells[..7], ["3", "3", "0", "0", "1", "2", "0"], "{cells:?}");
    let sheets: i64 = cells[8].parse().unwrap();
    assert!(sheets >= 3, "{cells:?}");
    let estimate = 3 * 350 + sheets * 50;
    assert_eq!(cells[10], format!("{}.{:02}", estimate / 100, estimate % 100));
    let (status, csv) = get_as(&b, server.addr, "/console/usage.csv").await;
    assert_eq!(status, 200);
    let csv_path = dir.path().join("usage.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let rows = python_csv(&csv_path);
    let month = rows.last().unwrap();
    for (column, expected) in
        [("letters", "3"), ("print", "3"), ("returned", "1"), ("reply_received", "2"), ("dispatched", "0")]
    {
        assert_eq!(month[column], expected, "{column} in {month}");
    }
    assert_eq!(month["sheets"], sheets.to_string());
    assert_eq!(month["estimated_cost_baht"], cells[10].replace(',', ""));

    // Webhooks: the admin registers the agency's receiver, copies the secret shown once, sends a
    // test webhook and sees it delivered (its status and response time); the receiver verified
    // its signature. Then the endpoint is deleted.
    let secret_file = dir.path().join("webhook-secret");
    std::fs::write(&secret_file, "").unwrap();
    let receiver = WebhookSink::start(&secret_file);
    click_to(&b, "nav.menu a[href='/console/settings']", "/console/settings").await;
    click_to(&b, "#webhooks-link", "/console/settings/webhooks").await;
    b.find(Locator::Id("url")).await.unwrap().send_keys("ftp://hooks.example.go.th/in").await.unwrap();
    b.find(Locator::Id("add-endpoint")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Id("url-error")).await.unwrap();
    let url_field = b.find(Locator::Id("url")).await.unwrap();
    url_field.clear().await.unwrap();
    url_field.send_keys(&format!("http://127.0.0.1:{}/hook", receiver.port)).await.unwrap();
    b.find(Locator::Id("add-endpoint")).await.unwrap().click().await.unwrap();
    let secret = b.wait().for_element(Locator::Id("new-secret")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    std::fs::write(&secret_file, &secret).unwrap();
    check_page(&b, &axe, "webhooks-secret").await;
    b.find(Locator::Css("form[action*='/test'] button")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Id("test-queued")).await.unwrap();
    let mut delivered = false;
    for _ in 0..100 {
        b.goto(&format!("{url}/console/settings/webhooks")).await.unwrap();
        if b.find(Locator::Css("tr[data-what='test'][data-status='sent']")).await.is_ok() {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(delivered, "the test webhook shows delivered: {}", main_text(&b).await);
    let row = b.find(Locator::Css("tr[data-what='test']")).await.unwrap().text().await.unwrap();
    assert!(row.contains(" ms"), "with its response time: {row}");
    let stats = receiver.stats();
    assert_eq!(stats["accepted"].as_array().unwrap().len(), 1, "the signature verified: {stats}");
    let body = stats["bodies"].as_object().unwrap().values().next().unwrap();
    assert_eq!(body["type"], "test");
    check_page(&b, &axe, "webhooks").await;
    b.find(Locator::Css("form[action*='/delete'] button")).await.unwrap().click().await.unwrap();
    b.wait().for_element(Locator::Id("no-endpoints")).await.unwrap();
    drop(receiver);
    b.goto(&format!("{url}/console/settings")).await.unwrap();

    // Mail merge. The admin makes a sender in People.
    click_to(&b, "nav.menu a[href='/console/people']", "/console/people").await;
    b.find(Locator::Id("name")).await.unwrap().send_keys("สมใจ ส่งหนังสือ").await.unwrap();
    b.find(Locator::Id("email")).await.unwrap().send_keys("merge@phayathai.example").await.unwrap();
    b.find(Locator::Css("input[name=role][value=sender]")).await.unwrap().click().await.unwrap();
    b.find(Locator::Css("form[action='/console/people'] button")).await.unwrap().click().await.unwrap();
    let link = b.wait().for_element(Locator::Id("setup-link")).await.unwrap().prop("value").await.unwrap().unwrap();
    b.close().await.unwrap();
    let m = driver.browser(None).await;
    set_password(&m, &link, "ส่งหนังสือทีละมาก 2569", "/console/letters").await;
    click_to(&m, "nav.menu a[href='/console/send-many']", "/console/send-many").await;
    check_page(&m, &axe, "send-many").await;
    // 200 rows; spreadsheet rows 5, 22 and 31 are wrong (a postcode, a name, a citizen id).
    let bad = dir.path().join("ภาษี 2570.xlsx");
    std::fs::write(&bad, merge_xlsx(200, &[(3, "postcode"), (20, "name"), (29, "citizen_id")])).unwrap();
    let fixed = dir.path().join("ภาษี 2570 แก้ไข.xlsx");
    std::fs::write(&fixed, merge_xlsx(200, &[])).unwrap();
    m.find(Locator::Css("#template option[value='tax-notice']")).await.unwrap().click().await.unwrap();
    m.find(Locator::Id("file")).await.unwrap().send_keys(bad.to_str().unwrap()).await.unwrap();
    m.find(Locator::Id("upload")).await.unwrap().click().await.unwrap();
    wait_for_path_prefix(&m, "/console/send-many/drafts/").await;
    let draft = path_of(&m).await;
    // The columns were matched by their Thai names; what every letter shares is typed in, from
    // the keyboard: the subject, Tab, the signatory's name, Tab, the position, Enter.
    fill_merge_choices(&m).await;
    let title = m.wait().for_element(Locator::Id("problems-title")).await.unwrap().text().await.unwrap();
    assert!(title.contains('3'), "all three problems in one view: {}", main_text(&m).await);
    let mut rows = Vec::new();
    for tr in m.find_all(Locator::Css("#row-problems tbody tr")).await.unwrap() {
        rows.push(tr.attr("data-row").await.unwrap().unwrap());
    }
    assert_eq!(rows, ["5", "22", "31"]);
    let problems = m.find(Locator::Id("row-problems")).await.unwrap().text().await.unwrap();
    assert!(problems.contains("10400"), "the postcode's suggestion: {problems}");
    assert!(problems.contains("ต้องไม่เว้นว่าง"), "the problems in Thai: {problems}");
    check_page(&m, &axe, "merge-problems").await;
    // Row 17's letter, before anything is sent.
    let (status, preview) = get_as(&m, server.addr, &format!("{draft}/rows/17/preview.pdf")).await;
    assert_eq!(status, 200);
    let preview_path = dir.path().join("row-17.pdf");
    std::fs::write(&preview_path, &preview).unwrap();
    tool("qpdf", &["--check", preview_path.to_str().unwrap()]);
    let preview_text = String::from_utf8(tool("pdftotext", &[preview_path.to_str().unwrap(), "-"])).unwrap();
    assert!(preview_text.contains("นายสมชาย ใจดี ๑๕"), "row 17 is the 15th letter, in Thai digits: {preview_text}");
    // The fixed file, uploaded onto the draft: ready; sent; followed until done.
    m.find(Locator::Id("again-file")).await.unwrap().send_keys(fixed.to_str().unwrap()).await.unwrap();
    m.find(Locator::Id("upload-again")).await.unwrap().click().await.unwrap();
    m.wait().for_element(Locator::Id("ready")).await.unwrap();
    let batch = send_merge_and_wait(&m, &url).await;
    assert_eq!(m.find(Locator::Id("sent")).await.unwrap().text().await.unwrap(), "200");
    check_page(&m, &axe, "merge-batch").await;
    let (status, result) = get_as(&m, server.addr, &format!("{batch}/result.csv")).await;
    assert_eq!(status, 200);
    let result_path = dir.path().join("result.csv");
    std::fs::write(&result_path, &result).unwrap();
    let rows = python_csv(&result_path);
    assert_eq!(rows.len(), 200);
    assert_eq!(rows[0]["row"], "2");
    assert!(rows.iter().all(|r| r["letter_id"].as_str().unwrap().len() == 36 && r["status"] == "queued_for_print"));
    // The same file again, in a new upload with the same choices: nothing is sent twice.
    m.goto(&format!("{url}/console/send-many")).await.unwrap();
    m.find(Locator::Css("#template option[value='tax-notice']")).await.unwrap().click().await.unwrap();
    m.find(Locator::Id("file")).await.unwrap().send_keys(fixed.to_str().unwrap()).await.unwrap();
    m.find(Locator::Id("upload")).await.unwrap().click().await.unwrap();
    wait_for_path_prefix(&m, "/console/send-many/drafts/").await;
    fill_merge_choices(&m).await;
    m.wait().for_element(Locator::Id("ready")).await.unwrap();
    send_merge_and_wait(&m, &url).await;
    assert_eq!(m.find(Locator::Id("sent")).await.unwrap().text().await.unwrap(), "0");
    assert_eq!(m.find(Locator::Id("sent-before")).await.unwrap().text().await.unwrap(), "200");
    // The letters are the agency's: 3 sent earlier and 200 from the spreadsheet.
    let (status, body) = http(server.addr, "GET", "/v1/letters?limit=500", Some(&new_key), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["items"].as_array().unwrap().len(), 203);
    click_to(&m, "nav.menu a[href='/console/letters']", "/console/letters").await;
    assert!(main_text(&m).await.contains("กท 5301/ภ 0199"), "the newest letters head the list");

    // One letter from the form: the postcode offers its places from the official table; a
    // wrong postcode is stopped next to its field with the right one; then it is sent.
    // From the keyboard: Tab from the top of the page to the menu's "send a letter", Enter.
    tab_to_and_enter(&m, "ส่งหนังสือ").await;
    wait_for_path(&m, "/console/send-one").await;
    for (id, value) in [
        ("f-reference", "กท 5301/ว 77"),
        ("f-recipient_name", "นางสมใจ รักษ์ดี"),
        ("f-house_number", "12/3"),
        ("f-road", "พระรามที่ 6"),
        ("f-subject", "ขอเชิญประชุมประชาคม"),
        ("f-body", "ด้วยสำนักงานเขตพญาไทจะจัดประชุมประชาคม\n\nจึงเรียนมาเพื่อโปรดเข้าร่วมประชุม"),
        ("f-signatory_name", "นางสาวสมศรี รักงาน"),
        ("f-signatory_position", "ผู้อำนวยการเขตพญาไท"),
    ] {
        m.find(Locator::Id(id)).await.unwrap().send_keys(value).await.unwrap();
    }
    m.find(Locator::Id("f-postcode")).await.unwrap().send_keys("10400").await.unwrap();
    let mut offered = String::new();
    for _ in 0..50 {
        offered = m.find(Locator::Id("postcode-help")).await.unwrap().text().await.unwrap();
        if !offered.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(offered.contains("สามเสนใน") && offered.contains("กรุงเทพมหานคร"), "{offered}");
    let options = m.find_all(Locator::Css("#subdistricts option")).await.unwrap().len();
    assert!(options >= 1, "the subdistricts of 10400 are offered");
    m.find(Locator::Id("f-subdistrict")).await.unwrap().send_keys("สามเสนใน").await.unwrap();
    m.find(Locator::Id("f-district")).await.unwrap().send_keys("พญาไท").await.unwrap();
    m.find(Locator::Id("f-province")).await.unwrap().send_keys("กรุงเทพมหานคร").await.unwrap();
    let postcode = m.find(Locator::Id("f-postcode")).await.unwrap();
    postcode.clear().await.unwrap();
    postcode.send_keys("10399").await.unwrap();
    m.find(Locator::Id("check")).await.unwrap().click().await.unwrap();
    let problem = m.wait().for_element(Locator::Id("e-postcode")).await.unwrap().text().await.unwrap();
    assert!(problem.contains("10399") && problem.contains("10400"), "next to the field, with the right one: {problem}");
    check_page(&m, &axe, "send-one-problem").await;
    let postcode = m.find(Locator::Id("f-postcode")).await.unwrap();
    postcode.clear().await.unwrap();
    postcode.send_keys("10400").await.unwrap();
    // The form's buttons from the keyboard too: Check, then Send.
    tab_to_and_enter(&m, "ตรวจ").await;
    m.wait().for_element(Locator::Id("ready")).await.unwrap();
    tab_to_and_enter(&m, "ส่ง").await;
    wait_for_path_prefix(&m, "/console/letters/").await;
    let sent = main_text(&m).await;
    assert!(sent.contains("กท 5301/ว 77") && sent.contains("นางสมใจ รักษ์ดี"), "{sent}");

    // The agency's own PDF: one with a Letter-size page is refused with the page named; a good
    // one is checked and attached, and the letter is sent behind its cover page.
    let bad_pdf = dir.path().join("notice-letter-size.pdf");
    std::fs::write(
        &bad_pdf,
        pdfs::build(&[
            pdfs::PageSpec::a4(&pdfs::body_text("Notice of the district office")),
            pdfs::PageSpec::sized(pdfs::LETTER, &pdfs::body_text("Letter-size page")),
        ]),
    )
    .unwrap();
    let good_pdf = dir.path().join("notice.pdf");
    std::fs::write(&good_pdf, pdfs::build(&[pdfs::PageSpec::a4(&pdfs::body_text("Notice of the district office"))]))
        .unwrap();
    let fill_address = |reference: &'static str| {
        let m = m.clone();
        async move {
            for (id, value) in [
                ("f-reference", reference),
                ("f-recipient_name", "นางสมใจ รักษ์ดี"),
                ("f-house_number", "12/3"),
                ("f-postcode", "10400"),
                ("f-subdistrict", "สามเสนใน"),
                ("f-district", "พญาไท"),
                ("f-province", "กรุงเทพมหานคร"),
                ("f-subject", "ประกาศสำนักงานเขต"),
            ] {
                m.find(Locator::Id(id)).await.unwrap().send_keys(value).await.unwrap();
            }
        }
    };
    m.goto(&format!("{url}/console/send-one")).await.unwrap();
    fill_address("กท 5301/ว 79").await;
    m.find(Locator::Css("input[name=content][value=document]")).await.unwrap().click().await.unwrap();
    assert!(!m.find(Locator::Id("f-body")).await.unwrap().is_displayed().await.unwrap(), "only the chosen part shows");
    m.find(Locator::Id("f-pdf")).await.unwrap().send_keys(bad_pdf.to_str().unwrap()).await.unwrap();
    m.find(Locator::Id("attach-pdf")).await.unwrap().click().await.unwrap();
    let report = m.wait().for_element(Locator::Id("pdf-report")).await.unwrap().text().await.unwrap();
    assert!(report.contains("ส่งไม่ได้") && report.contains("\n2 "), "the page named: {report}");
    m.execute("document.getElementById('pdf-report').scrollIntoView()", vec![]).await.unwrap();
    check_page(&m, &axe, "send-one-pdf-refused").await;
    m.find(Locator::Id("f-pdf")).await.unwrap().send_keys(good_pdf.to_str().unwrap()).await.unwrap();
    m.find(Locator::Id("attach-pdf")).await.unwrap().click().await.unwrap();
    m.wait().for_element(Locator::Id("document-attached")).await.unwrap();
    m.execute("document.getElementById('document-attached').scrollIntoView()", vec![]).await.unwrap();
    check_page(&m, &axe, "send-one-pdf-attached").await;
    m.find(Locator::Id("send-one")).await.unwrap().click().await.unwrap();
    wait_for_path_prefix(&m, "/console/letters/").await;
    assert!(main_text(&m).await.contains("กท 5301/ว 79"));

    // A content template: choosing one shows its values and no other template's.
    m.goto(&format!("{url}/console/send-one")).await.unwrap();
    m.find(Locator::Css("input[name=content][value=template]")).await.unwrap().click().await.unwrap();
    m.find(Locator::Css("#f-template option[value=appointment]")).await.unwrap().click().await.unwrap();
    assert!(m.find(Locator::Id("f-data-appointment-place")).await.unwrap().is_displayed().await.unwrap());
    assert!(!m.find(Locator::Id("f-data-tax-notice-office")).await.unwrap().is_displayed().await.unwrap());
    m.execute("document.getElementById('content-choice').scrollIntoView()", vec![]).await.unwrap();
    check_page(&m, &axe, "send-one-template").await;

    // A letter for later: it waits on its batch's page, and the letters list says it waits and
    // leads there from the keyboard.
    m.goto(&format!("{url}/console/send-one")).await.unwrap();
    fill_address("กท 5301/ว 80").await;
    m.find(Locator::Id("f-body")).await.unwrap().send_keys("ด้วยสำนักงานเขตพญาไทจะจัดประชุมประชาคม").await.unwrap();
    let later = (time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(30 * 86400))
        .format(time::macros::format_description!("[year]-[month]-[day]T09:00"))
        .unwrap();
    m.execute("document.getElementById('f-send_after').value = arguments[0]", vec![later.into()]).await.unwrap();
    m.find(Locator::Id("send-one")).await.unwrap().click().await.unwrap();
    m.wait().for_element(Locator::Id("held-until")).await.unwrap();
    m.goto(&format!("{url}/console/letters")).await.unwrap();
    let waiting = m.find(Locator::Id("held-letters")).await.unwrap().text().await.unwrap();
    assert!(waiting.contains("มีหนังสืออีก 1 ฉบับ"), "{waiting}");
    check_page(&m, &axe, "letters-held").await;
    tab_to_and_enter(&m, "ดูหรือยกเลิก").await;
    wait_for_path(&m, "/console/send-many").await;
    m.close().await.unwrap();
    drop(server);
}

/// The mail-merge file of the walkthrough: `rows` tax notices, the rows `broken` names wrong.
fn merge_xlsx(rows: usize, broken: &[(usize, &str)]) -> Vec<u8> {
    let columns = [
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
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, name) in columns.iter().enumerate() {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    for n in 0..rows {
        let fault = broken.iter().find(|(row, _)| *row == n).map(|(_, f)| *f);
        let r = (n + 1) as u32;
        let name =
            if fault == Some("name") { String::new() } else { format!("นายสมชาย ใจดี {n}") };
        let citizen = if fault == Some("citizen_id") { "1101700230709" } else { "" };
        let postcode = if fault == Some("postcode") { 10399.0 } else { 10400.0 };
        sheet.write_string(r, 0, format!("กท 5301/ภ {n:04}")).unwrap();
        sheet.write_string(r, 1, name).unwrap();
        sheet.write_string(r, 2, citizen).unwrap();
        sheet.write_string(r, 3, format!("{}/1", n + 1)).unwrap();
        sheet.write_string(r, 4, "พหลโยธิน").unwrap();
        sheet.write_string(r, 5, "สามเสนใน").unwrap();
        sheet.write_string(r, 6, "พญาไท").unwrap();
        sheet.write_string(r, 7, "กรุงเทพมหานคร").unwrap();
        sheet.write_number(r, 8, postcode).unwrap();
        sheet.write_string(r, 9, "สำนักงานเขตพญาไท").unwrap();
        sheet.write_number(r, 10, 2570).unwrap();
        sheet.write_string(r, 11, format!("ที่ดินโฉนดเลขที่ {}", 1000 + n)).unwrap();
        sheet.write_number(r, 12, 2_450_000).unwrap();
        sheet.write_number(r, 13, 1225.5).unwrap();
        sheet.write_string(r, 14, "2027-04-30").unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// Presses Tab from the top of the page until the link or button reading exactly `text` has
/// the focus, then Enter.
async fn tab_to_and_enter(c: &Client, text: &str) {
    c.execute("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);", vec![]).await.unwrap();
    for _ in 0..100 {
        press(c, Key::Tab).await;
        if focused(c).await.split_once(':').is_some_and(|(_, t)| t == text) {
            press(c, Key::Enter).await;
            return;
        }
    }
    panic!("{text} cannot be reached with Tab");
}

/// Types what every letter of the merge shares, from the keyboard, saves, and waits for the
/// draft's page to come back.
async fn fill_merge_choices(c: &Client) {
    let (before, draft) = (this_page(c).await, path_of(c).await);
    c.find(Locator::Id("c-subject")).await.unwrap().click().await.unwrap();
    type_keys(c, "แจ้งการประเมินภาษีที่ดินและสิ่งปลูกสร้าง ประจำปีภาษี ๒๕๗๐").await;
    press(c, Key::Tab).await;
    type_keys(c, "นางสาวสมศรี รักงาน").await;
    press(c, Key::Tab).await;
    type_keys(c, "ผู้อำนวยการเขตพญาไท").await;
    press(c, Key::Enter).await;
    wait_for_next_page(c, &before, &draft).await;
}

/// Sends the ready draft and follows its batch's page until every row is done; its path.
async fn send_merge_and_wait(c: &Client, url: &str) -> String {
    c.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    for _ in 0..300 {
        let path = path_of(c).await;
        if path.starts_with("/console/send-many/") && !path.contains("/drafts/") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let batch = path_of(c).await;
    for _ in 0..120 {
        c.goto(&format!("{url}{batch}")).await.unwrap();
        let title = c.find(Locator::Id("progress-title")).await.unwrap().text().await.unwrap();
        if title == "ส่งครบแล้ว" {
            return batch;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the batch {batch} was not sent within a minute");
}

/// The agency's webhook receiver: `crates/notify/tests/py/webhook_sink.py`, which verifies each
/// webhook's signature with the `standardwebhooks` package.
struct WebhookSink {
    child: std::process::Child,
    port: u16,
}

impl WebhookSink {
    fn start(secret_file: &Path) -> WebhookSink {
        use std::io::BufRead;
        let python = std::env::var("HYBRIDPOST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/notify/tests/py/webhook_sink.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg(secret_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("READY <port>");
        WebhookSink { child, port }
    }

    fn stats(&self) -> Value {
        let (status, body) = http(([127, 0, 0, 1], self.port).into(), "GET", "/stats", None, None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CSV file's rows as Python's csv module reads them.
fn python_csv(path: &Path) -> Vec<Value> {
    let python = std::env::var("HYBRIDPOST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let read = std::process::Command::new(python)
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig')))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    serde_json::from_slice::<Value>(&read.stdout).unwrap().as_array().unwrap().clone()
}
