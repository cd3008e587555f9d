//! Asking the person at this terminal (gatekeep's own prompt on /dev/tty).

use std::time::Duration;

use super::event::{Decided, DecisionKind};
use super::refusal::{Refusal, RefusalKind};
use super::{Asked, Journey};
use crate::approval::prompt::{self, Answer};
use crate::audit::redact;
use crate::policy::{Assessment, Requirements};
use crate::render::Safe;

impl Journey<'_> {
    /// Asks at `tty`; every answer is recorded before it is returned.
    pub(crate) fn ask_terminal(
        &self,
        a: &Assessment,
        req: &Requirements,
        mut tty: std::fs::File,
    ) -> Asked {
        let masked_reason = self.opts.reason.as_deref().map(redact::mask_text);
        let request = prompt::Request {
            command: &self.command.display(),
            rules: prompt::rules_asking(a),
            risk: a.risk.to_string(),
            cwd: &self.requester.cwd,
            branch: self
                .requester
                .git
                .as_ref()
                .and_then(|g| g.branch.as_deref()),
            requester: self.requester_label(),
            reason: masked_reason.as_deref(),
            request_id: &self.id,
        };
        let approver = format!("{} at the terminal", self.requester.user);
        let (decided, asked) =
            match prompt::ask(&mut tty, &request, Duration::from_secs(req.timeout_secs)) {
                Err(e) => {
                    eprintln!(
                        "gatekeep: the approval prompt failed ({e}); `{}` was not run",
                        Safe(&self.command.display())
                    );
                    let mut d = Decided::new(DecisionKind::Deny).by("terminal error");
                    d.error = Some(e.to_string());
                    let _ = self.record(d, true);
                    return Asked::Stopped(i32::from(crate::exit::UNAVAILABLE));
                }
                Ok(Answer::Approved) => (
                    Decided::new(DecisionKind::Approve)
                        .by(&approver)
                        .on("terminal"),
                    Asked::Approved {
                        by: approver.clone(),
                        client: None,
                    },
                ),
                Ok(Answer::Denied { reason }) => {
                    let reason = reason.map(|r| redact::mask_text(&r));
                    let mut d = Decided::new(DecisionKind::Deny)
                        .by(&approver)
                        .on("terminal");
                    d.denial_reason = reason.clone();
                    let refusal = Refusal::new(RefusalKind::Denied, &approver, reason.as_deref());
                    (d, Asked::Refused(refusal))
                }
                Ok(Answer::Expired) => {
                    let mut d = Decided::new(DecisionKind::Expired);
                    d.timeout_secs = Some(req.timeout_secs);
                    let left = format!(
                        "nobody approved it within {}:{:02}",
                        req.timeout_secs / 60,
                        req.timeout_secs % 60
                    );
                    (
                        d,
                        Asked::Refused(Refusal::new(RefusalKind::Expired, left, None)),
                    )
                }
                Ok(Answer::Interrupted(sig)) => {
                    let mut d = Decided::new(DecisionKind::Cancelled);
                    d.signal = Some(sig);
                    // Cancelled either way; a failed record changes nothing.
                    let _ = self.record(d, true);
                    return Asked::Interrupted(sig);
                }
            };
        match self.record(decided, true) {
            Ok(()) => asked,
            Err(code) => Asked::Stopped(code),
        }
    }
}
