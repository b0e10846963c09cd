//! `hybridpost render`: one letter from a JSON file to a print-ready PDF, offline: no
//! server, no database.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hybridpost_core::NewLetter;
use hybridpost_render::{LetterOptions, QrModules, ReplySheet, Sender, render_letter};
use hybridpost_seal::{Reference, ReplyCode, ReplyKey};
use time::macros::{format_description, offset};
use time::{Date, OffsetDateTime};

/// Arguments of `hybridpost render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The letter, as the JSON document `POST /v1/letters` takes
    #[arg(value_name = "LETTER.json")]
    pub letter: PathBuf,
    /// Where to write the PDF
    #[arg(short = 'o', long = "output", value_name = "OUT.pdf")]
    pub output: PathBuf,
    /// Date printed on the letter, YYYY-MM-DD [default: today in Thailand]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: Option<Date>,
    /// The sending agency's name, printed at the top right
    #[arg(long, value_name = "NAME", default_value = "")]
    pub agency_name: String,
    /// A line of the sending agency's address (repeat for more lines)
    #[arg(long = "agency-address", value_name = "LINE")]
    pub agency_address: Vec<String>,
    /// Host printed under the verification seal
    #[arg(long, value_name = "HOST", default_value = "hybridpost")]
    pub verification_host: String,
    /// PIN for the digital copy, printed under the seal
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
}

/// Why a letter was not rendered.
#[derive(Debug)]
pub enum RenderFailure {
    /// The letter failed its checks: one message per field.
    Invalid(Vec<String>),
    /// Reading, rendering or writing failed.
    Other(anyhow::Error),
}

fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).map_err(|e| format!("not a YYYY-MM-DD date: {e}"))
}

/// Reads, checks and renders the letter, and writes the PDF.
pub fn run(args: &RenderArgs) -> Result<(), RenderFailure> {
    // Letters are dated in Thai time (UTC+7, no daylight saving).
    let today = args.date.unwrap_or_else(|| OffsetDateTime::now_utc().to_offset(offset!(+7)).date());
    let letter = read_letter(&args.letter).map_err(RenderFailure::Other)?;
    let checked = letter.check(today).map_err(|errors| {
        RenderFailure::Invalid(errors.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect())
    })?;
    let sender = Sender { agency_name: args.agency_name.clone(), agency_address_lines: args.agency_address.clone() };
    let reply = checked.reply_deadline.map(preview_reply_sheet).transpose().map_err(RenderFailure::Other)?;
    let options = LetterOptions {
        emblem: None,
        issue_date: today,
        verification_host: args.verification_host.clone(),
        pin: args.pin.clone(),
        seal: None,
        reply,
        seal_url: None,
    };
    let rendered = render_letter(&checked.letter, &sender, &options)
        .with_context(|| format!("cannot render {}", args.letter.display()))
        .map_err(RenderFailure::Other)?;
    std::fs::write(&args.output, &rendered.pdf)
        .with_context(|| format!("cannot write {}", args.output.display()))
        .map_err(RenderFailure::Other)?;
    Ok(())
}

/// A one-page reply sheet for a preview: its codes are made under a throwaway secret for a
/// throwaway reference, so they look real but match no letter.
fn preview_reply_sheet(deadline: Date) -> anyhow::Result<ReplySheet> {
    let reference = Reference::generate();
    let code = ReplyCode::new(reference.clone(), 1, 1).context("reply code")?;
    let matrix = code.qr_matrix(&ReplyKey::generate()).context("reply code QR")?;
    let modules = QrModules::new(matrix.width, matrix.modules).context("reply code QR")?;
    Ok(ReplySheet { pages: vec![modules], reference_digits: reference.to_digits(), deadline })
}

fn read_letter(path: &Path) -> anyhow::Result<NewLetter> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).with_context(|| format!("{} is not a letter", path.display()))
}
