//! The page's handlers: find the signed-in approver, ask the service, render. No rule of
//! who may see or decide what lives here (see the module header of [`super`]).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use maud::Markup;
use serde::Deserialize;

use super::pages::{self, Chrome, Filters, Nav, Notice};
use super::{csrf_matches, csrf_token, safe_next, same_origin, secure_headers};
use crate::api::protocol::Identity;
use crate::api::verdict::unix_now;
use crate::render::Safe;
use crate::server::event::IdpLogin;
use crate::server::http::App;
use crate::server::oidc::routes::{LOGIN, SESSION_COOKIE, cookie_value};
use crate::server::service::{ServiceError, refuse_own_by_idp};
use crate::server::store::{Record, Store};

type Shared<S> = AxState<Arc<App<S>>>;

/// The most requests `/history` shows at once.
const HISTORY_MAX: usize = 200;

/// The approver behind the browser's session cookie.
pub struct Signed {
    identity: Identity,
    idp: IdpLogin,
    /// The session token itself, from the cookie: what the CSRF token derives from.
    token: String,
}

/// Renders `markup` with the page headers.
fn html(status: StatusCode, markup: Markup) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response();
    secure_headers(&mut response);
    response
}

/// Renders a page for `signed` in the section `nav`.
fn render(
    signed: &Signed,
    nav: Nav,
    status: StatusCode,
    body: impl FnOnce(&Chrome<'_>) -> Markup,
) -> Response {
    let csrf = csrf_token(&signed.token);
    let chrome = Chrome {
        who: &signed.identity,
        csrf: &csrf,
        nav,
    };
    html(status, body(&chrome))
}

/// `/auth/login?next=PATH` for a browser that must sign in first.
fn login_link(next: &str) -> String {
    match safe_next(next) {
        Some(next) => {
            let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            format!("{LOGIN}?next={encoded}")
        }
        None => LOGIN.to_owned(),
    }
}

/// Sends a browser without a live session to sign in, coming back to `uri` afterwards.
fn to_sign_in(uri: &Uri) -> Response {
    let next = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&login_link(next)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    secure_headers(&mut response);
    response
}

/// The approver signed in with this browser, if any. `Err` is the answer to give instead:
/// sign-in is not configured, or the database failed.
async fn signed_in<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
) -> Result<Option<Signed>, Response> {
    if app.oidc.is_none() {
        return Err(html(
            StatusCode::NOT_FOUND,
            pages::sign_in(
                LOGIN,
                "Sign-in is not configured",
                "This service has no [oidc] settings, so approvers cannot sign in on the web. Set [web] public_url and [oidc] in the file given to `gatekeep server --config`.",
            ),
        ));
    }
    let Some(token) = cookie_value(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let hash = crate::server::token_hash(token);
    match app.service.store.session(&hash, unix_now()).await {
        Ok(Some(session)) => Ok(Some(Signed {
            identity: session.identity,
            idp: session.idp,
            token: token.to_owned(),
        })),
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::error!(error = %Safe(&e.to_string()), "cannot read an approver session");
            Err(unavailable())
        }
    }
}

fn unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::sign_in(
            "/",
            "Try again",
            "The approval service cannot reach its database right now.",
        ),
    )
}

/// The signed-in approver, or the answer that sends the browser to sign in.
async fn require<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Signed, Response> {
    match signed_in(app, headers).await? {
        Some(signed) => Ok(signed),
        None => Err(to_sign_in(uri)),
    }
}

/// The status and text a refused service call shows on the page.
fn refusal(e: &ServiceError) -> (StatusCode, String) {
    match e {
        ServiceError::Forbidden(_) => (StatusCode::FORBIDDEN, e.to_string()),
        ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, e.to_string()),
        ServiceError::Conflict(_) => (StatusCode::CONFLICT, e.to_string()),
        ServiceError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        ServiceError::TooMany(_) => (StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        ServiceError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        ServiceError::StepUp(_) => (StatusCode::UNAUTHORIZED, e.to_string()),
        ServiceError::Store(e) => {
            tracing::error!(error = %Safe(&e.to_string()), "storage failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the approval service cannot reach its database; try again".into(),
            )
        }
        ServiceError::Internal(why) => {
            tracing::error!(error = %Safe(why), "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the approval service failed internally; nothing was changed".into(),
            )
        }
    }
}

pub async fn inbox<S: Store>(AxState(app): Shared<S>, headers: HeaderMap, uri: Uri) -> Response {
    let signed = match require(&app, &headers, &uri).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match newest_pending(&app, &signed).await {
        Ok(records) => render(&signed, Nav::Inbox, StatusCode::OK, |c| {
            pages::inbox(c, &records, unix_now())
        }),
        Err(e) => {
            let (status, text) = refusal(&e);
            render(&signed, Nav::Inbox, status, |c| {
                pages::message(c, "Inbox", &text)
            })
        }
    }
}

/// The inbox's list alone (what the page's script swaps in). Without a session it answers
/// 401 and no list, so a signed-out tab shows nothing new.
pub async fn inbox_list<S: Store>(AxState(app): Shared<S>, headers: HeaderMap) -> Response {
    let signed = match signed_in(&app, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            secure_headers(&mut response);
            return response;
        }
        Err(answer) => return answer,
    };
    match newest_pending(&app, &signed).await {
        Ok(records) => html(StatusCode::OK, pages::inbox_list(&records, unix_now())),
        Err(e) => {
            let (status, _) = refusal(&e);
            let mut response = status.into_response();
            secure_headers(&mut response);
            response
        }
    }
}

/// What the approver may decide, newest first: [`Service::pending`]'s answer, less the
/// requests the identity provider says are their own (which the service would refuse them
/// at the click: [`refuse_own_by_idp`]).
///
/// [`Service::pending`]: crate::server::service::Service::pending
async fn newest_pending<S: Store>(
    app: &App<S>,
    signed: &Signed,
) -> Result<Vec<Record>, ServiceError> {
    let mut records = app.service.pending(&signed.identity).await?;
    records.retain(|r| refuse_own_by_idp(&signed.identity, &signed.idp, r).is_ok());
    records.reverse();
    Ok(records)
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn request<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let signed = match require(&app, &headers, &uri).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let notice = match q.done.as_deref() {
        Some("approved") => Some(Notice::Ok("You approved this request.".into())),
        Some("denied") => Some(Notice::Ok(
            "You denied this request; the agent gets your reason.".into(),
        )),
        _ => None,
    };
    detail(&app, &signed, &id, StatusCode::OK, notice.as_ref()).await
}

/// The detail page of `id` with `notice` on top.
async fn detail<S: Store>(
    app: &App<S>,
    signed: &Signed,
    id: &str,
    status: StatusCode,
    notice: Option<&Notice>,
) -> Response {
    match app.service.get(&signed.identity, id).await {
        Ok(record) => render(signed, Nav::None, status, |c| {
            pages::request(c, &record, notice, unix_now())
        }),
        Err(e) => {
            let (status, text) = refusal(&e);
            render(signed, Nav::None, status, |c| {
                pages::message(c, "No such request", &text)
            })
        }
    }
}

#[derive(Deserialize)]
pub struct DecideForm {
    csrf: Option<String>,
    reason: Option<String>,
}

pub async fn approve<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    decide(app, headers, uri, id, true, form).await
}

pub async fn deny<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    decide(app, headers, uri, id, false, form).await
}

/// A decision from the page: the browser's session, a same-origin form with the session's
/// CSRF token, then [`Service::decide_as`] with the channel `web`, as the CLI's.
///
/// [`Service::decide_as`]: crate::server::service::Service::decide_as
async fn decide<S: Store>(
    app: Arc<App<S>>,
    headers: HeaderMap,
    uri: Uri,
    id: String,
    approve: bool,
    form: DecideForm,
) -> Response {
    let action = if approve { "approve" } else { "deny" };
    let signed = match signed_in(&app, &headers).await {
        Ok(Some(s)) => s,
        // A POST cannot be replayed after signing in: back to the request's page.
        Ok(None) => {
            let back = uri.path().rsplit_once('/').map_or("/", |(page, _)| page);
            return to_sign_in(&back.parse().unwrap_or_default());
        }
        Err(answer) => return answer,
    };
    let forged = if !same_origin(&headers, app.web.public_url.as_ref()) {
        Some("the form was not sent from this site (Origin or Sec-Fetch-Site says cross-site)")
    } else if !form
        .csrf
        .as_deref()
        .is_some_and(|given| csrf_matches(&signed.token, given))
    {
        Some(
            "the form's CSRF token is missing or wrong (a stale page, or a form from another site)",
        )
    } else {
        None
    };
    if let Some(why) = forged {
        app.service
            .refused(&signed.identity.name, action, &id, why, Some("web"))
            .await;
        let text =
            format!("{why}; nothing was decided\nhint: reload the request's page and decide again");
        return render(&signed, Nav::None, StatusCode::FORBIDDEN, |c| {
            pages::message(c, "Refused", &text)
        });
    }
    let reason = form.reason.filter(|r| !r.trim().is_empty());
    match app
        .service
        .decide_as(
            &signed.identity,
            Some(&signed.idp),
            &id,
            approve,
            reason,
            "web",
        )
        .await
    {
        Ok(record) => {
            tracing::info!(id = %Safe(&id), by = %Safe(&signed.identity.name), approve, state = %record.state, channel = "web", "decision");
            // Post/redirect/get: a reload of the result does not post again.
            let done = if approve { "approved" } else { "denied" };
            let mut response = StatusCode::SEE_OTHER.into_response();
            let location = format!("/requests/{}?done={done}", url_path(&id));
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            secure_headers(&mut response);
            response
        }
        Err(e) => decision_refused(&app, &signed, &id, &e).await,
    }
}

/// A decision the service refused, shown on the request's page. Every refusal takes this
/// one way, so that one that needs the browser elsewhere (a fresher sign-in at the
/// provider, when a rule asks for it) can be turned into a redirect here.
async fn decision_refused<S: Store>(
    app: &App<S>,
    signed: &Signed,
    id: &str,
    e: &ServiceError,
) -> Response {
    tracing::warn!(id = %Safe(id), by = %Safe(&signed.identity.name), error = %Safe(&e.to_string()), "decision refused");
    if let ServiceError::StepUp(step_up) = e {
        // The rule asks for a fresher sign-in: through the provider again (with `max_age`,
        // so it asks for the password), then back to this request to decide.
        let back = format!("/requests/{}", url_path(id));
        let encoded: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        let location = format!("{}&next={encoded}", step_up.browser_path());
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        secure_headers(&mut response);
        return response;
    }
    let (status, text) = refusal(e);
    detail(app, signed, id, status, Some(&Notice::Error(text))).await
}

/// `id` as one URL path segment.
fn url_path(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub async fn history<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(f): Query<Filters>,
) -> Response {
    let signed = match require(&app, &headers, &uri).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    let day_ms = |d: &Option<String>| {
        d.as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| crate::time::parse_date(d.trim()).map(|days| days * 86_400_000))
    };
    let (from, to) = (day_ms(&f.from), day_ms(&f.to));
    if matches!(from, Some(None)) || matches!(to, Some(None)) {
        return render(
            &signed,
            Nav::History,
            StatusCode::UNPROCESSABLE_ENTITY,
            |c| {
                pages::message(
                    c,
                    "History",
                    "a date filter is not a date\nhint: write it as YYYY-MM-DD",
                )
            },
        );
    }
    let (from, to) = (from.flatten(), to.flatten().map(|t| t + 86_400_000));
    let state = f.state.as_deref().filter(|s| !s.is_empty());
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (requester, approver, rule) = (text(&f.requester), text(&f.approver), text(&f.rule));
    let records = match app.service.store.requests(None).await {
        Ok(r) => r,
        Err(e) => {
            let (status, text) = refusal(&ServiceError::Store(e));
            return render(&signed, Nav::History, status, |c| {
                pages::message(c, "History", &text)
            });
        }
    };
    let same = crate::server::names::same;
    let shown: Vec<Record> = records
        .into_iter()
        .rev()
        .filter(|r| state.is_none_or(|s| r.state.as_str() == s))
        .filter(|r| {
            requester.as_deref().is_none_or(|q| {
                same(&r.requester, q) || r.on_behalf_of.as_deref().is_some_and(|u| same(u, q))
            })
        })
        .filter(|r| {
            approver
                .as_deref()
                .is_none_or(|q| r.approvals.iter().any(|a| same(&a.name, q)))
        })
        .filter(|r| {
            rule.as_deref()
                .is_none_or(|q| r.create.ask.rules.iter().any(|x| x == q))
        })
        .filter(|r| {
            let at = crate::time::parse_rfc3339_ms(&r.created_at).unwrap_or(0);
            from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
        })
        .take(HISTORY_MAX)
        .collect();
    render(&signed, Nav::History, StatusCode::OK, |c| {
        pages::history(c, &f, &shown, HISTORY_MAX)
    })
}

pub async fn events<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let signed = match require(&app, &headers, &uri).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    // Visibility first, as for the request itself.
    if let Err(e) = app.service.get(&signed.identity, &id).await {
        let (status, text) = refusal(&e);
        return render(&signed, Nav::None, status, |c| {
            pages::message(c, "No such request", &text)
        });
    }
    match app.service.store.events().await {
        Ok(all) => {
            // Its own events, and the attempts refused on it (which the chain keeps apart
            // from the request, naming it in their detail).
            let mine: Vec<_> = all
                .into_iter()
                .filter(|e| {
                    e.request_id == id
                        || (e.kind == "refused" && e.detail["request"].as_str() == Some(&id))
                })
                .collect();
            render(&signed, Nav::None, StatusCode::OK, |c| {
                pages::events(c, &id, &mine)
            })
        }
        Err(e) => {
            let (status, text) = refusal(&ServiceError::Store(e));
            render(&signed, Nav::None, status, |c| {
                pages::message(c, "Events", &text)
            })
        }
    }
}

/// Where a browser lands after signing out: a page, not a redirect to sign in again (the
/// provider's own session would sign the person straight back in).
pub async fn signed_out() -> Response {
    html(
        StatusCode::OK,
        pages::sign_in(LOGIN, "Signed out", "Your approver session has ended."),
    )
}
