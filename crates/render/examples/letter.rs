//! Renders the one-page sample letter to a PDF file: `cargo run --example letter -- out.pdf`.

use std::process::ExitCode;

use hybridpost_render::{Document, PageSize};
use time::macros::date;

#[path = "../tests/support/sample_letter.rs"]
#[expect(dead_code, reason = "the example only composes the letter; the tests also read its texts")]
mod sample_letter;

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "out.pdf".to_string());
    let mut doc = Document::new(PageSize::A4);
    doc.set_title("หนังสือแจ้งการจัดส่งเอกสารทางไปรษณีย์");
    let result = sample_letter::compose(&mut doc, date!(2026 - 11 - 22)).and_then(|()| doc.to_pdf());
    match result.map(|pdf| std::fs::write(&path, pdf).map_err(|e| e.to_string())) {
        Ok(Ok(())) => {
            println!("wrote {path}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("cannot write {path}: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot render the letter: {e}");
            ExitCode::FAILURE
        }
    }
}
