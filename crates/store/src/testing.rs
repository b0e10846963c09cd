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
        None => {
            let dir = tempfile::tempdir().expect("a temporary folder for the test database");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            let store = Store::connect(&url, &StoreOptions::default()).await.expect("open SQLite test database");
            store.migrate().await.expect("migrate SQLite test database");
            TestStore { store, url, pg_schema: None, _dir: Some(dir) }
        }
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
