//! Evaluates the answer reader on filled-in reply sheets:
//! `cargo run --release -p hybridpost-scan --example answer_eval -- [--sheets N] [--threads T]
//! [--seed S] [--json OUT] [--failures DIR] [--show-review]`.
//!
//! Renders a few real reply pages, fills in `N` sheets (2000 unless told) with every kind of
//! mark (tick, cross, filled box, faint pencil, a corrected choice, none, two boxes, a stamp over
//! the boxes), scans them with the code corpus's damage (150 to 300 dpi, grey paper and faded
//! toner, skew, blur, noise, upside down, JPEG), and reads each as the intake does. Prints, per
//! kind of mark and in all: the share read right, the share sent to review, and the number of
//! certain answers that differ from what was marked, which must be zero (the exit code is 1
//! otherwise). `--failures DIR` writes every wrong sheet as PNG for a look; `--show-review` prints
//! the measures of each plain tick, cross, filled box or blank sheet sent to review.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[path = "support/pages.rs"]
#[expect(dead_code, reason = "shared with the tests and the corpus generator")]
mod pages;

#[path = "support/filled.rs"]
mod filled;

use filled::{Kind, Verdict};

struct Args {
    sheets: usize,
    threads: usize,
    seed: u64,
    json: Option<PathBuf>,
    failures: Option<PathBuf>,
    show_review: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { sheets: 2000, threads: 2, seed: 21, json: None, failures: None, show_review: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--sheets" => a.sheets = value("--sheets")?.parse().map_err(|e| format!("--sheets: {e}"))?,
            "--threads" => a.threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--seed" => a.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--json" => a.json = Some(PathBuf::from(value("--json")?)),
            "--failures" => a.failures = Some(PathBuf::from(value("--failures")?)),
            "--show-review" => a.show_review = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.sheets == 0 || a.threads == 0 {
        return Err("--sheets and --threads must be at least 1".into());
    }
    Ok(a)
}

#[derive(Default, Clone, serde::Serialize)]
struct Tally {
    sheets: usize,
    right: usize,
    review: usize,
    wrong: usize,
    reasons: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, verdict: Verdict, reason: Option<&'static str>) {
        self.sheets += 1;
        match verdict {
            Verdict::Right => self.right += 1,
            Verdict::Review => self.review += 1,
            Verdict::Wrong => self.wrong += 1,
        }
        if let Some(reason) = reason {
            *self.reasons.entry(reason.to_owned()).or_default() += 1;
        }
    }

    fn line(&self, name: &str) -> String {
        let share = |n: usize| 100.0 * n as f64 / self.sheets.max(1) as f64;
        format!(
            "{name:<14} {:>6} {:>8.1}% {:>8.1}% {:>6}   {}",
            self.sheets,
            share(self.right),
            share(self.review),
            self.wrong,
            self.reasons.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        )
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("answer_eval: {e}");
            return ExitCode::from(2);
        }
    };
    let work = std::env::temp_dir().join(format!("hybridpost-answer-eval-{}", std::process::id()));
    let blanks = match filled::blanks(4, &work) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("answer_eval: cannot render the reply sheets: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = std::fs::remove_dir_all(&work);
    if let Some(dir) = &args.failures
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("answer_eval: cannot make {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let tallies: Mutex<BTreeMap<Kind, Tally>> = Mutex::new(BTreeMap::new());
    let wrong_sheets: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let read_time = Mutex::new(0f64);
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.sheets {
                        break;
                    }
                    let blank = &blanks[i % blanks.len()];
                    let sheet = filled::fill_and_scan(blank, i, args.seed);
                    let t = Instant::now();
                    let reading = filled::read(blank, &sheet);
                    *read_time.lock().unwrap_or_else(|e| e.into_inner()) += t.elapsed().as_secs_f64();
                    let verdict = filled::verdict(&sheet, &reading);
                    let reason = reading.outcome.err().map(|u| u.code());
                    tallies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(sheet.kind)
                        .or_default()
                        .add(verdict, reason);
                    let clear_mark = matches!(sheet.kind, Kind::Tick | Kind::Cross | Kind::Filled | Kind::None);
                    if args.show_review && verdict == Verdict::Review && clear_mark {
                        println!(
                            "review sheet {i}: {} meant {:?}: {:?} {:?}; {}",
                            sheet.kind.name(),
                            sheet.meant,
                            reading.outcome,
                            reading.boxes.iter().map(|b| (b.ink, b.any_mark, b.state.as_str())).collect::<Vec<_>>(),
                            sheet.damage.join(", ")
                        );
                        if let Some(dir) = &args.failures {
                            let _ = sheet.scan.save(dir.join(format!("review-{i}.png")));
                        }
                    }
                    if verdict == Verdict::Wrong {
                        let line = format!(
                            "sheet {i}: {} meant {:?}, read {:?} (confidence {:.2}, boxes {:?}; {})",
                            sheet.kind.name(),
                            sheet.meant,
                            reading.outcome,
                            reading.confidence,
                            reading.boxes,
                            sheet.damage.join(", ")
                        );
                        if let Some(dir) = &args.failures {
                            let _ = sheet.scan.save(dir.join(format!("sheet-{i}.png")));
                        }
                        wrong_sheets.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                    }
                }
            });
        }
    });
    let tallies = tallies.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut all = Tally::default();
    println!("{:<14} {:>6} {:>9} {:>9} {:>6}   reasons for review", "mark", "sheets", "right", "review", "WRONG");
    for (kind, tally) in &tallies {
        println!("{}", tally.line(kind.name()));
        all.sheets += tally.sheets;
        all.right += tally.right;
        all.review += tally.review;
        all.wrong += tally.wrong;
        for (k, v) in &tally.reasons {
            *all.reasons.entry(k.clone()).or_default() += v;
        }
    }
    println!("{}", all.line("all"));
    let read_seconds = read_time.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "{} sheets in {:.1} s on {} threads; reading (codes and boxes) {:.1} ms a sheet",
        all.sheets,
        started.elapsed().as_secs_f64(),
        args.threads,
        1000.0 * read_seconds / all.sheets.max(1) as f64
    );
    let wrong = wrong_sheets.into_inner().unwrap_or_else(|e| e.into_inner());
    for line in &wrong {
        println!("WRONG {line}");
    }
    if let Some(path) = &args.json {
        let by_kind: BTreeMap<&str, &Tally> = tallies.iter().map(|(k, t)| (k.name(), t)).collect();
        let json = serde_json::json!({"sheets": args.sheets, "seed": args.seed, "all": all, "by_mark": by_kind});
        if let Err(e) = std::fs::write(path, serde_json::to_vec_pretty(&json).unwrap_or_default()) {
            eprintln!("answer_eval: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if wrong.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
