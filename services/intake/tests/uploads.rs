//! Scan uploads over a real socket: a slow but steady upload succeeds however long it takes, a
//! stalled one is stopped with a problem+json 408, and an upload that does not become a batch —
//! stalled, dropped, too large — leaves no files; leftovers of a crash are swept up.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on any unexpected error")]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use hybridpost_core::ScanId;
use hybridpost_intake::IntakeConfig;
use hybridpost_store::{BlobKey, BlobStore};
use support::{Part, World, call, upload, world_timed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUNDARY: &str = "hybridpost-upload-boundary-41c9";

/// Serves the intake router on a loopback port, as `serve` does.
async fn serve(w: &World) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = w.intake.clone().into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A multipart form: `mode=replies` and the files, each of `size` bytes.
fn form(sizes: &[usize]) -> Vec<u8> {
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nreplies\r\n").into_bytes();
    for (i, size) in sizes.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan-{i}.pdf\"\r\n\
                 Content-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend((0..*size).map(|n| b'a' + u8::try_from((n + i) % 26).unwrap()));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Connects and sends the request head for a body of `length` bytes.
async fn start_upload(addr: SocketAddr, key: &str, length: usize) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/scans HTTP/1.1\r\nhost: intake.test\r\nauthorization: Bearer {key}\r\n\
         content-type: multipart/form-data; boundary={BOUNDARY}\r\ncontent-length: {length}\r\n\
         x-request-id: upload-test\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

/// Reads the whole answer: status line, headers, body.
async fn answer(mut socket: TcpStream) -> (u16, String, serde_json::Value) {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut raw)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

/// Every file under the blob folder's `scans/`.
/// Every file under `scans/`: the blobs, and on a local folder its unfinished writes too.
async fn scan_files(w: &World) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), out);
            } else {
                out.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    match &w.state.blobs {
        BlobStore::Local { root, .. } => {
            let mut files = Vec::new();
            walk(&root.join("scans"), &mut files);
            files
        }
        blobs => blobs.list(&BlobKey::parse("scans").unwrap()).await.unwrap().iter().map(|k| k.to_string()).collect(),
    }
}

/// Waits up to `within` for `check` to hold.
async fn eventually<F: std::future::Future<Output = bool>>(within: Duration, mut check: impl FnMut() -> F) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check().await
}

async fn batches(w: &World) -> usize {
    let list = call(&w.intake, Method::GET, "/v1/scans", Some(&w.site.1), None).await;
    assert_eq!(list.status, StatusCode::OK);
    list.json()["items"].as_array().unwrap().len()
}

/// Sends `form` up to (not including) byte `until`: the first file whole and the second begun.
async fn send_first_file_and_part_of_the_second(w: &World, addr: SocketAddr) -> TcpStream {
    let body = form(&[20_000, 20_000]);
    let until = body.len() - 10_000;
    let mut socket = start_upload(addr, &w.site.1, body.len()).await;
    socket.write_all(&body[..until]).await.unwrap();
    // The first file is stored once the second one's part begins.
    assert!(
        eventually(Duration::from_secs(5), || async { scan_files(w).await.iter().any(|p| p.ends_with("upload-1")) })
            .await,
        "the first file was never stored: {:?}",
        scan_files(w).await
    );
    socket
}

#[tokio::test]
async fn a_slow_but_steady_upload_succeeds_long_after_the_idle_and_request_timeouts() {
    let w = world_timed(Duration::from_millis(1000), |c| c.upload_idle_timeout = Duration::from_millis(500)).await;
    let addr = serve(&w).await;
    let body = form(&[24_000, 6_000]);
    let started = Instant::now();
    let mut socket = start_upload(addr, &w.site.1, body.len()).await;
    // 1 KB every 100 ms: about 3 s, three times the request timeout, six times the idle one.
    for piece in body.chunks(1000) {
        socket.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, head, accepted) = answer(socket).await;
    assert_eq!(status, 202, "{head} {accepted}");
    assert!(started.elapsed() > Duration::from_millis(2500), "{:?}", started.elapsed());
    assert_eq!(accepted["files"], 2);
    assert_eq!(scan_files(&w).await.len(), 2, "{:?}", scan_files(&w).await);
    assert_eq!(batches(&w).await, 1);
}

#[tokio::test]
async fn a_stalled_upload_gets_a_problem_408_and_leaves_no_files() {
    let w = world_timed(Duration::from_secs(30), |c| c.upload_idle_timeout = Duration::from_millis(1500)).await;
    let addr = serve(&w).await;
    let started = Instant::now();
    let socket = send_first_file_and_part_of_the_second(&w, addr).await;
    // Nothing more is sent; the connection stays open.
    let (status, head, problem) = answer(socket).await;
    assert_eq!(status, 408, "{head} {problem}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    assert_eq!(problem["type"], "urn:hybridpost:problem:request-timeout");
    assert_eq!(problem["request_id"], "upload-test");
    assert!(problem["detail"].as_str().unwrap().starts_with("no bytes of the request body arrived for 1.5 s"));
    assert!(started.elapsed() < Duration::from_secs(15), "stopped by the idle time, not the request timeout");
    // No file, and not the batch's folder either.
    let empty = || async {
        match &w.state.blobs {
            BlobStore::Local { root, .. } => root.join("scans").read_dir().unwrap().next().is_none(),
            blobs => blobs.folders(&BlobKey::parse("scans").unwrap()).await.unwrap().is_empty(),
        }
    };
    assert!(eventually(Duration::from_secs(5), empty).await, "{:?}", scan_files(&w).await);
    assert_eq!(batches(&w).await, 0);
}

#[tokio::test]
async fn a_dropped_connection_leaves_no_files() {
    let w = world_timed(Duration::from_secs(30), |c| c.upload_idle_timeout = Duration::from_secs(30)).await;
    let addr = serve(&w).await;
    let socket = send_first_file_and_part_of_the_second(&w, addr).await;
    drop(socket);
    assert!(
        eventually(Duration::from_secs(5), || async { scan_files(&w).await.is_empty() }).await,
        "{:?}",
        scan_files(&w).await
    );
    assert_eq!(batches(&w).await, 0);
}

#[tokio::test]
async fn an_upload_over_the_size_limit_gets_a_problem_413_and_leaves_no_files() {
    let limit = form(&[20_000, 20_000]).len() - 5_000;
    let w = world_timed(Duration::from_secs(30), |c| c.max_upload_bytes = limit).await;
    let addr = serve(&w).await;
    let mut socket = send_first_file_and_part_of_the_second(&w, addr).await;
    let body = form(&[20_000, 20_000]);
    socket.write_all(&body[body.len() - 10_000..]).await.unwrap();
    let (status, head, problem) = answer(socket).await;
    assert_eq!(status, 413, "{head} {problem}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    assert_eq!(problem["detail"], format!("the request body is larger than {limit} bytes"));
    assert!(
        eventually(Duration::from_secs(5), || async { scan_files(&w).await.is_empty() }).await,
        "{:?}",
        scan_files(&w).await
    );
    assert_eq!(batches(&w).await, 0);
}

#[tokio::test]
async fn files_of_uploads_that_never_became_a_batch_are_swept_once_old_enough() {
    let w = world_timed(Duration::from_secs(30), |_| {}).await;
    let stored = upload(&w, &w.site.1, vec![Part::Text("mode", "replies"), Part::File("a.pdf", vec![1; 100])]).await;
    assert_eq!(stored.status, StatusCode::ACCEPTED);
    // What a process stopped mid-upload leaves: a stored file and an unfinished one, no batch.
    let leftover = ScanId::new();
    let key = BlobKey::parse(&format!("scans/{leftover}/upload-1")).unwrap();
    w.state.blobs.put(&key, vec![2; 100]).await.unwrap();
    let leftovers = match &w.state.blobs {
        // On a folder, a file half written; in S3 an unfinished upload is not there at all.
        BlobStore::Local { root, .. } => {
            std::fs::write(root.join(format!("scans/{leftover}/.tmpAbC123")), b"half").unwrap();
            2
        }
        _ => 1,
    };
    assert_eq!(scan_files(&w).await.len(), 1 + leftovers);

    // Younger than the threshold (a day by default): kept, it may be an upload under way.
    assert_eq!(hybridpost_intake::sweep_upload_leftovers(&w.state).await.unwrap(), 0);
    assert_eq!(scan_files(&w).await.len(), 1 + leftovers);

    let mut state = w.state.clone();
    state.config = Arc::new(IntakeConfig { upload_leftover_age: Duration::ZERO, ..(*w.state.config).clone() });
    assert_eq!(hybridpost_intake::sweep_upload_leftovers(&state).await.unwrap(), 1);
    let left = scan_files(&w).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with("upload-1") && !left[0].contains(&leftover.to_string()));
    if let BlobStore::Local { root, .. } = &w.state.blobs {
        assert!(!root.join(format!("scans/{leftover}")).exists());
    }
}
