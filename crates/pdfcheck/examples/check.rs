//! Checks PDF files with the default rules and prints each report as JSON:
//! `cargo run -p hybridpost-pdfcheck --example check -- FILE.pdf…`.

use hybridpost_pdfcheck::{Rules, check};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let first_page_in_window = std::env::var_os("FIRST_PAGE_IN_WINDOW").is_some();
    let rules = Rules { first_page_in_window, ..Rules::default() };
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path)?;
        let started = std::time::Instant::now();
        let report = check(&bytes, &rules);
        let elapsed = started.elapsed();
        println!("{path} ({} ms):\n{}", elapsed.as_millis(), serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
