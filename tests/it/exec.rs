//! `gatekeep exec` with the real binary: allowed commands become the command, denied ones
//! never run, approval happens on a real pseudo-terminal (util-linux `script` provides it),
//! signals reach the child, and the terminal is always restored.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support;

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

/// An isolated home, state and working directory, with a user policy that asks before
/// anything touches `marker` or runs `sleep`.
struct Env {
    home: TempDir,
}

const POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "medium"
message = "Touching the marker needs approval."
program = ["touch"]
args = ["marker*"]
timeout = 4

[[rule]]
id = "ask-sleep"
decision = "approve"
risk = "low"
message = "Sleeping needs approval in these tests."
program = ["sleep"]
timeout = 20

[[rule]]
id = "ask-sh"
decision = "approve"
risk = "low"
message = "sh needs approval in these tests."
program = ["sh"]
timeout = 20
"#;

impl Env {
    fn new() -> Env {
        let home = tempfile::tempdir().unwrap();
        let policy = home.path().join(".config/gatekeep/policy.toml");
        std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
        std::fs::write(policy, POLICY).unwrap();
        Env { home }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn marker(&self) -> PathBuf {
        self.dir().join("marker")
    }

    fn ledger(&self) -> String {
        std::fs::read_to_string(self.dir().join("state/gatekeep/ledger.jsonl")).unwrap_or_default()
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        support::sandbox::isolate(&mut cmd, self.dir(), None).env("TERM", "xterm");
        cmd
    }

    /// gatekeep without a controlling terminal (`setsid` starts a new session).
    fn detached(&self, args: &[&str]) -> Command {
        let mut cmd = self.command("setsid");
        cmd.arg("-w").arg(GK).args(args);
        cmd
    }
}

#[test]
fn allowed_commands_run_as_themselves() {
    let env = Env::new();
    let out = env
        .detached(&["exec", "--", "sh", "-c", "echo out; echo err >&2; exit 42"])
        .output()
        .unwrap();
    // sh is guarded by the test policy, so use a plain program for the exit code instead.
    assert_eq!(out.status.code(), Some(69), "no terminal: refused");

    let out = env
        .detached(&[
            "exec",
            "--",
            "bash",
            "-c",
            "echo out; echo err >&2; exit 42",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");

    // stdin passes through untouched.
    let mut child = env
        .detached(&["exec", "--", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), b"HELLO\n".as_slice())
    );

    // --shell runs the string with bash -c.
    let out = env
        .detached(&["exec", "--shell", "x=3; echo $((x * 2)); exit 5"])
        .output()
        .unwrap();
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(5), b"6\n".as_slice())
    );

    let out = env
        .detached(&["exec", "--", "no-such-program-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run `no-such-program-here`"));

    let allowed = env
        .ledger()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event"] == "decision" && r["decision"] == "allow")
        .count();
    assert_eq!(allowed, 4, "{}", env.ledger());
}

#[test]
fn denied_commands_never_run() {
    let env = Env::new();
    let marker = env.marker();
    let script = format!("touch {}; rm -rf /", marker.display());
    let out = env
        .detached(&["exec", "--json", "--shell", &script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77));
    assert!(
        !marker.exists(),
        "a denied line runs nothing, not even its harmless part"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gatekeep: denied: `touch"), "{err}");
    assert!(
        err.contains("[rm-root-or-home]")
            && err.contains("decided by: gatekeep policy")
            && err.contains("next step:"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["assessment"]["decision"].as_str()),
        (Some("denied"), Some("deny"))
    );
    assert!(env.ledger().contains("\"decision\":\"deny\""));
}

#[test]
fn approval_without_a_terminal_is_refused() {
    let env = Env::new();
    let out = env
        .detached(&["exec", "--", "touch", "marker"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    assert!(!env.marker().exists());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused") && err.contains("no terminal"),
        "{err}"
    );
    let ledger = env.ledger();
    assert!(
        ledger.contains("\"event\":\"request\"") && ledger.contains("\"decision\":\"refused\""),
        "{ledger}"
    );
}

#[test]
fn a_policy_error_stops_exec() {
    let env = Env::new();
    std::fs::write(env.dir().join(".gatekeep.toml"), "[[rule]]\nid = \"x\"\ndecision = \"allow\"\nrisk = \"low\"\nmessage = \"m\"\nprogram = [\"touch\"]\n").unwrap();
    let out = env
        .detached(&["exec", "--", "touch", "plain-file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(!env.dir().join("plain-file").exists());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".gatekeep.toml:1:1:"));
}

/// A command line run on a fresh pseudo-terminal by `script`, fed keys once the prompt is up.
/// The exec tests' terminal: the shared harness, matched on the raw screen.
struct Pty(support::pty::Pty);

impl Pty {
    fn start(env: &Env, line: &str) -> Pty {
        Pty(support::pty::Pty::start(env.command("script"), line))
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&mut self, text: &str) {
        self.0
            .wait_until(text, |seen| String::from_utf8_lossy(seen).contains(text));
    }

    fn send(&mut self, keys: &str) {
        self.0.send(keys);
    }

    /// Waits for the end and returns everything the terminal showed.
    fn finish(mut self) -> String {
        self.0.finish();
        String::from_utf8_lossy(&self.0.seen).into_owned()
    }
}

/// The exit status printed by the line, and whether `stty -g` read the same before and after.
fn exit_and_restored(screen: &str) -> (i32, bool) {
    let code = screen
        .split("EXIT=")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let modes: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.trim().strip_prefix("STTY="))
        .collect();
    (code, modes.len() == 2 && modes[0] == modes[1])
}

fn line(args: &str) -> String {
    format!("echo STTY=$(stty -g); {GK} exec {args}; echo EXIT=$?; echo STTY=$(stty -g)")
}

#[test]
fn approve_at_the_terminal_runs_the_command_and_passes_its_status() {
    let env = Env::new();
    let mut pty = Pty::start(
        &env,
        // sh's $0 is a secret-looking assignment: it must be masked on screen and on disk.
        &line(
            "--reason 'needed for the test' -- sh -c 'touch marker; exit 7' DB_PASSWORD=hunter2-secret",
        ),
    );
    pty.wait_for("[a] approve once");
    assert!(!env.marker().exists(), "nothing runs before the answer");
    pty.send("a");
    let screen = pty.finish();
    assert!(
        screen.contains("needed for the test") && screen.contains("ask-sh"),
        "{screen}"
    );
    assert!(
        screen.contains("DB_PASSWORD=****") && !screen.contains("hunter2-secret"),
        "{screen}"
    );
    assert!(!env.ledger().contains("hunter2-secret"));
    assert_eq!(exit_and_restored(&screen), (7, true), "{screen}");
    assert!(env.marker().exists());
    let ledger = env.ledger();
    assert!(
        ledger.contains("\"decision\":\"approve\"")
            && ledger.contains("\"channel\":\"terminal\"")
            && ledger.contains("\"exit_code\":7"),
        "{ledger}"
    );
}

#[test]
fn deny_with_a_reason_reaches_the_agent() {
    let env = Env::new();
    let mut pty = Pty::start(&env, &line("-- touch marker"));
    pty.wait_for("[a] approve once");
    pty.send("r");
    pty.wait_for("reason (Enter to send)");
    pty.send("use the staging marker instead\r");
    let screen = pty.finish();
    assert_eq!(exit_and_restored(&screen), (77, true), "{screen}");
    assert!(
        screen.contains("reason:     use the staging marker instead"),
        "{screen}"
    );
    assert!(!env.marker().exists());
    assert!(
        env.ledger()
            .contains("\"denial_reason\":\"use the staging marker instead\"")
    );
}

#[test]
fn plain_deny_and_typeahead() {
    let env = Env::new();
    let mut pty = Pty::start(&env, &line("-- touch marker"));
    pty.wait_for("[a] approve once");
    pty.send("d");
    let screen = pty.finish();
    assert_eq!(exit_and_restored(&screen), (77, true), "{screen}");
    assert!(!env.marker().exists());
}

#[test]
fn no_answer_expires() {
    let env = Env::new();
    let started = Instant::now();
    let mut pty = Pty::start(&env, &line("-- touch marker"));
    pty.wait_for("[a] approve once");
    let screen = pty.finish();
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the rule's 4 s timeout applies"
    );
    assert_eq!(exit_and_restored(&screen), (75, true), "{screen}");
    assert!(screen.contains("gatekeep: expired"), "{screen}");
    assert!(!env.marker().exists());
    assert!(env.ledger().contains("\"decision\":\"expired\""));
}

/// The pid of the gatekeep process whose command line contains `needle`.
fn find_gatekeep(needle: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.starts_with(GK) && cmdline.contains(needle) {
                return pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "gatekeep with {needle} not found"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_to_gatekeep_reaches_the_child() {
    let env = Env::new();
    let mut pty = Pty::start(&env, &line("-- sleep 31.25"));
    pty.wait_for("[a] approve once");
    pty.send("a");
    pty.wait_for("gatekeep: approved");
    let pid = find_gatekeep("sleep 31.25");
    // Give the child a moment to start, then signal gatekeep only.
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let screen = pty.finish();
    assert_eq!(exit_and_restored(&screen), (143, true), "{screen}");
    let ledger = env.ledger();
    assert!(
        ledger.contains("\"exit_code\":143") && ledger.contains("\"signal\":15"),
        "{ledger}"
    );
}

#[test]
fn sigterm_during_the_prompt_cancels_and_restores_the_terminal() {
    let env = Env::new();
    let mut pty = Pty::start(&env, &line("-- sleep 32.5"));
    pty.wait_for("[a] approve once");
    let pid = find_gatekeep("sleep 32.5");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let screen = pty.finish();
    assert_eq!(exit_and_restored(&screen), (143, true), "{screen}");
    assert!(env.ledger().contains("\"decision\":\"cancelled\""));
}

#[test]
fn hook_with_prompt_asks_at_the_terminal() {
    let env = Env::new();
    let input = r#"{"session_id":"s","cwd":"/","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"touch marker"}}"#;
    let answer = env.dir().join("answer.json");
    let line = format!(
        "echo '{input}' | {GK} hook claude-code --prompt > {}; echo EXIT=$?",
        answer.display()
    );
    let mut pty = Pty::start(&env, &line);
    pty.wait_for("[a] approve once");
    pty.send("a");
    let screen = pty.finish();
    assert!(screen.contains("EXIT=0"), "{screen}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&answer).unwrap()).unwrap();
    assert_eq!(
        v["hookSpecificOutput"]["permissionDecision"], "allow",
        "{v}"
    );
}

#[test]
fn a_configured_but_unreachable_service_does_not_stand_between_a_person_and_their_terminal() {
    let env = Env::new();
    // A server on a closed port, with a well-formed pinned key.
    std::fs::write(
        env.dir().join(".config/gatekeep/config.toml"),
        "[server]\nurl = \"http://127.0.0.1:9\"\nkey = \"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"\n",
    )
    .unwrap();
    // The rule allows approval at the terminal, and there is one: the prompt asks.
    let mut pty = Pty::start(&env, &line("-- sh -c 'touch marker; exit 4'"));
    pty.wait_for("[a] approve once");
    pty.send("a");
    let screen = pty.finish();
    assert_eq!(exit_and_restored(&screen).0, 4, "{screen}");
    assert!(env.marker().exists());

    // Without a terminal the same command must go to the service; with no way to reach it
    // (not logged in, nothing listening) it is refused, naming the service.
    std::fs::remove_file(env.marker()).unwrap();
    let out = env
        .detached(&["exec", "--", "sh", "-c", "touch marker"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("http://127.0.0.1:9"), "{err}");
    assert!(!env.marker().exists());
}
