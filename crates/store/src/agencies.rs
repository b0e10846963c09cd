//! Agencies, post-office sites, and the API keys that act for them.

use hybridpost_core::{AgencyId, SiteId};
use sqlx::{AnyConnection, Row};

use crate::{Result, StoreError, conflict_or, flag};

/// A sending agency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agency {
    /// Its id.
    pub agency_id: AgencyId,
    /// Its name as printed on letters and shown on the verification page.
    pub name: String,
    /// Where notices about replies and returns go.
    pub contact_email: Option<String>,
    /// When it was created.
    pub created_at: String,
}

/// A post-office site that prints and scans letters for some postcode prefixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Its id.
    pub site_id: SiteId,
    /// Its name.
    pub name: String,
    /// Postcode prefixes it serves (`10`, `11`, `501`).
    pub postcode_prefixes: Vec<String>,
    /// When it was created.
    pub created_at: String,
}

/// Who an API key acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An agency system; `test` keys render letters but never print or send them.
    Agency {
        /// The agency.
        agency_id: AgencyId,
        /// Whether this is a test key.
        test: bool,
    },
    /// A post-office site's operators.
    Site {
        /// The site.
        site_id: SiteId,
    },
}

/// An API key as stored: its hash, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Its id.
    pub key_id: String,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The key's first characters, to tell keys apart.
    pub key_prefix: String,
    /// Who it acts for.
    pub principal: Principal,
}

/// Stores a new agency.
pub async fn insert_agency(conn: &mut AnyConnection, agency: &Agency) -> Result<()> {
    sqlx::query("insert into agency (agency_id, name, contact_email, created_at) values ($1, $2, $3, $4)")
        .bind(agency.agency_id.to_string())
        .bind(&agency.name)
        .bind(&agency.contact_email)
        .bind(&agency.created_at)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, "agency"))?;
    Ok(())
}

/// Reads an agency.
pub async fn get_agency(conn: &mut AnyConnection, agency_id: AgencyId) -> Result<Option<Agency>> {
    let row = sqlx::query("select agency_id, name, contact_email, created_at from agency where agency_id = $1")
        .bind(agency_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Agency {
            agency_id: parse_id(&r.try_get::<String, _>("agency_id")?)?,
            name: r.try_get("name")?,
            contact_email: r.try_get("contact_email")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// Stores a new site.
pub async fn insert_site(conn: &mut AnyConnection, site: &Site) -> Result<()> {
    sqlx::query("insert into site (site_id, name, postcode_prefixes, created_at) values ($1, $2, $3, $4)")
        .bind(site.site_id.to_string())
        .bind(&site.name)
        .bind(site.postcode_prefixes.join(","))
        .bind(&site.created_at)
        .execute(conn)
        .await
        .map_err(|e| conflict_or(e, "site"))?;
    Ok(())
}

/// Reads a site.
pub async fn get_site(conn: &mut AnyConnection, site_id: SiteId) -> Result<Option<Site>> {
    let row = sqlx::query("select site_id, name, postcode_prefixes, created_at from site where site_id = $1")
        .bind(site_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        let prefixes: String = r.try_get("postcode_prefixes")?;
        Ok(Site {
            site_id: parse_id(&r.try_get::<String, _>("site_id")?)?,
            name: r.try_get("name")?,
            postcode_prefixes: prefixes.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// Stores a new API key.
pub async fn insert_api_key(conn: &mut AnyConnection, key: &ApiKeyRecord, created_at: &str) -> Result<()> {
    let (agency_id, site_id, test) = match key.principal {
        Principal::Agency { agency_id, test } => (Some(agency_id.to_string()), None, test),
        Principal::Site { site_id } => (None, Some(site_id.to_string()), false),
    };
    sqlx::query(
        "insert into api_key (key_id, key_hash, key_prefix, agency_id, site_id, test, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.key_id)
    .bind(&key.key_hash)
    .bind(&key.key_prefix)
    .bind(agency_id)
    .bind(site_id)
    .bind(flag(test))
    .bind(created_at)
    .execute(conn)
    .await
    .map_err(|e| conflict_or(e, "api key"))?;
    Ok(())
}

/// Revokes a key; true when a live key was revoked, false when none had that id.
pub async fn revoke_api_key(conn: &mut AnyConnection, key_id: &str, revoked_at: &str) -> Result<bool> {
    let n = sqlx::query("update api_key set revoked_at = $1 where key_id = $2 and revoked_at is null")
        .bind(revoked_at)
        .bind(key_id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Finds the live (not revoked) key with this hash.
pub async fn find_api_key(conn: &mut AnyConnection, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
    let row = sqlx::query(
        "select key_id, key_hash, key_prefix, agency_id, site_id, test from api_key \
         where key_hash = $1 and revoked_at is null",
    )
    .bind(key_hash)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let agency_id: Option<String> = r.try_get("agency_id")?;
    let site_id: Option<String> = r.try_get("site_id")?;
    let principal = match (agency_id, site_id) {
        (Some(a), None) => Principal::Agency { agency_id: parse_id(&a)?, test: r.try_get::<i64, _>("test")? != 0 },
        (None, Some(s)) => Principal::Site { site_id: parse_id(&s)? },
        _ => return Err(StoreError::Corrupt("api key belongs to neither an agency nor a site".into())),
    };
    Ok(Some(ApiKeyRecord {
        key_id: r.try_get("key_id")?,
        key_hash: r.try_get("key_hash")?,
        key_prefix: r.try_get("key_prefix")?,
        principal,
    }))
}

pub(crate) fn parse_id<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("bad id {s:?}")))
}
