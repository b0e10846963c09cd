//! File downloads: a PDF, a manifest or an image, with its type, its name for the browser,
//! its length, validator and caching, built in one place.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::problem::ApiError;

/// A file in a response.
#[derive(Clone, Debug)]
pub struct Download {
    content_type: &'static str,
    disposition: Option<String>,
    length: Option<u64>,
    etag: Option<String>,
    cache_control: Option<&'static str>,
}

impl Download {
    /// A file of `content_type`.
    pub fn new(content_type: &'static str) -> Self {
        Download { content_type, disposition: None, length: None, etag: None, cache_control: None }
    }

    /// A PDF.
    pub fn pdf() -> Self {
        Self::new("application/pdf")
    }

    /// Saved by the browser as `filename` (ASCII; made from ids).
    pub fn attachment(mut self, filename: &str) -> Self {
        self.disposition = Some(format!("attachment; filename=\"{filename}\""));
        self
    }

    /// Shown by the browser, named `filename` when saved.
    pub fn inline(mut self, filename: &str) -> Self {
        self.disposition = Some(format!("inline; filename=\"{filename}\""));
        self
    }

    /// Its length, for a body streamed from storage.
    pub fn length(mut self, bytes: u64) -> Self {
        self.length = Some(bytes);
        self
    }

    /// Its SHA-256 (hex) as a strong `ETag`.
    pub fn etag(mut self, sha256: Option<&str>) -> Self {
        self.etag = sha256.map(|s| format!("\"{s}\""));
        self
    }

    /// Its `Cache-Control` (`no-store` for what carries personal data).
    pub fn cache_control(mut self, value: &'static str) -> Self {
        self.cache_control = Some(value);
        self
    }

    /// The response carrying `body`.
    pub fn body(self, body: impl Into<Body>) -> Result<Response, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(length) = self.length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if let Some(d) = &self.disposition {
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(d).map_err(ApiError::internal)?);
        }
        if let Some(tag) = &self.etag {
            headers.insert(header::ETAG, HeaderValue::from_str(tag).map_err(ApiError::internal)?);
        }
        if let Some(c) = self.cache_control {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(c));
        }
        Ok((headers, body.into()).into_response())
    }

    /// The response streaming `file` (of the length given).
    pub fn stream<R: tokio::io::AsyncRead + Send + 'static>(self, file: R) -> Result<Response, ApiError> {
        self.body(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)))
    }
}
