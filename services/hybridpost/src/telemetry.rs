//! Logging: compact lines for people or JSON for collectors, on standard error, filtered by
//! `RUST_LOG` (default `info`). Logs carry ids and hashes, never names, addresses, citizen
//! ids, PINs or keys.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Sets up logging once. Admin commands log warnings only, so their JSON output stays clean.
pub fn init(format: LogFormat, quiet: bool) {
    let default = if quiet { "warn" } else { "info,sqlx=warn,tower_http=warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Compact => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
