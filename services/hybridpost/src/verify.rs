//! `hybridpost verify FILE`: finds the verification seal in a photo, a scan or a PDF and checks
//! it against a trust list, with no server.
//!
//! The trust list and the root keys that sign it come from files (`hybridpost admin
//! export-trust-list` writes both; anyone can fetch them from the verification host) or, on a
//! machine running hybridpost, from its database. Withdrawals are checked only with the
//! database; offline, the output says they were not.

use std::path::{Path, PathBuf};

use anyhow::Context;
use hybridpost_seal::{
    Date, KeyId, PublicKey, RootKey, Seal, TrustList, Validity, Verdict, VerifyContext, WithdrawalReason,
};
use serde_json::json;

use crate::config::Config;

/// Largest input file.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest image, in pixels (a 600 dpi A4 scan is 35 million).
const MAX_PIXELS: u64 = 80_000_000;

/// Arguments of `hybridpost verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A photo or scan (PNG, JPEG) or a PDF of the letter.
    pub file: PathBuf,
    /// The trust list (trust-list.json) [default: this installation's]
    #[arg(long, value_name = "FILE")]
    pub trust_list: Option<PathBuf>,
    /// The root public keys that sign the trust list (root-keys.pem) [default: this installation's]
    #[arg(long, value_name = "FILE")]
    pub root_keys: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; the returned flag is whether the seal is genuine.
pub async fn run(config: Option<Config>, args: &VerifyArgs) -> anyhow::Result<bool> {
    let bytes = read_limited(&args.file)?;
    let texts = tokio::task::spawn_blocking(move || find_codes(&bytes)).await.context("decoder")??;
    let (trust_list, withdrawn) = trust(config, args).await?;
    let today = hybridpost_keyring::today();

    let seals: Vec<&String> = texts.iter().filter(|t| Seal::from_qr_text(t).is_ok()).collect();
    let verdict = match seals.first() {
        None if texts.is_empty() => None,
        None => Some(Verdict::NotASeal),
        Some(text) => {
            let lookup = |r: &hybridpost_seal::Reference| {
                withdrawn.as_ref().and_then(|set| set.iter().find(|(reference, _)| reference == r).map(|(_, why)| *why))
            };
            Some(hybridpost_seal::verify_qr_text(
                text,
                &VerifyContext { trust_list: &trust_list, today, withdrawn: &lookup },
            ))
        }
    };
    let genuine = verdict.as_ref().is_some_and(Verdict::is_genuine);
    let report = report(verdict.as_ref(), withdrawn.is_some(), &trust_list);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(genuine)
}

fn read_limited(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(meta.len() <= MAX_FILE_BYTES, "{} is larger than {} MB", path.display(), MAX_FILE_BYTES >> 20);
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The withdrawn references known to this installation, when it has a database.
type Withdrawals = Vec<(hybridpost_seal::Reference, WithdrawalReason)>;

async fn trust(config: Option<Config>, args: &VerifyArgs) -> anyhow::Result<(TrustList, Option<Withdrawals>)> {
    let from_files = args.trust_list.is_some() || args.root_keys.is_some();
    if from_files {
        let (Some(list), Some(roots)) = (&args.trust_list, &args.root_keys) else {
            anyhow::bail!("give both --trust-list and --root-keys (hybridpost admin export-trust-list writes them)");
        };
        let roots = read_root_keys(
            &std::fs::read_to_string(roots).with_context(|| format!("cannot read {}", roots.display()))?,
        )?;
        let json = std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
        let trust_list =
            TrustList::from_signed_json(&json, &roots).map_err(|e| anyhow::anyhow!("{}: {e}", list.display()))?;
        return Ok((trust_list, None));
    }
    let config = config.context("no trust list: give --trust-list and --root-keys")?;
    let store = crate::serve::open_store(&config).await.context(
        "no trust list given and this installation's database cannot be opened; give --trust-list and --root-keys",
    )?;
    let secret = hybridpost_seal::ServiceSecret::new(&config.secret_key()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keyring = hybridpost_keyring::Keyring::new(store.clone(), secret);
    let trust_list = keyring
        .verified_trust_list()
        .await?
        .context("this installation has published no trust list yet (it does on the first `serve`)")?;
    let withdrawn = hybridpost_store::letters::withdrawn_references(&mut *store.read().await?).await?;
    let withdrawn = withdrawn
        .into_iter()
        .filter_map(|(plain, reason)| {
            let reference = hybridpost_seal::Reference::from_bytes(&hybridpost_seal::base32_decode(&plain).ok()?)?;
            let reason = match reason.as_str() {
                "superseded" => WithdrawalReason::Superseded,
                "reported_lost" => WithdrawalReason::ReportedLost,
                _ => WithdrawalReason::Cancelled,
            };
            Some((reference, reason))
        })
        .collect();
    store.close().await;
    Ok((trust_list, Some(withdrawn)))
}

/// Reads root public keys from PEM, each block preceded by `Not-Before:` / `Not-After:` lines
/// (as `hybridpost admin export-trust-list` writes them); a block without them is trusted for
/// any date, since the user chose the file.
fn read_root_keys(text: &str) -> anyhow::Result<Vec<RootKey>> {
    let mut keys = Vec::new();
    let (mut not_before, mut not_after) = (None, None);
    let mut block: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(b) = &mut block {
            b.push_str(line);
            b.push('\n');
            if line.starts_with("-----END") {
                let public_key = PublicKey::from_spki_pem(b).map_err(|e| anyhow::anyhow!("root key: {e}"))?;
                let validity = Validity {
                    not_before: not_before.take().unwrap_or(Date::from_days(0)),
                    not_after: not_after.take().unwrap_or(Date::from_days(u32::MAX)),
                };
                keys.push(RootKey { public_key, validity });
                block = None;
            }
        } else if line.starts_with("-----BEGIN") {
            block = Some(format!("{line}\n"));
        } else if let Some(d) = line.strip_prefix("Not-Before:") {
            not_before = Some(Date::parse_iso(d.trim()).with_context(|| format!("bad date in {line:?}"))?);
        } else if let Some(d) = line.strip_prefix("Not-After:") {
            not_after = Some(Date::parse_iso(d.trim()).with_context(|| format!("bad date in {line:?}"))?);
        }
    }
    anyhow::ensure!(!keys.is_empty(), "the root key file holds no PEM public key");
    Ok(keys)
}

/// Every QR text found in the file.
pub fn find_codes(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    if bytes.starts_with(b"%PDF") {
        return pdf_codes(bytes);
    }
    let image = decode_image(bytes)?;
    Ok(image_codes(&image))
}

fn decode_image(bytes: &[u8]) -> anyhow::Result<image::GrayImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .context("cannot tell the image format")?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let (w, h) = reader.into_dimensions().context("not a PNG, JPEG or PDF file")?;
    anyhow::ensure!(u64::from(w) * u64::from(h) <= MAX_PIXELS, "the image is {w}×{h}, larger than {MAX_PIXELS} pixels");
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    Ok(reader.decode().context("the image cannot be decoded")?.into_luma8())
}

/// Time the search of one image may take: the scan-back pipeline's budget for a hard page.
const SEARCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// QR texts in an image, through the scan-back pipeline, so that what the post office's
/// reader reads, this command reads too: a phone photo or a close-up of the seal (the image's
/// resolution is not known) is read whole first, with the perspective of a tilted page; a
/// scan by the seal's place on an upright or turned page, then the whole page enlarged,
/// binarised, filtered and inverted. It stops at the first seal.
fn image_codes(image: &image::GrayImage) -> Vec<String> {
    let options =
        hybridpost_scan::find::FindOptions { budget: SEARCH_BUDGET, areas: hybridpost_intake::code_areas(), dpi: None };
    let is_seal = |found: &[hybridpost_scan::find::Found]| found.iter().any(|f| Seal::from_qr_text(&f.text).is_ok());
    hybridpost_scan::find::find_codes(image, &options, &is_seal).codes.into_iter().map(|f| f.text).collect()
}

/// QR texts in a PDF: link targets (hybridpost makes the seal a link), then embedded images
/// (a scanned letter is one image per page).
fn pdf_codes(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    // A PDF from anyone: surveyed before lopdf loads it (nesting, chains, memory).
    let admit = hybridpost_pdfguard::Admit::file(bytes, std::time::Duration::from_secs(60));
    let loaded = hybridpost_pdfguard::load(bytes, &hybridpost_pdfguard::Limits::default(), admit)
        .context("the PDF cannot be read")?;
    let doc = &loaded.document;
    anyhow::ensure!(!doc.is_encrypted(), "the PDF is encrypted");
    let mut texts = Vec::new();
    for object in doc.objects.values() {
        collect_uris(object, 0, &mut texts);
    }
    if !texts.is_empty() {
        return Ok(texts);
    }
    for object in doc.objects.values() {
        let Ok(stream) = object.as_stream() else { continue };
        let is_image = stream.dict.get(b"Subtype").and_then(lopdf::Object::as_name).is_ok_and(|n| n == b"Image");
        if !is_image {
            continue;
        }
        let filter = stream.dict.get(b"Filter").and_then(lopdf::Object::as_name).unwrap_or(b"");
        let image = if filter == b"DCTDecode" { decode_image(&stream.content).ok() } else { raw_image(stream) };
        if let Some(image) = image {
            texts.extend(image_codes(&image));
        }
    }
    Ok(texts)
}

/// Seal URLs in `/URI` entries anywhere inside `object` (link actions are nested dictionaries).
fn collect_uris(object: &lopdf::Object, depth: usize, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    let dict = match object {
        lopdf::Object::Dictionary(d) => d,
        lopdf::Object::Stream(s) => &s.dict,
        lopdf::Object::Array(items) => {
            for item in items {
                collect_uris(item, depth + 1, out);
            }
            return;
        }
        _ => return,
    };
    for (key, value) in dict.iter() {
        if key == b"URI"
            && let Ok(uri) = value.as_str()
        {
            let uri = String::from_utf8_lossy(uri).into_owned();
            if Seal::from_qr_text(&uri).is_ok() {
                out.push(uri);
            }
        } else {
            collect_uris(value, depth + 1, out);
        }
    }
}

/// An 8-bit grey or RGB image stream (Flate or uncompressed).
fn raw_image(stream: &lopdf::Stream) -> Option<image::GrayImage> {
    let get = |k: &[u8]| stream.dict.get(k).and_then(lopdf::Object::as_i64).ok();
    let (w, h, bits) =
        (u32::try_from(get(b"Width")?).ok()?, u32::try_from(get(b"Height")?).ok()?, get(b"BitsPerComponent")?);
    if bits != 8 || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return None;
    }
    let data = stream.decompressed_content().ok()?;
    let pixels = u64::from(w) * u64::from(h);
    if data.len() as u64 == pixels {
        image::GrayImage::from_raw(w, h, data)
    } else if data.len() as u64 == pixels * 3 {
        image::RgbImage::from_raw(w, h, data).map(|rgb| image::DynamicImage::ImageRgb8(rgb).into_luma8())
    } else {
        None
    }
}

fn report(verdict: Option<&Verdict>, withdrawals_checked: bool, trust_list: &TrustList) -> serde_json::Value {
    let mut out = json!({
        "trust_list_sequence": trust_list.sequence,
        "withdrawals_checked": withdrawals_checked,
    });
    let (code, reason) = match verdict {
        None => ("no_code", "no QR code was found in the file".to_owned()),
        Some(Verdict::Genuine { payload, key_id, issuer }) => {
            out["signed"] = json!({
                "issuer": issuer,
                "reference": payload.reference.to_human(),
                "issue_date": payload.issue_date.to_string(),
                "document_type": format!("{:?}", payload.document_type).to_lowercase(),
                "reply_by": payload.reply_by.map(|d| d.to_string()),
                "digest": payload.digest.to_hex(),
                "expires": payload.expires.to_string(),
                "key_id": key_id.to_hex(),
            });
            ("genuine", "signed by a trusted key of the issuer".to_owned())
        }
        Some(Verdict::BadSignature) => ("bad_signature", "the signature does not match: the seal was altered".into()),
        Some(Verdict::UnknownKey { key_id }) => ("unknown_key", format!("no trusted key has id {}", key_hex(key_id))),
        Some(Verdict::IssuerMismatch { key_issuer, claimed }) => {
            ("issuer_mismatch", format!("the key seals for {key_issuer}, the seal claims {claimed}"))
        }
        Some(Verdict::KeyNotValidAtIssue { key_id, issue_date }) => {
            ("key_not_valid", format!("key {} was not valid on {issue_date}", key_hex(key_id)))
        }
        Some(Verdict::Expired { expires }) => ("expired", format!("the seal expired after {expires}")),
        Some(Verdict::Withdrawn(why)) => ("withdrawn", format!("the letter was withdrawn: {why:?}")),
        Some(Verdict::Malformed(why)) => ("malformed", format!("the seal cannot be read: {why}")),
        Some(Verdict::NotASeal) => ("not_a_seal", "a QR code was found, but it is not a hybridpost seal".into()),
    };
    out["verdict"] = json!(code);
    out["reason"] = json!(reason);
    out
}

fn key_hex(id: &KeyId) -> String {
    id.to_hex()
}

fn print_human(report: &serde_json::Value) {
    let verdict = report["verdict"].as_str().unwrap_or("");
    let headline = if verdict == "genuine" {
        "GENUINE / ของจริง"
    } else {
        "NOT GENUINE / ไม่ผ่านการตรวจสอบ"
    };
    println!("{headline}: {}", report["reason"].as_str().unwrap_or(""));
    if let Some(signed) = report.get("signed").and_then(|s| s.as_object()) {
        for (k, v) in signed {
            if !v.is_null() {
                println!("  {k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            }
        }
    }
    if report["withdrawals_checked"] != json!(true) {
        println!("  (withdrawals not checked: offline)");
    }
}
