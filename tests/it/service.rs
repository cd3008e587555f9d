//! The approval service end to end, with the real binary on every side: `gatekeep server` on
//! `127.0.0.1:0` with its own data directory, an "agent machine" (isolated HOME and XDG
//! directories, a requester token, no controlling terminal) running `gatekeep exec`, and one
//! "approver machine" per person with an approver token.
//!
//! Besides the happy path (approve, deny, expiry, cancel, quorum) it attacks the client: a
//! fake service written here answers the client's real request with forged, replayed,
//! altered, expired or misdirected verdicts, and the command must never run. Faults: the
//! server killed while a client waits, and no server at all.
//!
//! Every gatekeep invocation sets `GATEKEEP_KEYRING=off`, so tokens go to a 0600 file in the
//! isolated config directory rather than into the keyring of whoever runs the tests.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on setup errors"
)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer, SigningKey};
use gatekeep::api::protocol::{CreateRequest, RequestView, RunReport as RunOutcome, State};
use gatekeep::api::verdict::{self, Approval, Claims, FinalState, Jwk, JwkSet};
use gatekeep::approval::remote::{Client, RemoteError};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support;
use crate::support::fake::{self, Call, FakeHttp};
use crate::support::service::{GK, Machine, Pipe, STEP, Server, Waiting, text};

/// The agent machine's user policy: touching a file whose name starts with `marker` needs
/// one approval; `quorum*` needs two from group `sre` and never the terminal; `expiring*`
/// expires after 2 s.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
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
timeout = 2
"#;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

impl Server {
    /// The real signing key, read from the data directory.
    fn signing_key(&self) -> SigningKey {
        let seed = std::fs::read_to_string(self.data().join("signing-key")).unwrap();
        let seed: [u8; 32] = B64.decode(seed.trim()).unwrap().try_into().unwrap();
        SigningKey::from_bytes(&seed)
    }

    /// `gatekeep server audit verify` must pass.
    fn assert_audit_ok(&self) {
        let out = self.admin(&["audit", "verify"]);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok:"),
            "audit verify: {}\nserver log:\n{}",
            text(&out),
            self.log.text()
        );
    }
}

/// Agent machines carry [`POLICY`].
impl Machine {
    /// The agent's machine: unix user `agent-user`, with the test policy.
    fn agent() -> Machine {
        Machine::with_policy("agent-user", POLICY)
    }

    /// An agent machine logged in to `server` with the `ci-bot` token.
    fn agent_of(server: &Server) -> Machine {
        let m = Machine::agent();
        m.login(server, &server.agent_token());
        m
    }

    /// An approver's machine logged in to `server` as `name`.
    fn approver_of(server: &Server, name: &str, groups: &str) -> Machine {
        let m = Machine::new(name);
        m.login(server, &server.approver_token(name, groups));
        m
    }

    /// [`Machine::exec`], with the OS keyring looked up first (the default outside tests).
    /// The machine has no session bus, so the token still comes from the file, but the
    /// lookup has started the Secret Service client's threads.
    fn exec_with_keyring(&self, script: &str, keyring: bool) -> Waiting {
        self.exec_in(script, |cmd| {
            if keyring {
                cmd.env_remove("GATEKEEP_KEYRING");
            }
        })
    }

    /// `gatekeep hook AGENT FLAGS...` for the Bash command `command`, in a new session (no
    /// terminal: nobody can answer a dialog), its answer collected from stdout.
    fn hook(&self, agent: &str, flags: &[&str], command: &str) -> (Waiting, Pipe) {
        let mut cmd = Command::new("setsid");
        self.isolate(&mut cmd);
        let mut child = cmd
            .args(["-w", GK, "hook", agent])
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = json!({
            "session_id": "s1",
            "cwd": self.dir(),
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": command},
        });
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{input}").unwrap();
        drop(stdin);
        let stdout = Pipe::collect(child.stdout.take().unwrap());
        let stderr = Pipe::collect(child.stderr.take().unwrap());
        (Waiting { child, stderr }, stdout)
    }

    fn approve(&self, id: &str) -> Output {
        self.run(&["approve", id])
    }

    fn deny(&self, id: &str, reason: &str) -> Output {
        self.run(&["deny", id, "--reason", reason])
    }
}

/// The request id a refusal message names (`  request:    ID (recorded in ...)`).
fn refused_id(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("request:"))
        .unwrap_or_else(|| panic!("no request line in:\n{stderr}"));
    line.split_whitespace().next().unwrap().to_owned()
}

/// A request left pending on the real service by a waiting `gatekeep exec` on an agent
/// machine: the common start of the authorisation tests.
struct Pending {
    server: Server,
    agent: Machine,
    bob: Machine,
    agent_token: String,
    client: Waiting,
    id: String,
}

impl Pending {
    fn new() -> Pending {
        let server = Server::start();
        let agent = Machine::agent();
        let agent_token = server.agent_token();
        agent.login(&server, &agent_token);
        let bob = Machine::approver_of(&server, "bob", "sre");
        let mut client = agent.exec("touch marker");
        let id = client.request_id();
        Pending {
            server,
            agent,
            bob,
            agent_token,
            client,
            id,
        }
    }

    /// The request is still pending on the server and the command has not run.
    fn assert_still_pending(&mut self) {
        let view = self.bob.show(&self.id);
        assert_eq!(view.state, State::Pending, "{view:?}");
        assert!(view.approvals.is_empty(), "{view:?}");
        assert!(self.client.is_running(), "{}", self.client.stderr());
        assert!(!self.agent.file("marker").exists());
    }
}

// ---------------------------------------------------------------------------------------
// The happy paths
// ---------------------------------------------------------------------------------------

#[test]
fn approved_command_runs_and_its_status_is_passed_through_and_audited() {
    let server = Server::start();
    let agent = Machine::agent();
    let agent_token = server.agent_token();
    agent.login(&server, &agent_token);
    let bob = Machine::approver_of(&server, "bob", "sre");

    // The token went to a private file (no keyring here), not into the config.
    let credentials = agent.config_dir().join("credentials.toml");
    let mode = std::fs::metadata(&credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", credentials.display());
    assert!(
        std::fs::read_to_string(&credentials)
            .unwrap()
            .contains(&agent_token)
    );
    let config = std::fs::read_to_string(agent.config_dir().join("config.toml")).unwrap();
    assert!(
        config.contains(&server.url) && !config.contains(&agent_token),
        "{config}"
    );

    let mut client = agent.exec("touch marker && exit 7");
    let id = client.request_id();
    assert!(client.stderr().contains(&server.url), "{}", client.stderr());

    // The approver sees what waits, with who asked and for whom.
    let out = bob.run(&["pending", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let pending: Vec<RequestView> = serde_json::from_slice(&out.stdout).unwrap();
    let [request] = &pending[..] else {
        panic!("one pending request expected: {pending:?}")
    };
    assert_eq!(
        (
            request.id.as_str(),
            request.requester.as_str(),
            request.on_behalf_of.as_deref(),
            request.ask.origin.user.as_str(),
            request.ask.rules.clone(),
        ),
        (
            id.as_str(),
            "ci-bot",
            Some("alice"),
            "agent-user",
            vec!["ask-marker".to_owned()]
        )
    );
    assert!(
        !agent.file("marker").exists(),
        "nothing runs before approval"
    );

    let out = bob.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is now approved"),
        "{}",
        text(&out)
    );

    let (code, err) = client.finish();
    assert_eq!(code, Some(7), "{err}");
    assert!(agent.file("marker").exists());
    // The agent is told who let it run.
    assert!(err.contains("approved by bob (cli); running"), "{err}");

    let decision = agent.decision(&id);
    assert_eq!(
        (&decision["decision"], &decision["channel"]),
        (&json!("approve"), &json!("service")),
        "{decision}"
    );
    assert_eq!(decision["approvers"][0]["name"], "bob", "{decision}");
    assert!(
        decision["verdict"].as_str().is_some_and(|v| !v.is_empty()),
        "{decision}"
    );
    assert!(
        agent
            .ledger(&id)
            .iter()
            .any(|r| r["event"] == "outcome" && r["exit_code"] == 7),
        "{:?}",
        agent.ledger(&id)
    );

    // The server recorded the approval and the outcome (a second report is refused as
    // already recorded), and its chain is intact.
    let view = bob.show(&id);
    assert_eq!(view.state, State::Approved);
    assert_eq!(view.approvals[0].name, "bob");
    assert_eq!(view.approvals[0].channel, "cli");
    assert_eq!(view.ask.messages, ["Touching a marker needs approval."]);
    assert_eq!(view.outcome.as_ref().map(|o| o.exit_code), Some(7));
    // `show` as a person reads it: why the policy held it, and how it ended.
    let out = bob.run(&["show", &id]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("why       Touching a marker needs approval. [ask-marker]")
            && shown.contains("outcome   exited 7 after"),
        "{shown}"
    );
    let again = RunOutcome {
        exit_code: 0,
        duration_ms: 1,
        signal: None,
    };
    match Client::new(&server.url, Some(agent_token)).outcome(&id, &again) {
        Err(RemoteError::Refused {
            status: 409,
            message,
        }) => {
            assert!(message.contains("already recorded"), "{message}");
        }
        other => panic!("a second outcome report: {other:?}"),
    }
    server.assert_audit_ok();
    let events = server.audit_events();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["request_id"] == id.as_str())
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["created", "notified", "approved", "outcome"],
        "{events:?}"
    );
    let outcome = events.iter().find(|e| e["kind"] == "outcome").unwrap();
    assert_eq!(outcome["detail"]["exit_code"], 7, "{outcome}");
    // The approval that completed the request carries the signed verdict itself, so the
    // trail holds evidence that verifies with the service's key alone.
    let approved = events.iter().find(|e| e["kind"] == "approved").unwrap();
    let jws = approved["detail"]["verdict"].as_str().unwrap();
    let claims = verdict::verify(jws, &server.signing_key().verifying_key()).unwrap();
    assert_eq!(
        (claims.rid.as_str(), claims.decision),
        (id.as_str(), verdict::FinalState::Approved)
    );
}

#[test]
fn denial_reaches_the_agent_with_its_reason() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let mut client = agent.exec("touch marker && exit 7");
    let id = client.request_id();

    // A denial without a reason is refused: the agent needs to read why.
    let bob_token = server.approver_token("bob-api", "");
    match Client::new(&server.url, Some(bob_token)).decide(&id, false, None) {
        Err(RemoteError::Refused { status: 422, .. }) => {}
        other => panic!("a denial without a reason: {other:?}"),
    }

    let out = bob.deny(&id, "use the staging marker instead");
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(77), "{err}");
    assert!(!agent.file("marker").exists());
    assert!(
        err.contains("gatekeep: denied:")
            && err.contains("reason:     use the staging marker instead")
            && err.contains("bob (cli)"),
        "{err}"
    );
    let decision = agent.decision(&id);
    assert_eq!(decision["decision"], "deny", "{decision}");
    assert_eq!(
        decision["denial_reason"], "use the staging marker instead",
        "{decision}"
    );
    assert_eq!(bob.show(&id).state, State::Denied);
    server.assert_audit_ok();
}

#[test]
fn unanswered_request_expires() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let started = Instant::now();
    let mut client = agent.exec("touch expiring-file");
    let id = client.request_id();
    let (code, err) = client.finish();
    assert_eq!(code, Some(75), "{err}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the rule's 2 s timeout applies"
    );
    assert!(err.contains("gatekeep: expired:"), "{err}");
    assert!(!agent.file("expiring-file").exists());
    assert_eq!(agent.decision(&id)["decision"], "expired");
    assert_eq!(bob.show(&id).state, State::Expired);
    // Too late to approve.
    let out = bob.approve(&id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already expired"),
        "{}",
        text(&out)
    );
}

#[test]
fn sigint_cancels_the_request_on_the_server() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let mut client = agent.exec("touch marker");
    let id = client.request_id();
    client.signal(nix::sys::signal::Signal::SIGINT);
    let (code, err) = client.finish();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("cancelled while waiting"), "{err}");
    assert!(!agent.file("marker").exists());

    let decision = agent.decision(&id);
    assert_eq!(
        (&decision["decision"], &decision["server_cancelled"]),
        (&json!("cancelled"), &json!(true)),
        "{decision}"
    );
    assert_eq!(bob.show(&id).state, State::Cancelled);
    // A cancelled request cannot be approved afterwards.
    let out = bob.approve(&id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already cancelled"),
        "{}",
        text(&out)
    );
    assert!(!agent.file("marker").exists());
}

/// The keyring lookup starts threads (zbus's reactor, a blocking pool) before the wait. A
/// signal the kernel delivers to one of them must still cancel the request, not kill the
/// process by default action while the request stays approvable on the server.
#[test]
fn signals_cancel_the_request_when_the_keyring_was_used() {
    use nix::sys::signal::Signal;
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let mut client = agent.exec_with_keyring("touch marker", true);
        let id = client.request_id();
        client.signal(signal);
        let (code, err) = client.finish();
        assert_eq!(code, Some(128 + signal as i32), "{signal}: {err}");
        assert!(err.contains("cancelled while waiting"), "{signal}: {err}");
        assert_eq!(bob.show(&id).state, State::Cancelled, "{signal}");
        assert_eq!(
            agent.decision(&id)["server_cancelled"],
            json!(true),
            "{signal}"
        );
    }
    assert!(!agent.file("marker").exists());
}

/// The answer a hook printed: its decision and reason (`{}` is Codex's "go ahead").
fn hook_answer(stdout: &Pipe) -> (String, String) {
    let answer: Value = serde_json::from_str(stdout.rest().trim()).unwrap();
    let field = |name: &str| {
        answer
            .pointer(&format!("/hookSpecificOutput/{name}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if answer == json!({}) {
        return ("allow".into(), String::new());
    }
    (
        field("permissionDecision"),
        field("permissionDecisionReason"),
    )
}

/// An agent nobody watches (Claude Code with `-p` in CI, Codex, which has no dialog) cannot
/// have a person answer its permission dialog: its hook waits for the approval service like
/// `exec` does, and answers `allow` only on a verdict verified for exactly that command.
#[test]
fn unattended_agent_hooks_wait_for_the_service() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");

    // Claude Code marked unattended: approved through the service, so allowed.
    let (mut hook, stdout) = agent.hook("claude-code", &["--unattended"], "touch marker-a");
    let id = hook.request_id();
    let view = bob.show(&id);
    // The approver reads the command string the agent will run, as bash reads it.
    assert_eq!(view.command, "touch marker-a", "{view:?}");
    assert!(bob.approve(&id).status.success());
    let (code, err) = hook.finish();
    assert_eq!(code, Some(0), "{err}");
    let (decision, reason) = hook_answer(&stdout);
    assert_eq!(decision, "allow", "{reason}");
    assert!(
        reason.contains("approved by bob (cli)") && reason.contains(&id),
        "{reason}"
    );
    // The hook answers; the agent runs the command itself.
    assert!(!agent.file("marker-a").exists());
    let decided = agent.decision(&id);
    assert_eq!(
        (&decided["decision"], &decided["channel"]),
        (&json!("approve"), &json!("service")),
        "{decided}"
    );

    // Codex (no dialog at all): denied by a person, with the reason.
    let (mut hook, stdout) = agent.hook("codex", &[], "touch marker-b");
    let id = hook.request_id();
    assert!(bob.deny(&id, "not on a Friday").status.success());
    let (code, err) = hook.finish();
    assert_eq!(code, Some(0), "{err}");
    let (decision, reason) = hook_answer(&stdout);
    assert_eq!(decision, "deny");
    assert!(
        reason.contains("not on a Friday") && reason.contains("decided by: bob (cli)"),
        "{reason}"
    );

    // Claude Code without a terminal: nobody at its dialog either. Unanswered: expired.
    let (hook, stdout) = agent.hook("claude-code", &[], "touch expiring-c");
    let (code, err) = hook.finish();
    assert_eq!(code, Some(0), "{err}");
    let (decision, reason) = hook_answer(&stdout);
    assert_eq!(decision, "deny");
    assert!(
        reason.contains("gatekeep: expired:") && reason.contains("next step:"),
        "{reason}"
    );
}

/// A real Secret Service (gnome-keyring on a private session bus) that the agent's token is
/// stored in: the lookup before the wait talks to it for real, with all its threads.
struct SecretService {
    session: Child,
    bus: String,
    runtime: TempDir,
}

impl SecretService {
    fn start(m: &Machine) -> SecretService {
        let runtime = tempfile::tempdir().unwrap();
        let ready = runtime.path().join("ready");
        // gnome-keyring-daemon reads the login keyring's password on stdin and forks; it
        // owns org.freedesktop.secrets a moment later. The session stays up until killed.
        let script = r#"printf '%s' gatekeep-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97
tries=0
until pid=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
    string:org.freedesktop.secrets 2>/dev/null | awk '{print $2}') && [ -n "$pid" ]; do
  tries=$((tries + 1)); [ "$tries" -lt 200 ] || exit 98; sleep 0.05
done
trap 'kill "$pid" 2>/dev/null' EXIT
printf '%s' "$DBUS_SESSION_BUS_ADDRESS" > "$1.tmp" && mv "$1.tmp" "$1"
while :; do sleep 1; done"#;
        let mut cmd = Command::new("dbus-run-session");
        m.isolate(&mut cmd);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let session = cmd
            .env("XDG_RUNTIME_DIR", runtime.path())
            .args(["--", "sh", "-c", script, "sh"])
            .arg(&ready)
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-run-session (apt-get install dbus-daemon gnome-keyring; .ci/run does)");
        let mut service = SecretService {
            session,
            bus: String::new(),
            runtime,
        };
        let deadline = Instant::now() + STEP;
        while !ready.exists() {
            if let Some(status) = service.session.try_wait().unwrap() {
                panic!("the Secret Service did not start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the Secret Service did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        service.bus = std::fs::read_to_string(&ready).unwrap();
        service
    }

    /// Points `cmd` at this Secret Service, with the keyring in use.
    fn attach(&self, cmd: &mut Command) {
        cmd.env_remove("GATEKEEP_KEYRING")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("XDG_RUNTIME_DIR", self.runtime.path());
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // The whole group: the session's shell (whose trap stops the daemon) and the bus.
        let group = nix::unistd::Pid::from_raw(-(self.session.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        let _ = self.session.wait();
    }
}

/// The same with the token really in gnome-keyring, as on a desktop.
#[test]
fn signals_cancel_the_request_with_the_token_in_a_real_keyring() {
    use nix::sys::signal::Signal;
    let server = Server::start();
    let agent = Machine::agent();
    let keyring = SecretService::start(&agent);
    let mut login = agent.gk();
    keyring.attach(&mut login);
    let mut child = login
        .args([
            "login",
            "--server",
            &server.url,
            &format!("--key={}", server.key_id),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", server.agent_token()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && text(&out).contains("token stored in the OS keyring"),
        "{}",
        text(&out)
    );
    assert!(!agent.config_dir().join("credentials.toml").exists());
    let bob = Machine::approver_of(&server, "bob", "sre");
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let mut client = agent.exec_in("touch marker", |cmd| keyring.attach(cmd));
        let id = client.request_id();
        client.signal(signal);
        let (code, err) = client.finish();
        assert_eq!(code, Some(128 + signal as i32), "{signal}: {err}");
        assert!(err.contains("cancelled while waiting"), "{signal}: {err}");
        assert_eq!(bob.show(&id).state, State::Cancelled, "{signal}");
    }
    assert!(!agent.file("marker").exists());
}

#[test]
fn quorum_needs_two_distinct_approvers_from_the_group() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let carol = Machine::approver_of(&server, "carol", "dba,sre");
    let dave = Machine::approver_of(&server, "dave", "dev");
    let mut client = agent.exec("touch quorum-file && exit 3");
    let id = client.request_id();
    let view = bob.show(&id);
    assert_eq!(
        (view.ask.quorum, view.ask.groups),
        (2, vec!["sre".to_owned()])
    );

    // Outside the group: refused, and it does not count.
    let out = dave.approve(&id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not in any group"),
        "{}",
        text(&out)
    );

    let out = bob.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 of 2 approvals"),
        "{}",
        text(&out)
    );
    let view = bob.show(&id);
    assert_eq!((view.state, view.approvals.len()), (State::Pending, 1));
    // Give a wrongly woken client time to act; it must still be waiting.
    std::thread::sleep(Duration::from_millis(300));
    assert!(client.is_running(), "{}", client.stderr());
    assert!(!agent.file("quorum-file").exists());

    // The same person twice is not two approvers.
    let out = bob.approve(&id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already approved"),
        "{}",
        text(&out)
    );
    assert_eq!(bob.show(&id).approvals.len(), 1);
    assert!(client.is_running());

    let out = carol.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(3), "{err}");
    assert!(agent.file("quorum-file").exists());
    let decision = agent.decision(&id);
    let approvers: Vec<&str> = decision["approvers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(approvers, ["bob", "carol"], "{decision}");
    server.assert_audit_ok();
}

// ---------------------------------------------------------------------------------------
// Who may decide
// ---------------------------------------------------------------------------------------

#[test]
fn a_requester_token_cannot_approve() {
    let mut p = Pending::new();
    // The agent machine holds no approver token: the CLI says so.
    let out = p.agent.approve(&p.id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("as approver"),
        "{}",
        text(&out)
    );
    // Calling the API with the requester token is forbidden.
    match Client::new(&p.server.url, Some(p.agent_token.clone())).decide(&p.id, true, None) {
        Err(RemoteError::Refused {
            status: 403,
            message,
        }) => {
            assert!(
                message.contains("requester token cannot approve"),
                "{message}"
            );
        }
        other => panic!("a requester approving: {other:?}"),
    }
    p.assert_still_pending();
}

#[test]
fn nobody_approves_their_own_request() {
    let mut p = Pending::new();
    // alice is the person ci-bot works for; agent-user is the unix user it runs as.
    for name in ["alice", "agent-user"] {
        let me = Machine::approver_of(&p.server, name, "sre");
        let out = me.approve(&p.id);
        assert!(!out.status.success(), "{name}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("it is their own") && err.contains("HTTP 403"),
            "{name}: {err}"
        );
        // Nor can they deny it (and so decide it either way).
        let out = me.deny(&p.id, "mine");
        assert!(!out.status.success(), "{name}: {}", text(&out));
    }
    p.assert_still_pending();
    // Someone else can.
    let out = p.bob.approve(&p.id);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = p.client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(p.agent.file("marker").exists());
}

/// Two layers ask for different approver groups for one command (the user's `sre`, the
/// project's `devs`): each must be met. A `devs` approval alone used to complete it, since
/// the groups were joined into one "any of" list, so a tighten-only layer widened who may
/// approve.
#[test]
fn approver_groups_of_several_rules_must_each_be_met_and_their_messages_are_masked() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let user_policy = agent.config_dir().join("policy.toml");
    let mut policy = std::fs::read_to_string(&user_policy).unwrap();
    policy.push_str(
        r#"
[[rule]]
id = "ask-sre"
decision = "approve"
risk = "high"
message = "Touching a release file needs an SRE."
program = ["touch"]
args = ["release*"]
approvers = ["sre"]
"#,
    );
    std::fs::write(&user_policy, policy).unwrap();
    std::fs::write(
        agent.dir().join(".gatekeep.toml"),
        r#"
[[rule]]
id = "ask-devs"
decision = "approve"
risk = "high"
message = "Touching a release file needs a developer too (they hold DEPLOY_TOKEN=hunter2-s3cret)."
program = ["touch"]
args = ["release*"]
approvers = ["devs"]
"#,
    )
    .unwrap();
    let dave = Machine::approver_of(&server, "dave", "devs");
    let bob = Machine::approver_of(&server, "bob", "sre");
    let mut client = agent.exec("touch release-1");
    let id = client.request_id();
    let view = dave.show(&id);
    assert_eq!(
        view.ask.group_sets,
        vec![vec!["sre".to_owned()], vec!["devs".to_owned()]],
        "{view:?}"
    );
    // A project's policy is text the agent may have written: a secret in a rule's message
    // is masked before it is sent, so the service never stores or shows it.
    assert_eq!(
        view.ask.messages[1],
        "Touching a release file needs a developer too (they hold DEPLOY_TOKEN=****).",
        "{view:?}"
    );
    let trail = serde_json::to_string(&server.audit_events()).unwrap();
    assert!(
        trail.contains("DEPLOY_TOKEN=****") && !trail.contains("hunter2"),
        "{trail}"
    );

    let out = dave.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(dave.show(&id).state, State::Pending);
    assert!(client.is_running(), "{}", client.stderr());
    assert!(!agent.file("release-1").exists());

    // Another developer adds nothing: the sre set is still unmet.
    let erin = Machine::approver_of(&server, "erin", "devs");
    let out = erin.approve(&id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs one of: sre"),
        "{}",
        text(&out)
    );

    assert!(bob.approve(&id).status.success());
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(agent.file("release-1").exists());
    server.assert_audit_ok();
}

/// The database, its WAL and shared-memory files are the server user's only, also when an
/// older version left them readable.
#[test]
fn database_files_are_private() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("gatekeep.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    // SQLite's files, whatever backend the suite runs on.
    let mut server = Server::new(data);
    server.database = None;
    server.launch();
    let agent = Machine::agent_of(&server);
    let mut client = agent.exec("touch marker");
    client.request_id();
    for name in ["gatekeep.db", "gatekeep.db-wal", "gatekeep.db-shm"] {
        let meta = std::fs::metadata(server.data.path().join(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
    }
}

/// A create as a client would send it, for calling the API directly.
fn create_request(id: &str, argv: Vec<String>, reason: Option<String>) -> CreateRequest {
    CreateRequest {
        id: id.to_owned(),
        nonce: format!("nonce-{id}-0123456789"),
        ask: gatekeep::api::protocol::Ask {
            argv,
            digest: "ab".repeat(32),
            origin: gatekeep::api::protocol::Origin {
                user: "agent-user".into(),
                host: "build-1".into(),
                agent: None,
                cwd: "/work".into(),
            },
            reason,
            rules: vec!["ask-marker".into()],
            messages: vec!["Touching a marker needs approval.".into()],
            risk: "high".into(),
            quorum: 1,
            groups: Vec::new(),
            group_sets: Vec::new(),
            fresh_auth: None,
        },
        timeout_secs: 60,
        ledger: None,
    }
}

fn status_of<T: std::fmt::Debug>(result: Result<T, RemoteError>) -> (u16, String) {
    match result {
        Err(RemoteError::Refused { status, message }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// One requester's flood stops at its own limits: pending requests, creates per minute and
/// request size; another requester and every approver keep working, and `pending` pages.
#[test]
fn one_requester_cannot_flood_the_service() {
    let server = Server::start_with(&["--max-pending", "3", "--max-creates-per-minute", "4"]);
    let flood = Client::new(&server.url, Some(server.agent_token()));
    let touch = |n: usize| vec!["touch".to_owned(), format!("marker-{n}")];
    for n in 0..3 {
        flood
            .create(&create_request(&format!("f{n}"), touch(n), None))
            .unwrap();
    }
    let (status, message) = status_of(flood.create(&create_request("f3", touch(3), None)));
    assert_eq!(status, 429, "{message}");
    assert!(message.contains("waiting for approval"), "{message}");
    // The create budget (4 a minute) is spent now: the next is refused for the rate.
    let (status, message) = status_of(flood.create(&create_request("f4", touch(4), None)));
    assert_eq!(status, 429, "{message}");
    assert!(message.contains("in a minute"), "{message}");

    // Too large: an argv over 64 KiB, a reason over 2 KiB, over 4,096 arguments.
    let other = Client::new(&server.url, Some(server.token(&["--agent", "other-bot"])));
    let big = vec!["touch".to_owned(), "x".repeat(70 * 1024)];
    let (status, message) = status_of(other.create(&create_request("b1", big, None)));
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("limit"), "{message}");
    let (status, _) =
        status_of(other.create(&create_request("b2", touch(9), Some("r".repeat(3000)))));
    assert_eq!(status, 413);
    // Many small arguments (the body itself stays under the 256 KiB read limit, so the
    // answer is the service's, not a connection the server closed mid-upload).
    let many = vec!["a".to_owned(); 5_000];
    let (status, message) = status_of(other.create(&create_request("b3", many, None)));
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("arguments"), "{message}");

    // Another requester is not held back by the flood, and approvers see everything.
    other
        .create(&create_request("o1", touch(10), None))
        .unwrap();
    let bob = Client::new(&server.url, Some(server.approver_token("bob", "sre")));
    let ids: Vec<String> = bob.pending().unwrap().into_iter().map(|v| v.id).collect();
    assert_eq!(ids, ["f0", "f1", "f2", "o1"]);
    // Pages: `limit` and `after`.
    let token = format!("Bearer {}", server.approver_token("carol", ""));
    let page = |query: &str| -> Vec<String> {
        let url = format!("{}/v1/requests?state=pending{query}", server.url);
        let mut response = ureq::get(&url)
            .header("authorization", &token)
            .call()
            .unwrap();
        let views: Vec<RequestView> = response.body_mut().read_json().unwrap();
        views.into_iter().map(|v| v.id).collect()
    };
    assert_eq!(page("&limit=2"), ["f0", "f1"]);
    assert_eq!(page("&limit=2&after=f1"), ["f2", "o1"]);
    server.assert_audit_ok();
}

/// Names decide self-approval and quorum, so a name that only looks like another is refused
/// when its token is made, and another spelling of a live name is the same name.
#[test]
fn token_names_are_identities() {
    let server = Server::start();
    server.approver_token("bob", "sre");
    for (name, why) in [
        ("Bob", "already exists"),
        ("alice ", "not a valid name"),
        ("\u{430}lice", "look-alike"),
        ("alice\u{a0}", "not a valid name"),
        ("ci-bot\t", "not a valid name"),
    ] {
        let out = server.admin(&["token", "create", "--approver", name]);
        assert!(!out.status.success(), "{name:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{name:?}: {}",
            text(&out)
        );
    }
    let out = server.admin(&[
        "token",
        "create",
        "--agent",
        "bot",
        "--on-behalf-of",
        "alice ",
    ]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = server.admin(&[
        "token",
        "create",
        "--approver",
        "carol",
        "--groups",
        "sre ,dev",
    ]);
    assert!(!out.status.success(), "{}", text(&out));
}

/// An approver revoked while a quorum request waits no longer counts towards it.
#[test]
fn a_revoked_approvers_approval_is_withdrawn() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let carol = Machine::approver_of(&server, "carol", "sre");
    let erin = Machine::approver_of(&server, "erin", "sre");
    let mut client = agent.exec("touch quorum-file");
    let id = client.request_id();
    assert!(bob.approve(&id).status.success());
    let out = server.admin(&["token", "revoke", "bob"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = carol.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    let view = carol.show(&id);
    assert_eq!(view.state, State::Pending, "{view:?}");
    let names: Vec<&str> = view.approvals.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["carol"]);
    assert!(client.is_running(), "{}", client.stderr());
    assert!(!agent.file("quorum-file").exists());
    assert!(erin.approve(&id).status.success());
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    let withdrawn: Vec<Value> = server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "approval_withdrawn")
        .collect();
    assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
    assert_eq!(withdrawn[0]["detail"]["approver"], "bob");
    server.assert_audit_ok();
}

/// Refused attempts are evidence: each is a chained event with the actor and the reason,
/// and the report lists them under anomalies. `pending` shows an approver only what they
/// may decide.
#[test]
fn refused_attempts_are_in_the_trail_and_the_report() {
    let mut p = Pending::new();
    let alice = Machine::approver_of(&p.server, "alice", "sre");
    let dave = Machine::approver_of(&p.server, "dave", "sre");
    assert!(
        p.server
            .admin(&["token", "revoke", "dave"])
            .status
            .success()
    );
    // Her own request is not in her list; bob's list has it.
    let listed = |m: &Machine| -> Vec<String> {
        let out = m.run(&["pending", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let views: Vec<RequestView> = serde_json::from_slice(&out.stdout).unwrap();
        views.into_iter().map(|v| v.id).collect()
    };
    assert!(listed(&alice).is_empty());
    assert_eq!(listed(&p.bob), [p.id.clone()]);

    assert!(!alice.approve(&p.id).status.success());
    assert!(!dave.approve(&p.id).status.success());
    let requester = Client::new(&p.server.url, Some(p.agent_token.clone()));
    assert!(requester.decide(&p.id, true, None).is_err());
    let stranger = Client::new(
        &p.server.url,
        Some("gka_not-a-token-the-service-issued".into()),
    );
    assert!(stranger.get(&p.id).is_err());
    p.assert_still_pending();

    let refused: Vec<Value> = p
        .server
        .audit_events()
        .into_iter()
        .filter(|e| e["kind"] == "refused")
        .collect();
    let seen: Vec<(String, String)> = refused
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["detail"]["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (actor, action) in [
        ("alice", "approve"),
        ("dave", "authenticate"),
        ("ci-bot", "approve"),
    ] {
        assert!(
            seen.iter().any(|(a, b)| a == actor && b == action),
            "{actor} {action} not in {seen:?}"
        );
    }
    assert!(
        seen.iter().any(|(a, _)| a.starts_with("unknown token ")),
        "{seen:?}"
    );
    p.server.assert_audit_ok();

    let out = p.server.admin(&["report", "--format", "md"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "refused: alice tried to approve",
        "refused: dave tried to authenticate",
        "refused: ci-bot tried to approve",
    ] {
        assert!(report.contains(needle), "{needle:?} not in\n{report}");
    }
}

#[test]
fn revoked_tokens_stop_working() {
    let mut p = Pending::new();
    let dave = Machine::approver_of(&p.server, "dave", "sre");
    let out = p.server.admin(&["token", "revoke", "dave"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = dave.approve(&p.id);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown or revoked"),
        "{}",
        text(&out)
    );
    p.assert_still_pending();

    // Revoke the agent's token: its next command cannot even be asked for.
    let out = p.server.admin(&["token", "revoke", "ci-bot"]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = p.agent.exec("touch marker-2").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(
        err.contains("gatekeep: refused:") && err.contains("unknown or revoked"),
        "{err}"
    );
    assert!(!p.agent.file("marker-2").exists());
    let decision = p.agent.decision(&refused_id(&err));
    assert_eq!(decision["decision"], "refused", "{decision}");
}

/// At a terminal, login asks for the token (unechoed) before it asks to trust the key, as
/// the README shows: a token pasted early must not land in the `[y/N]` answer.
#[test]
fn interactive_login_asks_for_the_token_before_the_key() {
    let server = Server::start();
    let agent = Machine::agent();
    let token = server.agent_token();
    let mut script = Command::new("script");
    agent.isolate(&mut script);
    let mut pty = support::pty::Pty::start(script, &format!("{GK} login --server {}", server.url));
    let screen = |seen: &[u8]| String::from_utf8_lossy(seen).into_owned();
    pty.wait_until("the token prompt", |seen| screen(seen).contains("token: "));
    assert!(
        !screen(&pty.seen).contains("Trust it?"),
        "{}",
        screen(&pty.seen)
    );
    pty.send(&format!("{token}\n"));
    pty.wait_until("the key question", |seen| screen(seen).contains("[y/N]"));
    pty.send("y\n");
    pty.finish();
    let seen = screen(&pty.seen);
    assert!(seen.contains("logged in to"), "{seen}");
    assert!(
        seen.contains(&server.key_id),
        "the thumbprint is shown: {seen}"
    );
    assert!(!seen.contains(&token), "the token is not echoed: {seen}");
}

/// `gatekeep server` prints the thumbprint to pass to `login --key`; base64url thumbprints
/// start with `-` for one key in 64, and `--key -abc...` must still be read as the value.
#[test]
fn login_accepts_a_thumbprint_starting_with_a_dash() {
    use std::os::unix::fs::OpenOptionsExt;
    let seed = (0u8..=255)
        .map(|i| [i; 32])
        .find(|s| verdict::thumbprint(&SigningKey::from_bytes(s).verifying_key()).starts_with('-'))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data.path().join("signing-key"))
        .unwrap();
    writeln!(file, "{}", B64.encode(seed)).unwrap();
    let server = Server::start_in(data);
    assert!(server.key_id.starts_with('-'), "{}", server.key_id);
    let agent = Machine::agent();
    let token = server.agent_token();
    let out = agent.login_with(
        &["login", "--server", &server.url, "--key", &server.key_id],
        &token,
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// Revoking a requester's token also stops what it already asked for: the server cancels
/// the pending request (signed), so nobody can approve it and the waiting client, whose
/// long poll was authenticated before the revocation, does not run the command.
#[test]
fn revoking_the_requester_stops_its_pending_request() {
    let p = Pending::new();
    let out = p.server.admin(&["token", "revoke", "ci-bot"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = p.bob.approve(&p.id);
    assert!(
        !out.status.success(),
        "approving a revoked requester's request: {}",
        text(&out)
    );
    let (code, err) = p.client.finish();
    assert!(matches!(code, Some(69 | 77)), "{code:?}: {err}");
    assert!(!p.agent.file("marker").exists());
}

// ---------------------------------------------------------------------------------------
// A fake service: forged, replayed and altered verdicts
// ---------------------------------------------------------------------------------------

/// Makes the verdict the fake service hands out for the client's request.
type Forge = Box<dyn Fn(&CreateRequest) -> Option<String> + Send + Sync>;

struct FakeState {
    /// The key its JWK Set publishes.
    publishes: ed25519_dalek::VerifyingKey,
    forge: Mutex<Forge>,
    created: Mutex<Option<CreateRequest>>,
}

/// A fake service that speaks the approval API just well enough: it accepts any token,
/// takes the client's create, and answers every wait with an approved view carrying
/// whatever verdict [`Forge`] makes.
struct Fake {
    http: FakeHttp,
    state: Arc<FakeState>,
}

impl Fake {
    fn start(publishes: ed25519_dalek::VerifyingKey, forge: Forge) -> Fake {
        let state = Arc::new(FakeState {
            publishes,
            forge: Mutex::new(forge),
            created: Mutex::default(),
        });
        let routes = state.clone();
        let http = FakeHttp::start(Arc::new(move |call: &Call| route(&routes, call)));
        Fake { http, state }
    }

    fn url(&self) -> &str {
        &self.http.url
    }

    fn set_forge(&self, forge: Forge) {
        *self.state.forge.lock().unwrap() = forge;
        *self.state.created.lock().unwrap() = None;
        self.http.clear_calls();
    }

    fn calls(&self) -> Vec<String> {
        self.http.calls()
    }
}

fn route(state: &FakeState, call: &Call) -> (u16, Option<Value>) {
    let jwks = JwkSet {
        keys: vec![Jwk::from_key(&state.publishes)],
    };
    fake::requester_route(call, &jwks, &state.created, |c| {
        (state.forge.lock().unwrap())(c)
    })
}

/// The claims a genuine approval of `c` would carry.
fn claims_for(c: &CreateRequest) -> Claims {
    let now = verdict::unix_now();
    Claims {
        rid: c.id.clone(),
        digest: c.ask.digest.clone(),
        nonce: c.nonce.clone(),
        shown: Some(gatekeep::api::protocol::Shown::of(c).digest()),
        decision: FinalState::Approved,
        approvers: vec![Approval {
            name: "mallory".into(),
            decision: "approved".into(),
            at: "2026-01-01T00:00:00Z".into(),
            channel: "cli".into(),
            reason: None,
            groups: Vec::new(),
        }],
        reason: None,
        iat: now,
        exp: now + 120,
    }
}

/// A compact JWS with any header and payload, signed by `key`.
fn jws(header: &Value, payload: &[u8], key: &SigningKey) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

/// An approval on the real service, run end to end; returns the genuine verdict.
fn genuine_verdict(server: &Server, agent: &Machine, bob: &Machine) -> String {
    let mut client = agent.exec("touch marker-genuine");
    let id = client.request_id();
    let out = bob.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(0), "{err}");
    let view = bob.show(&id);
    assert_eq!(view.state, State::Approved);
    let jws = view.verdict.unwrap();
    // It verifies against the real key: a fair starting point for the attacks.
    verdict::verify(&jws, &server.signing_key().verifying_key()).unwrap();
    jws
}

#[test]
fn forged_replayed_and_altered_verdicts_never_run_the_command() {
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let real = server.signing_key();
    let genuine = genuine_verdict(&server, &agent, &bob);
    let other = SigningKey::from_bytes(&[7u8; 32]);

    // The impostor publishes the real public key (it is public), so the agent machine's
    // login to it pins the right key; all it cannot do is sign with it.
    let fake = Fake::start(real.verifying_key(), Box::new(|_| None));
    agent.login_to(fake.url(), &server.key_id, "gkr_anything", &[]);

    // Control: a verdict that is right in every way runs the command, so the refusals
    // below are about the verdicts and not about the fake.
    {
        let real = real.clone();
        fake.set_forge(Box::new(move |c| {
            Some(verdict::sign(&claims_for(c), &real).unwrap())
        }));
    }
    let (code, err) = agent.exec("touch marker-control && exit 4").finish();
    assert_eq!(code, Some(4), "{err}");
    assert!(agent.file("marker-control").exists());
    assert!(
        fake.calls().iter().any(|c| c.ends_with("/outcome")),
        "{:?}",
        fake.calls()
    );

    let header = |kid: &str| json!({"alg": "EdDSA", "typ": verdict::TYP, "kid": kid});
    let cases: Vec<(&str, &str, Forge)> = vec![
        (
            "signed by another key",
            "not the pinned key",
            Box::new({
                let other = other.clone();
                move |c| Some(verdict::sign(&claims_for(c), &other).unwrap())
            }),
        ),
        (
            "signed by another key under the real key's id",
            "signature does not verify",
            Box::new({
                let other = other.clone();
                let kid = server.key_id.clone();
                move |c| {
                    Some(jws(
                        &header(&kid),
                        &serde_json::to_vec(&claims_for(c)).unwrap(),
                        &other,
                    ))
                }
            }),
        ),
        (
            "alg none",
            "header",
            Box::new({
                let kid = server.key_id.clone();
                move |c| {
                    let h = json!({"alg": "none", "typ": verdict::TYP, "kid": kid});
                    Some(format!(
                        "{}.{}.",
                        B64.encode(h.to_string()),
                        B64.encode(serde_json::to_vec(&claims_for(c)).unwrap())
                    ))
                }
            }),
        ),
        ("no verdict at all", "not a compact JWS", Box::new(|_| None)),
        (
            "a genuine verdict of another request, replayed",
            "is for request",
            Box::new({
                let genuine = genuine.clone();
                move |_| Some(genuine.clone())
            }),
        ),
        (
            "a genuine verdict with its payload rewritten for this request",
            "signature does not verify",
            Box::new({
                let genuine = genuine.clone();
                move |c| {
                    let parts: Vec<&str> = genuine.split('.').collect();
                    let mut claims: Claims =
                        serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
                    claims.rid = c.id.clone();
                    claims.digest = c.ask.digest.clone();
                    claims.nonce = c.nonce.clone();
                    let payload = B64.encode(serde_json::to_vec(&claims).unwrap());
                    Some(format!("{}.{payload}.{}", parts[0], parts[2]))
                }
            }),
        ),
        (
            "real key, expired",
            "expired at",
            Box::new({
                let real = real.clone();
                move |c| {
                    let mut claims = claims_for(c);
                    claims.iat -= 600;
                    claims.exp = claims.iat + 120;
                    Some(verdict::sign(&claims, &real).unwrap())
                }
            }),
        ),
        (
            "real key, issued in the future",
            "in the future",
            Box::new({
                let real = real.clone();
                move |c| {
                    let mut claims = claims_for(c);
                    claims.iat += 3600;
                    claims.exp = claims.iat + 120;
                    Some(verdict::sign(&claims, &real).unwrap())
                }
            }),
        ),
        (
            "real key, another nonce",
            "nonce does not match",
            Box::new({
                let real = real.clone();
                move |c| {
                    let mut claims = claims_for(c);
                    claims.nonce = "another-nonce-from-another-run".into();
                    Some(verdict::sign(&claims, &real).unwrap())
                }
            }),
        ),
        (
            "real key, another command",
            "different command",
            Box::new({
                let real = real.clone();
                move |c| {
                    let mut claims = claims_for(c);
                    claims.digest = "0".repeat(64);
                    Some(verdict::sign(&claims, &real).unwrap())
                }
            }),
        ),
    ];

    let mut failures = Vec::new();
    for (i, (name, why, forge)) in cases.into_iter().enumerate() {
        fake.set_forge(forge);
        let marker = format!("marker-{i}");
        let (code, err) = agent.exec(&format!("touch {marker}")).finish();
        let calls = fake.calls();
        let id = fake
            .state
            .created
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        let decision = agent.decision(&id);
        let ok = code == Some(77)
            && !agent.file(&marker).exists()
            && !calls.iter().any(|c| c.ends_with("/outcome"))
            && err.contains("verdict was rejected")
            && err.contains(why)
            && decision["decision"] == "deny"
            && decision["decided_by"] == "gatekeep (verdict check)";
        if !ok {
            failures.push(format!(
                "{name}: exit {code:?}, ran: {}, calls: {calls:?}\n{err}\nledger: {decision}",
                agent.file(&marker).exists()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn login_refuses_a_server_without_the_pinned_key() {
    let server = Server::start();
    let agent = Machine::agent();
    let impostor = SigningKey::from_bytes(&[9u8; 32]);
    let fake = Fake::start(
        impostor.verifying_key(),
        Box::new(move |c| Some(verdict::sign(&claims_for(c), &impostor).unwrap())),
    );
    let out = agent.try_login(fake.url(), &server.key_id, &server.agent_token(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not have the key") && err.contains(&server.key_id),
        "{err}"
    );
    assert!(
        !agent.config_dir().join("config.toml").exists(),
        "a refused login changes nothing"
    );
    // With no service configured, nothing is asked of the fake and nothing runs.
    let (code, err) = agent.exec("touch marker").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(!agent.file("marker").exists());
    assert!(
        !fake.calls().iter().any(|c| c.contains("/v1/requests")),
        "{:?}",
        fake.calls()
    );
}

#[test]
fn pointing_the_config_at_another_server_does_not_move_the_pinned_key() {
    // The agent machine is logged in to the real service; then its config is pointed at
    // an impostor that signs with its own key (the pinned key stays: nobody can produce
    // the real one). Whatever the impostor says, the command does not run.
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let impostor = SigningKey::from_bytes(&[9u8; 32]);
    let fake = Fake::start(
        impostor.verifying_key(),
        Box::new(move |c| Some(verdict::sign(&claims_for(c), &impostor).unwrap())),
    );
    // It also takes the agent's token (as if copied) so that the request reaches it.
    agent.login_to(
        fake.url(),
        &verdict::thumbprint(&fake.state.publishes),
        "gkr_x",
        &[],
    );
    let config = agent.config_dir().join("config.toml");
    let real_key = B64.encode(server.signing_key().verifying_key().to_bytes());
    std::fs::write(
        &config,
        format!("[server]\nurl = \"{}\"\nkey = \"{real_key}\"\n", fake.url()),
    )
    .unwrap();
    let (code, err) = agent.exec("touch marker").finish();
    assert_eq!(code, Some(77), "{err}");
    assert!(err.contains("not the pinned key"), "{err}");
    assert!(!agent.file("marker").exists());
    assert!(
        fake.calls().iter().any(|c| c == "POST /v1/requests"),
        "{:?}",
        fake.calls()
    );
}

#[test]
fn a_project_file_cannot_name_another_server_or_key() {
    // A repository an agent works in may carry a `.gatekeep.toml`; one that tries to set
    // the server and key is refused (fail closed), and the impostor hears nothing.
    let server = Server::start();
    let agent = Machine::agent_of(&server);
    let impostor = SigningKey::from_bytes(&[9u8; 32]);
    let key = B64.encode(impostor.verifying_key().to_bytes());
    let fake = Fake::start(
        impostor.verifying_key(),
        Box::new(move |c| Some(verdict::sign(&claims_for(c), &impostor).unwrap())),
    );
    std::fs::write(
        agent.file(".gatekeep.toml"),
        format!("[server]\nurl = \"{}\"\nkey = \"{key}\"\n", fake.url()),
    )
    .unwrap();
    let (code, err) = agent.exec("touch marker").finish();
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains(".gatekeep.toml") && err.contains("server"),
        "{err}"
    );
    assert!(!agent.file("marker").exists());
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

#[test]
fn a_waiting_client_survives_a_server_crash_and_restart() {
    let mut server = Server::start();
    let agent = Machine::agent_of(&server);
    let bob = Machine::approver_of(&server, "bob", "sre");
    let mut client = agent.exec("touch marker && exit 5");
    let id = client.request_id();

    server.kill();
    client.wait_for("lost the approval service");
    assert!(client.is_running(), "{}", client.stderr());
    server.launch();

    let out = bob.approve(&id);
    assert!(out.status.success(), "{}", text(&out));
    let (code, err) = client.finish();
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("reconnected"), "{err}");
    assert!(agent.file("marker").exists());
    assert_eq!(agent.decision(&id)["decision"], "approve");
    server.assert_audit_ok();
    let events = server.audit_events();
    assert!(
        events
            .iter()
            .any(|e| e["request_id"] == id.as_str() && e["kind"] == "outcome"),
        "{events:?}"
    );
}

#[test]
fn an_unreachable_server_refuses_the_command() {
    let mut server = Server::start();
    let agent = Machine::agent_of(&server);
    server.kill();
    let started = Instant::now();
    let (code, err) = agent.exec("touch marker").finish();
    assert_eq!(code, Some(69), "{err}");
    assert!(
        err.contains("gatekeep: refused:")
            && err.contains("cannot reach the approval service")
            && err.contains(&server.url),
        "{err}"
    );
    assert!(!agent.file("marker").exists());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gives up after a few retries"
    );
    let id = refused_id(&err);
    let decision = agent.decision(&id);
    assert_eq!(decision["decision"], "refused", "{decision}");
}
