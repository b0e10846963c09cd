//! Outbound notifications for hybridpost: e-mail and signed webhooks.
//!
//! This crate owns:
//! - building RFC 5322 e-mails (Message-ID, Date, From, To, RFC 2047 Thai subject,
//!   `multipart/alternative` UTF-8 text + HTML) and optional DKIM signing;
//! - delivering one e-mail at a time over SMTP (STARTTLS, implicit TLS or plain, rustls only)
//!   or into a file outbox of `.eml` files;
//! - rendering the e-mail templates under `templates/email/` with minijinja;
//! - signing, verifying and delivering webhooks per the Standard Webhooks specification;
//! - what each notification says: the outbox rows of webhooks and e-mails ([`outbox`]), which
//!   callers queue in the transaction that records the happening they announce.
//!
//! It must not:
//! - keep any queue, retry schedule or database state of its own: rows go into the store's
//!   outbox in the caller's transaction, and the notifier decides when to retry, guided by
//!   [`SendError::is_retryable`] and [`WebhookError::is_retryable`];
//! - put the content of a citizen's letter into an e-mail: notices carry a secure link only;
//! - expose `lettre` types in its public API, so that the rest of the project never depends on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod email;
mod mailer;
pub mod outbox;
mod pool;
mod templates;
mod webhook;

pub use email::{MessageId, OutgoingEmail};
pub use mailer::{
    Delivery, DkimAlgorithm, DkimSettings, Mailer, MailerConfig, MailerConfigError, SendError, SmtpAuth, SmtpConfig,
    SmtpSecurity, TransportConfig,
};
pub use templates::{RenderedEmail, TEMPLATE_NAMES, TemplateError, Templates, render};
pub use webhook::{
    DEFAULT_TOLERANCE, LookupFuture, NameLookup, WebhookClient, WebhookDelivered, WebhookError, WebhookHeaders,
    WebhookSecret, WebhookVerifyError, sign_webhook, verify_webhook,
};
