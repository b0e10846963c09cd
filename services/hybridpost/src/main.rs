//! `hybridpost`: the one binary. `serve` runs the roles (all by default) in one process;
//! `admin` commands create agencies, sites and keys and import e-channels, against the same
//! database, also while `serve` runs; `demo` runs the whole loop, end to end.
#![forbid(unsafe_code)]

mod admin;
mod config;
mod demo;
mod render;
mod serve;
mod telemetry;
mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat, Overrides};

/// hybridpost: hybrid paper/digital mail for government agencies.
#[derive(Debug, Parser)]
#[command(name = "hybridpost", version, about)]
struct Cli {
    /// Data folder (SQLite database, blobs, generated secrets) [default: hybridpost-data]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file [default: DATA_DIR/hybridpost.toml when it exists]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format [default: compact]
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP APIs until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Roles to run, comma separated (gateway) [default: all]
        #[arg(long = "role", value_name = "ROLE,...")]
        roles: Option<String>,
    },
    /// Administration: agencies, sites, keys, e-channels.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Render a letter (LETTER.json) to a print-ready PDF, offline.
    Render(render::RenderArgs),
    /// Check the verification seal in a photo, scan or PDF of a letter, offline. Exit code 0
    /// only for a genuine seal, 1 for any other verdict, 2 when the check could not be made.
    Verify(verify::VerifyArgs),
    /// The whole loop on an empty data dir: letters sent, printed, replied to, returned,
    /// scanned back and notified, then every count checked. Exit code 1 when a count is off.
    Demo(demo::DemoArgs),
}

/// glibc arenas a served process may use. glibc gives threads arenas of their own (up to
/// eight per core) and keeps what a thread freed in its arena; when blocking threads take
/// turns loading large PDFs within the PDF memory budget (`hybridpost_pdfguard::budget`),
/// each arena keeps its high-water mark and the process grows past the budget (six
/// concurrent checks of one file: 424 MB resident with the default, 129 MB with 2).
const MALLOC_ARENAS: &str = "2";

/// `serve` runs with [`MALLOC_ARENAS`]: glibc reads `MALLOC_ARENA_MAX` only at start-up, so
/// when it is not set the binary starts itself again with it, once.
fn with_bounded_arenas(cli: &Cli) {
    use std::os::unix::process::CommandExt;
    if !matches!(cli.command, Command::Serve { .. }) || std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let error =
        std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("MALLOC_ARENA_MAX", MALLOC_ARENAS).exec();
    // Not started again: serve as is.
    eprintln!("hybridpost: could not start again with MALLOC_ARENA_MAX={MALLOC_ARENAS} ({error}); serving without it");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    with_bounded_arenas(&cli);
    if let Command::Render(args) = &cli.command {
        // Needs neither configuration nor database: one file in, one file out.
        return match render::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(render::RenderFailure::Invalid(errors)) => {
                for error in errors {
                    eprintln!("hybridpost: {error}");
                }
                ExitCode::from(2)
            }
            Err(render::RenderFailure::Other(e)) => {
                let causes: Vec<String> = e.chain().map(ToString::to_string).collect();
                eprintln!("hybridpost: {}", causes.join(": "));
                ExitCode::FAILURE
            }
        };
    }
    let overrides = Overrides {
        listen: match &cli.command {
            Command::Serve { listen, .. } => *listen,
            Command::Admin(_) | Command::Render(_) | Command::Verify(_) | Command::Demo(_) => None,
        },
        data_dir: cli.data_dir.clone(),
        log_format: cli.log_format,
        roles: match &cli.command {
            Command::Serve { roles, .. } => roles.clone(),
            Command::Admin(_) | Command::Render(_) | Command::Verify(_) | Command::Demo(_) => None,
        },
    };
    if let Command::Verify(args) = &cli.command {
        return run_verify(Config::load(cli.config.as_deref(), overrides).ok().map(|l| l.config), args);
    }
    let loaded = match Config::load(cli.config.as_deref(), overrides) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("hybridpost: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(loaded.config.log_format, matches!(cli.command, Command::Admin(_) | Command::Demo(_)));
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hybridpost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ok(false): the command ran and found something wrong (the demo's counts).
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { .. } => serve::serve(loaded.config).await.map(|()| true),
            Command::Admin(command) => admin::run(loaded.config, command).await.map(|()| true),
            Command::Demo(args) => demo::run(loaded.config, &args).await.and_then(|summary| {
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&summary)?);
                } else {
                    demo::print_summary(&summary);
                }
                Ok(summary.problems.is_empty())
            }),
            Command::Render(_) | Command::Verify(_) => Ok(true),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            // One plain line: what failed and why, with its causes.
            let causes: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("hybridpost: {}", causes.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run_verify(config: Option<Config>, args: &verify::VerifyArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hybridpost: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(verify::run(config, args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            let causes: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("hybridpost: {}", causes.join(": "));
            ExitCode::from(2)
        }
    }
}
