//! Hostile (and ordinary) PDFs written to a folder, and what loading one takes: the
//! survey's estimate against the peak resident memory of this process (VmHWM).
//!
//! ```sh
//! cargo run --release -p hybridpost-pdfguard --example pdf_memory -- write /tmp/hostile
//! cargo run --release -p hybridpost-pdfguard --example pdf_memory -- lopdf /tmp/hostile/many-small-arrays.pdf
//! cargo run --release -p hybridpost-pdfguard --example pdf_memory -- guard /tmp/hostile/many-small-arrays.pdf
//! ```
//!
//! `lopdf` loads the file with lopdf alone (as the service did before the guard) and
//! prints the survey's estimate without limits beside the measured peak; `guard` loads it
//! through `hybridpost_pdfguard::load` with the default limits.

use std::time::Duration;

use hybridpost_pdfguard::hostile::{self, Nest};
use hybridpost_pdfguard::{Admit, Limits, load, survey};

fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// How a file is made.
type Make = Box<dyn Fn() -> Vec<u8>>;

/// The files: what they are called and how they are made.
fn files() -> Vec<(&'static str, Make)> {
    vec![
        ("many-small-arrays", Box::new(|| hostile::many_small_arrays(60_000, 120))),
        ("big-content-32mib", Box::new(|| hostile::big_content(32 << 20))),
        ("big-content-64mib", Box::new(|| hostile::big_content(64 << 20))),
        ("small-arrays-near-the-limit", Box::new(|| hostile::many_small_arrays(10_000, 120))),
        ("small-arrays-within-limits", Box::new(|| hostile::many_small_arrays(6_000, 120))),
        ("objects-in-object-streams", Box::new(|| hostile::many_objects_in_streams(400_000))),
        ("objects-in-object-streams-within-limits", Box::new(|| hostile::many_objects_in_streams(60_000))),
        ("overlapping-entries", Box::new(|| hostile::overlapping_entries(100_000, 10_000))),
        ("zero-width-xref", Box::new(|| hostile::zero_width_xref(50_000_000))),
        ("repeated-copies", Box::new(|| hostile::repeated_copies(2_000, 1 << 20))),
        ("length-chain", Box::new(|| hostile::length_chain(30_000))),
        ("nested-body-30000", Box::new(|| hostile::nested_body(Nest::Arrays, 30_000))),
        ("nested-content-30000", Box::new(|| hostile::nested_content(Nest::Arrays, 30_000))),
        ("nested-content-dicts-30000", Box::new(|| hostile::nested_content(Nest::Dictionaries, 30_000))),
        ("nested-object-stream-30000", Box::new(|| hostile::nested_object_stream(Nest::Arrays, 30_000))),
        ("self-measuring-object-stream", Box::new(hostile::self_measuring_object_stream)),
    ]
}

fn unlimited() -> Limits {
    Limits {
        max_depth: 96,
        max_length_hops: usize::MAX,
        max_xref_entries: u64::MAX,
        max_objects: u64::MAX,
        max_decoded_stream_bytes: 64 << 20,
        max_memory_bytes: u64::MAX,
        max_work_bytes: u64::MAX,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["write", dir] => {
            std::fs::create_dir_all(dir).expect("the folder can be made");
            for (name, make) in files() {
                let pdf = make();
                let path = std::path::Path::new(dir).join(format!("{name}.pdf"));
                std::fs::write(&path, &pdf).expect("the file can be written");
                println!("{} {}", path.display(), hostile::mib(pdf.len() as u64));
            }
        }
        ["lopdf", file] => {
            let pdf = std::fs::read(file).expect("the file can be read");
            let estimate = survey(&pdf, &unlimited());
            let before = peak_kib();
            let doc = lopdf::Document::load_mem(&pdf);
            let after = peak_kib();
            println!(
                "lopdf alone: {} objects; peak {} MiB (+{} MiB for the load); survey estimate without limits: {}",
                doc.map(|d| d.objects.len().to_string()).unwrap_or_else(|e| format!("error ({e})")),
                after / 1024,
                after.saturating_sub(before) / 1024,
                match estimate {
                    Ok(s) => format!("{} ({} objects)", hostile::mib(s.memory_bytes), s.objects),
                    Err(e) => e.to_string(),
                },
            );
        }
        ["guard", file] => {
            let pdf = std::fs::read(file).expect("the file can be read");
            let before = peak_kib();
            let loaded = load(&pdf, &Limits::default(), Admit::file(&pdf, Duration::from_secs(1)));
            let after = peak_kib();
            match loaded {
                Ok(l) => println!(
                    "guarded: loaded, {} objects; estimate {}; peak {} MiB (+{} MiB for the load)",
                    l.objects.len(),
                    hostile::mib(l.survey.memory_bytes),
                    after / 1024,
                    after.saturating_sub(before) / 1024
                ),
                Err(e) => println!("guarded: refused: {e}; peak {} MiB", after / 1024),
            }
        }
        _ => eprintln!("usage: pdf_memory write DIR | lopdf FILE | guard FILE"),
    }
}
