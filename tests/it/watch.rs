//! `gatekeep pending --watch` against a real server: the JSON stream (new requests within a
//! second, decisions as changes, never one's own requests), and the full-screen view on a
//! real pseudo-terminal (util-linux `script`): a request appears, keys approve it and the
//! waiting `gatekeep exec` runs, a deny with a typed reason reaches the agent, a command
//! full of terminal escapes is drawn inert, and the terminal is given back on quit and on
//! SIGTERM.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatekeep::approval::remote::{Client, RemoteError};
use serde_json::Value;

use crate::support::pty::Pty;
use crate::support::service::{GK, Machine, Pipe, STEP, Server, text};

/// `touch marker*` needs one approval, from anyone.
const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "high"
message = "Touching a marker needs approval."
program = ["touch"]
args = ["marker*"]
timeout = 120
"#;

/// The terminal sequences crossterm writes to leave the alternate screen and show the
/// cursor again.
const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";
const SHOW_CURSOR: &str = "\x1b[?25h";

impl Machine {
    /// An agent machine with [`POLICY`], logged in as requester `agent` working for `user`.
    fn watch_agent(server: &Server, agent: &str, user: &str) -> Machine {
        let m = Machine::with_policy(&format!("{agent}-user"), POLICY);
        m.login(
            server,
            &server.token(&["--agent", agent, "--on-behalf-of", user]),
        );
        m
    }

    /// An approver's machine logged in as `name`.
    fn watch_approver(server: &Server, name: &str) -> Machine {
        let m = Machine::new(name);
        m.login(server, &server.approver_token(name, ""));
        m
    }

    /// `gatekeep pending --watch --json`, its stdout collected.
    fn watch_json(&self) -> Watcher {
        let mut child = self
            .gk()
            .args(["pending", "--watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Pipe::collect(child.stdout.take().unwrap());
        let err = Pipe::collect(child.stderr.take().unwrap());
        Watcher { child, out, err }
    }

    /// `gatekeep pending --watch` on a pseudo-terminal of 120 by 40; the line prints its
    /// shell's pid first (`PID=N`: the watcher execs into it) and its exit status last.
    fn watch_tty(&self) -> Pty {
        let mut script = Command::new("script");
        self.isolate(&mut script);
        Pty::start(
            script,
            &format!(
                "sh -c 'stty rows 40 cols 120; echo PID=$$; exec {GK} pending --watch'; echo EXIT=$?"
            ),
        )
    }
}

/// A running `gatekeep pending --watch --json`; killed on drop.
struct Watcher {
    child: Child,
    out: Pipe,
    err: Pipe,
}

impl Watcher {
    /// The lines printed so far.
    fn lines(&self) -> Vec<Value> {
        self.out
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits for a line about request `id` that `matches`; returns it.
    fn line_for(&mut self, id: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(line) = self
                .lines()
                .into_iter()
                .find(|l| l["request"]["id"] == id && matches(l))
            {
                return line;
            }
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "the watcher ended: {}",
                self.err.text()
            );
            assert!(
                Instant::now() < deadline,
                "no line about {id}:\n{}\nstderr: {}",
                self.out.text(),
                self.err.text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_json_stream_shows_new_requests_at_once_decisions_as_changes_and_never_ones_own() {
    let server = Server::start();
    // ci-bot works for alice; other-bot for carol.
    let alices_agent = Machine::watch_agent(&server, "ci-bot", "alice");
    let carols_agent = Machine::watch_agent(&server, "other-bot", "carol");
    let bob = Machine::watch_approver(&server, "bob");
    let alice = Machine::watch_approver(&server, "alice");

    // A request from before the watchers start comes in their first (whole-list) answer.
    let mut first = carols_agent.exec("touch marker-first");
    let first_id = first.request_id();
    let mut bobs = bob.watch_json();
    let mut alices = alice.watch_json();
    let line = bobs.line_for(&first_id, |_| true);
    assert_eq!(line["kind"], "new");
    assert_eq!(line["actionable"], true);
    assert_eq!(line["request"]["state"], "pending");
    assert_eq!(line["request"]["requester"], "other-bot");
    alices.line_for(&first_id, |_| true);

    // Created while the watchers wait: it reaches them within a second.
    let mut own = alices_agent.exec("touch marker-alice");
    let own_id = own.request_id();
    let created = Instant::now();
    let line = bobs.line_for(&own_id, |l| l["kind"] == "new");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let made_ms =
        gatekeep::time::parse_rfc3339_ms(line["request"]["created_at"].as_str().unwrap()).unwrap();
    eprintln!(
        "a new request reached the watcher at most {} ms after the server made it",
        i128::try_from(now_ms).unwrap() - i128::from(made_ms)
    );
    assert!(
        created.elapsed() < Duration::from_secs(1),
        "took {:?}",
        created.elapsed()
    );
    assert_eq!(line["request"]["on_behalf_of"], "alice");

    // Bob approves it: a change, no longer his to decide; the agent's command runs.
    let out = bob.run(&["approve", &own_id]);
    assert!(out.status.success(), "{}", text(&out));
    let line = bobs.line_for(&own_id, |l| l["kind"] == "changed");
    assert_eq!(line["request"]["state"], "approved");
    assert_eq!(line["actionable"], false);
    assert_eq!(own.finish().0, Some(0));
    assert!(alices_agent.file("marker-alice").exists());

    // Carol's request is denied by alice: both watchers see the change.
    let out = alice.run(&["deny", &first_id, "--reason", "not now"]);
    assert!(out.status.success(), "{}", text(&out));
    let line = bobs.line_for(&first_id, |l| l["kind"] == "changed");
    assert_eq!(line["request"]["state"], "denied");
    alices.line_for(&first_id, |l| l["request"]["state"] == "denied");
    assert_eq!(first.finish().0, Some(77));

    // Alice never saw the request made for her, neither made nor approved.
    assert!(
        alices.lines().iter().all(|l| l["request"]["id"] != own_id),
        "{}",
        alices.out.text()
    );
    // Each line is one request, the same shape as `gatekeep show --json`.
    for line in bobs.lines() {
        assert!(matches!(line["kind"].as_str(), Some("new" | "changed")));
        assert!(line["request"]["command"].is_string(), "{line}");
    }
}

#[test]
fn only_approvers_may_follow_the_list_and_a_refusal_is_recorded() {
    let server = Server::start();
    let token = server.agent_token();
    match Client::new(&server.url, Some(token)).changes(None, 0) {
        Err(RemoteError::Refused { status: 403, .. }) => {}
        other => panic!("a requester followed the list: {other:?}"),
    }
    let refused = server
        .audit_events()
        .into_iter()
        .any(|e| e["kind"] == "refused" && e["actor"] == "ci-bot");
    assert!(refused, "the refusal is in the chain");
    // A cursor from another run of the server gets the whole list again.
    let approver = Client::new(&server.url, Some(server.approver_token("bob", "")));
    let changes = approver.changes(Some("elsewhere.3"), 0).unwrap();
    assert!(changes.reset && changes.requests.is_empty(), "{changes:?}");
    let again = approver.changes(Some(&changes.cursor), 0).unwrap();
    assert!(!again.reset && again.requests.is_empty(), "{again:?}");
}

/// The text the terminal showed from byte `from` on.
fn shown_since(pty: &Pty, from: usize) -> String {
    String::from_utf8_lossy(&pty.seen[from..]).into_owned()
}

/// Waits until the terminal shows `text` after byte `from`.
fn wait_shown(pty: &mut Pty, from: usize, text: &str) {
    pty.wait_until(text, |seen| {
        String::from_utf8_lossy(&seen[from.min(seen.len())..]).contains(text)
    });
}

#[test]
fn the_view_approves_and_denies_with_keys_draws_escapes_inert_and_gives_the_terminal_back() {
    let server = Server::start();
    let agent = Machine::watch_agent(&server, "ci-bot", "alice");
    let bob = Machine::watch_approver(&server, "bob");
    let mut pty = bob.watch_tty();
    wait_shown(&mut pty, 0, "no requests are waiting for you");

    // A request arrives and is drawn; `a` asks, `y` approves, the command runs.
    let mut approved = agent.exec("touch marker-approve");
    let id = approved.request_id();
    wait_shown(&mut pty, 0, "marker-approve");
    let from = pty.seen.len();
    pty.send("a");
    wait_shown(&mut pty, from, "[y/N]");
    pty.send("y");
    let (code, stderr) = approved.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(agent.file("marker-approve").exists());
    wait_shown(&mut pty, from, &format!("approved request {id}"));

    // Deny: a reason typed in the view reaches the agent; an empty one is refused first.
    let mut denied = agent.exec("touch marker-deny");
    denied.request_id();
    wait_shown(&mut pty, from, "marker-deny");
    let from = pty.seen.len();
    pty.send("d");
    wait_shown(&mut pty, from, "reason (Enter sends");
    pty.send("\r");
    wait_shown(&mut pty, from, "a denial needs a reason");
    pty.send("not during the freeze\r");
    let (code, stderr) = denied.finish();
    assert_eq!(code, Some(77), "{stderr}");
    assert!(stderr.contains("not during the freeze"), "{stderr}");
    assert!(!agent.file("marker-deny").exists());

    // A command full of escapes (a title change, a screen clear, a bidi override) is drawn
    // as visible text, and opening it shows the same.
    let from = pty.seen.len();
    let _evil = agent.exec("touch 'marker-\x1b]0;pwned\x07-\x1b[2J-\u{202e}x'");
    wait_shown(&mut pty, from, "pwned");
    pty.send("\r");
    wait_shown(&mut pty, from, "Touching a marker needs approval.");
    let screen = shown_since(&pty, from);
    assert!(
        screen.contains(r"marker-\e]0;pwned\x07-\e[2J-\u202ex"),
        "{screen:?}"
    );
    assert!(
        !screen.contains("\x1b]0;pwned") && !screen.contains("\u{202e}"),
        "{screen:?}"
    );

    // q quits from anywhere, and the terminal is given back.
    let from = pty.seen.len();
    pty.send("q");
    pty.finish();
    let rest = shown_since(&pty, from);
    assert!(
        rest.contains(LEAVE_ALTERNATE_SCREEN) && rest.contains(SHOW_CURSOR),
        "{rest:?}"
    );
    assert!(rest.contains("EXIT=0"), "{rest:?}");
    // The view decided through the API, as `gatekeep approve`/`deny` do.
    let events = server.audit_events();
    for kind in ["approved", "denied"] {
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == kind && e["actor"] == "bob" && e["channel"] == "cli"),
            "{events:?}"
        );
    }
}

#[test]
fn sigterm_ends_the_view_and_gives_the_terminal_back() {
    let server = Server::start();
    let bob = Machine::watch_approver(&server, "bob");
    let mut pty = bob.watch_tty();
    wait_shown(&mut pty, 0, "no requests are waiting for you");
    let screen = shown_since(&pty, 0);
    let pid: i32 = screen
        .split("PID=")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let from = pty.seen.len();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    pty.finish();
    let rest = shown_since(&pty, from);
    assert!(
        rest.contains(LEAVE_ALTERNATE_SCREEN) && rest.contains(SHOW_CURSOR),
        "{rest:?}"
    );
    // 128 + SIGTERM, as a shell reports a process the signal ended.
    assert!(rest.contains("EXIT=143"), "{rest:?}");
}

#[test]
fn ctrl_c_and_esc_quit_the_view_and_give_the_terminal_back() {
    let server = Server::start();
    let bob = Machine::watch_approver(&server, "bob");
    for key in ["\x03", "\x1b"] {
        let mut pty = bob.watch_tty();
        wait_shown(&mut pty, 0, "no requests are waiting for you");
        let from = pty.seen.len();
        pty.send(key);
        pty.finish();
        let rest = shown_since(&pty, from);
        assert!(
            rest.contains(LEAVE_ALTERNATE_SCREEN)
                && rest.contains(SHOW_CURSOR)
                && rest.contains("EXIT=0"),
            "{key:?}: {rest:?}"
        );
    }
}
