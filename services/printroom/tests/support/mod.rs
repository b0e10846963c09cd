//! What the print-room tests share: a letter layout like the service's, with fixed options.

use hybridpost_compose::ComposeError;
use hybridpost_core::NewLetter;
use hybridpost_printroom::{Composed, PrintItem};
use hybridpost_render::{LetterOptions, Sender, lay_out_letter};

/// Lays out a letter as the service does, with fixed options (no seal). A letter whose reference
/// starts with `BYO` brings a damaged PDF of its own; one that names a document prints it behind
/// its cover, if storage has it.
pub fn compose(item: &PrintItem) -> Result<Composed, ComposeError> {
    let letter: NewLetter = item.letter.letter().map_err(|e| ComposeError::Stored(e.to_string()))?;
    let sender = Sender {
        agency_name: item.inputs.agency.name.clone(),
        agency_address_lines: vec!["ถนนพญาไท แขวงพญาไท".into(), "เขตพญาไท กรุงเทพมหานคร 10400".into()],
    };
    let options = LetterOptions {
        emblem: None,
        issue_date: time::macros::date!(2026 - 11 - 22),
        verification_host: "HP.GO.TH".into(),
        pin: Some("12345678".into()),
        seal: None,
        reply: None,
        seal_url: None,
    };
    let (doc, _) = lay_out_letter(&letter, &sender, &options).map_err(|e| ComposeError::Layout(e.to_string()))?;
    // Letters whose reference says so bring their own PDF, here a damaged one.
    if letter.reference.starts_with("BYO") {
        return Ok(Composed::WithPdfs(doc, vec![b"%PDF-1.7\n1 0 obj << /Type /Catalog".to_vec()]));
    }
    // A letter that is an agency's document prints it behind the cover, if storage has it.
    if letter.document_id.is_some() {
        let pdf = item
            .inputs
            .documents
            .first()
            .cloned()
            .flatten()
            .ok_or(ComposeError::AgencyPdf("it is missing from storage".into()))?;
        return Ok(Composed::WithPdfs(doc, vec![pdf]));
    }
    Ok(Composed::Document(doc))
}
