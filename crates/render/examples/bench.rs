//! Rendering speed: renders the one-page sample letter N times (default 1,000), one after
//! another on one thread, and prints pages per second. Run in release mode:
//! `cargo run --release --example bench -- 1000`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hybridpost_render::{Document, PageSize};
use time::macros::date;

#[path = "../tests/support/sample_letter.rs"]
#[expect(dead_code, reason = "the benchmark only composes the letter; the tests also read its texts")]
mod sample_letter;

fn main() -> ExitCode {
    let count: u32 = match std::env::args().nth(1).map(|n| n.parse()) {
        None => 1000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: bench [number of letters > 0]");
            return ExitCode::FAILURE;
        }
    };
    let (mut layout, mut write, mut bytes) = (Duration::ZERO, Duration::ZERO, 0usize);
    let start = Instant::now();
    for _ in 0..count {
        let t0 = Instant::now();
        let mut doc = Document::new(PageSize::A4);
        if let Err(e) = sample_letter::compose(&mut doc, date!(2026 - 11 - 22)) {
            eprintln!("layout failed: {e}");
            return ExitCode::FAILURE;
        }
        let t1 = Instant::now();
        match doc.to_pdf() {
            Ok(pdf) => bytes += pdf.len(),
            Err(e) => {
                eprintln!("writing failed: {e}");
                return ExitCode::FAILURE;
            }
        }
        layout += t1 - t0;
        write += t1.elapsed();
    }
    let total = start.elapsed().as_secs_f64();
    let per_page = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(count);
    println!(
        "{count} one-page letters in {total:.2} s: {:.1} pages/s ({:.2} ms/page: layout {:.2} ms, PDF {:.2} ms), {} bytes/page",
        f64::from(count) / total,
        total * 1000.0 / f64::from(count),
        per_page(layout),
        per_page(write),
        bytes / count as usize,
    );
    ExitCode::SUCCESS
}
