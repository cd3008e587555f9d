//! `gatekeep server report`: the audit trail read as evidence for auditors.
//!
//! Owns turning the server's events into a report for a period: who asked for what, who
//! approved or denied it, when and why, how long the decision took, what ran, per-rule and
//! per-approver summaries, anomalies, and whether the trail's hash chain holds. Every section
//! names the SOC 2 and NIST 800-53 controls it gives evidence for.
//!
//! A pure function of the events: no database, no clock, no I/O; the same trail and period
//! give the same report byte for byte. It shows only what the events carry: commands as the
//! server recorded them, secrets already masked, never argv or anything raw.
//!
//! Markdown escapes what a renderer would read as markup (a command cannot inject HTML into a
//! rendered `.md`), HTML escapes every text and forbids scripts by its own CSP, and CSV cells
//! of free text are defused for spreadsheets (a leading `=`, `+`, `-` or `@` gets a `'`), as
//! the report is meant to be opened in one. The exact data is in `export`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use super::audit::{Event, VerifyReport, csv_row, verify};

/// The formats of [`report`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown: headings and GitHub-flavoured tables.
    Md,
    /// One self-contained HTML page (inline CSS, no scripts), printable.
    Html,
    /// One row per request, for a spreadsheet.
    Csv,
}

/// Why [`report`] refused its period.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(
        "invalid {bound} date {value:?}: expected YYYY-MM-DD or an RFC 3339 time such as 2025-03-31T23:59:59Z"
    )]
    BadDate { bound: &'static str, value: String },
    #[error("the period is empty: --from {from} is after --to {to}\nhint: swap the two values")]
    Reversed { from: String, to: String },
}

/// The report on the requests created between `from` and `to`, in `format`.
///
/// `from` and `to` are RFC 3339 times or `YYYY-MM-DD` dates (UTC; `to` includes the whole
/// day); either may be left open. A request is in the period when its `created` event is,
/// and then all its events count, even those after `to`. The integrity section always
/// verifies the whole trail, and identities are shown as issued up to the end of the period.
pub fn report(
    events: &[Event],
    from: Option<&str>,
    to: Option<&str>,
    format: ReportFormat,
) -> Result<String, ReportError> {
    let period = Period::parse(from, to)?;
    let trail = Trail::read(events);
    Ok(match format {
        ReportFormat::Csv => csv(&trail, &period),
        ReportFormat::Md => markdown(&document(events, &trail, &period)),
        ReportFormat::Html => html(&document(events, &trail, &period)),
    })
}

// ----------------------------------------------------------------------------------------------
// Controls

/// A control the report gives evidence for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Control {
    Cc6_1,
    Cc6_3,
    Cc7_2,
    Cc8_1,
    Ac6,
    Au2,
    Au3,
    Au9,
    Au10,
    Cm5,
}

impl Control {
    const ALL: [Control; 10] = [
        Control::Cc6_1,
        Control::Cc6_3,
        Control::Cc7_2,
        Control::Cc8_1,
        Control::Ac6,
        Control::Au2,
        Control::Au3,
        Control::Au9,
        Control::Au10,
        Control::Cm5,
    ];

    fn label(self) -> &'static str {
        match self {
            Control::Cc6_1 => "SOC 2 CC6.1",
            Control::Cc6_3 => "SOC 2 CC6.3",
            Control::Cc7_2 => "SOC 2 CC7.2",
            Control::Cc8_1 => "SOC 2 CC8.1",
            Control::Ac6 => "NIST 800-53 AC-6",
            Control::Au2 => "NIST 800-53 AU-2",
            Control::Au3 => "NIST 800-53 AU-3",
            Control::Au9 => "NIST 800-53 AU-9",
            Control::Au10 => "NIST 800-53 AU-10",
            Control::Cm5 => "NIST 800-53 CM-5",
        }
    }

    fn covers(self) -> &'static str {
        match self {
            Control::Cc6_1 => "logical access: who may approve",
            Control::Cc6_3 => {
                "role-based access, least privilege: approvals per approver and group"
            }
            Control::Cc7_2 => "monitoring: denials, expiries, anomalies",
            Control::Cc8_1 => "change management: approved changes with approver and reason",
            Control::Ac6 => "least privilege",
            Control::Au2 => "event logging",
            Control::Au3 => "content of audit records",
            Control::Au9 => "protection of audit information",
            Control::Au10 => "non-repudiation: approver identities on every verdict",
            Control::Cm5 => "access restrictions for change",
        }
    }

    fn cite(self) -> String {
        format!("{} ({})", self.label(), self.covers())
    }
}

// ----------------------------------------------------------------------------------------------
// Times

/// The period of the report, as normalised UTC times (`YYYY-MM-DDTHH:MM:SS.mmmZ`), which
/// compare correctly as strings.
struct Period {
    from: Option<String>,
    to: Option<String>,
}

impl Period {
    fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, ReportError> {
        let bound = |value: Option<&str>, name: &'static str, end: bool| {
            value
                .map(|v| {
                    bound_ms(v.trim(), end).and_then(format_ms).ok_or_else(|| {
                        ReportError::BadDate {
                            bound: name,
                            value: v.to_owned(),
                        }
                    })
                })
                .transpose()
        };
        let period = Period {
            from: bound(from, "--from", false)?,
            to: bound(to, "--to", true)?,
        };
        if let (Some(f), Some(t)) = (&period.from, &period.to)
            && f > t
        {
            return Err(ReportError::Reversed {
                from: f.clone(),
                to: t.clone(),
            });
        }
        Ok(period)
    }

    fn contains(&self, time: &str) -> bool {
        self.from.as_deref().is_none_or(|f| time >= f) && self.until(time)
    }

    fn until(&self, time: &str) -> bool {
        self.to.as_deref().is_none_or(|t| time <= t)
    }

    fn describe(&self) -> String {
        match (&self.from, &self.to) {
            (Some(f), Some(t)) => format!("{f} to {t}"),
            (Some(f), None) => format!("from {f} on"),
            (None, Some(t)) => format!("up to {t}"),
            (None, None) => "the whole trail".to_owned(),
        }
    }
}

/// A bound of the period in milliseconds since the epoch: a date stands for the start of its
/// day, or for the end of it when it ends the period.
fn bound_ms(value: &str, end: bool) -> Option<i64> {
    if value.len() == 10 {
        let day = parse_date(value.as_bytes())?;
        let start = day * DAY_MS;
        return Some(if end { start + DAY_MS - 1 } else { start });
    }
    parse_time(value)
}

const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the epoch of an RFC 3339 time: `YYYY-MM-DD`, `T` (or `t` or a space),
/// `HH:MM:SS`, an optional fraction (cut to milliseconds), then `Z` or `±HH:MM`.
fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let day = parse_date(&b[..10])?;
    let (hour, min, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let mut frac = b[start..i.min(start + 3)].to_vec();
        frac.resize(3, b'0');
        ms = num(&frac)?;
    }
    let offset_min = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    Some(day * DAY_MS + ((hour * 60 + min - offset_min) * 60 + sec) * 1000 + ms)
}

/// Days since the epoch of `YYYY-MM-DD`.
fn parse_date(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&b[..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Digits only, as a number.
fn num(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, or `None` outside years 0000..=9999.
fn format_ms(ms: i64) -> Option<String> {
    let (days, rem) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let (h, mi, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z"
    ))
}

/// An event's time, normalised when it parses (the server writes them normalised already).
fn norm(time: &str) -> String {
    parse_time(time)
        .and_then(format_ms)
        .unwrap_or_else(|| time.to_owned())
}

/// Milliseconds from `start` to `end`, when both parse.
fn between(start: &str, end: &str) -> Option<i64> {
    Some(parse_time(end)? - parse_time(start)?)
}

/// `42s`, `1.5s`, `12m 30s`, `3h 05m`, `2d 04h`.
fn human_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let s = ms / 1000;
    let text = if ms < 10_000 && !ms.is_multiple_of(1000) {
        format!("{}.{}s", s, ms % 1000 / 100)
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, s / 60 % 60)
    } else {
        format!("{}d {:02}h", s / 86_400, s / 3600 % 24)
    };
    format!("{sign}{text}")
}

/// Seconds with up to three decimals: `750`, `1.25`.
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms.is_multiple_of(1000) {
        format!("{sign}{}", ms / 1000)
    } else {
        let frac = format!("{:03}", ms % 1000);
        format!("{sign}{}.{}", ms / 1000, frac.trim_end_matches('0'))
    }
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => {
            let (a, b) = (values[n / 2 - 1], values[n / 2]);
            Some(a + (b - a) / 2)
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The trail read as requests

/// A field of an event's detail as text; `None` when absent, null or empty.
fn text(detail: &Value, key: &str) -> Option<String> {
    match detail.get(key)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn texts(detail: &Value, key: &str) -> Vec<String> {
    detail
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Approved,
    Denied,
    Expired,
    Cancelled,
}

impl State {
    fn name(self) -> &'static str {
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
struct Verdict<'a> {
    actor: &'a str,
    channel: &'a str,
    time: String,
    reason: Option<String>,
    /// For approvals: the count after this one, the quorum, and whether it completed it.
    approvals: u64,
    quorum: u64,
    completes: bool,
}

struct Outcome {
    time: String,
    exit_code: Option<String>,
    signal: Option<String>,
    duration_ms: Option<i64>,
}

struct Request<'a> {
    id: &'a str,
    created: String,
    requester: &'a str,
    agent: Option<String>,
    on_behalf_of: Option<String>,
    user: Option<String>,
    host: Option<String>,
    command: String,
    digest: String,
    reason: Option<String>,
    rules: Vec<String>,
    risk: String,
    quorum: u64,
    groups: Vec<String>,
    expires_at: Option<String>,
    approvals: Vec<Verdict<'a>>,
    denial: Option<Verdict<'a>>,
    cancellation: Option<Verdict<'a>>,
    expired: Option<String>,
    outcome: Option<Outcome>,
    state: State,
    /// When the request reached its final state.
    closed_at: Option<String>,
}

impl Request<'_> {
    /// From creation to the final state.
    fn time_to_decision(&self) -> Option<i64> {
        between(&self.created, self.closed_at.as_deref()?)
    }

    fn requester_cell(&self) -> String {
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

    fn approvers(&self) -> Vec<&str> {
        self.approvals.iter().map(|a| a.actor).collect()
    }

    /// The reasons given with the decision, as `name: reason`.
    fn decision_reasons(&self) -> String {
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
struct Token<'a> {
    name: String,
    kind: String,
    groups: Vec<String>,
    on_behalf_of: Option<String>,
    issued_at: String,
    issued_by: &'a str,
    revoked: Option<(String, &'a str)>,
}

/// Something in the trail an auditor should look at.
struct Anomaly {
    time: String,
    request: String,
    what: String,
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

struct Trail<'a> {
    requests: Vec<Request<'a>>,
    tokens: Vec<Token<'a>>,
    anomalies: Vec<Anomaly>,
    /// Events of requests the trail never created, with their request id.
    orphans: Vec<&'a Event>,
}

impl<'a> Trail<'a> {
    fn read(events: &'a [Event]) -> Trail<'a> {
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
        for event in events {
            let d = &event.detail;
            let name = text(d, "name").unwrap_or_default();
            match event.kind.as_str() {
                "token_created" => self.tokens.push(Token {
                    name,
                    kind: text(d, "kind").unwrap_or_default(),
                    groups: texts(d, "groups"),
                    on_behalf_of: text(d, "on_behalf_of"),
                    issued_at: norm(&event.time),
                    issued_by: &event.actor,
                    revoked: None,
                }),
                "token_revoked" => {
                    let kind = text(d, "kind");
                    let token = self.tokens.iter_mut().rev().find(|t| {
                        t.name == name
                            && t.revoked.is_none()
                            && kind.as_ref().is_none_or(|k| *k == t.kind)
                    });
                    match token {
                        Some(token) => token.revoked = Some((norm(&event.time), &event.actor)),
                        None => self.anomalies.push(Anomaly {
                            time: norm(&event.time),
                            request: String::new(),
                            what: format!(
                                "{} revoked a token for {name} that the trail never issued",
                                event.actor
                            ),
                        }),
                    }
                }
                "refused" => {
                    let uncounted = d
                        .get("uncounted_before")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    self.anomalies.push(Anomaly {
                        time: norm(&event.time),
                        request: text(d, "request").unwrap_or_default(),
                        what: format!(
                            "refused: {} tried to {}{}: {}{}",
                            event.actor,
                            text(d, "action").unwrap_or_default(),
                            event
                                .channel
                                .as_deref()
                                .map(|c| format!(" through {c}"))
                                .unwrap_or_default(),
                            text(d, "reason").unwrap_or_default(),
                            if uncounted > 0 {
                                format!(" ({uncounted} more refusals before this one were over the recording budget and only counted)")
                            } else {
                                String::new()
                            }
                        ),
                    });
                }
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

    /// One request from its events; `None` when none of them is `created`.
    fn read_request(&mut self, events: &[&'a Event]) -> Option<Request<'a>> {
        let created = events.iter().find(|e| e.kind == "created")?;
        let d = &created.detail;
        let requester = d.get("requester").unwrap_or(&Value::Null);
        let mut request = Request {
            id: &created.request_id,
            created: norm(&created.time),
            requester: &created.actor,
            agent: text(requester, "agent"),
            on_behalf_of: text(requester, "on_behalf_of"),
            user: text(requester, "user"),
            host: text(requester, "host"),
            command: text(d, "command").unwrap_or_default(),
            digest: text(d, "digest").unwrap_or_default(),
            reason: text(d, "reason"),
            rules: texts(d, "rules"),
            risk: text(d, "risk").unwrap_or_default(),
            quorum: d.get("quorum").and_then(Value::as_u64).unwrap_or(1),
            groups: texts(d, "groups"),
            expires_at: text(d, "expires_at").map(|t| norm(&t)),
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
            let verdict = || Verdict {
                actor: &event.actor,
                channel: event.channel.as_deref().unwrap_or(""),
                time: time.clone(),
                reason: text(&event.detail, "reason"),
                approvals: event
                    .detail
                    .get("approvals")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                quorum: event
                    .detail
                    .get("quorum")
                    .and_then(Value::as_u64)
                    .unwrap_or(quorum),
                completes: false,
            };
            let late = match event.kind.as_str() {
                "approved" => Some("an approval"),
                "denied" => Some("a denial"),
                "expired" => Some("an expiry"),
                "cancelled" => Some("a cancellation"),
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
            match event.kind.as_str() {
                "created" if !std::ptr::eq(*event, *created) => {
                    note("created a second time".to_owned());
                }
                "created" | "notified" => {}
                "approved" | "denied" => {
                    // Denying one's own request is harmless; approving it is not.
                    if event.kind == "approved"
                        && [Some(request.requester), request.on_behalf_of.as_deref()]
                            .into_iter()
                            .flatten()
                            .any(|name| super::names::same(name, &event.actor))
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
                    if event.kind == "denied" {
                        if request.state == State::Open {
                            request.state = State::Denied;
                            request.closed_at = Some(time.clone());
                        }
                        request.denial.get_or_insert_with(verdict);
                        continue;
                    }
                    if request.approvals.iter().any(|a| a.actor == event.actor) {
                        note(format!("{} approved twice", event.actor));
                    }
                    let completes = request.state == State::Open
                        && event.detail.get("final").and_then(Value::as_bool) == Some(true);
                    request.approvals.push(Verdict {
                        completes,
                        ..verdict()
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
                "approval_withdrawn" => {
                    let who = text(&event.detail, "approver").unwrap_or_default();
                    request.approvals.retain(|a| a.actor != who);
                    note(format!(
                        "the approval of {who} was withdrawn: {}",
                        text(&event.detail, "reason").unwrap_or_default()
                    ));
                }
                "expired" => {
                    if request.state == State::Open {
                        request.state = State::Expired;
                        request.closed_at = Some(time.clone());
                    }
                    request.expired.get_or_insert_with(|| time.clone());
                }
                "cancelled" => {
                    if request.state == State::Open {
                        request.state = State::Cancelled;
                        request.closed_at = Some(time.clone());
                    }
                    request.cancellation.get_or_insert_with(verdict);
                }
                "outcome" => {
                    if request.state != State::Approved {
                        note(format!(
                            "an outcome was reported although the request was {}: the command ran without an approval",
                            request.state.name()
                        ));
                    }
                    if request.outcome.is_some() {
                        note("a second outcome: the command ran again".to_owned());
                    }
                    let d = &event.detail;
                    request.outcome = Some(Outcome {
                        time: time.clone(),
                        exit_code: text(d, "exit_code"),
                        signal: text(d, "signal"),
                        duration_ms: d.get("duration_ms").and_then(Value::as_i64),
                    });
                }
                other => note(format!("an event of unknown kind {other:?}")),
            }
        }
        self.anomalies.extend(anomalies);
        Some(request)
    }
}

// ----------------------------------------------------------------------------------------------
// The document, before it is rendered

enum Cell {
    Text(String),
    /// Commands, hashes, ids: shown as code.
    Code(String),
    /// Links to sections, by title.
    Sections(Vec<&'static str>),
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn c(s: impl Into<String>) -> Cell {
    Cell::Code(s.into())
}

fn opt(s: Option<&str>) -> Cell {
    t(s.unwrap_or("-"))
}

enum Block {
    Para(String),
    /// Said loudly: a failed verification.
    Alert(String),
    Table {
        head: Vec<&'static str>,
        rows: Vec<Vec<Cell>>,
    },
}

/// A table, or a plain sentence when it has no rows.
fn table(head: &[&'static str], rows: Vec<Vec<Cell>>, none: &str) -> Block {
    if rows.is_empty() {
        Block::Para(none.to_owned())
    } else {
        Block::Table {
            head: head.to_vec(),
            rows,
        }
    }
}

struct Section {
    title: &'static str,
    controls: &'static [Control],
    blocks: Vec<Block>,
}

struct Document {
    period: String,
    overview: Vec<Block>,
    sections: Vec<Section>,
}

const NONE: &str = "None in this period.";

fn document(events: &[Event], trail: &Trail<'_>, period: &Period) -> Document {
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

    let sections = vec![
        integrity(events, &verification),
        approved(&requests),
        denied(&requests),
        expired(&requests),
        cancelled(&requests),
        open(&requests),
        outcomes(&requests),
        per_rule(&requests),
        per_approver(&requests, trail, period),
        who_may_approve(trail, period),
        anomalies_section(&anomalies, &orphans, &verification),
        events_recorded(events, &requests, period),
    ];
    let mut index_rows = Vec::new();
    for control in Control::ALL {
        let titles: Vec<&'static str> = sections
            .iter()
            .filter(|s| s.controls.contains(&control))
            .map(|s| s.title)
            .collect();
        index_rows.push(vec![
            t(control.label()),
            t(control.covers()),
            Cell::Sections(titles),
        ]);
    }
    overview.push(Block::Table {
        head: vec!["Control", "Covers", "Evidence in"],
        rows: index_rows,
    });
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
        blocks.push(table(
            &["#", "Error"],
            verification
                .errors
                .iter()
                .enumerate()
                .map(|(i, e)| vec![t((i + 1).to_string()), t(e)])
                .collect(),
            NONE,
        ));
    }
    blocks.push(Block::Para("The whole trail is verified, whatever the period. A chain cannot show events cut off its end, nor a tail rewritten with fresh hashes: keep this report, and check that later trails still hold its last event with the same hash.".to_owned()));
    Section {
        title: "Integrity of the audit trail",
        controls: &[Control::Au9],
        blocks,
    }
}

fn approved(requests: &[&Request<'_>]) -> Section {
    let approved: Vec<&&Request<'_>> = requests
        .iter()
        .filter(|r| r.state == State::Approved)
        .collect();
    let rows = approved
        .iter()
        .map(|r| {
            vec![
                c(r.id),
                t(&r.created),
                t(r.requester_cell()),
                opt(r.on_behalf_of.as_deref()),
                c(&r.command),
                t(r.rules.join(", ")),
                t(&r.risk),
                opt(r.reason.as_deref()),
                t(r.approvers().join(", ")),
                opt(r.closed_at.as_deref()),
                opt(r.time_to_decision().map(human_duration).as_deref()),
            ]
        })
        .collect();
    let signatures = approved
        .iter()
        .flat_map(|r| {
            r.approvals.iter().map(|a| {
                vec![
                    c(r.id),
                    t(a.actor),
                    t(a.channel),
                    t(&a.time),
                    t(format!("{} of {}", a.approvals, a.quorum)),
                    opt(a.reason.as_deref()),
                    opt(between(&r.created, &a.time).map(human_duration).as_deref()),
                    c(r.digest.get(..12).unwrap_or(&r.digest)),
                ]
            })
        })
        .collect();
    Section {
        title: "Approved changes",
        controls: &[Control::Cc8_1, Control::Cm5, Control::Au10],
        blocks: vec![
            Block::Para("Each command below could run only once the approvers named here had approved it. Time to decision runs from the request to the approval that completed its quorum.".to_owned()),
            table(
                &[
                    "Request",
                    "Requested",
                    "Requester",
                    "On behalf of",
                    "Command",
                    "Rules",
                    "Risk",
                    "Requester's reason",
                    "Approved by",
                    "Decided",
                    "Time to decision",
                ],
                rows,
                NONE,
            ),
            table(
                &[
                    "Request",
                    "Approver",
                    "Channel",
                    "Approved at",
                    "Approval",
                    "Approver's reason",
                    "After",
                    "Digest (SHA-256, first 12)",
                ],
                signatures,
                "",
            ),
        ],
    }
}

fn denied(requests: &[&Request<'_>]) -> Section {
    let rows = requests
        .iter()
        .filter_map(|r| Some((r, r.denial.as_ref().filter(|_| r.state == State::Denied)?)))
        .map(|(r, d)| {
            vec![
                c(r.id),
                t(&r.created),
                t(r.requester_cell()),
                opt(r.on_behalf_of.as_deref()),
                c(&r.command),
                t(r.rules.join(", ")),
                t(&r.risk),
                opt(r.reason.as_deref()),
                t(d.actor),
                t(d.channel),
                opt(d.reason.as_deref()),
                t(&d.time),
                opt(r.time_to_decision().map(human_duration).as_deref()),
            ]
        })
        .collect();
    Section {
        title: "Denied requests",
        controls: &[Control::Cc7_2, Control::Au10],
        blocks: vec![table(
            &[
                "Request",
                "Requested",
                "Requester",
                "On behalf of",
                "Command",
                "Rules",
                "Risk",
                "Requester's reason",
                "Denied by",
                "Channel",
                "Approver's reason",
                "Decided",
                "Time to decision",
            ],
            rows,
            NONE,
        )],
    }
}

fn expired(requests: &[&Request<'_>]) -> Section {
    let rows = requests
        .iter()
        .filter(|r| r.state == State::Expired)
        .map(|r| {
            vec![
                c(r.id),
                t(&r.created),
                t(r.requester_cell()),
                c(&r.command),
                t(r.rules.join(", ")),
                t(r.groups.join(", ")),
                t(format!("{} of {}", r.approvals.len(), r.quorum)),
                opt(r.reason.as_deref()),
                opt(r.expired.as_deref()),
                opt(r.time_to_decision().map(human_duration).as_deref()),
            ]
        })
        .collect();
    Section {
        title: "Expired requests",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Block::Para(
                "Nobody completed a decision in time; the commands did not run.".to_owned(),
            ),
            table(
                &[
                    "Request",
                    "Requested",
                    "Requester",
                    "Command",
                    "Rules",
                    "Groups asked",
                    "Approvals",
                    "Requester's reason",
                    "Expired",
                    "Waited",
                ],
                rows,
                NONE,
            ),
        ],
    }
}

fn cancelled(requests: &[&Request<'_>]) -> Section {
    let rows = requests
        .iter()
        .filter_map(|r| {
            Some((
                r,
                r.cancellation
                    .as_ref()
                    .filter(|_| r.state == State::Cancelled)?,
            ))
        })
        .map(|(r, v)| {
            vec![
                c(r.id),
                t(&r.created),
                t(r.requester_cell()),
                c(&r.command),
                opt(r.reason.as_deref()),
                t(v.actor),
                opt(v.reason.as_deref()),
                t(&v.time),
            ]
        })
        .collect();
    Section {
        title: "Cancelled requests",
        controls: &[Control::Cc7_2],
        blocks: vec![table(
            &[
                "Request",
                "Requested",
                "Requester",
                "Command",
                "Requester's reason",
                "Cancelled by",
                "Why cancelled",
                "Cancelled",
            ],
            rows,
            NONE,
        )],
    }
}

fn open(requests: &[&Request<'_>]) -> Section {
    let rows = requests
        .iter()
        .filter(|r| r.state == State::Open)
        .map(|r| {
            vec![
                c(r.id),
                t(&r.created),
                t(r.requester_cell()),
                c(&r.command),
                t(r.rules.join(", ")),
                t(r.groups.join(", ")),
                t(format!("{} of {}", r.approvals.len(), r.quorum)),
                opt(r.reason.as_deref()),
                opt(r.expires_at.as_deref()),
            ]
        })
        .collect();
    Section {
        title: "Requests still open",
        controls: &[Control::Cc7_2],
        blocks: vec![table(
            &[
                "Request",
                "Requested",
                "Requester",
                "Command",
                "Rules",
                "Groups asked",
                "Approvals",
                "Requester's reason",
                "Expires",
            ],
            rows,
            NONE,
        )],
    }
}

fn outcomes(requests: &[&Request<'_>]) -> Section {
    let rows = requests
        .iter()
        .filter_map(|r| Some((r, r.outcome.as_ref()?)))
        .map(|(r, o)| {
            vec![
                c(r.id),
                c(&r.command),
                t(r.approvers().join(", ")),
                opt(o.exit_code.as_deref()),
                opt(o.signal.as_deref()),
                opt(o.duration_ms.map(human_duration).as_deref()),
                t(&o.time),
            ]
        })
        .collect();
    let unreported = requests
        .iter()
        .filter(|r| r.state == State::Approved && r.outcome.is_none())
        .count();
    Section {
        title: "Outcomes",
        controls: &[Control::Cc8_1, Control::Au3],
        blocks: vec![
            table(
                &[
                    "Request",
                    "Command",
                    "Approved by",
                    "Exit code",
                    "Signal",
                    "Ran for",
                    "Reported",
                ],
                rows,
                NONE,
            ),
            Block::Para(format!(
                "Approved requests with no outcome reported: {unreported}."
            )),
        ],
    }
}

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

    fn row(self, name: &str) -> Vec<Cell> {
        let mut row = vec![t(name)];
        row.extend(
            [
                self.requests,
                self.approved,
                self.denied,
                self.expired,
                self.cancelled,
                self.open,
            ]
            .map(|n| t(n.to_string())),
        );
        row.push(opt(median(self.decision_ms).map(human_duration).as_deref()));
        row
    }
}

const TALLY_HEAD: [&str; 7] = [
    "Requests",
    "Approved",
    "Denied",
    "Expired",
    "Cancelled",
    "Open",
    "Median time to decision",
];

fn tally_head(first: &'static str) -> Vec<&'static str> {
    let mut head = vec![first];
    head.extend(TALLY_HEAD);
    head
}

fn per_rule(requests: &[&Request<'_>]) -> Section {
    let mut rules: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in requests {
        if r.rules.is_empty() {
            rules.entry("(no rule)").or_default().add(r);
        }
        for rule in &r.rules {
            rules.entry(rule).or_default().add(r);
        }
    }
    let rows = rules.into_iter().map(|(rule, n)| n.row(rule)).collect();
    Section {
        title: "Summary per rule",
        controls: &[Control::Cc8_1, Control::Cm5],
        blocks: vec![
            Block::Para("The rules that sent commands for approval. A request that matched several rules counts under each. The median time to decision covers approvals and denials.".to_owned()),
            table(&tally_head("Rule"), rows, NONE),
        ],
    }
}

fn per_approver(requests: &[&Request<'_>], trail: &Trail<'_>, period: &Period) -> Section {
    #[derive(Default)]
    struct Row {
        approvals: usize,
        completing: usize,
        denials: usize,
        respond_ms: Vec<i64>,
    }
    let mut approvers: BTreeMap<&str, Row> = BTreeMap::new();
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
    let rows = approvers
        .into_iter()
        .map(|(name, row)| {
            let groups = groups_of(name);
            let expired = groups.as_ref().map(|groups| {
                requests
                    .iter()
                    .filter(|r| {
                        r.state == State::Expired && r.groups.iter().any(|g| groups.contains(g))
                    })
                    .count()
                    .to_string()
            });
            vec![
                t(name),
                t(groups.map_or_else(|| "not in the trail".to_owned(), |g| g.join(", "))),
                t(row.approvals.to_string()),
                t(row.completing.to_string()),
                t(row.denials.to_string()),
                opt(expired.as_deref()),
                opt(median(row.respond_ms).map(human_duration).as_deref()),
            ]
        })
        .collect();

    let mut groups: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in requests {
        if r.groups.is_empty() {
            groups.entry("(no group)").or_default().add(r);
        }
        for g in &r.groups {
            groups.entry(g).or_default().add(r);
        }
    }
    let group_rows = groups.into_iter().map(|(g, n)| n.row(g)).collect();
    Section {
        title: "Summary per approver",
        controls: &[Control::Cc6_3, Control::Ac6],
        blocks: vec![
            Block::Para("Who approved and denied, from which groups (as their approver tokens give them). \"Expired in their groups\" counts requests their groups were asked for that nobody decided in time. Response time runs from the request to the approver's own verdict.".to_owned()),
            table(
                &[
                    "Approver",
                    "Groups",
                    "Approvals",
                    "Completing a quorum",
                    "Denials",
                    "Expired in their groups",
                    "Median time to respond",
                ],
                rows,
                NONE,
            ),
            table(&tally_head("Group asked"), group_rows, ""),
        ],
    }
}

fn who_may_approve(trail: &Trail<'_>, period: &Period) -> Section {
    let rows = trail
        .tokens
        .iter()
        .filter(|tk| period.until(&tk.issued_at))
        .map(|tk| {
            let revoked = tk.revoked.as_ref().filter(|(at, _)| period.until(at));
            vec![
                t(&tk.name),
                t(&tk.kind),
                t(tk.groups.join(", ")),
                opt(tk.on_behalf_of.as_deref()),
                t(&tk.issued_at),
                t(tk.issued_by),
                opt(revoked.map(|(at, _)| at.as_str())),
                opt(revoked.map(|(_, by)| *by)),
            ]
        })
        .collect();
    Section {
        title: "Who may approve",
        controls: &[Control::Cc6_1, Control::Ac6],
        blocks: vec![
            Block::Para("Identities the service issued tokens to, up to the end of the period: approvers decide for their groups only, requesters can only ask, and nobody may decide their own request.".to_owned()),
            table(
                &[
                    "Identity",
                    "Kind",
                    "Groups",
                    "On behalf of",
                    "Issued",
                    "Issued by",
                    "Revoked",
                    "Revoked by",
                ],
                rows,
                "No token was issued or revoked through the service up to the end of the period.",
            ),
        ],
    }
}

fn anomalies_section(
    anomalies: &[&Anomaly],
    orphans: &BTreeMap<&str, Vec<&Event>>,
    verification: &VerifyReport,
) -> Section {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    if !verification.is_ok() {
        rows.push(vec![
            t("-"),
            t("-"),
            t("the audit trail failed verification (see \"Integrity of the audit trail\")"),
        ]);
    }
    for a in anomalies {
        rows.push(vec![
            t(&a.time),
            if a.request.is_empty() {
                t("-")
            } else {
                c(&a.request)
            },
            t(&a.what),
        ]);
    }
    for (id, group) in orphans {
        let kinds: Vec<&str> = group.iter().map(|e| e.kind.as_str()).collect();
        rows.push(vec![
            t(group.first().map(|e| norm(&e.time)).unwrap_or_default()),
            c(*id),
            t(format!(
                "events ({}) for a request the trail never created",
                kinds.join(", ")
            )),
        ]);
    }
    Section {
        title: "Anomalies",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Block::Para("What the service should have prevented, or an auditor should look at: attempts it refused (self-approval, an approver outside the groups asked, a requester token used to approve or read another's request, revoked or unknown tokens), approvals withdrawn when a token was revoked; and what it should never let through: self-approval, a verdict without a valid approver token or from outside the groups asked, a quorum short of distinct approvers, verdicts after a request closed, commands that ran without an approval.".to_owned()),
            table(&["Time", "Request", "What"], rows, "None found."),
        ],
    }
}

fn events_recorded(events: &[Event], requests: &[&Request<'_>], period: &Period) -> Section {
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
        _ => "-",
    };
    let rows = kinds
        .into_iter()
        .map(|(kind, n)| vec![c(kind), t(n.to_string()), t(what(kind))])
        .collect();
    Section {
        title: "Events recorded",
        controls: &[Control::Au2, Control::Au3],
        blocks: vec![
            Block::Para("Every event carries its time (UTC, milliseconds), kind, request, actor and channel, the kind's details with secrets masked, and its place in the hash chain (seq, prev, hash).".to_owned()),
            table(&["Kind", "Events", "What each records"], rows, NONE),
        ],
    }
}

// ----------------------------------------------------------------------------------------------
// Markdown

/// GitHub's anchor for a heading: lowercase, spaces to `-`, other punctuation dropped.
fn slug(title: &str) -> String {
    title
        .chars()
        .filter_map(|ch| match ch {
            ' ' => Some('-'),
            '-' | '_' => Some(ch),
            _ if ch.is_alphanumeric() => Some(ch.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// One line of text with Markdown's markup characters escaped (so that a reason or a name
/// cannot become HTML, a link or a table column) and line breaks shown as `↵`.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in one_line(s).chars() {
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '#' | '!' | '~'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A code span: long enough a fence for the backticks inside, pipes escaped for tables.
fn md_code(s: &str) -> String {
    let s = one_line(s).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        run = if ch == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || (s.starts_with(' ') && s.ends_with(' '))
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// One line of text, with line breaks marked and every other control, bidirectional or
/// invisible character shown as an escape: a Markdown report is often read with `cat`.
fn one_line(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace(['\n', '\r'], " ↵ ");
    crate::render::terminal_safe(&s).into_owned()
}

fn md_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => md_text(s),
        Cell::Code(s) if s.is_empty() => String::new(),
        Cell::Code(s) => md_code(s),
        Cell::Sections(titles) => titles
            .iter()
            .map(|title| format!("[{title}](#{})", slug(title)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn md_blocks(out: &mut String, blocks: &[Block]) {
    for block in blocks {
        match block {
            Block::Para(p) if p.is_empty() => continue,
            Block::Para(p) => out.push_str(&md_text(p)),
            Block::Alert(p) => {
                let _ = write!(out, "**{}**", md_text(p));
            }
            Block::Table { head, rows } => {
                let _ = writeln!(out, "| {} |", head.join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(md_cell).collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.pop();
            }
        }
        out.push_str("\n\n");
    }
}

fn markdown(doc: &Document) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# gatekeep audit report\n");
    let _ = writeln!(
        out,
        "Period: {} (UTC; a request belongs to the period it was made in)\n",
        md_text(&doc.period)
    );
    md_blocks(&mut out, &doc.overview);
    for section in &doc.sections {
        let _ = writeln!(out, "## {}\n", section.title);
        let cites: Vec<String> = section.controls.iter().map(|c| c.cite()).collect();
        let _ = writeln!(out, "Controls: {}\n", md_text(&cites.join("; ")));
        md_blocks(&mut out, &section.blocks);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

// ----------------------------------------------------------------------------------------------
// HTML

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#111;margin:2em auto;max-width:90em;padding:0 1em}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#eee}code{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}\
.controls{color:#444;font-style:italic}.alert{color:#a00;font-weight:bold}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

fn html_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => esc(s),
        Cell::Code(s) if s.is_empty() => String::new(),
        Cell::Code(s) => format!("<code>{}</code>", esc(s)),
        Cell::Sections(titles) => titles
            .iter()
            .map(|title| format!("<a href=\"#{}\">{}</a>", slug(title), esc(title)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn html_blocks(out: &mut String, blocks: &[Block]) {
    for block in blocks {
        match block {
            Block::Para(p) if p.is_empty() => {}
            Block::Para(p) => {
                let _ = writeln!(out, "<p>{}</p>", esc(p));
            }
            Block::Alert(p) => {
                let _ = writeln!(out, "<p class=\"alert\">{}</p>", esc(p));
            }
            Block::Table { head, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in head {
                    let _ = write!(out, "<th>{}</th>", esc(h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", html_cell(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
}

fn html(doc: &Document) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Defence in depth: even an escaping mistake could not run a script or load anything.
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    let _ = writeln!(
        out,
        "<title>gatekeep audit report: {}</title>",
        esc(&doc.period)
    );
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>");
    out.push_str("<h1>gatekeep audit report</h1>\n");
    let _ = writeln!(
        out,
        "<p>Period: {} (UTC; a request belongs to the period it was made in)</p>",
        esc(&doc.period)
    );
    html_blocks(&mut out, &doc.overview);
    for section in &doc.sections {
        let _ = writeln!(
            out,
            "<h2 id=\"{}\">{}</h2>",
            slug(section.title),
            esc(section.title)
        );
        let cites: Vec<String> = section.controls.iter().map(|c| c.cite()).collect();
        let _ = writeln!(
            out,
            "<p class=\"controls\">Controls: {}</p>",
            esc(&cites.join("; "))
        );
        html_blocks(&mut out, &section.blocks);
    }
    out.push_str("</body>\n</html>\n");
    out
}

// ----------------------------------------------------------------------------------------------
// CSV

const CSV_COLUMNS: [&str; 13] = [
    "request_id",
    "created",
    "requester",
    "on_behalf_of",
    "command",
    "rules",
    "risk",
    "state",
    "approvers",
    "reason",
    "decided_at",
    "time_to_decision_s",
    "exit_code",
];

fn csv(trail: &Trail<'_>, period: &Period) -> String {
    let mut out = csv_row(&CSV_COLUMNS);
    for r in trail
        .requests
        .iter()
        .filter(|r| period.contains(&r.created))
    {
        let text_cells = [
            r.id.to_owned(),
            r.requester.to_owned(),
            r.on_behalf_of.clone().unwrap_or_default(),
            r.command.clone(),
            r.rules.join("; "),
            r.risk.clone(),
            r.approvers().join("; "),
            r.decision_reasons(),
        ];
        let [
            id,
            requester,
            on_behalf_of,
            command,
            rules,
            risk,
            approvers,
            reason,
        ] = &text_cells;
        let exit_code = r
            .outcome
            .as_ref()
            .and_then(|o| o.exit_code.clone())
            .unwrap_or_default();
        out.push_str(&csv_row(&[
            id,
            &r.created,
            requester,
            on_behalf_of,
            command,
            rules,
            risk,
            r.state.name(),
            approvers,
            reason,
            r.closed_at.as_deref().unwrap_or(""),
            &r.time_to_decision().map(seconds).unwrap_or_default(),
            &exit_code,
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::server::audit::FIRST_PREV;
    use crate::server::audit::tests::parse_csv;

    /// Appends events with their seq, prev and hash set as the server would.
    #[derive(Default)]
    struct Trail {
        events: Vec<Event>,
    }

    impl Trail {
        fn push(
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
        fn created(
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

        fn approved(
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

        fn token(&mut self, time: &str, kind: &str, name: &str, groups: &[&str]) -> &mut Self {
            self.push(
                time,
                "",
                kind,
                "admin",
                None,
                json!({"name": name, "kind": "approver", "groups": groups, "on_behalf_of": null}),
            )
        }
    }

    /// Five requests in March (approved with a quorum of two, denied, expired, cancelled,
    /// approved by one), one in April, and the tokens of the approvers.
    fn march() -> Vec<Event> {
        let mut t = Trail::default();
        t.token("2025-02-20T09:00:00.000Z", "token_created", "bob", &["sre"])
            .token("2025-02-20T09:00:01.000Z", "token_created", "carol", &["sre", "dba"])
            .token("2025-02-20T09:00:02.000Z", "token_created", "dave", &["dba"])
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

    fn md(events: &[Event], from: Option<&str>, to: Option<&str>) -> String {
        report(events, from, to, ReportFormat::Md).unwrap()
    }

    /// The lines of the section under `## title`, up to the next section.
    fn section<'r>(report: &'r str, title: &str) -> Vec<&'r str> {
        let heading = format!("## {title}");
        let mut lines = report.lines().skip_while(|l| *l != heading);
        assert_eq!(lines.next(), Some(heading.as_str()), "no section {title:?}");
        lines.take_while(|l| !l.starts_with("## ")).collect()
    }

    /// The table row of `report`'s section `title` whose first cell is `first`.
    fn row<'r>(report: &'r str, title: &str, first: &str) -> &'r str {
        section(report, title)
            .into_iter()
            .find(|l| l.starts_with(&format!("| {first} |")))
            .unwrap_or_else(|| panic!("no row {first:?} in {title:?}:\n{report}"))
    }

    #[test]
    fn each_section_names_its_controls_under_its_heading() {
        let report = md(&march(), None, None);
        let expected: &[(&str, &[&str])] = &[
            ("Integrity of the audit trail", &["NIST 800-53 AU-9"]),
            (
                "Approved changes",
                &["SOC 2 CC8.1", "NIST 800-53 CM-5", "NIST 800-53 AU-10"],
            ),
            ("Denied requests", &["SOC 2 CC7.2", "NIST 800-53 AU-10"]),
            ("Expired requests", &["SOC 2 CC7.2"]),
            ("Cancelled requests", &["SOC 2 CC7.2"]),
            ("Outcomes", &["SOC 2 CC8.1", "NIST 800-53 AU-3"]),
            ("Summary per rule", &["SOC 2 CC8.1", "NIST 800-53 CM-5"]),
            ("Summary per approver", &["SOC 2 CC6.3", "NIST 800-53 AC-6"]),
            ("Who may approve", &["SOC 2 CC6.1", "NIST 800-53 AC-6"]),
            ("Anomalies", &["SOC 2 CC7.2"]),
            ("Events recorded", &["NIST 800-53 AU-2", "NIST 800-53 AU-3"]),
        ];
        for (title, controls) in expected {
            let lines = section(&report, title);
            let first = lines.iter().find(|l| !l.is_empty()).unwrap();
            assert!(first.starts_with("Controls: "), "{title}: {first}");
            for control in *controls {
                assert!(first.contains(control), "{title}: {first} lacks {control}");
            }
        }
        // The index at the top points at the sections.
        assert!(report.contains(
            "| SOC 2 CC6.1 | logical access: who may approve | [Who may approve](#who-may-approve) |"
        ));
        assert!(report.contains("| NIST 800-53 AU-9 | protection of audit information | [Integrity of the audit trail](#integrity-of-the-audit-trail) |"));
    }

    #[test]
    fn the_report_says_who_asked_who_approved_when_why_and_how_long_it_took() {
        let report = md(&march(), Some("2025-03-01"), Some("2025-03-31"));
        assert!(report.contains("Period: 2025-03-01T00:00:00.000Z to 2025-03-31T23:59:59.999Z"));
        assert!(
            report.contains(
                "5 request(s): 2 approved, 1 denied, 1 expired, 1 cancelled, 0 still open."
            )
        );
        assert!(report.contains("The audit trail verifies: 25 event(s), hash chain intact."));

        let r1 = row(&report, "Approved changes", "`r1`");
        for part in [
            "2025-03-03T10:00:00.000Z",
            "ci-agent (agent claude-code, deploy@runner-3)",
            "| alice |",
            "`kubectl delete ns staging-old`",
            "kubectl-delete",
            "clean up the old staging",
            "bob, carol",
            "2025-03-03T10:12:30.000Z",
            "| 12m 30s |",
        ] {
            assert!(r1.contains(part), "{part:?} not in {r1}");
        }
        // One row per approval: the signatures, with their reasons.
        let signatures: Vec<&str> = section(&report, "Approved changes")
            .into_iter()
            .filter(|l| l.starts_with("| `r1` | bob") || l.starts_with("| `r1` | carol"))
            .collect();
        assert_eq!(signatures.len(), 2, "{report}");
        assert!(
            signatures[0].contains(
                "| cli | 2025-03-03T10:02:00.000Z | 1 of 2 | checked with alice | 2m 00s |"
            )
        );
        assert!(
            signatures[1].contains("| api | 2025-03-03T10:12:30.000Z | 2 of 2 | ticket OPS-42 |"),
            "{}",
            signatures[1]
        );

        let r2 = row(&report, "Denied requests", "`r2`");
        assert!(
            r2.contains("`terraform destroy -target=module.db \\| tee log`"),
            "{r2}"
        );
        assert!(
            r2.contains(
                "| dave | cli | not during the freeze | 2025-03-05T14:05:00.000Z | 5m 00s |"
            ),
            "{r2}"
        );
        let r3 = row(&report, "Expired requests", "`r3`");
        assert!(
            r3.contains("| dba | 0 of 1 | \\<img src=x onerror=alert(1)\\> | 2025-03-10T09:00:00.000Z | 1h 00m |"),
            "{r3}"
        );
        let r4 = row(&report, "Cancelled requests", "`r4`");
        assert!(r4.contains("| ci-agent | retried ↵ differently |"), "{r4}");
        let outcome = row(&report, "Outcomes", "`r1`");
        assert!(
            outcome.contains("| bob, carol | 0 | - | 4.2s |"),
            "{outcome}"
        );
        assert!(report.contains("Approved requests with no outcome reported: 1."));

        // Per rule: r1 approved in 12m 30s, r4 cancelled, r5 approved in 1m: median 6m 45s.
        assert_eq!(
            row(&report, "Summary per rule", "kubectl-delete"),
            "| kubectl-delete | 3 | 2 | 0 | 0 | 1 | 0 | 6m 45s |"
        );
        assert_eq!(
            row(&report, "Summary per rule", "terraform-destroy"),
            "| terraform-destroy | 1 | 0 | 1 | 0 | 0 | 0 | 5m 00s |"
        );
        assert_eq!(
            row(&report, "Summary per rule", "psql-drop"),
            "| psql-drop | 1 | 0 | 0 | 1 | 0 | 0 | - |"
        );
        // Per approver: bob gave one approval that did not complete the quorum.
        assert_eq!(
            row(&report, "Summary per approver", "bob"),
            "| bob | sre | 1 | 0 | 0 | 0 | 2m 00s |"
        );
        assert_eq!(
            row(&report, "Summary per approver", "carol"),
            "| carol | dba, sre | 2 | 2 | 0 | 1 | 6m 45s |"
        );
        assert_eq!(
            row(&report, "Summary per approver", "dave"),
            "| dave | dba | 0 | 0 | 1 | 1 | 5m 00s |"
        );
        assert_eq!(
            row(&report, "Summary per approver", "sre"),
            "| sre | 3 | 2 | 0 | 0 | 1 | 0 | 6m 45s |"
        );
        let dave = row(&report, "Who may approve", "dave");
        assert!(
            dave.contains("| 2025-03-20T12:00:00.000Z | admin |"),
            "{dave}"
        );
        assert!(
            !report.contains("`token_created`"),
            "issued before March: {report}"
        );
        assert!(report.contains("| `notified` | 5 |"), "{report}");
        assert!(report.contains("| `token_revoked` | 1 |"), "{report}");
        assert!(report.contains("| `approved` | 3 |"), "{report}");
        assert_eq!(
            section(&report, "Anomalies")
                .iter()
                .rfind(|l| !l.is_empty()),
            Some(&"None found.")
        );
        // Free text cannot become markup in a rendered Markdown file.
        assert!(
            report.contains("\\<img src=x onerror=alert(1)\\>"),
            "{report}"
        );
        assert!(!report.replace("\\<", "").contains("<img"));
    }

    #[test]
    fn the_period_selects_requests_by_their_creation() {
        let events = march();
        let report = md(&events, Some("2025-03-06"), Some("2025-03-31"));
        for gone in ["`r1`", "`r2`", "`r6`"] {
            assert!(!report.contains(gone), "{gone} is out of the period");
        }
        for kept in ["`r3`", "`r4`", "`r5`"] {
            assert!(report.contains(kept), "{kept} is in the period");
        }
        assert!(report.contains("3 request(s):"));
        // `to` takes the whole day; an offset is converted to UTC; bounds are inclusive.
        let report = md(&events, Some("2025-04-02"), Some("2025-04-02"));
        assert!(report.contains("`r6`") && report.contains("1 request(s):"));
        let report = md(
            &events,
            Some("2025-03-05T15:00:00+01:00"),
            Some("2025-03-05T14:00:00Z"),
        );
        assert!(
            report.contains("`r2`") && report.contains("1 request(s):"),
            "{report}"
        );
        // The whole trail is still verified, and tokens issued before the period are shown.
        assert!(report.contains("The audit trail verifies: 25 event(s)"));
        assert!(row(&report, "Who may approve", "bob").contains("| approver | sre |"));
    }

    #[test]
    fn an_empty_period_says_there_were_no_requests() {
        let events = march();
        for format in [ReportFormat::Md, ReportFormat::Html] {
            let report = report(&events, Some("2026-01-01"), None, format).unwrap();
            assert!(
                report.contains("There were no requests in this period."),
                "{report}"
            );
            assert!(report.contains("None in this period."));
            assert!(!report.contains("r1"));
        }
        let csv = report(&events, Some("2026-01-01"), None, ReportFormat::Csv).unwrap();
        assert_eq!(csv.matches("\r\n").count(), 1, "the header only: {csv}");
        let report = md(&[], None, None);
        assert!(report.contains("There were no requests in this period."));
        assert!(report.contains("The audit trail verifies: 0 event(s)"));
    }

    #[test]
    fn markdown_shows_controls_as_escapes() {
        let text = "kubectl delete ns prod #\x1b[2K\x1b[1G\u{202e}";
        let code = md_code(text);
        assert_eq!(code, "`kubectl delete ns prod #\\e[2K\\e[1G\\u202e`");
        let cell = md_text(text);
        assert!(!cell.contains(['\x1b', '\u{202e}']), "{cell}");
        assert!(cell.contains("\\\\e\\[2K"), "{cell}");
    }

    #[test]
    fn html_is_one_escaped_page_without_scripts() {
        let page = report(&march(), None, None, ReportFormat::Html).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<style>") && page.contains("default-src 'none'"));
        assert!(page.contains(
            "<code>psql -c &#39;DROP TABLE users&#39; # &lt;script&gt;alert(1)&lt;/script&gt;</code>"
        ));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!page.contains("<script") && !page.contains("<img"));
        assert!(page.contains("<h2 id=\"approved-changes\">Approved changes</h2>\n<p class=\"controls\">Controls: SOC 2 CC8.1"));
        assert!(page.contains("<a href=\"#who-may-approve\">Who may approve</a>"));
        assert!(page.contains("<td>12m 30s</td>"));
    }

    #[test]
    fn csv_has_one_quoted_row_per_request() {
        let csv = report(&march(), None, Some("2025-03-31"), ReportFormat::Csv).unwrap();
        let rows = parse_csv(&csv);
        assert_eq!(rows.len(), 6, "a header and five requests:\n{csv}");
        assert_eq!(rows[0], CSV_COLUMNS);
        assert_eq!(
            rows[1],
            [
                "r1",
                "2025-03-03T10:00:00.000Z",
                "ci-agent",
                "alice",
                "kubectl delete ns staging-old",
                "kubectl-delete",
                "high",
                "approved",
                "bob; carol",
                "bob: checked with alice; carol: ticket OPS-42",
                "2025-03-03T10:12:30.000Z",
                "750",
                "0",
            ]
        );
        assert_eq!(
            rows[2][7..12],
            [
                "denied",
                "",
                "dave: not during the freeze",
                "2025-03-05T14:05:00.000Z",
                "300"
            ]
        );
        assert_eq!(rows[3][7], "expired");
        assert_eq!(rows[4][9], "ci-agent: retried\ndifferently");
        assert_eq!(rows[5][4], "kubectl annotate deploy api note=\"a, b\"");
        assert_eq!(rows[5][5], "kubectl-delete; prod");
        assert_eq!(rows[5][9], "carol: rollback, per INC-7");
        assert!(
            csv.contains(r#","kubectl annotate deploy api note=""a, b""","#),
            "{csv}"
        );
        assert!(csv.contains("\"ci-agent: retried\ndifferently\""));
        // A cell a spreadsheet would run as a formula is defused.
        let mut events = march();
        events.truncate(4);
        let mut t = Trail { events };
        t.created(
            "2025-03-01T00:00:00.000Z",
            "r9",
            "=HYPERLINK(\"http://x\")",
            &[],
            "low",
            1,
            &[],
            None,
        );
        let csv = report(&t.events, None, None, ReportFormat::Csv).unwrap();
        assert_eq!(parse_csv(&csv)[1][4], "'=HYPERLINK(\"http://x\")");
    }

    #[test]
    fn a_tampered_trail_shows_in_the_integrity_section() {
        let mut events = march();
        let denial = events.iter_mut().find(|e| e.kind == "denied").unwrap();
        denial.detail = json!({"reason": "fine by me"});
        let seq = denial.seq;
        let report = md(&events, None, None);
        assert!(
            report.contains("**The audit trail FAILED verification (1 error(s))"),
            "{report}"
        );
        let integrity = section(&report, "Integrity of the audit trail").join("\n");
        assert!(
            integrity.contains("**Result: VERIFICATION FAILED with 1 error(s)."),
            "{integrity}"
        );
        assert!(
            integrity.contains(&format!("| 1 | event {seq} (position {seq}) was altered: its content does not match its hash |")),
            "{integrity}"
        );
        assert!(row(&report, "Anomalies", "-").contains("failed verification"));
        let page = super::report(&events, None, None, ReportFormat::Html);
        assert!(
            page.unwrap()
                .contains("<p class=\"alert\">Result: VERIFICATION FAILED")
        );
    }

    #[test]
    fn anomalies_are_listed() {
        let mut t = Trail { events: march() };
        // dave's token was revoked on 2025-03-20; alice is the one the agent acts for.
        t.created(
            "2025-03-21T10:00:00.000Z",
            "r7",
            "rm -rf /srv/cache",
            &["rm-rf"],
            "high",
            2,
            &["sre"],
            None,
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
            json!({"exit_code": null, "signal": "SIGTERM", "duration_ms": 10}),
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
        .approved(
            "2025-03-24T10:02:00.000Z",
            "r9",
            "bob",
            "api",
            "ok again",
            (2, 2),
        )
        .token(
            "2025-03-25T09:00:00.000Z",
            "token_created",
            "erin",
            &["dba"],
        );
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
        );
        let report = md(&t.events, Some("2025-03-21"), None);
        let anomalies = section(&report, "Anomalies").join("\n");
        for what in [
            "| `r7` | dave decided without an approver token valid at that time |",
            "| `r7` | alice approved a request made by or for themselves |",
            "| `r7` | an approval by bob after the request was approved |",
            "| `r8` | an outcome was reported although the request was open: the command ran without an approval |",
            "| `ghost` | events (approved) for a request the trail never created |",
            "| `r9` | bob approved twice |",
            "| `r9` | approved by 1 distinct approver(s) for a quorum of 2 |",
            "| `r10` | erin decided although none of their groups (dba) was asked (sre) |",
        ] {
            assert!(anomalies.contains(what), "{what:?} not in\n{anomalies}");
        }
        assert!(report.contains("8 anomalies found"), "{report}");
        // Out of the period, and clean before it.
        assert!(md(&t.events, None, Some("2025-03-20")).contains("0 anomalies found"));
    }

    /// A realistic trail with every kind of event the report reads: approvals (with a
    /// quorum), denials, expiries, cancels, outcomes, refused attempts, revoked tokens,
    /// withdrawn approvals, orphans, unknown kinds and free text that needs escaping.
    fn characterization_trail() -> Vec<Event> {
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
        .token("2025-03-02T09:00:00.000Z", "token_revoked", "zed", &[]);
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
        .approved("2025-03-21T10:01:00.000Z", "r7", "dave", "cli", "ok", (1, 2))
        .approved("2025-03-21T10:02:00.000Z", "r7", "alice", "api", "mine", (2, 2))
        .approved("2025-03-21T10:03:00.000Z", "r7", "bob", "cli", "late", (3, 2));
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
            json!({"exit_code": null, "signal": "SIGTERM", "duration_ms": 10}),
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
        .approved("2025-03-25T10:01:00.000Z", "r10", "erin", "cli", "ok", (1, 1))
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

    /// The report of [`characterization_trail`] in every format, compared with the files
    /// made by the code before the report was split into modules: the split (and any later
    /// refactoring) must not change a byte. `GATEKEEP_TEST_BLESS=1` rewrites the files after
    /// an intended change; review their diff before committing.
    #[test]
    fn reports_match_the_golden_files() {
        let intact = characterization_trail();
        let mut broken = intact.clone();
        // A denial rewritten outside the service: its hash no longer matches.
        let denial = broken.iter_mut().find(|e| e.kind == "denied").unwrap();
        denial.detail = json!({"reason": "fine by me"});
        let cases: [(&str, &[Event], Option<&str>, Option<&str>); 3] = [
            ("whole-broken", &broken, None, None),
            ("march-intact", &intact, Some("2025-03-02"), Some("2025-03-31T12:00:00+02:00")),
            ("empty", &intact, Some("2030-01-01"), None),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report");
        let bless = std::env::var_os("GATEKEEP_TEST_BLESS").is_some();
        for (name, events, from, to) in cases {
            for (ext, format) in [
                ("md", ReportFormat::Md),
                ("html", ReportFormat::Html),
                ("csv", ReportFormat::Csv),
            ] {
                let got = report(events, from, to, format).unwrap();
                let path = dir.join(format!("{name}.{ext}"));
                if bless {
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(&path, &got).unwrap();
                }
                let want = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(got == want, "{} differs:\n{got}", path.display());
            }
        }
    }

    #[test]
    fn bad_dates_are_refused_with_the_expected_format() {
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "yesterday",
            "2025-03-01T25:00:00Z",
            "2025-03-01T10:00:00",
        ] {
            let err = report(&[], Some(bad), None, ReportFormat::Md).unwrap_err();
            assert_eq!(
                err,
                ReportError::BadDate {
                    bound: "--from",
                    value: bad.to_owned()
                }
            );
            let message = err.to_string();
            assert!(
                message.contains(bad) && message.contains("YYYY-MM-DD"),
                "{message}"
            );
        }
        assert!(
            report(&[], None, Some("2024-02-29"), ReportFormat::Md).is_ok(),
            "a leap day"
        );
        let err = report(
            &[],
            Some("2025-03-02"),
            Some("2025-03-01"),
            ReportFormat::Md,
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::Reversed { .. }), "{err}");
    }

    #[test]
    fn times_parse_and_normalise() {
        let cases = [
            ("2025-03-05T14:00:00.000Z", "2025-03-05T14:00:00.000Z"),
            ("2025-03-05t14:00:00z", "2025-03-05T14:00:00.000Z"),
            ("2025-03-05 14:00:00.1234567Z", "2025-03-05T14:00:00.123Z"),
            ("2025-03-05T15:30:00+01:30", "2025-03-05T14:00:00.000Z"),
            ("2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00.000Z"),
            ("2024-02-28T23:00:00-01:00", "2024-02-29T00:00:00.000Z"),
            ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
        ];
        for (input, normal) in cases {
            assert_eq!(
                parse_time(input).and_then(format_ms).as_deref(),
                Some(normal),
                "{input}"
            );
        }
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(format_ms(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(human_duration(750_000), "12m 30s");
        assert_eq!(human_duration(4200), "4.2s");
        assert_eq!(human_duration(93_784_000), "1d 02h");
        assert_eq!(seconds(1250), "1.25");
        assert_eq!(median(vec![60_000, 750_000]), Some(405_000));
    }
}
