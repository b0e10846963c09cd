//! Checks one file from N threads at once, as N agencies uploading together would, and
//! prints each report's codes; with `/usr/bin/time -v` it measures what concurrent checks
//! take (see hybridpost-pdfguard's `pdf_memory` example for the hostile files):
//! `cargo run --release -p hybridpost-pdfcheck --example check_many -- 6 FILE.pdf`.

use hybridpost_pdfcheck::{Rules, check};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(n), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: check_many N FILE.pdf".into());
    };
    let n: usize = n.parse()?;
    let bytes = std::sync::Arc::new(std::fs::read(&path)?);
    let rules = Rules { max_bytes: 20 * 1024 * 1024, ..Rules::default() };
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (bytes, rules) = (bytes.clone(), rules.clone());
            std::thread::spawn(move || check(&bytes, &rules))
        })
        .collect();
    for thread in threads {
        let report = thread.join().map_err(|_| "a check panicked")?;
        let codes: Vec<&str> = report.problems.iter().map(|p| p.code.as_str()).collect();
        println!("{} pages, problems {codes:?}", report.pages);
    }
    eprintln!("{n} checks in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
