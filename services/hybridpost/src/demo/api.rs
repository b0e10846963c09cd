//! The demo's HTTP client: the agency and the post office talk to the service over its API,
//! as their own systems would. A client may know several nodes of one role: requests go to them
//! in turn, and a node that does not answer (stopped, killed mid-request, being replaced) is
//! passed over for the next, waiting a little when none does. Every request the demo makes is
//! safe to send again: letters carry idempotency keys, a scan sent twice is found a duplicate
//! page by page, the rest are reads or state changes that answer the same the second time.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// An API client for one key, on one or more nodes.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    bases: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    key: String,
}

/// How long a request keeps trying when no node takes the connection: a node killed and
/// started again is back within this.
const NO_NODE_PATIENCE: Duration = Duration::from_secs(60);

/// A file of a scan upload.
#[derive(Debug)]
pub struct ScanFile {
    /// Its name, as a scanner would call it.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Api {
    /// A client of the service at `base` (`http://127.0.0.1:PORT`) with the API key `key`.
    pub fn new(http: reqwest::Client, base: &str, key: &str) -> Api {
        Api::on_nodes(http, &[base.to_owned()], key)
    }

    /// A client of the nodes at `bases`, used in turn.
    pub fn on_nodes(http: reqwest::Client, bases: &[String], key: &str) -> Api {
        Api { http, bases: Arc::new(bases.to_vec()), next: Arc::new(AtomicUsize::new(0)), key: key.to_owned() }
    }

    /// Sends the request `build` makes for a node's base URL to the next node that answers
    /// with a status (any status).
    async fn response(
        &self,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let started = std::time::Instant::now();
        loop {
            let first = self.next.fetch_add(1, Ordering::Relaxed);
            let mut failure = None;
            for i in 0..self.bases.len() {
                let base = &self.bases[(first + i) % self.bases.len()];
                match build(base).bearer_auth(&self.key).send().await {
                    Ok(response) => return Ok(response),
                    Err(e) => failure = Some(anyhow::Error::from(e).context(format!("{what} at {base}: no answer"))),
                }
            }
            if started.elapsed() > NO_NODE_PATIENCE {
                let e = failure.unwrap_or_else(|| anyhow::anyhow!("{what}: no node to send it to"));
                return Err(e.context(format!("no node answered for {NO_NODE_PATIENCE:?}")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends a request and returns the status and body, sending it again (to the next node)
    /// when the answer breaks off.
    async fn send(
        &self,
        what: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let started = std::time::Instant::now();
        loop {
            let response = self.response(what, &build).await?;
            let status = response.status();
            match response.bytes().await {
                Ok(body) => return Ok((status, body.to_vec())),
                Err(e) if started.elapsed() > NO_NODE_PATIENCE => {
                    return Err(e).with_context(|| format!("{what}: the answer broke off"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Parses a success answer, or fails with the problem the service gave.
    fn answer<T: DeserializeOwned>(what: &str, status: StatusCode, body: &[u8]) -> anyhow::Result<T> {
        anyhow::ensure!(status.is_success(), "{what}: {status} {}", String::from_utf8_lossy(body));
        serde_json::from_slice(body).with_context(|| format!("{what}: unexpected answer"))
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let what = format!("GET {path}");
        let (status, body) = self.send(&what, |base| self.http.get(format!("{base}{path}"))).await?;
        Self::answer(&what, status, &body)
    }

    /// `POST path` with a JSON body (or none); the answer, which must be a success.
    pub async fn post(&self, path: &str, body: Option<&Value>, idempotency_key: Option<&str>) -> anyhow::Result<Value> {
        let (status, answer) = self.post_status(path, body, idempotency_key).await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {answer}");
        Ok(answer)
    }

    /// `POST path` returning the status and the body as JSON (`null` when empty), whatever the
    /// status.
    pub async fn post_status(
        &self,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let what = format!("POST {path}");
        let build = |base: &str| {
            let mut request = self.http.post(format!("{base}{path}"));
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(key) = idempotency_key {
                request = request.header("idempotency-key", key);
            }
            request
        };
        let (status, bytes) = self.send(&what, build).await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).with_context(|| format!("{what}: {status} and not JSON"))?
        };
        Ok((status, value))
    }

    /// Streams `GET path` into the file `to`; returns its size.
    pub async fn download(&self, path: &str, to: &Path) -> anyhow::Result<u64> {
        let what = format!("GET {path}");
        let mut response = self.response(&what, |base| self.http.get(format!("{base}{path}"))).await?;
        anyhow::ensure!(response.status().is_success(), "{what}: {}", response.status());
        let mut file = tokio::fs::File::create(to).await.with_context(|| format!("cannot create {}", to.display()))?;
        let mut size = 0;
        while let Some(chunk) = response.chunk().await.with_context(|| format!("{what}: the download broke off"))? {
            file.write_all(&chunk).await.with_context(|| format!("cannot write {}", to.display()))?;
            size += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(size)
    }

    /// Uploads scanned files to `POST /v1/scans` as a multipart form: `mode`, the `reason` of a
    /// batch of returns, and one `file` field per file.
    pub async fn upload_scans(
        &self,
        mode: &str,
        reason: Option<&str>,
        files: &[ScanFile],
    ) -> anyhow::Result<hybridpost_intake::ScanAccepted> {
        const BOUNDARY: &str = "hybridpost-demo-scan-7d1c5e";
        let mut body = Vec::with_capacity(files.iter().map(|f| f.bytes.len() + 256).sum::<usize>() + 512);
        let mut text = |name: &str, value: &str| {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        };
        text("mode", mode);
        if let Some(reason) = reason {
            text("reason", reason);
        }
        for file in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
                     Content-Type: application/pdf\r\n\r\n",
                    file.name
                )
                .as_bytes(),
            );
            body.extend_from_slice(&file.bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        // Copied for each node tried: an upload is sent again whole to the next node.
        let build = |base: &str| {
            self.http
                .post(format!("{base}/v1/scans"))
                .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
                .body(body.clone())
        };
        let (status, answer) = self.send("POST /v1/scans", build).await?;
        Self::answer("POST /v1/scans", status, &answer)
    }
}
