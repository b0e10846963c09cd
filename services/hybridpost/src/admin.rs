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

use hybridpost_keyring::{Keyring, today};

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
        /// The agency's name in English.
        #[arg(long)]
        name_en: Option<String>,
        /// The agency's postal address as printed on its letters; repeat for each line.
        #[arg(long = "address", value_name = "LINE")]
        address: Vec<String>,
        /// Short code in the agency's seals (1-16 of A-Z, 0-9, -); made from the id when not given.
        #[arg(long)]
        code: Option<String>,
        /// Where notices about replies and returns go.
        #[arg(long, value_name = "ADDR")]
        contact_email: Option<String>,
        /// Make the key a test key: letters render but are never printed or sent.
        #[arg(long)]
        test: bool,
    },
    /// Make a new seal key for an agency (or every agency, or the trust list's root key) and
    /// publish a new trust list. The old key seals nothing more; letters it sealed still verify.
    RotateSigningKey {
        /// The agency whose key is replaced.
        #[arg(long, conflicts_with_all = ["all", "root"], required_unless_present_any = ["all", "root"])]
        agency_id: Option<AgencyId>,
        /// Replace every agency's key.
        #[arg(long, conflicts_with = "root")]
        all: bool,
        /// Replace the root key that signs the trust list.
        #[arg(long)]
        root: bool,
    },
    /// Write the current trust list and the root public keys (PEM) into a folder, for offline
    /// verification (`hybridpost verify --trust-list`).
    ExportTrustList {
        /// The folder.
        #[arg(long)]
        out: PathBuf,
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

fn keyring(config: &Config, store: &hybridpost_store::Store) -> anyhow::Result<Keyring> {
    let secret = hybridpost_seal::ServiceSecret::new(&config.secret_key()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Keyring::new(store.clone(), secret))
}

/// Runs one admin command.
pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let output = execute(&config, &store, command).await;
    store.close().await;
    println!("{}", serde_json::to_string_pretty(&output?).context("output")?);
    Ok(())
}

/// Carries out one admin command on an open store and returns what `run` prints.
pub async fn execute(
    config: &Config,
    store: &hybridpost_store::Store,
    command: AdminCommand,
) -> anyhow::Result<serde_json::Value> {
    let output = match command {
        AdminCommand::Migrate => json!({"migrated": true, "database": config.database_description()}),
        AdminCommand::CreateAgency { name, name_en, address, code, contact_email, test } => {
            let name = name.trim().to_owned();
            anyhow::ensure!(!name.is_empty() && name.chars().count() <= 200, "--name must be 1 to 200 characters");
            printable("--name", &name)?;
            if let Some(name_en) = &name_en {
                printable("--name-en", name_en)?;
            }
            for line in &address {
                printable("--address", line)?;
            }
            if let Some(email) = &contact_email {
                hybridpost_core::letter::check_email(email).map_err(|why| anyhow::anyhow!("--contact-email {why}"))?;
            }
            let address: Vec<String> = address.iter().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect();
            anyhow::ensure!(
                address.len() <= 4 && address.iter().all(|l| l.chars().count() <= 100),
                "--address takes up to 4 lines of up to 100 characters"
            );
            let mut agency = Agency::new(name);
            agency.name_en = name_en.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
            agency.address_lines = address;
            agency.contact_email = contact_email;
            if let Some(code) = code {
                agencies::check_issuer_code(&code).map_err(|why| anyhow::anyhow!("--code: {why}"))?;
                agency.issuer_code = code;
            }
            let key = generate_api_key(Principal::Agency { agency_id: agency.agency_id, test });
            let mut tx = store.begin().await?;
            agencies::insert_agency(&mut tx, &agency).await.map_err(|e| {
                if e.is_unique_violation() {
                    anyhow::anyhow!("the issuer code {} is taken by another agency", agency.issuer_code)
                } else {
                    e.into()
                }
            })?;
            agencies::insert_api_key(&mut tx, &key.record, &agency.created_at).await?;
            tx.commit().await.context("cannot save the agency")?;
            let keyring = keyring(config, store)?;
            let key_id = keyring.rotate(&agency.issuer_code, Some(agency.agency_id), today()).await?;
            json!({
                "agency_id": agency.agency_id,
                "name": agency.name,
                "issuer_code": agency.issuer_code,
                "seal_key_id": key_id.to_hex(),
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
            printable("--name", &name)?;
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
        AdminCommand::RotateSigningKey { agency_id, all: _, root } => {
            let keyring = keyring(config, store)?;
            if root {
                let key_id = keyring.rotate_root(today()).await?;
                json!({"root_key_id": key_id.to_hex()})
            } else {
                let mut conn = store.read().await?;
                let targets = match agency_id {
                    Some(id) => vec![
                        agencies::get_agency(&mut conn, id)
                            .await?
                            .with_context(|| format!("there is no agency {id}"))?,
                    ],
                    None => agencies::list_agencies(&mut conn).await?,
                };
                drop(conn);
                let mut rotated = Vec::new();
                for agency in targets {
                    let key_id = keyring.rotate(&agency.issuer_code, Some(agency.agency_id), today()).await?;
                    rotated.push(json!({
                        "agency_id": agency.agency_id,
                        "issuer_code": agency.issuer_code,
                        "seal_key_id": key_id.to_hex(),
                    }));
                }
                json!({"rotated": rotated})
            }
        }
        AdminCommand::ExportTrustList { out } => {
            let keyring = keyring(config, store)?;
            let list = keyring.ensure_trust_list(today()).await?;
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let list_path = out.join("trust-list.json");
            std::fs::write(&list_path, &list.body).with_context(|| format!("cannot write {}", list_path.display()))?;
            let mut pems = String::new();
            for root in keyring.root_keys().await? {
                // RFC 7468 §5.2 allows explanatory text before each block: the validity, which
                // `hybridpost verify --root-keys` reads back.
                pems.push_str(&format!(
                    "Key-Id: {}\nNot-Before: {}\nNot-After: {}\n",
                    root.public_key.id(),
                    root.validity.not_before,
                    root.validity.not_after
                ));
                pems.push_str(&root.public_key.to_spki_pem().map_err(|e| anyhow::anyhow!("{e}"))?);
            }
            let roots_path = out.join("root-keys.pem");
            std::fs::write(&roots_path, pems).with_context(|| format!("cannot write {}", roots_path.display()))?;
            json!({"trust_list": list_path, "sequence": list.sequence, "root_keys": roots_path})
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
    Ok(output)
}

/// An agency's or site's name and address are printed on letters and batch sheets and shown in
/// e-mails: the same rule as a letter's text (no controls, bidirectional or invisible
/// characters, nothing the letter fonts cannot draw).
fn printable(flag: &str, value: &str) -> anyhow::Result<()> {
    use hybridpost_core::validation::{Lines, describe_char, unprintable};
    if let Some(why) = unprintable(value, Lines::One) {
        anyhow::bail!("{flag}: {why}");
    }
    if let Some((position, c)) = hybridpost_render::Fonts::laksaman().missing_glyph(value) {
        anyhow::bail!("{flag}: character {position} is {}, which the letter fonts cannot print", describe_char(c));
    }
    Ok(())
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn agency_and_site_names_with_unprintable_characters_are_refused() {
        assert!(printable("--name", "สำนักงานเขตพญาไท").is_ok());
        let err = printable("--name", "สำนักงาน\u{202e}เขต").expect_err("bidi override");
        assert!(err.to_string().starts_with("--name: character 9 is U+202E RIGHT-TO-LEFT OVERRIDE"), "{err}");
        let err = printable("--address", "ถนน 😀").expect_err("no glyph");
        assert!(err.to_string().contains("U+1F600"), "{err}");
    }
}
