//! The page's HTML, as maud templates: checked when the binary is compiled, and every
//! `(value)` spliced in is HTML-escaped by maud. Text that came from a requester (command,
//! reason, names, paths, rule messages from a project's policy) also goes through
//! [`terminal_safe`] first, so control characters and terminal escapes show as visible
//! `\e[...` text instead of being passed to the browser.
//!
//! No inline script and no inline style: the CSP forbids both (see [`super::CSP`]).

use maud::{DOCTYPE, Markup, html};

use super::assets;
use crate::api::protocol::{Identity, State};
use crate::render::terminal_safe;
use crate::server::audit::Event;
use crate::server::store::Record;

/// Which part of the site a page belongs to, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Inbox,
    History,
    None,
}

/// The signed-in approver, as the page's header shows them.
pub struct Chrome<'a> {
    pub who: &'a Identity,
    pub csrf: &'a str,
    pub nav: Nav,
}

/// A message at the top of a page: what a decision did, or why it was refused.
pub enum Notice {
    Ok(String),
    Error(String),
}

/// Requester-controlled text, made inert for display.
fn safe(text: &str) -> String {
    terminal_safe(text).into_owned()
}

fn risk_class(risk: &str) -> &'static str {
    match risk.to_ascii_lowercase().as_str() {
        "critical" => "risk-critical",
        "high" => "risk-high",
        "medium" => "risk-medium",
        "low" => "risk-low",
        _ => "risk-other",
    }
}

fn state_class(state: State) -> &'static str {
    match state {
        State::Pending => "state-pending",
        State::Approved => "state-approved",
        State::Denied => "state-denied",
        State::Expired => "state-expired",
        State::Cancelled => "state-cancelled",
    }
}

/// `3m`, `2h 5m`, `4d` for a span of seconds.
pub fn span(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d", s / 86_400),
    }
}

/// An RFC 3339 time the service wrote (UTC), shown as `2026-12-06 05:43:25 UTC`; anything
/// else as it is, made inert.
fn when(rfc3339: &str) -> String {
    match crate::time::parse_rfc3339_ms(rfc3339)
        .and_then(|ms| crate::time::format_rfc3339_ms(ms - ms.rem_euclid(1000)))
    {
        Some(utc) => format!("{} UTC", utc[..19].replace('T', " ")),
        None => safe(rfc3339),
    }
}

/// An audit event's detail: one line per member, long values (hashes, signed verdicts)
/// folded away behind their first characters, open on a click (no script needed).
fn detail(detail: &serde_json::Value) -> Markup {
    const FOLD: usize = 28;
    let members: Vec<(String, String)> = match detail {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect(),
        other => vec![(String::new(), other.to_string())],
    };
    html! {
        dl.kv {
            @for (key, value) in &members {
                dt { (safe(key)) }
                dd {
                    @if value.chars().count() > FOLD {
                        details {
                            summary { code { (safe(&value.chars().take(FOLD).collect::<String>())) "…" } }
                            code { (safe(value)) }
                        }
                    } @else {
                        code { (safe(value)) }
                    }
                }
            }
        }
    }
}

/// How long ago `rfc3339` was, from `now` (seconds since the epoch).
fn age(rfc3339: &str, now: u64) -> String {
    match crate::time::parse_rfc3339_ms(rfc3339) {
        Some(ms) => {
            let then = u64::try_from(ms / 1000).unwrap_or(0);
            format!("{} ago", span(now.saturating_sub(then)))
        }
        None => safe(rfc3339),
    }
}

/// The time left before `expires_unix`, as the script keeps ticking it.
fn time_left(expires_unix: u64, now: u64) -> Markup {
    let left = expires_unix.saturating_sub(now);
    html! {
        span.left data-expires=(expires_unix) {
            @if left == 0 { "expired" } @else { (span(left)) " left" }
        }
    }
}

fn risk_badge(risk: &str) -> Markup {
    html! { span class={"badge " (risk_class(risk))} { (safe(risk)) } }
}

fn state_badge(state: State) -> Markup {
    html! { span class={"badge " (state_class(state))} { (state.as_str()) } }
}

/// A whole page: the header with navigation and sign-out (when signed in), then `body`.
pub fn page(title: &str, chrome: Option<&Chrome<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · gatekeep" }
                link rel="stylesheet" href=(assets::STYLE);
                script src=(assets::SCRIPT) defer {}
            }
            body {
                header.top {
                    div.bar {
                        a.brand href="/" { "gatekeep " span { "approvals" } }
                        @if let Some(c) = chrome {
                            nav {
                                a href="/" class=[(c.nav == Nav::Inbox).then_some("here")] { "Inbox" }
                                a href="/history" class=[(c.nav == Nav::History).then_some("here")] { "History" }
                            }
                            div.who {
                                span #who { (safe(&c.who.name)) }
                                form method="post" action=(crate::server::oidc::routes::LOGOUT) {
                                    input type="hidden" name="csrf" value=(c.csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main { (body) }
                footer { "gatekeep · every decision is signed and kept in the audit trail" }
            }
        }
    }
}

/// The inbox's list: what the page shows and what its script fetches to refresh.
pub fn inbox_list(records: &[Record], now: u64) -> Markup {
    html! {
        section #inbox {
            @if records.is_empty() {
                div.card.empty #empty { "Nothing waits for you. New requests appear here by themselves." }
            } @else {
                ul.list {
                    @for r in records {
                        li {
                            a.item href={"/requests/" (r.create.id)} data-request=(r.create.id) {
                                div.row {
                                    (risk_badge(&r.create.ask.risk))
                                    strong { (safe(&r.create.ask.rules.join(", "))) }
                                    (time_left(r.expires_unix, now))
                                }
                                code.cmd { (safe(&r.view().command)) }
                                @if let Some(reason) = &r.create.ask.reason { div.why { "“" (safe(reason)) "”" } }
                                div.meta {
                                    "by " b { (safe(&r.requester)) }
                                    @if let Some(user) = &r.on_behalf_of { " for " b { (safe(user)) } }
                                    " on " b { (safe(&r.create.ask.origin.host)) }
                                    " · " (age(&r.created_at, now))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn inbox(chrome: &Chrome<'_>, records: &[Record], now: u64) -> Markup {
    page(
        "Inbox",
        Some(chrome),
        html! {
            h1 { "Waiting for you" }
            p.sub { "Requests you may approve or deny, newest first. This list refreshes itself." }
            (inbox_list(records, now))
        },
    )
}

/// A request's detail: everything needed to decide, and the two forms. On a wide screen
/// the decision sits in a column of its own beside the facts; on a phone it follows them.
pub fn request(chrome: &Chrome<'_>, r: &Record, notice: Option<&Notice>, now: u64) -> Markup {
    let ask = &r.create.ask;
    let id = &r.create.id;
    let approved = r
        .approvals
        .iter()
        .filter(|a| a.decision == "approved")
        .count();
    let quorum = ask.quorum.max(1);
    let sets: Vec<String> = if !ask.group_sets.is_empty() {
        ask.group_sets.iter().map(|s| s.join(" or ")).collect()
    } else if !ask.groups.is_empty() {
        vec![ask.groups.join(" or ")]
    } else {
        Vec::new()
    };
    page(
        &format!("Request {id}"),
        Some(chrome),
        html! {
            @match notice {
                Some(Notice::Ok(text)) => div.notice.ok #notice { (text) },
                Some(Notice::Error(text)) => div.notice.error #notice role="alert" { (safe_lines(text)) },
                None => {},
            }
            div.row {
                h1 { "Request " code { (safe(id)) } }
                (state_badge(r.state))
                (risk_badge(&ask.risk))
            }
            p.sub {
                "Raised " (age(&r.created_at, now)) " by " (safe(&r.requester))
                @if let Some(user) = &r.on_behalf_of { " for " (safe(user)) }
                " on " (safe(&ask.origin.host))
            }
            div.layout {
                div.card.what {
                        label { "Command (secrets masked)" }
                        code.cmd #command { (safe(&r.view().command)) }
                        div.reason {
                            label { "The agent's reason" }
                            div #reason {
                                @match &ask.reason {
                                    Some(reason) => (safe(reason)),
                                    None => span.none { "none given" },
                                }
                            }
                        }
                }
                div.rest {
                    div.card {
                        h2 { "Why it needs approval" }
                        ul.rules {
                            @for (i, rule) in ask.rules.iter().enumerate() {
                                li {
                                    div.row { code { (safe(rule)) } }
                                    @if let Some(message) = ask.messages.get(i) { div { (safe(message)) } }
                                }
                            }
                        }
                    }
                    div.card {
                        h2 { "Where it comes from" }
                        dl.facts {
                            dt { "Requester" } dd { (safe(&r.requester)) }
                            dt { "On behalf of" } dd { (r.on_behalf_of.as_deref().map(safe).unwrap_or_else(|| "—".into())) }
                            dt { "Unix user" } dd { (safe(&ask.origin.user)) }
                            dt { "Host" } dd { (safe(&ask.origin.host)) }
                            @if let Some(agent) = &ask.origin.agent { dt { "Agent" } dd { (safe(agent)) } }
                            dt { "Directory" } dd { code { (safe(&ask.origin.cwd)) } }
                        }
                    }
                    @if !r.approvals.is_empty() {
                        div.card {
                            h2 { "Decisions so far" }
                            ul.rules {
                                @for a in &r.approvals {
                                    li {
                                        b { (safe(&a.name)) } " " (a.decision.as_str()) " via " (safe(&a.channel)) " at " (when(&a.at))
                                        @if let Some(reason) = &a.reason { div.meta { "“" (safe(reason)) "”" } }
                                    }
                                }
                            }
                        }
                    }
                    p { a href={"/requests/" (id) "/events"} { "Full event trail →" } }
                }
                aside.card.decision {
                    div.tally #quorum {
                        span.big { (approved) " of " (quorum) }
                        " approvals"
                    }
                    @if !sets.is_empty() { div.meta { "from " (sets.join("; and from ")) } }
                    @if r.state == State::Pending { div.meta { (time_left(r.expires_unix, now)) } }
                    div.meta { "expires " (when(&r.expires_at)) }
                    @if r.state == State::Pending {
                        form method="post" action={"/requests/" (id) "/approve"} #approve {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            label for="approve-reason" { "Note (optional)" }
                            input type="text" id="approve-reason" name="reason" maxlength="1000";
                            button.go.approve type="submit" { "Approve" }
                        }
                        form method="post" action={"/requests/" (id) "/deny"} #deny {
                            input type="hidden" name="csrf" value=(chrome.csrf);
                            label for="deny-reason" { "Reason (required: the agent reads it)" }
                            input type="text" id="deny-reason" name="reason" maxlength="1000" required;
                            button.go.deny type="submit" { "Deny" }
                        }
                    } @else {
                        p { "This request is " (r.state.as_str()) "; nothing is left to decide." }
                    }
                }
            }
        },
    )
}

/// A message gatekeep composed (a service error with its `hint:` line): terminal-safe
/// parts, line breaks kept.
fn safe_lines(text: &str) -> String {
    crate::render::terminal_safe_lines(text).into_owned()
}

/// The filters of `/history`, as given.
#[derive(Default, serde::Deserialize)]
pub struct Filters {
    pub state: Option<String>,
    pub requester: Option<String>,
    pub approver: Option<String>,
    pub rule: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

pub fn history(chrome: &Chrome<'_>, f: &Filters, records: &[Record], shown_max: usize) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    page(
        "History",
        Some(chrome),
        html! {
            h1 { "History" }
            p.sub { "Every request, newest first. Each links to its full event trail." }
            form.card.filters method="get" action="/history" {
                div {
                    label for="f-state" { "State" }
                    select id="f-state" name="state" {
                        option value="" { "any" }
                        @for s in ["pending", "approved", "denied", "expired", "cancelled"] {
                            option value=(s) selected[f.state.as_deref() == Some(s)] { (s) }
                        }
                    }
                }
                div { label for="f-requester" { "Requester" } input type="text" id="f-requester" name="requester" value=(value(&f.requester)); }
                div { label for="f-approver" { "Approver" } input type="text" id="f-approver" name="approver" value=(value(&f.approver)); }
                div { label for="f-rule" { "Rule" } input type="text" id="f-rule" name="rule" value=(value(&f.rule)); }
                div { label for="f-from" { "From (YYYY-MM-DD)" } input type="text" id="f-from" name="from" value=(value(&f.from)) placeholder="2026-01-31"; }
                div { label for="f-to" { "To (YYYY-MM-DD)" } input type="text" id="f-to" name="to" value=(value(&f.to)) placeholder="2026-12-31"; }
                div { button.plain type="submit" { "Filter" } }
            }
            @if records.is_empty() {
                div.card.empty { "No request matches." }
            } @else {
                div.scroll {
                    table #history {
                        thead { tr { th { "When" } th { "State" } th { "Command" } th { "Requester" } th { "Decided by" } th { "Rules" } th {} } }
                        tbody {
                            @for r in records {
                                tr data-request=(r.create.id) {
                                    td.when { (when(&r.created_at)) }
                                    td { (state_badge(r.state)) }
                                    td { a href={"/requests/" (r.create.id)} { code { (safe(&r.view().command)) } } }
                                    td { (safe(&r.requester)) }
                                    td { (r.approvals.iter().map(|a| safe(&a.name)).collect::<Vec<_>>().join(", ")) }
                                    td { (r.create.ask.rules.iter().map(|x| safe(x)).collect::<Vec<_>>().join(", ")) }
                                    td { a href={"/requests/" (r.create.id) "/events"} { "events" } }
                                }
                            }
                        }
                    }
                }
                @if records.len() >= shown_max { p.sub { "Showing the newest " (shown_max) "; narrow the filters to see older ones." } }
            }
        },
    )
}

/// A request's audit events, as the service's hash chain holds them.
pub fn events(chrome: &Chrome<'_>, id: &str, events: &[Event]) -> Markup {
    page(
        &format!("Events of {id}"),
        Some(chrome),
        html! {
            h1 { "Event trail of " code { (safe(id)) } }
            p.sub { a href={"/requests/" (id)} { "← back to the request" } }
            div.scroll {
                table #events {
                    thead { tr { th { "#" } th { "Time" } th { "Event" } th { "Actor" } th { "Channel" } th { "Detail" } } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (e.seq) }
                                td.when { (when(&e.time)) }
                                td { (safe(&e.kind)) }
                                td { (safe(&e.actor)) }
                                td { (e.channel.as_deref().map(safe).unwrap_or_default()) }
                                td { (detail(&e.detail)) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// For a browser without a session: where to sign in, returning to `next`.
pub fn sign_in(login: &str, title: &str, text: &str) -> Markup {
    page(
        title,
        None,
        html! {
            div.center.card {
                h1 { (title) }
                p.sub { (text) }
                a.button-link href=(login) { "Sign in" }
            }
        },
    )
}

/// A plain message page for a signed-in approver (a request not found, a bad form).
pub fn message(chrome: &Chrome<'_>, title: &str, text: &str) -> Markup {
    page(
        title,
        Some(chrome),
        html! {
            h1 { (title) }
            div.notice.error role="alert" { (safe_lines(text)) }
            p { a href="/" { "← back to the inbox" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(5), "5s");
        assert_eq!(span(125), "2m");
        assert_eq!(span(7500), "2h 5m");
        assert_eq!(span(3 * 86_400), "3d");
        assert_eq!(when("2026-12-06T05:43:25.877Z"), "2026-12-06 05:43:25 UTC");
        assert_eq!(when("soon\u{1b}[2J"), "soon\\e[2J");
    }

    #[test]
    fn markup_and_terminal_escapes_are_inert() {
        let who = Identity {
            name: "<b>bob</b>".into(),
            role: crate::api::protocol::Role::Approver,
            groups: vec![],
            on_behalf_of: None,
        };
        let chrome = Chrome {
            who: &who,
            csrf: "t",
            nav: Nav::None,
        };
        let html = message(&chrome, "x", "<script>alert(1)</script>\u{1b}[2J").into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<b>bob"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains('\u{1b}'), "{html}");
    }
}
