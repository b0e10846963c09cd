//! Blob storage for PDFs and scans: a local folder (the embedded default), or an S3-compatible
//! bucket when nodes do not share a disk ([`s3`]), behind one small interface.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

pub mod s3;

pub use s3::{S3Blobs, S3Settings};

/// A blob opened for reading in pieces.
pub type BlobReader = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// A blob's name: lowercase ASCII letters, digits, `-`, `_`, `.` and `/` between parts, no
/// empty or dot-only parts, at most 200 characters (`letters/0193…/letter.pdf`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

/// What went wrong with a blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key is not a valid blob name.
    #[error("{0:?} is not a valid blob key")]
    BadKey(String),
    /// The blob is larger than allowed.
    #[error("blob is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Reading or writing failed.
    #[error("blob storage at {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The object store answered with an error, or could not be reached.
    #[error("blob storage at {location}: {source}")]
    Remote {
        /// The bucket and key.
        location: String,
        /// What the store said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The storage settings cannot work.
    #[error("{0}")]
    Settings(String),
}

impl BlobKey {
    /// Checks a key.
    pub fn parse(s: &str) -> Result<BlobKey, BlobError> {
        let ok = !s.is_empty()
            && s.len() <= 200
            && s.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().any(|c| c != '.')
                    && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
            });
        if ok { Ok(BlobKey(s.to_owned())) } else { Err(BlobError::BadKey(s.to_owned())) }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A folder of blobs, as listed by [`BlobStore::folders`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobFolder {
    /// Its name (the last part of its key).
    pub name: String,
    /// When its newest file was last written.
    pub modified: std::time::SystemTime,
}

/// Where blobs are kept.
#[derive(Clone, Debug)]
pub enum BlobStore {
    /// Files under a local folder.
    Local {
        /// The folder.
        root: PathBuf,
        /// Largest blob accepted, in bytes.
        max_bytes: usize,
    },
    /// Objects in an S3-compatible bucket.
    S3(S3Blobs),
}

impl BlobStore {
    /// Blobs in files under `root` (created when missing).
    pub fn local(root: impl Into<PathBuf>, max_bytes: usize) -> Result<BlobStore, BlobError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| BlobError::Io { path: root.clone(), source })?;
        Ok(BlobStore::Local { root, max_bytes })
    }

    /// Blobs in an S3-compatible bucket; nothing is sent until the first use (see
    /// [`BlobStore::check`]).
    pub fn s3(settings: &S3Settings, max_bytes: usize) -> Result<BlobStore, BlobError> {
        Ok(BlobStore::S3(S3Blobs::new(settings, max_bytes)?))
    }

    /// The largest blob accepted, in bytes.
    fn max_bytes(&self) -> usize {
        match self {
            BlobStore::Local { max_bytes, .. } => *max_bytes,
            BlobStore::S3(s3) => s3.max_bytes,
        }
    }

    /// Where blobs are, for logs and start-up messages.
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Local { root, .. } => root.display().to_string(),
            BlobStore::S3(s3) => s3.describe(),
        }
    }

    /// Checks that the storage can be reached and read, so that a wrong setting stops the
    /// service at start-up rather than at the first letter.
    pub async fn check(&self) -> Result<(), BlobError> {
        match self {
            BlobStore::Local { root, .. } => tokio::fs::read_dir(root)
                .await
                .map(|_| ())
                .map_err(|source| BlobError::Io { path: root.clone(), source }),
            BlobStore::S3(s3) => s3.check().await,
        }
    }

    /// Stores `bytes` under `key`, replacing what was there. The write is atomic: a reader sees
    /// the old blob or the whole new one, and a crash leaves no half-written blob.
    pub async fn put(&self, key: &BlobKey, bytes: Vec<u8>) -> Result<(), BlobError> {
        if bytes.len() > self.max_bytes() {
            return Err(BlobError::TooLarge { size: bytes.len(), limit: self.max_bytes() });
        }
        match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&key.0);
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| root.clone());
                tokio::task::spawn_blocking(move || {
                    let io = |source| BlobError::Io { path: path.clone(), source };
                    std::fs::create_dir_all(&dir).map_err(io)?;
                    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
                    tmp.write_all(&bytes).map_err(io)?;
                    tmp.as_file().sync_all().map_err(io)?;
                    tmp.persist(&path).map_err(|e| io(e.error))?;
                    sync_dir(&dir).map_err(io)?;
                    Ok(())
                })
                .await
                .map_err(|e| BlobError::Io { path: root.clone(), source: std::io::Error::other(e) })?
            }
            BlobStore::S3(s3) => s3.put(key, bytes).await,
        }
    }

    /// A writer for a large blob written in pieces (a batch PDF), made on the runtime and written
    /// from blocking code (`spawn_blocking`): the bytes go to a temporary file beside the blob's
    /// place, or up to the bucket in 8 MiB parts, and appear under `key` only on
    /// [`BlobWriter::commit`], atomically; dropping the writer uncommitted leaves nothing.
    pub fn writer(&self, key: &BlobKey) -> Result<BlobWriter, BlobError> {
        let inner = match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&key.0);
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| root.clone());
                let io = |source| BlobError::Io { path: path.clone(), source };
                std::fs::create_dir_all(&dir).map_err(io)?;
                let file = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
                let out = std::io::BufWriter::with_capacity(256 * 1024, file);
                WriterInner::Local { out, path }
            }
            BlobStore::S3(s3) => WriterInner::S3(s3.writer(key)?),
        };
        Ok(BlobWriter { inner, written: 0, max_bytes: self.max_bytes() })
    }

    /// Opens the blob under `key` for reading in pieces, with its size; `None` when missing.
    pub async fn open(&self, key: &BlobKey) -> Result<Option<(BlobReader, u64)>, BlobError> {
        match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&key.0);
                match tokio::fs::File::open(&path).await {
                    Ok(file) => {
                        let len = file.metadata().await.map_err(|source| BlobError::Io { path, source })?.len();
                        Ok(Some((Box::new(file), len)))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(BlobError::Io { path, source }),
                }
            }
            BlobStore::S3(s3) => s3.open(key).await,
        }
    }

    /// The blob under `key`, or `None`.
    pub async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&key.0);
                match tokio::fs::read(&path).await {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(BlobError::Io { path, source }),
                }
            }
            BlobStore::S3(s3) => s3.get(key).await,
        }
    }

    /// The folders directly under `prefix` (`scans` gives one per batch), each with the time its
    /// newest file was last written (the folder's own time when it is empty). None when
    /// `prefix` does not exist.
    pub async fn folders(&self, prefix: &BlobKey) -> Result<Vec<BlobFolder>, BlobError> {
        match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&prefix.0);
                tokio::task::spawn_blocking(move || {
                    let io = |path: &Path| {
                        let path = path.to_owned();
                        move |source: std::io::Error| BlobError::Io { path, source }
                    };
                    let entries = match std::fs::read_dir(&path) {
                        Ok(entries) => entries,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                        Err(e) => return Err(io(&path)(e)),
                    };
                    let mut folders = Vec::new();
                    for entry in entries {
                        let entry = entry.map_err(io(&path))?;
                        let meta = entry.metadata().map_err(io(&entry.path()))?;
                        if !meta.is_dir() {
                            continue;
                        }
                        let mut modified = meta.modified().map_err(io(&entry.path()))?;
                        for file in std::fs::read_dir(entry.path()).map_err(io(&entry.path()))? {
                            let file = file.map_err(io(&entry.path()))?;
                            let at = file.metadata().and_then(|m| m.modified()).map_err(io(&file.path()))?;
                            modified = modified.max(at);
                        }
                        folders.push(BlobFolder { name: entry.file_name().to_string_lossy().into_owned(), modified });
                    }
                    Ok(folders)
                })
                .await
                .map_err(|e| BlobError::Io { path: root.clone(), source: std::io::Error::other(e) })?
            }
            BlobStore::S3(s3) => s3.folders(prefix).await,
        }
    }

    /// The keys of the blobs under `prefix`, at any depth, sorted; none when it does not exist.
    /// (On a folder, unfinished writes are not blobs and are not listed.)
    pub async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobKey>, BlobError> {
        match self {
            BlobStore::Local { root, .. } => {
                let (root, start) = (root.clone(), root.join(&prefix.0));
                tokio::task::spawn_blocking(move || {
                    let mut keys = Vec::new();
                    let mut folders = vec![start];
                    while let Some(dir) = folders.pop() {
                        let entries = match std::fs::read_dir(&dir) {
                            Ok(entries) => entries,
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                            Err(source) => return Err(BlobError::Io { path: dir, source }),
                        };
                        for entry in entries {
                            let entry = entry.map_err(|source| BlobError::Io { path: dir.clone(), source })?;
                            let path = entry.path();
                            if path.is_dir() {
                                folders.push(path);
                            } else if let Some(key) = path
                                .strip_prefix(&root)
                                .ok()
                                .and_then(|p| p.to_str())
                                .and_then(|p| BlobKey::parse(p).ok())
                            {
                                keys.push(key);
                            }
                        }
                    }
                    keys.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(keys)
                })
                .await
                .map_err(|e| BlobError::Io { path: PathBuf::new(), source: std::io::Error::other(e) })?
            }
            BlobStore::S3(s3) => s3.list(prefix).await,
        }
    }

    /// Deletes `prefix` and everything under it, blobs and unfinished writes alike; a missing
    /// folder is not an error.
    pub async fn delete_all(&self, prefix: &BlobKey) -> Result<(), BlobError> {
        match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&prefix.0);
                match tokio::fs::remove_dir_all(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(BlobError::Io { path, source }),
                }
            }
            BlobStore::S3(s3) => s3.delete_all(prefix).await,
        }
    }

    /// Deletes the blob under `key`; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self {
            BlobStore::Local { root, .. } => {
                let path = root.join(&key.0);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(BlobError::Io { path, source }),
                }
            }
            BlobStore::S3(s3) => s3.delete(key).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_leave_the_folder_are_refused() {
        for bad in ["", "../x", "a/../../b", "/abs", "a//b", "A.pdf", "a/./b", "a b", "a\\b"] {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(BlobKey::parse("letters/0193-ab/letter.pdf").is_ok());
    }

    #[tokio::test]
    async fn a_blob_round_trips_and_can_be_replaced_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(dir.path(), 1024).unwrap();
        let key = BlobKey::parse("letters/x/letter.pdf").unwrap();
        assert_eq!(blobs.get(&key).await.unwrap(), None);
        blobs.put(&key, b"one".to_vec()).await.unwrap();
        blobs.put(&key, b"two".to_vec()).await.unwrap();
        assert_eq!(blobs.get(&key).await.unwrap(), Some(b"two".to_vec()));
        blobs.delete(&key).await.unwrap();
        blobs.delete(&key).await.unwrap();
        assert_eq!(blobs.get(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn folders_are_listed_with_their_newest_write_and_deleted_whole() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(dir.path(), 1024).unwrap();
        let scans = BlobKey::parse("scans").unwrap();
        assert_eq!(blobs.folders(&scans).await.unwrap(), Vec::new());
        let before = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        blobs.put(&BlobKey::parse("scans/a/upload-1").unwrap(), b"1".to_vec()).await.unwrap();
        blobs.put(&BlobKey::parse("scans/b/upload-1").unwrap(), b"2".to_vec()).await.unwrap();
        std::fs::write(dir.path().join("scans/b/.tmpXyZ"), b"half").unwrap();
        let mut folders = blobs.folders(&scans).await.unwrap();
        folders.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(folders.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(folders.iter().all(|f| f.modified >= before));
        blobs.delete_all(&BlobKey::parse("scans/b").unwrap()).await.unwrap();
        blobs.delete_all(&BlobKey::parse("scans/b").unwrap()).await.unwrap();
        assert!(!dir.path().join("scans/b").exists());
        assert!(dir.path().join("scans/a/upload-1").exists());
    }

    #[tokio::test]
    async fn a_blob_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(dir.path(), 4).unwrap();
        let key = BlobKey::parse("x").unwrap();
        let err = blobs.put(&key, b"12345".to_vec()).await.unwrap_err();
        assert_eq!(err.to_string(), "blob is 5 bytes, the limit is 4");
    }
}

/// Syncs a folder, so that a file just renamed into it is there after a power loss too (the
/// rename is a change to the folder, which syncing the file does not cover; rename(2), fsync(2)).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// A blob being written; see [`BlobStore::writer`].
#[derive(Debug)]
pub struct BlobWriter {
    inner: WriterInner,
    written: usize,
    max_bytes: usize,
}

#[derive(Debug)]
enum WriterInner {
    Local { out: std::io::BufWriter<tempfile::NamedTempFile>, path: PathBuf },
    S3(s3::S3Writer),
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() > self.max_bytes {
            return Err(std::io::Error::other(format!("blob larger than the limit of {} bytes", self.max_bytes)));
        }
        let n = match &mut self.inner {
            WriterInner::Local { out, .. } => out.write(buf)?,
            WriterInner::S3(s3) => {
                s3.write(buf)?;
                buf.len()
            }
        };
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            WriterInner::Local { out, .. } => out.flush(),
            // Parts go up as they fill; the rest on commit.
            WriterInner::S3(_) => Ok(()),
        }
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Makes the blob appear under its key, durably.
    pub fn commit(self) -> Result<(), BlobError> {
        match self.inner {
            WriterInner::Local { out, path } => {
                let io = |source| BlobError::Io { path: path.clone(), source };
                let file = out.into_inner().map_err(|e| io(e.into_error()))?;
                file.as_file().sync_all().map_err(io)?;
                file.persist(&path).map_err(|e| io(e.error))?;
                if let Some(dir) = path.parent() {
                    sync_dir(dir).map_err(io)?;
                }
                Ok(())
            }
            WriterInner::S3(s3) => s3.commit(),
        }
    }
}
