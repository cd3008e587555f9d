//! A terminal's sign-in through this service (`gatekeep login --server URL --oidc`): the
//! state both ways keep, the loopback redirect (RFC 8252 §7.3), and the routes. The device
//! flow's own steps are in [`super::device`]; the wire bodies in [`crate::api::cli_login`].
//!
//! Loopback: the terminal listens on `127.0.0.1:PORT` and posts that address with the S256
//! challenge of a verifier it keeps. It gets back `/auth/login?cli=HANDLE` to open in a
//! browser, which runs this service's usual code flow (its own callback, `state`, `nonce`,
//! PKCE, the login cookie). At the end, instead of a cookie, the browser is sent to the
//! loopback address with a one-time code, which the terminal exchanges, with its verifier,
//! for a session. Only loopback IP literals are accepted as the address (not `localhost`,
//! which a resolver could send elsewhere), so the code never leaves the machine whose
//! browser signed in; a handle, a code and a device sign-in are each usable once, die after
//! [`super::flow::LOGIN_TTL`], and a wrong verifier ends the sign-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Json, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::super::event::IdpLogin;
use super::super::http::App;
use super::super::store::Store;
use super::Oidc;
use super::flow::{BeginOptions, LOGIN_TTL};
use crate::api::cli_login::{
    self as wire, CliSession, LoopbackExchange, LoopbackStart, LoopbackStarted,
};
use crate::api::protocol::{ErrorBody, Identity};
use crate::api::verdict::{random_b64, unix_now};
use crate::render::Safe;

/// How long the browser's one-time code may wait for the terminal's exchange.
const CODE_TTL: Duration = Duration::from_secs(60);
/// Sign-ins in progress kept at once, per kind; the oldest go first beyond it.
const MAX_KEPT: usize = 10_000;
/// Device sign-ins the service starts at the provider per minute, for everyone together.
pub const DEVICE_STARTS_PER_MINUTE: u32 = 60;

/// Entries that are taken once and die after a time-to-live, capped in number (so that
/// unauthenticated starts cannot grow memory without bound).
pub struct Expiring<T> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, T)>>,
}

impl<T> Expiring<T> {
    fn new(ttl: Duration) -> Expiring<T> {
        Expiring {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn insert(&self, key: String, value: T) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        if entries.len() >= MAX_KEPT
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Takes the entry: once, and only while it is fresh.
    pub(super) fn take(&self, key: &str) -> Option<T> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, value) = entries.remove(key)?;
        (at.elapsed() < self.ttl).then_some(value)
    }

    /// Changes the entry in place (while fresh) and returns what `f` says.
    pub(super) fn with<R>(&self, key: &str, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(key) {
            Some((at, value)) if at.elapsed() < self.ttl => Some(f(value)),
            _ => None,
        }
    }
}

/// Where a loopback sign-in ends: the terminal's address and its challenge.
#[derive(Clone, Debug)]
pub struct Loopback {
    pub redirect_uri: url::Url,
    pub challenge: String,
}

/// A signed-in person waiting for the terminal to exchange the browser's code.
struct Signed {
    identity: Identity,
    idp: IdpLogin,
    challenge: String,
}

/// The terminal sign-ins in progress.
pub struct CliLogins {
    /// Loopback sign-ins started by a terminal, by handle, until the browser opens them.
    loopbacks: Expiring<BeginOptions>,
    /// One-time codes the browser took to the terminal.
    codes: Expiring<Signed>,
    /// Device sign-ins, by handle.
    pub(super) devices: Expiring<super::device::DeviceLogin>,
    /// Device sign-ins started in the current minute: each start is a call to the
    /// provider, which an unauthenticated caller must not be able to multiply at will.
    device_starts: Mutex<(Instant, u32)>,
}

impl Default for CliLogins {
    fn default() -> CliLogins {
        CliLogins {
            loopbacks: Expiring::new(LOGIN_TTL),
            codes: Expiring::new(CODE_TTL),
            devices: Expiring::new(LOGIN_TTL),
            device_starts: Mutex::new((Instant::now(), 0)),
        }
    }
}

impl CliLogins {
    /// The loopback sign-in `handle` names, for `/auth/login?cli=HANDLE` (once).
    pub fn take_loopback(&self, handle: &str) -> Option<BeginOptions> {
        self.loopbacks.take(handle)
    }

    /// Counts a device sign-in start; false past [`DEVICE_STARTS_PER_MINUTE`].
    pub(super) fn may_start_device(&self) -> bool {
        let mut window = self.device_starts.lock().unwrap_or_else(|e| e.into_inner());
        if window.0.elapsed() >= Duration::from_secs(60) {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= DEVICE_STARTS_PER_MINUTE
    }
}

/// Whether `verifier` is the one whose S256 challenge is `challenge` (compared in constant
/// time).
pub(super) fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let mine = wire::challenge(verifier);
    mine.len() == challenge.len()
        && mine
            .bytes()
            .zip(challenge.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A loopback address the browser may be sent to: `http`, an IP literal that is loopback
/// (127.0.0.0/8 or ::1), an explicit port, no user info or fragment.
fn loopback_uri(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{}` is not a URL: {e}", Safe(text)))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if url.scheme() != "http"
        || !loopback
        || url.port().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "`{}` is not a loopback redirect: it must be http://127.0.0.1:PORT/... or http://[::1]:PORT/... (RFC 8252)",
            Safe(text)
        ));
    }
    Ok(url)
}

/// An error answer `{"error": ...}`.
pub(super) fn error(status: StatusCode, why: impl Into<String>) -> Response {
    Refusal(status, why.into()).into_response()
}

/// An error answer not yet made into a response (small, for `Result`s).
pub(super) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

pub(super) fn not_configured() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "sign-in through OIDC is not configured on this service\nhint: log in with a token from `gatekeep server token create` instead",
    )
}

pub(super) fn random(n: usize) -> Result<String, Refusal> {
    random_b64(n).map_err(|e| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no randomness: {e}"),
        )
    })
}

/// The browser's last step of a loopback sign-in: a one-time code for the terminal, and a
/// redirect to its address with it.
pub(super) fn to_loopback(
    oidc: &Oidc,
    loopback: &Loopback,
    identity: Identity,
    idp: IdpLogin,
) -> Response {
    let code = match random(32) {
        Ok(code) => code,
        Err(e) => return e.into_response(),
    };
    oidc.cli.codes.insert(
        code.clone(),
        Signed {
            identity,
            idp,
            challenge: loopback.challenge.clone(),
        },
    );
    let mut location = loopback.redirect_uri.clone();
    location.query_pairs_mut().append_pair("code", &code);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The browser's last step of a loopback sign-in that was refused after the provider
/// signed the person in (outside `allowed_groups`): the terminal is told why (RFC 6749
/// §4.1.2.1's `error` and `error_description`) instead of waiting for a code.
pub(super) fn to_loopback_refusal(loopback: &Loopback, why: &str) -> Response {
    let mut location = loopback.redirect_uri.clone();
    location
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", why);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route(wire::LOOPBACK, post(loopback_start::<S>))
        .route(wire::LOOPBACK_TOKEN, post(loopback_token::<S>))
        .route(wire::DEVICE, post(super::device::start::<S>))
        .route(wire::DEVICE_TOKEN, post(super::device::poll::<S>))
}

async fn loopback_start<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    Json(body): Json<LoopbackStart>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return not_configured();
    };
    let redirect_uri = match loopback_uri(&body.redirect_uri) {
        Ok(url) => url,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    if body.code_challenge.len() != 43 {
        return error(
            StatusCode::BAD_REQUEST,
            "`code_challenge` must be the S256 challenge of a verifier (43 characters)",
        );
    }
    let handle = match random(32) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    oidc.cli.loopbacks.insert(
        handle.clone(),
        BeginOptions {
            max_age: body.max_age,
            loopback: Some(Loopback {
                redirect_uri,
                challenge: body.code_challenge,
            }),
        },
    );
    let base = oidc.redirect_uri.trim_end_matches(super::routes::CALLBACK);
    Json(LoopbackStarted {
        url: format!("{base}{}?cli={handle}", super::routes::LOGIN),
    })
    .into_response()
}

async fn loopback_token<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    Json(body): Json<LoopbackExchange>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return not_configured();
    };
    // Taken whatever follows: a code is tried once, so a wrong verifier cannot be retried.
    let Some(signed) = oidc.cli.codes.take(&body.code) else {
        return error(
            StatusCode::BAD_REQUEST,
            "this sign-in code is unknown, already used or expired\nhint: run `gatekeep login --server URL --oidc` again",
        );
    };
    if !verifier_matches(&body.code_verifier, &signed.challenge) {
        app.service
            .refused(
                &signed.identity.name,
                "sign_in",
                "",
                "the code verifier does not match the sign-in's challenge",
                Some("cli"),
            )
            .await;
        return error(
            StatusCode::FORBIDDEN,
            "the code verifier does not match: this sign-in was started by another program; it is cancelled\nhint: run `gatekeep login --server URL --oidc` again",
        );
    }
    session_answer(&app, &signed.identity, signed.idp).await
}

/// Issues the terminal's session and answers it, or the reason it could not be.
pub(super) async fn session_answer<S: Store>(
    app: &App<S>,
    identity: &Identity,
    idp: IdpLogin,
) -> Response {
    match issue(app, identity, idp).await {
        Ok(session) => Json(session).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn issue<S: Store>(
    app: &App<S>,
    identity: &Identity,
    idp: IdpLogin,
) -> Result<CliSession, Refusal> {
    match super::session::issue(app, identity, idp, "cli", unix_now()).await {
        Ok(issued) => Ok(CliSession {
            token: issued.token,
            name: identity.name.clone(),
            expires_at: issued.expires_at,
        }),
        Err(e @ super::session::IssueError::Store) => {
            Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Err(e) => Err(Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_ip_literals_with_a_port_are_redirect_targets() {
        for good in [
            "http://127.0.0.1:8123/cb",
            "http://127.0.0.2:8123/cb?state=x",
            "http://[::1]:9/",
        ] {
            assert!(loopback_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://localhost:8123/cb",
            "https://127.0.0.1:8123/cb",
            "http://127.0.0.1/cb",
            "http://evil.example:8123/cb",
            "http://10.0.0.1:8123/cb",
            "http://user@127.0.0.1:8123/cb",
            "http://127.0.0.1:8123/cb#frag",
            "javascript:alert(1)",
        ] {
            assert!(loopback_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_verifier_matches_only_its_challenge() {
        let c = wire::challenge("verifier-one");
        assert!(verifier_matches("verifier-one", &c));
        assert!(!verifier_matches("verifier-two", &c));
        assert!(!verifier_matches("verifier-one", ""));
    }
}
