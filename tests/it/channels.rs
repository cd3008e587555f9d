//! Slack, Teams and signed webhooks (src/server/notify/) against local stand-ins that speak
//! the documented HTTP APIs, started by each test on loopback:
//!
//! - a Slack Web API that checks the bot token, records `chat.postMessage`, `chat.update`,
//!   `views.open` and `chat.postEphemeral`, answers `users.info`, and can be made to answer
//!   500 or 429 with `Retry-After` for a while;
//! - a Teams Workflows webhook that records the Adaptive Cards it is sent;
//! - a webhook receiver that checks `X-Gatekeep-Signature` as the README's verifier does.
//!
//! Interactions are sent to the server exactly as Slack sends them: a form-encoded
//! `payload=` signed with the signing secret (v0). Retries are made fast by `[delivery]`.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tempfile::TempDir;

use crate::support::oidc::{Browser, CLIENT_SECRET, Provider, free_port};
use crate::support::service::{Machine, STEP, Server, text};

const BOT_TOKEN: &str = "xoxb-test-bot-token";
const SIGNING_SECRET: &str = "test-signing-secret-0123456789";
const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// `marker*` needs one approval from `sre`; `quorum*` two.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
approvers = ["sre"]
timeout = 60

[[rule]]
id = "ask-quorum"
decision = "approve"
risk = "critical"
message = "Touching a quorum file needs two SREs."
program = ["touch"]
args = ["quorum*"]
quorum = 2
approvers = ["sre"]
local_approval = false
timeout = 60

[[rule]]
id = "ask-expiring"
decision = "approve"
risk = "medium"
message = "Touching an expiring file needs approval within 2 s."
program = ["touch"]
args = ["expiring*"]
approvers = ["sre"]
timeout = 2

[[rule]]
id = "ask-fresh"
decision = "approve"
risk = "critical"
message = "Touching a fresh file needs an approver who signed in within five minutes."
program = ["touch"]
args = ["fresh*"]
approvers = ["sre"]
fresh_auth = 300
timeout = 60
"#;

/// One HTTP request as a stand-in read it.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// The path with its query.
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Call {
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Status, extra headers, body.
pub(crate) type Reply = (u16, Vec<(&'static str, String)>, String);

/// A loopback HTTP/1.1 server answering each request (one per connection) from `handler`
/// and recording it; stops accepting when dropped (`database.rs` uses it too).
pub(crate) struct Standin {
    pub(crate) url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    stop: Arc<AtomicBool>,
}

impl Standin {
    pub(crate) fn start(handler: Arc<dyn Fn(&Call) -> Reply + Send + Sync>) -> Standin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (calls.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (c, handler) = (c.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &c, &*handler);
                });
            }
        });
        Standin { url, calls, stop }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub(crate) fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path() == path)
            .collect()
    }

    /// Waits until `n` calls to `path` arrived; returns them.
    pub(crate) fn wait_for(&self, path: &str, n: usize) -> Vec<Call> {
        let deadline = Instant::now() + STEP;
        loop {
            let calls = self.calls_to(path);
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "{path} was called {} time(s), not {n}: {:?}",
                calls.len(),
                self.calls().iter().map(|c| &c.target).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve(
    stream: TcpStream,
    calls: &Mutex<Vec<Call>>,
    handler: &dyn Fn(&Call) -> Reply,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let call = Call {
        target,
        headers,
        body,
    };
    // Recorded before it is answered, so that a test sees a call the handler holds up.
    calls.lock().unwrap().push(call.clone());
    let (status, extra, reply) = handler(&call);
    let mut stream = stream;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}\r\n{reply}")?;
    stream.flush()
}

/// The Slack Web API stand-in's switches.
#[derive(Default)]
struct SlackSwitches {
    /// Answer this many calls with 500.
    fail: AtomicUsize,
    /// Then this many with 429 and `Retry-After: 1`.
    limit: AtomicUsize,
    posted: AtomicUsize,
    /// Hold every answer for 30 s (a Slack that accepts connections and hangs).
    hang: AtomicBool,
}

fn slack(switches: Arc<SlackSwitches>) -> Standin {
    let emails: HashMap<&str, &str> = [("UCAROL", "carol@example.com")].into();
    Standin::start(Arc::new(move |call: &Call| {
        let ok = |v: Value| (200, Vec::new(), v.to_string());
        if call.headers.get("authorization").map(String::as_str)
            != Some(&format!("Bearer {BOT_TOKEN}"))
        {
            return ok(json!({"ok": false, "error": "invalid_auth"}));
        }
        if switches.hang.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_secs(30));
        }
        let take = |n: &AtomicUsize| {
            n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                .is_ok()
        };
        if take(&switches.fail) {
            return (500, Vec::new(), String::new());
        }
        if take(&switches.limit) {
            return (
                429,
                vec![("retry-after", "1".into())],
                json!({"ok": false, "error": "ratelimited"}).to_string(),
            );
        }
        match call.path() {
            "/api/chat.postMessage" => {
                let n = switches.posted.fetch_add(1, Ordering::SeqCst);
                ok(
                    json!({"ok": true, "channel": call.json()["channel"], "ts": format!("1700000000.{n:06}")}),
                )
            }
            "/api/chat.update" => {
                ok(json!({"ok": true, "channel": call.json()["channel"], "ts": call.json()["ts"]}))
            }
            "/api/views.open" | "/api/chat.postEphemeral" => ok(json!({"ok": true})),
            "/api/users.info" => {
                let user = call.target.split("user=").nth(1).unwrap_or_default();
                match emails.get(user) {
                    Some(email) => {
                        ok(json!({"ok": true, "user": {"id": user, "profile": {"email": email}}}))
                    }
                    None => ok(json!({"ok": false, "error": "user_not_found"})),
                }
            }
            _ => ok(json!({"ok": false, "error": "unknown_method"})),
        }
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

/// A webhook receiver that accepts only a good `X-Gatekeep-Signature` less than five
/// minutes old (the README's verifier).
fn receiver() -> Standin {
    Standin::start(Arc::new(|call: &Call| {
        let good = call.headers.get("x-gatekeep-signature").is_some_and(|sig| {
            let mut parts = sig.split(',');
            let t = parts
                .next()
                .and_then(|p| p.strip_prefix("t="))
                .unwrap_or("");
            let v1 = parts
                .next()
                .and_then(|p| p.strip_prefix("v1="))
                .unwrap_or("");
            let mut message = format!("{t}.").into_bytes();
            message.extend_from_slice(&call.body);
            let fresh = t
                .parse::<u64>()
                .is_ok_and(|t| t.abs_diff(gatekeep::api::verdict::unix_now()) < 300);
            fresh && hmac_hex(WEBHOOK_SECRET, &message) == v1
        });
        if good {
            (200, Vec::new(), String::new())
        } else {
            (401, Vec::new(), String::new())
        }
    }))
}

struct Setup {
    server: Server,
    slack: Standin,
    switches: Arc<SlackSwitches>,
    teams: Standin,
    hook: Standin,
    agent: Machine,
    _config: TempDir,
    /// The identity provider, when the web page's sign-in is on ([`Setup::with_oidc`]).
    _provider: Option<Provider>,
}

impl Setup {
    fn new() -> Setup {
        Setup::start(false)
    }

    /// Also a web page whose approvers sign in at a real OpenID provider (static approver
    /// tokens stay on, for Slack).
    fn with_oidc() -> Setup {
        Setup::start(true)
    }

    fn start(oidc: bool) -> Setup {
        let switches = Arc::new(SlackSwitches::default());
        let slack = slack(switches.clone());
        let teams = Standin::start(Arc::new(|_: &Call| (202, Vec::new(), String::new())));
        let hook = receiver();
        let config = tempfile::tempdir().unwrap();
        let secret = |name: &str, value: &str| {
            let path = config.path().join(name);
            std::fs::write(&path, value).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        };
        secret("bot-token", BOT_TOKEN);
        secret("signing-secret", SIGNING_SECRET);
        secret("webhook-secret", WEBHOOK_SECRET);
        secret(
            "teams-url",
            &format!("{}/workflows/abc?sig=teams-credential", teams.url),
        );
        let port = free_port();
        let provider =
            oidc.then(|| Provider::start(&format!("http://127.0.0.1:{port}/auth/callback")));
        let oidc_section = match &provider {
            Some(provider) => {
                secret("client-secret", CLIENT_SECRET);
                format!(
                    "[oidc]\nissuer = \"{}\"\nclient_id = \"gatekeep\"\nclient_secret_file = \"client-secret\"\nname_claim = \"email\"\ngroups_claim = \"groups\"\n",
                    provider.issuer
                )
            }
            None => String::new(),
        };
        let file = config.path().join("server.toml");
        std::fs::write(
            &file,
            format!(
                r#"[web]
public_url = "http://127.0.0.1:{port}"

{oidc_section}

[slack]
bot_token_file = "bot-token"
signing_secret_file = "signing-secret"
channel = "C0GATE"
api_url = "{}/api"
users = "email"

[[slack.user]]
id = "UBOB"
approver = "bob"

[[slack.user]]
id = "UALICE"
approver = "alice"

[teams]
webhook_url_file = "teams-url"

[[webhook]]
url = "{}/gatekeep"
secret_file = "webhook-secret"

[delivery]
retry_first_ms = 50
retry_max_ms = 300
"#,
                slack.url, hook.url
            ),
        )
        .unwrap();
        let mut server = Server::new(tempfile::tempdir().unwrap());
        server.port = port;
        server.options = vec!["--config".into(), file.display().to_string()];
        server.launch();
        // bob, and carol (known to Slack by email), approve for sre; alice, for whom the
        // agent works, is an approver too.
        for (name, groups) in [
            ("bob", "sre"),
            ("carol@example.com", "sre"),
            ("alice", "sre"),
        ] {
            server.approver_token(name, groups);
        }
        let agent = Machine::with_policy("agent-user", POLICY);
        agent.login(&server, &server.agent_token());
        Setup {
            server,
            slack,
            switches,
            teams,
            hook,
            agent,
            _config: config,
            _provider: provider,
        }
    }

    /// Sends `payload` to `/slack/interactions` as Slack does, signed at `now + skew`; returns
    /// the status and body.
    fn interact_at(&self, payload: &Value, skew: i64) -> (u16, String) {
        let body = format!(
            "payload={}",
            url::form_urlencoded::byte_serialize(payload.to_string().as_bytes())
                .collect::<String>()
        );
        let ts = gatekeep::api::verdict::unix_now()
            .checked_add_signed(skew)
            .unwrap()
            .to_string();
        let sig = format!(
            "v0={}",
            hmac_hex(SIGNING_SECRET, format!("v0:{ts}:{body}").as_bytes())
        );
        self.send(&body, &ts, &sig)
    }

    fn interact(&self, payload: &Value) -> (u16, String) {
        self.interact_at(payload, 0)
    }

    fn send(&self, body: &str, ts: &str, sig: &str) -> (u16, String) {
        let mut answer = ureq::post(format!("{}/slack/interactions", self.server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .config()
            .http_status_as_error(false)
            .build()
            .send(body)
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.body_mut().read_to_string().unwrap())
    }

    /// An approver machine logged in with a new token of `name`.
    fn approver(&self, name: &str) -> Machine {
        let machine = Machine::new(name);
        machine.login(&self.server, &self.server.approver_token(name, "sre"));
        machine
    }

    /// Waits until `n` deliveries are recorded as sent.
    fn wait_sent(&self, n: usize) {
        let deadline = Instant::now() + STEP;
        loop {
            let sent = self
                .events("delivery")
                .iter()
                .filter(|e| e["detail"]["result"] == "sent")
                .count();
            if sent >= n {
                return;
            }
            assert!(Instant::now() < deadline, "{sent} deliveries sent, not {n}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Events of `kind` in the audit trail.
    fn events(&self, kind: &str) -> Vec<Value> {
        self.server
            .audit_events()
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }
}

/// A button click on request `id` by Slack user `user`, as Slack's `block_actions` payload.
fn click(user: &str, action: &str, id: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0GATE"},
        "api_app_id": "A0GATE",
        "token": "deprecated-verification-token",
        "team": {"id": "T0GATE", "domain": "example"},
        "trigger_id": format!("1111.2222.{user}{action}"),
        "container": {"type": "message", "message_ts": "1700000000.000000", "channel_id": "C0GATE", "is_ephemeral": false},
        "channel": {"id": "C0GATE", "name": "approvals"},
        "response_url": "https://hooks.slack.com/actions/T0GATE/1/x",
        "actions": [{"action_id": action, "block_id": "b1", "value": id, "type": "button", "action_ts": "1700000001.000000"}]
    })
}

/// The text of every Slack call to `path` whose JSON mentions `id`.
fn texts(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| c.json().to_string()).collect()
}

#[test]
fn an_approval_in_slack_runs_the_waiting_command_and_every_channel_hears_of_it() {
    let setup = Setup::new();
    let mut client = setup.agent.exec("touch marker");
    let id = client.request_id();

    let posted = setup.slack.wait_for("/api/chat.postMessage", 1);
    let message = posted[0].json();
    assert_eq!(message["channel"], "C0GATE");
    let blocks = message["blocks"].to_string();
    for fact in [
        "touch marker",
        "Requester: ci-bot",
        "On behalf of: alice",
        "Host: ",
        "Directory: ",
        "Risk: high",
        "Rules: ask-marker",
        "Touching a marker needs approval.",
        "Approvals: 0 of 1",
        "Time left: ",
        "gatekeep_approve",
        "gatekeep_deny",
        &format!("/requests/{id}"),
    ] {
        assert!(blocks.contains(fact), "{fact} missing from {blocks}");
    }

    let (status, body) = setup.interact(&click("UBOB", "gatekeep_approve", &id));
    assert_eq!(status, 200, "{body}");
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(setup.agent.file("marker").exists());

    // The message is updated in place: same channel and ts, final state, no buttons.
    let update = setup.slack.wait_for("/api/chat.update", 1)[0].json();
    assert_eq!(update["ts"], "1700000000.000000");
    let blocks = update["blocks"].to_string();
    assert!(blocks.contains("Approved by bob via slack at "), "{blocks}");
    assert!(!blocks.contains("gatekeep_approve"), "{blocks}");

    // The decision went through the service with the channel and the Slack user.
    let approved = setup.events("approved");
    assert_eq!(approved[0]["actor"], "bob");
    assert_eq!(approved[0]["channel"], "slack");
    assert_eq!(approved[0]["detail"]["idp"]["subject"], "UBOB");
    assert_eq!(approved[0]["detail"]["idp"]["issuer"], "slack:T0GATE");

    // Teams: the request's card, then the final one, Adaptive Card 1.4 with a link.
    let cards = setup.teams.wait_for("/workflows/abc", 2);
    let card = &cards[0].json()["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["version"], "1.4");
    assert_eq!(card["content"]["actions"][0]["type"], "Action.OpenUrl");
    assert!(
        card["content"]["actions"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/requests/{id}"))
    );
    assert!(
        cards[1]
            .json()
            .to_string()
            .contains("Approved by bob via slack")
    );

    // The webhook: created, approved, outcome, each signed (the receiver refuses others).
    let hooks = setup.hook.wait_for("/gatekeep", 3);
    let events: Vec<Value> = hooks.iter().map(|c| c.json()["event"].clone()).collect();
    assert_eq!(events, ["created", "approved", "outcome"]);
    assert_eq!(hooks[0].json()["request"]["id"], id.as_str());
    assert!(hooks[0].json()["request"].get("verdict").is_none());
    // Slack (post, update, update for the outcome), Teams (2), the webhook (3).
    setup.wait_sent(3 + 2 + 3);
    let check = setup.server.admin(&["audit", "verify"]);
    assert!(check.status.success(), "{}", text(&check));
    // The credentials never reach the log.
    let log = setup.server.log.text();
    for secret in [
        BOT_TOKEN,
        SIGNING_SECRET,
        WEBHOOK_SECRET,
        "teams-credential",
    ] {
        assert!(!log.contains(secret), "{log}");
    }
}

#[test]
fn a_denial_through_the_modal_carries_its_reason_to_the_agent() {
    let setup = Setup::new();
    let mut client = setup.agent.exec("touch marker");
    let id = client.request_id();
    setup.slack.wait_for("/api/chat.postMessage", 1);

    // Deny opens the modal with the click's trigger id.
    let (status, _) = setup.interact(&click("UCAROL", "gatekeep_deny", &id));
    assert_eq!(status, 200);
    let opened = setup.slack.wait_for("/api/views.open", 1)[0].json();
    assert_eq!(opened["trigger_id"], "1111.2222.UCAROLgatekeep_deny");
    let view = &opened["view"];
    assert_eq!(view["callback_id"], "gatekeep_deny_reason");

    // carol submits it (Slack knows her by email only).
    let submission = json!({
        "type": "view_submission",
        "team": {"id": "T0GATE", "domain": "example"},
        "user": {"id": "UCAROL", "username": "carol", "team_id": "T0GATE"},
        "api_app_id": "A0GATE",
        "trigger_id": "3333.4444.x",
        "view": {
            "id": "V0DENY", "type": "modal", "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": "not during the freeze"}}}}
        }
    });
    let (status, body) = setup.interact(&submission);
    assert_eq!((status, body.as_str()), (200, ""));
    let (code, err) = client.finish();
    assert_eq!(code, Some(77), "{err}");
    assert!(err.contains("not during the freeze"), "{err}");
    assert!(err.contains("carol@example.com (slack)"), "{err}");
    assert!(!setup.agent.file("marker").exists());
    let update = setup.slack.wait_for("/api/chat.update", 1)[0]
        .json()
        .to_string();
    assert!(
        update.contains("Denied by carol@example.com via slack"),
        "{update}"
    );
    assert!(update.contains("not during the freeze"), "{update}");
}

#[test]
fn forged_stale_replayed_and_refused_clicks_change_nothing() {
    let setup = Setup::new();
    // The agent's command text tries Slack markup.
    let mut client = setup
        .agent
        .exec("touch 'marker<!channel> <@U0ADMIN> <mailto:a@evil.example|ok> *now*'");
    let id = client.request_id();
    let posted = setup.slack.wait_for("/api/chat.postMessage", 1)[0].json();
    let all = posted.to_string();
    for markup in ["<!channel>", "<@U0ADMIN>", "<mailto:"] {
        assert!(!all.contains(markup), "{markup} reached Slack: {all}");
    }
    assert!(all.contains("&lt;!channel&gt;"), "{all}");

    let approve = click("UBOB", "gatekeep_approve", &id);
    // A bad signature, a stale one and none at all: 401.
    let body = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(approve.to_string().as_bytes()).collect::<String>()
    );
    let now = gatekeep::api::verdict::unix_now().to_string();
    let (status, _) = setup.send(&body, &now, &format!("v0={}", "00".repeat(32)));
    assert_eq!(status, 401);
    assert_eq!(setup.interact_at(&approve, -400).0, 401);
    assert_eq!(setup.interact_at(&approve, 400).0, 401);
    assert_eq!(setup.send(&body, &now, "").0, 401);

    // Slack users who may not approve are told why, only them, and nothing changes: one not
    // mapped, and alice, for whom the agent works.
    assert_eq!(
        setup.interact(&click("UEVE", "gatekeep_approve", &id)).0,
        200
    );
    assert_eq!(
        setup.interact(&click("UALICE", "gatekeep_approve", &id)).0,
        200
    );
    let told = texts(&setup.slack.wait_for("/api/chat.postEphemeral", 2));
    assert!(
        told.iter()
            .any(|t| t.contains("\"user\":\"UEVE\"")
                && t.contains("not mapped to a gatekeep approver")),
        "{told:?}"
    );
    assert!(
        told.iter()
            .any(|t| t.contains("\"user\":\"UALICE\"") && t.contains("their own")),
        "{told:?}"
    );
    assert!(client.is_running());
    let refused = setup.events("refused");
    assert!(
        refused.iter().any(|e| e["actor"] == "slack:UEVE"),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|e| e["actor"] == "alice" && e["channel"] == "slack"),
        "{refused:?}"
    );

    // A good click works once; the same request again is a replay.
    let body = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(approve.to_string().as_bytes()).collect::<String>()
    );
    let ts = gatekeep::api::verdict::unix_now().to_string();
    let sig = format!(
        "v0={}",
        hmac_hex(SIGNING_SECRET, format!("v0:{ts}:{body}").as_bytes())
    );
    assert_eq!(setup.send(&body, &ts, &sig).0, 200);
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setup.send(&body, &ts, &sig).0, 401);
    assert_eq!(setup.events("approved").len(), 1);
}

#[test]
fn slack_down_for_a_while_gets_each_message_once_in_order_and_delays_no_decision() {
    let setup = Setup::new();
    // Slack answers 500 five times, then 429 with Retry-After: 1, then recovers.
    setup.switches.fail.store(5, Ordering::SeqCst);
    setup.switches.limit.store(1, Ordering::SeqCst);
    let mut client = setup.agent.exec("touch marker");
    let id = client.request_id();
    // The webhook is not held up by Slack, and neither is a decision on the CLI.
    setup.hook.wait_for("/gatekeep", 1);
    let bob = setup.approver("dave");
    let started = Instant::now();
    let out = bob.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Slack, once back: one post, then its update, in that order.
    setup.slack.wait_for("/api/chat.update", 1);
    let methods: Vec<String> = setup
        .slack
        .calls()
        .iter()
        .map(|c| c.path().to_owned())
        .collect();
    let posts = setup.slack.calls_to("/api/chat.postMessage");
    assert_eq!(posts.len(), 5 + 1 + 1, "{methods:?}");
    assert_eq!(
        setup.switches.posted.load(Ordering::SeqCst),
        1,
        "{methods:?}"
    );
    let last_post = methods
        .iter()
        .rposition(|m| m == "/api/chat.postMessage")
        .unwrap();
    let first_update = methods
        .iter()
        .position(|m| m == "/api/chat.update")
        .unwrap();
    assert!(last_post < first_update, "{methods:?}");

    // Every attempt is in the chain; the 429's Retry-After was honoured.
    let slack: Vec<Value> = setup
        .events("delivery")
        .into_iter()
        .filter(|e| e["detail"]["channel"] == "slack")
        .collect();
    let results: Vec<&str> = slack
        .iter()
        .map(|e| e["detail"]["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        &results[..7],
        ["retry", "retry", "retry", "retry", "retry", "retry", "sent"]
    );
    assert!(
        slack[5]["detail"]["retry_in_ms"].as_u64().unwrap() >= 1000,
        "{:?}",
        slack[5]
    );
    assert!(
        slack[5]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("429")
    );

    // The report counts them per channel: the post and its update sent (the outcome's
    // update perhaps too), six attempts retried.
    let out = setup.server.admin(&["report"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    let row = report
        .lines()
        .find(|l| l.starts_with("| `slack` |"))
        .unwrap_or_else(|| panic!("no slack row in:\n{report}"));
    assert!(
        row.starts_with("| `slack` | 2 | 6 | 0 |") || row.starts_with("| `slack` | 3 | 6 | 0 |"),
        "{row}"
    );
}

/// A rule with `fresh_auth` (step-up) cannot be approved from Slack, which proves no recent
/// sign-in: the clicker is told so, alone, with the web page's link, and nothing changes.
#[test]
fn a_step_up_rule_sends_the_slack_approver_to_the_web_page() {
    let setup = Setup::new();
    let mut client = setup.agent.exec("touch fresh-file");
    let id = client.request_id();
    setup.slack.wait_for("/api/chat.postMessage", 1);
    assert_eq!(
        setup.interact(&click("UBOB", "gatekeep_approve", &id)).0,
        200
    );
    let told = texts(&setup.slack.wait_for("/api/chat.postEphemeral", 1));
    assert!(
        told.iter().any(|t| t.contains("\"user\":\"UBOB\"")
            && t.contains("within the last 300 s")
            && t.contains(&format!("/requests/{id}"))),
        "{told:?}"
    );
    assert!(client.is_running());
    assert!(setup.events("approved").is_empty());
    assert!(
        setup
            .events("refused")
            .iter()
            .any(|e| e["actor"] == "bob" && e["channel"] == "slack"),
        "{:?}",
        setup.events("refused")
    );
}

#[test]
fn a_quorum_of_two_completes_with_one_approval_in_slack_and_one_on_the_cli() {
    let setup = Setup::new();
    let mut client = setup.agent.exec("touch quorum-file");
    let id = client.request_id();
    setup.slack.wait_for("/api/chat.postMessage", 1);
    assert_eq!(
        setup.interact(&click("UBOB", "gatekeep_approve", &id)).0,
        200
    );
    // The message shows the first approval, still with its buttons.
    let update = setup.slack.wait_for("/api/chat.update", 1)[0]
        .json()
        .to_string();
    assert!(
        update.contains("Approvals: 1 of 2 (bob via slack)"),
        "{update}"
    );
    assert!(update.contains("gatekeep_approve"), "{update}");
    assert!(client.is_running());
    let erin = setup.approver("erin");
    let out = erin.run(&["approve", &id]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(setup.agent.file("quorum-file").exists());
    let done = setup.slack.wait_for("/api/chat.update", 2)[1]
        .json()
        .to_string();
    assert!(done.contains("Approved by bob via slack"), "{done}");
    assert!(done.contains("erin via "), "{done}");
    assert!(!done.contains("gatekeep_approve"), "{done}");
}

#[test]
fn a_quorum_of_two_completes_with_one_approval_in_slack_and_one_on_the_web_page() {
    let setup = Setup::with_oidc();
    let mut client = setup.agent.exec("touch quorum-web");
    let id = client.request_id();
    setup.slack.wait_for("/api/chat.postMessage", 1);
    assert_eq!(
        setup.interact(&click("UBOB", "gatekeep_approve", &id)).0,
        200
    );
    let first = setup.slack.wait_for("/api/chat.update", 1)[0]
        .json()
        .to_string();
    assert!(
        first.contains("Approvals: 1 of 2 (bob via slack)"),
        "{first}"
    );
    assert!(client.is_running());

    // erin (sre at the provider) signs in on the web page and approves there.
    let public = format!("http://127.0.0.1:{}", setup.server.port);
    let mut browser = Browser::default();
    let callback = browser.sign_in_until_callback(&public, "erin");
    assert_eq!(browser.get(&callback).status, 200);
    let detail = browser.get(&format!("{public}/requests/{id}"));
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.body.contains(">1 of 2<"), "{}", detail.body);
    let marker = r#"name="csrf" value=""#;
    let at = detail.body.find(marker).unwrap() + marker.len();
    let csrf = detail.body[at..].split('"').next().unwrap().to_owned();
    let answer = browser.post_form(
        &format!("{public}/requests/{id}/approve"),
        &[("csrf".into(), csrf)],
    );
    assert!(answer.status < 400, "{}: {}", answer.status, answer.body);

    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(setup.agent.file("quorum-web").exists());
    let done = setup.slack.wait_for("/api/chat.update", 2)[1]
        .json()
        .to_string();
    assert!(done.contains("Approved by bob via slack"), "{done}");
    assert!(done.contains("erin@example.com via web"), "{done}");
    assert!(!done.contains("gatekeep_approve"), "{done}");
    let approved = setup.events("approved");
    let channels: Vec<&Value> = approved.iter().map(|e| &e["channel"]).collect();
    assert_eq!(channels, [&json!("slack"), &json!("web")], "{approved:?}");
    // The web approval carries erin's sign-in at the provider.
    assert_eq!(approved[1]["detail"]["idp"]["subject"], "erin");
}

#[test]
fn an_expired_request_is_shown_expired_in_slack_and_teams() {
    let setup = Setup::new();
    let mut client = setup.agent.exec("touch expiring-file");
    client.request_id();
    setup.slack.wait_for("/api/chat.postMessage", 1);
    let (code, err) = client.finish();
    assert_ne!(code, Some(0), "{err}");
    let update = setup.slack.wait_for("/api/chat.update", 1)[0]
        .json()
        .to_string();
    assert!(update.contains("Expired at "), "{update}");
    assert!(!update.contains("gatekeep_approve"), "{update}");
    let cards = setup.teams.wait_for("/workflows/abc", 2);
    assert!(cards[1].json().to_string().contains("Expired at "));
}

#[test]
fn a_hanging_slack_holds_the_shutdown_for_one_call_timeout_at_most() {
    let mut setup = Setup::new();
    setup.switches.hang.store(true, Ordering::SeqCst);
    let mut client = setup.agent.exec("touch marker");
    client.request_id();
    setup.slack.wait_for("/api/chat.postMessage", 1);
    let started = Instant::now();
    setup.server.stop();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the server took {took:?} to stop"
    );
    // The notice is still in the outbox: on the next start it goes out.
    setup.switches.hang.store(false, Ordering::SeqCst);
    setup.server.launch();
    setup.slack.wait_for("/api/chat.postMessage", 2);
    assert_eq!(setup.switches.posted.load(Ordering::SeqCst), 1);
}
