//! Sign-in through the organisation's OpenID Connect provider (ThaID, DGA Digital ID, a
//! ministry's own): the authorization code flow with PKCE (S256), `state` and `nonce`; the ID
//! token's signature, issuer, audience, expiry and nonce are checked by the `openidconnect`
//! crate.
//!
//! The provider says who someone is; the console decides whether they may come in. A person
//! must already exist (made by a supervisor or `admin create-user`). At their first sign-in
//! through the provider they are found by the provider's verified e-mail address, and the
//! provider's subject is remembered; from then on they are found by that subject alone, so a
//! changed address at the provider does not lock them out or let someone else in. The provider
//! authenticates them, so the console asks no one-time code of its own.
//!
//! The browser is bound to its attempt by a cookie holding the `state` (`SameSite=Lax`: the
//! provider's redirect back is a navigation from another site, which a `Strict` cookie would
//! not follow). The session cookie itself stays `Strict`, so the callback answers with a page
//! that moves on to the console from this site rather than with a redirect.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hybridpost_store::people::{self, NewAudit, OidcAttempt, Person};
use hybridpost_store::{now_text, timestamp_text};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use serde::Deserialize;

use crate::ConsoleState;
use crate::pages::{self, Lang};
use crate::password::{random_token, token_hash};
use crate::session;
use crate::signin::{self, Visitor};

/// The cookie that ties the browser to its attempt.
const STATE_COOKIE: &str = "hp_oidc";
/// How long an attempt may take at the provider.
const ATTEMPT_TTL: Duration = Duration::from_secs(10 * 60);
/// How long the provider's metadata and keys are kept before they are read again.
const METADATA_TTL: Duration = Duration::from_secs(10 * 60);
/// The longest answer read from the provider.
const MAX_ANSWER_BYTES: usize = 1 << 20;
/// The longest wait for the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where people may sign in through an OpenID Connect provider.
#[derive(Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL; its metadata is read from `/.well-known/openid-configuration`.
    pub issuer_url: String,
    /// This service's client id at the provider.
    pub client_id: String,
    /// This service's client secret at the provider.
    pub client_secret: String,
    /// The provider's name on the sign-in button (`ThaID`).
    pub name: String,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A provider, with the HTTP client that talks to it and its metadata once read.
pub(crate) struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    pub(crate) name: String,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("issuer", &self.issuer.as_str()).finish_non_exhaustive()
    }
}

/// What went wrong talking to the provider.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    #[error("the provider's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

impl Provider {
    /// A provider from its settings; `public_url` is this service's, for the redirect back.
    pub(crate) fn new(config: &OidcConfig, public_url: &str) -> anyhow::Result<Provider> {
        let issuer = IssuerUrl::new(config.issuer_url.trim_end_matches('/').to_owned())
            .map_err(|e| anyhow::anyhow!("oidc_issuer_url is not a URL: {e}"))?;
        let redirect = RedirectUrl::new(format!("{}/console/oidc/callback", public_url.trim_end_matches('/')))
            .map_err(|e| anyhow::anyhow!("the public URL makes no redirect URL: {e}"))?;
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let tls =
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| anyhow::anyhow!("TLS set-up: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            // The openidconnect crate asks for no redirects: a redirect could lead the token
            // request, with the client secret, elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            // Sign-ins are minutes apart: a kept connection would mostly meet a server that has
            // closed it, and a token request (a POST) is not sent again on a reset.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("hybridpost-console/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("HTTP client set-up: {e}"))?;
        Ok(Provider {
            issuer,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: ClientSecret::new(config.client_secret.clone()),
            redirect,
            name: config.name.clone(),
            http,
            metadata: Mutex::new(None),
        })
    }

    /// Sends one request to the provider, reading at most [`MAX_ANSWER_BYTES`] of its answer.
    async fn send(
        http: reqwest::Client,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let mut answer = http.execute(request).await?;
        let mut builder = openidconnect::http::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(builder.body(body)?)
    }

    /// The provider's metadata and signing keys, read again after [`METADATA_TTL`].
    async fn metadata(&self) -> anyhow::Result<CoreProviderMetadata> {
        if let Some((at, metadata)) = self.metadata.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let http = |r| Self::send(self.http.clone(), r);
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &http).await.map_err(|e| {
            anyhow::anyhow!("cannot read the OpenID provider's metadata from {}: {e}", self.issuer.as_str())
        })?;
        *self.metadata.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// Forgets the metadata, so that the next sign-in reads it (and the keys) again.
    fn forget_metadata(&self) {
        *self.metadata.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The URL to send the browser to, and the attempt to remember.
    async fn begin(&self) -> anyhow::Result<(String, String, OidcAttempt)> {
        let metadata = self.metadata().await?;
        let client =
            CoreClient::from_provider_metadata(metadata, self.client_id.clone(), Some(self.client_secret.clone()))
                .set_redirect_uri(self.redirect.clone());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let attempt = OidcAttempt {
            state_hash: token_hash(state.secret()),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        };
        Ok((url.to_string(), state.secret().clone(), attempt))
    }

    /// Trades the code for tokens and checks the ID token: who the provider says this is.
    async fn finish(&self, code: String, attempt: &OidcAttempt) -> anyhow::Result<Identity> {
        let metadata = self.metadata().await?;
        let client =
            CoreClient::from_provider_metadata(metadata, self.client_id.clone(), Some(self.client_secret.clone()))
                .set_redirect_uri(self.redirect.clone());
        let http = |r| Self::send(self.http.clone(), r);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| anyhow::anyhow!("the OpenID provider has no token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| anyhow::anyhow!("the OpenID provider refused the code: {}", error_chain(&e)))?;
        let id_token = openidconnect::TokenResponse::id_token(&tokens)
            .ok_or_else(|| anyhow::anyhow!("the OpenID provider sent no ID token"))?;
        let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(attempt.nonce.clone())) {
            Ok(claims) => claims,
            Err(e) => {
                // The provider may have rolled its keys: read them again next time.
                self.forget_metadata();
                anyhow::bail!("the ID token does not hold: {e}");
            }
        };
        Ok(Identity {
            subject: format!("{} {}", claims.issuer().as_str(), claims.subject().as_str()),
            email: claims.email().map(|e| e.as_str().trim().to_lowercase()),
            email_verified: claims.email_verified().unwrap_or(false),
        })
    }
}

/// An error with its sources, as the log needs it ("Request failed" alone says nothing).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Who the provider says someone is.
#[derive(Debug)]
struct Identity {
    /// `issuer sub`.
    subject: String,
    email: Option<String>,
    email_verified: bool,
}

/// The sign-in page's provider link: remembers the attempt and sends the browser there. A link,
/// not a form: the page's `form-action 'self'` would stop a form's redirect to the provider,
/// and starting an attempt gives nothing to whoever makes a browser start one (its state is
/// bound to that browser's cookie).
pub(crate) async fn start(State(state): State<ConsoleState>, visitor: Visitor) -> Response {
    let Some(provider) = state.oidc.clone() else { return pages::not_found() };
    let begun = async {
        let (url, state_token, attempt) = provider.begin().await?;
        let now = time::OffsetDateTime::now_utc();
        let mut tx = state.store.begin().await?;
        people::insert_oidc_attempt(&mut tx, &attempt, &timestamp_text(now), &timestamp_text(now + ATTEMPT_TTL))
            .await?;
        tx.commit().await?;
        anyhow::Ok((url, state_token))
    }
    .await;
    match begun {
        Ok((url, state_token)) => {
            let mut response = crate::see_other(&url);
            let secure = if state.config.secure() { "; Secure" } else { "" };
            let cookie = format!(
                "{STATE_COOKIE}={state_token}; Path=/console/oidc; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                ATTEMPT_TTL.as_secs()
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => {
            tracing::error!("cannot start an OpenID sign-in: {e:#}");
            provider_unavailable(visitor.lang, &provider.name)
        }
    }
}

fn provider_unavailable(lang: Lang, name: &str) -> Response {
    let th = format!("ติดต่อ {name} ไม่ได้ในขณะนี้ กรุณาลองใหม่ภายหลัง หรือลงชื่อเข้าใช้ด้วยรหัสผ่าน");
    let en = format!("{name} cannot be reached just now. Try again later, or sign in with your password.");
    pages::message(StatusCode::BAD_GATEWAY, lang, ("ลงชื่อเข้าใช้ไม่สำเร็จ", "Sign-in did not work"), (&th, &en))
}

fn not_signed_in(lang: Lang, why: (&str, &str)) -> Response {
    pages::message(StatusCode::FORBIDDEN, lang, ("ลงชื่อเข้าใช้ไม่สำเร็จ", "Sign-in did not work"), why)
}

#[derive(Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The cookie value of the attempt, from the request.
pub(crate) struct AttemptCookie(Option<String>);

impl axum::extract::FromRequestParts<ConsoleState> for AttemptCookie {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &ConsoleState) -> Result<Self, Self::Rejection> {
        Ok(AttemptCookie(session::cookie(parts, STATE_COOKIE).map(str::to_owned)))
    }
}

/// The provider sends the browser back here with a code (or an error).
pub(crate) async fn callback(
    State(state): State<ConsoleState>,
    visitor: Visitor,
    AttemptCookie(cookie): AttemptCookie,
    Query(q): Query<Callback>,
) -> Response {
    let lang = visitor.lang;
    let Some(provider) = state.oidc.clone() else { return pages::not_found() };
    if let Some(error) = q.error {
        tracing::info!("the OpenID provider sent back {error:?}");
        return not_signed_in(lang, ("ผู้ให้บริการยืนยันตัวตนไม่อนุญาตให้เข้าสู่ระบบ", "The identity provider did not let you in."));
    }
    let (Some(code), Some(sent_state)) = (q.code, q.state) else { return pages::not_found() };
    // The attempt must be this browser's: the state in its cookie and in the URL agree.
    let same_browser =
        cookie.as_deref().is_some_and(|c| session::subtle_eq::constant_time_eq(c.as_bytes(), sent_state.as_bytes()));
    let expired = (
        "การลงชื่อเข้าใช้หมดเวลาหรือเริ่มจากเบราว์เซอร์อื่น กรุณาเริ่มใหม่",
        "The sign-in took too long or began in another browser. Start again.",
    );
    if !same_browser {
        return not_signed_in(lang, expired);
    }
    let outcome = async {
        let attempt = {
            let mut tx = state.store.begin().await?;
            let attempt = people::take_oidc_attempt(&mut tx, &token_hash(&sent_state), &now_text()).await?;
            tx.commit().await?;
            attempt
        };
        let Some(attempt) = attempt else { return Ok(Err(expired)) };
        let identity = match provider.finish(code, &attempt).await {
            Ok(identity) => identity,
            Err(e) => {
                tracing::warn!("an OpenID sign-in failed: {e:#}");
                return Ok(Err((
                    "ตรวจสอบตัวตนกับผู้ให้บริการไม่สำเร็จ กรุณาเริ่มใหม่",
                    "Your identity could not be checked with the provider. Start again.",
                )));
            }
        };
        sign_in_as(&state, &visitor, &identity).await
    }
    .await;
    match outcome {
        Ok(Ok(token)) => {
            // A page rather than a redirect: the navigation from it starts on this site, so
            // the `Strict` session cookie goes with it.
            let mut response = pages::render(StatusCode::OK, "oidc_done.html", lang, serde_json::json!({}));
            signin::set_session_cookie(&state, &mut response, &token);
            response
                .headers_mut()
                .append(header::SET_COOKIE, HeaderValue::from_static("hp_oidc=; Path=/console/oidc; Max-Age=0"));
            response
        }
        Ok(Err(why)) => not_signed_in(lang, why),
        Err(e) => {
            tracing::error!("cannot finish an OpenID sign-in: {e:#}");
            pages::unavailable(lang)
        }
    }
}

/// Finds the person the provider vouches for and starts their session.
async fn sign_in_as(
    state: &ConsoleState,
    visitor: &Visitor,
    identity: &Identity,
) -> anyhow::Result<Result<String, (&'static str, &'static str)>> {
    const NO_ACCOUNT: (&str, &str) = (
        "ไม่พบบัญชีผู้ใช้ที่ตรงกับตัวตนนี้ กรุณาขอให้หัวหน้างานเพิ่มชื่อของท่านด้วยอีเมลเดียวกับที่ใช้กับผู้ให้บริการยืนยันตัวตน",
        "No account matches this identity. Ask your supervisor to add you with the e-mail address you use at the identity provider.",
    );
    let (linked, by_email) = {
        let mut conn = state.store.read().await?;
        let linked = people::find_by_oidc_subject(&mut conn, &identity.subject).await?;
        let by_email = match (&linked, &identity.email) {
            (None, Some(email)) if identity.email_verified => people::find_by_email(&mut conn, email).await?,
            _ => None,
        };
        (linked, by_email)
    };
    let now = now_text();
    let audit = |person: Option<&Person>, action: &str| NewAudit {
        person_id: person.map(|p| p.person_id),
        workplace: person.map(|p| p.workplace),
        action: action.to_owned(),
        target: Some(person.map_or_else(|| identity.email.clone().unwrap_or_default(), |p| p.email.clone())),
        detail: Some(serde_json::json!({"subject": identity.subject})),
        client: Some(visitor.client.clone()),
        request_id: None,
    };
    // Someone new to the provider link is found by e-mail, unless that person is already linked
    // to another identity there.
    let person = match (linked, by_email) {
        (Some(p), _) => Some((p, false)),
        (None, Some(p)) if p.oidc_subject.is_none() => Some((p, true)),
        _ => None,
    };
    let Some((person, link)) = person.filter(|(p, _)| p.disabled_at.is_none()) else {
        let mut tx = state.store.begin().await?;
        people::append_audit(&mut tx, &audit(None, "signin.oidc_refused"), &now).await?;
        tx.commit().await?;
        return Ok(Err(NO_ACCOUNT));
    };
    let token = random_token();
    let mut tx = state.store.begin().await?;
    if link && !people::link_oidc_subject(&mut tx, person.person_id, &identity.subject, &now).await? {
        return Ok(Err(NO_ACCOUNT));
    }
    signin::start_session(&mut tx, state, &person, &token, &visitor.client).await?;
    people::append_audit(&mut tx, &audit(Some(&person), "signin.oidc"), &now).await?;
    tx.commit().await?;
    tracing::info!(person.id = %person.person_id, "{} signed in to the console through {}", person.email, identity.subject);
    Ok(Ok(token))
}

/// The provider's button on the sign-in page, if one is set up.
pub(crate) fn button(state: &ConsoleState) -> Option<String> {
    state.oidc.as_ref().map(|p| p.name.clone())
}
