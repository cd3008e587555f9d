//! Slack: the Block Kit message a request is posted as (and updated to once decided), the
//! deny modal, and the Web API calls (`chat.postMessage`, `chat.update`, `views.open`,
//! `chat.postEphemeral`, `users.info`) with the bot token.
//!
//! Everything in a request came from the agent, so nothing of it may act as Slack markup:
//! the command goes into a mrkdwn code block with `&`, `<` and `>` escaped (Slack's own
//! escaping, which is what turns `<!channel>`, `<@U…>` and `<url|text>` into text) and its
//! backticks broken with a zero-width space so that it cannot close the block; every other
//! agent text goes out as `plain_text`, which Slack never parses.

use serde_json::{Value, json};

use super::config::SlackConfig;
use super::facts;
use super::send::{Http, SendError};
use crate::api::protocol::RequestView;

pub const APPROVE: &str = "gatekeep_approve";
pub const DENY: &str = "gatekeep_deny";
pub const OPEN: &str = "gatekeep_open";
/// The deny modal's `callback_id`, and its reason input's block and action id.
pub const DENY_MODAL: &str = "gatekeep_deny_reason";
pub const REASON: &str = "reason";

/// Slack's mrkdwn escaping: the three characters its markup is made of.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` as a mrkdwn code block that nothing in it can leave.
fn code_block(text: &str) -> String {
    format!("```{}```", escape(text).replace('`', "`\u{200b}"))
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text, "emoji": false})
}

/// The message for `view`: the facts, then the buttons while it waits, or the final state.
pub fn blocks(view: &RequestView, page: Option<&str>, now: u64) -> Value {
    let title = match facts::outcome(view) {
        None => "gatekeep: approval requested".to_owned(),
        Some(_) => format!("gatekeep: request {}", view.state),
    };
    let mut blocks = vec![
        json!({"type": "header", "text": plain(&title)}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Command* (request `{}`)\n{}", escape(&view.id), code_block(&view.command))}}),
    ];
    // A section holds at most 10 fields.
    let fields: Vec<Value> = facts::facts(view, now)
        .into_iter()
        .map(|(label, value)| plain(&format!("{label}: {value}")))
        .collect();
    for chunk in fields.chunks(10) {
        blocks.push(json!({"type": "section", "fields": chunk}));
    }
    let mut actions = Vec::new();
    match facts::outcome(view) {
        None => {
            actions.push(json!({"type": "button", "action_id": APPROVE, "style": "primary", "value": view.id, "text": plain("Approve")}));
            actions.push(json!({"type": "button", "action_id": DENY, "style": "danger", "value": view.id, "text": plain("Deny")}));
        }
        Some(line) => blocks.push(json!({"type": "section", "text": plain(&line)})),
    }
    if let Some(page) = page {
        actions.push(json!({"type": "button", "action_id": OPEN, "url": page, "text": plain("Open in gatekeep")}));
    }
    if !actions.is_empty() {
        blocks.push(json!({"type": "actions", "elements": actions}));
    }
    Value::Array(blocks)
}

/// The notification's text (what a phone shows): escaped like the blocks.
pub fn text(view: &RequestView) -> String {
    let head: String = view.command.chars().take(120).collect();
    match facts::outcome(view) {
        None => format!(
            "Approval requested ({} risk): {}",
            escape(&view.ask.risk),
            code_block(&head)
        ),
        Some(_) => format!("Request {} is {}", escape(&view.id), view.state),
    }
}

/// The modal that asks a denier for the reason; `metadata` comes back in the submission.
pub fn deny_modal(id: &str, metadata: &str) -> Value {
    json!({
        "type": "modal",
        "callback_id": DENY_MODAL,
        "private_metadata": metadata,
        "title": plain("Deny request"),
        "submit": plain("Deny"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "text": plain(&format!("Denying request {id}. The agent reads your reason."))},
            {"type": "input", "block_id": REASON, "label": plain("Reason"),
             "element": {"type": "plain_text_input", "action_id": REASON, "multiline": true}}
        ]
    })
}

/// Calls the Web API with the bot token.
pub struct Api<'a> {
    pub http: &'a Http,
    pub config: &'a SlackConfig,
}

impl Api<'_> {
    fn auth(&self) -> Vec<(&'static str, String)> {
        vec![(
            "authorization",
            format!("Bearer {}", self.config.bot_token.expose()),
        )]
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, SendError> {
        let url = format!("{}/{method}", self.config.api_url);
        let answer = self
            .http
            .post_json(
                &format!("Slack {method}"),
                &url,
                self.auth(),
                body.to_string(),
            )
            .await?;
        read(method, &answer.text)
    }

    /// Posts a message to the configured channel: returns `channel:ts`, what an update needs.
    pub async fn post(&self, blocks: Value, text: String) -> Result<String, SendError> {
        let body = json!({"channel": self.config.channel, "blocks": blocks, "text": text, "unfurl_links": false, "unfurl_media": false});
        let answer = self.call("chat.postMessage", body).await?;
        match (answer["channel"].as_str(), answer["ts"].as_str()) {
            (Some(channel), Some(ts)) => Ok(format!("{channel}:{ts}")),
            _ => Err(SendError::Refused(
                "Slack chat.postMessage answered without channel and ts".into(),
            )),
        }
    }

    /// Replaces the message `reference` (`channel:ts`) names.
    pub async fn update(
        &self,
        reference: &str,
        blocks: Value,
        text: String,
    ) -> Result<(), SendError> {
        let (channel, ts) = reference.split_once(':').ok_or_else(|| {
            SendError::Refused(format!(
                "a stored Slack message reference `{reference}` is not channel:ts"
            ))
        })?;
        let body = json!({"channel": channel, "ts": ts, "blocks": blocks, "text": text});
        self.call("chat.update", body).await.map(drop)
    }

    pub async fn open_view(&self, trigger_id: &str, view: Value) -> Result<(), SendError> {
        let body = json!({"trigger_id": trigger_id, "view": view});
        self.call("views.open", body).await.map(drop)
    }

    /// A message only `user` sees, in `channel`.
    pub async fn ephemeral(&self, channel: &str, user: &str, text: &str) -> Result<(), SendError> {
        let body = json!({"channel": channel, "user": user, "text": escape(text)});
        self.call("chat.postEphemeral", body).await.map(drop)
    }

    /// The email on `user`'s Slack profile (`users.info`, scope `users:read.email`).
    pub async fn email(&self, user: &str) -> Result<Option<String>, SendError> {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user", user)
            .finish();
        let url = format!("{}/users.info?{query}", self.config.api_url);
        let answer = self.http.get("Slack users.info", &url, self.auth()).await?;
        let answer = read("users.info", &answer.text)?;
        Ok(answer["user"]["profile"]["email"]
            .as_str()
            .map(str::to_owned))
    }
}

/// Reads a Web API answer: `{"ok": true, ...}`, or `{"ok": false, "error": "..."}` sorted
/// into worth retrying or not.
fn read(method: &str, text: &str) -> Result<Value, SendError> {
    let answer: Value = serde_json::from_str(text).map_err(|_| SendError::Retry {
        why: format!("Slack {method} answered something that is not JSON"),
        after: None,
    })?;
    if answer["ok"].as_bool() == Some(true) {
        return Ok(answer);
    }
    let error = answer["error"].as_str().unwrap_or("no error given");
    let why = format!(
        "Slack {method} refused: {}",
        crate::render::Safe(&error.chars().take(100).collect::<String>())
    );
    match error {
        "ratelimited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout" => Err(SendError::Retry { why, after: None }),
        _ => Err(SendError::Refused(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(command: &str, reason: &str) -> RequestView {
        serde_json::from_value(json!({
            "id": "r1", "state": "pending", "command": command,
            "argv": ["echo"], "digest": "d", "origin": {"user": "alice", "host": "web-1", "cwd": "/srv"},
            "reason": reason, "rules": ["ask-marker"], "messages": ["needs *care*"], "risk": "high",
            "quorum": 1, "requester": "ci-bot", "created_at": "t", "expires_at": "t",
            "expires_unix": 1000, "approvals": []
        }))
        .unwrap()
    }

    /// Nothing the agent wrote reaches Slack as markup: no mention, link or formatting.
    #[test]
    fn agent_text_cannot_inject_mentions_links_or_formatting() {
        let evil = "echo <!channel> <@U0ADMIN> <https://evil.example|click> & ``` *bold* _it_";
        let v = view(evil, "<!here> approve me <https://x.example|now>");
        let blocks = blocks(&v, Some("https://gk.example/requests/r1"), 900);
        let mrkdwn: Vec<&str> = blocks
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["text"]["type"] == "mrkdwn")
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(mrkdwn.len(), 1);
        let command = mrkdwn[0];
        for markup in ["<!channel>", "<@U0ADMIN>", "<https://", "& "] {
            assert!(!command.contains(markup), "{command}");
        }
        assert!(
            command.contains("&lt;!channel&gt; &lt;@U0ADMIN&gt;"),
            "{command}"
        );
        // One code block, opened and closed by gatekeep: the agent's backticks are broken.
        assert_eq!(command.matches("```").count(), 2, "{command}");
        assert!(command.ends_with("```") && command.contains("\n```echo"));
        // Every other text object carrying agent text is plain_text.
        let text = blocks.to_string();
        assert!(text.contains("Reason: <!here> approve me"), "{text}");
        for b in blocks.as_array().unwrap() {
            for field in b["fields"].as_array().into_iter().flatten() {
                assert_eq!(field["type"], "plain_text");
            }
        }
        assert!(!super::text(&v).contains("<!channel>"));
    }

    #[test]
    fn pending_has_buttons_and_final_has_the_state_and_none() {
        let mut v = view("touch marker", "why");
        let pending = blocks(&v, None, 900).to_string();
        assert!(pending.contains(APPROVE) && pending.contains(DENY));
        assert!(pending.contains("Time left: 100 s"), "{pending}");
        v.state = crate::api::protocol::State::Denied;
        v.approvals.push(crate::api::verdict::Approval {
            name: "bob".into(),
            decision: "denied".into(),
            at: "2026-01-01T00:00:00Z".into(),
            channel: "slack".into(),
            reason: Some("not now".into()),
            groups: Vec::new(),
        });
        let done = blocks(&v, Some("https://gk.example/requests/r1"), 900).to_string();
        assert!(!done.contains(APPROVE) && !done.contains(DENY), "{done}");
        assert!(done.contains("Denied by bob via slack at 2026-01-01T00:00:00Z: not now"));
        assert!(done.contains("https://gk.example/requests/r1"));
    }
}
