//! Microsoft Teams through a Workflows (Power Automate) webhook: an Adaptive Card (schema
//! 1.4) with the request's facts and `Action.OpenUrl` to its web page. A Workflows webhook
//! only posts: it cannot call back on a button, and the flow cannot edit the card it posted,
//! so the final state goes out as a second card.
//!
//! Adaptive Card `TextBlock`s render a subset of Markdown; agent text is put in `FactSet`
//! values and a monospace `TextBlock` with Markdown characters escaped by a backslash.

use serde_json::{Value, json};

use super::facts;
use crate::api::protocol::RequestView;

/// `text` with the characters of Teams' Markdown subset escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '['
                | ']'
                | '('
                | ')'
                | '#'
                | '`'
                | '<'
                | '>'
                | '~'
                | '-'
                | '+'
                | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The webhook's body: a message with one Adaptive Card.
pub fn message(view: &RequestView, page: Option<&str>, now: u64) -> Value {
    let title = match facts::outcome(view) {
        None => "gatekeep: approval requested".to_owned(),
        Some(_) => format!("gatekeep: request {} is {}", view.id, view.state),
    };
    let mut body = vec![
        json!({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": escape(&title)}),
        json!({"type": "TextBlock", "fontType": "Monospace", "wrap": true, "text": escape(&view.command)}),
    ];
    if let Some(line) = facts::outcome(view) {
        body.push(
            json!({"type": "TextBlock", "wrap": true, "weight": "Bolder", "text": escape(&line)}),
        );
    }
    let facts: Vec<Value> = facts::facts(view, now)
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": escape(&value)}))
        .collect();
    body.push(json!({"type": "FactSet", "facts": facts}));
    let actions: Vec<Value> = page
        .map(|url| {
            let label = if view.state.is_final() {
                "Open in gatekeep"
            } else {
                "Review and decide"
            };
            json!({"type": "Action.OpenUrl", "title": label, "url": url})
        })
        .into_iter()
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}
