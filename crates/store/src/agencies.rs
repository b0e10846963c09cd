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
    /// Its name in English, shown beside the Thai one.
    pub name_en: Option<String>,
    /// Its postal address as printed on its letters, one entry per line.
    pub address_lines: Vec<String>,
    /// The short code (1-16 characters, `A-Z 0-9 -`) in every seal it issues.
    pub issuer_code: String,
    /// Where notices about replies and returns go.
    pub contact_email: Option<String>,
    /// When it was created.
    pub created_at: String,
}

impl Agency {
    /// A new agency called `name`, with an issuer code made from its id and no address yet.
    pub fn new(name: impl Into<String>) -> Agency {
        let agency_id = AgencyId::new();
        let id = agency_id.to_string().replace('-', "");
        // The last 8 hex digits of a UUIDv7 are random.
        let issuer_code = format!("HP{}", id[id.len() - 8..].to_uppercase());
        Agency {
            agency_id,
            name: name.into(),
            name_en: None,
            address_lines: Vec::new(),
            issuer_code,
            contact_email: None,
            created_at: crate::now_text(),
        }
    }
}

/// Checks an issuer code: 1-16 characters of `A-Z`, `0-9` and `-` (they travel in the seal and
/// are printed, so they stay plain).
pub fn check_issuer_code(code: &str) -> std::result::Result<(), String> {
    if code.is_empty() || code.len() > 16 {
        return Err("an issuer code has 1 to 16 characters".into());
    }
    if !code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-') {
        return Err("an issuer code uses only A-Z, 0-9 and -".into());
    }
    Ok(())
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
    check_issuer_code(&agency.issuer_code).map_err(StoreError::Invalid)?;
    write_agency(conn, agency, "").await.map_err(|e| conflict_or(e, "agency"))?;
    Ok(())
}

/// The insert of `agency`, with `conflict` after its values (empty, or an `on conflict` clause).
async fn write_agency(
    conn: &mut AnyConnection,
    agency: &Agency,
    conflict: &str,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(&format!("insert into agency ({AGENCY_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7){conflict}"))
        .bind(agency.agency_id.to_string())
        .bind(&agency.name)
        .bind(&agency.name_en)
        .bind(agency.address_lines.join("\n"))
        .bind(&agency.issuer_code)
        .bind(&agency.contact_email)
        .bind(&agency.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The id of hybridpost's own sender: the service writes to citizens in its own name (the
/// letter confirming a change of their delivery channel), never in an agency's.
pub const SERVICE_AGENCY_ID: &str = "00000000-0000-7000-8000-000000000001";
/// Its issuer code in seals.
pub const SERVICE_ISSUER_CODE: &str = "HYBRIDPOST";

/// hybridpost's own sender, made the first time it is needed.
pub async fn ensure_service_agency(conn: &mut AnyConnection) -> Result<Agency> {
    let agency_id: AgencyId = parse_id(SERVICE_AGENCY_ID)?;
    if let Some(agency) = get_agency(conn, agency_id).await? {
        return Ok(agency);
    }
    let agency = Agency {
        agency_id,
        name: "บริการจดหมายไฮบริด (hybridpost)".into(),
        name_en: Some("hybridpost hybrid mail service".into()),
        address_lines: Vec::new(),
        issuer_code: SERVICE_ISSUER_CODE.into(),
        contact_email: None,
        created_at: crate::now_text(),
    };
    // Another node may make it at the same moment: whichever insert comes second does nothing.
    write_agency(conn, &agency, " on conflict (agency_id) do nothing").await?;
    get_agency(conn, agency_id).await?.ok_or_else(|| StoreError::Corrupt("the service agency was not stored".into()))
}

const AGENCY_COLUMNS: &str = "agency_id, name, name_en, address, issuer_code, contact_email, created_at";

/// Reads an agency.
pub async fn get_agency(conn: &mut AnyConnection, agency_id: AgencyId) -> Result<Option<Agency>> {
    let row = sqlx::query(&format!("select {AGENCY_COLUMNS} from agency where agency_id = $1"))
        .bind(agency_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(agency_from_row).transpose()
}

/// Every agency, oldest first.
pub async fn list_agencies(conn: &mut AnyConnection) -> Result<Vec<Agency>> {
    let rows = sqlx::query(&format!("select {AGENCY_COLUMNS} from agency order by created_at, agency_id"))
        .fetch_all(conn)
        .await?;
    rows.iter().map(agency_from_row).collect()
}

/// Changes an agency's letterhead: English name, printed address, contact e-mail.
pub async fn update_agency_profile(conn: &mut AnyConnection, agency: &Agency) -> Result<bool> {
    let changed =
        sqlx::query("update agency set name = $1, name_en = $2, address = $3, contact_email = $4 where agency_id = $5")
            .bind(&agency.name)
            .bind(&agency.name_en)
            .bind(agency.address_lines.join("\n"))
            .bind(&agency.contact_email)
            .bind(agency.agency_id.to_string())
            .execute(conn)
            .await?
            .rows_affected();
    Ok(changed == 1)
}

/// Whether the agency may send classified letters (ลับ, ลับมาก).
pub async fn allows_classified(conn: &mut AnyConnection, agency_id: AgencyId) -> Result<bool> {
    let allowed: Option<i64> = sqlx::query_scalar("select allow_classified from agency where agency_id = $1")
        .bind(agency_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(allowed == Some(1))
}

/// Allows the agency to send classified letters, or stops it; `false` when there is no such
/// agency.
pub async fn set_allow_classified(conn: &mut AnyConnection, agency_id: AgencyId, allowed: bool) -> Result<bool> {
    let changed = sqlx::query("update agency set allow_classified = $1 where agency_id = $2")
        .bind(flag(allowed))
        .bind(agency_id.to_string())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(changed == 1)
}

/// The blob key of the agency's emblem, `None` when it has none (or there is no such agency).
pub async fn emblem_key(conn: &mut AnyConnection, agency_id: AgencyId) -> Result<Option<String>> {
    let key: Option<Option<String>> = sqlx::query_scalar("select emblem_key from agency where agency_id = $1")
        .bind(agency_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(key.flatten())
}

/// Sets the blob key of the agency's emblem, or removes it (`None`); `false` when there is no
/// such agency.
pub async fn set_emblem_key(conn: &mut AnyConnection, agency_id: AgencyId, key: Option<&str>) -> Result<bool> {
    let changed = sqlx::query("update agency set emblem_key = $1 where agency_id = $2")
        .bind(key)
        .bind(agency_id.to_string())
        .execute(conn)
        .await?
        .rows_affected();
    Ok(changed == 1)
}

fn agency_from_row(r: &sqlx::any::AnyRow) -> Result<Agency> {
    let address: Option<String> = r.try_get("address")?;
    let agency_id: AgencyId = parse_id(&r.try_get::<String, _>("agency_id")?)?;
    let issuer_code: Option<String> = r.try_get("issuer_code")?;
    Ok(Agency {
        agency_id,
        name: r.try_get("name")?,
        name_en: r.try_get("name_en")?,
        address_lines: address.unwrap_or_default().lines().filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        issuer_code: issuer_code
            .ok_or_else(|| StoreError::Corrupt(format!("agency {agency_id} has no issuer code")))?,
        contact_email: r.try_get("contact_email")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Stores a new site. Letters reported unroutable that it serves are routable again: their
/// alarm clears and they go into its next batch.
pub async fn insert_site(conn: &mut AnyConnection, site: &Site) -> Result<()> {
    sqlx::query("insert into site (site_id, name, postcode_prefixes, created_at) values ($1, $2, $3, $4)")
        .bind(site.site_id.to_string())
        .bind(&site.name)
        .bind(site.postcode_prefixes.join(","))
        .bind(&site.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| conflict_or(e, "site"))?;
    // Whatever changes a site's postcode prefixes must do the same.
    crate::held::reroute(conn, &site.created_at).await?;
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

/// How long the site's incomplete replies wait for their missing pages, in minutes (0: the
/// agency is told at once); `None` when there is no such site.
pub async fn site_reply_wait(conn: &mut AnyConnection, site_id: SiteId) -> Result<Option<i64>> {
    let row = sqlx::query("select reply_wait_minutes from site where site_id = $1")
        .bind(site_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get::<i64, _>("reply_wait_minutes").map_err(Into::into)).transpose()
}

/// Sets how long the site's incomplete replies wait for their missing pages, in minutes.
pub async fn set_site_reply_wait(conn: &mut AnyConnection, site_id: SiteId, minutes: i64) -> Result<bool> {
    let done = sqlx::query("update site set reply_wait_minutes = $1 where site_id = $2")
        .bind(minutes)
        .bind(site_id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every site, oldest first.
pub async fn list_sites(conn: &mut AnyConnection) -> Result<Vec<Site>> {
    let rows =
        sqlx::query("select site_id, name, postcode_prefixes, created_at from site order by created_at, site_id")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            let prefixes: String = r.try_get("postcode_prefixes")?;
            Ok(Site {
                site_id: parse_id(&r.try_get::<String, _>("site_id")?)?,
                name: r.try_get("name")?,
                postcode_prefixes: prefixes.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// The site that prints for `postcode`: the one with the longest matching prefix (ties go to
/// the oldest site), or `None` when no site serves it.
pub fn site_for_postcode<'s>(sites: &'s [Site], postcode: &str) -> Option<&'s Site> {
    let mut best: Option<(&Site, usize)> = None;
    for site in sites {
        for prefix in &site.postcode_prefixes {
            if postcode.starts_with(prefix.as_str()) && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((site, prefix.len()));
            }
        }
    }
    best.map(|(site, _)| site)
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

/// An agency's API key as its settings list it (never the key itself, which is not stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Its id.
    pub key_id: String,
    /// Its first characters, to tell keys apart.
    pub key_prefix: String,
    /// A test key.
    pub test: bool,
    /// When it was made.
    pub created_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
}

/// The agency's keys, newest first.
pub async fn list_agency_keys(conn: &mut AnyConnection, agency_id: AgencyId) -> Result<Vec<ApiKeyInfo>> {
    let rows = sqlx::query(
        "select key_id, key_prefix, test, created_at, revoked_at from api_key where agency_id = $1 \
         order by created_at desc, key_id desc",
    )
    .bind(agency_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ApiKeyInfo {
                key_id: r.try_get("key_id")?,
                key_prefix: r.try_get("key_prefix")?,
                test: r.try_get::<i64, _>("test")? != 0,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes one of the agency's keys; false when the agency has no live key with that id.
pub async fn revoke_agency_key(conn: &mut AnyConnection, agency_id: AgencyId, key_id: &str, at: &str) -> Result<bool> {
    let n =
        sqlx::query("update api_key set revoked_at = $1 where key_id = $2 and agency_id = $3 and revoked_at is null")
            .bind(at)
            .bind(key_id)
            .bind(agency_id.to_string())
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
