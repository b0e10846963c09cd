//! What the binary's tests share: the test database as the binary's environment, and a
//! `serve` process that is killed when the test ends.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_hybridpost");

/// The binary's environment for the test database `HYBRIDPOST_TEST_DATABASE_URL` names: on
/// PostgreSQL a schema of its own (`{prefix}_` and the folder's name, set as the connection's
/// search_path) with the secrets PostgreSQL needs; nothing on SQLite (the data dir holds it).
pub fn database_env(dir: &Path, prefix: &str) -> Vec<(String, String)> {
    let Some(url) = std::env::var("HYBRIDPOST_TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
        return Vec::new();
    };
    let name = dir.file_name().expect("a temporary folder has a name").to_string_lossy().to_lowercase();
    let schema = format!("{prefix}_{}", name.replace(['.', '-'], "_"));
    let status = Command::new("psql")
        .args([url.as_str(), "-q", "-c", &format!("create schema \"{schema}\"")])
        .status()
        .expect("psql is installed (ops/test.sh installs it)");
    assert!(status.success(), "create schema {schema}");
    let sep = if url.contains('?') { '&' } else { '?' };
    vec![
        ("HYBRIDPOST_DATABASE_URL".into(), format!("{url}{sep}options=-c%20search_path%3D{schema}")),
        ("HYBRIDPOST_CITIZEN_ID_KEY".into(), "0123456789abcdef0123456789abcdef".into()),
        ("HYBRIDPOST_SECRET_KEY".into(), "fedcba9876543210fedcba9876543210".into()),
    ]
}

/// A running `hybridpost serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` (a command that listens on port 0) and waits for the address it prints.
pub fn spawn_serve(mut cmd: Command) -> Server {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("the binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout is piped")).read_line(&mut first).expect("a first line");
    let addr = first.trim().strip_prefix("hybridpost serving on http://").unwrap_or_else(|| panic!("{first}"));
    Server { addr: addr.parse().expect("an address"), child }
}

/// One HTTP/1.1 exchange with `connection: close`; the status and the body as text.
pub fn http(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> (u16, String) {
    let (status, body) = http_bytes(addr, method, path, key, body);
    (status, String::from_utf8(body).unwrap())
}

/// One HTTP/1.1 exchange with `connection: close`; the status and the body's bytes.
pub fn http_bytes(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("authorization: Bearer {k}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let status = std::str::from_utf8(&answer[9..12]).unwrap().parse().unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (status, answer[split + 4..].to_vec())
}
