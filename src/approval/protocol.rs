//! The approval service's HTTP API, shared by `gatekeep server` and its clients: paths and
//! JSON bodies. Version 1, under `/v1`; every call but `/healthz` and the JWK Set takes a
//! bearer token.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /healthz` | anyone | liveness |
//! | `GET /.well-known/jwks.json` | anyone | the verdict-signing key |
//! | `GET /v1/whoami` | any token | the token's identity |
//! | `POST /v1/requests` | requester | create (idempotent on id + nonce + digest) |
//! | `GET /v1/requests?state=pending` | approver | what waits for approval |
//! | `GET /v1/requests/{id}` | its requester, approvers | one request |
//! | `GET /v1/requests/{id}/wait?timeout=S` | its requester | long poll until final |
//! | `POST /v1/requests/{id}/cancel` | its requester | cancel while pending |
//! | `POST /v1/requests/{id}/outcome` | its requester | how the command ended |
//! | `POST /v1/requests/{id}/approve` / `deny` | approver | decide |
//! | `GET /v1/anchors` | requester | the ledger heads the server recorded for this token |

use serde::{Deserialize, Serialize};

/// What kind of identity a token stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An agent or pipeline: creates requests and waits on them; never approves.
    Requester,
    /// A person: approves or denies other identities' requests.
    Approver,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
        })
    }
}

/// An authenticated identity. Later channels (Slack, Teams, web with OIDC) map their users
/// onto the same names, so that self-approval checks compare like with like.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub groups: Vec<String>,
    /// For a requester token: the person the agent works for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// Where the request comes from, as the client reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub user: String,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub cwd: String,
}

/// `POST /v1/requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Chosen by the client, so that a retried create is recognised.
    pub id: String,
    /// Chosen by the client for this one run; the verdict must carry it back.
    pub nonce: String,
    /// The command for people to read, secrets masked.
    pub command: String,
    pub argv: Vec<String>,
    /// SHA-256 of the exact unmasked argv, cwd and requester.
    pub digest: String,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ids of the rules that asked for approval.
    pub rules: Vec<String>,
    pub risk: String,
    /// Distinct approvers needed.
    pub quorum: u32,
    /// Groups an approver must belong to (any one of them); empty means any approver.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Seconds the request may wait; the server caps it at its own maximum.
    pub timeout_secs: u64,
    /// The head of the requester's local ledger when it asked (its record of this request),
    /// kept in the server's own chain so that a later wipe or rewrite of the local ledger
    /// shows (`gatekeep audit verify --against-server`). Absent from older clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerHead>,
}

/// The last record of a local ledger: its seq and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerHead {
    pub seq: u64,
    pub hash: String,
}

impl From<crate::audit::ledger::Head> for LedgerHead {
    fn from(h: crate::audit::ledger::Head) -> LedgerHead {
        LedgerHead {
            seq: h.seq,
            hash: h.hash,
        }
    }
}

/// `GET /v1/anchors`: one ledger head the server recorded in its audit trail, from the
/// `created` event of one of the caller's requests. Oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The request whose creation carried it (its `request` record is the anchored one).
    pub request_id: String,
    /// The anchored local record.
    pub seq: u64,
    pub hash: String,
    /// Where the request said it came from: one token may serve several ledgers.
    pub user: String,
    pub host: String,
    /// The server's audit event that holds it, and when it was written.
    pub event_seq: i64,
    pub time: String,
}

/// The state of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Expired,
    Cancelled,
}

impl State {
    pub fn is_final(self) -> bool {
        self != State::Pending
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request as the server shows it. The nonce is never shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: String,
    pub state: State,
    pub command: String,
    pub argv: Vec<String>,
    pub digest: String,
    /// The requester token's identity name.
    pub requester: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub rules: Vec<String>,
    pub risk: String,
    pub quorum: u32,
    pub groups: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    /// The same deadline in seconds since the epoch.
    pub expires_unix: u64,
    /// Every approver's decision so far.
    pub approvals: Vec<crate::verdict::Approval>,
    /// The signed verdict, once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// `POST /v1/requests/{id}/approve|deny|cancel`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decide {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/requests/{id}/outcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub exit_code: i32,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Every error body: `{"error": "..."}` with a message that says what to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// The longest a long poll is held open, so that proxies do not cut it.
pub const MAX_WAIT_SECS: u64 = 25;
