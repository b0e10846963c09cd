//! Renders a letter file (as `POST /v1/letters` takes it) with a real verification seal,
//! signed by a key generated for the run, and real reply codes:
//! `cargo run --example sealed_letter -- fixtures/letters/official.json out.pdf`.
//! The pictures in `docs/` are made with it.

use std::process::ExitCode;

use hybridpost_core::NewLetter;
use hybridpost_core::letter::ReplySpec;
use hybridpost_render::{LetterOptions, Sender, render_letter};
use time::macros::{date, format_description};

#[path = "../tests/support/codes.rs"]
#[expect(dead_code, reason = "the example uses the seal and the reply sheet, not the test helpers")]
mod codes;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let input = args.next().unwrap_or_else(|| "fixtures/letters/official.json".to_string());
    let output = args.next().unwrap_or_else(|| "out.pdf".to_string());
    match run(&input, &output) {
        Ok(pages) => {
            println!("wrote {output}: {pages} pages");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot render {input}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: &str, output: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let letter: NewLetter = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let deadline = match &letter.reply {
        Some(ReplySpec::Request(r)) => {
            Some(time::Date::parse(&r.deadline, format_description!("[year]-[month]-[day]"))?)
        }
        _ => None,
    };
    let sender = Sender {
        agency_name: "สำนักงานเขตพญาไท".to_string(),
        agency_address_lines: vec!["๑๒ ถนนพหลโยธิน".to_string(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".to_string()],
    };
    let seal = codes::seal_text();
    let options = LetterOptions {
        emblem: None,
        issue_date: date!(2026 - 11 - 22),
        verification_host: codes::HOST.to_lowercase(),
        pin: Some("482913".to_string()),
        seal: Some(codes::seal_modules(&seal)),
        reply: deadline.map(|d| codes::reply_sheet(1, d)),
        seal_url: None,
    };
    let rendered = render_letter(&letter, &sender, &options)?;
    std::fs::write(output, &rendered.pdf)?;
    Ok(rendered.pages)
}
