//! What the service records in its audit chain: one variant per event kind, written by the
//! service and the operators' CLI and read back by the report, so that a field is named in
//! one place. The stored form keeps `kind` and `detail` apart (`detail` is the variant's
//! fields as a JSON object), exactly as events were written before these types, so older
//! chains verify and read the same.
//!
//! Reading is tolerant where older servers wrote less (`#[serde(default)]`); an event whose
//! kind is unknown or whose detail does not fit is reported as an anomaly by the reader,
//! never dropped.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::protocol::{LedgerHead, Role};

/// The kinds of [`EventDetail`], as stored.
pub const KINDS: &[&str] = &[
    "created",
    "notified",
    "approved",
    "denied",
    "approval_withdrawn",
    "cancelled",
    "expired",
    "outcome",
    "refused",
    "token_created",
    "token_revoked",
    "signed_in",
    "signed_out",
    "session_revoked",
    "delivery",
    "key_rotated",
];

/// An audit event's kind and its fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum EventDetail {
    /// A request was made: everything an approver was shown and the verdict will cover.
    Created(Box<Created>),
    /// Approvers were told of a request, through `channel`.
    Notified { channel: String },
    Approved {
        reason: Option<String>,
        /// Distinct approvals so far, this one included.
        #[serde(default)]
        approvals: usize,
        /// 0 when not recorded.
        #[serde(default)]
        quorum: u32,
        /// Sets of groups not yet met by any approval.
        #[serde(default)]
        unmet_groups: Vec<Vec<String>>,
        /// This approval completed the quorum.
        #[serde(rename = "final")]
        #[serde(default)]
        done: bool,
        /// The signed verdict, on the approval that completed the quorum.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verdict: Option<String>,
        /// The approver's sign-in at the identity provider, when they came through OIDC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idp: Option<IdpLogin>,
    },
    Denied {
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verdict: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idp: Option<IdpLogin>,
    },
    /// An approval no longer counts: its approver's token was revoked before the quorum.
    ApprovalWithdrawn { approver: String, reason: String },
    Cancelled {
        reason: Option<String>,
        /// The signed verdict (not read back: `#[serde(default)]` so that a trail with
        /// it missing still reads).
        #[serde(default)]
        verdict: String,
    },
    Expired {
        #[serde(default)]
        verdict: String,
    },
    /// How an approved command ended, as its requester reported it.
    Outcome {
        exit_code: i32,
        duration_ms: u64,
        signal: Option<String>,
    },
    /// An attempt the service refused (self-approval, a foreign request, a wrong role...).
    Refused {
        action: String,
        request: String,
        reason: String,
        /// Refusals over the recording budget just before this one, counted but not recorded.
        #[serde(default)]
        uncounted_before: u64,
    },
    TokenCreated {
        /// Empty in trails written before it was recorded.
        #[serde(default)]
        id: String,
        name: String,
        kind: Role,
        #[serde(default)]
        groups: Vec<String>,
        on_behalf_of: Option<String>,
    },
    /// An approver signed in through OIDC and was given a session (`session` is the first
    /// 12 hex digits of the session token's hash, never the token).
    SignedIn {
        session: String,
        idp: IdpLogin,
        #[serde(default)]
        groups: Vec<String>,
        expires_at: String,
    },
    /// An approver session was ended by its holder.
    SignedOut { session: String },
    /// An operator ended an approver session (`gatekeep server session revoke`): `session`
    /// is its id (as in [`EventDetail::SignedIn`]), `name` its holder.
    SessionRevoked { session: String, name: String },
    /// One attempt to deliver a notice to a channel (see `server::notify`): `result` is
    /// `sent`, `retry` (with when) or `failed` (given up), `error` says why it did not go.
    Delivery {
        channel: String,
        notice: String,
        attempt: u32,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    /// An operator rotated the signing key (`gatekeep server key rotate`): `kid` signs from
    /// now on, `previous` stays published and endorses it.
    KeyRotated { kid: String, previous: String },
    /// A token was revoked; `token` is what the operator named (an id or a name). Servers
    /// before these types recorded only `token`.
    TokenRevoked {
        token: String,
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        kind: Option<Role>,
    },
}

/// An approver's sign-in at the OpenID provider: who the provider says they are and when
/// they last authenticated there. Recorded with every decision taken through an approver
/// session, and when the session starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpLogin {
    /// The ID token's `sub`.
    pub subject: String,
    /// The ID token's `iss`.
    pub issuer: String,
    /// The ID token's `auth_time` (seconds since the epoch), when it had one.
    #[serde(default)]
    pub auth_time: Option<u64>,
}

/// The `created` event's fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Created {
    /// The command as approvers read it.
    pub command: String,
    /// The digest of everything shown (the verdict's `shown` claim).
    #[serde(default)]
    pub shown: String,
    pub argv: Vec<String>,
    pub digest: String,
    pub requester: Requester,
    pub reason: Option<String>,
    pub rules: Vec<String>,
    #[serde(default)]
    pub messages: Vec<String>,
    pub risk: String,
    pub quorum: u32,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub group_sets: Vec<Vec<String>>,
    /// Step-up asked by the rules (absent from events before it existed, and when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_auth: Option<u64>,
    pub expires_at: String,
    /// The requester's local ledger head when it asked.
    #[serde(default)]
    pub ledger: Option<LedgerHead>,
}

/// Who asked, as the `created` event records it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Requester {
    pub agent: Option<String>,
    pub on_behalf_of: Option<String>,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub cwd: String,
}

impl EventDetail {
    /// The stored form: the kind's name and the detail object.
    pub fn to_stored(&self) -> Result<(String, Map<String, Value>), serde_json::Error> {
        let value = serde_json::to_value(self)?;
        let kind = value.get("kind").and_then(Value::as_str).map(str::to_owned);
        match (kind, value.get("detail")) {
            (Some(kind), Some(Value::Object(detail))) => Ok((kind, detail.clone())),
            _ => Err(serde::ser::Error::custom(
                "an event must serialise as a kind and a detail object",
            )),
        }
    }

    /// Reads a stored event back; an error names what does not fit.
    pub fn from_stored(kind: &str, detail: &Value) -> Result<EventDetail, serde_json::Error> {
        serde_json::from_value(serde_json::json!({"kind": kind, "detail": detail}))
    }
}

/// An audit event before the store numbers and chains it.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    /// The request the event is about; empty for events about tokens.
    pub request_id: String,
    pub actor: String,
    pub channel: Option<String>,
    pub detail: EventDetail,
    /// The hash of the request's row as this change leaves it, stamped by the store
    /// ([`super::store::stamp_row`]) for `gatekeep server audit verify`.
    pub row: Option<String>,
}

impl EventDraft {
    pub fn new(
        request_id: impl Into<String>,
        actor: impl Into<String>,
        channel: Option<&str>,
        detail: EventDetail,
    ) -> EventDraft {
        EventDraft {
            request_id: request_id.into(),
            actor: actor.into(),
            channel: channel.map(str::to_owned),
            detail,
            row: None,
        }
    }

    /// The kind and detail as stored, the row hash included.
    pub fn stored(&self) -> Result<(String, Value), serde_json::Error> {
        let (kind, mut detail) = self.detail.to_stored()?;
        if let Some(row) = &self.row {
            detail.insert("row".into(), Value::from(row.clone()));
        }
        Ok((kind, Value::Object(detail)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The stored form is the one events had before these types: chains written by older
    /// servers verify and read the same, and their hashes do not change.
    #[test]
    fn stored_form_is_the_historic_one() {
        let mut draft = EventDraft::new(
            "r1",
            "bob",
            Some("cli"),
            EventDetail::Approved {
                reason: None,
                approvals: 1,
                quorum: 2,
                unmet_groups: vec![vec!["sre".into()]],
                done: false,
                verdict: None,
                idp: None,
            },
        );
        draft.row = Some("ab".into());
        let (kind, detail) = draft.stored().expect("serialises");
        assert_eq!(kind, "approved");
        assert_eq!(
            detail,
            json!({"reason": null, "approvals": 1, "quorum": 2, "unmet_groups": [["sre"]], "final": false, "row": "ab"})
        );
        let (kind, detail) = EventDetail::Refused {
            action: "approve".into(),
            request: "r1".into(),
            reason: "self".into(),
            uncounted_before: 0,
        }
        .to_stored()
        .expect("serialises");
        assert_eq!(kind, "refused");
        assert_eq!(
            Value::Object(detail),
            json!({"action": "approve", "request": "r1", "reason": "self", "uncounted_before": 0})
        );
    }

    #[test]
    fn older_and_unknown_events_read_as_such() {
        // A revocation as servers before these types wrote it.
        assert_eq!(
            EventDetail::from_stored("token_revoked", &json!({"token": "bob", "row": "x"}))
                .expect("reads"),
            EventDetail::TokenRevoked {
                token: "bob".into(),
                id: None,
                name: None,
                kind: None
            }
        );
        assert!(EventDetail::from_stored("teleported", &json!({})).is_err());
        // Every kind listed reads from its own name (and a detail with what it needs).
        for kind in KINDS {
            let error = EventDetail::from_stored(kind, &json!({}))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!error.contains("unknown variant"), "{kind}: {error}");
        }
        assert!(EventDetail::from_stored("expired", &json!({"verdict": 3})).is_err());
    }
}
