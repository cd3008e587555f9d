//! What the local ledger records about one command, as types: every record of a journey is
//! one [`LedgerEvent`] after the fields all its records share (id, command, digest,
//! requester, policy). The JSON is the ledger format `gatekeep audit` reads; field names and
//! values are those of earlier versions, so old ledgers read the same.

use serde::Serialize;

use crate::api::verdict::Approval;
use crate::policy::Requirements;

/// One record of a journey.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LedgerEvent {
    /// The command needs approval, on these terms.
    Request { requirements: Requirements },
    /// It was handed to the approval service.
    Submitted {
        server: String,
        key_id: String,
        expires_at: String,
    },
    /// What was decided, and by whom.
    Decision(Decided),
    /// How the command ended, or why it could not start.
    Outcome(RunRecord),
    /// Telling the approval service how the command ended failed.
    OutcomeReport { reported: bool, error: String },
}

/// The decision of a [`LedgerEvent::Decision`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    Allow,
    /// A person approved it (the command may run).
    Approve,
    Deny,
    /// Nobody decided in time.
    Expired,
    /// The requester stopped waiting (a signal), or the service cancelled it.
    Cancelled,
    /// gatekeep could not ask anyone (no service, a broken configuration): not run.
    Refused,
    /// An agent hook handed the decision to the agent's own permission dialog.
    Ask,
}

/// Who decided what, and everything that explains it. Unset fields are left out.
#[derive(Clone, Debug, Serialize)]
pub struct Decided {
    pub decision: DecisionKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Where the decision was taken: `terminal`, `service`, `hook`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    /// Why gatekeep itself decided (a refusal's cause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The reason a person gave for denying, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Whether the service confirmed a cancel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cancelled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Vec<Approval>>,
    /// The service's signed verdict (JWS), kept as evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The service's signed checkpoint of its audit chain that came with the verdict (see
    /// [`crate::api::checkpoint`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

impl Decided {
    pub fn new(decision: DecisionKind) -> Decided {
        Decided {
            decision,
            decided_by: None,
            channel: None,
            why: None,
            denial_reason: None,
            error: None,
            signal: None,
            timeout_secs: None,
            server_cancelled: None,
            approvers: None,
            verdict: None,
            checkpoint: None,
        }
    }

    /// Decided by `by`.
    pub fn by(mut self, by: impl Into<String>) -> Decided {
        self.decided_by = Some(by.into());
        self
    }

    /// Taken on `channel`.
    pub fn on(mut self, channel: &'static str) -> Decided {
        self.channel = Some(channel);
        self
    }

    /// gatekeep's own reason.
    pub fn why(mut self, why: impl Into<String>) -> Decided {
        self.why = Some(why.into());
        self
    }
}

impl From<Decided> for LedgerEvent {
    fn from(d: Decided) -> LedgerEvent {
        LedgerEvent::Decision(d)
    }
}

/// How a command run by gatekeep ended.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub exit_code: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why it could not start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<crate::exec::ExitStatus> for RunRecord {
    fn from(o: crate::exec::ExitStatus) -> RunRecord {
        RunRecord {
            exit_code: o.exit_code,
            signal: o.signal,
            duration_ms: Some(o.duration_ms),
            error: None,
        }
    }
}

impl RunRecord {
    /// A command that could not be started.
    pub fn failed(exit_code: i32, error: &dyn std::fmt::Display) -> RunRecord {
        RunRecord {
            exit_code,
            signal: None,
            duration_ms: None,
            error: Some(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ledger format is read back by `gatekeep audit` and by auditors: the typed events
    /// must write the same JSON the untyped records did.
    #[test]
    fn events_write_the_ledger_format() {
        let mut d = Decided::new(DecisionKind::Approve)
            .by("bob (cli)")
            .on("service");
        d.verdict = Some("a.b.c".into());
        assert_eq!(
            serde_json::to_value(LedgerEvent::from(d)).unwrap(),
            serde_json::json!({"event": "decision", "decision": "approve", "decided_by": "bob (cli)", "channel": "service", "verdict": "a.b.c"})
        );
        assert_eq!(
            serde_json::to_value(LedgerEvent::Outcome(RunRecord::failed(127, &"not found")))
                .unwrap(),
            serde_json::json!({"event": "outcome", "exit_code": 127, "error": "not found"})
        );
        assert_eq!(
            serde_json::to_value(LedgerEvent::OutcomeReport {
                reported: false,
                error: "x".into()
            })
            .unwrap(),
            serde_json::json!({"event": "outcome_report", "reported": false, "error": "x"})
        );
    }
}
