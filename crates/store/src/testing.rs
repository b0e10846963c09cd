//! A fresh, migrated store for tests, on the database `HYBRIDPOST_TEST_DATABASE_URL` names:
//! unset or `sqlite:` gives a new SQLite file in a temporary folder; `postgres://…` gives a new
//! schema in that database. `ops/test.sh` runs the whole suite once with each.

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

use crate::{Store, StoreOptions};

/// The environment variable naming the test database.
pub const TEST_DATABASE_ENV: &str = "HYBRIDPOST_TEST_DATABASE_URL";

/// A store for one test; its SQLite folder is removed when it is dropped.
#[derive(Debug)]
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// The URL it was opened with (for tests that open it again, as a second process would).
    pub url: String,
    /// PostgreSQL: the schema it lives in.
    pub pg_schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// Opens a fresh, migrated store. Panics when the test database cannot be reached: a test
/// meant to run against PostgreSQL must not pass by quietly using something else.
pub async fn test_store() -> TestStore {
    match std::env::var(TEST_DATABASE_ENV).ok().filter(|u| !u.is_empty() && !u.starts_with("sqlite")) {
        None => sqlite_test_store().await,
        Some(url) => {
            sqlx::any::install_default_drivers();
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap_or_else(|e| panic!("{TEST_DATABASE_ENV}={url} cannot be reached: {e}"));
            admin.execute(format!("create schema \"{schema}\"").as_str()).await.expect("create test schema");
            admin.close().await;
            let options = StoreOptions { max_connections: 8, pg_schema: Some(schema.clone()), ..Default::default() };
            let store = Store::connect(&url, &options).await.expect("open PostgreSQL test database");
            store.migrate().await.expect("migrate PostgreSQL test database");
            TestStore { store, url, pg_schema: Some(schema), _dir: None }
        }
    }
}

/// A fresh, migrated SQLite store whatever [`TEST_DATABASE_ENV`] says, for tests of what only
/// SQLite does (its settings, its query plans).
pub async fn sqlite_test_store() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary folder for the test database");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("open SQLite test database");
    store.migrate().await.expect("migrate SQLite test database");
    TestStore { store, url, pg_schema: None, _dir: Some(dir) }
}

/// The environment variable naming the test S3 server and bucket, as
/// `http://ACCESS_KEY:SECRET@host:port/bucket` (`ops/test.sh` starts one and sets it).
pub const TEST_S3_ENV: &str = "HYBRIDPOST_TEST_S3_URL";

/// The environment variable that puts the blobs of service tests in S3 instead of a folder:
/// `s3`. `ops/test.sh` sets it for the PostgreSQL run, the one a deployment on many nodes uses.
pub const TEST_BLOBS_ENV: &str = "HYBRIDPOST_TEST_BLOBS";

/// The test S3 server's settings, each call with a new folder of its own in the bucket; `None`
/// when [`TEST_S3_ENV`] is unset. Panics when it is set but malformed.
pub fn test_s3_settings() -> Option<crate::blobs::S3Settings> {
    let spec = std::env::var(TEST_S3_ENV).ok().filter(|s| !s.is_empty())?;
    let url = url::Url::parse(&spec).unwrap_or_else(|e| panic!("{TEST_S3_ENV}: {e}"));
    let bucket = url.path().trim_matches('/').to_owned();
    assert!(!bucket.is_empty() && !url.username().is_empty(), "{TEST_S3_ENV} is http://KEY:SECRET@host:port/bucket");
    let host = url.host_str().unwrap_or_else(|| panic!("{TEST_S3_ENV} names no host"));
    let port = url.port_or_known_default().unwrap_or(80);
    Some(crate::blobs::S3Settings {
        endpoint: Some(format!("{}://{host}:{port}", url.scheme())),
        bucket,
        region: "us-east-1".into(),
        access_key_id: Some(url.username().to_owned()),
        secret_access_key: url.password().map(str::to_owned),
        path_style: true,
        allow_http: url.scheme() == "http",
        prefix: Some(format!("test-{}", uuid::Uuid::new_v4().simple())),
    })
}

/// Blob storage for a service test: the folder `dir`, or, when [`TEST_BLOBS_ENV`] is `s3`, a
/// folder in the test bucket named after `dir` (so that two stores made for one `dir`, as a test
/// gives its agency API and its console, see the same blobs, and two tests never do).
pub fn test_blobs(dir: &std::path::Path, max_bytes: usize) -> crate::BlobStore {
    if std::env::var(TEST_BLOBS_ENV).is_ok_and(|v| v == "s3") {
        let mut settings = test_s3_settings().unwrap_or_else(|| panic!("{TEST_BLOBS_ENV}=s3 needs {TEST_S3_ENV}"));
        // FNV-1a of the path: stable within the run, different for different folders.
        let hash = dir
            .to_string_lossy()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        settings.prefix = Some(format!("test-{}-{hash:016x}", std::process::id()));
        crate::BlobStore::s3(&settings, max_bytes).expect("S3 test blob storage")
    } else {
        crate::BlobStore::local(dir, max_bytes).expect("a blob folder")
    }
}
