//! Helpers shared by the integration tests: the Python interpreter of the test venv and the
//! local servers written in Python.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The venv's python: `$HYBRIDPOST_TEST_PYTHON`, else `ops/.venv/bin/python`. Panics with a clear
/// message when it is missing: these tests never skip silently.
pub fn python() -> PathBuf {
    let path = std::env::var_os("HYBRIDPOST_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/.venv/bin/python"));
    assert!(
        path.exists(),
        "test Python not found at {}: run ops/test.sh (it makes the venv) or set HYBRIDPOST_TEST_PYTHON to a python with \
         aiosmtpd, dkimpy, pynacl and standardwebhooks installed",
        path.display()
    );
    path
}

/// Path of a helper script in `crates/notify/tests/py/` (this module is also used by the
/// notifier's tests, two folders deep like this crate).
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/notify/tests/py").join(name)
}

/// Runs a helper script and returns (success, stdout, stderr).
pub fn run_py(name: &str, args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(script(name))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python helper");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write helper stdin");
        }
    }
    let out = child.wait_with_output().expect("wait for python helper");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses .eml files with Python's `email` package (see `tests/py/inspect_eml.py`).
pub fn inspect_eml(paths: &[PathBuf]) -> Vec<serde_json::Value> {
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().expect("utf-8 path")).collect();
    let (ok, out, err) = run_py("inspect_eml.py", &args, None);
    assert!(ok, "inspect_eml.py failed: {err}");
    serde_json::from_str(&out).expect("inspect_eml.py prints JSON")
}

/// A Python server started from `tests/py/`, stopped on drop.
pub struct PyServer {
    child: Child,
    _stdin: ChildStdin,
    /// The 127.0.0.1 port it listens on.
    pub port: u16,
}

impl PyServer {
    /// Starts `script` with `args` and waits for its `READY <port>` line.
    pub fn start(name: &str, args: &[&str]) -> Self {
        let mut child = Command::new(python())
            .arg(script(name))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python server");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read READY line");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name} did not start: {line:?}"));
        Self { child, _stdin: stdin, port }
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes a self-signed certificate for `localhost` / 127.0.0.1 with the openssl command.
/// Returns (cert.pem, key.pem).
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command is needed (Debian package openssl)");
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// Waits until `dir` holds `n` `.eml` files and returns them sorted.
pub fn wait_for_emls(dir: &Path, n: usize) -> Vec<PathBuf> {
    for _ in 0..200 {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read sink dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        if files.len() >= n {
            files.sort();
            return files;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("expected {n} messages in {}", dir.display());
}
