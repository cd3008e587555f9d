//! Storage for the approval service, behind one trait so that PostgreSQL can follow SQLite.
//!
//! The trait is deliberately small: a backend stores tokens, requests (as whole records) and
//! the audit trail, and makes each [`Store::save`] one transaction that also extends the
//! hash chain. The decisions (who may approve, quorum, signing) live in `service.rs`, once,
//! for every backend.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::audit::Event;
use crate::approval::protocol::{CreateRequest, Identity, RequestView, Role, State};
use crate::verdict::Approval;

/// A token as stored: only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    /// Short public id, for `token list` and `token revoke`.
    pub id: String,
    /// SHA-256 of the token: the token itself is shown once and never stored.
    #[serde(skip)]
    pub hash: String,
    #[serde(flatten)]
    pub identity: Identity,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A request and everything decided about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub create: CreateRequest,
    /// What approvers read for this request: [`crate::approval::protocol::display_argv`] of
    /// the argv as received.
    #[serde(default)]
    pub command: String,
    /// SHA-256 of everything approvers are shown that came from the client
    /// ([`crate::approval::protocol::Shown`]), signed into the verdict.
    #[serde(default)]
    pub shown: String,
    pub requester: String,
    pub on_behalf_of: Option<String>,
    pub state: State,
    pub created_at: String,
    pub expires_at: String,
    /// Seconds since the epoch, for the expiry sweep.
    pub expires_unix: u64,
    pub approvals: Vec<Approval>,
    pub verdict: Option<String>,
    /// Set once the requester has reported how the command ended.
    #[serde(default)]
    pub outcome: Option<crate::approval::protocol::Outcome>,
}

impl Record {
    /// What the API shows: everything but the nonce.
    pub fn view(&self) -> RequestView {
        let c = &self.create;
        RequestView {
            id: c.id.clone(),
            state: self.state,
            // Records stored before the server derived the command have none: derive it now.
            command: if self.command.is_empty() {
                crate::approval::protocol::display_argv(&c.argv)
            } else {
                self.command.clone()
            },
            argv: c.argv.clone(),
            digest: c.digest.clone(),
            requester: self.requester.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            origin: c.origin.clone(),
            reason: c.reason.clone(),
            rules: c.rules.clone(),
            messages: c.messages.clone(),
            risk: c.risk.clone(),
            quorum: c.quorum,
            groups: c.groups.clone(),
            group_sets: c.group_sets.clone(),
            created_at: self.created_at.clone(),
            expires_at: self.expires_at.clone(),
            expires_unix: self.expires_unix,
            approvals: self.approvals.clone(),
            verdict: self.verdict.clone(),
            outcome: self.outcome.clone(),
        }
    }
}

/// An audit event before the store numbers and chains it.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    pub request_id: String,
    pub kind: &'static str,
    pub actor: String,
    pub channel: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a token named `{0}` already exists and is not revoked")]
    NameTaken(String),
}

/// What a backend must do. Every method is one transaction.
pub trait Store: Send + Sync + 'static {
    /// The live (not revoked) identity whose token hashes to `hash`.
    fn identity(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<Identity>, StoreError>> + Send;
    fn add_token(
        &self,
        token: &TokenRow,
        event: EventDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn tokens(&self) -> impl Future<Output = Result<Vec<TokenRow>, StoreError>> + Send;
    /// Whether `name` still holds a live (not revoked) token of `role`.
    fn live(&self, name: &str, role: Role)
    -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Appends `events` to the chain with no request change (refused attempts).
    fn record_events(
        &self,
        events: Vec<EventDraft>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Revokes the live token with this id or name; returns how many were revoked.
    fn revoke(
        &self,
        id_or_name: &str,
        at: &str,
        event: EventDraft,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    fn request(&self, id: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;
    /// Requests in `state` (all when `None`), oldest first.
    fn requests(
        &self,
        state: Option<State>,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;
    /// Inserts or replaces `record` and appends `events` to the chain, atomically.
    fn save(
        &self,
        record: &Record,
        events: Vec<EventDraft>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The whole audit trail, in order.
    fn events(&self) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The events of one kind caused by one actor, in order.
    fn events_of(
        &self,
        kind: &str,
        actor: &str,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
}
