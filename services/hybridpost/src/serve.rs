//! `hybridpost serve`: opens the store, runs the chosen roles on one listener, and shuts down
//! gracefully on SIGTERM or Ctrl-C.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hybridpost_compose::{Composer, PinOnPage};
use hybridpost_gateway::{AppState, GatewayConfig};
use hybridpost_printroom::{PdfBatchRenderer, PrintItem, PrintroomConfig, PrintroomState};
use hybridpost_store::{BlobStore, Store, StoreOptions};
use hybridpost_web::auth::ApiKeys;
use hybridpost_web::rate_limit::RateLimiter;

use crate::config::Config;

/// A part of the service that `--role` can choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The agency API.
    Gateway,
    /// The print sites' API, batch cut-offs and batch rendering.
    Printroom,
    /// Scan back: uploads of scanned replies and returns, their decoding workers, the review
    /// queue, and agencies' replies.
    Intake,
    /// The public verification page, trust list, letter status, PIN copies and e-mail opt-in.
    Verify,
    /// The outbox worker (e-mails, webhooks, paper fallback) and digital letters' `/d/…` links.
    Notifier,
    /// The consoles for people, at `/console/`.
    Console,
}

impl Role {
    /// Every role, in start-up order.
    pub const ALL: [Role; 6] =
        [Role::Gateway, Role::Printroom, Role::Intake, Role::Verify, Role::Notifier, Role::Console];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Printroom => "printroom",
            Role::Intake => "intake",
            Role::Verify => "verify",
            Role::Notifier => "notifier",
            Role::Console => "console",
        }
    }
}

impl FromStr for Role {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            anyhow::anyhow!("unknown role {s:?}; the roles are {}", known.join(", "))
        })
    }
}

/// Opens the store the configuration names and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if !config.uses_postgres() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data folder {}", config.data_dir.display()))?;
    }
    let options = StoreOptions { max_connections: config.database_max_connections, ..Default::default() };
    let store = Store::connect(&config.database_url(), &options)
        .await
        .with_context(|| format!("cannot open the database ({})", config.database_description()))?;
    store.migrate().await.context("cannot bring the database schema up to date")?;
    Ok(store)
}

/// The chosen roles over one store: their routes under the common layers, and the states
/// their background workers run on (not started yet).
pub struct Service {
    /// Every role's routes with the request id, trace, timeout and metrics layers.
    pub app: Router,
    /// The store every role shares.
    pub store: Store,
    /// The agency API, when it is one of the roles (its worker sends letter batches).
    pub gateway: Option<AppState>,
    /// The print room, when it is one of the roles.
    pub printroom: Option<PrintroomState>,
    /// Scan intake, when it is one of the roles.
    pub intake: Option<hybridpost_intake::IntakeState>,
    /// The notifier, when it is one of the roles.
    pub notifier: Option<hybridpost_notifier::NotifierState>,
    /// The verification service, when it is one of the roles (its worker applies channel
    /// changes whose cooling-off period has passed).
    pub verify: Option<hybridpost_verify::VerifyState>,
    /// Where e-mail goes, in words, when the notifier is one of the roles.
    pub mail: Option<String>,
    /// Where blobs are, in words (a folder, or `s3://bucket/prefix/`).
    pub blobs: String,
}

impl Service {
    /// Starts the background workers of every role that has them.
    pub fn start_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut workers = Vec::new();
        if let Some(state) = &self.gateway {
            workers.push(tokio::spawn(hybridpost_gateway::run_worker(state.clone())));
        }
        if let Some(state) = &self.printroom {
            workers.push(tokio::spawn(hybridpost_printroom::run_workers(state.clone())));
        }
        if let Some(state) = &self.intake {
            workers.push(tokio::spawn(hybridpost_intake::run_workers(state.clone())));
        }
        if let Some(state) = &self.notifier {
            workers.push(tokio::spawn(hybridpost_notifier::run_workers(state.clone())));
        }
        if let Some(state) = &self.verify {
            workers.push(tokio::spawn(hybridpost_verify::channel::run_workers(state.clone(), Duration::from_secs(60))));
        }
        workers
    }
}

/// The roles named in the configuration (all when none are).
pub fn configured_roles(config: &Config) -> anyhow::Result<Vec<Role>> {
    let roles: Vec<Role> = match &config.roles {
        None => Role::ALL.to_vec(),
        Some(list) => list.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<_, _>>()?,
    };
    anyhow::ensure!(!roles.is_empty(), "--role names no role");
    Ok(roles)
}

/// Opens the store and blob storage and sets up `roles`; links in seals and e-mails start
/// with `public_url`.
pub async fn build(config: &Config, roles: &[Role], public_url: &str) -> anyhow::Result<Service> {
    let citizen_id_key = config.citizen_id_key()?;
    let store = open_store(config).await?;
    let blobs = config.blob_store()?;
    blobs.check().await.with_context(|| format!("cannot reach blob storage at {}", blobs.describe()))?;
    let public_url = public_url.to_owned();

    let secret = hybridpost_seal::ServiceSecret::new(&config.secret_key()?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keyring = hybridpost_keyring::Keyring::new(store.clone(), secret);
    keyring.ensure_trust_list(hybridpost_keyring::today()).await.context("cannot publish the trust list")?;
    let keys = ApiKeys::new(store.clone(), RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst))
        .with_client_ip_header(config.client_ip_header_name()?);
    let composer = Composer::new(keyring.clone(), public_url.clone());
    let mut service = Service {
        app: Router::new(),
        store: store.clone(),
        gateway: None,
        printroom: None,
        intake: None,
        notifier: None,
        verify: None,
        mail: None,
        blobs: blobs.describe(),
    };
    // The print room's state: its role's API and workers, and the console's batch pages.
    let compose = composer.clone();
    let print_state = PrintroomState {
        store: store.clone(),
        keys: keys.clone(),
        blobs: blobs.clone(),
        renderer: Arc::new(PdfBatchRenderer::new(Arc::new(move |item: &PrintItem| {
            compose.compose(&item.letter, &item.inputs, PinOnPage::Printed)
        }))),
        config: Arc::new(PrintroomConfig {
            max_batch_letters: config.print_batch_max_letters,
            batch_interval: Duration::from_secs(config.print_batch_interval_secs),
            alarm_after: (config.print_alarm_after_hours > 0)
                .then(|| Duration::from_secs(config.print_alarm_after_hours.saturating_mul(3600))),
            render_lease: Duration::from_secs(config.print_render_lease_secs.max(1)),
        }),
    };
    // Scan intake's state: its role's API and workers, and the console's scan pages.
    let defaults = hybridpost_intake::IntakeConfig::default();
    let intake_state = hybridpost_intake::IntakeState {
        store: store.clone(),
        keys: keys.clone(),
        blobs: blobs.clone(),
        keyring: keyring.clone(),
        reply_key: composer.reply_key(),
        config: Arc::new(hybridpost_intake::IntakeConfig {
            limits: hybridpost_scan::input::Limits {
                max_file_bytes: config.scan_max_file_bytes,
                ..defaults.limits.clone()
            },
            max_files: config.scan_max_files,
            page_budget: Duration::from_millis(config.scan_page_budget_ms),
            workers: if config.scan_workers == 0 { defaults.workers } else { config.scan_workers },
            upload_idle_timeout: Duration::from_secs(config.scan_upload_idle_secs.max(1)),
            lease: Duration::from_secs(config.scan_claim_secs.max(1)),
            ..defaults
        }),
    };
    let mut app = Router::new();
    let mut openapi: Option<utoipa::openapi::OpenApi> = None;
    for role in roles {
        let (routes, doc) = match role {
            Role::Gateway => {
                let state = AppState::new(
                    store.clone(),
                    keys.clone(),
                    GatewayConfig {
                        citizen_id_key: Arc::from(citizen_id_key.as_slice()),
                        max_body_bytes: config.max_body_bytes,
                        webhook_allow_private_targets: config.webhook_allow_private_targets,
                    },
                    composer.clone(),
                    blobs.clone(),
                );
                service.gateway = Some(state.clone());
                with_doc(hybridpost_gateway::parts(state))
            }
            Role::Printroom => {
                service.printroom = Some(print_state.clone());
                with_doc(hybridpost_printroom::parts(print_state.clone()))
            }
            Role::Intake => {
                service.intake = Some(intake_state.clone());
                with_doc(hybridpost_intake::parts(intake_state.clone()))
            }
            Role::Verify => {
                let state = verify_state(config, &store, &composer, &blobs)?;
                service.verify = Some(state.clone());
                with_doc(hybridpost_verify::parts(state))
            }
            Role::Console => {
                let state = hybridpost_console::ConsoleState::new(
                    store.clone(),
                    console_config(config, &public_url)?,
                    print_state.clone(),
                    intake_state.clone(),
                    composer.clone(),
                )?;
                (hybridpost_console::router(state), None)
            }
            Role::Notifier => {
                let (mailer_config, description) = config.mailer()?;
                let mailer = hybridpost_notify::Mailer::new(mailer_config).context("cannot set up e-mail")?;
                let hours = |h: u64| Duration::from_secs(h * 3600);
                let state = hybridpost_notifier::NotifierState {
                    store: store.clone(),
                    mailer,
                    webhooks: hybridpost_notify::WebhookClient::new(
                        Duration::from_secs(30),
                        config.webhook_allow_private_targets,
                    )
                    .map_err(|e| anyhow::anyhow!("cannot set up webhooks: {e}"))?,
                    secret: keyring.secret().clone(),
                    composer: composer.clone(),
                    blobs: blobs.clone(),
                    config: Arc::new(hybridpost_notifier::NotifierConfig {
                        public_url: public_url.clone(),
                        mail_from: config.mail_from.clone(),
                        concurrency: config.smtp_max_connections.max(1) as usize,
                        link_ttl: hours(config.digital_link_ttl_days * 24),
                        open_timeout: hours(config.digital_open_timeout_hours),
                        give_up_after: hours(config.notification_give_up_hours),
                        ..Default::default()
                    }),
                };
                tracing::info!("e-mail goes to {description}");
                service.mail = Some(description);
                service.notifier = Some(state.clone());
                with_doc(hybridpost_notifier::parts(state))
            }
        };
        app = app.merge(routes);
        let Some(doc) = doc else { continue };
        openapi = Some(match openapi {
            None => doc,
            Some(mut merged) => {
                merged.merge(doc);
                merged
            }
        });
    }
    // The console alone has no API operations: its document is empty.
    let openapi = openapi.unwrap_or_else(|| {
        utoipa::openapi::OpenApiBuilder::new()
            .info(utoipa::openapi::InfoBuilder::new().title("hybridpost").version(env!("CARGO_PKG_VERSION")).build())
            .build()
    });
    service.app =
        hybridpost_web::layers::serve_app(app, openapi, store, Duration::from_secs(config.request_timeout_secs));
    Ok(service)
}

/// A role's routes with its part of the API document.
fn with_doc((routes, doc): (Router, utoipa::openapi::OpenApi)) -> (Router, Option<utoipa::openapi::OpenApi>) {
    (routes, Some(doc))
}

/// The consoles' settings: links and the origin forms must come from are `public_url`'s.
pub fn console_config(config: &Config, public_url: &str) -> anyhow::Result<hybridpost_console::ConsoleConfig> {
    Ok(hybridpost_console::ConsoleConfig {
        public_url: public_url.trim_end_matches('/').to_owned(),
        client_ip_header: config.client_ip_header_name()?,
        oidc: config.oidc()?,
        webhook_allow_private_targets: config.webhook_allow_private_targets,
        ..hybridpost_console::ConsoleConfig::default()
    })
}

/// Runs the service until a shutdown signal.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let roles = configured_roles(&config)?;
    // Fails early on a missing secret, before the listener is taken.
    config.citizen_id_key()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at).await.with_context(|| format!("cannot listen on {at} for metrics"))?,
        ),
        None => None,
    };
    let addr = listener.local_addr().context("listener address")?;
    let base = format!("http://{addr}");
    let public_url = config.public_url.clone().unwrap_or_else(|| base.clone());
    let service = build(&config, &roles, &public_url).await?;
    let workers = service.start_workers();

    let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    tracing::info!(
        listen = %addr,
        roles = %role_names.join(","),
        database = %config.database_description(),
        "hybridpost serving on {base}"
    );
    println!("hybridpost serving on {base}");
    println!("  roles:    {}", role_names.join(", "));
    println!("  database: {}", config.database_description());
    println!("  blobs:    {}", service.blobs);
    if let Some(mail) = &service.mail {
        println!("  e-mail:   {mail}");
    }
    println!("  seals:    {public_url}/V  (set HYBRIDPOST_PUBLIC_URL for the public host)");
    println!("  health:   {base}/healthz    API description: {base}/openapi.json");
    if roles.contains(&Role::Console) {
        println!("  console:  {public_url}/console/  (first person: hybridpost admin create-user --help)");
    }
    let metrics = match metrics_listener {
        Some(listener) => {
            let at = listener.local_addr().context("metrics listener address")?;
            println!("  metrics:  http://{at}/metrics");
            let app = hybridpost_web::health::metrics_router();
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("the metrics listener failed: {e}");
                }
            }))
        }
        None => {
            println!("  metrics:  off (set metrics_listen, e.g. 127.0.0.1:9090)");
            None
        }
    };
    println!("  an agency API key: hybridpost admin create-agency --name NAME (same --data-dir)");
    println!("Stop with Ctrl-C.");

    let maintenance = tokio::spawn(maintain(service.store.clone()));
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let draining = async move {
        shutdown_signal().await;
        hybridpost_web::drain::begin();
        tracing::info!(
            grace_secs = grace.as_secs(),
            "draining: /readyz answers 503 and no new work is claimed; requests are still served for {}s",
            grace.as_secs()
        );
        tokio::time::sleep(grace).await;
    };
    hybridpost_web::serve(service.app, listener, draining).await.context("server failed")?;
    maintenance.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    // The workers finish the item in hand (a batch render, a scan file, a delivery) and return;
    // what is still running at the deadline is stopped, and its lease expires for another node.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.shutdown_timeout_secs);
    let mut stopped = 0usize;
    for mut worker in workers {
        if tokio::time::timeout_at(deadline, &mut worker).await.is_err() {
            worker.abort();
            stopped += 1;
        }
    }
    if stopped > 0 {
        tracing::warn!(
            workers = stopped,
            "{stopped} workers were still busy at the shutdown deadline and were stopped"
        );
    }
    service.store.close().await;
    tracing::info!("hybridpost stopped");
    Ok(())
}

/// The verification role's state: links in e-mails point at the public URL (the listen address
/// when none is set); e-mail goes to `.eml` files in `DATA_DIR/outbox`.
fn verify_state(
    config: &Config,
    store: &Store,
    composer: &Composer,
    blobs: &BlobStore,
) -> anyhow::Result<hybridpost_verify::VerifyState> {
    let public_url = composer.public_url().to_owned();
    // Mail comes from the public host; without one there is no domain to send from.
    let mail_from = config.mail_from.clone();
    let (mailer_config, _) = config.mailer()?;
    let mailer =
        hybridpost_notify::Mailer::new(mailer_config).map_err(|e| anyhow::anyhow!("cannot set up e-mail: {e}"))?;
    let client_ip_header = config.client_ip_header_name()?;
    // The digital copy is the letter as printed.
    let (copy_store, copy_composer, copy_blobs) = (store.clone(), composer.clone(), blobs.clone());
    let renderer: hybridpost_verify::CopyRenderer = Arc::new(move |letter| {
        let (store, composer, blobs) = (copy_store.clone(), copy_composer.clone(), copy_blobs.clone());
        Box::pin(async move { Ok(composer.letter_pdf(&store, &blobs, letter).await?) })
    });
    Ok(hybridpost_verify::VerifyState::new(
        store.clone(),
        composer.keyring().clone(),
        mailer,
        renderer,
        hybridpost_verify::VerifyConfig {
            client_ip_header,
            optin_requests_per_letter: config.optin_requests_per_letter,
            channel_change_cooling_off: Duration::from_secs(
                u64::from(config.channel_change_cooling_off_days.max(1)) * 24 * 60 * 60,
            ),
            ..hybridpost_verify::VerifyConfig::new(public_url, mail_from)
        },
    ))
}

/// How long a mail-merge draft (the file read, before or after sending) is kept.
const MERGE_DRAFT_KEPT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How long an idempotency record answers repeats of its request.
const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// Housekeeping every hour: forgets idempotency records older than the window. Each node
/// runs it; the delete is idempotent, so several nodes doing it at once is harmless.
async fn maintain(store: Store) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        every_hour.tick().await;
        let cutoff = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - IDEMPOTENCY_WINDOW);
        let deleted = async {
            let mut tx = store.begin().await?;
            let n = hybridpost_store::idempotency::delete_older_than(&mut tx, &cutoff).await?;
            tx.commit().await?;
            Ok::<u64, hybridpost_store::StoreError>(n)
        }
        .await;
        match deleted {
            Ok(n) => tracing::debug!(deleted = n, "forgot {n} idempotency records older than 24 h"),
            Err(e) => tracing::warn!("idempotency housekeeping failed: {e}"),
        }
        // Mail-merge drafts hold citizens' names and addresses: kept a week, sent or not.
        let cutoff = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - MERGE_DRAFT_KEPT);
        let forgotten = async {
            let mut tx = store.begin().await?;
            let n = hybridpost_store::letter_batches::delete_drafts_before(&mut tx, &cutoff).await?;
            tx.commit().await?;
            Ok::<u64, hybridpost_store::StoreError>(n)
        }
        .await;
        match forgotten {
            Ok(n) => tracing::debug!(deleted = n, "forgot {n} mail-merge drafts older than a week"),
            Err(e) => tracing::warn!("mail-merge draft housekeeping failed: {e}"),
        }
        match hybridpost_verify::forget_stale(&store, time::OffsetDateTime::now_utc()).await {
            Ok((attempts, links)) => {
                tracing::debug!(attempts, links, "forgot {attempts} old PIN attempts and {links} expired opt-in links")
            }
            Err(e) => tracing::warn!("verification housekeeping failed: {e}"),
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing open requests");
}
