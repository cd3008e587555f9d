//! The approvers' web page: an inbox (`/`), a request's detail with Approve and Deny
//! (`/requests/ID`), its audit trail (`/requests/ID/events`) and the history (`/history`).
//! Server-rendered HTML ([`pages`], maud templates escaped at compile time), one small
//! script and one style sheet served from the binary ([`assets`]); no JavaScript framework.
//!
//! Who may see what is the service's business, not this module's: the inbox is
//! [`Service::pending`](super::service::Service::pending), a request is
//! [`Service::get`](super::service::Service::get), and every decision goes through
//! [`Service::decide_as`](super::service::Service::decide_as) with the channel `web`, the
//! same code path as the CLI's, so quorum, self-approval, groups and the audit event are
//! the same whatever the approver clicks.
//!
//! Security choices, each for a reason:
//! - The page knows only OIDC approver sessions (the `gk_session` cookie of
//!   [`super::oidc::routes`]); a static token from `gatekeep server token create` never
//!   signs anyone in here.
//! - Every state-changing form carries a CSRF token derived from the session token
//!   ([`csrf_token`]): the cookie is `SameSite=Lax` already, and the token is the second
//!   fence for browsers or proxies that get that wrong. It is compared in constant time,
//!   and `Origin` and `Sec-Fetch-Site`, when the browser sends them, must say same-origin.
//! - Every answer carries a strict `Content-Security-Policy` (no inline script or style,
//!   nothing from other origins, no framing, forms only to this origin), `nosniff`,
//!   `no-referrer` (request ids in URLs stay here) and `Cache-Control: no-store`.
//! - Everything a requester controls (the command, the reason, names, paths) goes through
//!   maud's HTML escaping and [`crate::render::terminal_safe`], so neither markup nor
//!   terminal escapes survive into the page.

pub mod assets;
mod handlers;
pub mod pages;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

use super::http::App;
use super::store::Store;

/// The inbox.
pub const INBOX: &str = "/";
/// The inbox's list alone, for the page's own refresh.
pub const INBOX_LIST: &str = "/inbox/list";
pub const HISTORY: &str = "/history";
pub const REQUEST: &str = "/requests/{id}";
pub const EVENTS: &str = "/requests/{id}/events";
pub const APPROVE: &str = "/requests/{id}/approve";
pub const DENY: &str = "/requests/{id}/deny";
/// Where a browser lands after signing out.
pub const SIGNED_OUT: &str = "/signed-out";

/// The page's policy: the script and the style sheet from this origin only, no inline
/// code, the page's own `fetch` to this origin (the inbox refresh), forms posting here
/// only, never framed, no `<base>` to redirect relative URLs.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new()
        .route(INBOX, get(handlers::inbox::<S>))
        .route(INBOX_LIST, get(handlers::inbox_list::<S>))
        .route(HISTORY, get(handlers::history::<S>))
        .route(REQUEST, get(handlers::request::<S>))
        .route(EVENTS, get(handlers::events::<S>))
        .route(APPROVE, post(handlers::approve::<S>))
        .route(DENY, post(handlers::deny::<S>))
        .route(SIGNED_OUT, get(handlers::signed_out))
        .route(assets::STYLE, get(assets::style))
        .route(assets::SCRIPT, get(assets::script))
}

/// The headers every page carries (see the module header).
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// The CSRF token of the session whose cookie holds `session_token`: SHA-256 of the token
/// under a label of its own. Only the holder of the (HttpOnly) cookie can know it, it needs
/// no storage, and it dies with the session. The database keeps SHA-256 of the bare token,
/// so the label keeps the two apart: what the database holds is not a CSRF token.
pub fn csrf_token(session_token: &str) -> String {
    crate::audit::ledger::sha256_hex(format!("gatekeep-web-csrf\0{session_token}").as_bytes())
}

/// Whether `given` is the session's CSRF token, compared in constant time.
pub fn csrf_matches(session_token: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let want = csrf_token(session_token);
    want.len() == given.len() && bool::from(want.as_bytes().ct_eq(given.as_bytes()))
}

/// Whether the browser says the request comes from this site: `Sec-Fetch-Site` must be
/// `same-origin` (or `none`: typed or bookmarked), and `Origin`, when sent, must be the
/// service's own. Both are absent from old browsers and scripts; the CSRF token is what is
/// always checked.
///
/// Pages here are sent with `Referrer-Policy: no-referrer`, under which browsers send
/// `Origin: null` even on same-origin form posts; a `null` origin is therefore accepted
/// only when `Sec-Fetch-Site` vouches for the same origin.
pub fn same_origin(headers: &HeaderMap, public_url: Option<&url::Url>) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .map(|s| s.to_str().unwrap_or(""));
    if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        return site == Some("same-origin");
    }
    match public_url {
        Some(public) => origin == public.origin().ascii_serialization(),
        // No public URL configured: the origin must name the host the request was sent to.
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            host.is_some_and(|h| {
                origin == format!("http://{h}") || origin == format!("https://{h}")
            })
        }
    }
}

/// `next` when it is a path on this site to return to after signing in: it must start with
/// exactly one `/` (`//host` and `/\host` are other hosts to a browser), carry no scheme,
/// no backslash and no control character, and stay short. Anything else is dropped (the
/// caller goes to the inbox), so that `/auth/login?next=` cannot send a signed-in person to
/// another site (an open redirect).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.len() <= 512
        && next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_path_on_this_site_only() {
        for good in ["/", "/requests/r-1", "/history?state=denied&rule=x"] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "/\t/evil.example",
            "/ok\r\nSet-Cookie: x=y",
            " /",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(600))), None);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let token = csrf_token("gks_one");
        assert!(csrf_matches("gks_one", &token));
        assert!(!csrf_matches("gks_two", &token));
        assert!(!csrf_matches("gks_one", ""));
        assert!(!csrf_matches("gks_one", &token[1..]));
        // Not the hash the database keeps of the session token.
        assert_ne!(token, crate::server::token_hash("gks_one"));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let public = url::Url::parse("https://gk.example.com").unwrap();
        let mut headers = HeaderMap::new();
        assert!(
            same_origin(&headers, Some(&public)),
            "no headers: token decides"
        );
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://gk.example.com"),
        );
        assert!(same_origin(&headers, Some(&public)));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers, Some(&public)));
        // `Origin: null` (what `no-referrer` pages send): only with same-origin fetch metadata.
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&headers, Some(&public)));
        headers.remove("sec-fetch-site");
        assert!(!same_origin(&headers, Some(&public)));
        headers.remove(header::ORIGIN);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers, Some(&public)));
    }
}
