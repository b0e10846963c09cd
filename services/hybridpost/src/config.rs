//! Configuration in layers: built-in defaults, then a TOML file, then `HYBRIDPOST_*`
//! environment variables, then command-line flags. Unknown keys are reported as warnings (a
//! typo should not pass silently); a missing secret that cannot be made up is an error.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use hybridpost_core::validation::edit_distance;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Every setting, with the defaults that make `hybridpost serve` work with no file.
#[derive(Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address to serve Prometheus `/metrics` on (`127.0.0.1:9090`); not served when unset.
    /// Never the public listener, which answers 404 for `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
    /// Folder for the SQLite database, blobs and generated secrets.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; the SQLite file in the data dir when not given.
    pub database_url: Option<SecretString>,
    /// Connections in the database pool.
    pub database_max_connections: u32,
    /// The public base URL (verification links); the listen address when not given.
    pub public_url: Option<String>,
    /// `compact` (for people) or `json` (for log collectors).
    pub log_format: LogFormat,
    /// Roles to run; all when not given.
    pub roles: Option<String>,
    /// Key for hashing citizen ids. Generated into the data dir on SQLite; must be set (the
    /// same on every node) with PostgreSQL.
    pub citizen_id_key: Option<SecretString>,
    /// The service secret: wraps private signing keys at rest and keys PIN hashes and reply-code
    /// MACs. Generated into the data dir on SQLite; must be set (the same on every node) with
    /// PostgreSQL.
    pub secret_key: Option<SecretString>,
    /// Largest request body the agency API accepts, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds.
    pub request_timeout_secs: u64,
    /// Sustained requests per second per API key; 0 turns the limit off.
    pub rate_limit_per_second: u32,
    /// Burst of requests per API key above the sustained rate.
    pub rate_limit_burst: u32,
    /// Largest blob (PDF, scan) stored, in bytes.
    pub max_blob_bytes: usize,
    /// Seconds between print batch cut-offs.
    pub print_batch_interval_secs: u64,
    /// Most letters in one print batch.
    pub print_batch_max_letters: i64,
    /// Largest scanned file accepted in an upload, in bytes.
    pub scan_max_file_bytes: u64,
    /// Most files in one scan upload.
    pub scan_max_files: usize,
    /// Milliseconds allowed to search one scanned page for codes.
    pub scan_page_budget_ms: u64,
    /// Scan decoding workers in this process; the number of cores when 0.
    pub scan_workers: usize,
    /// Days a citizen's confirmed request for e-mail delivery waits before it takes effect,
    /// while a letter about it travels to their postal address (at least 1).
    pub channel_change_cooling_off_days: u32,
    /// E-mail opt-in requests one letter may make in 24 hours.
    pub optin_requests_per_letter: u32,
    /// Seconds a scan upload may send nothing before it is stopped; it has no total time limit.
    pub scan_upload_idle_secs: u64,
    /// Behind a reverse proxy: the header carrying the client's address (`x-forwarded-for`),
    /// for per-client limits (the verification page, failed authentications). Unset: the
    /// connection's address.
    pub client_ip_header: Option<String>,
    /// SMTP server for outgoing e-mail; without one, e-mails are written as `.eml` files into
    /// `DATA_DIR/outbox`.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u16,
    /// `starttls` (port 587), `tls` (implicit TLS, port 465) or `plain` (a local relay only).
    pub smtp_security: SmtpSecurityName,
    /// SMTP user name, when the server wants one.
    pub smtp_user: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<SecretString>,
    /// Most SMTP connections at once (and deliveries in flight).
    pub smtp_max_connections: u32,
    /// The sender of every e-mail; its domain is also the Message-ID's.
    pub mail_from: String,
    /// DKIM private key file: PKCS#1 PEM for rsa-sha256, or the base64 seed for ed25519-sha256.
    pub dkim_key_file: Option<PathBuf>,
    /// DKIM selector (`s=`).
    pub dkim_selector: Option<String>,
    /// DKIM signing domain (`d=`).
    pub dkim_domain: Option<String>,
    /// Days a digital letter's link works.
    pub digital_link_ttl_days: u64,
    /// Hours after its notice a digital letter that was not opened goes to paper.
    pub digital_open_timeout_hours: u64,
    /// Hours after which an e-mail or webhook that keeps failing is given up.
    pub notification_give_up_hours: u64,
    /// Hours a letter may wait for print before it raises the `print_overdue` alarm; 0 never.
    pub print_alarm_after_hours: u64,
    /// Let agencies register webhooks to private addresses and local names (loopback,
    /// RFC 1918, RFC 4193, `*.internal`…), and over plain `http://` to those: for receivers on
    /// the premises. Off by default: webhooks go to public `https://` hosts only, checked again
    /// on every address a name resolves to.
    pub webhook_allow_private_targets: bool,
    /// The OpenID Connect provider people may sign in to the console through (its issuer URL,
    /// e.g. `https://imauth.bora.dopa.go.th` for ThaID); password sign-in only when unset.
    pub oidc_issuer_url: Option<String>,
    /// This service's client id at the OpenID provider.
    pub oidc_client_id: Option<String>,
    /// This service's client secret at the OpenID provider.
    pub oidc_client_secret: Option<SecretString>,
    /// The provider's name on the sign-in button (`ThaID`).
    pub oidc_name: String,
    /// Keep blobs (batch PDFs, agency PDFs, scans, reply PDFs) in this S3-compatible bucket
    /// instead of `DATA_DIR/blobs`: required when nodes do not share a disk.
    pub s3_bucket: Option<String>,
    /// The S3 server's URL (`https://s3.example.go.th`, `http://127.0.0.1:8333`); AWS when unset.
    pub s3_endpoint: Option<String>,
    /// The bucket's region; S3-compatible servers mostly accept any.
    pub s3_region: String,
    /// The access key id (else `AWS_ACCESS_KEY_ID`).
    pub s3_access_key_id: Option<String>,
    /// The secret access key (else `AWS_SECRET_ACCESS_KEY`).
    pub s3_secret_access_key: Option<SecretString>,
    /// Path-style requests (`endpoint/bucket/key`), as most self-hosted servers need.
    pub s3_path_style: bool,
    /// Allow a plain `http://` endpoint, for a server on the same host or private network.
    pub s3_allow_http: bool,
    /// A folder in the bucket for all of this service's blobs, for a shared bucket.
    pub s3_prefix: Option<String>,
    /// Seconds a print room node holds a batch it renders: a node that dies mid-render leaves
    /// the batch to another after this.
    pub print_render_lease_secs: u64,
    /// Seconds an intake node's claim on a scanned file lasts without being renewed (it is
    /// renewed as pages are decoded): a node that dies leaves the file to another after this.
    pub scan_claim_secs: u64,
    /// Seconds a stopping node keeps serving requests after `/readyz` turns 503, for load
    /// balancers to notice.
    pub shutdown_grace_secs: u64,
    /// Seconds a stopping node's workers have to finish the item in hand before they are stopped.
    pub shutdown_timeout_secs: u64,
}

/// SMTP connection security, as written in the configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurityName {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    #[default]
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption: only for a relay on the same machine.
    Plain,
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Compact,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            data_dir: PathBuf::from("hybridpost-data"),
            database_url: None,
            database_max_connections: 16,
            public_url: None,
            log_format: LogFormat::Compact,
            roles: None,
            citizen_id_key: None,
            secret_key: None,
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            rate_limit_per_second: 500,
            rate_limit_burst: 1000,
            max_blob_bytes: 1024 * 1024 * 1024,
            print_batch_interval_secs: 3600,
            print_batch_max_letters: 5000,
            scan_max_file_bytes: 100 * 1024 * 1024,
            scan_max_files: 200,
            scan_page_budget_ms: 3000,
            scan_workers: 0,
            channel_change_cooling_off_days: 14,
            optin_requests_per_letter: 3,
            scan_upload_idle_secs: 60,
            client_ip_header: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_security: SmtpSecurityName::Starttls,
            smtp_user: None,
            smtp_password: None,
            smtp_max_connections: 8,
            mail_from: "hybridpost <noreply@hybridpost.invalid>".into(),
            dkim_key_file: None,
            dkim_selector: None,
            dkim_domain: None,
            digital_link_ttl_days: 30,
            digital_open_timeout_hours: 7 * 24,
            notification_give_up_hours: 48,
            print_alarm_after_hours: 48,
            webhook_allow_private_targets: false,
            oidc_issuer_url: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_name: "OpenID".into(),
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: true,
            s3_allow_http: false,
            s3_prefix: None,
            print_render_lease_secs: 600,
            scan_claim_secs: 300,
            shutdown_grace_secs: 2,
            shutdown_timeout_secs: 30,
        }
    }
}

const KNOWN_KEYS: &[&str] = &[
    "listen",
    "metrics_listen",
    "data_dir",
    "database_url",
    "database_max_connections",
    "public_url",
    "log_format",
    "roles",
    "citizen_id_key",
    "secret_key",
    "max_body_bytes",
    "request_timeout_secs",
    "rate_limit_per_second",
    "rate_limit_burst",
    "max_blob_bytes",
    "print_batch_interval_secs",
    "print_batch_max_letters",
    "scan_max_file_bytes",
    "scan_max_files",
    "scan_page_budget_ms",
    "scan_workers",
    "channel_change_cooling_off_days",
    "optin_requests_per_letter",
    "scan_upload_idle_secs",
    "client_ip_header",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_user",
    "smtp_password",
    "smtp_max_connections",
    "mail_from",
    "dkim_key_file",
    "dkim_selector",
    "dkim_domain",
    "digital_link_ttl_days",
    "digital_open_timeout_hours",
    "notification_give_up_hours",
    "print_alarm_after_hours",
    "webhook_allow_private_targets",
    "oidc_issuer_url",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_name",
    "s3_bucket",
    "s3_endpoint",
    "s3_region",
    "s3_access_key_id",
    "s3_secret_access_key",
    "s3_path_style",
    "s3_allow_http",
    "s3_prefix",
    "print_render_lease_secs",
    "scan_claim_secs",
    "shutdown_grace_secs",
    "shutdown_timeout_secs",
];

/// Environment variables with this prefix after `HYBRIDPOST_` are the test suite's, not settings.
const TEST_PREFIX: &str = "test_";

// Secrets stay out of Debug output and so out of logs.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_description())
            .field("public_url", &self.public_url)
            .field("log_format", &self.log_format)
            .field("roles", &self.roles)
            .field("citizen_id_key", &self.citizen_id_key.as_ref().map(|_| "[set]"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "[set]"))
            .field("smtp_host", &self.smtp_host)
            .field("smtp_password", &self.smtp_password.as_ref().map(|_| "[set]"))
            .field("oidc_issuer_url", &self.oidc_issuer_url)
            .field("oidc_client_secret", &self.oidc_client_secret.as_ref().map(|_| "[set]"))
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_secret_access_key", &self.s3_secret_access_key.as_ref().map(|_| "[set]"))
            .finish_non_exhaustive()
    }
}

/// Flags that override the other layers.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--role`.
    pub roles: Option<String>,
}

/// A configuration that was read, with the warnings found while reading it.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Unknown keys and the like, to log once logging is up.
    pub warnings: Vec<String>,
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value has the wrong type or the file is not TOML.
    #[error("configuration: {0}")]
    Invalid(String),
    /// The named config file does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
}

impl Config {
    /// Reads defaults, then `file` (if given, or `hybridpost.toml` in the data dir if present),
    /// then the environment, then the flags.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Loaded, ConfigError> {
        let env = Env::prefixed("HYBRIDPOST_").filter(|k| !k.as_str().to_ascii_lowercase().starts_with(TEST_PREFIX));
        let mut figment = Figment::new();
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => {
                // Look in the data dir the environment or flags name, if any.
                let data_dir = overrides
                    .data_dir
                    .clone()
                    .or_else(|| std::env::var_os("HYBRIDPOST_DATA_DIR").map(PathBuf::from))
                    .unwrap_or_else(|| Config::default().data_dir);
                let default_file = data_dir.join("hybridpost.toml");
                if default_file.exists() {
                    figment = figment.merge(Toml::file(default_file));
                }
            }
        }
        figment = figment.merge(env);

        let mut warnings = Vec::new();
        if let Ok(dict) = figment.extract::<figment::value::Dict>() {
            for key in dict.keys() {
                if !KNOWN_KEYS.contains(&key.as_str()) {
                    let hint = KNOWN_KEYS
                        .iter()
                        .min_by_key(|k| edit_distance(k, key))
                        .filter(|k| edit_distance(k, key) <= 3)
                        .map(|k| format!(" (did you mean {k}?)"))
                        .unwrap_or_default();
                    warnings.push(format!("unknown configuration key {key:?} is ignored{hint}"));
                }
            }
        }
        let mut config: Config = figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(dir) = overrides.data_dir {
            config.data_dir = dir;
        }
        if let Some(format) = overrides.log_format {
            config.log_format = format;
        }
        if let Some(roles) = overrides.roles {
            config.roles = Some(roles);
        }
        Ok(Loaded { config, warnings })
    }

    /// The console's OpenID Connect sign-in, when its issuer is set (then the client id and
    /// secret must be too).
    pub fn oidc(&self) -> anyhow::Result<Option<hybridpost_console::OidcConfig>> {
        let Some(issuer_url) = self.oidc_issuer_url.clone() else { return Ok(None) };
        let (Some(client_id), Some(secret)) = (self.oidc_client_id.clone(), self.oidc_client_secret.as_ref()) else {
            anyhow::bail!("oidc_issuer_url is set: oidc_client_id and oidc_client_secret must be set too");
        };
        Ok(Some(hybridpost_console::OidcConfig {
            issuer_url,
            client_id,
            client_secret: secret.expose_secret().to_owned(),
            name: self.oidc_name.clone(),
        }))
    }

    /// `client_ip_header` as a header name, when set.
    pub fn client_ip_header_name(&self) -> anyhow::Result<Option<axum::http::HeaderName>> {
        self.client_ip_header
            .as_deref()
            .map(|h| axum::http::HeaderName::try_from(h.trim()))
            .transpose()
            .map_err(|e| anyhow::anyhow!("client_ip_header is not an HTTP header name: {e}"))
    }

    /// Blob storage: the S3 bucket when `s3_bucket` is set, else `DATA_DIR/blobs`.
    pub fn blob_store(&self) -> anyhow::Result<hybridpost_store::BlobStore> {
        use hybridpost_store::BlobStore;
        let Some(bucket) = self.s3_bucket.clone().filter(|b| !b.trim().is_empty()) else {
            return BlobStore::local(self.data_dir.join("blobs"), self.max_blob_bytes)
                .map_err(|e| anyhow::anyhow!("cannot open blob storage: {e}"));
        };
        let settings = hybridpost_store::S3Settings {
            endpoint: self.s3_endpoint.clone(),
            bucket,
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.as_ref().map(|s| s.expose_secret().to_owned()),
            path_style: self.s3_path_style,
            allow_http: self.s3_allow_http,
            prefix: self.s3_prefix.clone(),
        };
        BlobStore::s3(&settings, self.max_blob_bytes).map_err(|e| anyhow::anyhow!("cannot open blob storage: {e}"))
    }

    /// The database URL: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_owned(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("hybridpost.db").display()),
        }
    }

    /// True when the database is PostgreSQL.
    pub fn uses_postgres(&self) -> bool {
        self.database_url.as_ref().is_some_and(|u| u.expose_secret().starts_with("postgres"))
    }

    /// The database, described without its password.
    pub fn database_description(&self) -> String {
        if self.uses_postgres() {
            let url = self.database_url();
            let host = url.split('@').nth(1).unwrap_or("(host not given)");
            format!("PostgreSQL at {}", host.split('?').next().unwrap_or(host))
        } else {
            let url = self.database_url();
            let path = url.trim_start_matches("sqlite://").split('?').next().unwrap_or("").to_owned();
            format!("SQLite at {path}")
        }
    }

    /// The citizen-id hashing key: configured, or (SQLite only) read from or generated into
    /// `DATA_DIR/secrets/citizen-id.key`.
    pub fn citizen_id_key(&self) -> anyhow::Result<Vec<u8>> {
        self.key_or_generated(self.citizen_id_key.as_ref(), "citizen_id_key", "hash citizen ids", "citizen-id.key")
    }

    /// The service secret: configured, or (SQLite only) read from or generated into
    /// `DATA_DIR/secrets/service.key`.
    pub fn secret_key(&self) -> anyhow::Result<Vec<u8>> {
        self.key_or_generated(self.secret_key.as_ref(), "secret_key", "unwrap signing keys", "service.key")
    }

    fn key_or_generated(
        &self,
        configured: Option<&SecretString>,
        name: &str,
        purpose: &str,
        file: &str,
    ) -> anyhow::Result<Vec<u8>> {
        if let Some(key) = configured {
            let key = key.expose_secret().trim();
            anyhow::ensure!(key.len() >= 32, "{name} must be at least 32 characters");
            return Ok(key.as_bytes().to_vec());
        }
        anyhow::ensure!(
            !self.uses_postgres(),
            "HYBRIDPOST_{} must be set when the database is PostgreSQL: every node must {purpose} with \
             the same key (make one with: openssl rand -hex 32)",
            name.to_uppercase()
        );
        let dir = self.data_dir.join("secrets");
        let path = dir.join(file);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(existing.trim().as_bytes().to_vec());
        }
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let key = hex::encode(bytes);
        write_private(&path, &key)?;
        Ok(key.into_bytes())
    }
}

impl Config {
    /// The mailer these settings describe, and a line saying where e-mail goes.
    pub fn mailer(&self) -> anyhow::Result<(hybridpost_notify::MailerConfig, String)> {
        use hybridpost_notify::{DkimAlgorithm, DkimSettings, SmtpAuth, SmtpConfig, SmtpSecurity, TransportConfig};
        let (transport, description) = match self.smtp_host.as_deref().filter(|h| !h.trim().is_empty()) {
            None => {
                let dir = self.data_dir.join("outbox");
                let shown = format!(".eml files in {} (no smtp_host set)", dir.display());
                (TransportConfig::FileOutbox(dir), shown)
            }
            Some(host) => {
                let security = match self.smtp_security {
                    SmtpSecurityName::Starttls => SmtpSecurity::StartTls,
                    SmtpSecurityName::Tls => SmtpSecurity::ImplicitTls,
                    SmtpSecurityName::Plain => SmtpSecurity::Plain,
                };
                let mut smtp = SmtpConfig::new(host, self.smtp_port, security);
                smtp.max_connections = self.smtp_max_connections;
                smtp.auth = match (&self.smtp_user, &self.smtp_password) {
                    (Some(user), Some(password)) => {
                        Some(SmtpAuth { username: user.clone(), password: password.expose_secret().to_owned() })
                    }
                    (None, None) => None,
                    _ => anyhow::bail!("smtp_user and smtp_password go together: set both or neither"),
                };
                let shown = format!(
                    "SMTP {host}:{} ({:?}, up to {} connections)",
                    self.smtp_port, self.smtp_security, self.smtp_max_connections
                );
                (TransportConfig::Smtp(smtp), shown)
            }
        };
        let dkim = match (&self.dkim_key_file, &self.dkim_selector, &self.dkim_domain) {
            (None, None, None) => None,
            (Some(file), Some(selector), Some(domain)) => {
                let key = std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("cannot read dkim_key_file {}: {e}", file.display()))?;
                let algorithm = if key.contains("BEGIN RSA PRIVATE KEY") {
                    DkimAlgorithm::RsaSha256
                } else {
                    DkimAlgorithm::Ed25519Sha256
                };
                Some(DkimSettings { selector: selector.clone(), domain: domain.clone(), algorithm, private_key: key })
            }
            _ => anyhow::bail!("DKIM needs dkim_key_file, dkim_selector and dkim_domain together"),
        };
        let description = if dkim.is_some() { format!("{description}, DKIM-signed") } else { description };
        Ok((hybridpost_notify::MailerConfig { transport, dkim }, description))
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_in_the_file_is_a_warning_with_a_suggestion_and_values_layer() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hp.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nrate_limit_per_secnd = 5\nmax_body_bytes = 2048\n")
            .unwrap();
        let loaded = Config::load(
            Some(&file),
            Overrides { listen: Some("127.0.0.1:9100".parse().unwrap()), ..Default::default() },
        )
        .unwrap();
        assert_eq!(loaded.config.listen.port(), 9100, "flags win over the file");
        assert_eq!(loaded.config.max_body_bytes, 2048);
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("did you mean rate_limit_per_second?"), "{:?}", loaded.warnings);
    }

    #[test]
    fn the_example_node_files_load_without_warnings_and_keep_blobs_in_s3() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/deploy");
        let mut roles_seen = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let loaded = Config::load(Some(&path), Overrides::default()).unwrap();
            assert!(loaded.warnings.is_empty(), "{}: {:?}", path.display(), loaded.warnings);
            let roles = crate::serve::configured_roles(&loaded.config).unwrap();
            assert_eq!(roles.len(), 1, "{}: one role per node", path.display());
            roles_seen.push(roles[0].as_str());
            let blobs = loaded.config.blob_store().unwrap();
            assert_eq!(blobs.describe(), "s3://hybridpost/", "{}", path.display());
        }
        roles_seen.sort();
        assert_eq!(roles_seen, ["console", "gateway", "intake", "notifier", "printroom", "verify"]);
        let secret = Config { s3_secret_access_key: Some("s3-secret-value".to_owned().into()), ..Config::default() };
        assert!(!format!("{secret:?}").contains("s3-secret-value"));
    }

    #[test]
    fn a_wrongly_typed_value_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hp.toml");
        std::fs::write(&file, "max_body_bytes = \"lots\"\n").unwrap();
        let err = Config::load(Some(&file), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("max_body_bytes"), "{err}");
        assert!(matches!(
            Config::load(Some(&dir.path().join("missing.toml")), Overrides::default()),
            Err(ConfigError::MissingFile(_))
        ));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config {
            database_url: Some(SecretString::from("postgres://u:hunter2@db/hp")),
            citizen_id_key: Some(SecretString::from("k".repeat(40))),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("kkkk"), "{shown}");
        assert!(shown.contains("PostgreSQL at db/hp"), "{shown}");
    }

    #[test]
    fn postgres_without_a_citizen_id_key_is_an_error_and_sqlite_generates_one() {
        let dir = tempfile::tempdir().unwrap();
        let pg = Config {
            database_url: Some(SecretString::from("postgres://localhost/hp")),
            data_dir: dir.path().into(),
            ..Config::default()
        };
        assert!(pg.citizen_id_key().unwrap_err().to_string().contains("HYBRIDPOST_CITIZEN_ID_KEY"));
        let sqlite = Config { data_dir: dir.path().into(), ..Config::default() };
        let key = sqlite.citizen_id_key().unwrap();
        assert_eq!(key.len(), 64);
        assert_eq!(sqlite.citizen_id_key().unwrap(), key, "the generated key is kept");
        assert!(pg.secret_key().unwrap_err().to_string().contains("HYBRIDPOST_SECRET_KEY"));
        let secret = sqlite.secret_key().unwrap();
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, key, "each secret is generated on its own");
        assert_eq!(sqlite.secret_key().unwrap(), secret);
    }
}
