//! E-mail delivery over SMTP or into a file outbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::email::{MessageId, OutgoingEmail};

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection, then a mandatory `STARTTLS` upgrade (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    ImplicitTls,
    /// No encryption at all. Only for a local relay or a test server.
    Plain,
}

/// SMTP credentials (AUTH PLAIN / LOGIN, as offered by the server).
#[derive(Clone)]
pub struct SmtpAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpAuth").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// Settings of the SMTP back end.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Host name or IP address of the server.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Encryption mode.
    pub security: SmtpSecurity,
    /// Name the server certificate must carry; defaults to `host`.
    pub tls_server_name: Option<String>,
    /// Extra trusted root certificates (PEM), added to the public web PKI roots.
    pub extra_root_certs_pem: Vec<Vec<u8>>,
    /// Optional authentication.
    pub auth: Option<SmtpAuth>,
    /// Timeout of each SMTP command and of the connection set-up.
    pub command_timeout: Duration,
    /// Upper bound for one whole `send`, including waiting for a free connection.
    pub send_timeout: Duration,
    /// Maximum number of simultaneous SMTP connections (and simultaneous sends).
    pub max_connections: u32,
    /// Name announced in EHLO; defaults to the machine's host name.
    pub hello_name: Option<String>,
}

impl SmtpConfig {
    /// Settings with sensible defaults: 30 s per command, 120 s per send, 8 connections.
    pub fn new(host: impl Into<String>, port: u16, security: SmtpSecurity) -> Self {
        Self {
            host: host.into(),
            port,
            security,
            tls_server_name: None,
            extra_root_certs_pem: Vec::new(),
            auth: None,
            command_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(120),
            max_connections: 8,
            hello_name: None,
        }
    }
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum TransportConfig {
    /// Deliver to an SMTP server.
    Smtp(SmtpConfig),
    /// Write each message as `<message-id>.eml` into this folder (created if missing).
    FileOutbox(PathBuf),
}

/// DKIM signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// `rsa-sha256`; the key is a PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`).
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463); the key is the base64 of the 32-byte seed.
    Ed25519Sha256,
}

/// DKIM signing settings. Canonicalization is always relaxed/relaxed; the signed header fields are
/// From, To, Subject, Date, Message-ID and Reply-To.
#[derive(Clone)]
pub struct DkimSettings {
    /// Selector (`s=`), published as `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// Signing domain (`d=`).
    pub domain: String,
    /// Algorithm of `private_key`.
    pub algorithm: DkimAlgorithm,
    /// Private key, format as described in [`DkimAlgorithm`].
    pub private_key: String,
}

impl std::fmt::Debug for DkimSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSettings")
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Complete mailer configuration.
#[derive(Debug, Clone)]
pub struct MailerConfig {
    /// The back end.
    pub transport: TransportConfig,
    /// Optional DKIM signing applied to every message.
    pub dkim: Option<DkimSettings>,
}

/// The configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailerConfigError {
    /// TLS settings are invalid (bad certificate, bad server name).
    #[error("invalid TLS settings: {0}")]
    Tls(String),
    /// The DKIM key cannot be read.
    #[error("invalid DKIM key: {0}")]
    Dkim(String),
    /// Zero connections or another impossible value.
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Why a message was not delivered, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Retrying the same message will fail again: 5xx reply, bad address, malformed message.
    #[error("permanent failure{}: {reason}", fmt_code(*.smtp_code))]
    Permanent {
        /// SMTP reply code, when the server gave one.
        smtp_code: Option<u16>,
        /// Human-readable cause.
        reason: String,
    },
    /// Retrying later may succeed: connection refused, timeout, TLS or I/O trouble, 4xx reply.
    #[error("transient failure{}: {reason}", fmt_code(*.smtp_code))]
    Transient {
        /// SMTP reply code, when the server gave one.
        smtp_code: Option<u16>,
        /// Human-readable cause.
        reason: String,
    },
}

fn fmt_code(code: Option<u16>) -> String {
    code.map(|c| format!(" (SMTP {c})")).unwrap_or_default()
}

impl SendError {
    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent { smtp_code: None, reason: reason.into() }
    }

    pub(crate) fn transient(reason: impl Into<String>) -> Self {
        Self::Transient { smtp_code: None, reason: reason.into() }
    }

    /// `true` for [`SendError::Transient`].
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// The SMTP reply code, if any.
    pub fn smtp_code(&self) -> Option<u16> {
        match self {
            Self::Permanent { smtp_code, .. } | Self::Transient { smtp_code, .. } => *smtp_code,
        }
    }

    pub(crate) fn from_smtp(err: &lettre::transport::smtp::Error) -> Self {
        let code = err.status().map(code_to_u16);
        let reason = err.to_string();
        if err.is_permanent() {
            Self::Permanent { smtp_code: code, reason }
        } else {
            // 4xx, timeouts, refused connections, TLS and protocol trouble: the message itself is fine.
            Self::Transient { smtp_code: code, reason }
        }
    }
}

fn code_to_u16(code: lettre::transport::smtp::response::Code) -> u16 {
    // `Code` displays as its three digits.
    code.to_string().parse().unwrap_or(0)
}

/// How a message was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Accepted by the SMTP server.
    Smtp {
        /// The Message-ID that was sent (without angle brackets).
        message_id: String,
        /// The server's reply code (normally 250).
        code: u16,
        /// The server's reply text.
        response: String,
    },
    /// Written into the file outbox.
    File {
        /// The Message-ID that was written (without angle brackets).
        message_id: String,
        /// Full path of the `.eml` file.
        path: PathBuf,
    },
}

enum Backend {
    Smtp { transport: SmtpTransport, limit: Arc<Semaphore>, send_timeout: Duration },
    File(PathBuf),
}

/// Plain and STARTTLS servers go through our pool (with `TCP_NODELAY`); implicit TLS through
/// lettre's.
enum SmtpTransport {
    Pool(crate::pool::SmtpPool),
    Lettre(Box<AsyncSmtpTransport<Tokio1Executor>>),
}

/// Sends one e-mail at a time and reports how it went. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<MailerInner>,
}

struct MailerInner {
    backend: Backend,
    dkim: Option<DkimConfig>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.inner.backend {
            Backend::Smtp { .. } => "smtp",
            Backend::File(_) => "file",
        };
        f.debug_struct("Mailer").field("backend", &backend).field("dkim", &self.inner.dkim.is_some()).finish()
    }
}

impl Mailer {
    /// Builds a mailer. No connection is opened until the first send.
    pub fn new(config: MailerConfig) -> Result<Self, MailerConfigError> {
        let backend = match config.transport {
            TransportConfig::Smtp(smtp) => build_smtp(smtp)?,
            TransportConfig::FileOutbox(dir) => Backend::File(dir),
        };
        let dkim = config.dkim.map(build_dkim).transpose()?;
        Ok(Self { inner: Arc::new(MailerInner { backend, dkim }) })
    }

    /// Builds (and DKIM-signs, if configured) the message exactly as it would be sent.
    pub fn render_message(&self, email: &OutgoingEmail) -> Result<Vec<u8>, SendError> {
        Ok(self.prepare(email)?.1.formatted())
    }

    /// Sends one message. A retry with the same `message_id` produces the same Message-ID header.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<Delivery, SendError> {
        let (id, message) = self.prepare(email)?;
        match &self.inner.backend {
            Backend::Smtp { transport, limit, send_timeout } => {
                let attempt = async {
                    let _permit = limit.acquire().await.map_err(|_| SendError::transient("mailer is shutting down"))?;
                    match transport {
                        SmtpTransport::Pool(pool) => pool.send(message.envelope(), &message.formatted()).await,
                        SmtpTransport::Lettre(transport) => {
                            transport.send(message).await.map_err(|e| SendError::from_smtp(&e))
                        }
                    }
                };
                let response = tokio::time::timeout(*send_timeout, attempt)
                    .await
                    .map_err(|_| SendError::transient(format!("send timed out after {send_timeout:?}")))??;
                Ok(Delivery::Smtp {
                    message_id: id.as_str().to_owned(),
                    code: code_to_u16(response.code()),
                    response: response.message().collect::<Vec<_>>().join(" "),
                })
            }
            Backend::File(dir) => {
                let path = write_eml(dir, &id, &message.formatted()).await?;
                Ok(Delivery::File { message_id: id.as_str().to_owned(), path })
            }
        }
    }

    fn prepare(&self, email: &OutgoingEmail) -> Result<(MessageId, Message), SendError> {
        let (id, mut message) = email.to_message()?;
        if let Some(dkim) = &self.inner.dkim {
            message.sign(dkim);
        }
        Ok((id, message))
    }
}

fn build_smtp(cfg: SmtpConfig) -> Result<Backend, MailerConfigError> {
    if cfg.max_connections == 0 {
        return Err(MailerConfigError::Invalid("max_connections must be at least 1".into()));
    }
    let hello = cfg.hello_name.clone().map_or_else(ClientId::default, ClientId::Domain);
    let credentials = cfg.auth.as_ref().map(|a| Credentials::new(a.username.clone(), a.password.clone()));
    let limit = Arc::new(Semaphore::new(cfg.max_connections as usize));
    let starttls = match cfg.security {
        SmtpSecurity::Plain => Some(None),
        SmtpSecurity::StartTls => Some(Some(tls_parameters(&cfg)?)),
        SmtpSecurity::ImplicitTls => None,
    };
    if let Some(starttls) = starttls {
        let pool =
            crate::pool::SmtpPool::new(cfg.host.clone(), cfg.port, hello, starttls, credentials, cfg.command_timeout);
        return Ok(Backend::Smtp { transport: SmtpTransport::Pool(pool), limit, send_timeout: cfg.send_timeout });
    }
    let tls = Tls::Wrapper(tls_parameters(&cfg)?);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
        .port(cfg.port)
        .tls(tls)
        .timeout(Some(cfg.command_timeout))
        .pool_config(PoolConfig::new().max_size(cfg.max_connections).idle_timeout(Duration::from_secs(60)));
    if let Some(name) = &cfg.hello_name {
        builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(name.clone()));
    }
    if let Some(auth) = &cfg.auth {
        builder = builder.credentials(Credentials::new(auth.username.clone(), auth.password.clone()));
    }
    Ok(Backend::Smtp {
        transport: SmtpTransport::Lettre(Box::new(builder.build())),
        limit,
        send_timeout: cfg.send_timeout,
    })
}

fn tls_parameters(cfg: &SmtpConfig) -> Result<TlsParameters, MailerConfigError> {
    let name = cfg.tls_server_name.clone().unwrap_or_else(|| cfg.host.clone());
    let mut builder = TlsParameters::builder(name);
    for pem in &cfg.extra_root_certs_pem {
        let cert = Certificate::from_pem(pem).map_err(|e| MailerConfigError::Tls(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| MailerConfigError::Tls(e.to_string()))
}

fn build_dkim(settings: DkimSettings) -> Result<DkimConfig, MailerConfigError> {
    let algorithm = match settings.algorithm {
        DkimAlgorithm::RsaSha256 => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519Sha256 => DkimSigningAlgorithm::Ed25519,
    };
    let key = DkimSigningKey::new(settings.private_key.trim(), algorithm)
        .map_err(|e| MailerConfigError::Dkim(e.to_string()))?;
    let headers = ["From", "To", "Subject", "Date", "Message-ID", "Reply-To"]
        .into_iter()
        .map(HeaderName::new_from_ascii_str)
        .collect();
    Ok(DkimConfig::new(
        settings.selector,
        settings.domain,
        key,
        headers,
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed },
    ))
}

/// Writes `<id>.eml` atomically: a temporary file in the same folder, flushed, then renamed.
async fn write_eml(dir: &Path, id: &MessageId, bytes: &[u8]) -> Result<PathBuf, SendError> {
    let io_err = |what: &str, e: std::io::Error| SendError::transient(format!("{what} {}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(|e| io_err("cannot create outbox", e))?;
    let final_path = dir.join(format!("{}.eml", id.as_str()));
    let tmp_path = dir.join(format!(".{}.eml.tmp", id.as_str()));
    let mut file = tokio::fs::File::create(&tmp_path).await.map_err(|e| io_err("cannot write into outbox", e))?;
    file.write_all(bytes).await.map_err(|e| io_err("cannot write into outbox", e))?;
    file.sync_all().await.map_err(|e| io_err("cannot flush outbox file in", e))?;
    drop(file);
    tokio::fs::rename(&tmp_path, &final_path).await.map_err(|e| io_err("cannot rename outbox file in", e))?;
    Ok(final_path)
}
