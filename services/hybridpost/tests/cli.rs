//! The binary as a newcomer uses it: `serve` with no configuration answers `/healthz`, admin
//! commands work while it runs, a letter can be sent with the printed key, SIGTERM stops it
//! cleanly, and bad input gets one plain line. Runs on the database
//! `HYBRIDPOST_TEST_DATABASE_URL` names (SQLite in a temporary folder when unset).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::{BIN, Server, database_env, http, http_bytes, spawn_serve};

fn hybridpost(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).env_remove("RUST_LOG").env_remove("HYBRIDPOST_TEST_DATABASE_URL");
    for (k, v) in database_env_cached(dir) {
        cmd.env(k, v);
    }
    cmd
}

fn database_env_cached(dir: &std::path::Path) -> Vec<(String, String)> {
    let marker = dir.join(".db-env");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        return serde_json::from_str(&text).unwrap();
    }
    let env = database_env(dir, "cli");
    std::fs::write(&marker, serde_json::to_string(&env).unwrap()).unwrap();
    env
}

fn start(dir: &std::path::Path) -> Server {
    let started = Instant::now();
    let mut command = hybridpost(dir, &["serve", "--listen", "127.0.0.1:0"]);
    command.env("HYBRIDPOST_SHUTDOWN_GRACE_SECS", "2");
    let server = spawn_serve(command);
    let addr = server.addr;
    let (status, body) = http(addr, "GET", "/healthz", None, None);
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ok\"}"));
    assert!(started.elapsed() < Duration::from_secs(10), "healthz took {:?}", started.elapsed());
    server
}

#[test]
fn serve_answers_with_no_config_and_admin_commands_work_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());

    let out = hybridpost(
        dir.path(),
        &["admin", "create-agency", "--name", "กรมการปกครอง", "--contact-email", "saraban@dopa.go.th"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let agency: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = agency["api_key"].as_str().unwrap();
    assert!(key.starts_with("hpk_"));

    // The agency sets its emblem (scaled to 600 dpi at 3 cm), and can remove it.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/emblem");
    let agency_id = agency["agency_id"].as_str().unwrap();
    let standin = fixtures.join("standin.png");
    let set = hybridpost(dir.path(), &["admin", "set-emblem", "--agency-id", agency_id, standin.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let set: serde_json::Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!((set["emblem"]["width_px"].as_u64(), set["emblem"]["height_px"].as_u64()), (Some(630), Some(709)));
    assert_eq!(set["emblem"]["printed_mm"], serde_json::json!({"width": 26.7, "height": 30.0}));
    let removed =
        hybridpost(dir.path(), &["admin", "set-emblem", "--agency-id", agency_id, "--remove"]).output().unwrap();
    assert!(removed.status.success());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&removed.stdout).unwrap()["emblem"],
        serde_json::Value::Null
    );

    let site =
        hybridpost(dir.path(), &["admin", "create-site", "--name", "ปณ. สามเสนใน", "--postcode-prefixes", "10,11"])
            .output()
            .unwrap();
    assert!(site.status.success());
    let site: serde_json::Value = serde_json::from_slice(&site.stdout).unwrap();
    assert_eq!(site["postcode_prefixes"], serde_json::json!(["10", "11"]));

    let csv = dir.path().join("channels.csv");
    std::fs::write(&csv, "citizen_id,email\n1101700230708,somchai@example.co.th\n").unwrap();
    let import = hybridpost(dir.path(), &["admin", "import-channels", csv.to_str().unwrap()]).output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));

    let letter = r#"{"reference": "มท 0808.2/ว 1234", "recipient": {"name": "นายสมชาย ใจดี", "citizen_id": "1101700230708",
        "address": {"house_number": "99", "subdistrict": "สามเสนใน", "district": "พญาไท", "province": "กรุงเทพฯ", "postcode": "10400"}},
        "subject": "แจ้งผลการพิจารณาคำขอ", "body": ["ตามที่ท่านได้ยื่นคำขอ"]}"#;
    let (status, body) = http(server.addr, "POST", "/v1/letters", Some(key), Some(letter));
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["channel"], "digital", "the imported e-channel routes the letter: {body}");

    // The site key is not an agency key.
    let (status, _) = http(server.addr, "GET", "/v1/letters", site["api_key"].as_str(), None);
    assert_eq!(status, 403);

    // A second key, revoked: the server refuses it once its key cache (10 s) has expired.
    let second = hybridpost(dir.path(), &["admin", "create-key", "--agency-id", agency["agency_id"].as_str().unwrap()])
        .output()
        .unwrap();
    let second: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let second_key = second["api_key"].as_str().unwrap();
    assert_eq!(http(server.addr, "GET", "/v1/letters", Some(second_key), None).0, 200);
    let revoke = hybridpost(dir.path(), &["admin", "revoke-key", "--key-id", second["api_key_id"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));
    let deadline = Instant::now() + Duration::from_secs(15);
    while http(server.addr, "GET", "/v1/letters", Some(second_key), None).0 != 401 {
        assert!(Instant::now() < deadline, "a revoked key still works after 15 s");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(http(server.addr, "GET", "/v1/letters", Some(key), None).0, 200, "the first key still works");

    // SIGTERM: the node drains — /readyz says so at once while requests are still served for
    // the grace period — then exits cleanly, soon.
    assert_eq!(http(server.addr, "GET", "/readyz", None, None).0, 200);
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let signalled = Instant::now();
    let (status, body) = loop {
        let answer = http(server.addr, "GET", "/readyz", None, None);
        if answer.0 != 200 || signalled.elapsed() > Duration::from_secs(1) {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status, 503, "/readyz a second after SIGTERM: {body}");
    assert!(body.contains("shutting down"), "{body}");
    assert_eq!(http(server.addr, "GET", "/v1/letters", Some(key), None).0, 200, "still serving while draining");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "serve exited with {status}");
            break;
        }
        assert!(Instant::now() < deadline, "serve did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_node_serves_one_role_and_only_its_routes() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = hybridpost(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--role", "console"]);
    command.env("HYBRIDPOST_SHUTDOWN_GRACE_SECS", "0");
    let server = spawn_serve(command);
    assert_eq!(http(server.addr, "GET", "/readyz", None, None).0, 200);
    let (status, page) = http(server.addr, "GET", "/console/sign-in", None, None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(http(server.addr, "GET", "/v1/letters", None, None).0, 404, "not a gateway");
    let (status, doc) = http(server.addr, "GET", "/openapi.json", None, None);
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["paths"].as_object().map_or(0, serde_json::Map::len), 0, "{doc}");
}

#[test]
fn metrics_are_served_on_their_own_listener_and_the_public_one_answers_404() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hybridpost(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    cmd.env("HYBRIDPOST_METRICS_LISTEN", "127.0.0.1:0");
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Every line goes through a thread that reads to the end: a closed pipe would make the
    // server's later prints fail.
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(30)).unwrap();
    let public: SocketAddr = first.strip_prefix("hybridpost serving on http://").unwrap().parse().unwrap();
    let server = Server { child, addr: public };
    let metrics: SocketAddr = std::iter::from_fn(|| lines.recv_timeout(Duration::from_secs(10)).ok())
        .find_map(|l| l.trim().strip_prefix("metrics:").map(|m| m.trim().to_owned()))
        .unwrap()
        .strip_prefix("http://")
        .and_then(|m| m.strip_suffix("/metrics"))
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(metrics.port(), public.port());
    assert_eq!(http(server.addr, "GET", "/healthz", None, None).0, 200);
    let (status, body) = http(server.addr, "GET", "/metrics", None, None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("urn:hybridpost:problem:not-found"), "{body}");
    let (status, body) = http(metrics, "GET", "/metrics", None, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hybridpost_http_requests_total"), "{body}");
}

/// A CMYK JPEG, which is refused as an emblem.
const CMYK_EMBLEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/emblem/cmyk.jpg");

#[test]
fn bad_cli_input_gets_one_plain_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["admin", "create-site", "--name", "x", "--postcode-prefixes", "1a"],
            "postcode prefix \"1a\" must be 1 to 5 digits",
        ),
        (vec!["serve", "--role", "printer"], "unknown role \"printer\""),
        (vec!["admin", "create-key", "--agency-id", "0193a1b2-0000-7000-8000-000000000000"], "there is no agency"),
        (vec!["--config", "/nonexistent.toml", "admin", "migrate"], "does not exist"),
        (vec!["admin", "revoke-key", "--key-id", "nope"], "there is no live API key with id nope"),
        (
            vec!["admin", "set-emblem", "--agency-id", "0193a1b2-0000-7000-8000-000000000000", CMYK_EMBLEM],
            "cmyk.jpg: the emblem is in CMYK; save it as grey or RGB",
        ),
    ] {
        let out = hybridpost(dir.path(), &args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("hybridpost: ") && stderr.contains(expected), "{args:?}: {stderr}");
    }
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "1101700230708,a@example.co.th\n1101700230709,b@example.co.th\n").unwrap();
    let out = hybridpost(dir.path(), &["admin", "import-channels", csv.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 2") && stderr.contains("check digit"), "{stderr}");
}

/// An HTTP exchange whose answer body is bytes (a PDF).
/// Runs `hybridpost verify` with `args`; its exit code and standard output.
fn verify(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = hybridpost(dir, &all).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_printed_letter_verifies_offline_from_a_200_dpi_scan_a_rotated_jpeg_photo_and_its_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let out =
        hybridpost(dir.path(), &["admin", "create-agency", "--name", "สำนักงานเขตพญาไท", "--code", "BKK-PHAYATHAI"])
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let agency: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = agency["api_key"].as_str().unwrap();
    let letter =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/letters/official.json")).unwrap();
    let (status, body) = http(server.addr, "POST", "/v1/letters", Some(key), Some(&letter));
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = created["letter_id"].as_str().unwrap();
    let (status, pdf) = http_bytes(server.addr, "GET", &format!("/v1/letters/{id}/pdf"), Some(key), None);
    assert_eq!(status, 200);
    let pdf_path = dir.path().join("letter.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();

    // Page 1 as a 200 dpi scan.
    let prefix = dir.path().join("scan");
    let raster = Command::new("pdftoppm")
        .args(["-r", "200", "-f", "1", "-l", "1", "-png", "-singlefile"])
        .arg(&pdf_path)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(raster.success());
    let scan = dir.path().join("scan.png");
    let (code, text) = verify(dir.path(), &[scan.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("GENUINE") && text.contains("BKK-PHAYATHAI"), "{text}");
    assert!(
        text.contains(created["seal_reference"].as_str().unwrap()),
        "the printed reference is the sealed one: {text}"
    );

    // The same page photographed sideways and saved as a JPEG.
    let photo = dir.path().join("photo.jpg");
    let rotated = image::imageops::rotate90(&image::open(&scan).unwrap().to_rgb8());
    let mut jpeg = std::fs::File::create(&photo).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 60).encode_image(&rotated).unwrap();
    drop(jpeg);
    let (code, text) = verify(dir.path(), &[photo.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["verdict"], "genuine");
    assert_eq!(report["signed"]["issuer"], "BKK-PHAYATHAI");
    assert_eq!(report["withdrawals_checked"], true);

    // The same page photographed by a phone held over it: tilted 20° in perspective, the page
    // filling part of a 3:4 frame upside down, light falling off, a hand that moved, little
    // light, JPEG. The seal's modules come out at about three pixels.
    let page = image::open(&scan).unwrap().to_luma8();
    let camera = hybridpost_scan::degrade::Camera {
        frame: (1836, 2448),
        px_per_mm: 6.2,
        aim: (105.0, 148.5),
        aim_in_frame: (0.5, 0.5),
        roll: 183.0,
        tilt: 20.0,
        tilt_axis: 35.0,
        focal_px: 2300.0,
        background: 70,
    };
    let mut phone = hybridpost_scan::degrade::photograph(&page, 200, &camera);
    hybridpost_scan::degrade::vignette(&mut phone, 0.45, 0.15, 60.0);
    let mut phone = hybridpost_scan::degrade::motion_blur(&phone, 2.5, 30.0);
    hybridpost_scan::degrade::low_light(&mut phone, 0.5, 5.0, &mut hybridpost_scan::degrade::Rng::new(7));
    let phone_path = dir.path().join("phone.jpg");
    std::fs::write(&phone_path, hybridpost_scan::degrade::jpeg(&phone, 75)).unwrap();
    let (code, text) = verify(dir.path(), &[phone_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["verdict"], "genuine");

    // The PDF itself: its seal is a link to the verification page.
    let (code, text) = verify(dir.path(), &[pdf_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");

    // Offline, on another machine: the exported trust list and root keys, no database.
    let export = dir.path().join("trust");
    let out =
        hybridpost(dir.path(), &["admin", "export-trust-list", "--out", export.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let elsewhere = tempfile::tempdir().unwrap();
    let list = export.join("trust-list.json");
    let roots = export.join("root-keys.pem");
    let args = [scan.to_str().unwrap(), "--trust-list", list.to_str().unwrap(), "--root-keys", roots.to_str().unwrap()];
    let out = Command::new(BIN).current_dir(elsewhere.path()).arg("verify").args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("withdrawals not checked"), "{text}");

    // Cancelled, the letter is withdrawn: the seal no longer verifies here.
    let (status, body) = http(server.addr, "POST", &format!("/v1/letters/{id}/cancel"), Some(key), None);
    assert_eq!(status, 200, "{body}");
    let (code, text) = verify(dir.path(), &[scan.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["verdict"], "withdrawn");

    // A QR code that is not a seal, and a file with no code at all.
    let matrix = hybridpost_seal::qr_matrix("HTTPS://EXAMPLE.COM/NOT-A-SEAL").unwrap();
    let scale = 8u32;
    let side = (matrix.width as u32 + 8) * scale;
    let other = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - 4, (y / scale) as i64 - 4);
        let dark = mx >= 0 && my >= 0 && matrix.is_dark(mx as usize, my as usize);
        image::Luma([if dark { 0 } else { 255 }])
    });
    let other_path = dir.path().join("other.png");
    other.save(&other_path).unwrap();
    let (code, text) = verify(dir.path(), &[other_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["verdict"], "not_a_seal");
    let blank_path = dir.path().join("blank.png");
    image::GrayImage::from_pixel(400, 400, image::Luma([255])).save(&blank_path).unwrap();
    let (code, text) = verify(dir.path(), &[blank_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{text}");
    let (code, text) = verify(dir.path(), &[letter.as_str()]);
    assert_eq!(code, 2, "not a file: {text}");
}

/// The API description clients are generated from, as served by every role together: a change
/// to it shows in review as a change to this snapshot (`cargo insta review`).
#[test]
fn the_served_api_description_is_the_reviewed_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let (status, body) = http(server.addr, "GET", "/openapi.json", None, None);
    assert_eq!(status, 200, "{body}");
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("openapi", document);
}
