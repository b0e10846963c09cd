//! Reads scan files as the intake does and prints, per page, its size, resolution, stored
//! form and decode time: `cargo run --release -p hybridpost-scan --example read_scan -- FILE...`

use std::time::Instant;

use hybridpost_scan::input::{Limits, open};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: read_scan FILE...");
        std::process::exit(2);
    }
    let limits = Limits::default();
    let mut failed = false;
    for path in files {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        let started = Instant::now();
        let mut reader = match open(&path, bytes, &limits) {
            Ok(r) => r,
            Err(e) => {
                println!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        println!("{path}: {} pages, opened in {:.1} ms", reader.page_count(), ms(started));
        loop {
            let t = Instant::now();
            let Some(page) = reader.next() else { break };
            let took = ms(t);
            match page {
                Ok(p) => println!(
                    "  page {:>3}{}: {}x{} px, {} dpi, stored {} {} bytes, decoded in {took:.1} ms",
                    p.number,
                    p.entry.map(|e| format!(" ({e})")).unwrap_or_default(),
                    p.image.width(),
                    p.image.height(),
                    p.dpi.map_or("?".to_owned(), |d| d.to_string()),
                    p.stored.kind(),
                    p.stored.bytes().len(),
                ),
                Err(e) => {
                    failed = true;
                    println!("  {e}");
                }
            }
        }
        println!("  total {:.1} ms", ms(started));
    }
    if failed {
        std::process::exit(1);
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
