//! `hybridpost admin …`: create agencies, sites and API keys, import verified e-channels, list
//! stuck letters. Each command prints one JSON object on standard output (`stuck-letters` a
//! table unless `--json`); a new API key appears there once and is stored only as a hash.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use hybridpost_console::people::NewPerson;
use hybridpost_core::{AgencyId, CitizenId, PersonRole, SiteId, Workplace};
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
    /// Allow an agency to send classified letters (ลับ, ลับมาก), or stop it with --off. Top
    /// secret (ลับที่สุด) letters are never taken.
    AllowClassified {
        /// The agency's id.
        #[arg(long)]
        agency_id: AgencyId,
        /// Stop allowing them.
        #[arg(long)]
        off: bool,
    },
    /// Set an agency's emblem (ตราครุฑ), printed 3 cm high at the top centre of page 1 of its
    /// official letters: a PNG or JPEG at least 355 pixels high (300 dpi at 3 cm), no wider
    /// than high, grey or RGB; transparency prints as white. Or remove it with --remove.
    SetEmblem {
        /// The agency's id.
        #[arg(long)]
        agency_id: AgencyId,
        /// The PNG or JPEG file.
        #[arg(required_unless_present = "remove", conflicts_with = "remove")]
        file: Option<std::path::PathBuf>,
        /// Remove the agency's emblem: its letters keep the slot blank.
        #[arg(long)]
        remove: bool,
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
    /// List letters waiting for print that cannot move on by themselves: held after a failed
    /// render, unroutable (no site serves the postcode), or waiting longer than
    /// `print_alarm_after_hours`. A table, oldest first; `--json` for JSON.
    StuckLetters {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a person who signs in to the console, at one print site (roles `operator`,
    /// `supervisor`) or one agency (`admin`, `sender`, `viewer`). Prints a one-time link to set
    /// their password, which works for 3 days.
    CreateUser {
        /// Their e-mail address: their sign-in name.
        #[arg(long)]
        email: String,
        /// Their name, as the console shows it.
        #[arg(long)]
        name: String,
        /// What they may do.
        #[arg(long)]
        role: PersonRole,
        /// The print site they work at.
        #[arg(long, conflicts_with = "agency_id", required_unless_present = "agency_id")]
        site_id: Option<SiteId>,
        /// The agency they work at.
        #[arg(long)]
        agency_id: Option<AgencyId>,
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
    let table = matches!(command, AdminCommand::StuckLetters { json: false });
    let store = open_store(&config).await?;
    let output = execute(&config, &store, command).await;
    store.close().await;
    let output = output?;
    if table {
        print!("{}", stuck_table(&output));
    } else {
        println!("{}", serde_json::to_string_pretty(&output).context("output")?);
    }
    Ok(())
}

/// The `stuck-letters` output as a plain table, one letter and reason a line.
pub fn stuck_table(output: &serde_json::Value) -> String {
    const COLUMNS: [&str; 6] = ["agency_name", "agency_id", "letter_id", "status", "reason", "since"];
    let letters = output["letters"].as_array().map(Vec::as_slice).unwrap_or_default();
    if letters.is_empty() {
        return "no letters are stuck\n".to_owned();
    }
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| COLUMNS.iter().map(|c| l[*c].as_str().unwrap_or_default().to_owned()).collect())
        .collect();
    let header: Vec<String> =
        ["agency", "agency id", "letter id", "status", "reason", "since"].map(String::from).into();
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| std::iter::once(&header).chain(&rows).map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    let counts: Vec<String> = output["by_reason"]
        .as_object()
        .map(|m| m.iter().map(|(reason, n)| format!("{n} {reason}")).collect())
        .unwrap_or_default();
    out.push_str(&format!("{} stuck: {}\n", letters.len(), counts.join(", ")));
    out
}

/// Carries out one admin command on an open store and returns what `run` prints.
pub async fn execute(
    config: &Config,
    store: &hybridpost_store::Store,
    command: AdminCommand,
) -> anyhow::Result<serde_json::Value> {
    match command {
        AdminCommand::Migrate => Ok(json!({"migrated": true, "database": config.database_description()})),
        AdminCommand::StuckLetters { json: _ } => stuck_letters(store).await,
        AdminCommand::CreateAgency { name, name_en, address, code, contact_email, test } => {
            let agency = new_agency(name, name_en, address, code, contact_email)?;
            create_agency(config, store, agency, test).await
        }
        AdminCommand::CreateKey { agency_id, test } => create_key(store, agency_id, test).await,
        AdminCommand::RevokeKey { key_id } => revoke_key(store, key_id).await,
        AdminCommand::AllowClassified { agency_id, off } => allow_classified(store, agency_id, !off).await,
        AdminCommand::SetEmblem { agency_id, file, remove: _ } => set_emblem(config, store, agency_id, file).await,
        AdminCommand::CreateSite { name, postcode_prefixes } => create_site(store, name, &postcode_prefixes).await,
        AdminCommand::RotateSigningKey { agency_id, all: _, root } => {
            rotate_signing_key(config, store, agency_id, root).await
        }
        AdminCommand::ExportTrustList { out } => export_trust_list(config, store, &out).await,
        AdminCommand::ImportChannels { file } => import_channels(config, store, &file).await,
        AdminCommand::CreateUser { email, name, role, site_id, agency_id } => {
            let workplace = match (site_id, agency_id) {
                (Some(s), None) => Workplace::Site(s),
                (None, Some(a)) => Workplace::Agency(a),
                _ => anyhow::bail!("give either --site-id or --agency-id"),
            };
            create_user(config, store, NewPerson { email, name, workplace, role }).await
        }
    }
}

/// `create-user`: the person and their one-time link to set a password.
async fn create_user(
    config: &Config,
    store: &hybridpost_store::Store,
    new: NewPerson,
) -> anyhow::Result<serde_json::Value> {
    let console = crate::serve::console_config(
        config,
        &config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen)),
    )?;
    let created = hybridpost_console::people::create_person(store, &console, new, None, "command line").await?;
    let p = &created.person;
    Ok(json!({
        "person_id": p.person_id.to_string(),
        "email": p.email,
        "name": p.name,
        "role": p.role,
        "site_id": match p.workplace { Workplace::Site(s) => Some(s.to_string()), Workplace::Agency(_) => None },
        "agency_id": match p.workplace { Workplace::Agency(a) => Some(a.to_string()), Workplace::Site(_) => None },
        "setup_link": created.setup_link,
        "setup_link_expires_at": created.expires_at,
        "note": "Give the link to the person: it works once, to set their password, until it expires.",
    }))
}

/// `stuck-letters`: every standing alarm with its letter and agency, and the count by reason.
async fn stuck_letters(store: &hybridpost_store::Store) -> anyhow::Result<serde_json::Value> {
    let mut conn = store.read().await?;
    let stuck = hybridpost_store::held::list_stuck(&mut conn).await?;
    let counts = hybridpost_store::held::count_stuck(&mut conn).await?;
    let letters: Vec<serde_json::Value> = stuck
        .iter()
        .map(|s| {
            json!({
                "agency_id": s.agency_id,
                "agency_name": s.agency_name,
                "letter_id": s.letter_id,
                "status": s.status,
                "reason": s.reason,
                "detail": s.detail,
                "since": s.since,
            })
        })
        .collect();
    let by_reason: serde_json::Map<String, serde_json::Value> =
        counts.iter().map(|(r, n)| (r.as_str().to_owned(), json!(n))).collect();
    Ok(json!({"letters": letters, "by_reason": by_reason}))
}

/// The agency `create-agency` describes, checked: names and address lines printable, the
/// contact address and issuer code well formed.
fn new_agency(
    name: String,
    name_en: Option<String>,
    address: Vec<String>,
    code: Option<String>,
    contact_email: Option<String>,
) -> anyhow::Result<Agency> {
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
    Ok(agency)
}

/// `create-agency`: stores the agency with its first API key, then gives it a seal key.
async fn create_agency(
    config: &Config,
    store: &hybridpost_store::Store,
    agency: Agency,
    test: bool,
) -> anyhow::Result<serde_json::Value> {
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
    Ok(json!({
        "agency_id": agency.agency_id,
        "name": agency.name,
        "issuer_code": agency.issuer_code,
        "seal_key_id": key_id.to_hex(),
        "contact_email": agency.contact_email,
        "test": test,
        "api_key": key.key,
        "api_key_id": key.record.key_id,
        "api_key_prefix": key.record.key_prefix,
    }))
}

/// `create-key`: another API key for an existing agency.
async fn create_key(
    store: &hybridpost_store::Store,
    agency_id: AgencyId,
    test: bool,
) -> anyhow::Result<serde_json::Value> {
    let mut conn = store.read().await?;
    let agency =
        agencies::get_agency(&mut conn, agency_id).await?.with_context(|| format!("there is no agency {agency_id}"))?;
    drop(conn);
    let key = generate_api_key(Principal::Agency { agency_id, test });
    let mut tx = store.begin().await?;
    agencies::insert_api_key(&mut tx, &key.record, &now_text()).await?;
    tx.commit().await.context("cannot save the key")?;
    Ok(json!({
        "agency_id": agency_id,
        "name": agency.name,
        "test": test,
        "api_key": key.key,
        "api_key_id": key.record.key_id,
        "api_key_prefix": key.record.key_prefix,
    }))
}

/// `revoke-key`: a live API key revoked by its id.
async fn revoke_key(store: &hybridpost_store::Store, key_id: String) -> anyhow::Result<serde_json::Value> {
    let mut tx = store.begin().await?;
    let revoked = agencies::revoke_api_key(&mut tx, &key_id, &now_text()).await?;
    tx.commit().await.context("cannot save the revocation")?;
    anyhow::ensure!(revoked, "there is no live API key with id {key_id}");
    Ok(json!({"api_key_id": key_id, "revoked": true}))
}

/// `allow-classified`: whether the agency's classified letters are taken.
async fn allow_classified(
    store: &hybridpost_store::Store,
    agency_id: AgencyId,
    allowed: bool,
) -> anyhow::Result<serde_json::Value> {
    let mut tx = store.begin().await?;
    let changed = agencies::set_allow_classified(&mut tx, agency_id, allowed).await?;
    tx.commit().await.context("cannot save the change")?;
    anyhow::ensure!(changed, "there is no agency with id {agency_id}");
    Ok(json!({"agency_id": agency_id, "allow_classified": allowed}))
}

/// `set-emblem`: checks the file and makes it the agency's emblem, or removes the emblem
/// (`file` none). Letters already printed keep what they were printed with; letters printed
/// from now on carry the new emblem.
async fn set_emblem(
    config: &Config,
    store: &hybridpost_store::Store,
    agency_id: AgencyId,
    file: Option<std::path::PathBuf>,
) -> anyhow::Result<serde_json::Value> {
    let Some(path) = file else {
        let mut tx = store.begin().await?;
        let changed = agencies::set_emblem_key(&mut tx, agency_id, None).await?;
        tx.commit().await.context("cannot save the change")?;
        anyhow::ensure!(changed, "there is no agency with id {agency_id}");
        return Ok(json!({"agency_id": agency_id, "emblem": null}));
    };
    let size = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?.len();
    anyhow::ensure!(
        size <= hybridpost_render::MAX_EMBLEM_BYTES as u64,
        "{} is {size} bytes, an emblem file may have at most {}",
        path.display(),
        hybridpost_render::MAX_EMBLEM_BYTES
    );
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let emblem =
        hybridpost_render::Emblem::from_file(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let blobs = config.blob_store()?;
    let mut tx = store.begin().await?;
    let changed = hybridpost_compose::set_emblem(&mut tx, &blobs, agency_id, &emblem).await?;
    tx.commit().await.context("cannot save the change")?;
    anyhow::ensure!(changed, "there is no agency with id {agency_id}");
    let (width, height) = emblem.size();
    Ok(json!({
        "agency_id": agency_id,
        "emblem": {"key": emblem.key(), "width_px": width, "height_px": height,
                   "printed_mm": {"width": (30.0 * f64::from(width) / f64::from(height) * 10.0).round() / 10.0, "height": 30.0}},
    }))
}

/// `create-site`: a print site for the postcode prefixes listed, with its operators' API key.
async fn create_site(
    store: &hybridpost_store::Store,
    name: String,
    postcode_prefixes: &str,
) -> anyhow::Result<serde_json::Value> {
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
    Ok(json!({
        "site_id": site.site_id,
        "name": site.name,
        "postcode_prefixes": site.postcode_prefixes,
        "api_key": key.key,
        "api_key_id": key.record.key_id,
        "api_key_prefix": key.record.key_prefix,
    }))
}

/// `rotate-signing-key`: a new root key, or a new seal key for one agency (`agency_id`) or for
/// every agency (none given).
async fn rotate_signing_key(
    config: &Config,
    store: &hybridpost_store::Store,
    agency_id: Option<AgencyId>,
    root: bool,
) -> anyhow::Result<serde_json::Value> {
    let keyring = keyring(config, store)?;
    if root {
        let key_id = keyring.rotate_root(today()).await?;
        return Ok(json!({"root_key_id": key_id.to_hex()}));
    }
    let mut conn = store.read().await?;
    let targets = match agency_id {
        Some(id) => {
            vec![agencies::get_agency(&mut conn, id).await?.with_context(|| format!("there is no agency {id}"))?]
        }
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
    Ok(json!({"rotated": rotated}))
}

/// `export-trust-list`: the current trust list and the root public keys written into `out`.
async fn export_trust_list(
    config: &Config,
    store: &hybridpost_store::Store,
    out: &Path,
) -> anyhow::Result<serde_json::Value> {
    let keyring = keyring(config, store)?;
    let list = keyring.ensure_trust_list(today()).await?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
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
    Ok(json!({"trust_list": list_path, "sequence": list.sequence, "root_keys": roots_path}))
}

/// `import-channels`: citizens' verified e-mail addresses from a CSV file, all or none.
async fn import_channels(
    config: &Config,
    store: &hybridpost_store::Store,
    file: &Path,
) -> anyhow::Result<serde_json::Value> {
    let key = config.citizen_id_key()?;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.starts_with("citizen_id")) {
            continue;
        }
        let (id, email) = line
            .split_once(',')
            .with_context(|| format!("{} line {}: expected citizen_id,email", file.display(), n + 1))?;
        let id = CitizenId::parse(id.trim()).map_err(|e| anyhow::anyhow!("{} line {}: {e}", file.display(), n + 1))?;
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
    Ok(json!({"imported": rows.len()}))
}

#[cfg(test)]
mod tests {
    use hybridpost_core::{Channel, ChannelReason, HoldReason, LetterId, LetterStatus};
    use hybridpost_store::held::{self, NewAlarm};
    use hybridpost_store::letters::{self, LetterRecord};
    use hybridpost_store::testing::test_store;

    use super::*;

    #[tokio::test]
    async fn stuck_letters_lists_each_standing_alarm_with_its_agency_as_json_and_as_a_table() {
        let db = test_store().await;
        let empty = execute(&Config::default(), &db.store, AdminCommand::StuckLetters { json: true }).await.unwrap();
        assert_eq!(empty["letters"], json!([]));
        assert_eq!(stuck_table(&empty), "no letters are stuck\n");

        let agency = Agency::new("สำนักงานเขตพญาไท");
        let letter = LetterRecord {
            letter_id: LetterId::new(),
            agency_id: agency.agency_id,
            reference: "ที่ 1".into(),
            status: LetterStatus::QueuedForPrint,
            channel: Channel::Print,
            channel_reason: ChannelReason::NoCitizenId,
            test: false,
            postcode: "50200".into(),
            citizen_id_hash: None,
            reply_deadline: None,
            content: json!({}),
            created_at: now_text(),
            updated_at: now_text(),
            seal: None,
            withdrawn: None,
        };
        let mut tx = db.store.begin().await.unwrap();
        agencies::insert_agency(&mut tx, &agency).await.unwrap();
        letters::insert_letter(&mut tx, &letter).await.unwrap();
        let alarm = NewAlarm {
            letter_id: letter.letter_id,
            agency_id: agency.agency_id,
            reason: HoldReason::Unroutable,
            since: "2026-11-22T10:00:00.000Z".into(),
            detail: json!({"reason": "no print site serves postcode 50200"}),
            request_id: None,
        };
        let raised = held::raise(&mut tx, vec![alarm], &now_text()).await.unwrap();
        assert_eq!(raised.value, [letter.letter_id]);
        tx.commit().await.unwrap();

        let out = execute(&Config::default(), &db.store, AdminCommand::StuckLetters { json: true }).await.unwrap();
        let row = &out["letters"][0];
        assert_eq!(row["agency_name"], "สำนักงานเขตพญาไท");
        assert_eq!(row["letter_id"], letter.letter_id.to_string());
        assert_eq!((row["status"].as_str(), row["reason"].as_str()), (Some("queued_for_print"), Some("unroutable")));
        assert_eq!(row["since"], "2026-11-22T10:00:00.000Z");
        assert_eq!(out["by_reason"]["unroutable"], 1);
        assert_eq!(out["by_reason"]["render_failed"], 0);
        let table = stuck_table(&out);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("agency") && lines[0].ends_with("since"), "{table}");
        assert!(lines[1].contains(&letter.letter_id.to_string()) && lines[1].contains("unroutable"), "{table}");
        assert_eq!(lines[2], "1 stuck: 0 print_overdue, 0 render_failed, 1 unroutable");
    }
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
