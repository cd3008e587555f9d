//! The trail read as requests: each request's events folded into who asked, who decided,
//! when and why, and what ran; the life of every access token; and the anomalies found on
//! the way (verdicts after a request closed, self-approval, an approver without a valid token
//! or outside the groups asked, commands that ran without an approval, refused attempts).
//!
//! Reads events as the service writes them ([`EventDetail`]); an event of an unknown kind, or
//! whose detail does not read, is an anomaly, never ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::period::{between, norm};
use crate::server::audit::Event;
use crate::server::event::{self, Created, EventDetail};

/// Text that may be empty, as the report shows it: `None` when empty.
fn given(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn given_opt(text: Option<&str>) -> Option<String> {
    text.and_then(given)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    Open,
    Approved,
    Denied,
    Expired,
    Cancelled,
}

impl State {
    pub(super) fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
        }
    }
}

/// An approval, a denial or a cancellation: who, where, when, why.
pub(super) struct Verdict<'a> {
    pub(super) actor: &'a str,
    pub(super) channel: &'a str,
    pub(super) time: String,
    pub(super) reason: Option<String>,
    /// For approvals: the count after this one, the quorum, and whether it completed it.
    pub(super) approvals: u64,
    pub(super) quorum: u64,
    pub(super) completes: bool,
}

pub(super) struct Outcome {
    pub(super) time: String,
    pub(super) exit_code: Option<String>,
    pub(super) signal: Option<String>,
    pub(super) duration_ms: Option<i64>,
}

pub(super) struct Request<'a> {
    pub(super) id: &'a str,
    pub(super) created: String,
    pub(super) requester: &'a str,
    pub(super) agent: Option<String>,
    pub(super) on_behalf_of: Option<String>,
    pub(super) user: Option<String>,
    pub(super) host: Option<String>,
    pub(super) command: String,
    pub(super) digest: String,
    pub(super) reason: Option<String>,
    pub(super) rules: Vec<String>,
    pub(super) risk: String,
    pub(super) quorum: u64,
    pub(super) groups: Vec<String>,
    pub(super) expires_at: Option<String>,
    pub(super) approvals: Vec<Verdict<'a>>,
    pub(super) denial: Option<Verdict<'a>>,
    pub(super) cancellation: Option<Verdict<'a>>,
    pub(super) expired: Option<String>,
    pub(super) outcome: Option<Outcome>,
    pub(super) state: State,
    /// When the request reached its final state.
    pub(super) closed_at: Option<String>,
}

impl Request<'_> {
    /// From creation to the final state.
    pub(super) fn time_to_decision(&self) -> Option<i64> {
        between(&self.created, self.closed_at.as_deref()?)
    }

    pub(super) fn requester_cell(&self) -> String {
        let mut cell = self.requester.to_owned();
        let mut context = Vec::new();
        if let Some(agent) = &self.agent {
            context.push(format!("agent {agent}"));
        }
        match (&self.user, &self.host) {
            (Some(u), Some(h)) => context.push(format!("{u}@{h}")),
            (Some(u), None) => context.push(u.clone()),
            (None, Some(h)) => context.push(format!("on {h}")),
            (None, None) => {}
        }
        if !context.is_empty() {
            let _ = write!(cell, " ({})", context.join(", "));
        }
        cell
    }

    pub(super) fn approvers(&self) -> Vec<&str> {
        self.approvals.iter().map(|a| a.actor).collect()
    }

    /// The reasons given with the decision, as `name: reason`.
    pub(super) fn decision_reasons(&self) -> String {
        let verdicts: Vec<&Verdict<'_>> = match self.state {
            State::Approved => self.approvals.iter().collect(),
            State::Denied => self.denial.iter().collect(),
            State::Cancelled => self.cancellation.iter().collect(),
            State::Open | State::Expired => Vec::new(),
        };
        verdicts
            .iter()
            .filter_map(|v| Some(format!("{}: {}", v.actor, v.reason.as_deref()?)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// An access token's life, from `token_created` and `token_revoked` events.
pub(super) struct Token<'a> {
    /// Empty in trails from servers that did not record it.
    pub(super) id: String,
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) groups: Vec<String>,
    pub(super) on_behalf_of: Option<String>,
    pub(super) issued_at: String,
    pub(super) issued_by: &'a str,
    pub(super) revoked: Option<(String, &'a str)>,
}

/// Something in the trail an auditor should look at.
pub(super) struct Anomaly {
    pub(super) time: String,
    pub(super) request: String,
    pub(super) what: String,
}

/// Whether someone could approve at a given time, as far as the trail tells.
enum Access<'t> {
    /// No token events name them: identities may come from elsewhere.
    Unknown,
    /// Their tokens were requester tokens, or revoked, or not issued yet.
    Denied,
    /// An approver token valid then, with its groups.
    Groups(&'t [String]),
}

pub(super) struct Trail<'a> {
    pub(super) requests: Vec<Request<'a>>,
    pub(super) tokens: Vec<Token<'a>>,
    pub(super) anomalies: Vec<Anomaly>,
    /// Events of requests the trail never created, with their request id.
    pub(super) orphans: Vec<&'a Event>,
}

impl<'a> Trail<'a> {
    pub(super) fn read(events: &'a [Event]) -> Trail<'a> {
        let mut trail = Trail {
            requests: Vec::new(),
            tokens: Vec::new(),
            anomalies: Vec::new(),
            orphans: Vec::new(),
        };
        trail.read_tokens(events);
        let mut order: Vec<&str> = Vec::new();
        let mut by_request: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for event in events.iter().filter(|e| !e.request_id.is_empty()) {
            let group = by_request.entry(&event.request_id).or_default();
            if group.is_empty() {
                order.push(&event.request_id);
            }
            group.push(event);
        }
        for id in order {
            let Some(group) = by_request.remove(id) else {
                continue;
            };
            match trail.read_request(&group) {
                Some(request) => trail.requests.push(request),
                None => trail.orphans.extend(group),
            }
        }
        trail
    }

    fn read_tokens(&mut self, events: &'a [Event]) {
        for event in events.iter().filter(|e| e.request_id.is_empty()) {
            let time = norm(&event.time);
            let detail = match EventDetail::from_stored(&event.kind, &event.detail) {
                Ok(detail) => detail,
                Err(e) => {
                    self.anomalies.push(Anomaly {
                        time,
                        request: String::new(),
                        what: unreadable(&event.kind, &e),
                    });
                    continue;
                }
            };
            match detail {
                EventDetail::TokenCreated {
                    id,
                    name,
                    kind,
                    groups,
                    on_behalf_of,
                } => self.tokens.push(Token {
                    id,
                    name,
                    kind: kind.to_string(),
                    groups,
                    on_behalf_of,
                    issued_at: time,
                    issued_by: &event.actor,
                    revoked: None,
                }),
                EventDetail::TokenRevoked {
                    token: named,
                    id,
                    name,
                    kind,
                } => {
                    let kind = kind.map(|k| k.to_string());
                    // Servers before typed events recorded only what the operator named.
                    let (id, name) = (id.as_deref(), name.as_deref());
                    let token = self.tokens.iter_mut().rev().find(|t| {
                        t.revoked.is_none()
                            && kind.as_ref().is_none_or(|k| *k == t.kind)
                            && match (id, name) {
                                (Some(id), _) if !t.id.is_empty() => t.id == id,
                                (_, Some(name)) => t.name == name,
                                _ => t.name == named || (!t.id.is_empty() && t.id == named),
                            }
                    });
                    match token {
                        Some(token) => token.revoked = Some((time, &event.actor)),
                        None => self.anomalies.push(Anomaly {
                            time,
                            request: String::new(),
                            what: format!(
                                "{} revoked a token for {} that the trail never issued",
                                event.actor,
                                name.unwrap_or(&named)
                            ),
                        }),
                    }
                }
                EventDetail::Refused {
                    action,
                    request,
                    reason,
                    uncounted_before,
                } => {
                    self.anomalies.push(Anomaly {
                        time,
                        request,
                        what: format!(
                            "refused: {} tried to {action}{}: {reason}{}",
                            event.actor,
                            event
                                .channel
                                .as_deref()
                                .map(|c| format!(" through {c}"))
                                .unwrap_or_default(),
                            if uncounted_before > 0 {
                                format!(" ({uncounted_before} more refusals before this one were over the recording budget and only counted)")
                            } else {
                                String::new()
                            }
                        ),
                    });
                }
                // Request events without a request id are the orphans' section's.
                _ => {}
            }
        }
    }

    fn access(&self, name: &str, time: &str) -> Access<'_> {
        let mut named = self.tokens.iter().filter(|t| t.name == name).peekable();
        if named.peek().is_none() {
            return Access::Unknown;
        }
        named
            .filter(|t| t.kind == "approver" && t.issued_at.as_str() <= time)
            .rfind(|t| t.revoked.as_ref().is_none_or(|(at, _)| at.as_str() > time))
            .map_or(Access::Denied, |t| Access::Groups(&t.groups))
    }

    /// One request from its events; `None` when none of them is a `created` that reads.
    fn read_request(&mut self, events: &[&'a Event]) -> Option<Request<'a>> {
        let (created, c) =
            events
                .iter()
                .find_map(|e| match EventDetail::from_stored(&e.kind, &e.detail) {
                    Ok(EventDetail::Created(c)) => Some((*e, c)),
                    _ => None,
                })?;
        let Created {
            command,
            digest,
            requester,
            reason,
            rules,
            risk,
            quorum,
            groups,
            expires_at,
            ..
        } = *c;
        let mut request = Request {
            id: &created.request_id,
            created: norm(&created.time),
            requester: &created.actor,
            agent: given_opt(requester.agent.as_deref()),
            on_behalf_of: given_opt(requester.on_behalf_of.as_deref()),
            user: given(&requester.user),
            host: given(&requester.host),
            command,
            digest,
            reason: given_opt(reason.as_deref()),
            rules,
            risk,
            quorum: u64::from(quorum),
            groups,
            expires_at: given(&expires_at).map(|t| norm(&t)),
            approvals: Vec::new(),
            denial: None,
            cancellation: None,
            expired: None,
            outcome: None,
            state: State::Open,
            closed_at: None,
        };
        let (id, quorum) = (request.id, request.quorum);
        let mut anomalies = Vec::new();
        for event in events {
            let time = norm(&event.time);
            let mut note = |what: String| {
                anomalies.push(Anomaly {
                    time: time.clone(),
                    request: id.to_owned(),
                    what,
                });
            };
            if std::ptr::eq(*event, created) {
                continue;
            }
            if event.kind == "created" {
                note("created a second time".to_owned());
                continue;
            }
            let detail = match EventDetail::from_stored(&event.kind, &event.detail) {
                Ok(detail) => detail,
                Err(e) => {
                    note(unreadable(&event.kind, &e));
                    continue;
                }
            };
            let verdict = |reason: Option<String>, approvals: usize, asked: u32| Verdict {
                actor: &event.actor,
                channel: event.channel.as_deref().unwrap_or(""),
                time: time.clone(),
                reason: given_opt(reason.as_deref()),
                approvals: approvals as u64,
                // 0: not recorded (older servers); the request's own quorum applies.
                quorum: if asked == 0 { quorum } else { u64::from(asked) },
                completes: false,
            };
            let late = match detail {
                EventDetail::Approved { .. } => Some("an approval"),
                EventDetail::Denied { .. } => Some("a denial"),
                EventDetail::Expired { .. } => Some("an expiry"),
                EventDetail::Cancelled { .. } => Some("a cancellation"),
                _ => None,
            };
            if let Some(late) = late
                && request.state != State::Open
            {
                note(format!(
                    "{late} by {} after the request was {}",
                    event.actor,
                    request.state.name()
                ));
            }
            let approve = matches!(detail, EventDetail::Approved { .. });
            if approve || matches!(detail, EventDetail::Denied { .. }) {
                // Denying one's own request is harmless; approving it is not.
                if approve
                    && [Some(request.requester), request.on_behalf_of.as_deref()]
                        .into_iter()
                        .flatten()
                        .any(|name| crate::server::names::same(name, &event.actor))
                {
                    note(format!(
                        "{} approved a request made by or for themselves",
                        event.actor
                    ));
                }
                match self.access(&event.actor, &time) {
                    Access::Denied => note(format!(
                        "{} decided without an approver token valid at that time",
                        event.actor
                    )),
                    Access::Groups(groups)
                        if !groups.is_empty()
                            && !request.groups.is_empty()
                            && !groups.iter().any(|g| request.groups.contains(g)) =>
                    {
                        note(format!(
                            "{} decided although none of their groups ({}) was asked ({})",
                            event.actor,
                            groups.join(", "),
                            request.groups.join(", ")
                        ));
                    }
                    Access::Unknown | Access::Groups(_) => {}
                }
            }
            match detail {
                EventDetail::Created(_)
                | EventDetail::Notified { .. }
                | EventDetail::Delivery { .. } => {}
                EventDetail::Denied { reason, .. } => {
                    if request.state == State::Open {
                        request.state = State::Denied;
                        request.closed_at = Some(time.clone());
                    }
                    request.denial.get_or_insert_with(|| verdict(reason, 0, 0));
                }
                EventDetail::Approved {
                    reason,
                    approvals,
                    quorum: asked,
                    done,
                    ..
                } => {
                    if request.approvals.iter().any(|a| a.actor == event.actor) {
                        note(format!("{} approved twice", event.actor));
                    }
                    let completes = request.state == State::Open && done;
                    request.approvals.push(Verdict {
                        completes,
                        ..verdict(reason, approvals, asked)
                    });
                    if completes {
                        let distinct: BTreeSet<&str> = request.approvers().into_iter().collect();
                        if (distinct.len() as u64) < request.quorum {
                            note(format!(
                                "approved by {} distinct approver(s) for a quorum of {}",
                                distinct.len(),
                                request.quorum
                            ));
                        }
                        request.state = State::Approved;
                        request.closed_at = Some(time.clone());
                    }
                }
                EventDetail::ApprovalWithdrawn { approver, reason } => {
                    request.approvals.retain(|a| a.actor != approver);
                    note(format!(
                        "the approval of {approver} was withdrawn: {reason}"
                    ));
                }
                EventDetail::Expired { .. } => {
                    if request.state == State::Open {
                        request.state = State::Expired;
                        request.closed_at = Some(time.clone());
                    }
                    request.expired.get_or_insert_with(|| time.clone());
                }
                EventDetail::Cancelled { reason, .. } => {
                    if request.state == State::Open {
                        request.state = State::Cancelled;
                        request.closed_at = Some(time.clone());
                    }
                    request
                        .cancellation
                        .get_or_insert_with(|| verdict(reason, 0, 0));
                }
                EventDetail::Outcome {
                    exit_code,
                    duration_ms,
                    signal,
                } => {
                    if request.state != State::Approved {
                        note(format!(
                            "an outcome was reported although the request was {}: the command ran without an approval",
                            request.state.name()
                        ));
                    }
                    if request.outcome.is_some() {
                        note("a second outcome: the command ran again".to_owned());
                    }
                    request.outcome = Some(Outcome {
                        time: time.clone(),
                        exit_code: Some(exit_code.to_string()),
                        signal: given_opt(signal.as_deref()),
                        duration_ms: i64::try_from(duration_ms).ok(),
                    });
                }
                EventDetail::Refused { .. }
                | EventDetail::TokenCreated { .. }
                | EventDetail::TokenRevoked { .. }
                | EventDetail::SignedIn { .. }
                | EventDetail::SignedOut { .. }
                | EventDetail::SessionRevoked { .. }
                | EventDetail::KeyRotated { .. } => {
                    note(format!("a {} event about a request", event.kind));
                }
            }
        }
        self.anomalies.extend(anomalies);
        Some(request)
    }
}

/// The anomaly for an event that does not read as [`EventDetail`].
fn unreadable(kind: &str, error: &serde_json::Error) -> String {
    if event::KINDS.contains(&kind) {
        format!("a {kind:?} event whose detail does not read: {error}")
    } else {
        format!("an event of unknown kind {kind:?}")
    }
}
