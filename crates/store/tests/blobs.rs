//! Blob storage, the same checks on a local folder and on a real S3-compatible server (the one
//! `ops/test.sh` starts, named by `HYBRIDPOST_TEST_S3_URL`). Without that variable the S3 half
//! is skipped with a message, except under CI, where it fails: the suite must not pass by
//! quietly testing less.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::io::Write;

use hybridpost_store::testing::{TEST_S3_ENV, test_s3_settings};
use hybridpost_store::{BlobError, BlobKey, BlobStore};
use tokio::io::AsyncReadExt;

/// Each backend to test, with its name; the folder lives as long as the stores.
fn backends(max_bytes: usize) -> (tempfile::TempDir, Vec<(&'static str, BlobStore)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![("local folder", BlobStore::local(dir.path(), max_bytes).unwrap())];
    match test_s3_settings() {
        Some(settings) => stores.push(("S3", BlobStore::s3(&settings, max_bytes).unwrap())),
        None if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") => {
            panic!("{TEST_S3_ENV} is not set: run the suite with ops/test.sh, which starts an S3 server")
        }
        None => eprintln!("{TEST_S3_ENV} is not set: the S3 half of this test is skipped"),
    }
    (dir, stores)
}

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).unwrap()
}

/// Writes `bytes` through a [`hybridpost_store::BlobWriter`] on a blocking thread, as the print
/// room does, in pieces of `piece` bytes; commits when `commit`.
async fn write_in_pieces(blobs: &BlobStore, key: &BlobKey, bytes: Vec<u8>, piece: usize, commit: bool) {
    let mut writer = blobs.writer(key).unwrap();
    tokio::task::spawn_blocking(move || {
        for chunk in bytes.chunks(piece) {
            writer.write_all(chunk).unwrap();
        }
        writer.flush().unwrap();
        assert_eq!(writer.written(), bytes.len());
        if commit {
            writer.commit().unwrap();
        }
    })
    .await
    .unwrap();
}

async fn read_stream(blobs: &BlobStore, key: &BlobKey) -> Option<(Vec<u8>, u64)> {
    let (mut reader, len) = blobs.open(key).await.unwrap()?;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap();
    Some((bytes, len))
}

#[tokio::test]
async fn a_blob_round_trips_is_replaced_whole_and_deleted() {
    let (_dir, stores) = backends(1 << 20);
    for (name, blobs) in stores {
        blobs.check().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let k = key("letters/0193-ab/letter.pdf");
        assert_eq!(blobs.get(&k).await.unwrap(), None, "{name}");
        assert!(blobs.open(&k).await.unwrap().is_none(), "{name}");
        blobs.put(&k, b"first version".to_vec()).await.unwrap();
        blobs.put(&k, b"second".to_vec()).await.unwrap();
        assert_eq!(blobs.get(&k).await.unwrap().as_deref(), Some(&b"second"[..]), "{name}");
        assert_eq!(read_stream(&blobs, &k).await, Some((b"second".to_vec(), 6)), "{name}");
        blobs.delete(&k).await.unwrap();
        blobs.delete(&k).await.unwrap();
        assert_eq!(blobs.get(&k).await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn a_blob_over_the_limit_is_refused_whole_or_in_pieces() {
    let (_dir, stores) = backends(1000);
    for (name, blobs) in stores {
        let k = key("x/too-big");
        let err = blobs.put(&k, vec![7; 1001]).await.unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { size: 1001, limit: 1000 }), "{name}: {err}");
        let mut writer = blobs.writer(&k).unwrap();
        let written = tokio::task::spawn_blocking(move || {
            writer.write_all(&[1; 600]).unwrap();
            writer.write_all(&[2; 600]).unwrap_err().to_string()
        })
        .await
        .unwrap();
        assert_eq!(written, "blob larger than the limit of 1000 bytes", "{name}");
        assert_eq!(blobs.get(&k).await.unwrap(), None, "{name}: nothing stored");
    }
}

#[tokio::test]
async fn a_written_blob_appears_only_when_committed_and_an_abandoned_one_never() {
    // 20 MiB: three parts of a multipart upload on S3, sent before the commit.
    let big: Vec<u8> = (0..20 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let (_dir, stores) = backends(64 << 20);
    for (name, blobs) in stores {
        let abandoned = key("batches/abandoned/batch.pdf");
        write_in_pieces(&blobs, &abandoned, big.clone(), 100_000, false).await;
        assert_eq!(blobs.get(&abandoned).await.unwrap(), None, "{name}: an uncommitted blob is not there");

        let small = key("batches/small/batch.pdf");
        write_in_pieces(&blobs, &small, b"%PDF-1.7 tiny".to_vec(), 4, true).await;
        assert_eq!(blobs.get(&small).await.unwrap().as_deref(), Some(&b"%PDF-1.7 tiny"[..]), "{name}");

        let k = key("batches/big/batch.pdf");
        write_in_pieces(&blobs, &k, big.clone(), 1_000_003, true).await;
        let (read, len) = read_stream(&blobs, &k).await.unwrap();
        assert_eq!(len, big.len() as u64, "{name}");
        assert!(read == big, "{name}: the blob read back differs from what was written");
    }
}

#[tokio::test]
async fn folders_are_listed_with_their_newest_write_and_deleted_whole() {
    let (_dir, stores) = backends(1 << 20);
    for (name, blobs) in stores {
        let scans = key("scans");
        assert_eq!(blobs.folders(&scans).await.unwrap(), Vec::new(), "{name}");
        assert_eq!(blobs.list(&scans).await.unwrap(), Vec::new(), "{name}");
        let before = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
        blobs.put(&key("scans/a/upload-1"), b"1".to_vec()).await.unwrap();
        blobs.put(&key("scans/b/upload-1"), b"2".to_vec()).await.unwrap();
        blobs.put(&key("scans/b/upload-2"), b"3".to_vec()).await.unwrap();
        blobs.put(&key("scansx/c/upload-1"), b"4".to_vec()).await.unwrap();
        let listed = blobs.list(&scans).await.unwrap();
        let listed: Vec<&str> = listed.iter().map(BlobKey::as_str).collect();
        assert_eq!(listed, ["scans/a/upload-1", "scans/b/upload-1", "scans/b/upload-2"], "{name}");
        let mut folders = blobs.folders(&scans).await.unwrap();
        folders.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(folders.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "b"], "{name}");
        assert!(folders.iter().all(|f| f.modified >= before), "{name}: {folders:?}");
        blobs.delete_all(&key("scans/b")).await.unwrap();
        blobs.delete_all(&key("scans/b")).await.unwrap();
        assert_eq!(blobs.get(&key("scans/b/upload-2")).await.unwrap(), None, "{name}");
        assert!(blobs.get(&key("scans/a/upload-1")).await.unwrap().is_some(), "{name}");
        assert!(blobs.get(&key("scansx/c/upload-1")).await.unwrap().is_some(), "{name}: a neighbour survives");
        let folders = blobs.folders(&scans).await.unwrap();
        assert_eq!(folders.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a"], "{name}");
    }
}

#[tokio::test]
async fn wrong_credentials_or_a_missing_bucket_are_named_at_the_start() {
    let Some(good) = test_s3_settings() else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"),
            "{TEST_S3_ENV} is not set"
        );
        return;
    };
    let wrong_secret =
        hybridpost_store::S3Settings { secret_access_key: Some("not-the-secret".into()), ..good.clone() };
    let blobs = BlobStore::s3(&wrong_secret, 1024).unwrap();
    let err = blobs.check().await.unwrap_err().to_string();
    assert!(err.starts_with(&format!("blob storage at s3://{}/", good.bucket)), "{err}");
    assert!(blobs.put(&key("x"), b"1".to_vec()).await.is_err(), "a wrongly signed write is refused");

    let no_bucket = hybridpost_store::S3Settings { bucket: "no-such-bucket-here".into(), ..good.clone() };
    let err = BlobStore::s3(&no_bucket, 1024).unwrap().check().await.unwrap_err().to_string();
    assert!(err.contains("s3://no-such-bucket-here/"), "{err}");

    let bad_prefix = hybridpost_store::S3Settings { prefix: Some("../up".into()), ..good };
    let err = BlobStore::s3(&bad_prefix, 1024).unwrap_err().to_string();
    assert_eq!(err, "the S3 prefix \"../up\" is not a valid folder name");
}
