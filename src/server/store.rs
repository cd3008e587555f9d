//! Storage for the approval service, behind one trait so that PostgreSQL can follow SQLite.
//!
//! The trait is deliberately small: a backend stores tokens, requests (as whole records) and
//! the audit trail, and makes each [`Store::save`] one transaction that also extends the
//! hash chain. The decisions (who may approve, quorum, signing) live in `service.rs`, once,
//! for every backend.

use crate::audit::canonical::canonical_json;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::audit::{Event, HashedRow};
pub use super::event::EventDraft;
use crate::api::protocol::{CreateRequest, Identity, RequestView, Role, State};
use crate::api::verdict::Approval;

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

/// An approver session, issued after an OIDC sign-in: only the hash of its token is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the session token (see [`super::token_hash`]).
    pub hash: String,
    /// The approver: name and groups from the ID token's claims.
    pub identity: Identity,
    pub idp: super::event::IdpLogin,
    pub created_at: String,
    /// Seconds since the epoch; the session is dead from then on.
    pub expires_unix: u64,
}

/// A request and everything decided about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub create: CreateRequest,
    /// What approvers read for this request: [`crate::api::protocol::display_argv`] of
    /// the argv as received.
    #[serde(default)]
    pub command: String,
    /// SHA-256 of everything approvers are shown that came from the client
    /// ([`crate::api::protocol::Shown`]), signed into the verdict.
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
    pub outcome: Option<crate::api::protocol::RunReport>,
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
                crate::api::protocol::display_argv(&c.ask.argv)
            } else {
                self.command.clone()
            },
            ask: c.ask.clone(),
            requester: self.requester.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            created_at: self.created_at.clone(),
            expires_at: self.expires_at.clone(),
            expires_unix: self.expires_unix,
            approvals: self.approvals.clone(),
            verdict: self.verdict.clone(),
            outcome: self.outcome.clone(),
            checkpoint: None,
        }
    }
}

/// A `requests` row as the backend stores it: what [`RequestRow::hash`] covers, so that a
/// row changed outside the service (its state, its body) no longer matches the hash its
/// last event carries.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRow {
    pub id: String,
    pub state: String,
    pub expires_unix: i64,
    /// The whole record, as JSON.
    pub body: serde_json::Value,
}

impl RequestRow {
    /// The row `record` is stored as.
    pub fn of(record: &Record) -> Result<RequestRow, StoreError> {
        Ok(RequestRow {
            id: record.create.id.clone(),
            state: record.state.as_str().to_owned(),
            expires_unix: i64::try_from(record.expires_unix).unwrap_or(i64::MAX),
            body: serde_json::to_value(record).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }
}

impl super::audit::HashedRow for RequestRow {
    fn id(&self) -> &str {
        &self.id
    }

    fn state(&self) -> &str {
        &self.state
    }

    /// SHA-256 (hex) of the row's canonical JSON: `{"body":…,"expires_unix":…,"id":…,"state":…}`
    /// in the form of [`canonical_json`].
    fn hash(&self) -> String {
        let row = serde_json::json!({
            "id": self.id,
            "state": self.state,
            "expires_unix": self.expires_unix,
            "body": self.body,
        });
        crate::audit::ledger::sha256_hex(canonical_json(&row).as_bytes())
    }
}

/// Puts the hash of `record`'s row, as it is after this change, into every event about it:
/// what `gatekeep server audit verify` holds the row against. Called by each backend's
/// [`Store::save`] with the row it writes.
pub fn stamp_row(record: &Record, events: &mut [EventDraft]) -> Result<(), StoreError> {
    let hash = RequestRow::of(record)?.hash();
    for event in events
        .iter_mut()
        .filter(|e| e.request_id == record.create.id)
    {
        event.row = Some(hash.clone());
    }
    Ok(())
}

/// A signed checkpoint of the chain, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub seq: i64,
    pub head: String,
    pub time: String,
    /// The compact JWS (see [`crate::api::checkpoint`]).
    pub jws: String,
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
    /// Held by the service across a read-modify-save of a request (see [`Store::exclusive`]).
    type Exclusive: Send;
    /// Excludes every other replica's request changes until the value is dropped. A backend
    /// only one process serves (SQLite) needs nothing beyond the service's own lock.
    fn exclusive(&self) -> impl Future<Output = Result<Self::Exclusive, StoreError>> + Send;
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
    /// Stores a new approver session and records its `signed_in` event.
    fn add_session(
        &self,
        session: &SessionRow,
        event: EventDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The session whose token hashes to `hash`, if it is still alive at `now` (seconds
    /// since the epoch).
    fn session(
        &self,
        hash: &str,
        now: u64,
    ) -> impl Future<Output = Result<Option<SessionRow>, StoreError>> + Send;
    /// Every session alive at `now` (seconds since the epoch), oldest first.
    fn sessions(
        &self,
        now: u64,
    ) -> impl Future<Output = Result<Vec<SessionRow>, StoreError>> + Send;
    /// Ends the session whose token hashes to `hash`, recording `event` when there was one;
    /// returns whether there was.
    fn end_session(
        &self,
        hash: &str,
        event: EventDraft,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Whether `name` still holds a live (not revoked) token of `role`, or (approvers) a
    /// live session.
    fn live(&self, name: &str, role: Role)
    -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Appends `events` to the chain with no request change (refused attempts).
    fn record_events(
        &self,
        events: Vec<EventDraft>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Revokes the live tokens with this id or name, recording a `token_revoked` event by
    /// `actor` for each in the same transaction; returns how many were revoked.
    fn revoke(
        &self,
        id_or_name: &str,
        at: &str,
        actor: &str,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    fn request(&self, id: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;
    /// How many requests of `requester` wait for approval (the flood limit checks it on
    /// every create: an index lookup, never a read of every pending request).
    fn pending_of(&self, requester: &str)
    -> impl Future<Output = Result<usize, StoreError>> + Send;
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
    /// The chain's last event: its seq and hash (`None` when the chain is empty).
    fn head(&self) -> impl Future<Output = Result<Option<(i64, String)>, StoreError>> + Send;
    /// Stores a signed checkpoint.
    fn add_checkpoint(
        &self,
        checkpoint: &StoredCheckpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The checkpoint stored last, if any.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;
    /// Every stored checkpoint, oldest first.
    fn checkpoints(&self)
    -> impl Future<Output = Result<Vec<StoredCheckpoint>, StoreError>> + Send;
    /// Every `requests` row as stored, for checking against the chain.
    fn request_rows(&self) -> impl Future<Output = Result<Vec<RequestRow>, StoreError>> + Send;
    /// The whole audit trail, in order.
    fn events(&self) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The events of one kind caused by one actor, in order.
    fn events_of(
        &self,
        kind: &str,
        actor: &str,
    ) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The row hash must not depend on the order members were written or parsed in.
    #[test]
    fn canonical_json_sorts_members_whatever_the_map_order() {
        let text = r#"{"b":1,"a":{"d":[{"z":null,"y":"é\n"}],"c":true},"aa":-2}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let want = r#"{"a":{"c":true,"d":[{"y":"é\n","z":null}]},"aa":-2,"b":1}"#;
        assert_eq!(canonical_json(&value), want);
        // Built in another order: the same text.
        let mut map = serde_json::Map::new();
        map.insert("aa".into(), json!(-2));
        map.insert("b".into(), json!(1));
        map.insert(
            "a".into(),
            json!({"d": [{"y": "é\n", "z": null}], "c": true}),
        );
        assert_eq!(canonical_json(&serde_json::Value::Object(map)), want);
        // A fixed vector, so that a change of encoding shows: `printf '%s' TEXT | sha256sum`.
        assert_eq!(
            crate::audit::ledger::sha256_hex(canonical_json(&value).as_bytes()),
            "757b71a9e81ee29fed71950265eb55a549079c59d6befe3e6f0f2652df6bce40"
        );
    }
}
