//! Nothing an agent wrote reaches a terminal raw (issue 9): every field an agent controls is
//! fed the attack's bytes — erase the line and return to its start (`ESC[2K ESC[1G`), a
//! carriage return, the one-character CSI (U+009B) and a right-to-left override — and the
//! bytes gatekeep writes are checked: on the approval prompt on a real pseudo-terminal, in an
//! approver's `gatekeep show` and `gatekeep pending` from a real `gatekeep server`, in
//! `gatekeep audit show`, in the denial messages on stderr, in `gatekeep check` and in the
//! server's log. Each check also finds the escaped form (`\e[2K`), so it can fail.
//!
//! The fields and where they come from: the command (its argv words, or `--shell`),
//! `--reason`, the agent name (`--agent`, `$GATEKEEP_AGENT`), the working directory (a
//! directory whose name holds the bytes), the git branch (read from `.git/HEAD`, which the
//! agent can write even where git would refuse such a name), the user (`$USER`), the host
//! (`gethostname`, set in a new UTS namespace by `unshare`), and a project policy's rule
//! message (`.gatekeep.toml`).

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::support;

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

/// The bytes every field carries: the attack of the issue, a carriage return, the C1 CSI and
/// a right-to-left override.
const HOSTILE: &str = "\x1b[2K\x1b[1G\r\u{9b}\u{202e}";

/// How they must be shown.
const SHOWN: &str = "\\e[2K\\e[1G\\r\\x9b\\u202e";

/// The value given to one field: its name, then the hostile bytes.
fn hostile(field: &str) -> String {
    format!("{field}<{HOSTILE}>")
}

/// How that value must appear.
fn shown(field: &str) -> String {
    format!("{field}<{SHOWN}>")
}

/// Raw byte sequences that must never be written: each one acts on a terminal.
const RAW: [(&str, &[u8]); 5] = [
    ("ESC[2K", b"\x1b[2K"),
    ("ESC[1G", b"\x1b[1G"),
    ("a carriage return after the field's bytes", b"1G\r"),
    ("U+009B (CSI)", "\u{9b}".as_bytes()),
    ("U+202E (RLO)", "\u{202e}".as_bytes()),
];

/// Fails when `bytes` hold any raw sequence of [`RAW`].
fn assert_inert(bytes: &[u8], what: &str) {
    for (name, raw) in RAW {
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw),
            "{what} wrote {name} raw:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Fails unless `bytes` show each field's value escaped.
fn assert_shows(bytes: &[u8], fields: &[&str], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    for field in fields {
        assert!(
            text.contains(&shown(field)),
            "{what} does not show {field} escaped as {:?}:\n{text}",
            shown(field)
        );
    }
}

/// Output written where no terminal reads it holds no control character at all.
fn assert_no_controls(bytes: &[u8], what: &str) {
    assert!(
        !bytes.iter().any(|&b| b == 0x1b || b == b'\r'),
        "{what} holds ESC or CR:\n{}",
        String::from_utf8_lossy(bytes)
    );
}

/// A project policy whose rule message carries the bytes (as TOML escapes).
const PROJECT_POLICY: &str = r#"
[[rule]]
id = "project-marker"
decision = "approve"
risk = "high"
message = "rule<\u001b[2K\u001b[1G\r\u009b\u202e>"
program = ["touch"]
args = ["marker*"]
timeout = 60
"#;

/// The user policy: `touch marker*` needs approval, `touch denied*` never runs.
const USER_POLICY: &str = r#"
[[rule]]
id = "ask-marker"
decision = "approve"
risk = "medium"
message = "Touching the marker needs approval."
program = ["touch"]
args = ["marker*"]
timeout = 60

[[rule]]
id = "deny-denied"
decision = "deny"
risk = "high"
message = "Touching a denied file is not allowed."
program = ["touch"]
args = ["denied*"]
"#;

/// One machine: an isolated home and state, and a working directory whose name, git branch
/// and project policy carry the bytes.
struct Machine {
    home: TempDir,
    /// Where commands run: `cwd<...>` inside the home, a git work tree on `branch<...>`.
    cwd: PathBuf,
}

impl Machine {
    fn new() -> Machine {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join(".config/gatekeep");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("policy.toml"), USER_POLICY).unwrap();
        let cwd = home.path().join(hostile("cwd"));
        std::fs::create_dir_all(cwd.join(".git")).unwrap();
        // gatekeep reads the branch from HEAD without git; git itself refuses control
        // characters in branch names, but the agent can write HEAD directly.
        std::fs::write(
            cwd.join(".git/HEAD"),
            format!("ref: refs/heads/{}\n", hostile("branch")),
        )
        .unwrap();
        std::fs::write(cwd.join(".gatekeep.toml"), PROJECT_POLICY).unwrap();
        Machine { home, cwd }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn state(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// `program` with this machine's environment, `$USER` and `$GATEKEEP_AGENT` hostile.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir())
            .env("USER", hostile("user"))
            .env("GATEKEEP_AGENT", hostile("agent"))
            .env("XDG_CONFIG_HOME", self.dir().join(".config"))
            .env("XDG_STATE_HOME", self.state())
            .env("XDG_DATA_HOME", self.dir().join("data"))
            .env("GATEKEEP_KEYRING", "off")
            .env("TERM", "xterm")
            .current_dir(&self.cwd);
        cmd
    }

    fn gatekeep(&self) -> Command {
        let mut cmd = self.command(GK);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `program ARGS...` run in a new UTS namespace whose host name carries the bytes, when
    /// this machine allows one (`unshare -r -u`: root, or unprivileged user namespaces).
    fn on_hostile_host(&self, program: &str) -> (Command, bool) {
        if !can_name_the_host() {
            eprintln!("note: cannot make a UTS namespace here; the host name is not tested");
            return (self.command(program), false);
        }
        let mut cmd = self.command("unshare");
        cmd.env("GK_HOST", hostile("host")).args([
            "-r",
            "-u",
            "sh",
            "-c",
            "printf %s \"$GK_HOST\" > /proc/sys/kernel/hostname && exec \"$@\"",
            "sh",
            program,
        ]);
        (cmd, true)
    }

    fn ledger(&self) -> String {
        std::fs::read_to_string(self.state().join("gatekeep/ledger.jsonl")).unwrap_or_default()
    }
}

fn can_name_the_host() -> bool {
    Command::new("unshare")
        .args(["-r", "-u", "sh", "-c", "echo x > /proc/sys/kernel/hostname"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------------
// The local prompt
// ---------------------------------------------------------------------------------------

#[test]
fn the_prompt_shows_every_field_escaped() {
    let m = Machine::new();
    let (mut script, host) = m.on_hostile_host("script");
    script
        .env("GK_REASON", hostile("reason"))
        .env("GK_WORD", hostile("word"));
    // A terminal of known size, so that each field fits on its line and is found whole.
    let line = format!(
        "stty rows 50 cols 220; {GK} exec --reason \"$GK_REASON\" -- touch marker \"$GK_WORD\"; echo EXIT=$?"
    );
    let mut pty = support::pty::Pty::start(script, &line);
    pty.wait_until("the prompt", |seen| {
        String::from_utf8_lossy(seen).contains("[a] approve once")
    });
    pty.send("d");
    pty.finish();
    let screen = &pty.seen;
    let text = String::from_utf8_lossy(screen);
    assert!(text.contains("EXIT=77"), "denied at the prompt:\n{text}");
    // The prompt and the denial after it, on the same terminal.
    assert_inert(screen, "the prompt");
    let mut fields = vec!["word", "reason", "agent", "cwd", "branch", "user", "rule"];
    if host {
        fields.push("host");
    }
    assert_shows(screen, &fields, "the prompt");
    let prompt = &text[..text.find("[a] approve once").unwrap()];
    for (label, field) in [
        ("  command:   ", "word"),
        ("  directory: ", "cwd"),
        ("  branch:    ", "branch"),
        ("  requester: ", "user"),
        ("  reason:    ", "reason"),
        ("  rule:      project-marker", "rule"),
    ] {
        let line = prompt
            .lines()
            .find(|l| l.trim_start_matches(['\r', '\n']).starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} line:\n{prompt}"));
        assert!(line.contains(&shown(field)), "{label:?}: {line:?}");
    }
    // The person's own decision is recorded with the requester's fields intact.
    let ledger = m.ledger();
    assert!(
        ledger.contains("reason<\\u001b[2K") && ledger.contains("\"decision\":\"deny\""),
        "{ledger}"
    );
}

#[test]
fn the_attack_from_the_issue_shows_the_command_that_would_run() {
    let m = Machine::new();
    let mut script = m.command("script");
    script.env(
        "GK_SHELL",
        "kubectl delete ns prod #\x1b[2K\x1b[1G command: kubectl get pods",
    );
    let line = format!("stty rows 50 cols 220; {GK} exec --shell \"$GK_SHELL\"; echo EXIT=$?");
    let mut pty = support::pty::Pty::start(script, &line);
    pty.wait_until("the prompt", |seen| {
        String::from_utf8_lossy(seen).contains("[a] approve once")
    });
    pty.send("d");
    pty.finish();
    let text = String::from_utf8_lossy(&pty.seen);
    assert_inert(&pty.seen, "the prompt");
    assert!(
        text.contains(
            "  command:   kubectl delete ns prod #\\e[2K\\e[1G command: kubectl get pods"
        ),
        "{text}"
    );
    assert!(text.contains("EXIT=77"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Denials, the ledger and `check`, without a terminal
// ---------------------------------------------------------------------------------------

#[test]
fn a_denial_on_stderr_audit_show_and_check_show_every_field_escaped() {
    let m = Machine::new();
    // The ledger's own path is printed in the denial: let it carry the bytes too.
    let state = m.dir().join(hostile("state"));
    let out = m
        .gatekeep()
        .env("XDG_STATE_HOME", &state)
        .args(["exec", "--reason", &hostile("reason"), "--"])
        .args(["touch", "denied", &hostile("word")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", text(&out));
    assert_inert(&out.stderr, "the denial");
    assert_no_controls(&out.stderr, "the denial");
    assert_shows(&out.stderr, &["word", "state"], "the denial");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gatekeep: denied: `touch denied '")
            && stderr.contains("Touching a denied file is not allowed."),
        "{stderr}"
    );

    let out = m
        .gatekeep()
        .env("XDG_STATE_HOME", &state)
        .args(["audit", "show"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_inert(&out.stdout, "audit show");
    assert_no_controls(&out.stdout, "audit show");
    assert_shows(&out.stdout, &["word"], "audit show");

    // `--json` is data: the exact text, escaped by JSON.
    let out = m
        .gatekeep()
        .env("XDG_STATE_HOME", &state)
        .args(["audit", "show", "--json"])
        .output()
        .unwrap();
    let record: Value =
        serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(record["reason"], hostile("reason"));

    let out = m
        .gatekeep()
        .args(["check", "--", "touch", "marker", &hostile("word")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    assert_inert(&out.stdout, "check");
    assert_no_controls(&out.stdout, "check");
    assert_shows(&out.stdout, &["word", "rule"], "check");
}

#[test]
fn a_hook_answer_quotes_the_command_escaped() {
    let m = Machine::new();
    let input = serde_json::json!({
        "session_id": "s",
        "cwd": m.cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": format!("touch denied '{}'", hostile("word"))},
    });
    let mut child = m
        .gatekeep()
        .args(["hook", "claude-code"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap();
    assert_eq!(answer["hookSpecificOutput"]["permissionDecision"], "deny");
    // Claude Code shows the reason to a person: decoded from JSON, it is still inert.
    assert_inert(reason.as_bytes(), "the hook's reason");
    assert_shows(reason.as_bytes(), &["word"], "the hook's reason");
}

// ---------------------------------------------------------------------------------------
// The approval service: `show`, `pending`, the requester's denial, the server's log
// ---------------------------------------------------------------------------------------

/// A child's pipe, read to its end on a thread.
#[derive(Clone)]
struct Pipe {
    bytes: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
}

impl Pipe {
    fn collect(mut pipe: impl Read + Send + 'static) -> Pipe {
        let collected = Pipe {
            bytes: Arc::default(),
            closed: Arc::default(),
        };
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            sink.closed.store(true, Ordering::SeqCst);
        });
        collected
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Everything, once the writer has closed the pipe (at most 20 s).
    fn rest(&self) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.closed.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the pipe stays open:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.bytes()
    }
}

/// `gatekeep server` on 127.0.0.1 with its own data directory, logging at `info`.
struct Server {
    data: TempDir,
    child: Child,
    log: Pipe,
    url: String,
    key_id: String,
}

impl Server {
    fn start() -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut child = Server::command(data.path())
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Pipe::collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let (url, key_id) = loop {
            let text = log.text();
            let find = |prefix: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .map(|v| v.trim().to_owned())
            };
            if let (Some(url), Some(key)) = (
                find("gatekeep server: listening on "),
                find("gatekeep server: signing key "),
            ) {
                break (url, key);
            }
            assert!(
                Instant::now() < deadline && child.try_wait().unwrap().is_none(),
                "gatekeep server did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Server {
            data,
            child,
            log,
            url,
            key_id,
        }
    }

    fn command(data: &Path) -> Command {
        let mut cmd = Command::new(GK);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", data)
            .env("GATEKEEP_KEYRING", "off")
            .env("GATEKEEP_LOG", "info")
            .arg("server");
        cmd
    }

    /// `gatekeep server token create ARGS`: the token.
    fn token(&self, args: &[&str]) -> String {
        let out = Server::command(self.data.path())
            .args(["token", "create"])
            .args(args)
            .arg("--data")
            .arg(self.data.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "token create: {}", text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gatekeep login` on `m` (or with a plain environment for an approver's `home`).
fn login(mut cmd: Command, server: &Server, token: &str) {
    let mut child = cmd
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
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "login: {}", text(&out));
}

/// An approver's machine: a plain environment, logged in as `alice`.
struct Approver {
    home: TempDir,
}

impl Approver {
    fn of(server: &Server) -> Approver {
        let a = Approver {
            home: tempfile::tempdir().unwrap(),
        };
        login(
            a.gatekeep(),
            server,
            &server.token(&["--approver", "alice"]),
        );
        a
    }

    fn gatekeep(&self) -> Command {
        let mut cmd = Command::new(GK);
        support::sandbox::isolate(&mut cmd, self.home.path(), Some("alice"));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.gatekeep().args(args).output().unwrap()
    }
}

/// A log line the command tries to forge after a newline.
const FORGED: &str = "2026-01-01T00:00:00.000000Z  INFO gatekeep::server::http: decision id=FORGED by=alice approve=true";

#[test]
fn an_approver_reads_every_field_escaped_and_the_log_holds_no_forged_line() {
    let server = Server::start();
    let m = Machine::new();
    login(m.gatekeep(), &server, &server.token(&["--agent", "ci-bot"]));
    let approver = Approver::of(&server);

    // The agent asks from its hostile directory, branch, user, host and name, with a
    // hostile reason and a word that also tries to forge a line of the server's log.
    let word = format!("{}\n{FORGED}", hostile("word"));
    let (mut exec, host) = m.on_hostile_host("setsid");
    let mut agent = exec
        .args(["-w", GK, "exec", "--agent", &hostile("agent")])
        .args([
            "--reason",
            &hostile("reason"),
            "--",
            "touch",
            "marker",
            &word,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent_err = Pipe::collect(agent.stderr.take().unwrap());

    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let out = approver.run(&["pending", "--json"]);
        assert!(out.status.success(), "pending: {}", text(&out));
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(r) = list.first() {
            break r["id"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no request arrived; agent: {}\nserver: {}",
            agent_err.text(),
            server.log.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    let mut fields = vec!["word", "reason", "agent", "cwd", "user"];
    if host {
        fields.push("host");
    }
    let out = approver.run(&["show", &id]);
    assert!(out.status.success(), "show: {}", text(&out));
    assert_inert(&out.stdout, "show");
    assert_no_controls(&out.stdout, "show");
    assert_shows(&out.stdout, &fields, "show");
    let shown_text = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown_text
            .lines()
            .any(|l| l.starts_with("command   touch marker '")
                && l.contains(&format!("\\n{FORGED}"))),
        "the command is one line, its newline visible:\n{shown_text}"
    );

    let out = approver.run(&["pending"]);
    assert!(out.status.success(), "pending: {}", text(&out));
    assert_inert(&out.stdout, "pending");
    assert_no_controls(&out.stdout, "pending");
    assert_shows(&out.stdout, &["word", "user"], "pending");

    // The approver denies with a reason of their own; the agent's stderr shows it escaped.
    let out = approver.run(&["deny", &id, "--reason", &hostile("denial")]);
    assert!(out.status.success(), "deny: {}", text(&out));
    assert_inert(&out.stdout, "deny");
    let status = agent.wait().unwrap();
    assert_eq!(status.code(), Some(77));
    let stderr = agent_err.rest();
    assert_inert(&stderr, "the agent's denial");
    assert_no_controls(&stderr, "the agent's denial");
    assert_shows(&stderr, &["word", "denial"], "the agent's denial");

    // `audit show` on the agent's machine: the command and who decided, escaped.
    let out = m.gatekeep().args(["audit", "show"]).output().unwrap();
    assert_inert(&out.stdout, "audit show");
    assert_no_controls(&out.stdout, "audit show");
    assert_shows(&out.stdout, &["word"], "audit show");

    // The server's log: the request is one line; the forged text is on it, escaped.
    let bytes = server.log.bytes();
    let log = String::from_utf8_lossy(&bytes);
    assert!(
        log.lines()
            .all(|l| !l.contains("id=FORGED") || l.contains("request created")),
        "a forged line reached the log:\n{log}"
    );
    assert_inert(&bytes, "the server's log");
    let created: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request created"))
        .collect();
    assert_eq!(created.len(), 1, "{log}");
    assert!(
        created[0].contains(&shown("word")) && created[0].contains(&format!("\\n{FORGED}")),
        "{log}"
    );
}
