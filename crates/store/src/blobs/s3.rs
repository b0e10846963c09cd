//! Blobs in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph RGW…), for nodes that do
//! not share a disk. Writes are atomic as S3 makes them: an object appears only when its single
//! PUT or its multipart upload completes. Large blobs go up in parts and come down as a stream,
//! so neither direction holds a whole batch PDF in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::client::{ClientOptions, HttpClient, HttpConnector};
use object_store::path::Path as ObjectPath;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};

use super::{BlobError, BlobFolder, BlobKey, BlobReader};

/// Bytes sent per part of a multipart upload: S3 wants at least 5 MiB for all parts but the last;
/// this is also what a writer holds in memory at most.
const PART_BYTES: usize = 8 << 20;

/// Where an S3-compatible bucket is and how to reach it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// The server's URL (`http://127.0.0.1:8333`); AWS for the region when unset.
    pub endpoint: Option<String>,
    /// The bucket, which must exist.
    pub bucket: String,
    /// The region (`ap-southeast-7` for Bangkok; S3-compatible servers accept anything).
    pub region: String,
    /// The access key id; otherwise `AWS_ACCESS_KEY_ID` from the environment.
    pub access_key_id: Option<String>,
    /// The secret access key; otherwise `AWS_SECRET_ACCESS_KEY` from the environment.
    pub secret_access_key: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most self-hosted servers need,
    /// instead of virtual-hosted style (`bucket.endpoint/key`).
    pub path_style: bool,
    /// Allow a plain `http://` endpoint (a server on the same host or a private network).
    pub allow_http: bool,
    /// A folder in the bucket that all blobs go under (`hybridpost/`), for a shared bucket.
    pub prefix: Option<String>,
}

// The secret stays out of Debug output and so out of logs.
impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "[set]"))
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A bucket (and a folder in it) holding blobs.
#[derive(Clone)]
pub struct S3Blobs {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// Empty, or a valid key ending in `/`.
    prefix: String,
    pub(super) max_bytes: usize,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Connects object_store through a reqwest client with ring's TLS and the Mozilla roots, as the
/// service's other HTTP clients do. Timeouts are per connection and per read, not per request:
/// a batch PDF streamed to a slow print-room link may take minutes, but never stalls for long.
#[derive(Debug)]
struct RingConnector;

impl HttpConnector for RingConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let generic = |e: &dyn fmt::Display| object_store::Error::Generic {
            store: "S3",
            source: format!("HTTP client set-up failed: {e}").into(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| generic(&e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("hybridpost/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| generic(&e))?;
        Ok(HttpClient::new(client))
    }
}

impl S3Blobs {
    /// Connects (lazily: nothing is sent until the first request; see [`S3Blobs::check`]).
    pub fn new(settings: &S3Settings, max_bytes: usize) -> Result<S3Blobs, BlobError> {
        let bad = |what: String| BlobError::Settings(what);
        if settings.bucket.is_empty() {
            return Err(bad("the S3 bucket is not set".into()));
        }
        let prefix = match settings.prefix.as_deref().map(|p| p.trim_matches('/')) {
            None | Some("") => String::new(),
            Some(p) => {
                BlobKey::parse(p).map_err(|_| bad(format!("the S3 prefix {p:?} is not a valid folder name")))?;
                format!("{p}/")
            }
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_allow_http(settings.allow_http)
            .with_http_connector(RingConnector);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &settings.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| bad(format!("S3 settings: {e}")))?;
        Ok(S3Blobs { store: Arc::new(store), bucket: settings.bucket.clone(), prefix, max_bytes })
    }

    /// Where blobs are, for logs: `s3://bucket/prefix/`.
    pub fn describe(&self) -> String {
        self.location("")
    }

    /// Where the blob `key` is: `s3://bucket/prefix/key`.
    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    /// Asks the bucket for one listing page, so that a wrong endpoint, bucket or key is found at
    /// start-up rather than at the first letter.
    pub async fn check(&self) -> Result<(), BlobError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        self.store.list_with_delimiter(prefix.as_ref()).await.map_err(|e| self.error("", e))?;
        Ok(())
    }

    fn path(&self, key: &BlobKey) -> ObjectPath {
        ObjectPath::from(format!("{}{}", self.prefix, key.as_str()))
    }

    fn error(&self, key: &str, source: object_store::Error) -> BlobError {
        BlobError::Remote { location: self.location(key), source: source.into() }
    }

    pub(super) async fn put(&self, key: &BlobKey, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.store.put(&self.path(key), PutPayload::from(bytes)).await.map_err(|e| self.error(key.as_str(), e))?;
        Ok(())
    }

    pub(super) fn writer(&self, key: &BlobKey) -> Result<S3Writer, BlobError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| BlobError::Settings(format!("an S3 blob writer is made on the service's runtime ({e})")))?;
        Ok(S3Writer {
            handle,
            store: Arc::clone(&self.store),
            path: self.path(key),
            location: self.location(key.as_str()),
            part: Vec::new(),
            upload: None,
        })
    }

    pub(super) async fn open(&self, key: &BlobKey) -> Result<Option<(BlobReader, u64)>, BlobError> {
        match self.store.get(&self.path(key)).await {
            Ok(result) => {
                let size = result.meta.size;
                let stream = result.into_stream().map_err(std::io::Error::other);
                Ok(Some((Box::new(tokio_util::io::StreamReader::new(stream)), size)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key.as_str(), e)),
        }
    }

    pub(super) async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        let result = match self.store.get(&self.path(key)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(key.as_str(), e)),
        };
        let bytes = result.bytes().await.map_err(|e| self.error(key.as_str(), e))?;
        Ok(Some(bytes.to_vec()))
    }

    pub(super) async fn folders(&self, prefix: &BlobKey) -> Result<Vec<BlobFolder>, BlobError> {
        let base = self.path(prefix);
        let mut newest: BTreeMap<String, std::time::SystemTime> = BTreeMap::new();
        let mut listing = self.store.list(Some(&base));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.error(prefix.as_str(), e))?;
            let Some(mut parts) = meta.location.prefix_match(&base) else { continue };
            let (Some(folder), Some(_)) = (parts.next(), parts.next()) else { continue };
            let at: std::time::SystemTime = meta.last_modified.into();
            let entry = newest.entry(folder.as_ref().to_owned()).or_insert(at);
            *entry = (*entry).max(at);
        }
        Ok(newest.into_iter().map(|(name, modified)| BlobFolder { name, modified }).collect())
    }

    pub(super) async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobKey>, BlobError> {
        let base = self.path(prefix);
        let mut listing = self.store.list(Some(&base));
        let mut keys = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.error(prefix.as_str(), e))?;
            let Some(key) = meta.location.as_ref().strip_prefix(self.prefix.as_str()) else { continue };
            keys.push(BlobKey::parse(key)?);
        }
        keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(keys)
    }

    pub(super) async fn delete_all(&self, prefix: &BlobKey) -> Result<(), BlobError> {
        let base = self.path(prefix);
        let locations = self.store.list(Some(&base)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(prefix.as_str(), e)),
            }
        }
        Ok(())
    }

    pub(super) async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key.as_str(), e)),
        }
    }
}

/// A blob going up in parts from blocking code (see [`super::BlobStore::writer`]): at most one
/// part is held in memory; the object appears only when the upload completes, and an upload
/// dropped unfinished is aborted.
pub(super) struct S3Writer {
    handle: tokio::runtime::Handle,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    location: String,
    part: Vec<u8>,
    upload: Option<Box<dyn MultipartUpload>>,
}

impl fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Writer")
            .field("location", &self.location)
            .field("buffered", &self.part.len())
            .field("multipart", &self.upload.is_some())
            .finish_non_exhaustive()
    }
}

impl S3Writer {
    /// Takes `buf` into the current part, sending each part as it fills.
    pub(super) fn write(&mut self, mut buf: &[u8]) -> std::io::Result<()> {
        while !buf.is_empty() {
            if self.part.capacity() == 0 {
                self.part.reserve_exact(PART_BYTES);
            }
            let take = buf.len().min(PART_BYTES - self.part.len());
            self.part.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.part.len() == PART_BYTES {
                self.send_part()?;
            }
        }
        Ok(())
    }

    fn send_part(&mut self) -> std::io::Result<()> {
        let bytes = std::mem::take(&mut self.part);
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => {
                let started =
                    self.handle.block_on(self.store.put_multipart(&self.path)).map_err(std::io::Error::other)?;
                self.upload.insert(started)
            }
        };
        self.handle.block_on(upload.put_part(PutPayload::from(bytes))).map_err(std::io::Error::other)
    }

    /// Sends what is left and makes the object appear.
    pub(super) fn commit(mut self) -> Result<(), BlobError> {
        let failed = |location: &str, e: &dyn fmt::Display| BlobError::Remote {
            location: location.to_owned(),
            source: e.to_string().into(),
        };
        if self.upload.is_some() && !self.part.is_empty() {
            self.send_part().map_err(|e| failed(&self.location, &e))?;
        }
        match self.upload.take() {
            None => {
                let bytes = std::mem::take(&mut self.part);
                let put = self.handle.block_on(self.store.put(&self.path, PutPayload::from(bytes)));
                put.map(|_| ()).map_err(|e| failed(&self.location, &e))
            }
            Some(mut upload) => match self.handle.block_on(upload.complete()) {
                Ok(_) => Ok(()),
                Err(e) => {
                    self.handle.spawn(async move { upload.abort().await });
                    Err(failed(&self.location, &e))
                }
            },
        }
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // Unfinished: the parts sent so far would otherwise stay in the bucket, billed and unseen.
        if let Some(mut upload) = self.upload.take() {
            let location = self.location.clone();
            self.handle.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(%location, error = %e, "could not abort an unfinished upload");
                }
            });
        }
    }
}
