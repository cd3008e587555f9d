//! Issuing an approver session once a sign-in has been validated: one code path for the
//! browser's callback, the terminal's device flow and its loopback redirect. The token is
//! random and shown once; the database keeps its hash with the name, groups, IdP subject,
//! issuer, `auth_time` and expiry, and the sign-in goes into the audit chain.

use super::super::event::{EventDetail, EventDraft, IdpLogin};
use super::super::http::App;
use super::super::store::{SessionRow, Store};
use super::SESSION_TTL;
use crate::api::protocol::Identity;
use crate::api::verdict::random_b64;
use crate::render::Safe;

/// A session just issued.
pub struct Issued {
    /// `gks_...`: the bearer token (and the browser's cookie).
    pub token: String,
    pub expires_at: String,
}

/// Why no session could be issued (the message is safe to show).
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no randomness: {0}")]
    Random(String),
    #[error("the service cannot reach its database; try again")]
    Store,
}

/// Stores a new approver session for `identity` signed in as `idp`, through `channel`
/// (`web` or `cli`), and records the sign-in.
pub async fn issue<S: Store>(
    app: &App<S>,
    identity: &Identity,
    idp: IdpLogin,
    channel: &str,
    now: u64,
) -> Result<Issued, IssueError> {
    let token = format!(
        "gks_{}",
        random_b64(32).map_err(|e| IssueError::Random(e.to_string()))?
    );
    let hash = super::super::token_hash(&token);
    let expires_unix = now + SESSION_TTL.as_secs();
    let expires_at =
        crate::time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(expires_unix));
    let row = SessionRow {
        hash: hash.clone(),
        identity: identity.clone(),
        idp: idp.clone(),
        created_at: crate::time::now_rfc3339(),
        expires_unix,
    };
    let event = EventDraft::new(
        "",
        &identity.name,
        Some(channel),
        EventDetail::SignedIn {
            session: hash[..12].to_owned(),
            groups: identity.groups.clone(),
            expires_at: expires_at.clone(),
            idp: idp.clone(),
        },
    );
    if let Err(e) = app.service.store.add_session(&row, event).await {
        tracing::error!(error = %Safe(&e.to_string()), "cannot store an approver session");
        return Err(IssueError::Store);
    }
    tracing::info!(name = %Safe(&identity.name), subject = %Safe(&idp.subject), channel, "approver signed in");
    Ok(Issued { token, expires_at })
}
