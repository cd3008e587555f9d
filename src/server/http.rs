//! The HTTP face of the approval service (see [`crate::api::protocol`] for the API).
//! Handlers only authenticate, translate and call [`Service`]; the rules live there.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::event::IdpLogin;
use super::service::{Service, ServiceError};
use super::store::Store;
use crate::api::protocol::{
    Anchor, CreateRequest, Decide, ErrorBody, Identity, MAX_WAIT_SECS, PAGE_MAX, RequestView, Role,
    RunReport,
};
use crate::api::routes;
use crate::api::verdict::{JwkSet, unix_now};
use crate::render::Safe;

/// The largest request body read: a create at every field limit fits.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct App<S> {
    pub service: Service<S>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub web: super::WebOptions,
    /// Sign-in through the OpenID provider, when `[oidc]` is configured.
    pub oidc: Option<super::oidc::Oidc>,
    /// The channels' HTTP client and Slack's replay guard (see [`super::notify`]).
    pub channels: super::notify::Live,
}

type Shared<S> = AxState<Arc<App<S>>>;

pub fn router<S: Store>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route(
            routes::HEALTH,
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(routes::JWKS, get(jwks::<S>))
        .route(routes::WHOAMI, get(whoami::<S>))
        .route(routes::REQUESTS, post(create::<S>).get(list::<S>))
        .route(routes::REQUEST, get(show::<S>))
        .route(routes::WAIT, get(wait::<S>))
        .route(routes::CANCEL, post(cancel::<S>))
        .route(routes::OUTCOME, post(outcome::<S>))
        .route(routes::APPROVE, post(approve::<S>))
        .route(routes::DENY, post(deny::<S>))
        .route(routes::ANCHORS, get(anchors::<S>))
        .route(routes::CHANGES, get(super::feed::changes::<S>))
        .merge(super::oidc::routes::router::<S>())
        .merge(super::web::router::<S>())
        .merge(super::notify::interactions::router::<S>())
        // Bodies are small (see the field limits in `service`); anything bigger is refused
        // before it is read into memory.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// An error response: `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        let status = match &e {
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // RFC 9470's `insufficient_user_authentication`: the token is good, its sign-in
            // is too old for this request.
            ServiceError::StepUp(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Store(e) => {
                tracing::error!(error = %Safe(&e.to_string()), "storage failed");
                return ApiError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the approval service cannot reach its database; try again".into(),
                );
            }
            ServiceError::Internal(why) => {
                tracing::error!(error = %Safe(why), "internal error");
                return ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the approval service failed internally; nothing was changed".into(),
                );
            }
        };
        ApiError(status, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Who is calling: the identity behind the bearer token, and their sign-in at the identity
/// provider when the token is an approver session (see [`super::oidc::routes`]).
pub struct Caller {
    pub identity: Identity,
    pub idp: Option<IdpLogin>,
}

/// The identity behind the request's bearer token.
pub(super) async fn authenticate<S: Store>(
    app: &App<S>,
    headers: &HeaderMap,
) -> ApiResult<Identity> {
    Ok(caller(app, headers).await?.identity)
}

/// The caller behind the request's bearer token: a token from `gatekeep server token
/// create`, or an approver session's token.
async fn caller<S: Store>(app: &App<S>, headers: &HeaderMap) -> ApiResult<Caller> {
    let unauthorized = |why: &str| {
        ApiError(
            StatusCode::UNAUTHORIZED,
            format!(
                "{why}\nhint: run `gatekeep login --server URL` with a token from `gatekeep server token create`"
            ),
        )
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("no bearer token"))?;
    let hash = super::token_hash(token.trim());
    let found = match app.service.store.identity(&hash).await {
        Ok(Some(identity)) => Ok(Some(Caller {
            identity,
            idp: None,
        })),
        Ok(None) => match app.service.store.session(&hash, unix_now()).await {
            Ok(session) => Ok(session.map(|s| Caller {
                identity: s.identity,
                idp: Some(s.idp),
            })),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => {
            // Evidence of who tried: a revoked token's name, or an unknown token's id (the
            // first 12 hex digits of its hash, as `token list` shows ids; never the token).
            // Looking it up reads every token, so a flood of bad tokens past this minute's
            // refusal budget is only counted (`refused` does), never looked up.
            let tokens = if app.service.refusals_left() {
                app.service.store.tokens().await.unwrap_or_default()
            } else {
                Vec::new()
            };
            let (actor, why) = match tokens.iter().find(|t| t.hash == hash) {
                Some(t) => (
                    t.identity.name.clone(),
                    format!(
                        "used token {}, revoked at {}",
                        t.id,
                        t.revoked_at.as_deref().unwrap_or("?")
                    ),
                ),
                None => (
                    format!("unknown token {}", &hash[..12]),
                    "presented a token the service never issued".to_owned(),
                ),
            };
            app.service
                .refused(&actor, "authenticate", "", &why, None)
                .await;
            Err(unauthorized("the token is unknown or revoked"))
        }
        Err(e) => Err(ServiceError::Store(e).into()),
    }
}

/// What the API shows of `record`; once it is final, with a signed checkpoint of the chain
/// that covers the event holding its verdict.
///
/// The checkpoint is signed fresh here (when the chain moved since the last one), not
/// taken from the last minute's: the verdict's own event (`approved`, `denied`, ...) is
/// then always inside it, so the client's ledger holds the service's signed word that its
/// chain contained this decision, and a later cut of the chain above it is caught by the
/// checkpoint the client keeps. It costs one Ed25519 signature and one small insert per
/// final verdict handed out after a change, which decisions (made by people) keep rare.
/// A failure to checkpoint never withholds the verdict: it is logged, and the client gets
/// the verdict without one, as from an older server.
async fn deliver<S: Store>(app: &App<S>, record: &super::store::Record) -> RequestView {
    let mut view = record.view();
    if record.state.is_final() {
        match app.service.checkpoint().await {
            Ok(checkpoint) => view.checkpoint = checkpoint,
            Err(e) => {
                tracing::error!(error = %Safe(&e.to_string()), "cannot sign a checkpoint of the audit chain");
            }
        }
    }
    view
}

async fn jwks<S: Store>(AxState(app): Shared<S>) -> Json<JwkSet> {
    Json(app.service.keys().jwks())
}

async fn whoami<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
) -> ApiResult<Json<Identity>> {
    Ok(Json(authenticate(&app, &headers).await?))
}

async fn create<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Json(req): Json<CreateRequest>,
) -> ApiResult<(StatusCode, Json<RequestView>)> {
    let who = authenticate(&app, &headers).await?;
    let (record, new) = app.service.create(&who, req).await?;
    if new {
        // The id and command are the requester's to choose: rendered so that a newline or
        // an escape in them cannot forge or hide a log line.
        tracing::info!(id = %Safe(&record.create.id), requester = %Safe(&who.name), command = %Safe(&record.command), "request created");
    }
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(record.view())))
}

async fn anchors<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<Anchor>>> {
    let who = authenticate(&app, &headers).await?;
    Ok(Json(app.service.anchors(&who).await?))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    /// Page size (default and most: [`PAGE_MAX`]).
    limit: Option<usize>,
    /// The last id of the previous page.
    after: Option<String>,
}

async fn list<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<RequestView>>> {
    let who = authenticate(&app, &headers).await?;
    if q.state.as_deref().is_some_and(|s| s != "pending") {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "only state=pending can be listed".into(),
        ));
    }
    let records = app.service.pending(&who).await?;
    let start = match &q.after {
        Some(after) => records
            .iter()
            .position(|r| &r.create.id == after)
            .map_or(records.len(), |i| i + 1),
        None => 0,
    };
    let limit = q.limit.unwrap_or(PAGE_MAX).clamp(1, PAGE_MAX);
    Ok(Json(
        records
            .iter()
            .skip(start)
            .take(limit)
            .map(|r| r.view())
            .collect(),
    ))
}

async fn show<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestView>> {
    let who = authenticate(&app, &headers).await?;
    let record = app.service.get(&who, &id).await?;
    Ok(Json(deliver(&app, &record).await))
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout: Option<u64>,
}

async fn wait<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Json<RequestView>> {
    let who = authenticate(&app, &headers).await?;
    let timeout = Duration::from_secs(q.timeout.unwrap_or(MAX_WAIT_SECS).min(MAX_WAIT_SECS));
    let record = app
        .service
        .wait(&who, &id, timeout, app.shutdown.clone())
        .await?;
    Ok(Json(deliver(&app, &record).await))
}

async fn cancel<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Decide>>,
) -> ApiResult<Json<RequestView>> {
    let who = authenticate(&app, &headers).await?;
    let reason = body.and_then(|b| b.0.reason);
    let record = app.service.cancel(&who, &id, reason).await?;
    tracing::info!(id = %Safe(&id), by = %Safe(&who.name), state = %record.state, "request cancelled");
    Ok(Json(deliver(&app, &record).await))
}

async fn outcome<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(outcome): Json<RunReport>,
) -> ApiResult<StatusCode> {
    let who = authenticate(&app, &headers).await?;
    app.service.outcome(&who, &id, outcome).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn approve<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Decide>>,
) -> ApiResult<Json<RequestView>> {
    decide(app, headers, id, true, body.and_then(|b| b.0.reason)).await
}

async fn deny<S: Store>(
    AxState(app): Shared<S>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Decide>>,
) -> ApiResult<Json<RequestView>> {
    decide(app, headers, id, false, body.and_then(|b| b.0.reason)).await
}

async fn decide<S: Store>(
    app: Arc<App<S>>,
    headers: HeaderMap,
    id: String,
    approve: bool,
    reason: Option<String>,
) -> ApiResult<Json<RequestView>> {
    let Caller { identity: who, idp } = caller(&app, &headers).await?;
    if who.role == Role::Approver && idp.is_none() && !app.web.static_approver_tokens {
        // `[auth] static_approver_tokens = false`: approvers come through the identity
        // provider, so a bearer token from `gatekeep server token create` no longer decides.
        let why = "static approver tokens are switched off on this service; approvers sign in through OIDC";
        app.service
            .refused(
                &who.name,
                if approve { "approve" } else { "deny" },
                &id,
                why,
                None,
            )
            .await;
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("{why}\nhint: sign in at the service's /auth/login"),
        ));
    }
    // The CLI says so; anything else calling the API is `api`.
    let channel = match headers
        .get("x-gatekeep-channel")
        .and_then(|v| v.to_str().ok())
    {
        Some("cli") => "cli",
        _ => "api",
    };
    let record = app
        .service
        .decide_as(&who, idp.as_ref(), &id, approve, reason, channel)
        .await
        .inspect_err(|e| {
            tracing::warn!(id = %Safe(&id), by = %Safe(&who.name), error = %Safe(&e.to_string()), "decision refused");
        })?;
    tracing::info!(id = %Safe(&id), by = %Safe(&who.name), approve, state = %record.state, "decision");
    Ok(Json(deliver(&app, &record).await))
}
