//! Signed webhooks for anything else (PagerDuty, an internal bot): a JSON event with the
//! request's view, signed `X-Gatekeep-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, t + "." +
//! body))`. Delivery is at least once: `id` (the outbox row) lets a receiver drop a repeat.

use serde_json::json;

use super::config::WebhookConfig;
use super::send::{Http, SendError};
use super::signature;
use crate::server::outbox::OutboxRow;

pub const HEADER: &str = "x-gatekeep-signature";

/// The body sent for `row`.
pub fn body(row: &OutboxRow) -> String {
    let request: serde_json::Value =
        serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null);
    json!({
        "id": row.id,
        "event": row.notice.as_str(),
        "request": request,
    })
    .to_string()
}

pub async fn send(http: &Http, hook: &WebhookConfig, row: &OutboxRow) -> Result<(), SendError> {
    let body = body(row);
    let t = crate::api::verdict::unix_now();
    let sig = signature::webhook(hook.secret.expose().as_bytes(), t, body.as_bytes());
    http.post_json(
        &format!("the webhook {}", hook.channel),
        hook.url.expose(),
        vec![(HEADER, sig)],
        body,
    )
    .await
    .map(drop)
}
