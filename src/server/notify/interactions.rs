//! `POST /slack/interactions`: Slack's interactivity requests (a button clicked, the deny
//! modal submitted), checked and turned into decisions through the service's one path.
//!
//! Order of checks: the signature (v0, five-minute window, constant time) and that it was not
//! seen before — anything else is 401 and never reaches the service; then who the Slack user
//! is as an approver (the static `[[slack.user]]` map, else the email on their Slack profile
//! when `users = "email"`), which must be a live approver token; then the service decides,
//! and refuses the requester's own request or an approver outside the rule's groups as it
//! does on every channel. A refusal is told to the user alone (`chat.postEphemeral`), and
//! recorded in the audit chain by the service.
//!
//! The Slack user id is recorded with the decision as the approver's login at the provider
//! `slack:TEAM` (the `idp` of the `approved` / `denied` event).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::config::SlackConfig;
use super::send::SendError;
use super::signature::{Replays, verify_slack};
use super::slack;
use crate::api::protocol::{Identity, Role};
use crate::api::verdict::unix_now;
use crate::render::Safe;
use crate::server::event::IdpLogin;
use crate::server::http::App;
use crate::server::names;
use crate::server::service::ServiceError;
use crate::server::store::Store;

pub const PATH: &str = "/slack/interactions";

pub fn router<S: Store>() -> Router<Arc<App<S>>> {
    Router::new().route(PATH, post(interactions::<S>))
}

fn unauthorized(why: impl std::fmt::Display) -> Response {
    tracing::warn!(why = %why, "refused a Slack interaction");
    (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response()
}

/// Who clicked: the Slack user and the conversation to answer them in.
struct Clicker<'a> {
    user: &'a str,
    team: &'a str,
    channel: &'a str,
}

async fn interactions<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(config) = &app.web.channels.slack else {
        return (StatusCode::NOT_FOUND, "Slack is not configured here\n").into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return unauthorized(super::signature::SignatureError::Missing);
    };
    let now = unix_now();
    if let Err(e) = verify_slack(
        config.signing_secret.expose().as_bytes(),
        timestamp,
        signature,
        &body,
        now,
    ) {
        return unauthorized(e);
    }
    let replays: &Replays = &app.channels.replays;
    if let Err(e) = replays.check(signature, timestamp.trim().parse().unwrap_or(0), now) {
        return unauthorized(e);
    }
    let payload = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok());
    let Some(payload) = payload else {
        return (StatusCode::BAD_REQUEST, "no `payload` form field\n").into_response();
    };
    let clicker = Clicker {
        user: payload["user"]["id"].as_str().unwrap_or_default(),
        team: payload["user"]["team_id"]
            .as_str()
            .or(payload["team"]["id"].as_str())
            .unwrap_or_default(),
        channel: payload["channel"]["id"]
            .as_str()
            .or(payload["container"]["channel_id"].as_str())
            .unwrap_or(&config.channel),
    };
    match payload["type"].as_str() {
        Some("block_actions") => block_action(&app, config, &clicker, &payload).await,
        Some("view_submission") => submission(&app, config, &clicker, &payload).await,
        // Anything else (a modal closed, a shortcut) needs no answer.
        _ => StatusCode::OK.into_response(),
    }
}

/// Tells `clicker` alone, without holding up Slack's three-second answer.
fn tell<S: Store>(app: &App<S>, config: &SlackConfig, clicker: &Clicker<'_>, text: String) {
    let (http, config) = (app.channels.http.clone(), config.clone());
    let (channel, user) = (clicker.channel.to_owned(), clicker.user.to_owned());
    tokio::spawn(async move {
        let api = slack::Api {
            http: &http,
            config: &config,
        };
        if let Err(e) = api.ephemeral(&channel, &user, &text).await {
            tracing::warn!(error = %Safe(&e.to_string()), "cannot tell a Slack user why they were refused");
        }
    });
}

/// The approver the Slack user is, with their Slack login for the audit event; or why not.
async fn approver<S: Store>(
    app: &App<S>,
    config: &SlackConfig,
    clicker: &Clicker<'_>,
) -> Result<(Identity, IdpLogin), String> {
    if !app.web.static_approver_tokens {
        return Err("this gatekeep takes decisions only from approvers signed in through its identity provider: open the request's web page to decide".into());
    }
    let mapped = config
        .users
        .iter()
        .find(|(id, _)| id == clicker.user)
        .map(|(_, name)| name.clone());
    let unmapped = |why: &str| {
        format!(
            "your Slack user {} is not mapped to a gatekeep approver{why}\nhint: ask an operator to add it as a `[[slack.user]]` in the server's settings",
            clicker.user
        )
    };
    let name = match mapped {
        Some(name) => name,
        None if config.by_email => {
            let api = slack::Api {
                http: &app.channels.http,
                config,
            };
            match api.email(clicker.user).await {
                Ok(Some(email)) => email,
                Ok(None) => return Err(unmapped(" (your Slack profile shows no email)")),
                Err(SendError::Refused(why)) => return Err(unmapped(&format!(" ({why})"))),
                Err(e @ SendError::Retry { .. }) => {
                    return Err(format!(
                        "gatekeep cannot look you up in Slack right now ({e}); try again"
                    ));
                }
            }
        }
        None => return Err(unmapped("")),
    };
    let tokens = app
        .service
        .store
        .tokens()
        .await
        .map_err(|_| "gatekeep cannot reach its database; try again".to_owned())?;
    let identity = tokens
        .into_iter()
        .filter(|t| t.revoked_at.is_none() && t.identity.role == Role::Approver)
        .map(|t| t.identity)
        .find(|i| names::same(&i.name, &name))
        .ok_or_else(|| format!("{name} is not an approver in gatekeep (no live approver token)"))?;
    let idp = IdpLogin {
        subject: clicker.user.to_owned(),
        issuer: format!("slack:{}", clicker.team),
        auth_time: None,
    };
    Ok((identity, idp))
}

/// Records a refusal of someone gatekeep could not map to an approver.
async fn refuse_unmapped<S: Store>(
    app: &App<S>,
    clicker: &Clicker<'_>,
    action: &str,
    id: &str,
    why: &str,
) {
    let actor = format!("slack:{}", clicker.user);
    app.service
        .refused(&actor, action, id, why, Some("slack"))
        .await;
}

fn refusal(e: &ServiceError) -> String {
    match e {
        ServiceError::Store(_) | ServiceError::Internal(_) => {
            "gatekeep failed to record your decision; nothing was changed, try again".into()
        }
        e => e.to_string(),
    }
}

async fn block_action<S: Store>(
    app: &App<S>,
    config: &SlackConfig,
    clicker: &Clicker<'_>,
    payload: &Value,
) -> Response {
    let action = &payload["actions"][0];
    let id = action["value"].as_str().unwrap_or_default();
    let approve = match action["action_id"].as_str() {
        Some(slack::APPROVE) => true,
        Some(slack::DENY) => false,
        // The link button: Slack tells us of the click too.
        _ => return StatusCode::OK.into_response(),
    };
    let verb = if approve { "approve" } else { "deny" };
    let (who, idp) = match approver(app, config, clicker).await {
        Ok(found) => found,
        Err(why) => {
            refuse_unmapped(app, clicker, verb, id, &why).await;
            tell(
                app,
                config,
                clicker,
                format!("You cannot {verb} request {id}: {why}"),
            );
            return StatusCode::OK.into_response();
        }
    };
    if approve {
        // A rule that asks for a fresh sign-in (step-up) cannot be approved from Slack, which
        // proves no recent authentication at the provider: the service refuses it (the Slack
        // identity has no `auth_time`), and the clicker is sent to the web page instead.
        if let Err(e) = app
            .service
            .decide_as(&who, Some(&idp), id, true, None, "slack")
            .await
        {
            let text = match (&e, super::facts::page(app.web.public_url.as_ref(), id)) {
                (ServiceError::StepUp(step_up), Some(page)) => format!(
                    "Request {id} needs a sign-in at the identity provider within the last {} s (step-up): approve it on the web page, {page}",
                    step_up.max_age
                ),
                _ => format!("You cannot approve request {id}: {}", refusal(&e)),
            };
            tell(app, config, clicker, text);
        }
        // Done: the message is updated through the outbox like on every other channel.
        return StatusCode::OK.into_response();
    }
    let Some(trigger) = payload["trigger_id"].as_str() else {
        return (StatusCode::BAD_REQUEST, "no trigger_id\n").into_response();
    };
    let metadata = json!({"id": id, "channel": clicker.channel}).to_string();
    let api = slack::Api {
        http: &app.channels.http,
        config,
    };
    if let Err(e) = api
        .open_view(trigger, slack::deny_modal(id, &metadata))
        .await
    {
        tracing::warn!(error = %Safe(&e.to_string()), "cannot open Slack's deny modal");
        tell(
            app,
            config,
            clicker,
            format!("gatekeep could not open the deny form ({e}); try again"),
        );
    }
    StatusCode::OK.into_response()
}

async fn submission<S: Store>(
    app: &App<S>,
    config: &SlackConfig,
    clicker: &Clicker<'_>,
    payload: &Value,
) -> Response {
    let view = &payload["view"];
    if view["callback_id"].as_str() != Some(slack::DENY_MODAL) {
        return StatusCode::OK.into_response();
    }
    let metadata: Value =
        serde_json::from_str(view["private_metadata"].as_str().unwrap_or_default())
            .unwrap_or_default();
    let id = metadata["id"].as_str().unwrap_or_default();
    let clicker = Clicker {
        channel: metadata["channel"].as_str().unwrap_or(clicker.channel),
        ..*clicker
    };
    let reason = view["state"]["values"][slack::REASON][slack::REASON]["value"]
        .as_str()
        .map(str::to_owned);
    let errors = |why: String| {
        axum::Json(json!({"response_action": "errors", "errors": {slack::REASON: why}}))
            .into_response()
    };
    let (who, idp) = match approver(app, config, &clicker).await {
        Ok(found) => found,
        Err(why) => {
            refuse_unmapped(app, &clicker, "deny", id, &why).await;
            return errors(why);
        }
    };
    match app
        .service
        .decide_as(&who, Some(&idp), id, false, reason, "slack")
        .await
    {
        // An empty answer closes the modal.
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => errors(refusal(&e)),
    }
}
