//! `hybridpost demo`: the whole loop, end to end, on the configured store (the embedded
//! default: SQLite and folders in the data dir).
//!
//! It serves every role in-process on a loopback port and drives them over HTTP as the
//! agency's and the post office's systems would: a demo agency, a print site and recipients
//! (some with verified e-mail addresses) are made with the admin commands; letters are sent
//! through `POST /v1/letters`; print batches are closed, rendered, downloaded, printed and
//! dispatched; the pages that come back are "printed" by rasterising them out of the batch
//! PDFs, reply sheets are filled in, and replies, returned letters and one stray sheet are
//! "scanned" with a scanner's damage and uploaded to `POST /v1/scans`; the notifier delivers
//! the outbox. Then it reads everything back through the API and checks every count against
//! what it did: nothing lost, nothing matched to the wrong letter. The data dir is left as it
//! is, to browse with `hybridpost serve`, with the e-channels it imported
//! (`demo/channels.csv`) and what it meant for each letter (`demo/letters.jsonl`).

mod api;
mod paper;
mod people;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hybridpost_core::{Channel, LetterId, LetterStatus};
use hybridpost_gateway::{LetterList, LetterSummary};
use hybridpost_intake::{ReplyView, ReviewList, ScanList, ScanView};
use hybridpost_printroom::{BatchSummary, ManifestEntry};
use hybridpost_scan::degrade::Rng;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use self::api::{Api, ScanFile};
use crate::admin::{self, AdminCommand};
use crate::config::Config;
use crate::serve::{self, Role};

/// Arguments of `hybridpost demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Letters to send.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    letters: u32,
    /// Print the summary as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Seed of the demo's random choices: recipients, who replies, scanner damage.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run against nodes already serving, one role each, on the database and blob storage the
    /// configuration names (as `ops/multinode.sh` starts them), instead of in this process: the
    /// agency API at these URLs, used in turn. The notifier must write its e-mails into this
    /// data dir's `outbox` (or send them by SMTP).
    #[arg(long = "gateway-url", value_delimiter = ',', requires_all = ["printroom_url", "intake_urls"])]
    gateway_urls: Vec<String>,
    /// With `--gateway-url`: the print room's URL.
    #[arg(long, requires = "gateway_urls")]
    printroom_url: Option<String>,
    /// With `--gateway-url`: the intake nodes' URLs, used in turn.
    #[arg(long = "intake-url", value_delimiter = ',', requires = "gateway_urls")]
    intake_urls: Vec<String>,
}

/// The nodes a remote run talks to.
#[derive(Clone, Debug)]
struct Nodes {
    gateways: Vec<String>,
    printroom: String,
    intakes: Vec<String>,
}

/// Resolution of the demo's scans of reply sheets, whose codes have 1 mm modules.
const SCAN_DPI: u32 = 150;
/// Resolution of the scans of returned letters: the seal's modules are 0.51 mm, 4 pixels at
/// 200 dpi, the setting office scanners default to.
const RETURN_DPI: u32 = 200;
/// Pages in one scanned file, as a scanner's feeder holds them.
const PAGES_PER_FILE: usize = 40;
/// Files in one upload.
const FILES_PER_UPLOAD: usize = 5;
/// Letters in flight at once while sending.
const SENDERS: usize = 16;
/// Why returned letters came back, in turn.
const RETURN_REASONS: [&str; 3] = ["moved", "addressee_unknown", "refused"];

/// What the demo did and found, printed at the end (`--json`: as JSON).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Letters sent.
    pub letters: usize,
    /// The database, described.
    pub database: String,
    /// The data dir left behind.
    pub data_dir: PathBuf,
    /// The seed of the random choices.
    pub seed: u64,
    /// Letters by channel (`digital`, `print`), as the API lists them.
    pub by_channel: BTreeMap<String, usize>,
    /// Letters by why their channel was chosen.
    pub by_channel_reason: BTreeMap<String, usize>,
    /// Letters by status, as the API lists them.
    pub by_status: BTreeMap<String, usize>,
    /// Print batches: count, letters, pages, sheets, pages rasterised as the ones that come back.
    pub print: PrintFigures,
    /// Scans uploaded.
    pub scans: ScanFigures,
    /// Replies: scanned, matched to their letter, matched to another letter, not matched.
    pub replies: ReplyFigures,
    /// Returned letters: scanned, marked returned.
    pub returns: ReturnFigures,
    /// Pages waiting in the review queue, and how many the demo meant to put there.
    pub review: ReviewFigures,
    /// E-mails written by the notifier.
    pub emails: EmailFigures,
    /// Every way the result differs from what the demo did; empty when all is well.
    pub problems: Vec<String>,
    /// Wall time of each stage.
    pub stages: Vec<Stage>,
    /// Wall time of the whole loop, seconds.
    pub total_seconds: f64,
    /// Peak resident memory of this process (VmHWM), MiB; pdftoppm and qpdf run as their
    /// own processes.
    pub peak_rss_mib: f64,
    /// How to look around afterwards.
    pub browse: Browse,
}

/// Print figures.
#[derive(Debug, Default, Serialize)]
pub struct PrintFigures {
    /// Batches closed.
    pub batches: usize,
    /// Letters in them.
    pub letters: usize,
    /// Pages of the batch PDFs.
    pub pages: usize,
    /// Sheets of paper.
    pub sheets: usize,
    /// Pages rasterised: the reply sheets that come back and the first pages of returned letters.
    pub pages_rasterised: usize,
}

/// Scan figures.
#[derive(Debug, Default, Serialize)]
pub struct ScanFigures {
    /// Uploads (scan batches).
    pub uploads: usize,
    /// Files in them.
    pub files: usize,
    /// Pages in them.
    pub pages: usize,
    /// Reply sheets.
    pub reply_sheets: usize,
    /// Pages citizens added after their reply sheet.
    pub added_pages: usize,
    /// First pages of returned letters.
    pub returned_pages: usize,
    /// Sheets with no code from another pile.
    pub stray_pages: usize,
    /// Scanner damage done to the pages, by kind.
    pub damage: BTreeMap<String, usize>,
}

/// Reply figures.
#[derive(Debug, Default, Serialize)]
pub struct ReplyFigures {
    /// Replies scanned.
    pub scanned: usize,
    /// Replies the API shows on the right letter with the right pages.
    pub matched: usize,
    /// Pages matched to a letter other than the one they belong to.
    pub wrong_letter: usize,
    /// Replies that did not reach their letter.
    pub missing: usize,
}

/// Return figures.
#[derive(Debug, Default, Serialize)]
pub struct ReturnFigures {
    /// Returned letters scanned.
    pub scanned: usize,
    /// Letters the API shows as returned.
    pub returned: usize,
}

/// Review figures.
#[derive(Debug, Default, Serialize)]
pub struct ReviewFigures {
    /// Pages in the review queue.
    pub pages: usize,
    /// Pages the demo meant to put there (the stray sheet).
    pub expected: usize,
}

/// E-mail figures.
#[derive(Debug, Default, Serialize)]
pub struct EmailFigures {
    /// Messages the notifier delivered.
    pub written: usize,
    /// Of those, notices of digital letters.
    pub digital_notices: usize,
    /// Of those, notices to the agency (replies and returns).
    pub agency_notices: usize,
    /// `.eml` files in `DATA_DIR/outbox` (when no SMTP server is set).
    pub eml_files: Option<usize>,
    /// Deliveries that failed.
    pub failed: usize,
}

/// One stage's wall time.
#[derive(Debug, Serialize)]
pub struct Stage {
    /// Its name.
    pub stage: &'static str,
    /// What it did.
    pub what: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Where to look afterwards.
#[derive(Debug, Serialize)]
pub struct Browse {
    /// The command that serves the same data.
    pub serve: String,
    /// The demo agency's API key.
    pub agency_key: String,
    /// The demo site's API key.
    pub site_key: String,
    /// A paper letter that was replied to.
    pub replied_letter: Option<LetterId>,
    /// The verification page, and the reference of that letter to type into it.
    pub verification_page: String,
    /// That letter's reference as printed.
    pub seal_reference: Option<String>,
}

/// Times the stages and shows progress bars on standard error (when it is a terminal).
struct Clock {
    stages: Vec<Stage>,
    started: Instant,
    stage_started: Instant,
    quiet: bool,
}

impl Clock {
    fn new(quiet: bool) -> Clock {
        Clock { stages: Vec::new(), started: Instant::now(), stage_started: Instant::now(), quiet }
    }

    /// Starts a stage with a progress bar of `len` steps (a spinner when `len` is 0).
    fn start(&mut self, name: &str, len: usize) -> ProgressBar {
        self.stage_started = Instant::now();
        let bar = if len == 0 { ProgressBar::new_spinner() } else { ProgressBar::new(len as u64) };
        let template = if len == 0 {
            "{prefix:>9} {spinner} {msg} {elapsed}"
        } else {
            "{prefix:>9} [{bar:32}] {pos}/{len} {msg} {elapsed} (eta {eta})"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// Ends the stage `name`.
    fn finish(&mut self, name: &'static str, bar: ProgressBar, what: String) {
        bar.finish_and_clear();
        let seconds = self.stage_started.elapsed().as_secs_f64();
        if !self.quiet {
            println!("  {name:<9} {seconds:>7.1} s  {what}");
        }
        self.stages.push(Stage { stage: name, what, seconds });
    }
}

/// A paper letter's fate in the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Delivered; nothing comes back.
    Delivered,
    /// The citizen replies on the reply sheet, with `added` handwritten pages after it.
    Replies { added: usize },
    /// Comes back undelivered, for the reason of this index in [`RETURN_REASONS`].
    Returned(usize),
}

/// What a scanned page is, as the demo made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageIs {
    /// A letter's reply sheet.
    ReplySheet(LetterId),
    /// A page a citizen added after the reply sheet of the letter.
    Added(LetterId),
    /// Page 1 of a returned letter.
    Returned(LetterId),
    /// A sheet with no code.
    Stray,
}

/// A scanned file waiting for upload.
#[derive(Debug)]
struct ScannedFile {
    path: PathBuf,
    name: String,
    pages: Vec<PageIs>,
    /// The damage done to each page, in words.
    damage: Vec<String>,
}

/// What every stage uses: this run's settings, the stage clock and the seeded source of the
/// demo's random choices.
struct Demo {
    config: Config,
    /// Letters to send.
    letters: usize,
    /// The seed of the random choices.
    seed: u64,
    /// Threads for rasterising and scanning, and print-room workers.
    cores: usize,
    /// Where links in seals and e-mails point: where `hybridpost serve` listens afterwards.
    public_url: String,
    /// `DATA_DIR/demo`: the e-channels imported and what the demo meant for each letter.
    demo_dir: PathBuf,
    clock: Clock,
    rng: Rng,
}

/// The service, in this process with its workers or on other nodes, and the agency's and the
/// site's clients of each role.
struct Service {
    store: hybridpost_store::Store,
    /// The notifier, when it runs in this process (the demo runs its steps).
    notifier: Option<hybridpost_notifier::NotifierState>,
    /// The agency API (gateway nodes).
    agency_api: Api,
    /// The agency's replies (intake nodes).
    replies_api: Api,
    /// The site's print batches (the print room).
    print_api: Api,
    /// The site's scans and review queue (intake nodes).
    scan_api: Api,
    agency_key: String,
    site_key: String,
    /// The server and workers in this process; none against remote nodes.
    local: Option<Local>,
}

/// What runs in this process.
struct Local {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Service {
    /// Stops the server and the workers, and closes the store.
    async fn shut_down(self) {
        if let Some(local) = self.local {
            let _ = local.stop.send(());
            for worker in local.workers {
                worker.abort();
            }
            let _ = local.server.await;
        }
        self.store.close().await;
    }
}

/// The letters sent, and what the demo makes happen to each paper letter.
struct Plan {
    sent: Vec<LetterSummary>,
    /// Paper letters only.
    fates: HashMap<LetterId, Fate>,
}

/// The scanned files, and which of them hold returned letters and the stray sheet.
struct Scanned {
    files: Vec<ScannedFile>,
    /// The reason and the index in `files` of each file of returned letters.
    returns: Vec<(usize, usize)>,
    /// The index in `files` of the stray sheet's file.
    stray: usize,
}

/// A scan as the API shows it, with the files the demo uploaded in it.
type UploadedScan<'a> = (ScanView, Vec<&'a ScannedFile>);

/// What the notifier did.
struct Delivery {
    written: usize,
    failed: usize,
    /// New `.eml` files in the outbox, when no SMTP server is set.
    eml_files: Option<usize>,
}

/// Letters by channel, channel reason and status, as the API lists them.
struct LetterCounts {
    by_channel: BTreeMap<String, usize>,
    by_channel_reason: BTreeMap<String, usize>,
    by_status: BTreeMap<String, usize>,
}

/// What reading everything back found.
struct Findings {
    letters: LetterCounts,
    replies: ReplyFigures,
    returns: ReturnFigures,
    review: ReviewFigures,
    emails: EmailFigures,
    problems: Vec<String>,
}

/// Runs the demo; the summary says whether everything came out as it should (`problems`).
pub async fn run(mut config: Config, args: &DemoArgs) -> anyhow::Result<Summary> {
    paper::check_tools()?;
    // Every letter comes from one agency key; the per-key limit would only slow the demo.
    config.rate_limit_per_second = 0;
    let mut demo = Demo {
        letters: args.letters as usize,
        seed: args.seed,
        cores: std::thread::available_parallelism().map_or(2, |c| c.get()),
        // Links in seals and e-mails point at where `hybridpost serve` listens afterwards.
        public_url: config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen)),
        demo_dir: config.data_dir.join("demo"),
        clock: Clock::new(args.json),
        rng: Rng::new(args.seed),
        config,
    };
    let nodes = (!args.gateway_urls.is_empty()).then(|| Nodes {
        gateways: args.gateway_urls.clone(),
        printroom: args.printroom_url.clone().unwrap_or_default(),
        intakes: args.intake_urls.clone(),
    });
    if !args.json {
        let at = match &nodes {
            None => "in this process".to_owned(),
            Some(n) => format!("on {} gateways, a print room and {} intake nodes", n.gateways.len(), n.intakes.len()),
        };
        println!("hybridpost demo: {} letters on {}, {at}", demo.letters, demo.config.database_description());
    }

    let (service, recipients) = setup(&mut demo, nodes).await?;
    let sent = send(&mut demo, &service, recipients).await?;
    let fates = choose_fates(&paper_letters(&sent), &mut demo.rng);
    let plan = Plan { sent, fates };
    write_plan(&demo.demo_dir.join("letters.jsonl"), &plan.sent, &plan.fates)?;
    let (batches, mut print) = render(&mut demo, &service, paper_letters(&plan.sent).len()).await?;
    let work = tempfile::Builder::new().prefix("hybridpost-demo-").tempdir().context("a work folder")?;
    let rasters = print_batches(&mut demo, &service, &batches, &plan.fates, work.path()).await?;
    print.pages_rasterised = rasters.len();
    let (scanned, mut scans) = scan(&mut demo, rasters, &plan.fates, work.path()).await?;
    let views = intake(&mut demo, &service, &scanned, &mut scans).await?;
    let delivery = notify(&mut demo, &service).await?;
    let findings = check(&mut demo, &service, &plan, &print, &scans, &views, &delivery).await?;

    let browse = browse(&demo, &service, &plan);
    service.shut_down().await;
    Ok(report(demo, print, scans, findings, browse))
}

/// Stage `setup`: the service (or the database of remote `nodes`), an agency, a site and
/// recipients.
async fn setup(demo: &mut Demo, nodes: Option<Nodes>) -> anyhow::Result<(Service, Vec<people::Recipient>)> {
    let n = demo.letters;
    let config = &demo.config;
    let bar = demo.clock.start("setup", 0);
    let service = match nodes {
        None => Some(serve::build(config, &Role::ALL, &demo.public_url).await?),
        Some(_) => None,
    };
    let store = match &service {
        Some(service) => service.store.clone(),
        None => serve::open_store(config).await?,
    };
    {
        let mut conn = store.read().await?;
        let existing = hybridpost_store::agencies::list_agencies(&mut conn).await?;
        anyhow::ensure!(
            existing.is_empty(),
            "the demo needs an empty database, and {} has {} agencies: give --data-dir a new folder \
             (or HYBRIDPOST_DATABASE_URL an empty database)",
            config.database_description(),
            existing.len()
        );
    }
    let (nodes, local, notifier) = match service {
        Some(service) => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot listen on loopback")?;
            let base = format!("http://{}", listener.local_addr()?);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(hybridpost_verify::run(service.app.clone(), listener, async {
                let _ = stopped.await;
            }));
            let mut workers = print_workers(service.printroom.clone().context("the printroom role")?, demo.cores);
            workers
                .push(tokio::spawn(hybridpost_intake::run_workers(service.intake.clone().context("the intake role")?)));
            let notifier = service.notifier.clone().context("the notifier role")?;
            let nodes = Nodes { gateways: vec![base.clone()], printroom: base.clone(), intakes: vec![base] };
            (nodes, Some(Local { stop, server, workers }), Some(notifier))
        }
        None => (nodes.context("remote nodes")?, None, None),
    };

    let (agency_key, site_key) = create_agency_and_site(config, &store).await?;
    let http = http_client()?;
    let agency_api = Api::on_nodes(http.clone(), &nodes.gateways, &agency_key);
    let replies_api = Api::on_nodes(http.clone(), &nodes.intakes, &agency_key);
    let print_api = Api::new(http.clone(), &nodes.printroom, &site_key);
    let scan_api = Api::on_nodes(http, &nodes.intakes, &site_key);

    let recipients = people::recipients(n, n / 5, &mut demo.rng);
    let imported = import_channels(config, &store, &demo.demo_dir, &recipients).await?;
    demo.clock.finish(
        "setup",
        bar,
        format!("an agency, a site, {n} recipients, {} verified e-mail addresses", imported["imported"]),
    );
    let service =
        Service { store, notifier, agency_api, replies_api, print_api, scan_api, agency_key, site_key, local };
    Ok((service, recipients))
}

/// As many print-room workers as `cores`, as several nodes would run: batches render in
/// parallel.
fn print_workers(printroom: hybridpost_printroom::PrintroomState, cores: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..cores)
        .map(|_| {
            let state = printroom.clone();
            tokio::spawn(async move {
                loop {
                    match hybridpost_printroom::render_next_batch(&state).await {
                        Ok(Some(_)) => continue,
                        Ok(None) => {}
                        Err(e) => hybridpost_web::drain::round_failed("rendering a print batch", &e),
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        })
        .collect()
}

/// The demo agency and print site, made with the admin commands; returns their API keys.
async fn create_agency_and_site(config: &Config, store: &hybridpost_store::Store) -> anyhow::Result<(String, String)> {
    let agency = admin::execute(
        config,
        store,
        AdminCommand::CreateAgency {
            name: "สำนักงานเขตพญาไท (สาธิต)".into(),
            name_en: Some("Phaya Thai District Office (demo)".into()),
            address: vec!["๑๒ ถนนพหลโยธิน".into(), "เขตพญาไท กรุงเทพฯ ๑๐๔๐๐".into()],
            code: None,
            contact_email: Some("saraban@example.go.th".into()),
            test: false,
        },
    )
    .await?;
    let site = admin::execute(
        config,
        store,
        AdminCommand::CreateSite {
            name: "ศูนย์ไปรษณีย์สาธิต".into(), postcode_prefixes: "1,2,3,4,5,6,7,8,9".into()
        },
    )
    .await?;
    let key = |v: &serde_json::Value| v["api_key"].as_str().map(str::to_owned).context("a new API key");
    Ok((key(&agency)?, key(&site)?))
}

/// The demo's HTTP client: plain HTTP on loopback; reqwest still wants a TLS set-up, which has
/// no roots to trust.
fn http_client() -> anyhow::Result<reqwest::Client> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .pool_max_idle_per_host(SENDERS * 2)
        .timeout(Duration::from_secs(120))
        .build()
        .context("HTTP client")
}

/// Writes the recipients' verified e-mail addresses to `demo/channels.csv` and imports them
/// with the admin command; returns its output.
async fn import_channels(
    config: &Config,
    store: &hybridpost_store::Store,
    demo_dir: &Path,
    recipients: &[people::Recipient],
) -> anyhow::Result<serde_json::Value> {
    std::fs::create_dir_all(demo_dir).with_context(|| format!("cannot make {}", demo_dir.display()))?;
    let csv = demo_dir.join("channels.csv");
    let mut lines = String::from("citizen_id,email\n");
    for r in recipients {
        if let (Some(id), Some(email)) = (&r.citizen_id, &r.email) {
            lines.push_str(&format!("{id},{email}\n"));
        }
    }
    std::fs::write(&csv, lines).with_context(|| format!("cannot write {}", csv.display()))?;
    admin::execute(config, store, AdminCommand::ImportChannels { file: csv.clone() }).await
}

/// Stage `send`: letters through the agency API; two in five ask for a reply.
async fn send(
    demo: &mut Demo,
    service: &Service,
    recipients: Vec<people::Recipient>,
) -> anyhow::Result<Vec<LetterSummary>> {
    let n = demo.letters;
    let deadline = (time::OffsetDateTime::now_utc() + time::Duration::days(30)).date().to_string();
    // Each letter is written as it is sent: 100,000 letters written first held about 700 MB.
    let subjects: Vec<u8> = (0..recipients.len()).map(|_| people::subject(&mut demo.rng)).collect();
    let body = move |i: usize| {
        let r = recipients.get(i)?;
        Some(people::letter(i, r, (i % 5 < 2).then_some(deadline.as_str()), subjects[i]))
    };
    let bar = demo.clock.start("send", n);
    let sent = send_letters(&service.agency_api, Arc::new(body), demo.seed, &bar).await?;
    let paper = paper_letters(&sent).len();
    let digital = sent.len() - paper;
    demo.clock.finish("send", bar, format!("{n} letters: {digital} digital, {paper} paper"));
    Ok(sent)
}

/// The letters sent on paper.
fn paper_letters(sent: &[LetterSummary]) -> Vec<&LetterSummary> {
    sent.iter().filter(|l| l.channel == Channel::Print).collect()
}

/// Who replies (one paper letter in ten, of those with a reply sheet; one reply in 25 with a
/// handwritten page added) and what comes back undelivered (one in a hundred).
fn choose_fates(paper: &[&LetterSummary], rng: &mut Rng) -> HashMap<LetterId, Fate> {
    let mut fates: HashMap<LetterId, Fate> = paper.iter().map(|l| (l.letter_id, Fate::Delivered)).collect();
    let mut can_reply: Vec<LetterId> =
        paper.iter().filter(|l| l.reply_deadline.is_some()).map(|l| l.letter_id).collect();
    shuffle(&mut can_reply, rng);
    let replying = (paper.len() / 10).max(1).min(can_reply.len());
    for (j, id) in can_reply.iter().take(replying).enumerate() {
        fates.insert(*id, Fate::Replies { added: usize::from(j % 25 == 1) });
    }
    let mut others: Vec<LetterId> =
        paper.iter().map(|l| l.letter_id).filter(|id| fates[id] == Fate::Delivered).collect();
    shuffle(&mut others, rng);
    let returning = if paper.is_empty() { 0 } else { (paper.len() / 100).max(1).min(others.len()) };
    for (j, id) in others.iter().take(returning).enumerate() {
        fates.insert(*id, Fate::Returned(j % RETURN_REASONS.len()));
    }
    fates
}

/// Stage `render`: print batches, closed by the site's operators, rendered by the print-room
/// workers.
async fn render(demo: &mut Demo, service: &Service, paper: usize) -> anyhow::Result<(Vec<BatchSummary>, PrintFigures)> {
    let site_api = &service.print_api;
    let bar = demo.clock.start("render", paper);
    let mut batches: Vec<BatchSummary> = Vec::new();
    loop {
        let (status, answer) = site_api.post_status("/v1/print/batches", None, None).await?;
        match status.as_u16() {
            201 => batches.push(serde_json::from_value(answer).context("a closed batch")?),
            409 => break,
            _ => anyhow::bail!("closing a print batch: {status} {answer}"),
        }
    }
    let mut ready: Vec<Option<BatchSummary>> = vec![None; batches.len()];
    while ready.iter().any(Option::is_none) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        for (i, b) in batches.iter().enumerate() {
            if ready[i].is_none() {
                let now: BatchSummary = site_api.get(&format!("/v1/print/batches/{}", b.batch_id)).await?;
                if now.status.as_str() == "ready" {
                    ready[i] = Some(now);
                }
            }
        }
        bar.set_position(ready.iter().flatten().map(|b| b.letters as u64).sum());
    }
    let batches: Vec<BatchSummary> = ready.into_iter().flatten().collect();
    let print = PrintFigures {
        batches: batches.len(),
        letters: batches.iter().map(|b| b.letters as usize).sum(),
        pages: batches.iter().map(|b| b.pages as usize).sum(),
        sheets: batches.iter().map(|b| b.sheets as usize).sum(),
        pages_rasterised: 0,
    };
    demo.clock.finish(
        "render",
        bar,
        format!("{} batches: {} letters, {} pages, {} sheets", print.batches, print.letters, print.pages, print.sheets),
    );
    Ok((batches, print))
}

/// Stage `print`: download each batch, mark it printed and dispatched, and rasterise the
/// pages that will come back; returns them with their letters. A batch is rasterised while the
/// next one is downloaded and dispatched (those are one request at a time; pdftoppm takes
/// both cores), one batch at a time, in batch order.
async fn print_batches(
    demo: &mut Demo,
    service: &Service,
    batches: &[BatchSummary],
    fates: &HashMap<LetterId, Fate>,
    work: &Path,
) -> anyhow::Result<Rasters> {
    let site_api = &service.print_api;
    let coming_back = fates.values().filter(|f| **f != Fate::Delivered).count();
    let bar = demo.clock.start("print", coming_back);
    let mut rasters = Rasters::new();
    let mut rasterising: Option<tokio::task::JoinHandle<anyhow::Result<Rasters>>> = None;
    let mut serial = 1u32;
    for (k, batch) in batches.iter().enumerate() {
        let id = batch.batch_id;
        let pdf = work.join(format!("batch-{k}.pdf"));
        site_api.download(&format!("/v1/print/batches/{id}/pdf"), &pdf).await?;
        let manifest: Vec<ManifestEntry> = site_api.get(&format!("/v1/print/batches/{id}/manifest")).await?;
        site_api.post(&format!("/v1/print/batches/{id}/printed"), None, None).await?;
        let first = hybridpost_core::TrackingNumber::new("RB", serial, "TH")?;
        site_api
            .post(
                &format!("/v1/print/batches/{id}/dispatched"),
                Some(&json!({"first_tracking_number": first.as_str()})),
                None,
            )
            .await?;
        serial += u32::try_from(manifest.len())?;
        let jobs = coming_back_from(k, &manifest, fates, work);
        if let Some(previous) = rasterising.take() {
            rasters.extend(previous.await.context("rasterising")??);
        }
        let (bar, cores) = (bar.clone(), demo.cores);
        rasterising = Some(tokio::task::spawn_blocking(move || rasterise_coming_back(&pdf, jobs, cores, &bar)));
    }
    if let Some(last) = rasterising {
        rasters.extend(last.await.context("rasterising")??);
    }
    demo.clock.finish(
        "print",
        bar,
        format!(
            "{} batches printed and dispatched, {} pages rasterised ({SCAN_DPI} dpi reply sheets, {RETURN_DPI} dpi \
             returned letters)",
            batches.len(),
            rasters.len()
        ),
    );
    Ok(rasters)
}

/// Rasterised pages, a file each, with their letters.
type Rasters = Vec<(PathBuf, LetterId)>;

/// Pages of one batch to rasterise at one resolution: page numbers in the batch PDF, in order,
/// their letters, the resolution and the folder for the files.
struct RasterJob {
    pages: Vec<u32>,
    letters: Vec<LetterId>,
    dpi: u32,
    dir: PathBuf,
}

/// The pages of batch `k` (its manifest) that come back: reply sheets, a letter's last page,
/// at [`SCAN_DPI`]; the first pages of returned letters, with the seal, at [`RETURN_DPI`].
fn coming_back_from(
    k: usize,
    manifest: &[ManifestEntry],
    fates: &HashMap<LetterId, Fate>,
    work: &Path,
) -> Vec<RasterJob> {
    [(SCAN_DPI, false), (RETURN_DPI, true)]
        .into_iter()
        .map(|(dpi, returned)| {
            let mut wanted: Vec<(u32, LetterId)> = manifest
                .iter()
                .filter_map(|e| match fates.get(&e.letter_id) {
                    Some(Fate::Replies { .. }) if !returned => Some((e.first_page + e.pages - 1, e.letter_id)),
                    Some(Fate::Returned(_)) if returned => Some((e.first_page, e.letter_id)),
                    _ => None,
                })
                .collect();
            wanted.sort_unstable_by_key(|(page, _)| *page);
            let (pages, letters) = wanted.into_iter().unzip();
            RasterJob { pages, letters, dpi, dir: work.join(format!("raster-{k}-{dpi}")) }
        })
        .collect()
}

/// Rasterises `jobs` out of the batch PDF `pdf` on `cores` cores, then removes the PDF; returns
/// the files with their letters, in the order of the jobs.
fn rasterise_coming_back(pdf: &Path, jobs: Vec<RasterJob>, cores: usize, bar: &ProgressBar) -> anyhow::Result<Rasters> {
    let picks: Vec<paper::Pick<'_>> =
        jobs.iter().map(|j| paper::Pick { pages: &j.pages, dpi: j.dpi, dir: &j.dir }).collect();
    let files = paper::rasterise(pdf, &picks, cores)?;
    let mut rasters = Vec::new();
    for (files, job) in files.into_iter().zip(&jobs) {
        bar.inc(files.len() as u64);
        rasters.extend(files.into_iter().zip(job.letters.iter().copied()));
    }
    std::fs::remove_file(pdf)?;
    Ok(rasters)
}

/// Stage `scan`: citizens fill in their reply sheets; the post office scans replies, returns
/// and one stray sheet.
async fn scan(
    demo: &mut Demo,
    rasters: Rasters,
    fates: &HashMap<LetterId, Fate>,
    work: &Path,
) -> anyhow::Result<(Scanned, ScanFigures)> {
    let (jobs, returns, stray) = scan_jobs(rasters, fates, &mut demo.rng);
    let total_sheets: usize = jobs.iter().map(|j| j.sheets.len()).sum();
    let bar = demo.clock.start("scan", total_sheets);
    let scans_dir = work.join("scans");
    std::fs::create_dir_all(&scans_dir)?;
    let cores = demo.cores;
    let (files, damage) = {
        let bar = bar.clone();
        let dir = scans_dir.clone();
        tokio::task::spawn_blocking(move || scan_files(jobs, &dir, cores, &bar)).await.context("scanning")??
    };
    let scans = ScanFigures {
        files: files.len(),
        pages: files.iter().map(|f| f.pages.len()).sum(),
        reply_sheets: count_pages(&files, |p| matches!(p, PageIs::ReplySheet(_))),
        added_pages: count_pages(&files, |p| matches!(p, PageIs::Added(_))),
        returned_pages: count_pages(&files, |p| matches!(p, PageIs::Returned(_))),
        stray_pages: count_pages(&files, |p| matches!(p, PageIs::Stray)),
        damage,
        uploads: 0,
    };
    demo.clock.finish(
        "scan",
        bar,
        format!(
            "{} replies ({} pages added), {} returned letters, {} stray sheet; {} files",
            scans.reply_sheets, scans.added_pages, scans.returned_pages, scans.stray_pages, scans.files
        ),
    );
    Ok((Scanned { files, returns, stray }, scans))
}

/// The scanner's files: reply sheets in shuffled order, returned letters by reason, and one
/// stray sheet, [`PAGES_PER_FILE`] sheets a file. Returns the jobs, the reason and job index of
/// each file of returned letters, and the stray sheet's job index.
fn scan_jobs(
    rasters: Rasters,
    fates: &HashMap<LetterId, Fate>,
    rng: &mut Rng,
) -> (Vec<ScanJob>, Vec<(usize, usize)>, usize) {
    let mut replies_in: Vec<(PathBuf, LetterId, usize)> = Vec::new();
    let mut returns_in: Vec<Vec<(PathBuf, LetterId)>> = vec![Vec::new(); RETURN_REASONS.len()];
    for (path, id) in rasters {
        match fates[&id] {
            Fate::Replies { added } => replies_in.push((path, id, added)),
            Fate::Returned(reason) => returns_in[reason].push((path, id)),
            Fate::Delivered => {}
        }
    }
    shuffle(&mut replies_in, rng);
    let mut jobs: Vec<ScanJob> = Vec::new();
    for (f, chunk) in replies_in.chunks(PAGES_PER_FILE).enumerate() {
        jobs.push(ScanJob {
            name: format!("replies-{:04}.pdf", f + 1),
            sheets: chunk.iter().map(|(p, id, added)| Sheet::Reply(p.clone(), *id, *added)).collect(),
            dpi: SCAN_DPI,
            seed: rng.next_u64(),
        });
    }
    let mut return_jobs: Vec<(usize, usize)> = Vec::new();
    for (reason, pages) in returns_in.iter().enumerate() {
        for (f, chunk) in pages.chunks(PAGES_PER_FILE).enumerate() {
            return_jobs.push((reason, jobs.len()));
            jobs.push(ScanJob {
                name: format!("returns-{}-{:04}.pdf", RETURN_REASONS[reason], f + 1),
                sheets: chunk.iter().map(|(p, id)| Sheet::Returned(p.clone(), *id)).collect(),
                dpi: RETURN_DPI,
                seed: rng.next_u64(),
            });
        }
    }
    let stray_job = jobs.len();
    jobs.push(ScanJob {
        name: "stray-0001.pdf".into(),
        sheets: vec![Sheet::Stray],
        dpi: SCAN_DPI,
        seed: rng.next_u64(),
    });
    (jobs, return_jobs, stray_job)
}

/// Stage `intake`: uploads to the intake API, decoded by its workers; returns each scan as the
/// API shows it once done, with the files uploaded in it.
async fn intake<'a>(
    demo: &mut Demo,
    service: &Service,
    scanned: &'a Scanned,
    scans: &mut ScanFigures,
) -> anyhow::Result<Vec<UploadedScan<'a>>> {
    let site_api = &service.scan_api;
    let bar = demo.clock.start("intake", scans.pages);
    let uploads = upload_all(site_api, scanned).await?;
    scans.uploads = uploads.len();
    let pages_of: HashMap<hybridpost_core::ScanId, usize> =
        uploads.iter().map(|(id, files)| (*id, files.iter().map(|f| f.pages.len()).sum())).collect();
    loop {
        let done = scans_done(site_api, &pages_of).await?;
        bar.set_position(done.iter().map(|id| pages_of[id] as u64).sum());
        if done.len() == uploads.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut views: Vec<UploadedScan<'a>> = Vec::new();
    for (id, files) in uploads {
        views.push((site_api.get(&format!("/v1/scans/{id}")).await?, files));
    }
    let counts = views.iter().flat_map(|(v, _)| v.counts.iter()).fold(BTreeMap::new(), |mut m, (k, v)| {
        *m.entry(k.clone()).or_insert(0) += v;
        m
    });
    demo.clock.finish(
        "intake",
        bar,
        format!(
            "{} uploads, {} pages: {}",
            scans.uploads,
            scans.pages,
            counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
        ),
    );
    Ok(views)
}

/// Uploads the scanned files, [`FILES_PER_UPLOAD`] to an upload: replies, returned letters
/// by reason, then the stray sheet alone.
async fn upload_all<'a>(
    site_api: &Api,
    scanned: &'a Scanned,
) -> anyhow::Result<Vec<(hybridpost_core::ScanId, Vec<&'a ScannedFile>)>> {
    let files = &scanned.files;
    let mut uploads: Vec<(hybridpost_core::ScanId, Vec<&ScannedFile>)> = Vec::new();
    let reply_files: Vec<&ScannedFile> = files
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != scanned.stray && !scanned.returns.iter().any(|(_, j)| j == i))
        .map(|(_, f)| f)
        .collect();
    for group in reply_files.chunks(FILES_PER_UPLOAD) {
        uploads.push((upload(site_api, "replies", None, group).await?, group.to_vec()));
    }
    for (reason, _) in RETURN_REASONS.iter().enumerate() {
        let group: Vec<&ScannedFile> =
            scanned.returns.iter().filter(|(r, _)| *r == reason).map(|(_, j)| &files[*j]).collect();
        for chunk in group.chunks(FILES_PER_UPLOAD) {
            uploads.push((upload(site_api, "returns", Some(RETURN_REASONS[reason]), chunk).await?, chunk.to_vec()));
        }
    }
    let stray = vec![&files[scanned.stray]];
    uploads.push((upload(site_api, "replies", None, &stray).await?, stray));
    Ok(uploads)
}

/// Stage `notify`: the notifier delivers the outbox: digital letters' notices, the agency's
/// notices.
async fn notify(demo: &mut Demo, service: &Service) -> anyhow::Result<Delivery> {
    let outbox_dir = demo.config.data_dir.join("outbox");
    let bar = demo.clock.start("notify", 0);
    let (eml_before, (written, failed)) = match &service.notifier {
        Some(notifier) => (count_eml(&outbox_dir), deliver_outbox(notifier, &bar).await?),
        // The notifier node has been delivering all along, into this data dir's outbox.
        None => (0, remote_outbox_delivered(&service.store, &bar).await?),
    };
    let eml_files = demo.config.smtp_host.is_none().then(|| count_eml(&outbox_dir) - eml_before);
    demo.clock.finish("notify", bar, format!("{written} e-mails delivered, {failed} failed"));
    Ok(Delivery { written, failed, eml_files })
}

/// Stage `check`: read it all back and check it against what was done.
async fn check(
    demo: &mut Demo,
    service: &Service,
    plan: &Plan,
    print: &PrintFigures,
    scans: &ScanFigures,
    views: &[UploadedScan<'_>],
    delivery: &Delivery,
) -> anyhow::Result<Findings> {
    let n = demo.letters;
    let bar = demo.clock.start("check", n);
    let mut problems = Vec::new();
    let listed = list_letters(&service.agency_api, &bar).await?;
    let letters = check_letters(&listed, plan, &mut problems);
    if listed.len() != n {
        problems.push(format!("{n} letters were sent, the API lists {}", listed.len()));
    }
    let paper = paper_letters(&plan.sent).len();
    if print.letters != paper {
        problems.push(format!("{paper} paper letters, {} in print batches", print.letters));
    }
    let wrong_letter = check_pages(views, &mut problems)?;
    let replies = check_replies(&service.replies_api, &plan.fates, wrong_letter, &mut problems).await?;
    let returns = ReturnFigures {
        scanned: plan.fates.values().filter(|f| matches!(f, Fate::Returned(_))).count(),
        returned: listed.iter().filter(|l| l.status == LetterStatus::Returned).count(),
    };
    if returns.returned != returns.scanned {
        problems.push(format!("{} letters came back, {} are marked returned", returns.scanned, returns.returned));
    }
    let review_list: ReviewList = service.scan_api.get("/v1/review?limit=100").await?;
    let review = ReviewFigures { pages: review_list.items.len(), expected: scans.stray_pages };
    if review.pages != review.expected {
        problems.push(format!("{} pages in review, expected {}", review.pages, review.expected));
    }
    let emails = check_emails(plan.sent.len() - paper, replies.scanned + returns.scanned, delivery, &mut problems);
    demo.clock.finish("check", bar, format!("{} letters read back, {} problems", listed.len(), problems.len()));
    Ok(Findings { letters, replies, returns, review, emails, problems })
}

/// Counts the letters the API lists, and checks each one's status against its fate and that
/// it was sent.
fn check_letters(listed: &[LetterSummary], plan: &Plan, problems: &mut Vec<String>) -> LetterCounts {
    let mut counts =
        LetterCounts { by_channel: BTreeMap::new(), by_channel_reason: BTreeMap::new(), by_status: BTreeMap::new() };
    let sent_ids: HashSet<LetterId> = plan.sent.iter().map(|l| l.letter_id).collect();
    for l in listed {
        *counts.by_channel.entry(json_name(&l.channel)).or_insert(0) += 1;
        *counts.by_channel_reason.entry(json_name(&l.channel_reason)).or_insert(0) += 1;
        *counts.by_status.entry(json_name(&l.status)).or_insert(0) += 1;
        let expected = match (l.channel, plan.fates.get(&l.letter_id)) {
            (Channel::Digital, _) => LetterStatus::Notified,
            (_, Some(Fate::Replies { .. })) => LetterStatus::ReplyReceived,
            (_, Some(Fate::Returned(_))) => LetterStatus::Returned,
            _ => LetterStatus::Dispatched,
        };
        if l.status != expected {
            problems.push(format!(
                "letter {} is {}, expected {}",
                l.letter_id,
                json_name(&l.status),
                json_name(&expected)
            ));
        }
        if !sent_ids.contains(&l.letter_id) {
            problems.push(format!("letter {} was listed but never sent", l.letter_id));
        }
    }
    counts
}

/// Every scanned page: where it went, against where it belongs. Returns how many pages were
/// matched to a letter other than their own.
fn check_pages(views: &[UploadedScan<'_>], problems: &mut Vec<String>) -> anyhow::Result<usize> {
    let mut wrong_letter = 0;
    for (view, files) in views {
        for page in &view.pages {
            let Some(is) = files
                .get(usize::try_from(page.file_index - 1)?)
                .and_then(|f| f.pages.get(usize::try_from(page.page_number - 1).ok()?))
            else {
                problems.push(format!("scan {} has a page the demo did not upload", view.scan_id));
                continue;
            };
            let (outcome, letter) = match is {
                PageIs::ReplySheet(id) | PageIs::Added(id) => ("matched", Some(*id)),
                PageIs::Returned(id) => ("returned", Some(*id)),
                PageIs::Stray => ("review", None),
            };
            if page.letter_id.is_some() && page.letter_id != letter {
                wrong_letter += 1;
            }
            if page.outcome != outcome || page.letter_id != letter {
                let file = &files[usize::try_from(page.file_index - 1)?];
                problems.push(format!(
                    "page {} of {} in scan {} ({is:?}, scanned with {}) is {} {}",
                    page.page_number,
                    file.name,
                    view.scan_id,
                    file.damage.get(usize::try_from(page.page_number - 1)?).map_or("", String::as_str),
                    page.outcome,
                    page.review_reason.as_deref().unwrap_or(""),
                ));
            }
        }
        let expected_pages: usize = files.iter().map(|f| f.pages.len()).sum();
        if view.pages.len() != expected_pages {
            problems.push(format!(
                "scan {} has {} pages, {expected_pages} were uploaded",
                view.scan_id,
                view.pages.len()
            ));
        }
    }
    Ok(wrong_letter)
}

/// Every reply, as the agency reads it: one reply on its letter, from the scan, with every page.
async fn check_replies(
    agency_api: &Api,
    fates: &HashMap<LetterId, Fate>,
    wrong_letter: usize,
    problems: &mut Vec<String>,
) -> anyhow::Result<ReplyFigures> {
    let replied: Vec<(LetterId, usize)> = fates
        .iter()
        .filter_map(|(id, f)| match f {
            Fate::Replies { added } => Some((*id, 1 + added)),
            _ => None,
        })
        .collect();
    let mut replies = ReplyFigures { scanned: replied.len(), wrong_letter, ..Default::default() };
    for (id, pages) in &replied {
        let answer: hybridpost_web::Page<ReplyView> = agency_api.get(&format!("/v1/letters/{id}/replies")).await?;
        let answer = answer.items;
        match answer.as_slice() {
            [one] if one.letter_id == *id && one.pages == *pages as i64 && one.source == "scan" => replies.matched += 1,
            _ => {
                replies.missing += 1;
                problems.push(format!("letter {id} should have one reply of {pages} pages: {answer:?}"));
            }
        }
    }
    Ok(replies)
}

/// The e-mails delivered against those due: a notice for each digital letter, one to the agency
/// for each reply and return; and one `.eml` file for each when they go to files.
fn check_emails(
    digital: usize,
    agency_notices: usize,
    delivery: &Delivery,
    problems: &mut Vec<String>,
) -> EmailFigures {
    let Delivery { written, failed, eml_files } = *delivery;
    if written != digital + agency_notices {
        problems.push(format!(
            "{written} e-mails delivered, expected {digital} digital notices and {agency_notices} agency notices"
        ));
    }
    if let Some(files) = eml_files
        && files != written
    {
        problems.push(format!("{written} e-mails delivered, {files} .eml files written"));
    }
    EmailFigures { written, digital_notices: digital, agency_notices, eml_files, failed }
}

/// Where to look afterwards: the keys, and a paper letter that was replied to.
fn browse(demo: &Demo, service: &Service, plan: &Plan) -> Browse {
    let sample = plan
        .fates
        .iter()
        .find(|(_, f)| matches!(f, Fate::Replies { .. }))
        .and_then(|(id, _)| plan.sent.iter().find(|l| l.letter_id == *id));
    Browse {
        serve: format!("hybridpost --data-dir {} serve", data_dir(&demo.config).display()),
        agency_key: service.agency_key.clone(),
        site_key: service.site_key.clone(),
        replied_letter: sample.map(|l| l.letter_id),
        verification_page: format!("{}/V", demo.public_url),
        seal_reference: sample.and_then(|l| l.seal_reference.clone()),
    }
}

/// The data dir, absolute where it can be made so.
fn data_dir(config: &Config) -> PathBuf {
    std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone())
}

/// The summary of the whole run, with the stage times and the total so far.
fn report(demo: Demo, print: PrintFigures, scans: ScanFigures, findings: Findings, browse: Browse) -> Summary {
    Summary {
        letters: demo.letters,
        database: demo.config.database_description(),
        data_dir: data_dir(&demo.config),
        seed: demo.seed,
        by_channel: findings.letters.by_channel,
        by_channel_reason: findings.letters.by_channel_reason,
        by_status: findings.letters.by_status,
        print,
        scans,
        replies: findings.replies,
        returns: findings.returns,
        review: findings.review,
        emails: findings.emails,
        problems: findings.problems,
        total_seconds: demo.clock.started.elapsed().as_secs_f64(),
        stages: demo.clock.stages,
        peak_rss_mib: peak_rss_mib(),
        browse,
    }
}

/// Prints the summary for people.
pub fn print_summary(s: &Summary) {
    let list = |m: &BTreeMap<String, usize>| m.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ");
    println!();
    println!("letters      {} ({})", s.letters, s.database);
    println!("  by channel {}", list(&s.by_channel));
    println!("  by reason  {}", list(&s.by_channel_reason));
    println!("  by status  {}", list(&s.by_status));
    println!(
        "print        {} batches, {} letters, {} pages on {} sheets; {} pages rasterised",
        s.print.batches, s.print.letters, s.print.pages, s.print.sheets, s.print.pages_rasterised
    );
    println!(
        "scans        {} uploads, {} files, {} pages: {} reply sheets, {} added pages, {} returned letters, {} stray",
        s.scans.uploads,
        s.scans.files,
        s.scans.pages,
        s.scans.reply_sheets,
        s.scans.added_pages,
        s.scans.returned_pages,
        s.scans.stray_pages
    );
    println!("  damage     {}", list(&s.scans.damage));
    println!(
        "replies      {} scanned, {} matched, {} on a wrong letter, {} missing",
        s.replies.scanned, s.replies.matched, s.replies.wrong_letter, s.replies.missing
    );
    println!("returns      {} scanned, {} marked returned", s.returns.scanned, s.returns.returned);
    println!("review       {} page(s) waiting ({} expected: the stray sheet)", s.review.pages, s.review.expected);
    println!(
        "e-mails      {} written: {} digital notices, {} to the agency{}",
        s.emails.written,
        s.emails.digital_notices,
        s.emails.agency_notices,
        s.emails.eml_files.map_or(String::new(), |n| format!(" ({n} .eml files)"))
    );
    println!("time         {:.1} s in all; peak memory {:.0} MiB", s.total_seconds, s.peak_rss_mib);
    if s.problems.is_empty() {
        println!("check        every count matches what the demo did");
    } else {
        println!("check        {} problems:", s.problems.len());
        for p in s.problems.iter().take(20) {
            println!("  - {p}");
        }
    }
    println!();
    println!("Look around: {}", s.browse.serve);
    println!("  agency key  {}", s.browse.agency_key);
    println!("  site key    {}", s.browse.site_key);
    if let (Some(id), Some(reference)) = (&s.browse.replied_letter, &s.browse.seal_reference) {
        println!("  a letter with a reply: /v1/letters/{id} and /v1/letters/{id}/replies");
        println!("  its seal: {} (reference {reference})", s.browse.verification_page);
    }
    println!("  e-mails in {}", s.data_dir.join("outbox").display());
}

/// The snake_case name a value serialises to.
fn json_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Writes what the demo means to happen to each letter, one JSON line per letter, for whoever
/// wants to check the result: `letter_id`, `channel`, `fate` (`digital`, `delivered`,
/// `replies`, `returned`), `added_pages` of a reply, `reason` of a return.
fn write_plan(path: &Path, sent: &[LetterSummary], fates: &HashMap<LetterId, Fate>) -> anyhow::Result<()> {
    let mut out = String::new();
    for l in sent {
        let line = match fates.get(&l.letter_id) {
            None => json!({"letter_id": l.letter_id, "channel": "digital", "fate": "digital"}),
            Some(Fate::Delivered) => json!({"letter_id": l.letter_id, "channel": "print", "fate": "delivered"}),
            Some(Fate::Replies { added }) => {
                json!({"letter_id": l.letter_id, "channel": "print", "fate": "replies", "added_pages": added})
            }
            Some(Fate::Returned(r)) => {
                json!({"letter_id": l.letter_id, "channel": "print", "fate": "returned", "reason": RETURN_REASONS[*r]})
            }
        };
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// Fisher–Yates with the demo's seeded source.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// Sends every letter with `SENDERS` in flight; each with its own idempotency key, so a retry
/// could not send it twice.
async fn send_letters(
    api: &Api,
    body: Arc<dyn Fn(usize) -> Option<serde_json::Value> + Send + Sync>,
    seed: u64,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<LetterSummary>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (api, body, next, bar) = (api.clone(), body.clone(), next.clone(), bar.clone());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = body(i) else { return anyhow::Ok(done) };
                let answer = api.post("/v1/letters", Some(&body), Some(&format!("demo-{seed}-{i}"))).await?;
                let summary: LetterSummary = serde_json::from_value(answer).context("a created letter")?;
                done.push((i, summary));
                bar.inc(1);
            }
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("a sender")??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, s)| s).collect())
}

/// The scans of `pages_of` whose pages are all decoded and grouped, through the paged list.
async fn scans_done(
    api: &Api,
    pages_of: &HashMap<hybridpost_core::ScanId, usize>,
) -> anyhow::Result<Vec<hybridpost_core::ScanId>> {
    let mut done = Vec::new();
    let mut path = "/v1/scans?limit=100".to_owned();
    loop {
        let list: ScanList = api.get(&path).await?;
        done.extend(
            list.items.iter().filter(|s| s.status == "done" && pages_of.contains_key(&s.scan_id)).map(|s| s.scan_id),
        );
        match list.next_cursor {
            Some(c) => path = format!("/v1/scans?limit=100&cursor={c}"),
            None => return Ok(done),
        }
    }
}

/// Every letter of the agency, through the paged list.
async fn list_letters(api: &Api, bar: &ProgressBar) -> anyhow::Result<Vec<LetterSummary>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/letters?limit=100".to_owned(),
            Some(c) => format!("/v1/letters?limit=100&cursor={c}"),
        };
        let page: LetterList = api.get(&path).await?;
        bar.inc(page.items.len() as u64);
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(all),
        }
    }
}

/// Runs the notifier's delivery steps with its usual concurrency until nothing is due;
/// returns the messages sent and failed.
async fn deliver_outbox(
    state: &hybridpost_notifier::NotifierState,
    bar: &ProgressBar,
) -> anyhow::Result<(usize, usize)> {
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..state.config.concurrency.max(1) {
        let (state, sent, failed, bar) = (state.clone(), sent.clone(), failed.clone(), bar.clone());
        tasks.spawn(async move {
            loop {
                let report = hybridpost_notifier::run_step(&state).await?;
                if report.claimed == 0 {
                    return anyhow::Ok(());
                }
                let total = sent.fetch_add(report.sent, Ordering::Relaxed) + report.sent;
                failed.fetch_add(report.failed + report.retried, Ordering::Relaxed);
                bar.set_message(format!("{total} e-mails"));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a delivery worker")??;
    }
    Ok((sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed)))
}

/// Waits until a notifier on another node has delivered every notification due (none pending
/// for two looks a second apart); returns the messages sent and failed.
async fn remote_outbox_delivered(store: &hybridpost_store::Store, bar: &ProgressBar) -> anyhow::Result<(usize, usize)> {
    let mut quiet = 0;
    loop {
        let (pending, sent, failed, _) = {
            let mut conn = store.read().await?;
            hybridpost_store::outbox::count_by_status(&mut conn).await?
        };
        bar.set_message(format!("{sent} e-mails, {pending} waiting"));
        quiet = if pending == 0 { quiet + 1 } else { 0 };
        if quiet == 2 {
            return Ok((usize::try_from(sent)?, usize::try_from(failed)?));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `.eml` files in the outbox folder.
fn count_eml(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()
    })
}

/// Peak resident memory of this process (VmHWM in `/proc/self/status`), MiB; 0 where there is
/// no such file.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Uploads scanned files as one batch.
async fn upload(
    api: &Api,
    mode: &str,
    reason: Option<&str>,
    files: &[&ScannedFile],
) -> anyhow::Result<hybridpost_core::ScanId> {
    let files = files
        .iter()
        .map(|f| {
            Ok(ScanFile {
                name: f.name.clone(),
                bytes: std::fs::read(&f.path).with_context(|| format!("cannot read {}", f.path.display()))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(api.upload_scans(mode, reason, &files).await?.scan_id)
}

/// A sheet going through the scanner.
#[derive(Debug)]
enum Sheet {
    /// A reply sheet to fill in (its raster), with handwritten pages added after it.
    Reply(PathBuf, LetterId, usize),
    /// Page 1 of a returned letter (its raster).
    Returned(PathBuf, LetterId),
    /// A stray handwritten sheet.
    Stray,
}

/// The sheets of one scanned file.
#[derive(Debug)]
struct ScanJob {
    name: String,
    sheets: Vec<Sheet>,
    /// Resolution of its pages.
    dpi: u32,
    seed: u64,
}

fn count_pages(files: &[ScannedFile], is: impl Fn(&PageIs) -> bool) -> usize {
    files.iter().flat_map(|f| f.pages.iter()).filter(|p| is(p)).count()
}

type Damage = BTreeMap<String, usize>;

/// Scans every job into a PDF in `dir`, on `threads` threads; returns the files in job order
/// and the damage done.
fn scan_files(
    jobs: Vec<ScanJob>,
    dir: &Path,
    threads: usize,
    bar: &ProgressBar,
) -> anyhow::Result<(Vec<ScannedFile>, Damage)> {
    let count = jobs.len();
    let jobs: Vec<std::sync::Mutex<Option<ScanJob>>> =
        jobs.into_iter().map(|j| std::sync::Mutex::new(Some(j))).collect();
    let next = AtomicUsize::new(0);
    let results: Vec<anyhow::Result<Vec<(usize, ScannedFile, Damage)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = jobs.get(i) else { return Ok(done) };
                        let job = slot.lock().map_err(|_| anyhow::anyhow!("a scanner thread died"))?.take();
                        let Some(job) = job else { continue };
                        let (file, damage) = scan_file(job, dir, bar)?;
                        done.push((i, file, damage));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a scanner thread panicked"))))
            .collect()
    });
    let mut files: Vec<Option<ScannedFile>> = (0..count).map(|_| None).collect();
    let mut damage = Damage::new();
    for result in results {
        for (i, file, d) in result? {
            files[i] = Some(file);
            for (k, v) in d {
                *damage.entry(k).or_insert(0) += v;
            }
        }
    }
    let files = files.into_iter().collect::<Option<Vec<_>>>().context("a file was not scanned")?;
    Ok((files, damage))
}

/// Fills in, damages and scans the sheets of one file into a scanner PDF.
fn scan_file(job: ScanJob, dir: &Path, bar: &ProgressBar) -> anyhow::Result<(ScannedFile, Damage)> {
    let mut rng = Rng::new(job.seed);
    let mut pages = Vec::new();
    let mut scanned = Vec::new();
    let mut damage = Damage::new();
    let mut page_damage = Vec::new();
    let mut take = |page: &image::GrayImage, is: PageIs, rng: &mut Rng| {
        let s = paper::scan(page, rng);
        for d in &s.damage {
            *damage.entry((*d).to_owned()).or_insert(0) += 1;
        }
        page_damage.push(s.damage.join("+"));
        scanned.push(s);
        pages.push(is);
    };
    for sheet in job.sheets {
        match sheet {
            Sheet::Reply(path, id, added) => {
                let mut page = paper::read_page(&path)?;
                paper::fill_in(&mut page, job.dpi, &mut rng);
                take(&page, PageIs::ReplySheet(id), &mut rng);
                for _ in 0..added {
                    take(&paper::handwritten_sheet(job.dpi, &mut rng), PageIs::Added(id), &mut rng);
                }
            }
            Sheet::Returned(path, id) => {
                let page = paper::read_page(&path)?;
                take(&page, PageIs::Returned(id), &mut rng);
            }
            Sheet::Stray => take(&paper::handwritten_sheet(job.dpi, &mut rng), PageIs::Stray, &mut rng),
        }
        bar.inc(1);
    }
    let pdf = paper::scanner_pdf(scanned, job.dpi as f32)?;
    let path = dir.join(&job.name);
    std::fs::write(&path, pdf).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((ScannedFile { path, name: job.name, pages, damage: page_damage }, damage))
}
