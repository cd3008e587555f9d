//! The deliveries section: how the notifications to Slack, Teams and webhooks went (see
//! `server::notify`), per channel — notices delivered, attempts retried, notices given up
//! on. Written only when the period has delivery events, so that a service without channels
//! reports as before.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{Block, Control, Section, Table, c, t};
use super::period::{Period, norm};
use super::trail::Request;
use crate::server::audit::Event;
use crate::server::event::EventDetail;

#[derive(Default)]
struct Counts {
    sent: usize,
    retried: usize,
    failed: usize,
    /// The last reason an attempt did not go through.
    last_error: Option<String>,
}

/// The section, if any delivery was attempted for the period's requests.
pub(super) fn section(
    events: &[Event],
    requests: &[&Request<'_>],
    period: &Period,
) -> Option<Section> {
    let ids: BTreeSet<&str> = requests.iter().map(|r| r.id).collect();
    let mut channels: BTreeMap<String, Counts> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == "delivery") {
        let counted = ids.contains(e.request_id.as_str())
            || (e.request_id.is_empty() && period.contains(&norm(&e.time)));
        if !counted {
            continue;
        }
        let Ok(EventDetail::Delivery {
            channel,
            result,
            error,
            ..
        }) = EventDetail::from_stored(&e.kind, &e.detail)
        else {
            continue;
        };
        let counts = channels.entry(channel).or_default();
        match result.as_str() {
            "sent" => counts.sent += 1,
            "retry" => counts.retried += 1,
            _ => counts.failed += 1,
        }
        if error.is_some() {
            counts.last_error = error;
        }
    }
    if channels.is_empty() {
        return None;
    }
    Some(Section {
        title: "Deliveries",
        controls: &[Control::Cc7_2],
        blocks: vec![
            Block::Para("Notifications to approvers' channels, per channel: notices delivered, attempts that failed and were retried, and notices given up on (each attempt is an event in the trail). A notice is written in the same transaction as the change it announces; a failed one never reached that channel's approvers.".to_owned()),
            Table::of(channels)
                .column("Channel", |(channel, _)| c(channel.as_str()))
                .column("Sent", |(_, n)| t(n.sent.to_string()))
                .column("Retried", |(_, n)| t(n.retried.to_string()))
                .column("Failed", |(_, n)| t(n.failed.to_string()))
                .column("Last error", |(_, n)| {
                    t(n.last_error.clone().unwrap_or_else(|| "-".into()))
                })
                .block(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixture::{Trail, md, row, section};

    #[test]
    fn deliveries_are_counted_per_channel_and_absent_without_any() {
        let mut trail = Trail::default();
        trail.created(
            "2025-03-03T10:00:00.000Z",
            "r1",
            "touch marker",
            &["ask-marker"],
            "high",
            1,
            &[],
            None,
        );
        let without = md(&trail.events, None, None);
        assert!(!without.contains("## Deliveries"));
        let attempt = |result: &str, error: Option<&str>| json!({"channel": "slack", "notice": "created", "attempt": 1, "result": result, "error": error});
        let at = "2025-03-03T10:00:01.000Z";
        trail
            .push(at, "r1", "delivery", "server", Some("slack"), attempt("retry", Some("Slack chat.postMessage answered 500")))
            .push(at, "r1", "delivery", "server", Some("slack"), attempt("retry", Some("Slack chat.postMessage answered 429")))
            .push(at, "r1", "delivery", "server", Some("slack"), attempt("sent", None))
            .push(at, "r1", "delivery", "server", Some("webhook:0123456789ab"), json!({"channel": "webhook:0123456789ab", "notice": "created", "attempt": 1, "result": "failed", "error": "the webhook answered 404"}));
        let report = md(&trail.events, None, None);
        let lines = section(&report, "Deliveries");
        assert!(lines.iter().any(|l| l.contains("SOC 2 CC7.2")), "{lines:?}");
        assert_eq!(
            row(&report, "Deliveries", "`slack`"),
            "| `slack` | 1 | 2 | 0 | Slack chat.postMessage answered 429 |"
        );
        assert_eq!(
            row(&report, "Deliveries", "`webhook:0123456789ab`"),
            "| `webhook:0123456789ab` | 0 | 0 | 1 | the webhook answered 404 |"
        );
    }
}
