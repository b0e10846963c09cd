//! The served `/openapi.json` as tools from outside the project read it, against the running
//! binary: schemathesis sends generated requests to every operation (once with an agency key,
//! once with a site key) and checks each answer against the document; openapi-python-client
//! generates a Python client from it, with which an agency sends a paper letter, reads it, finds
//! it in the list and downloads its PDF.
//!
//! Both need the test venv's tools (`ensure_python_venv` in `ops/lib/common.sh`): without them a
//! test says why and passes, except under `CI`, where a missing tool fails it. Runs on SQLite
//! only: the suite's PostgreSQL pass skips them, as the HTTP surface does not change with the
//! database.
//!
//! `HYBRIDPOST_TEST_PYTHON=ops/.venv/bin/python cargo test -p hybridpost --test openapi_clients
//! -- --nocapture` shows each tool's whole output and, at the end, one line per finding.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::{BIN, Server, database_env, http, http_bytes, spawn_serve};

/// Test cases schemathesis generates per operation and phase: enough to reach each operation's
/// validation with valid and invalid data, few enough for both runs to take about 30 s.
const MAX_EXAMPLES: u32 = 50;
/// The same for the operations whose body is a PDF.
const PDF_MAX_EXAMPLES: u32 = 10;
/// Every run's seed, so that a failure repeats (with one worker, in the same order).
const SEED: &str = "20261204";
/// The longest one tool may run before the test stops it.
const TOOL_LIMIT: Duration = Duration::from_secs(240);
/// The paper letter both tests send: a Bangkok address with a real postcode, no e-channel.
const LETTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/letters/official.json");

/// The test venv's python when it has the tools; `None`, once the reason is printed, when it has
/// not and this is not CI, or when this is the PostgreSQL run of the suite: what these tests
/// check is the HTTP surface and its document, the same on either database, so the suite runs
/// them once (on SQLite) rather than twice.
fn venv_python() -> Option<PathBuf> {
    if std::env::var("HYBRIDPOST_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        let _ =
            writeln!(std::io::stderr(), "not run on PostgreSQL: the SQLite run of the suite checks the API document");
        return None;
    }
    let python = std::env::var_os("HYBRIDPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/.venv/bin/python"));
    let missing = if python.exists() {
        let out = Command::new(&python)
            .args(["-c", "import schemathesis, openapi_python_client, dateutil, httpx, attrs"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        (!out.status.success())
            .then(|| format!("{} lacks a tool: {}", python.display(), stderr.lines().last().unwrap_or_default()))
    } else {
        Some(format!("there is no python at {}", python.display()))
    };
    let Some(missing) = missing else { return Some(python) };
    let fix = "run ops/test.sh once (its ensure_python_venv installs schemathesis and openapi-python-client) \
               or set HYBRIDPOST_TEST_PYTHON to a python that has them";
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "{missing}; under CI this test must run: {fix}");
    // Straight to stderr, past the test harness's capture, so that the skip is seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED (CI is not set): {missing}; {fix}");
    None
}

/// A running `serve` in a temporary folder, with an agency and a post-office site for
/// postcodes 10…, and a key for each.
struct Service {
    server: Server,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    agency_key: String,
    site_key: String,
}

impl Service {
    /// Starts `serve` with `extra` in its environment.
    fn start(extra: &[(&str, &str)]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut env = database_env(dir.path(), "oapi");
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let server = spawn_serve(hybridpost(dir.path(), &env, &["serve", "--listen", "127.0.0.1:0"]));
        let mut service = Service { server, dir, env, agency_key: String::new(), site_key: String::new() };
        assert_eq!(http(service.addr(), "GET", "/healthz", None, None).0, 200);
        let agency = service.admin(&["create-agency", "--name", "สำนักงานเขตพญาไท", "--code", "BKK-PHAYATHAI"]);
        service.agency_key = agency["api_key"].as_str().unwrap().to_owned();
        let site = service.admin(&["create-site", "--name", "ปณ. สามเสนใน", "--postcode-prefixes", "10"]);
        service.site_key = site["api_key"].as_str().unwrap().to_owned();
        service
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Runs `hybridpost admin ARGS` beside the server; its JSON output.
    fn admin(&self, args: &[&str]) -> Value {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let out = hybridpost(self.dir.path(), &self.env, &all).output().unwrap();
        assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Sends the paper letter; the server's answer.
    fn send_letter(&self) -> Value {
        let letter = std::fs::read_to_string(LETTER).unwrap();
        let (status, body) = http(self.addr(), "POST", "/v1/letters", Some(&self.agency_key), Some(&letter));
        assert_eq!(status, 201, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn hybridpost(dir: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).args(args).env_remove("RUST_LOG").env_remove("HYBRIDPOST_TEST_DATABASE_URL");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Uploads a scan of one blank page (no code on it) as a batch of replies and waits until the
/// page is in the review queue: the scan's id and the page's id.
fn scan_a_page_for_review(service: &Service) -> (String, String) {
    let page = image::GrayImage::from_pixel(600, 800, image::Luma([255u8]));
    let mut png = Vec::new();
    page.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let boundary = "scanboundary7d1";
    let mut body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"mode\"\r\n\r\nreplies\r\n--{boundary}\r\n\
         content-disposition: form-data; name=\"file\"; filename=\"blank.png\"\r\ncontent-type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut s = TcpStream::connect(service.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /v1/scans HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\nauthorization: Bearer {}\r\n\
         content-type: multipart/form-data; boundary={boundary}\r\ncontent-length: {}\r\n\r\n",
        service.site_key,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let accepted: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let scan_id = accepted["scan_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, queue) = http(service.addr(), "GET", "/v1/review", Some(&service.site_key), None);
        assert_eq!(status, 200, "{queue}");
        let queue: Value = serde_json::from_str(&queue).unwrap();
        if let Some(page_id) = queue["items"][0]["page_id"].as_str() {
            return (scan_id, page_id.to_owned());
        }
        assert!(Instant::now() < deadline, "the blank page is not in review after 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A relay on loopback to `upstream` that sends each connection's request with a client address
/// of its own in `x-forwarded-for` (replacing any the client sent) and `connection: close`, so
/// that each connection carries one request. Bytes pass through unchanged otherwise.
fn relay_with_an_address_per_connection(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { continue };
            // 10.0.0.1, 10.0.0.2, …: 16 million connections before an address repeats.
            let n = n + 1;
            let address = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
            std::thread::spawn(move || {
                // A connection the client or the service drops mid-way ends here; the client
                // sees it as the service would have shown it.
                let _ = relay_one(client, upstream, &address);
            });
        }
    });
    addr
}

fn relay_one(mut client: TcpStream, upstream: SocketAddr, address: &str) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let end = loop {
        let read = client.read(&mut buf)?;
        if read == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..read]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let mut request = Vec::with_capacity(head.len() + 64);
    for line in head[..end].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name = line.split(|&b| b == b':').next().unwrap_or_default().trim_ascii().to_ascii_lowercase();
        if name != b"connection" && name != b"x-forwarded-for" {
            request.extend_from_slice(line);
            request.extend_from_slice(b"\r\n");
        }
    }
    request.extend_from_slice(format!("x-forwarded-for: {address}\r\nconnection: close\r\n\r\n").as_bytes());
    request.extend_from_slice(&head[end + 4..]);
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&request)?;
    // The rest of the body, as the client sends it.
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
    });
    let copied = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    copied.map(drop)
}

/// Runs a tool with its standard output and error in one file of `dir`, stopping it after
/// [`TOOL_LIMIT`]; its exit status, what it printed and how long it took.
fn run_tool(mut cmd: Command, dir: &Path, name: &str) -> (ExitStatus, String, Duration) {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file).spawn().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TOOL_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} ran longer than {TOOL_LIMIT:?}:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    (status, std::fs::read_to_string(&log).unwrap(), started.elapsed())
}

/// What one schemathesis run found.
struct Findings {
    /// The run's exit status.
    status: ExitStatus,
    /// Operations the run selected, of how many in the document.
    selected: (u64, u64),
    /// One line per failed check (its code, title and operations), error and warning.
    lines: Vec<String>,
    /// The operations whose valid data was mostly refused ("Schema validation mismatch").
    validation_mismatch: Vec<String>,
}

/// Where and how schemathesis runs: the service, the address it is reached at, and the PDF a
/// valid application/pdf request sends (tests/py/schemathesis_hooks.py).
struct Schemathesis<'a> {
    python: &'a Path,
    service: &'a Service,
    base: SocketAddr,
    pdf: &'a Path,
    /// The seal reference of a letter that exists, for a review decision that assigns a page.
    reference: &'a str,
}

impl Schemathesis<'_> {
    /// Runs schemathesis against the served document with `key`, on the operations `select`
    /// picks, with `parameters` (path parameters naming things that exist) given to every
    /// operation that has them.
    fn run(&self, name: &str, key: &str, select: &[&str], parameters: &[(&str, &str)]) -> Findings {
        let Schemathesis { python, service, base, pdf, reference } = *self;
        let dir = service.dir.path();
        // No cache of the API's capabilities between runs: each run starts from the same state.
        let mut config =
            format!("[cache]\nenabled = false\n\n[generation]\nmax-examples = {MAX_EXAMPLES}\n\n[parameters]\n");
        for (k, v) in parameters {
            config.push_str(&format!("\"path.{k}\" = {}\n", serde_json::to_string(v).unwrap()));
        }
        // A PDF body: a valid request sends the real PDF whatever was generated (the hooks),
        // and past a few examples generating ever larger binary strings takes schemathesis
        // minutes for nothing the PDF check's own tests (hostile and damaged files) do not cover.
        config.push_str(&format!(
            "\n[[operations]]\ninclude-path-regex = \"^/v1/(pdf-checks|documents)$\"\n\
             generation = {{ max-examples = {PDF_MAX_EXAMPLES} }}\n"
        ));
        let config_path = dir.join(format!("schemathesis-{name}.toml"));
        std::fs::write(&config_path, config).unwrap();
        let report_path = dir.join(format!("schemathesis-{name}.json"));
        let mut cmd = Command::new(python);
        cmd.env("SCHEMATHESIS_HOOKS", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/schemathesis_hooks.py"));
        cmd.env("HYBRIDPOST_TEST_PDF", pdf);
        cmd.env("HYBRIDPOST_TEST_SEAL_REFERENCE", reference);
        cmd.current_dir(dir).args(["-m", "schemathesis.cli", "--config-file"]).arg(&config_path);
        cmd.args(["run", &format!("http://{base}/openapi.json")]);
        cmd.args(["--header", &format!("Authorization: Bearer {key}"), "--checks", "all"]);
        cmd.args(["--seed", SEED, "--workers", "1", "--continue-on-failure"]);
        cmd.args(["--generation-database", "none", "--request-timeout", "30", "--no-color"]);
        cmd.args(["--report", "json", "--report-json-path"]).arg(&report_path).args(select);
        let (status, output, took) = run_tool(cmd, dir, &format!("schemathesis-{name}"));
        println!("==== schemathesis, {name} operations: {status}, {took:.1?}\n{output}");
        let _ = writeln!(std::io::stderr(), "schemathesis, {name} operations: {status} in {took:.1?}");

        let report: Value = serde_json::from_slice(
            &std::fs::read(&report_path).unwrap_or_else(|e| panic!("no JSON report ({e}):\n{output}")),
        )
        .unwrap();
        let names =
            |v: &Value| v.as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(", ");
        let mut lines = Vec::new();
        for f in report["failures"].as_array().into_iter().flatten() {
            lines.push(format!(
                "{name}: {} {}: {}",
                f["code"].as_str().unwrap_or("?"),
                f["title"],
                names(&f["operations"])
            ));
        }
        for e in report["errors"].as_array().into_iter().flatten() {
            lines.push(format!("{name}: error {} ×{}", e["title"], e["count"]));
        }
        for (kind, operations) in report["warnings"].as_object().into_iter().flatten() {
            if operations.as_array().is_some_and(|o| !o.is_empty()) {
                lines.push(format!("{name}: warning {kind}: {}", names(operations)));
            }
        }
        // The report's list, and the printed block ("Schema validation mismatch: N operations …"
        // then one "  - METHOD /path" line each) in case a version's report leaves it out.
        let mut validation_mismatch: Vec<String> = names(&report["warnings"]["validation_mismatch"])
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(Into::into)
            .collect();
        if let Some((_, block)) = output.split_once("Schema validation mismatch") {
            let listed = block.lines().skip(1).skip_while(|l| l.trim().is_empty());
            for op in listed.map_while(|l| l.trim().strip_prefix("- ")) {
                if !validation_mismatch.iter().any(|o| o == op) {
                    validation_mismatch.push(op.to_owned());
                }
            }
        }
        let selected =
            (report["operations"]["selected"].as_u64().unwrap(), report["operations"]["total"].as_u64().unwrap());
        Findings { status, selected, lines, validation_mismatch }
    }
}

#[test]
fn schemathesis_finds_no_failures_in_the_agency_or_site_operations() {
    let Some(python) = venv_python() else { return };
    let started = Instant::now();
    // schemathesis sends requests without a key, or with a wrong one, on purpose, and thousands
    // of requests in all from one address: the failed-authentication limit (20 in a row per
    // client address, crates/web/src/auth.rs, tested in crates/web/tests/auth.rs) would answer
    // 429 instead of 401 from a point that depends on the machine's speed. So the service trusts
    // `x-forwarded-for`, and schemathesis goes through a relay that gives each connection (one
    // request each) its own address.
    let service = Service::start(&[("HYBRIDPOST_CLIENT_IP_HEADER", "x-forwarded-for")]);
    let relay = relay_with_an_address_per_connection(service.addr());
    // Things that exist, for the operations that take their ids: a letter printed in a closed
    // batch, and a second letter waiting for the next batch.
    let letter = service.send_letter();
    let (status, batch) = http(service.addr(), "POST", "/v1/print/batches", Some(&service.site_key), None);
    assert_eq!(status, 201, "{batch}");
    let batch: Value = serde_json::from_str(&batch).unwrap();
    let batch_id = batch["batch_id"].as_str().unwrap();
    // Rendered in the background: ready before the runs, so that they find it the same each time.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) =
            http(service.addr(), "GET", &format!("/v1/print/batches/{batch_id}"), Some(&service.site_key), None);
        assert_eq!(status, 200, "{body}");
        if serde_json::from_str::<Value>(&body).unwrap()["status"] == "ready" {
            break;
        }
        assert!(Instant::now() < deadline, "batch {batch_id} not ready after 60 s: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    service.send_letter();
    // A page in the review queue, for the review operations and the scan's own.
    let (scan_id, page_id) = scan_a_page_for_review(&service);
    // The letter's PDF, which the service's own PDF check accepts, for uploads.
    let letter_id = letter["letter_id"].as_str().unwrap();
    let (status, pdf) =
        http_bytes(service.addr(), "GET", &format!("/v1/letters/{letter_id}/pdf"), Some(&service.agency_key), None);
    assert_eq!(status, 200);
    let pdf_path = service.dir.path().join("letter.pdf");
    std::fs::write(&pdf_path, pdf).unwrap();

    // A letter batch, for the batch operations.
    let one = format!("{{\"letters\": [{}]}}", std::fs::read_to_string(LETTER).unwrap());
    let (status, body) = http(service.addr(), "POST", "/v1/letter-batches", Some(&service.agency_key), Some(&one));
    assert_eq!(status, 202, "{body}");
    let letter_batch: Value = serde_json::from_str(&body).unwrap();
    let letter_batch_id = letter_batch["batch_id"].as_str().unwrap().to_owned();

    // The agency run takes every operation that is not the print site's, the public
    // verification ones included (the key goes unused there).
    let reference = letter["seal_reference"].as_str().unwrap();
    let schemathesis = Schemathesis { python: &python, service: &service, base: relay, pdf: &pdf_path, reference };
    let agency = schemathesis.run(
        "agency",
        &service.agency_key,
        &["--exclude-by", "/security/0/site_key == []"],
        &[("letter_id", letter_id), ("reference", reference), ("batch_id", &letter_batch_id)],
    );
    let site = schemathesis.run(
        "site",
        &service.site_key,
        &[
            "--include-by",
            "/security/0/site_key == []",
            "--exclude-operation-id",
            "create_scan",
            // The stateful phase follows links with generated values and without the hooks
            // that keep the rules JSON Schema cannot say (a dispatch names every letter of its
            // batch), so it would send such requests as valid ones.
            "--phases",
            "examples,coverage,fuzzing",
        ],
        &[("batch_id", batch_id), ("scan_id", &scan_id), ("page_id", &page_id)],
    );
    // The scan upload is a multipart form, which cannot carry a null or a nested value:
    // schemathesis leaves such a field out, which turns an upload meant to be invalid into a
    // valid one. Its valid uploads are checked here; the intake tests send the invalid ones
    // (bad mode, a reason with replies, no file, …).
    let upload = schemathesis.run(
        "upload",
        &service.site_key,
        &[
            "--include-operation-id",
            "create_scan",
            "--exclude-checks",
            "negative_data_rejection",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        &[],
    );
    // Between them the runs test every operation: a renamed security scheme would otherwise
    // leave some out unnoticed.
    let runs = [&agency, &site, &upload];
    let (total, selected) = (agency.selected.1, runs.iter().map(|r| r.selected.0).sum::<u64>());
    assert!(runs.iter().all(|r| r.selected.0 > 0) && selected == total, "operations selected: {selected} of {total}");

    let mut problems = Vec::new();
    for run in runs {
        problems.extend(run.lines.iter().cloned());
    }
    let mismatch: Vec<_> = runs.iter().flat_map(|r| &r.validation_mismatch).collect();
    println!("==== findings ({:.1?} in all)\n{}", started.elapsed(), problems.join("\n"));
    assert!(
        runs.iter().all(|r| r.status.success()) && mismatch.is_empty(),
        "schemathesis found failures (agency run: {}, site run: {}, upload run: {}); schema validation mismatch: \
         {mismatch:?}\n{}\n(the full output of each run is printed above)",
        agency.status,
        site.status,
        upload.status,
        problems.join("\n"),
    );
}

#[test]
fn a_python_client_generated_from_openapi_json_sends_reads_lists_and_downloads_a_letter() {
    let Some(python) = venv_python() else { return };
    let started = Instant::now();
    let service = Service::start(&[]);
    let dir = service.dir.path();
    let (status, document) = http(service.addr(), "GET", "/openapi.json", None, None);
    assert_eq!(status, 200, "{document}");
    let document_path = dir.join("openapi.json");
    std::fs::write(&document_path, document).unwrap();
    // openapi-python-client reads JSON, text and application/octet-stream bodies only: a PDF or a
    // PNG is bytes just as an octet stream is. No formatting hooks: the code need not be pretty.
    let config = "package_name_override: hybridpost_client\npost_hooks: []\ncontent_type_overrides:\n  \
                  application/pdf: application/octet-stream\n  image/png: application/octet-stream\n";
    let config_path = dir.join("openapi-python-client.yaml");
    std::fs::write(&config_path, config).unwrap();
    let client_dir = dir.join("client");
    let mut generate = Command::new(&python);
    generate.current_dir(dir).args(["-m", "openapi_python_client", "generate", "--path"]).arg(&document_path);
    generate.arg("--output-path").arg(client_dir.join("hybridpost_client")).args(["--meta", "none", "--config"]);
    generate.arg(&config_path);
    let (generated, generator_output, took) = run_tool(generate, dir, "openapi-python-client");
    println!("==== openapi-python-client generate: {generated}, {took:.1?}\n{generator_output}");
    assert!(generated.success(), "openapi-python-client could not generate a client:\n{generator_output}");
    let generator_warnings: Vec<&str> =
        generator_output.lines().filter(|l| l.starts_with("WARNING") || l.starts_with("Warning")).collect();

    let mut script = Command::new(&python);
    script.current_dir(dir).arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/client_roundtrip.py"));
    script.arg(&client_dir).arg(&document_path).arg(service.url()).arg(&service.agency_key).arg(LETTER);
    let (ran, script_output, took) = run_tool(script, dir, "client_roundtrip");
    println!("==== client_roundtrip.py: {ran}, {took:.1?}\n{script_output}");
    let _ = writeln!(std::io::stderr(), "client round trip: {:.1?} in all", started.elapsed());
    let checked = script_output.lines().filter(|l| l.starts_with("ok: ")).count();
    assert!(
        generator_warnings.is_empty() && ran.success() && checked == 5,
        "the generated client does not work: {} generator warning(s) {generator_warnings:?}; the round trip \
         ({checked} of 5 steps checked):\n{script_output}",
        generator_warnings.len(),
    );
}
