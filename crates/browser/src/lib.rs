//! A real browser for hybridpost's tests: Debian's headless `chromium` driven through
//! `chromedriver` (WebDriver, with fantoccini over plain HTTP on loopback), axe-core injected
//! into pages to check their accessibility, and screenshots at the sizes the consoles are
//! looked at. Used by tests only; it panics, as a test should, when something is missing.
//!
//! - `HYBRIDPOST_TEST_CHROMEDRIVER`, `HYBRIDPOST_TEST_CHROMIUM`: other names for the driver and
//!   the browser;
//! - `HYBRIDPOST_TEST_AXE`: axe-core's `axe.min.js` (`ops/test.sh` installs it in `ops/.node`);
//! - `HYBRIDPOST_SCREENSHOTS`: a folder to save every checked page into, as PNGs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![expect(clippy::unwrap_used, clippy::panic, reason = "test support fails loudly")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub use fantoccini::elements::Element;
pub use fantoccini::key::Key;
pub use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// The window sizes every page is checked at: a post-office desktop and a phone.
pub const SIZES: [(u32, u32); 2] = [(1366, 768), (390, 844)];

/// `chromedriver` on a port of its own, stopped when dropped.
#[derive(Debug)]
pub struct Driver {
    child: tokio::process::Child,
    url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Driver {
    /// Starts chromedriver and waits until it listens.
    pub async fn start() -> Driver {
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
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Driver { child, url: format!("http://127.0.0.1:{port}") };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on port {port}");
    }

    /// A new headless browser session, in Thai, at desktop size; files it downloads go to
    /// `downloads` when given.
    pub async fn browser(&self, downloads: Option<&Path>) -> Client {
        let mut options = json!({
            "binary": std::env::var("HYBRIDPOST_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=th",
                     "--window-size=1366,768"],
        });
        if let Some(dir) = downloads {
            options["prefs"] = json!({
                "download.default_directory": dir.display().to_string(),
                "download.prompt_for_download": false,
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
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

/// axe-core's script.
pub fn axe_source() -> String {
    let path = std::env::var("HYBRIDPOST_TEST_AXE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ops/.node/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("axe-core is not at {} ({e}); ops/test.sh installs it", path.display()))
}

/// Checks the page at both [`SIZES`]: axe-core finds nothing serious or critical. Saves a
/// picture of each size as `{name}-{w}x{h}.png` when `HYBRIDPOST_SCREENSHOTS` names a folder.
pub async fn check_page(c: &Client, axe: &str, name: &str) {
    for (w, h) in SIZES {
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
    c.set_window_size(SIZES[0].0, SIZES[0].1).await.unwrap();
}

/// The path of the page the browser shows.
pub async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// The tag and text of the element that has the focus.
pub async fn focused(c: &Client) -> String {
    let e = c.active_element().await.unwrap();
    format!("{}:{}", e.tag_name().await.unwrap(), e.text().await.unwrap().trim())
}

/// Types `text` (keys included) into the element that has the focus.
pub async fn type_keys(c: &Client, text: &str) {
    c.active_element().await.unwrap().send_keys(text).await.unwrap();
}

/// Presses `key` on the element that has the focus.
pub async fn press(c: &Client, key: Key) {
    type_keys(c, &char::from(key).to_string()).await;
}

/// The page the browser shows now, to tell it from the next one (see [`wait_for_next_page`]).
pub async fn this_page(c: &Client) -> Element {
    c.find(Locator::Css("html")).await.unwrap()
}

/// Waits until the browser has left the page `before` and shows the next one at `path`. A
/// form that posts back to its own address shows a new page at the same path: only the old
/// page's elements going stale tell the two apart.
pub async fn wait_for_next_page(c: &Client, before: &Element, path: &str) {
    for _ in 0..200 {
        if before.tag_name().await.is_err() && path_of(c).await == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never left its page for {path}; it is at {}", path_of(c).await);
}

/// Waits until the page's path is `path`.
pub async fn wait_for_path(c: &Client, path: &str) {
    for _ in 0..200 {
        if path_of(c).await == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached {path}; it is at {}", path_of(c).await);
}

/// Waits for a file whose name starts with `prefix` to finish downloading into `dir`, and
/// returns its path.
pub async fn downloaded(dir: &Path, prefix: &str) -> PathBuf {
    for _ in 0..300 {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(prefix) && !name.ends_with(".crdownload") {
                    return e.path();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no file {prefix}… was downloaded into {}", dir.display());
}
