//! Evaluates the code finder on a corpus made by `scan_corpus`:
//! `cargo run --release -p hybridpost-scan --example scan_eval -- CORPUS_DIR [--threads N]
//! [--dpi D] [--budget-ms MS] [--no-dpi] [--json OUT] [--failures]`.
//!
//! Every page goes through `find_codes` with the reply code areas and the seal area, a budget
//! (2 s unless told) and "enough" = a reply code whose MAC checks or a genuine seal. What was
//! read is classified as the intake would: reply codes through `ReplyCode::parse` under the
//! corpus key, seals through `Seal::verify` against the corpus key in a trust list. A page is
//! matched (the right letter, and for reply pages the right page; for a page without a code,
//! nothing read and nothing doubtful), to review (nothing accepted read, and a symbol located
//! but unread or the budget run out), or WRONG (a code of another letter or page, a code on a
//! page without one, or a page with a code on which nothing was read and nothing looked like a
//! symbol: the intake would attach it to the page before it). Prints shares overall, per resolution, per degradation and per kind, which step read
//! the code, time per page, pages per second per thread; writes the same as JSON
//! (`CORPUS_DIR/eval.json` unless told).
//!
//! Timing: the figure of merit is decoding only (`find_codes`); loading the file is timed
//! separately and reported beside it, and the time of each pipeline step is summed over the
//! pages that ran it (where the time goes).
//!
//! Phone photos (`scan_corpus --photos`: `"photo": true`, `"dpi": 0`) are searched without a
//! resolution, as the intake searches a photo whose file gives none or a phone's 72 dpi; they
//! are grouped as `photo` instead of by resolution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hybridpost_scan::find::{FindOptions, Found, Step, find_codes};
use hybridpost_seal::{
    PublicKey, ReplyCode, ReplyKey, Seal, TrustList, TrustedKey, Validity, Verdict, VerifyContext, no_withdrawals,
};
use serde::{Deserialize, Serialize};

#[path = "support/pages.rs"]
#[expect(dead_code, reason = "shared with the tests and the corpus generator")]
mod pages;

#[derive(Debug, Deserialize)]
struct Expected {
    file: String,
    kind: String,
    reference: Option<String>,
    page: Option<u8>,
    dpi: u32,
    degradations: Vec<String>,
    quarter_turns: u8,
    /// A page of an agency's own form returned as the reply sheet.
    #[serde(default)]
    form: bool,
    /// A reply page 1 filled in with a mark (`tick`, `cross`, `fill`, `two`, `none`).
    #[serde(default)]
    filled: Option<String>,
    /// A phone photo (its resolution unknown: `dpi` is 0).
    #[serde(default)]
    photo: bool,
}

#[derive(Debug, Deserialize)]
struct CorpusInfo {
    seal_public_key_pem: String,
    reply_key_hex: String,
}

struct Args {
    corpus: PathBuf,
    threads: usize,
    dpi: Option<u32>,
    budget: Duration,
    give_dpi: bool,
    json: Option<PathBuf>,
    failures: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut a = Args {
        corpus: PathBuf::new(),
        threads: 1,
        dpi: None,
        budget: Duration::from_secs(2),
        give_dpi: true,
        json: None,
        failures: false,
    };
    let mut corpus = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--threads" => a.threads = value("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--dpi" => a.dpi = Some(value("--dpi")?.parse().map_err(|e| format!("--dpi: {e}"))?),
            "--budget-ms" => {
                a.budget =
                    Duration::from_millis(value("--budget-ms")?.parse().map_err(|e| format!("--budget-ms: {e}"))?)
            }
            "--no-dpi" => a.give_dpi = false,
            "--json" => a.json = Some(PathBuf::from(value("--json")?)),
            "--failures" => a.failures = true,
            _ if corpus.is_none() && !arg.starts_with("--") => corpus = Some(PathBuf::from(arg)),
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    a.corpus = corpus.ok_or(
        "usage: scan_eval CORPUS_DIR [--threads N] [--dpi D] [--budget-ms MS] [--no-dpi] [--json OUT] [--failures]",
    )?;
    a.threads = a.threads.max(1);
    Ok(a)
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scan_eval: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Matched,
    Review,
    Wrong,
}

/// The result of one page.
#[derive(Debug)]
struct PageResult {
    outcome: Outcome,
    step: Option<Step>,
    find: Duration,
    load: Duration,
    turns_wrong: bool,
    timed_out: bool,
    unreadable: usize,
    /// Time in each step.
    steps: Vec<(Step, Duration)>,
}

/// Counts for one group of pages.
#[derive(Debug, Default, Serialize)]
struct Tally {
    pages: usize,
    matched: usize,
    review: usize,
    wrong: usize,
    turns_wrong: usize,
    timed_out: usize,
}

impl Tally {
    fn add(&mut self, r: &PageResult) {
        self.pages += 1;
        match r.outcome {
            Outcome::Matched => self.matched += 1,
            Outcome::Review => self.review += 1,
            Outcome::Wrong => self.wrong += 1,
        }
        self.turns_wrong += usize::from(r.turns_wrong);
        self.timed_out += usize::from(r.timed_out);
    }

    fn share(&self, n: usize) -> f64 {
        if self.pages == 0 { 0.0 } else { 100.0 * n as f64 / self.pages as f64 }
    }

    fn row(&self, name: &str) -> String {
        format!(
            "{name:<22} {:>6} {:>8.2}% {:>8.2}% {:>6} {:>6} {:>6}",
            self.pages,
            self.share(self.matched),
            self.share(self.review),
            self.wrong,
            self.turns_wrong,
            self.timed_out
        )
    }
}

struct Checker {
    reply_key: ReplyKey,
    trust: TrustList,
}

/// What a page's codes say, once checked: the letters (hex reference) and reply pages.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    Reply { reference: String, page: u8 },
    Seal { reference: String },
}

impl Checker {
    fn load(corpus: &Path) -> Result<Self, String> {
        let path = corpus.join("corpus.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let info: CorpusInfo = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let secret: Vec<u8> = (0..info.reply_key_hex.len() / 2)
            .map(|i| u8::from_str_radix(&info.reply_key_hex[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("reply key: {e}"))?;
        let reply_key = ReplyKey::from_bytes(&secret).ok_or("reply key too short")?;
        let public_key = PublicKey::from_spki_pem(&info.seal_public_key_pem).map_err(|e| format!("seal key: {e}"))?;
        let key = pages::signing_key();
        let validity: Validity = key.validity();
        let trusted = TrustedKey { public_key, issuer: pages::ISSUER.to_string(), validity };
        let trust = TrustList { sequence: 1, issued: pages::verify_date(), next_update: None, keys: vec![trusted] };
        Ok(Checker { reply_key, trust })
    }

    fn readings(&self, codes: &[Found]) -> Vec<Reading> {
        let ctx = VerifyContext { trust_list: &self.trust, today: pages::verify_date(), withdrawn: &no_withdrawals };
        codes
            .iter()
            .filter_map(|c| {
                if let Ok(code) = ReplyCode::parse(&c.text, &self.reply_key) {
                    return Some(Reading::Reply { reference: hex(code.reference().as_bytes()), page: code.page() });
                }
                match Seal::from_qr_text(&c.text).ok()?.verify(&ctx) {
                    Verdict::Genuine { payload, .. } => {
                        Some(Reading::Seal { reference: hex(payload.reference.as_bytes()) })
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn enough(&self, codes: &[Found]) -> bool {
        !self.readings(codes).is_empty()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The outcome as the intake would have it. A page on which nothing was read goes to review when
/// the search saw a symbol it could not read or ran out of time (`doubtful`); otherwise it
/// passes for a page without a code, which the intake attaches to the page before it — right
/// for a page without a code, a match to the wrong letter for a page that has one.
fn classify(expected: &Expected, readings: &[Reading], doubtful: bool) -> Outcome {
    let reference = expected.reference.clone().unwrap_or_default();
    let right = |r: &Reading| match (expected.kind.as_str(), r) {
        ("reply", Reading::Reply { reference: got, page }) => *got == reference && Some(*page) == expected.page,
        ("seal", Reading::Seal { reference: got }) => *got == reference,
        // A seal read on a reply page of the same letter, or the reverse, is not this page's
        // code: it is wrong only if it names another letter.
        ("reply", Reading::Seal { reference: got }) | ("seal", Reading::Reply { reference: got, .. }) => {
            *got == reference
        }
        _ => false,
    };
    if readings.iter().any(|r| !right(r)) {
        return Outcome::Wrong;
    }
    if readings.is_empty() {
        return match (expected.kind.as_str(), doubtful) {
            (_, true) => Outcome::Review,
            ("none", false) => Outcome::Matched,
            (_, false) => Outcome::Wrong,
        };
    }
    let matched = match expected.kind.as_str() {
        "none" => readings.is_empty(),
        "reply" => readings.iter().any(|r| matches!(r, Reading::Reply { .. })),
        _ => readings.iter().any(|r| matches!(r, Reading::Seal { .. })),
    };
    if matched { Outcome::Matched } else { Outcome::Review }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(args: &Args) -> Result<(), String> {
    let checker = Checker::load(&args.corpus)?;
    let path = args.corpus.join("expected.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let expected: Vec<Expected> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Expected>(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|e| args.dpi.is_none_or(|d| d == e.dpi))
        .collect();
    if expected.is_empty() {
        return Err("no pages to evaluate".into());
    }
    let areas = pages::known_areas();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PageResult>>> = Mutex::new((0..expected.len()).map(|_| None).collect());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let wall = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(e) = expected.get(i) else { break };
                    let loaded = Instant::now();
                    let image = match image::open(args.corpus.join(&e.file)) {
                        Ok(img) => img.to_luma8(),
                        Err(err) => {
                            *failure.lock().expect("not poisoned") = Some(format!("{}: {err}", e.file));
                            break;
                        }
                    };
                    let load = loaded.elapsed();
                    let options = FindOptions {
                        budget: args.budget,
                        areas: areas.clone(),
                        dpi: (args.give_dpi && !e.photo).then_some(e.dpi as f32),
                    };
                    let found = find_codes(&image, &options, &|codes| checker.enough(codes));
                    let readings = checker.readings(&found.codes);
                    let outcome = classify(e, &readings, found.unreadable > 0 || found.timed_out);
                    let turns_wrong =
                        outcome == Outcome::Matched && e.kind != "none" && found.quarter_turns != Some(e.quarter_turns);
                    let result = PageResult {
                        outcome,
                        step: found.codes.first().map(|c| c.step),
                        find: found.elapsed,
                        load,
                        turns_wrong,
                        timed_out: found.timed_out,
                        unreadable: found.unreadable,
                        steps: found.steps.iter().map(|s| (s.step, s.duration)).collect(),
                    };
                    if args.failures && (outcome != Outcome::Matched || turns_wrong) {
                        println!(
                            "{:?} {} kind={} degradations={:?} read={:?} turns={:?}/{} unreadable={} steps={}",
                            outcome,
                            e.file,
                            e.kind,
                            e.degradations,
                            readings,
                            found.quarter_turns,
                            e.quarter_turns,
                            found.unreadable,
                            found
                                .steps
                                .iter()
                                .map(|s| format!("{}:{:.0}ms", s.step.as_str(), ms(s.duration)))
                                .collect::<Vec<_>>()
                                .join(",")
                        );
                    }
                    results.lock().expect("not poisoned")[i] = Some(result);
                }
            });
        }
    });
    let wall = wall.elapsed();
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let results: Vec<PageResult> = results.into_inner().expect("not poisoned").into_iter().flatten().collect();

    let mut overall = Tally::default();
    let mut by_dpi: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_degradation: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_step: BTreeMap<String, usize> = BTreeMap::new();
    for (e, r) in expected.iter().zip(&results) {
        overall.add(r);
        by_dpi.entry(if e.photo { "photo".to_string() } else { format!("{} dpi", e.dpi) }).or_default().add(r);
        by_kind.entry(e.kind.clone()).or_default().add(r);
        if e.form {
            by_kind.entry(format!("{} (agency form)", e.kind)).or_default().add(r);
        }
        if let Some(mark) = &e.filled {
            by_kind.entry(format!("{} page 1 filled: {mark}", e.kind)).or_default().add(r);
        }
        for d in &e.degradations {
            by_degradation.entry(d.clone()).or_default().add(r);
        }
        if e.degradations.len() > 1 {
            by_degradation.entry("(combined)".to_string()).or_default().add(r);
        }
        if r.outcome == Outcome::Matched && e.kind != "none" {
            *by_step.entry(r.step.map_or("none", Step::as_str).to_string()).or_default() += 1;
        }
    }
    // Where decoding time goes, by step: total milliseconds and the pages that ran it.
    let mut by_step_time: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for r in &results {
        for (step, d) in &r.steps {
            let e = by_step_time.entry(step.as_str().to_string()).or_default();
            e.0 += ms(*d);
            e.1 += 1;
        }
    }
    let mut times: Vec<Duration> = results.iter().map(|r| r.find).collect();
    times.sort();
    let find_total: Duration = times.iter().sum();
    let load_total: Duration = results.iter().map(|r| r.load).sum();
    let per_core = results.len() as f64 / find_total.as_secs_f64().max(1e-9);
    let per_core_with_load = results.len() as f64 / (find_total + load_total).as_secs_f64().max(1e-9);
    let unreadable_pages = results.iter().filter(|r| r.unreadable > 0).count();

    let header = format!(
        "{:<22} {:>6} {:>9} {:>9} {:>6} {:>6} {:>6}",
        "group", "pages", "matched", "review", "WRONG", "turns≠", "t/o"
    );
    println!(
        "corpus {} ({} pages, {} thread(s), budget {} ms, dpi {})",
        args.corpus.display(),
        results.len(),
        args.threads,
        args.budget.as_millis(),
        if args.give_dpi { "given" } else { "from width" }
    );
    println!("{header}");
    println!("{}", overall.row("all"));
    for (k, t) in &by_kind {
        println!("{}", t.row(&format!("kind {k}")));
    }
    for (k, t) in &by_dpi {
        println!("{}", t.row(k));
    }
    for (k, t) in &by_degradation {
        println!("{}", t.row(k));
    }
    println!("step that read the code (matched pages with a code): {by_step:?}");
    println!(
        "time by step (ms in all, pages): {}",
        by_step_time.iter().map(|(k, (t, n))| format!("{k} {t:.0}/{n}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "time per page (find_codes): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; load per page {:.1} ms avg; pages pointing at unreadable symbols: {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(times.last().copied().unwrap_or_default()),
        ms(load_total) / results.len() as f64,
        unreadable_pages
    );
    println!(
        "throughput: {per_core:.1} pages/s per core (decoding only), {per_core_with_load:.1} with image loading; wall {:.1} s for {} pages on {} thread(s) = {:.1} pages/s",
        wall.as_secs_f64(),
        results.len(),
        args.threads,
        results.len() as f64 / wall.as_secs_f64()
    );

    let json = serde_json::json!({
        "corpus": args.corpus.display().to_string(),
        "pages": results.len(),
        "threads": args.threads,
        "budget_ms": args.budget.as_millis() as u64,
        "dpi_given": args.give_dpi,
        "overall": overall,
        "by_kind": by_kind,
        "by_dpi": by_dpi,
        "by_degradation": by_degradation,
        "by_step": by_step,
        "time_by_step_ms": by_step_time.iter().map(|(k, (t, n))| (k.clone(), serde_json::json!({"ms": t, "pages": n}))).collect::<serde_json::Map<_, _>>(),
        "time_ms": {
            "p50": ms(percentile(&times, 0.5)),
            "p95": ms(percentile(&times, 0.95)),
            "max": ms(times.last().copied().unwrap_or_default()),
            "load_avg": ms(load_total) / results.len() as f64,
        },
        "pages_per_second_per_core": per_core,
        "pages_per_second_per_core_with_load": per_core_with_load,
        "wall_seconds": wall.as_secs_f64(),
        "matched_share": overall.share(overall.matched),
        "decoded_share_expected": {
            "pages_with_code": expected.iter().filter(|e| e.kind != "none").count(),
            "matched": expected.iter().zip(&results).filter(|(e, r)| e.kind != "none" && r.outcome == Outcome::Matched).count(),
        },
    });
    let out = args.json.clone().unwrap_or_else(|| args.corpus.join("eval.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}
