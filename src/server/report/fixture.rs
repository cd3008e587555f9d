//! Trails for the report's tests: a builder that chains events as the server would, a month
//! of requests, and a trail with every kind of event the report reads.

use serde_json::{Value, json};

use super::{ReportFormat, report};
use crate::server::audit::{Event, FIRST_PREV};

/// Appends events with their seq, prev and hash set as the server would.
#[derive(Default)]
pub(super) struct Trail {
    pub(super) events: Vec<Event>,
}

impl Trail {
    pub(super) fn push(
        &mut self,
        time: &str,
        request_id: &str,
        kind: &str,
        actor: &str,
        channel: Option<&str>,
        detail: Value,
    ) -> &mut Self {
        let mut event = Event {
            seq: i64::try_from(self.events.len()).unwrap() + 1,
            time: time.to_owned(),
            request_id: request_id.to_owned(),
            kind: kind.to_owned(),
            actor: actor.to_owned(),
            channel: channel.map(str::to_owned),
            detail,
            prev: self
                .events
                .last()
                .map_or_else(|| FIRST_PREV.to_owned(), |e| e.hash.clone()),
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        self.events.push(event);
        self
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a test helper naming every field"
    )]
    pub(super) fn created(
        &mut self,
        time: &str,
        id: &str,
        command: &str,
        rules: &[&str],
        risk: &str,
        quorum: u64,
        groups: &[&str],
        reason: Option<&str>,
    ) -> &mut Self {
        self.push(
            time,
            id,
            "created",
            "ci-agent",
            None,
            json!({
                "command": command,
                "argv": command.split(' ').collect::<Vec<_>>(),
                "digest": format!("{:0>64}", id.len()),
                "requester": {"agent": "claude-code", "on_behalf_of": "alice", "user": "deploy", "host": "runner-3", "cwd": "/srv/app"},
                "reason": reason,
                "rules": rules,
                "risk": risk,
                "quorum": quorum,
                "groups": groups,
                "expires_at": "2099-01-01T00:00:00.000Z",
            }),
        )
        .push(time, id, "notified", "server", None, json!({"channel": "cli"}))
    }

    pub(super) fn approved(
        &mut self,
        time: &str,
        id: &str,
        who: &str,
        channel: &str,
        reason: &str,
        (approvals, quorum): (u64, u64),
    ) -> &mut Self {
        self.push(
            time,
            id,
            "approved",
            who,
            Some(channel),
            json!({"reason": reason, "approvals": approvals, "quorum": quorum, "final": approvals >= quorum}),
        )
    }

    pub(super) fn token(
        &mut self,
        time: &str,
        kind: &str,
        name: &str,
        groups: &[&str],
    ) -> &mut Self {
        let id = format!("{:0>12}", name.len());
        let detail = if kind == "token_revoked" {
            json!({"token": name, "id": id, "name": name, "kind": "approver"})
        } else {
            json!({"id": id, "name": name, "kind": "approver", "groups": groups, "on_behalf_of": null})
        };
        self.push(time, "", kind, "admin", None, detail)
    }
}

/// Five requests in March (approved with a quorum of two, denied, expired, cancelled,
/// approved by one), one in April, and the tokens of the approvers.
pub(super) fn march() -> Vec<Event> {
    let mut t = Trail::default();
    t.token("2025-02-20T09:00:00.000Z", "token_created", "bob", &["sre"])
        .token(
            "2025-02-20T09:00:01.000Z",
            "token_created",
            "carol",
            &["sre", "dba"],
        )
        .token(
            "2025-02-20T09:00:02.000Z",
            "token_created",
            "dave",
            &["dba"],
        )
        .push(
            "2025-02-20T09:00:03.000Z",
            "",
            "token_created",
            "admin",
            None,
            json!({"name": "ci-agent", "kind": "requester", "groups": [], "on_behalf_of": "alice"}),
        );
    t.created(
        "2025-03-03T10:00:00.000Z",
        "r1",
        "kubectl delete ns staging-old",
        &["kubectl-delete"],
        "high",
        2,
        &["sre"],
        Some("clean up the old staging"),
    )
    .approved(
        "2025-03-03T10:02:00.000Z",
        "r1",
        "bob",
        "cli",
        "checked with alice",
        (1, 2),
    )
    .approved(
        "2025-03-03T10:12:30.000Z",
        "r1",
        "carol",
        "api",
        "ticket OPS-42",
        (2, 2),
    )
    .push(
        "2025-03-03T10:13:00.000Z",
        "r1",
        "outcome",
        "ci-agent",
        None,
        json!({"exit_code": 0, "duration_ms": 4200, "signal": null}),
    );
    t.created(
        "2025-03-05T14:00:00.000Z",
        "r2",
        "terraform destroy -target=module.db | tee log",
        &["terraform-destroy"],
        "critical",
        1,
        &["dba"],
        None,
    )
    .push(
        "2025-03-05T14:05:00.000Z",
        "r2",
        "denied",
        "dave",
        Some("cli"),
        json!({"reason": "not during the freeze"}),
    );
    t.created(
        "2025-03-10T08:00:00.000Z",
        "r3",
        "psql -c 'DROP TABLE users' # <script>alert(1)</script>",
        &["psql-drop"],
        "critical",
        1,
        &["dba"],
        Some("<img src=x onerror=alert(1)>"),
    )
    .push(
        "2025-03-10T09:00:00.000Z",
        "r3",
        "expired",
        "server",
        None,
        json!({}),
    );
    t.created(
        "2025-03-12T16:00:00.000Z",
        "r4",
        "kubectl delete pod web-1",
        &["kubectl-delete"],
        "medium",
        1,
        &["sre"],
        None,
    )
    .push(
        "2025-03-12T16:01:00.000Z",
        "r4",
        "cancelled",
        "ci-agent",
        None,
        json!({"reason": "retried\ndifferently"}),
    );
    t.created(
        "2025-03-15T11:00:00.000Z",
        "r5",
        "kubectl annotate deploy api note=\"a, b\"",
        &["kubectl-delete", "prod"],
        "high",
        1,
        &["sre"],
        Some("=rollback"),
    )
    .approved(
        "2025-03-15T11:01:00.000Z",
        "r5",
        "carol",
        "cli",
        "rollback, per INC-7",
        (1, 1),
    )
    .token(
        "2025-03-20T12:00:00.000Z",
        "token_revoked",
        "dave",
        &["dba"],
    );
    t.created(
        "2025-04-02T10:00:00.000Z",
        "r6",
        "kubectl delete ns prod",
        &["kubectl-delete"],
        "critical",
        1,
        &["sre"],
        None,
    )
    .approved(
        "2025-04-02T10:30:00.000Z",
        "r6",
        "bob",
        "cli",
        "april",
        (1, 1),
    );
    t.events
}

pub(super) fn md(events: &[Event], from: Option<&str>, to: Option<&str>) -> String {
    report(events, from, to, ReportFormat::Md).unwrap()
}

/// The lines of the section under `## title`, up to the next section.
pub(super) fn section<'r>(report: &'r str, title: &str) -> Vec<&'r str> {
    let heading = format!("## {title}");
    let mut lines = report.lines().skip_while(|l| *l != heading);
    assert_eq!(lines.next(), Some(heading.as_str()), "no section {title:?}");
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// The table row of `report`'s section `title` whose first cell is `first`.
pub(super) fn row<'r>(report: &'r str, title: &str, first: &str) -> &'r str {
    section(report, title)
        .into_iter()
        .find(|l| l.starts_with(&format!("| {first} |")))
        .unwrap_or_else(|| panic!("no row {first:?} in {title:?}:\n{report}"))
}

/// A realistic trail with every kind of event the report reads: approvals (with a
/// quorum), denials, expiries, cancels, outcomes, refused attempts, revoked tokens,
/// withdrawn approvals, orphans, unknown kinds and free text that needs escaping.
pub(super) fn characterization_trail() -> Vec<Event> {
    let mut t = Trail { events: march() };
    t.push(
        "2025-03-02T08:00:00.000Z",
        "",
        "refused",
        "mallory",
        Some("api"),
        json!({"action": "approve", "request": "r1", "reason": "a requester token cannot approve", "uncounted_before": 0}),
    )
    .push(
        "2025-03-02T08:00:01.000Z",
        "",
        "refused",
        "ci-agent",
        None,
        json!({"action": "read", "request": "r9", "reason": "not your request", "uncounted_before": 7}),
    )
    // As servers before typed events recorded a revocation: only what the operator named.
    .push(
        "2025-03-02T09:00:00.000Z",
        "",
        "token_revoked",
        "admin",
        None,
        json!({"token": "zed"}),
    );
    t.created(
        "2025-03-21T10:00:00.000Z",
        "r7",
        "rm -rf /srv/cache | `x` *y* [z]",
        &["rm-rf"],
        "high",
        2,
        &["sre"],
        Some("=SUM(A1) needed, \"quoted\"\r\nnext"),
    )
    .approved(
        "2025-03-21T10:01:00.000Z",
        "r7",
        "dave",
        "cli",
        "ok",
        (1, 2),
    )
    .approved(
        "2025-03-21T10:02:00.000Z",
        "r7",
        "alice",
        "api",
        "mine",
        (2, 2),
    )
    .approved(
        "2025-03-21T10:03:00.000Z",
        "r7",
        "bob",
        "cli",
        "late",
        (3, 2),
    );
    t.created(
        "2025-03-22T10:00:00.000Z",
        "r8",
        "reboot",
        &["reboot"],
        "high",
        1,
        &["sre"],
        None,
    )
    .push(
        "2025-03-22T10:05:00.000Z",
        "r8",
        "outcome",
        "ci-agent",
        None,
        json!({"exit_code": 143, "signal": "SIGTERM", "duration_ms": 10}),
    )
    .push(
        "2025-03-22T10:06:00.000Z",
        "r8",
        "frobnicated",
        "server",
        None,
        json!({}),
    )
    .push(
        "2025-03-23T10:00:00.000Z",
        "ghost",
        "approved",
        "bob",
        Some("cli"),
        json!({"final": true}),
    );
    t.created(
        "2025-03-24T10:00:00.000Z",
        "r9",
        "reboot",
        &["reboot"],
        "high",
        2,
        &["sre"],
        None,
    )
    .approved("2025-03-24T10:01:00.000Z", "r9", "bob", "cli", "ok", (1, 2))
    .push(
        "2025-03-24T10:01:30.000Z",
        "r9",
        "approval_withdrawn",
        "server",
        None,
        json!({"approver": "bob", "reason": "the approver's token was revoked before the quorum was reached"}),
    )
    .approved("2025-03-24T10:02:00.000Z", "r9", "carol", "api", "ok again", (1, 2))
    .token("2025-03-25T09:00:00.000Z", "token_created", "erin", &["dba"]);
    t.created(
        "2025-03-25T10:00:00.000Z",
        "r10",
        "reboot",
        &["reboot"],
        "high",
        1,
        &["sre"],
        None,
    )
    .approved(
        "2025-03-25T10:01:00.000Z",
        "r10",
        "erin",
        "cli",
        "ok",
        (1, 1),
    )
    .push(
        "2025-03-25T10:02:00.000Z",
        "r10",
        "outcome",
        "ci-agent",
        None,
        json!({"exit_code": 1, "duration_ms": 93_784_000}),
    )
    .push(
        "2025-03-25T10:03:00.000Z",
        "r10",
        "outcome",
        "ci-agent",
        None,
        json!({"exit_code": 0, "duration_ms": 1}),
    )
    .push(
        "2025-03-26T10:00:00.000Z",
        "r10",
        "created",
        "ci-agent",
        None,
        json!({"command": "again"}),
    );
    t.created(
        "2025-03-27T10:00:00.000Z",
        "r11",
        "sleep 1",
        &[],
        "low",
        1,
        &[],
        None,
    )
    .push(
        "2025-03-27T10:00:05.500Z",
        "r11",
        "expired",
        "server",
        None,
        json!({}),
    )
    .push(
        "2025-03-27T10:00:06.000Z",
        "r11",
        "denied",
        "dave",
        Some("cli"),
        json!({"reason": "too late"}),
    );
    t.created(
        "2025-03-28T10:00:00.000Z",
        "r12",
        "@cmd \u{202e}evil\u{1b}[2K",
        &["misc"],
        "medium",
        1,
        &["dba", "sre"],
        Some("-rf <b>bold</b> & 'quote'"),
    );
    t.events
}
