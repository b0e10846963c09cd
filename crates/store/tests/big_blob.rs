//! A 100 MB blob (a large batch PDF) written in pieces and read back as a stream, on a local
//! folder and on the real S3 server, with the process's peak memory well under its size. In a
//! test binary of its own, so that no other test's memory counts in the peak.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

use std::io::Write;

use hybridpost_store::testing::{TEST_S3_ENV, test_s3_settings};
use hybridpost_store::{BlobKey, BlobStore};
use tokio::io::AsyncReadExt;

const SIZE: usize = 100 << 20;
const PIECE: usize = 64 << 10;

/// The `i`-th piece of the blob: the same bytes every time, so nothing holds the whole.
fn piece(i: usize) -> Vec<u8> {
    (0..PIECE).map(|j| ((i * PIECE + j).wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// The process's peak resident memory so far, in MiB (Linux: VmHWM).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

async fn round_trip(name: &str, blobs: BlobStore) {
    let key = BlobKey::parse("batches/big/batch.pdf").unwrap();
    let started = std::time::Instant::now();
    let mut writer = blobs.writer(&key).unwrap();
    tokio::task::spawn_blocking(move || {
        for i in 0..SIZE / PIECE {
            writer.write_all(&piece(i)).unwrap();
        }
        writer.commit().unwrap();
    })
    .await
    .unwrap();
    let wrote = started.elapsed();
    let (mut reader, len) = blobs.open(&key).await.unwrap().unwrap();
    assert_eq!(len, SIZE as u64, "{name}");
    let mut buf = vec![0; PIECE];
    for i in 0..SIZE / PIECE {
        reader.read_exact(&mut buf).await.unwrap();
        assert!(buf == piece(i), "{name}: piece {i} differs");
    }
    assert_eq!(reader.read(&mut buf).await.unwrap(), 0, "{name}: nothing after the end");
    let peak = peak_rss_mib();
    println!(
        "{name}: 100 MiB written in {:.1} s, read in {:.1} s; peak RSS so far {peak} MiB",
        wrote.as_secs_f64(),
        started.elapsed().as_secs_f64() - wrote.as_secs_f64()
    );
    assert!(peak < 48, "{name}: peak RSS {peak} MiB for a 100 MiB blob");
    blobs.delete(&key).await.unwrap();
}

#[tokio::test]
async fn a_100_mb_blob_is_written_and_read_without_holding_it_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    round_trip("local folder", BlobStore::local(dir.path(), 200 << 20).unwrap()).await;
    match test_s3_settings() {
        Some(settings) => round_trip("S3", BlobStore::s3(&settings, 200 << 20).unwrap()).await,
        None if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") => {
            panic!("{TEST_S3_ENV} is not set: run the suite with ops/test.sh, which starts an S3 server")
        }
        None => eprintln!("{TEST_S3_ENV} is not set: the S3 half of this test is skipped"),
    }
}
