//! `GET /auth/login`, `GET /auth/callback` and `POST /auth/logout`: the browser's side of
//! signing in, and the approver session it ends with.
//!
//! The session is a random token of this service (not the provider's tokens, which are
//! dropped once validated); the database keeps only its hash, with the name, groups, IdP
//! subject, issuer, `auth_time` and expiry ([`super::SESSION_TTL`]). The browser holds it
//! in a cookie that scripts cannot read (`HttpOnly`), that cross-site requests other than
//! top-level navigations do not carry (`SameSite=Lax`), and that travels over TLS only
//! (`Secure`) whenever `public_url` is https. The API takes the same token as a bearer
//! token (`Authorization: Bearer gks_...`) and never from the cookie, so that no form on
//! another site can make a signed-in browser approve anything.
//!
//! The login's `state` is also set in a short-lived cookie, and the callback must come from
//! the browser holding it: a callback URL with someone else's code and state (login CSRF)
//! is refused.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::super::event::{EventDetail, EventDraft};
use super::super::http::App;
use super::super::store::Store;
use super::{OidcError, SESSION_TTL};
use crate::api::verdict::unix_now;
use crate::render::Safe;

pub const LOGIN: &str = "/auth/login";
pub const CALLBACK: &str = "/auth/callback";
pub const LOGOUT: &str = "/auth/logout";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gk_session";
/// The cookie tying a login's callback to the browser that started it.
const LOGIN_COOKIE: &str = "gk_login";
/// The page to return to after the callback (base64url of a path on this site).
const NEXT_COOKIE: &str = "gk_next";

pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route(LOGIN, get(login::<S>))
        .route(CALLBACK, get(callback::<S>))
        .route(LOGOUT, post(logout::<S>))
        .merge(super::cli_login::router::<S>())
}

/// A plain-text answer (never HTML: what the provider or the URL says is shown inert).
pub(super) fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn not_configured() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "sign-in through OIDC is not configured on this service\nhint: set `[oidc]` in the file given to `gatekeep server --config`\n".into(),
    )
}

/// A `Set-Cookie` value with the flags every cookie here has.
fn cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    // Every part is ours: base64url, fixed names and paths.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of cookie `name` in the request.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `GET /auth/login[?max_age=SECONDS][&cli=HANDLE][&next=PATH]`: `max_age` asks the provider
/// for a sign-in no older than that (step-up, see [`crate::server::step_up`]); `cli` continues
/// a terminal's loopback sign-in ([`super::cli_login`]), whose own `max_age` then applies;
/// `next` is where the web page wants the browser back afterwards.
#[derive(Deserialize)]
struct LoginQuery {
    max_age: Option<u64>,
    cli: Option<String>,
    next: Option<String>,
}

async fn login<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return not_configured();
    };
    let options = match &q.cli {
        Some(handle) => match oidc.cli.take_loopback(handle) {
            Some(options) => options,
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "this terminal sign-in is unknown, already used or expired\nhint: run `gatekeep login --server URL --oidc` again\n".into(),
                );
            }
        },
        None => super::flow::BeginOptions {
            max_age: q.max_age,
            loopback: None,
        },
    };
    // Kept beside the login's `state` (same path, same lifetime) and checked again at the
    // callback: only a path on this site (see `web::safe_next`), never another host.
    let next = q
        .next
        .as_deref()
        .and_then(crate::server::web::safe_next)
        .map(|n| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, n));
    match oidc.begin(options).await {
        Ok(begun) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&begun.location) {
                headers.insert(header::LOCATION, location);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.append(
                header::SET_COOKIE,
                cookie(
                    LOGIN_COOKIE,
                    &begun.state,
                    "/auth",
                    super::flow::LOGIN_TTL.as_secs(),
                    oidc.secure_cookies,
                ),
            );
            headers.append(
                header::SET_COOKIE,
                cookie(
                    NEXT_COOKIE,
                    next.as_deref().unwrap_or_default(),
                    "/auth",
                    if next.is_some() {
                        super::flow::LOGIN_TTL.as_secs()
                    } else {
                        0
                    },
                    oidc.secure_cookies,
                ),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %Safe(&e.to_string()), "cannot start an OIDC sign-in");
            text(
                StatusCode::BAD_GATEWAY,
                format!("cannot start the sign-in: {e}\n"),
            )
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return not_configured();
    };
    let refuse =
        |status: StatusCode, why: String| text(status, format!("sign-in refused: {why}\n"));
    let Some(state) = q.state.as_deref() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the callback has no `state`".into(),
        );
    };
    if let Some(error) = &q.error {
        oidc.pending.take(state);
        return refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "the identity provider answered `{}`{}",
                Safe(error),
                q.error_description
                    .as_deref()
                    .map(|d| format!(": {}", Safe(d)))
                    .unwrap_or_default()
            ),
        );
    }
    if cookie_value(&headers, LOGIN_COOKIE) != Some(state) {
        // The pending login is dropped too: whoever holds this state cannot retry it.
        oidc.pending.take(state);
        return refuse(
            StatusCode::BAD_REQUEST,
            "this sign-in was not started in this browser (`state` does not match)\nhint: start again at /auth/login".into(),
        );
    }
    let Some(code) = q.code.as_deref() else {
        oidc.pending.take(state);
        return refuse(StatusCode::BAD_REQUEST, "the callback has no `code`".into());
    };
    let now = unix_now();
    let (claims, options) = match oidc.finish(state, code, q.iss.as_deref(), now).await {
        Ok(found) => found,
        Err(e) => {
            let status = match e {
                OidcError::Provider(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            tracing::warn!(error = %Safe(&e.to_string()), "OIDC sign-in refused");
            return refuse(status, e.to_string());
        }
    };
    let (identity, idp) = match oidc.approver(&claims) {
        Ok(found) => found,
        Err(e) => {
            let who = format!("oidc:{}", claims.subject);
            let channel = if options.loopback.is_some() {
                "cli"
            } else {
                "web"
            };
            app.service
                .refused(&who, "sign_in", "", &e.to_string(), Some(channel))
                .await;
            if let Some(loopback) = &options.loopback {
                return super::cli_login::to_loopback_refusal(loopback, &e.to_string());
            }
            return refuse(StatusCode::FORBIDDEN, e.to_string());
        }
    };
    if let Some(loopback) = &options.loopback {
        // A terminal's sign-in: the browser takes a one-time code back to the terminal,
        // which exchanges it (with its verifier) for the session.
        return super::cli_login::to_loopback(oidc, loopback, identity, idp);
    }
    let issued = match super::session::issue(&app, &identity, idp, "web", now).await {
        Ok(issued) => issued,
        Err(e @ super::session::IssueError::Store) => {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let (token, expires_at) = (issued.token, issued.expires_at);
    // Back to the web page the login started from, if it named one (checked again: the
    // cookie came back from the browser).
    let next = cookie_value(&headers, NEXT_COOKIE)
        .and_then(|v| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v).ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|n| crate::server::web::safe_next(n).is_some());
    let mut response = text(
        StatusCode::OK,
        format!(
            "signed in as {} ({}) until {expires_at}\n",
            Safe(&identity.name),
            Safe(&identity.groups.join(", "))
        ),
    );
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie(
            SESSION_COOKIE,
            &token,
            "/",
            SESSION_TTL.as_secs(),
            oidc.secure_cookies,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        cookie(LOGIN_COOKIE, "", "/auth", 0, oidc.secure_cookies),
    );
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        headers.insert(header::LOCATION, next);
        headers.append(
            header::SET_COOKIE,
            cookie(NEXT_COOKIE, "", "/auth", 0, oidc.secure_cookies),
        );
        *response.status_mut() = StatusCode::SEE_OTHER;
    }
    response
}

/// Ends the session named by the bearer token or the cookie. With the cookie (the web
/// page's sign-out form) the form must carry the session's CSRF token and come from this
/// site, so that another site cannot sign a person out; the browser then lands on
/// `/signed-out`.
async fn logout<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let secure = app.oidc.as_ref().is_some_and(|o| o.secure_cookies);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let from_cookie = bearer.is_none();
    let token = bearer.or_else(|| cookie_value(&headers, SESSION_COOKIE));
    if from_cookie && let Some(token) = token {
        let csrf = url::form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        let web = &crate::server::web::same_origin;
        if !web(&headers, app.web.public_url.as_ref())
            || !csrf.is_some_and(|c| crate::server::web::csrf_matches(token, &c))
        {
            return text(
                StatusCode::FORBIDDEN,
                "sign-out refused: the form's CSRF token is missing or wrong\nhint: use the Sign out button on the page\n".into(),
            );
        }
    }
    let ended = match token {
        Some(token) => {
            let hash = super::super::token_hash(token);
            let event = EventDraft::new(
                "",
                "",
                Some("web"),
                EventDetail::SignedOut {
                    session: hash[..12].to_owned(),
                },
            );
            // The actor is the session's holder, read before it goes.
            let event = match app.service.store.session(&hash, unix_now()).await {
                Ok(Some(s)) => EventDraft {
                    actor: s.identity.name,
                    ..event
                },
                _ => event,
            };
            app.service
                .store
                .end_session(&hash, event)
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    let mut response = text(
        StatusCode::OK,
        if ended {
            "signed out\n"
        } else {
            "no session to end\n"
        }
        .into(),
    );
    if from_cookie {
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static(crate::server::web::SIGNED_OUT),
        );
    }
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, "", "/", 0, secure),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_httponly_lax_and_secure_on_https() {
        let plain = cookie(SESSION_COOKIE, "gks_x", "/", 60, false);
        assert_eq!(
            plain.to_str().unwrap(),
            "gk_session=gks_x; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        let secure = cookie(SESSION_COOKIE, "gks_x", "/", 60, true);
        assert!(
            secure
                .to_str()
                .unwrap()
                .ends_with("; HttpOnly; SameSite=Lax; Secure")
        );
    }

    #[test]
    fn cookie_values_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xgk_login=a; gk_login=b"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("gk_session=c"));
        assert_eq!(cookie_value(&headers, LOGIN_COOKIE), Some("b"));
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("c"));
        assert_eq!(cookie_value(&headers, "gk"), None);
    }
}
