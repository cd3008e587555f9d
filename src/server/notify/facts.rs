//! What every channel shows of a request, in one place: the facts an approver decides on, the
//! state line once it is decided, and the link to its web page.

use crate::api::protocol::{RequestView, State};

/// Label and value, in the order approvers read them. Values are the agent's text, unescaped:
/// each channel escapes them for its own format.
pub fn facts(view: &RequestView, now: u64) -> Vec<(&'static str, String)> {
    let ask = &view.ask;
    let mut requester = view.requester.clone();
    if let Some(agent) = &ask.origin.agent
        && agent != &requester
    {
        requester = format!("{requester} (agent {agent})");
    }
    let mut facts = vec![
        ("Requester", requester),
        (
            "On behalf of",
            view.on_behalf_of
                .clone()
                .unwrap_or_else(|| ask.origin.user.clone()),
        ),
        ("Host", ask.origin.host.clone()),
        ("Directory", ask.origin.cwd.clone()),
        ("Risk", ask.risk.clone()),
        ("Rules", ask.rules.join(", ")),
    ];
    if !ask.messages.is_empty() {
        facts.push(("Why it needs approval", ask.messages.join("\n")));
    }
    facts.push((
        "Reason",
        ask.reason.clone().unwrap_or_else(|| "(none given)".into()),
    ));
    facts.push(("Approvals", approvals(view)));
    if view.state == State::Pending {
        facts.push(("Time left", time_left(view.expires_unix, now)));
    }
    facts
}

/// `1 of 2 (bob via slack)`.
fn approvals(view: &RequestView) -> String {
    let approved: Vec<String> = view
        .approvals
        .iter()
        .filter(|a| a.decision == "approved")
        .map(|a| format!("{} via {}", a.name, a.channel))
        .collect();
    let mut text = format!("{} of {}", approved.len(), view.ask.quorum.max(1));
    if !approved.is_empty() {
        text.push_str(&format!(" ({})", approved.join(", ")));
    }
    text
}

fn time_left(expires: u64, now: u64) -> String {
    let left = expires.saturating_sub(now);
    match left {
        0 => "expired".into(),
        1..=119 => format!("{left} s"),
        _ if left < 2 * 3600 => format!("{} min", left / 60),
        _ => format!("{} h", left / 3600),
    }
}

/// The final state in words: who decided and when (`None` while pending).
pub fn outcome(view: &RequestView) -> Option<String> {
    let last = |decision: &str| view.approvals.iter().rev().find(|a| a.decision == decision);
    let line = match view.state {
        State::Pending => return None,
        State::Approved => {
            let who: Vec<String> = view
                .approvals
                .iter()
                .filter(|a| a.decision == "approved")
                .map(|a| format!("{} via {} at {}", a.name, a.channel, a.at))
                .collect();
            let mut line = format!("Approved by {}", who.join(", "));
            if let Some(run) = &view.outcome {
                line.push_str(&match &run.signal {
                    Some(signal) => format!("; the command was killed by {signal}"),
                    None => format!("; the command exited with {}", run.exit_code),
                });
            }
            line
        }
        State::Denied => match last("denied") {
            Some(a) => format!(
                "Denied by {} via {} at {}: {}",
                a.name,
                a.channel,
                a.at,
                a.reason.as_deref().unwrap_or("")
            ),
            None => "Denied".into(),
        },
        State::Expired => format!("Expired at {} without a decision", view.expires_at),
        State::Cancelled => "Cancelled by its requester".into(),
    };
    Some(line)
}

/// The request's web page, when the service has a public URL.
pub fn page(public_url: Option<&url::Url>, id: &str) -> Option<String> {
    public_url.map(|u| format!("{}/requests/{id}", u.as_str().trim_end_matches('/')))
}
