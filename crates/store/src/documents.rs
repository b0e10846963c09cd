//! Agencies' own PDFs, stored as blobs once they pass the print checks.

use hybridpost_core::{AgencyId, AgencyScope, DocumentId};
use sqlx::{AnyConnection, Row};

use crate::agencies::parse_id;
use crate::{Result, conflict_or};

/// An agency's PDF as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRecord {
    /// Its id.
    pub document_id: DocumentId,
    /// The agency that uploaded it.
    pub agency_id: AgencyId,
    /// Uploaded with a test key: only test letters may use it.
    pub test: bool,
    /// Where the bytes are.
    pub blob_key: String,
    /// SHA-256 of the PDF, hex.
    pub sha256: String,
    /// Pages.
    pub pages: i64,
    /// Size in bytes.
    pub bytes: i64,
    /// When it was uploaded.
    pub created_at: String,
}

/// Stores a document record (its blob is written first).
pub async fn insert_document(conn: &mut AnyConnection, d: &DocumentRecord) -> Result<()> {
    sqlx::query(
        "insert into agency_document (document_id, agency_id, blob_key, sha256, pages, bytes, created_at, test) \
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.document_id.to_string())
    .bind(d.agency_id.to_string())
    .bind(&d.blob_key)
    .bind(&d.sha256)
    .bind(d.pages)
    .bind(d.bytes)
    .bind(&d.created_at)
    .bind(crate::flag(d.test))
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "document"))?;
    Ok(())
}

/// One of the agency's documents; another agency's is `None`.
pub async fn get_document(
    conn: &mut AnyConnection,
    scope: AgencyScope,
    document_id: DocumentId,
) -> Result<Option<DocumentRecord>> {
    let row = sqlx::query(
        "select document_id, agency_id, blob_key, sha256, pages, bytes, created_at, test from agency_document \
         where document_id = $1 and agency_id = $2 and test = $3",
    )
    .bind(document_id.to_string())
    .bind(scope.agency_id.to_string())
    .bind(crate::flag(scope.test))
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(DocumentRecord {
            document_id: parse_id(&r.try_get::<String, _>(0)?)?,
            agency_id: parse_id(&r.try_get::<String, _>(1)?)?,
            blob_key: r.try_get(2)?,
            sha256: r.try_get(3)?,
            pages: r.try_get(4)?,
            bytes: r.try_get(5)?,
            created_at: r.try_get(6)?,
            test: r.try_get::<i64, _>(7)? != 0,
        })
    })
    .transpose()
}

/// The bytes of each of `ids` in order, `None` for one that is gone.
pub async fn load_all(
    conn: &mut AnyConnection,
    blobs: &crate::BlobStore,
    scope: AgencyScope,
    ids: &[DocumentId],
) -> Result<Vec<Option<Vec<u8>>>> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        out.push(load_bytes(conn, blobs, scope, id).await?);
    }
    Ok(out)
}

/// The bytes of one of the agency's documents; `None` when there is no such document (or its
/// blob is missing).
pub async fn load_bytes(
    conn: &mut AnyConnection,
    blobs: &crate::BlobStore,
    scope: AgencyScope,
    document_id: DocumentId,
) -> Result<Option<Vec<u8>>> {
    let Some(record) = get_document(conn, scope, document_id).await? else { return Ok(None) };
    let key = crate::BlobKey::parse(&record.blob_key).map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
    blobs.get(&key).await.map_err(|e| crate::StoreError::Corrupt(format!("document {document_id}: {e}")))
}
