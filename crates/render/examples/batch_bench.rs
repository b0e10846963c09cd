//! Print batch speed: lays out N one-page official letters to varied recipients (default
//! 1,000), writes them as one print batch to a file, and prints pages per second, peak
//! memory and the file size. Run in release mode:
//!
//! ```text
//! cargo run --release -p hybridpost-render --example batch_bench -- 1000
//! cargo run --release -p hybridpost-render --example batch_bench -- 10000 --threads 2
//! ```
//!
//! Options: `--threads N` lays letters out and typesets their pages on N worker threads
//! (the batch is still written in order, byte for byte as with one thread);
//! `--level L` sets the zlib level of content streams; `--out FILE` keeps the batch
//! (default: a file in the temp directory, removed afterwards).

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hybridpost_render::{BatchInfo, BatchLetter, BatchWriter, DEFAULT_COMPRESSION, PreparedDocument, lay_out_letter};

#[path = "../tests/support/batch_letters.rs"]
mod batch_letters;

struct Args {
    count: usize,
    threads: usize,
    level: u32,
    out: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { count: 1000, threads: 1, level: DEFAULT_COMPRESSION, out: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--threads" => args.threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--level" => args.level = value("--level")?.parse().map_err(|e| format!("--level: {e}"))?,
            "--out" => args.out = Some(value("--out")?),
            n => args.count = n.parse().map_err(|e| format!("number of letters {n:?}: {e}"))?,
        }
    }
    if args.count == 0 || args.threads == 0 {
        return Err("the number of letters and threads must be positive".to_string());
    }
    Ok(args)
}

/// Peak resident memory of this process (VmHWM), in kB.
fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Lays out and typesets letter `n`.
fn prepare(n: usize, level: u32) -> Result<(BatchLetter, PreparedDocument), String> {
    let letter = batch_letters::letter(n, 0);
    let (doc, _) = lay_out_letter(&letter, &batch_letters::sender(), &batch_letters::options())
        .map_err(|e| format!("letter {n}: {e}"))?;
    let prepared = BatchWriter::<File>::prepare(&doc, level);
    Ok((
        BatchLetter { letter_id: format!("L-{n:06}"), postcode: batch_letters::postcode(&letter), urgency: None },
        prepared,
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\nusage: batch_bench [letters] [--threads N] [--level 0-9] [--out FILE]");
            return ExitCode::FAILURE;
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let path = args.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("batch-bench-{}.pdf", std::process::id())).display().to_string()
    });
    let file = File::create(&path).map_err(|e| format!("cannot create {path}: {e}"))?;
    let info = BatchInfo {
        batch_id: format!("BENCH-{}", args.count),
        site: "ศูนย์ไปรษณีย์หลักสี่ 10210".to_string(),
        created_at: "22 พ.ย. 2569 08:00".to_string(),
    };
    let mut batch = BatchWriter::new(BufWriter::with_capacity(256 * 1024, file), info).map_err(|e| e.to_string())?;
    batch.set_compression(args.level);

    let start = Instant::now();
    let mut append = Duration::ZERO;
    let mut add = |batch: &mut BatchWriter<'_, _>, (letter, prepared): (BatchLetter, PreparedDocument)| {
        let t = Instant::now();
        let mut pages = batch.begin_letter(letter);
        pages.append_prepared(&prepared).and_then(|_| pages.commit()).map_err(|e| e.to_string())?;
        append += t.elapsed();
        Ok::<(), String>(())
    };
    if args.threads == 1 {
        // One thread means one: everything on this thread, for the one-core figure.
        for n in 0..args.count {
            add(&mut batch, prepare(n, args.level)?)?;
        }
    } else {
        // Letters are laid out and typeset on the worker threads and written in their order
        // (hybridpost_ordered::map_in_order), so the bytes are the same on any number of
        // threads; a few letters at most are out at once, so memory does not grow with the
        // batch.
        let mut failed = None;
        hybridpost_ordered::map_in_order(
            0..args.count,
            hybridpost_ordered::Bounds { threads: args.threads, in_flight: 4 * args.threads },
            |n| prepare(n, args.level),
            |prepared| match prepared.and_then(|p| add(&mut batch, p)) {
                Ok(()) => std::ops::ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    std::ops::ControlFlow::Break(())
                }
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
    }
    let (out, manifest) = batch.finish().map_err(|e| e.to_string())?;
    drop(out);
    let total = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    let letter_pages: usize = manifest.letters.iter().map(|e| e.pages).sum();
    println!(
        "{} letters, {letter_pages} letter pages ({} pages with cover and blank backs) in {total:.2} s on {} thread(s): \
         {:.0} letter pages/s; writing {:.3} ms/letter; peak memory {} MB; {:.1} MB ({} bytes/letter) at zlib level {}",
        manifest.letters.len(),
        manifest.pages,
        args.threads,
        letter_pages as f64 / total,
        append.as_secs_f64() * 1000.0 / args.count as f64,
        peak_memory_kb().map_or("?".to_string(), |kb| (kb / 1024).to_string()),
        size as f64 / 1e6,
        size / args.count as u64,
        args.level,
    );
    if args.out.is_none() {
        std::fs::remove_file(&path).map_err(|e| e.to_string())?;
    } else {
        println!("wrote {path}");
    }
    Ok(())
}
