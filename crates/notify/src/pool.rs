//! SMTP connections for plain and STARTTLS servers, kept open and reused, with `TCP_NODELAY`.
//!
//! lettre's SMTP client writes a message's body and its terminating `CRLF.CRLF` in two writes.
//! On a socket with Nagle's algorithm on (lettre's own connections), the second small write
//! waits for the server to acknowledge the first, and servers delay that acknowledgement by up
//! to 40 ms (RFC 1122 §4.2.3.2 delayed ACK): every message then costs ~45 ms on its connection
//! whatever the server's speed — 22 messages per second per connection measured against a local
//! aiosmtpd that takes 2,400 per second from Python's smtplib on one connection. SMTP commands
//! are request/response, so Nagle's batching buys nothing here; the connections this pool opens
//! set `TCP_NODELAY` and hand the socket to lettre's protocol code.
//!
//! Implicit TLS (port 465) still goes through lettre's own pool: lettre offers no way to put a
//! TLS session of ours under its protocol code.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use crate::mailer::SendError;

/// A connection idle this long is checked with `NOOP` before it is used again.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// A connection idle this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Open connections to one server, reused one send at a time each.
pub(crate) struct SmtpPool {
    host: String,
    port: u16,
    hello: ClientId,
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    connect_timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl SmtpPool {
    pub(crate) fn new(
        host: String,
        port: u16,
        hello: ClientId,
        starttls: Option<TlsParameters>,
        credentials: Option<Credentials>,
        connect_timeout: Duration,
    ) -> Self {
        SmtpPool { host, port, hello, starttls, credentials, connect_timeout, idle: Mutex::new(Vec::new()) }
    }

    /// Sends one message on an idle connection or a new one. The caller bounds how many sends
    /// run at once, and so how many connections are open.
    pub(crate) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<Response, SendError> {
        let mut conn = self.checkout().await?;
        match conn.send(envelope, message).await {
            Ok(response) => {
                self.checkin(conn);
                Ok(response)
            }
            Err(e) => {
                // A refusal of this message leaves the connection usable; anything else does not.
                if !conn.has_broken() && e.is_permanent() {
                    // Reset the transaction the refusal left open.
                    if conn.command(lettre::transport::smtp::commands::Rset).await.is_ok() {
                        self.checkin(conn);
                    }
                }
                Err(SendError::from_smtp(&e))
            }
        }
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((conn, Instant::now()));
        }
    }

    fn take_idle(&self) -> Option<(AsyncSmtpConnection, Instant)> {
        self.idle.lock().ok()?.pop()
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        while let Some((mut conn, since)) = self.take_idle() {
            let idle = since.elapsed();
            if idle >= IDLE_TIMEOUT {
                let _ = conn.quit().await;
                continue;
            }
            if idle < CHECK_AFTER || conn.test_connected().await {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let address = (self.host.as_str(), self.port);
        let tcp = tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(address))
            .await
            .map_err(|_| SendError::transient(format!("connecting to {}:{} timed out", self.host, self.port)))?
            .map_err(|e| SendError::transient(format!("cannot connect to {}:{}: {e}", self.host, self.port)))?;
        tcp.set_nodelay(true).map_err(|e| SendError::transient(format!("cannot set TCP_NODELAY: {e}")))?;
        let setup = async {
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?;
            if let Some(tls) = &self.starttls {
                if !conn.can_starttls() {
                    return Ok(Err(SendError::transient(format!(
                        "{} does not offer STARTTLS, which is required",
                        self.host
                    ))));
                }
                conn.starttls(tls.clone(), &self.hello).await?;
            }
            if let Some(credentials) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
            }
            Ok::<_, lettre::transport::smtp::Error>(Ok(conn))
        };
        tokio::time::timeout(self.connect_timeout, setup)
            .await
            .map_err(|_| SendError::transient(format!("the SMTP greeting of {} timed out", self.host)))?
            .map_err(|e| SendError::from_smtp(&e))?
    }
}
