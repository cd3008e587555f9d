//! Why a command did not run, for whoever must hear it: the agent's stderr, the JSON result
//! of tool-definition mode, or an agent hook's reason. One value, rendered three ways, so the
//! entry points say the same thing.

use crate::exit;
use crate::policy::{Assessment, Decision};
use crate::render;

/// How a journey ended without running its command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// The policy denies it.
    Policy,
    /// A person (or the service for them) denied it.
    Denied,
    /// Nobody decided in time.
    Expired,
    /// The service cancelled it (a revoked token).
    Cancelled,
    /// Nobody could be asked: no service, a broken configuration, a failing service.
    Unavailable,
    /// The client configuration is broken: nothing runs until it is fixed.
    Misconfigured,
}

impl RefusalKind {
    /// The word the agent reads first.
    pub fn word(self) -> &'static str {
        match self {
            RefusalKind::Policy | RefusalKind::Denied => "denied",
            RefusalKind::Expired => "expired",
            RefusalKind::Cancelled => "cancelled",
            RefusalKind::Unavailable | RefusalKind::Misconfigured => "refused",
        }
    }

    /// What the agent should do instead.
    pub fn next_step(self) -> &'static str {
        match self {
            RefusalKind::Expired => {
                "ask the user to approve it at their terminal, then run it again"
            }
            RefusalKind::Unavailable | RefusalKind::Misconfigured => {
                "ask the user to run it themselves, or run it where a person can approve it"
            }
            RefusalKind::Policy => {
                "do not retry it or work around it; if it is really needed, ask the user to run it themselves or to change the policy"
            }
            RefusalKind::Denied | RefusalKind::Cancelled => {
                "do not retry it; ask the user what they want instead"
            }
        }
    }

    /// The exit code of `gatekeep exec`.
    pub fn exit_code(self) -> u8 {
        match self {
            RefusalKind::Policy | RefusalKind::Denied | RefusalKind::Cancelled => exit::DENY,
            RefusalKind::Expired => exit::EXPIRED,
            RefusalKind::Unavailable => exit::UNAVAILABLE,
            RefusalKind::Misconfigured => exit::POLICY,
        }
    }
}

/// A command that did not run: what happened, who decided, and their reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub by: String,
    pub reason: Option<String>,
}

impl Refusal {
    pub fn new(kind: RefusalKind, by: impl Into<String>, reason: Option<&str>) -> Refusal {
        Refusal {
            kind,
            by: by.into(),
            reason: reason.map(str::to_owned),
        }
    }

    /// The text for the agent: the command, the rules' reasons, who decided, their reason,
    /// the next step, and `request` (where it is recorded) when given. Every part that the
    /// agent, a policy file or the service wrote is rendered terminal-safe, wrapped to
    /// `width` when there is a terminal.
    pub fn text(
        &self,
        command: &str,
        a: &Assessment,
        request: Option<&str>,
        width: Option<usize>,
    ) -> String {
        let mut lines = vec![render::field(
            &format!("gatekeep: {}: ", self.kind.word()),
            &format!("`{command}`"),
            width,
        )];
        for c in a
            .commands
            .iter()
            .filter(|c| c.decision == a.decision && c.decision != Decision::Allow)
        {
            lines.push(render::field("  why:        ", &c.reason, width));
        }
        lines.push(render::field("  decided by: ", &self.by, width));
        if let Some(reason) = &self.reason {
            lines.push(render::field("  reason:     ", reason, width));
        }
        lines.push(render::field(
            "  next step:  ",
            self.kind.next_step(),
            width,
        ));
        if let Some(request) = request {
            lines.push(render::field("  request:    ", request, width));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}
