//! The schema's migrations, embedded in the library at build time (`build.rs`) and run through
//! sqlx's migrator with the versions, descriptions and checksums its `migrate!` macro gives them,
//! so databases migrated before read as up to date.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

type BoxDynError = Box<dyn std::error::Error + Send + Sync>;

/// A folder's migrations as embedded: (file name, SQL).
#[derive(Debug)]
struct Embedded(&'static [(&'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        Box::pin(async move { self.0.iter().map(|(file, sql)| migration(file, sql)).collect() })
    }
}

/// A migration as sqlx reads it from `<VERSION>_<DESCRIPTION>.sql`.
fn migration(file: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) =
        file.split_once('_').ok_or_else(|| format!("migration {file:?} is not named <VERSION>_<DESCRIPTION>.sql"))?;
    let version: i64 = version.parse().map_err(|_| format!("migration {file:?} does not start with a number"))?;
    let migration_type = MigrationType::from_filename(rest);
    let description = rest.trim_end_matches(migration_type.suffix()).replace('_', " ");
    let no_tx = sql.starts_with("-- no-transaction");
    Ok(Migration::new(version, Cow::Owned(description), migration_type, Cow::Borrowed(sql), no_tx))
}

/// The migrator for one of [`SQLITE`] and [`POSTGRES`].
pub(crate) async fn migrator(folder: &'static [(&'static str, &'static str)]) -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded(folder)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx itself reads from the folder at run time, as `migrate!` does at build time.
    async fn from_folder(folder: &str) -> Vec<(i64, String, Vec<u8>, bool)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let migrator = Migrator::new(path.as_path()).await.expect("the migration folder reads");
        migrator.iter().map(|m| (m.version, m.description.to_string(), m.checksum.to_vec(), m.no_tx)).collect()
    }

    #[tokio::test]
    async fn the_embedded_migrations_are_the_folders_with_the_same_checksums() {
        for (embedded, folder) in [(SQLITE, "migrations/sqlite"), (POSTGRES, "migrations/postgres")] {
            let ours = migrator(embedded).await.expect("embedded migrations");
            let ours: Vec<_> =
                ours.iter().map(|m| (m.version, m.description.to_string(), m.checksum.to_vec(), m.no_tx)).collect();
            let theirs = from_folder(folder).await;
            assert!(ours.len() >= 18, "{folder}: {} migrations", ours.len());
            assert_eq!(ours, theirs, "{folder}");
        }
    }
}
