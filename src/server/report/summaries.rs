//! The sections that summarise rather than list requests: per rule, per approver and group,
//! who may approve, the anomalies, and the events recorded.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{Block, Control, NONE, Section, Table, c, opt, t};
use super::period::{Period, between, human_duration, median, norm};
use super::trail::{Anomaly, Request, State, Trail};
use crate::server::audit::{Event, VerifyReport};

/// Counts of requests by final state, and the median time to a person's decision.
#[derive(Default)]
struct Tally {
    requests: usize,
    approved: usize,
    denied: usize,
    expired: usize,
    cancelled: usize,
    open: usize,
    decision_ms: Vec<i64>,
}

impl Tally {
    fn add(&mut self, r: &Request<'_>) {
        self.requests += 1;
        match r.state {
            State::Approved => self.approved += 1,
            State::Denied => self.denied += 1,
            State::Expired => self.expired += 1,
            State::Cancelled => self.cancelled += 1,
            State::Open => self.open += 1,
        }
        if matches!(r.state, State::Approved | State::Denied)
            && let Some(ms) = r.time_to_decision()
        {
            self.decision_ms.push(ms);
        }
    }
}

/// A table of tallies, one row per name (a rule, a group), the names headed `first`.
fn tally_table(first: &'static str, tallies: BTreeMap<&str, Tally>, none: &str) -> Block {
    let count = |n: usize| t(n.to_string());
    Table::of(tallies)
        .column(first, |(name, _)| t(*name))
        .column("Requests", |(_, n)| count(n.requests))
        .column("Approved", |(_, n)| count(n.approved))
        .column("Denied", |(_, n)| count(n.denied))
        .column("Expired", |(_, n)| count(n.expired))
        .column("Cancelled", |(_, n)| count(n.cancelled))
        .column("Open", |(_, n)| count(n.open))
        .column("Median time to decision", |(_, n)| {
            opt(median(n.decision_ms.clone()).map(human_duration).as_deref())
        })
        .or(none)
}

pub(super) fn per_rule(requests: &[&Request<'_>]) -> Section {
    let mut rules: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in requests {
        if r.rules.is_empty() {
            rules.entry("(no rule)").or_default().add(r);
        }
        for rule in &r.rules {
            rules.entry(rule).or_default().add(r);
        }
    }
    Section {
        title: "Summary per rule",
        controls: &[Control::Cc8_1, Control::Cm5],
        blocks: vec![
            Block::Para("The rules that sent commands for approval. A request that matched several rules counts under each. The median time to decision covers approvals and denials.".to_owned()),
            tally_table("Rule", rules, NONE),
        ],
    }
}

pub(super) fn per_approver(
    requests: &[&Request<'_>],
    trail: &Trail<'_>,
    period: &Period,
) -> Section {
    /// One approver's verdicts on the period's requests.
    #[derive(Default)]
    struct Verdicts {
        approvals: usize,
        completing: usize,
        denials: usize,
        respond_ms: Vec<i64>,
    }
    let mut approvers: BTreeMap<&str, Verdicts> = BTreeMap::new();
    // Everyone who could approve during the period, even if they never did.
    for token in &trail.tokens {
        let revoked_before = token
            .revoked
            .as_ref()
            .is_some_and(|(at, _)| period.from.as_deref().is_some_and(|f| at.as_str() < f));
        if token.kind == "approver" && period.until(&token.issued_at) && !revoked_before {
            approvers.entry(&token.name).or_default();
        }
    }
    for r in requests {
        for a in &r.approvals {
            let row = approvers.entry(a.actor).or_default();
            row.approvals += 1;
            if a.completes {
                row.completing += 1;
            }
            row.respond_ms.extend(between(&r.created, &a.time));
        }
        if let Some(d) = &r.denial {
            let row = approvers.entry(d.actor).or_default();
            row.denials += 1;
            row.respond_ms.extend(between(&r.created, &d.time));
        }
    }
    let groups_of = |name: &str| -> Option<Vec<String>> {
        let mut groups: Vec<String> = trail
            .tokens
            .iter()
            .filter(|t| t.name == name && t.kind == "approver" && period.until(&t.issued_at))
            .flat_map(|t| t.groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        trail
            .tokens
            .iter()
            .any(|t| t.name == name)
            .then_some(groups)
    };
    let expired_in = |groups: &[String]| {
        requests
            .iter()
            .filter(|r| r.state == State::Expired && r.groups.iter().any(|g| groups.contains(g)))
            .count()
    };
    let rows = approvers
        .into_iter()
        .map(|(name, verdicts)| (name, groups_of(name), verdicts));

    let mut groups: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in requests {
        if r.groups.is_empty() {
            groups.entry("(no group)").or_default().add(r);
        }
        for g in &r.groups {
            groups.entry(g).or_default().add(r);
        }
    }
    Section {
        title: "Summary per approver",
        controls: &[Control::Cc6_3, Control::Ac6],
        blocks: vec![
            Block::Para("Who approved and denied, from which groups (as their approver tokens give them). \"Expired in their groups\" counts requests their groups were asked for that nobody decided in time. Response time runs from the request to the approver's own verdict.".to_owned()),
            Table::of(rows)
                .column("Approver", |(name, _, _)| t(*name))
                .column("Groups", |(_, groups, _)| {
                    t(groups
                        .as_ref()
                        .map_or_else(|| "not in the trail".to_owned(), |g| g.join(", ")))
                })
                .column("Approvals", |(_, _, v)| t(v.approvals.to_string()))
                .column("Completing a quorum", |(_, _, v)| t(v.completing.to_string()))
                .column("Denials", |(_, _, v)| t(v.denials.to_string()))
                .column("Expired in their groups", |(_, groups, _)| {
                    opt(groups.as_deref().map(|g| expired_in(g).to_string()).as_deref())
                })
                .column("Median time to respond", |(_, _, v)| {
                    opt(median(v.respond_ms.clone()).map(human_duration).as_deref())
                })
                .or(NONE),
            tally_table("Group asked", groups, ""),
        ],
    }
}

pub(super) fn who_may_approve(trail: &Trail<'_>, period: &Period) -> Section {
    let tokens = trail
        .tokens
        .iter()
        .filter(|tk| period.until(&tk.issued_at))
        .map(|tk| {
            // A revocation after the period is not shown: the report is as of its end.
            let revoked = tk.revoked.as_ref().filter(|(at, _)| period.until(at));
            (tk, revoked)
        });
    Section {
        title: "Who may approve",
        controls: &[Control::Cc6_1, Control::Ac6],
        blocks: vec![
            Block::Para("Identities the service issued tokens to, up to the end of the period: approvers decide for their groups only, requesters can only ask, and nobody may decide their own request.".to_owned()),
            Table::of(tokens)
                .column("Identity", |(tk, _)| t(&tk.name))
                .column("Kind", |(tk, _)| t(&tk.kind))
                .column("Groups", |(tk, _)| t(tk.groups.join(", ")))
                .column("On behalf of", |(tk, _)| opt(tk.on_behalf_of.as_deref()))
                .column("Issued", |(tk, _)| t(&tk.issued_at))
                .column("Issued by", |(tk, _)| t(tk.issued_by))
                .column("Revoked", |(_, revoked)| opt(revoked.map(|(at, _)| at.as_str())))
                .column("Revoked by", |(_, revoked)| opt(revoked.map(|(_, by)| *by)))
                .or("No token was issued or revoked through the service up to the end of the period."),
        ],
    }
}

pub(super) fn anomalies(
    anomalies: &[&Anomaly],
    orphans: &BTreeMap<&str, Vec<&Event>>,
    verification: &VerifyReport,
) -> Section {
    // (time, request if any, what): a failed verification first, then the anomalies in time
    // order, then the events of requests the trail never created.
    let mut rows: Vec<(String, Option<&str>, String)> = Vec::new();
    if !verification.is_ok() {
        rows.push((
            "-".to_owned(),
            None,
            "the audit trail failed verification (see \"Integrity of the audit trail\")".to_owned(),
        ));
    }
    for a in anomalies {
        let request = Some(a.request.as_str()).filter(|r| !r.is_empty());
        rows.push((a.time.clone(), request, a.what.clone()));
    }
    for (id, group) in orphans {
        let kinds: Vec<&str> = group.iter().map(|e| e.kind.as_str()).collect();
        rows.push((
            group.first().map(|e| norm(&e.time)).unwrap_or_default(),
            Some(*id),
            format!(
                "events ({}) for a request the trail never created",
                kinds.join(", ")
            ),
        ));
    }
    Section {
        title: "Anomalies",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Block::Para("What the service should have prevented, or an auditor should look at: attempts it refused (self-approval, an approver outside the groups asked, a requester token used to approve or read another's request, revoked or unknown tokens), approvals withdrawn when a token was revoked; and what it should never let through: self-approval, a verdict without a valid approver token or from outside the groups asked, a quorum short of distinct approvers, verdicts after a request closed, commands that ran without an approval.".to_owned()),
            Table::of(rows)
                .column("Time", |(time, _, _)| t(time))
                .column("Request", |(_, request, _)| request.map_or_else(|| t("-"), c))
                .column("What", |(_, _, what)| t(what))
                .or("None found."),
        ],
    }
}

pub(super) fn events_recorded(
    events: &[Event],
    requests: &[&Request<'_>],
    period: &Period,
) -> Section {
    let ids: BTreeSet<&str> = requests.iter().map(|r| r.id).collect();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events {
        let counted = if e.request_id.is_empty() {
            period.contains(&norm(&e.time))
        } else {
            ids.contains(e.request_id.as_str())
        };
        if counted {
            *kinds.entry(&e.kind).or_default() += 1;
        }
    }
    let what = |kind: &str| match kind {
        "created" => {
            "a request: requester, agent, on whose behalf, user, host, directory, masked command and its digest, reason, rules, risk, quorum, groups, deadline"
        }
        "notified" => "approvers were told, and through which channel",
        "approved" => "an approval: approver, channel, reason, count towards the quorum",
        "denied" => "a denial: approver, channel, reason",
        "expired" => "the deadline passed without a decision",
        "cancelled" => "the requester withdrew the request, and why",
        "outcome" => "what ran: exit code or signal, duration",
        "token_created" => "an identity received a token: kind, groups, issued by",
        "token_revoked" => "a token was revoked, by whom",
        "delivery" => {
            "an attempt to notify a channel: channel, notice, attempt, sent / retry / failed and why"
        }
        _ => "-",
    };
    Section {
        title: "Events recorded",
        controls: &[Control::Au2, Control::Au3],
        blocks: vec![
            Block::Para("Every event carries its time (UTC, milliseconds), kind, request, actor and channel, the kind's details with secrets masked, and its place in the hash chain (seq, prev, hash).".to_owned()),
            Table::of(kinds)
                .column("Kind", |(kind, _)| c(*kind))
                .column("Events", |(_, n)| t(n.to_string()))
                .column("What each records", |(kind, _)| t(what(kind)))
                .or(NONE),
        ],
    }
}
