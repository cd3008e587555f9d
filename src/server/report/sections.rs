//! What the report says: the overview, the index of controls, the integrity of the trail and
//! one section per final state of a request (approved, denied, expired, cancelled, open) and
//! for what ran. The summaries and the anomalies are in `summaries`.
//!
//! The columns that several request tables share are named once ([`REQUEST`], [`COMMAND`],
//! …) and added with [`Table::with`]; a column of one table only is written where the table
//! is.

use std::collections::BTreeMap;

use super::document::{Block, Cell, Control, Document, NONE, Section, Table, c, opt, t};
use super::period::{Period, between, human_duration, norm};
use super::summaries;
use super::trail::{Anomaly, Outcome, Request, State, Trail, Verdict};
use crate::server::audit::{Event, VerifyReport, verify};

/// A column of a table about requests: its heading and how a request fills it.
type RequestColumn = (&'static str, fn(&Request<'_>) -> Cell);

const REQUEST: RequestColumn = ("Request", |r| c(r.id));
const REQUESTED: RequestColumn = ("Requested", |r| t(&r.created));
const REQUESTER: RequestColumn = ("Requester", |r| t(r.requester_cell()));
const ON_BEHALF_OF: RequestColumn = ("On behalf of", |r| opt(r.on_behalf_of.as_deref()));
const COMMAND: RequestColumn = ("Command", |r| c(&r.command));
const RULES: RequestColumn = ("Rules", |r| t(r.rules.join(", ")));
const RISK: RequestColumn = ("Risk", |r| t(&r.risk));
const REASON: RequestColumn = ("Requester's reason", |r| opt(r.reason.as_deref()));
const GROUPS: RequestColumn = ("Groups asked", |r| t(r.groups.join(", ")));
const APPROVALS: RequestColumn = ("Approvals", |r| {
    t(format!("{} of {}", r.approvals.len(), r.quorum))
});
const APPROVED_BY: RequestColumn = ("Approved by", |r| t(r.approvers().join(", ")));
const TIME_TO_DECISION: RequestColumn = ("Time to decision", |r| {
    opt(r.time_to_decision().map(human_duration).as_deref())
});

/// An item of a table about requests: a request, or a request with one of its verdicts or
/// its outcome.
pub(super) trait RequestRow {
    fn request(&self) -> &Request<'_>;
}

impl RequestRow for &Request<'_> {
    fn request(&self) -> &Request<'_> {
        self
    }
}

impl<T> RequestRow for (&Request<'_>, T) {
    fn request(&self) -> &Request<'_> {
        self.0
    }
}

impl<T: RequestRow> Table<T> {
    /// Adds one of the columns that request tables share.
    fn with(self, (head, cell): RequestColumn) -> Table<T> {
        self.column(head, |item| cell(item.request()))
    }
}

/// The whole report on the requests of `period`, before it is rendered.
pub(super) fn document(events: &[Event], trail: &Trail<'_>, period: &Period) -> Document {
    let requests: Vec<&Request<'_>> = trail
        .requests
        .iter()
        .filter(|r| period.contains(&r.created))
        .collect();
    let in_state = |s: State| requests.iter().filter(move |r| r.state == s).copied();
    let mut anomalies: Vec<&Anomaly> = trail
        .anomalies
        .iter()
        // A request's anomalies go with its period; others by their own time.
        .filter(|a| {
            requests.iter().any(|r| r.id == a.request)
                || (a.request.is_empty() && period.contains(&a.time))
        })
        .collect();
    anomalies.sort_by(|a, b| a.time.cmp(&b.time));
    let mut orphans: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in &trail.orphans {
        orphans.entry(&event.request_id).or_default().push(event);
    }
    orphans.retain(|_, group| {
        group
            .first()
            .is_some_and(|e| period.contains(&norm(&e.time)))
    });

    let verification = verify(events);

    let mut overview = Vec::new();
    overview.push(Block::Para(if requests.is_empty() {
        "There were no requests in this period.".to_owned()
    } else {
        let count = |s: State| in_state(s).count();
        format!(
            "{} request(s): {} approved, {} denied, {} expired, {} cancelled, {} still open.",
            requests.len(),
            count(State::Approved),
            count(State::Denied),
            count(State::Expired),
            count(State::Cancelled),
            count(State::Open),
        )
    }));
    overview.push(if verification.is_ok() {
        Block::Para(format!(
            "The audit trail verifies: {} event(s), hash chain intact.",
            verification.events
        ))
    } else {
        Block::Alert(format!(
            "The audit trail FAILED verification ({} error(s)): see \"Integrity of the audit trail\".",
            verification.errors.len()
        ))
    });
    overview.push(Block::Para(format!(
        "{} anomal{} found (see \"Anomalies\"). Commands are shown as the server recorded them, with secrets masked; times are UTC.",
        anomalies.len() + orphans.len(),
        if anomalies.len() + orphans.len() == 1 { "y" } else { "ies" },
    )));

    let mut sections = vec![
        integrity(events, &verification),
        approved(&requests),
        denied(&requests),
        expired(&requests),
        cancelled(&requests),
        open(&requests),
        outcomes(&requests),
        summaries::per_rule(&requests),
        summaries::per_approver(&requests, trail, period),
        summaries::who_may_approve(trail, period),
        summaries::anomalies(&anomalies, &orphans, &verification),
        summaries::events_recorded(events, &requests, period),
    ];
    sections.extend(super::deliveries::section(events, &requests, period));
    let evidence_in = |control: &Control| {
        Cell::Sections(
            sections
                .iter()
                .filter(|s| s.controls.contains(control))
                .map(|s| s.title)
                .collect(),
        )
    };
    overview.push(
        Table::of(Control::ALL)
            .column("Control", |control| t(control.label()))
            .column("Covers", |control| t(control.covers()))
            .column("Evidence in", evidence_in)
            .block(),
    );
    Document {
        period: period.describe(),
        overview,
        sections,
    }
}

fn integrity(events: &[Event], verification: &VerifyReport) -> Section {
    let mut blocks = vec![if verification.is_ok() {
        Block::Para("Result: the hash chain verifies. Every event carries the SHA-256 of its own content and of the event before it; no event was altered, removed, inserted or reordered.".to_owned())
    } else {
        Block::Alert(format!(
            "Result: VERIFICATION FAILED with {} error(s). The trail was changed outside the service: from the first error on, it cannot be relied on.",
            verification.errors.len()
        ))
    }];
    // Three fixed rows, the first unlike the others: written out rather than as columns.
    let hash_row = |what: &str, e: Option<&Event>| match e {
        Some(e) => vec![
            t(what),
            t(format!("seq {} at {}", e.seq, e.time)),
            c(&e.hash),
        ],
        None => vec![t(what), t("-"), t("-")],
    };
    blocks.push(Block::Table {
        head: vec!["Checked", "Event", "Hash"],
        rows: vec![
            vec![
                t("Events in the whole trail"),
                t(verification.events.to_string()),
                t(""),
            ],
            hash_row("First event", events.first()),
            hash_row("Last event", events.last()),
        ],
    });
    if !verification.is_ok() {
        blocks.push(
            Table::of(verification.errors.iter().enumerate())
                .column("#", |(i, _)| t((i + 1).to_string()))
                .column("Error", |(_, e)| t(*e))
                .or(NONE),
        );
    }
    blocks.push(Block::Para("The whole trail is verified, whatever the period. A chain cannot show events cut off its end, nor a tail rewritten with fresh hashes: keep this report, and check that later trails still hold its last event with the same hash.".to_owned()));
    Section {
        title: "Integrity of the audit trail",
        controls: &[Control::Au9],
        blocks,
    }
}

fn approved(requests: &[&Request<'_>]) -> Section {
    let approved: Vec<&Request<'_>> = requests
        .iter()
        .filter(|r| r.state == State::Approved)
        .copied()
        .collect();
    let signatures: Vec<(&Request<'_>, &Verdict<'_>)> = approved
        .iter()
        .flat_map(|r| r.approvals.iter().map(move |a| (*r, a)))
        .collect();
    Section {
        title: "Approved changes",
        controls: &[Control::Cc8_1, Control::Cm5, Control::Au10],
        blocks: vec![
            Block::Para("Each command below could run only once the approvers named here had approved it. Time to decision runs from the request to the approval that completed its quorum.".to_owned()),
            Table::of(approved)
                .with(REQUEST)
                .with(REQUESTED)
                .with(REQUESTER)
                .with(ON_BEHALF_OF)
                .with(COMMAND)
                .with(RULES)
                .with(RISK)
                .with(REASON)
                .with(APPROVED_BY)
                .column("Decided", |r| opt(r.closed_at.as_deref()))
                .with(TIME_TO_DECISION)
                .or(NONE),
            Table::of(signatures)
                .with(REQUEST)
                .column("Approver", |(_, a)| t(a.actor))
                .column("Channel", |(_, a)| t(a.channel))
                .column("Approved at", |(_, a)| t(&a.time))
                .column("Approval", |(_, a)| t(format!("{} of {}", a.approvals, a.quorum)))
                .column("Approver's reason", |(_, a)| opt(a.reason.as_deref()))
                .column("After", |(r, a)| {
                    opt(between(&r.created, &a.time).map(human_duration).as_deref())
                })
                .column("Digest (SHA-256, first 12)", |(r, _)| {
                    c(r.digest.get(..12).unwrap_or(&r.digest))
                })
                .or(""),
        ],
    }
}

fn denied(requests: &[&Request<'_>]) -> Section {
    let denied = requests
        .iter()
        .filter_map(|r| Some((*r, r.denial.as_ref().filter(|_| r.state == State::Denied)?)));
    Section {
        title: "Denied requests",
        controls: &[Control::Cc7_2, Control::Au10],
        blocks: vec![
            Table::of(denied)
                .with(REQUEST)
                .with(REQUESTED)
                .with(REQUESTER)
                .with(ON_BEHALF_OF)
                .with(COMMAND)
                .with(RULES)
                .with(RISK)
                .with(REASON)
                .column("Denied by", |(_, d)| t(d.actor))
                .column("Channel", |(_, d)| t(d.channel))
                .column("Approver's reason", |(_, d)| opt(d.reason.as_deref()))
                .column("Decided", |(_, d)| t(&d.time))
                .with(TIME_TO_DECISION)
                .or(NONE),
        ],
    }
}

fn expired(requests: &[&Request<'_>]) -> Section {
    let expired = requests
        .iter()
        .filter(|r| r.state == State::Expired)
        .copied();
    Section {
        title: "Expired requests",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Block::Para(
                "Nobody completed a decision in time; the commands did not run.".to_owned(),
            ),
            Table::of(expired)
                .with(REQUEST)
                .with(REQUESTED)
                .with(REQUESTER)
                .with(COMMAND)
                .with(RULES)
                .with(GROUPS)
                .with(APPROVALS)
                .with(REASON)
                .column("Expired", |r| opt(r.expired.as_deref()))
                .with(("Waited", TIME_TO_DECISION.1))
                .or(NONE),
        ],
    }
}

fn cancelled(requests: &[&Request<'_>]) -> Section {
    let cancelled = requests.iter().filter_map(|r| {
        Some((
            *r,
            r.cancellation
                .as_ref()
                .filter(|_| r.state == State::Cancelled)?,
        ))
    });
    Section {
        title: "Cancelled requests",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Table::of(cancelled)
                .with(REQUEST)
                .with(REQUESTED)
                .with(REQUESTER)
                .with(COMMAND)
                .with(REASON)
                .column("Cancelled by", |(_, v)| t(v.actor))
                .column("Why cancelled", |(_, v)| opt(v.reason.as_deref()))
                .column("Cancelled", |(_, v)| t(&v.time))
                .or(NONE),
        ],
    }
}

fn open(requests: &[&Request<'_>]) -> Section {
    let open = requests.iter().filter(|r| r.state == State::Open).copied();
    Section {
        title: "Requests still open",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Table::of(open)
                .with(REQUEST)
                .with(REQUESTED)
                .with(REQUESTER)
                .with(COMMAND)
                .with(RULES)
                .with(GROUPS)
                .with(APPROVALS)
                .with(REASON)
                .column("Expires", |r| opt(r.expires_at.as_deref()))
                .or(NONE),
        ],
    }
}

fn outcomes(requests: &[&Request<'_>]) -> Section {
    let ran: Vec<(&Request<'_>, &Outcome)> = requests
        .iter()
        .filter_map(|r| Some((*r, r.outcome.as_ref()?)))
        .collect();
    let unreported = requests
        .iter()
        .filter(|r| r.state == State::Approved && r.outcome.is_none())
        .count();
    Section {
        title: "Outcomes",
        controls: &[Control::Cc8_1, Control::Au3],
        blocks: vec![
            Table::of(ran)
                .with(REQUEST)
                .with(COMMAND)
                .with(APPROVED_BY)
                .column("Exit code", |(_, o)| opt(o.exit_code.as_deref()))
                .column("Signal", |(_, o)| opt(o.signal.as_deref()))
                .column("Ran for", |(_, o)| {
                    opt(o.duration_ms.map(human_duration).as_deref())
                })
                .column("Reported", |(_, o)| t(&o.time))
                .or(NONE),
            Block::Para(format!(
                "Approved requests with no outcome reported: {unreported}."
            )),
        ],
    }
}
