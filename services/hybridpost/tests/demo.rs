//! `hybridpost demo`, the whole loop, with a few letters: every count in its summary adds up,
//! and the service, served afterwards on the data dir the demo left, tells the same story
//! letter by letter — every reply on the letter the demo replied to, every return on the letter
//! it returned, the stray sheet in review, one e-mail file per message. Runs on the database
//! `HYBRIDPOST_TEST_DATABASE_URL` names (SQLite in a temporary folder when unset). Needs
//! pdftoppm and qpdf (`ops/test.sh` installs them).
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod support;

use support::{BIN, Server, database_env, spawn_serve};

fn hybridpost(data: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data).args(args).env_remove("RUST_LOG").env_remove("HYBRIDPOST_TEST_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn serve(data: &Path, env: &[(String, String)]) -> Server {
    spawn_serve(hybridpost(data, env, &["serve", "--listen", "127.0.0.1:0"]))
}

fn get(addr: SocketAddr, path: &str, key: &str) -> Value {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\nauthorization: Bearer {key}\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "GET {path}: {answer}");
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    // The answers are small enough to come unchunked; a chunked one is joined here.
    let body = if answer.to_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.into() };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

fn count(map: &Value, key: &str) -> u64 {
    map.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn sum(map: &Value) -> u64 {
    map.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum()
}

/// The agency's letters with `status`, through the paged list.
fn letters_with(addr: SocketAddr, key: &str, status: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("/v1/letters?status={status}&limit=100");
    loop {
        let page = get(addr, &path, key);
        ids.extend(page["items"].as_array().unwrap().iter().map(|l| l["letter_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/letters?status={status}&limit=100&cursor={c}"),
            None => return ids,
        }
    }
}

#[test]
fn the_demo_loses_nothing_and_matches_nothing_wrongly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = database_env(dir.path(), "demo");
    // A debug build searches a page many times slower than a release build: the page budget is
    // raised to match, so that the pages without a code (the stray sheet, a page added to a
    // reply) are searched to the end, as in production, and not cut short.
    let out = hybridpost(&data, &env, &["demo", "--letters", "40", "--json"])
        .env("HYBRIDPOST_SCAN_PAGE_BUDGET_MS", "60000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(s["problems"], serde_json::json!([]), "{stdout}");

    // The summary adds up.
    let n = 40;
    assert_eq!(s["letters"], n);
    assert_eq!(sum(&s["by_channel"]), n, "{}", s["by_channel"]);
    assert_eq!(sum(&s["by_channel_reason"]), n, "{}", s["by_channel_reason"]);
    assert_eq!(sum(&s["by_status"]), n, "{}", s["by_status"]);
    let (digital, paper) = (count(&s["by_channel"], "digital"), count(&s["by_channel"], "print"));
    assert_eq!(digital, n / 5, "one recipient in five has a verified e-mail address");
    assert_eq!(count(&s["by_channel_reason"], "no_citizen_id"), n / 20);
    let (replies, returns) = (&s["replies"], &s["returns"]);
    let replied = replies["scanned"].as_u64().unwrap();
    let returned = returns["scanned"].as_u64().unwrap();
    assert!(replied >= 1 && returned >= 1, "{stdout}");
    assert_eq!(replies["matched"], replied);
    assert_eq!(replies["wrong_letter"], 0);
    assert_eq!(replies["missing"], 0);
    assert_eq!(returns["returned"], returned);
    let by_status = &s["by_status"];
    assert_eq!(count(by_status, "notified"), digital);
    assert_eq!(count(by_status, "reply_received"), replied);
    assert_eq!(count(by_status, "returned"), returned);
    assert_eq!(count(by_status, "dispatched"), paper - replied - returned);
    assert_eq!(s["print"]["letters"], paper);
    assert_eq!(s["print"]["pages_rasterised"], replied + returned);
    let scans = &s["scans"];
    assert_eq!(scans["reply_sheets"], replied);
    assert_eq!(scans["returned_pages"], returned);
    assert_eq!(scans["stray_pages"], 1);
    assert_eq!(scans["pages"].as_u64().unwrap(), replied + scans["added_pages"].as_u64().unwrap() + returned + 1);
    assert_eq!(s["review"]["pages"], 1, "the stray sheet, and nothing else, waits in review");
    let emails = &s["emails"];
    assert_eq!(emails["digital_notices"], digital);
    assert_eq!(emails["agency_notices"], replied + returned);
    assert_eq!(emails["written"], digital + replied + returned);
    assert_eq!(emails["eml_files"], emails["written"]);
    assert_eq!(emails["failed"], 0);
    let stages: Vec<&str> = s["stages"].as_array().unwrap().iter().map(|st| st["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["setup", "send", "render", "print", "scan", "intake", "notify", "check"]);

    // What the demo meant to do, letter by letter.
    let plan: Vec<Value> = std::fs::read_to_string(data.join("demo/letters.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(plan.len() as u64, n);
    let fate_of: HashMap<String, Value> =
        plan.iter().map(|p| (p["letter_id"].as_str().unwrap().to_owned(), p.clone())).collect();
    let with_fate = |fate: &str| -> Vec<String> {
        let mut ids: Vec<String> =
            plan.iter().filter(|p| p["fate"] == fate).map(|p| p["letter_id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };

    // The service, served on what the demo left, agrees letter by letter.
    let server = serve(&data, &env);
    let (agency, site) = (s["browse"]["agency_key"].as_str().unwrap(), s["browse"]["site_key"].as_str().unwrap());
    let mut got = letters_with(server.addr, agency, "reply_received");
    got.sort();
    assert_eq!(got, with_fate("replies"), "the letters with a reply are the ones the demo replied to");
    for id in &got {
        let answer = get(server.addr, &format!("/v1/letters/{id}/replies"), agency);
        let list = answer["items"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{id}: {answer}");
        assert_eq!(list[0]["letter_id"], id.as_str());
        assert_eq!(list[0]["source"], "scan");
        assert_eq!(list[0]["pages"].as_u64().unwrap(), 1 + fate_of[id]["added_pages"].as_u64().unwrap());
    }
    let mut got = letters_with(server.addr, agency, "returned");
    got.sort();
    assert_eq!(got, with_fate("returned"), "the returned letters are the ones the demo returned");
    for id in &got {
        let letter = get(server.addr, &format!("/v1/letters/{id}"), agency);
        let event = letter["timeline"].as_array().unwrap().iter().find(|e| e["kind"] == "returned").unwrap();
        assert!(event["detail"].to_string().contains(fate_of[id]["reason"].as_str().unwrap()), "{event}");
    }
    let mut got = letters_with(server.addr, agency, "notified");
    got.sort();
    assert_eq!(got, with_fate("digital"));
    let mut got = letters_with(server.addr, agency, "dispatched");
    got.sort();
    assert_eq!(got, with_fate("delivered"));
    let review = get(server.addr, "/v1/review", site);
    let items = review["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{review}");
    assert_eq!(items[0]["reason"], "no_code");

    // One .eml file per message, each to the right kind of address.
    let mut to = BTreeMap::new();
    for entry in std::fs::read_dir(data.join("outbox")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let line = text.lines().find(|l| l.starts_with("To:")).unwrap().to_owned();
        let kind = if line.contains("saraban@example.go.th") { "agency" } else { "citizen" };
        *to.entry(kind).or_insert(0u64) += 1;
    }
    assert_eq!(to.get("citizen").copied().unwrap_or(0), digital);
    assert_eq!(to.get("agency").copied().unwrap_or(0), replied + returned);
}
