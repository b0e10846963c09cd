//! `hybridpost admin …`: create agencies, sites and API keys, import verified e-channels.
//! Each command prints one JSON object on standard output; a new API key appears there once
//! and is stored only as a hash.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use hybridpost_core::{AgencyId, CitizenId, SiteId};
use hybridpost_store::agencies::{self, Agency, Principal, Site};
use hybridpost_store::{channels, now_text};
use hybridpost_web::auth::generate_api_key;
use serde_json::json;

use crate::config::Config;
use crate::serve::open_store;

/// Administration commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an agency and its first API key.
    CreateAgency {
        /// The agency's name, as printed on letters.
        #[arg(long)]
        name: String,
        /// Where notices about replies and returns go.
        #[arg(long, value_name = "ADDR")]
        contact_email: Option<String>,
        /// Make the key a test key: letters render but are never printed or sent.
        #[arg(long)]
        test: bool,
    },
    /// Create another API key for an agency.
    CreateKey {
        /// The agency's id.
        #[arg(long)]
        agency_id: AgencyId,
        /// A test key.
        #[arg(long)]
        test: bool,
    },
    /// Revoke an API key by its id (`api_key_id` in the output that created it). Servers stop
    /// accepting it within 10 seconds.
    RevokeKey {
        /// The key's id.
        #[arg(long)]
        key_id: String,
    },
    /// Create a post-office site and its operators' API key.
    CreateSite {
        /// The site's name.
        #[arg(long)]
        name: String,
        /// Postcode prefixes the site prints for, comma separated (`10,11`).
        #[arg(long, value_name = "PREFIXES")]
        postcode_prefixes: String,
    },
    /// Import citizens' verified e-mail addresses from a CSV file of `citizen_id,email` lines.
    ImportChannels {
        /// The CSV file (a header line `citizen_id,email` is allowed).
        file: PathBuf,
    },
    /// Create or update the database schema, then exit.
    Migrate,
}

/// Runs one admin command.
pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let output = match command {
        AdminCommand::Migrate => json!({"migrated": true, "database": config.database_description()}),
        AdminCommand::CreateAgency { name, contact_email, test } => {
            let name = name.trim().to_owned();
            anyhow::ensure!(!name.is_empty() && name.chars().count() <= 200, "--name must be 1 to 200 characters");
            if let Some(email) = &contact_email {
                hybridpost_core::letter::check_email(email).map_err(|why| anyhow::anyhow!("--contact-email {why}"))?;
            }
            let agency = Agency { agency_id: AgencyId::new(), name, contact_email, created_at: now_text() };
            let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test });
            let mut tx = store.begin().await?;
            agencies::insert_agency(&mut tx, &agency).await?;
            agencies::insert_api_key(&mut tx, &key.record, &agency.created_at).await?;
            tx.commit().await.context("cannot save the agency")?;
            json!({
                "agency_id": agency.agency_id,
                "name": agency.name,
                "contact_email": agency.contact_email,
                "test": test,
                "api_key": key.key,
                "api_key_id": key.record.key_id,
                "api_key_prefix": key.record.key_prefix,
            })
        }
        AdminCommand::CreateKey { agency_id, test } => {
            let mut conn = store.read().await?;
            let agency = agencies::get_agency(&mut conn, agency_id)
                .await?
                .with_context(|| format!("there is no agency {agency_id}"))?;
            drop(conn);
            let key = generate_api_key(Principal::Agency { agency_id, test });
            let mut tx = store.begin().await?;
            agencies::insert_api_key(&mut tx, &key.record, &now_text()).await?;
            tx.commit().await.context("cannot save the key")?;
            json!({
                "agency_id": agency_id,
                "name": agency.name,
                "test": test,
                "api_key": key.key,
                "api_key_id": key.record.key_id,
                "api_key_prefix": key.record.key_prefix,
            })
        }
        AdminCommand::RevokeKey { key_id } => {
            let mut tx = store.begin().await?;
            let revoked = agencies::revoke_api_key(&mut tx, &key_id, &now_text()).await?;
            tx.commit().await.context("cannot save the revocation")?;
            anyhow::ensure!(revoked, "there is no live API key with id {key_id}");
            json!({"api_key_id": key_id, "revoked": true})
        }
        AdminCommand::CreateSite { name, postcode_prefixes } => {
            let name = name.trim().to_owned();
            anyhow::ensure!(!name.is_empty() && name.chars().count() <= 200, "--name must be 1 to 200 characters");
            let prefixes: Vec<String> =
                postcode_prefixes.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
            anyhow::ensure!(!prefixes.is_empty(), "--postcode-prefixes names no prefix");
            for p in &prefixes {
                anyhow::ensure!(
                    (1..=5).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()),
                    "postcode prefix {p:?} must be 1 to 5 digits"
                );
            }
            let site = Site { site_id: SiteId::new(), name, postcode_prefixes: prefixes, created_at: now_text() };
            let key = generate_api_key(Principal::Site { site_id: site.site_id });
            let mut tx = store.begin().await?;
            agencies::insert_site(&mut tx, &site).await?;
            agencies::insert_api_key(&mut tx, &key.record, &site.created_at).await?;
            tx.commit().await.context("cannot save the site")?;
            json!({
                "site_id": site.site_id,
                "name": site.name,
                "postcode_prefixes": site.postcode_prefixes,
                "api_key": key.key,
                "api_key_id": key.record.key_id,
                "api_key_prefix": key.record.key_prefix,
            })
        }
        AdminCommand::ImportChannels { file } => {
            let key = config.citizen_id_key()?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut rows = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || (n == 0 && line.starts_with("citizen_id")) {
                    continue;
                }
                let (id, email) = line
                    .split_once(',')
                    .with_context(|| format!("{} line {}: expected citizen_id,email", file.display(), n + 1))?;
                let id = CitizenId::parse(id.trim())
                    .map_err(|e| anyhow::anyhow!("{} line {}: {e}", file.display(), n + 1))?;
                let email = email.trim();
                hybridpost_core::letter::check_email(email)
                    .map_err(|why| anyhow::anyhow!("{} line {}: e-mail {why}", file.display(), n + 1))?;
                rows.push((id.keyed_hash(&key), email.to_owned()));
            }
            // All or nothing: a bad line imports none.
            let mut tx = store.begin().await?;
            for (hash, email) in &rows {
                channels::upsert_verified_email(&mut tx, hash, email, "import").await?;
            }
            tx.commit().await.context("cannot save the e-channels")?;
            json!({"imported": rows.len()})
        }
    };
    println!("{}", serde_json::to_string_pretty(&output).context("output")?);
    store.close().await;
    Ok(())
}
