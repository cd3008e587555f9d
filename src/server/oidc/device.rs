//! The device authorization grant (RFC 8628) for a terminal, run by this service because it
//! holds the client secret: `POST /auth/device` asks the provider's
//! `device_authorization_endpoint` for a user code, `POST /auth/device/token` polls the
//! provider's token endpoint for the terminal. The ID token is validated as the browser's
//! is (see [`super::id_token`]; no nonce, which this flow does not have), `max_age` is
//! checked when the terminal asked for one, `allowed_groups` applies, and the session goes
//! to the terminal once: the sign-in ends with it.
//!
//! The provider's device code never leaves this service. The terminal polls with a handle
//! and the verifier whose S256 challenge it sent at the start; a wrong verifier ends the
//! sign-in. Polls faster than the provider's `interval` are answered `slow_down` without
//! reaching the provider, and the provider's own `slow_down` lengthens the interval by 5 s
//! (RFC 8628 §3.5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Json, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::super::http::App;
use super::super::store::Store;
use super::cli_login::{error, issue, not_configured, random, verifier_matches};
use super::id_token::check_max_age;
use super::{Oidc, OidcError};
use crate::api::cli_login::{DevicePoll, DevicePolled, DeviceStart, DeviceStarted, PollStatus};
use crate::api::verdict::unix_now;
use crate::render::Safe;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the interval when the provider names none.
const DEFAULT_INTERVAL: u64 = 5;

/// A device sign-in in progress.
pub struct DeviceLogin {
    device_code: String,
    challenge: String,
    interval: u64,
    /// Not polled at the provider before this.
    next_poll: Instant,
    /// The provider's `expires_in`, as an instant.
    expires: Instant,
    max_age: Option<u64>,
}

/// The provider's device authorization answer (RFC 8628 §3.2).
#[derive(Deserialize)]
struct Authorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: Option<u64>,
}

impl Oidc {
    /// Asks the provider for a user code; `None` when it has no device endpoint.
    async fn device_authorize(
        &self,
        max_age: Option<u64>,
    ) -> Result<Option<Authorization>, OidcError> {
        let (provider, _) = self.provider().await?;
        let Some(endpoint) = provider.metadata.device_authorization_endpoint.clone() else {
            return Ok(None);
        };
        let mut form = vec![("scope", self.scopes(provider).join(" "))];
        if let Some(max_age) = max_age {
            form.push(("max_age", max_age.to_string()));
        }
        let auth = self.client_auth(provider, &mut form);
        if auth.is_some() {
            // RFC 8628 §3.1 names `client_id`; with Basic authentication it is there too.
            form.push(("client_id", self.config.client_id.clone()));
        }
        let answer: Authorization = self.fetcher.post_form(&endpoint, form, auth).await?;
        Ok(Some(answer))
    }

    /// One poll of the token endpoint for `device_code`.
    async fn device_token(&self, device_code: &str) -> Result<(u16, Value), OidcError> {
        let (provider, _) = self.provider().await?;
        let mut form = vec![
            ("grant_type", GRANT_TYPE.to_owned()),
            ("device_code", device_code.to_owned()),
        ];
        let auth = self.client_auth(provider, &mut form);
        self.fetcher
            .post_form_any(&provider.metadata.token_endpoint, form, auth)
            .await
    }
}

pub(super) async fn start<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    Json(body): Json<DeviceStart>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return not_configured();
    };
    if body.code_challenge.len() != 43 {
        return error(
            StatusCode::BAD_REQUEST,
            "`code_challenge` must be the S256 challenge of a verifier (43 characters)",
        );
    }
    if !oidc.cli.may_start_device() {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many terminal sign-ins were started in the last minute; try again in a minute",
        );
    }
    let answer = match oidc.device_authorize(body.max_age).await {
        Ok(Some(answer)) => answer,
        Ok(None) => {
            return error(
                StatusCode::NOT_IMPLEMENTED,
                "the identity provider has no device authorization endpoint\nhint: sign in through a browser: `gatekeep login --server URL --oidc --no-device`",
            );
        }
        Err(e) => {
            tracing::warn!(error = %Safe(&e.to_string()), "cannot start a device sign-in");
            return error(
                StatusCode::BAD_GATEWAY,
                format!("cannot start the sign-in: {e}"),
            );
        }
    };
    let handle = match random(32) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let interval = answer.interval.unwrap_or(DEFAULT_INTERVAL).max(1);
    // Never longer than this service keeps sign-ins in progress.
    let expires_in = answer.expires_in.min(super::flow::LOGIN_TTL.as_secs());
    oidc.cli.devices.insert(
        handle.clone(),
        DeviceLogin {
            device_code: answer.device_code,
            challenge: body.code_challenge,
            interval,
            next_poll: Instant::now() + Duration::from_secs(interval),
            expires: Instant::now() + Duration::from_secs(expires_in),
            max_age: body.max_age,
        },
    );
    Json(DeviceStarted {
        handle,
        user_code: answer.user_code,
        verification_uri: answer.verification_uri,
        verification_uri_complete: answer.verification_uri_complete,
        expires_in,
        interval,
    })
    .into_response()
}

/// What a poll may do, decided under the lock.
enum Step {
    Poll {
        device_code: String,
        max_age: Option<u64>,
    },
    TooSoon(u64),
    WrongVerifier,
    Expired,
}

fn pending(status: PollStatus, interval: u64) -> Response {
    Json(DevicePolled {
        status,
        interval,
        session: None,
    })
    .into_response()
}

pub(super) async fn poll<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    Json(body): Json<DevicePoll>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return not_configured();
    };
    let devices = &oidc.cli.devices;
    let step = devices.with(&body.handle, |login| {
        if !verifier_matches(&body.code_verifier, &login.challenge) {
            Step::WrongVerifier
        } else if Instant::now() >= login.expires {
            Step::Expired
        } else if Instant::now() < login.next_poll {
            Step::TooSoon(login.interval)
        } else {
            login.next_poll = Instant::now() + Duration::from_secs(login.interval);
            Step::Poll {
                device_code: login.device_code.clone(),
                max_age: login.max_age,
            }
        }
    });
    let gone = "this sign-in is unknown, already finished or expired\nhint: run `gatekeep login --server URL --oidc` again";
    let (device_code, max_age) = match step {
        None => return error(StatusCode::GONE, gone),
        Some(Step::Expired) => {
            devices.take(&body.handle);
            return error(StatusCode::GONE, gone);
        }
        Some(Step::WrongVerifier) => {
            devices.take(&body.handle);
            return error(
                StatusCode::FORBIDDEN,
                "the code verifier does not match: this sign-in was started by another program; it is cancelled",
            );
        }
        // The terminal polled faster than the interval: the provider is not asked.
        Some(Step::TooSoon(interval)) => return pending(PollStatus::SlowDown, interval),
        Some(Step::Poll {
            device_code,
            max_age,
        }) => (device_code, max_age),
    };
    let (status, answer) = match oidc.device_token(&device_code).await {
        Ok(found) => found,
        Err(e) => {
            // Transient: the terminal polls again.
            tracing::warn!(error = %Safe(&e.to_string()), "device sign-in poll failed");
            return error(StatusCode::BAD_GATEWAY, e.to_string());
        }
    };
    if status != 200 {
        let code = answer.get("error").and_then(Value::as_str).unwrap_or("");
        return match code {
            "authorization_pending" => {
                let interval = devices
                    .with(&body.handle, |l| l.interval)
                    .unwrap_or(DEFAULT_INTERVAL);
                pending(PollStatus::Pending, interval)
            }
            "slow_down" => {
                let interval = devices
                    .with(&body.handle, |l| {
                        l.interval += 5;
                        l.next_poll = Instant::now() + Duration::from_secs(l.interval);
                        l.interval
                    })
                    .unwrap_or(DEFAULT_INTERVAL + 5);
                pending(PollStatus::SlowDown, interval)
            }
            "access_denied" => {
                devices.take(&body.handle);
                error(
                    StatusCode::FORBIDDEN,
                    "the sign-in was denied at the identity provider",
                )
            }
            "expired_token" => {
                devices.take(&body.handle);
                error(StatusCode::GONE, gone)
            }
            other => {
                devices.take(&body.handle);
                let description = answer
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                error(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "the identity provider refused the sign-in: {} {}",
                        Safe(other),
                        Safe(description)
                    ),
                )
            }
        };
    }
    // Signed in at the provider: this handle is spent whatever the checks below say.
    if devices.take(&body.handle).is_none() {
        return error(StatusCode::GONE, gone);
    }
    let Some(id_token) = answer.get("id_token").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_GATEWAY,
            "the token endpoint answered without an ID token",
        );
    };
    let now = unix_now();
    let claims = match oidc.verify_device_id_token(id_token, now).await {
        Ok(claims) => claims,
        Err(e) => {
            tracing::warn!(error = %Safe(&e.to_string()), "device sign-in refused");
            return error(StatusCode::FORBIDDEN, format!("sign-in refused: {e}"));
        }
    };
    if let Err(e) = check_max_age(&claims, max_age, now) {
        return error(StatusCode::FORBIDDEN, format!("sign-in refused: {e}"));
    }
    let (identity, idp) = match oidc.approver(&claims) {
        Ok(found) => found,
        Err(e) => {
            let who = format!("oidc:{}", claims.subject);
            app.service
                .refused(&who, "sign_in", "", &e.to_string(), Some("cli"))
                .await;
            return error(StatusCode::FORBIDDEN, format!("sign-in refused: {e}"));
        }
    };
    match issue(&app, &identity, idp).await {
        Ok(session) => Json(DevicePolled {
            status: PollStatus::Done,
            interval: 0,
            session: Some(session),
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}
