//! The e-mail a caller asks us to send, and its conversion into a MIME message.

use std::fmt;
use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::mailer::SendError;

/// A validated Message-ID, stored without angle brackets (`local@domain`).
///
/// The caller chooses it (for example from the outbox row id) so that a retry re-sends the same id
/// and receivers can drop duplicates. Both parts are limited to `A-Z a-z 0-9 . _ + = -`, which keeps
/// the id safe as a file name in the file outbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Parses `local@domain` or `<local@domain>`.
    pub fn parse(raw: &str) -> Result<Self, SendError> {
        let trimmed = raw.trim();
        let inner = trimmed.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(trimmed);
        let valid_part = |part: &str| {
            !part.is_empty()
                && part.len() <= 200
                && !part.starts_with('.')
                && !part.ends_with('.')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '=' | '-'))
        };
        match inner.split_once('@') {
            Some((local, domain)) if valid_part(local) && valid_part(domain) => Ok(Self(inner.to_owned())),
            _ => Err(SendError::permanent(format!("invalid Message-ID {raw:?}: expected local@domain"))),
        }
    }

    /// The id without angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as it appears in the `Message-ID` header, with angle brackets.
    pub fn header_value(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One e-mail to one recipient, ready to be built and sent.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// Message-ID chosen by the caller, `local@domain` (angle brackets optional).
    pub message_id: String,
    /// Sender mailbox, e.g. `ไปรษณีย์ไฮบริด <noreply@hybridpost.go.th>`.
    pub from: String,
    /// Recipient mailbox, e.g. `สมชาย ใจดี <somchai@example.co.th>`.
    pub to: String,
    /// Optional Reply-To mailbox.
    pub reply_to: Option<String>,
    /// Subject line; non-ASCII text is encoded per RFC 2047.
    pub subject: String,
    /// The `text/plain` part (UTF-8).
    pub text: String,
    /// The `text/html` part (UTF-8).
    pub html: String,
    /// The `Date` header; `None` means now.
    pub date: Option<SystemTime>,
}

impl OutgoingEmail {
    /// Builds an e-mail from a rendered template.
    pub fn from_rendered(
        message_id: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
        rendered: crate::RenderedEmail,
    ) -> Self {
        Self {
            message_id: message_id.into(),
            from: from.into(),
            to: to.into(),
            reply_to: None,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            date: None,
        }
    }

    /// Builds the MIME message. Any failure here is about the message itself and is permanent.
    pub(crate) fn to_message(&self) -> Result<(MessageId, Message), SendError> {
        let id = MessageId::parse(&self.message_id)?;
        let from: Mailbox = parse_mailbox("From", &self.from)?;
        let to: Mailbox = parse_mailbox("To", &self.to)?;
        let mut builder = Message::builder()
            .message_id(Some(id.header_value()))
            .date(self.date.unwrap_or_else(SystemTime::now))
            .from(from)
            .to(to)
            .subject(self.subject.as_str());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(parse_mailbox("Reply-To", reply_to)?);
        }
        let mut message = builder
            .multipart(MultiPart::alternative_plain_html(self.text.clone(), self.html.clone()))
            .map_err(|e| SendError::permanent(format!("cannot build message: {e}")))?;
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
        Ok((id, message))
    }
}

fn parse_mailbox(field: &str, raw: &str) -> Result<Mailbox, SendError> {
    raw.parse::<Mailbox>().map_err(|e| SendError::permanent(format!("invalid {field} address {raw:?}: {e}")))
}
