//! The demo's HTTP client: the agency and the post office talk to the service over its API,
//! as their own systems would.

use std::path::Path;

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// An API client for one key.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

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
        Api { http, base: base.to_owned(), key: key.to_owned() }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key)
    }

    /// Sends a request and returns the status and body, failing on a transport error.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let response = request.send().await.with_context(|| format!("{what}: no answer"))?;
        let status = response.status();
        let body = response.bytes().await.with_context(|| format!("{what}: the answer broke off"))?;
        Ok((status, body.to_vec()))
    }

    /// Parses a success answer, or fails with the problem the service gave.
    fn answer<T: DeserializeOwned>(what: &str, status: StatusCode, body: &[u8]) -> anyhow::Result<T> {
        anyhow::ensure!(status.is_success(), "{what}: {status} {}", String::from_utf8_lossy(body));
        serde_json::from_slice(body).with_context(|| format!("{what}: unexpected answer"))
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let what = format!("GET {path}");
        let (status, body) = self.send(&what, self.request(Method::GET, path)).await?;
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
        let mut request = self.request(Method::POST, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let (status, bytes) = self.send(&what, request).await?;
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
        let mut response =
            self.request(Method::GET, path).send().await.with_context(|| format!("{what}: no answer"))?;
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
        let request = self
            .request(Method::POST, "/v1/scans")
            .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body);
        let (status, answer) = self.send("POST /v1/scans", request).await?;
        Self::answer("POST /v1/scans", status, &answer)
    }
}
