//! Agents meeting gatekeep: the PreToolUse hooks of Claude Code and Codex fed the documented
//! JSON (and broken JSON, and a broken policy), the tool-definition result channel, and the
//! shipped examples, all with the real binary and no controlling terminal.
#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support;

const GK: &str = env!("CARGO_BIN_EXE_gatekeep");

struct Env {
    home: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    /// `args` run by gatekeep in a new session (no terminal), with `stdin` fed in.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new("setsid");
        support::sandbox::isolate(&mut cmd, self.dir(), None);
        let mut child = cmd
            .arg("-w")
            .arg(GK)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        // A huge input may be refused before it is all written: ignore a broken pipe.
        let _ = input.write_all(stdin);
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn hook(&self, agent: &str, input: &[u8]) -> Value {
        let out = self.run(&["hook", agent], input);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "one JSON answer: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn ledger(&self) -> String {
        std::fs::read_to_string(self.dir().join("state/gatekeep/ledger.jsonl")).unwrap_or_default()
    }
}

/// The documented PreToolUse input for a Bash command.
fn input(agent: &str, cwd: &Path, command: &str) -> Vec<u8> {
    let mut v = json!({
        "session_id": "abc123",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": cwd,
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "a test"},
        "tool_use_id": "toolu_01",
    });
    if agent == "codex" {
        v["model"] = json!("gpt-5");
        v["permission_mode"] = json!("default");
        v["tool_input"] = json!({"command": command});
    }
    serde_json::to_vec(&v).unwrap()
}

fn decision(answer: &Value) -> Option<&str> {
    answer
        .pointer("/hookSpecificOutput/permissionDecision")
        .and_then(Value::as_str)
}

fn reason(answer: &Value) -> &str {
    answer
        .pointer("/hookSpecificOutput/permissionDecisionReason")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn assert_valid_deny(answer: &Value, mentions: &str) {
    assert_eq!(decision(answer), Some("deny"), "{answer}");
    assert_eq!(
        answer
            .pointer("/hookSpecificOutput/hookEventName")
            .and_then(Value::as_str),
        Some("PreToolUse")
    );
    assert!(
        reason(answer).contains(mentions),
        "reason should mention {mentions:?}: {answer}"
    );
}

#[test]
fn claude_code_allowed_denied_and_escalated() {
    let env = Env::new();
    let allow = env.hook(
        "claude-code",
        &input("claude-code", env.dir(), "git status --short"),
    );
    assert_eq!(decision(&allow), Some("allow"));
    let deny = env.hook(
        "claude-code",
        &input(
            "claude-code",
            env.dir(),
            "cd / && rm -rf --no-preserve-root /",
        ),
    );
    assert_valid_deny(&deny, "rm-no-preserve-root");
    assert!(reason(&deny).contains("next step:"), "{deny}");
    // No terminal: a person decides in Claude Code's own permission dialog.
    let ask = env.hook(
        "claude-code",
        &input("claude-code", env.dir(), "kubectl delete ns prod"),
    );
    assert_eq!(decision(&ask), Some("ask"));
    assert!(reason(&ask).contains("kubectl-mutate"), "{ask}");
    // Other tools are not gatekeep's business: no decision, so Claude Code's own permission
    // rules still apply to them (an "allow" would skip them).
    let other = env.hook(
        "claude-code",
        br#"{"tool_name":"Write","tool_input":{"file_path":"/etc/hosts"},"cwd":"/"}"#,
    );
    assert_eq!(other, json!({}));
    let ledger = env.ledger();
    assert!(
        ledger.contains("\"channel\":\"hook\"") && ledger.contains("claude-code session abc123"),
        "{ledger}"
    );
}

#[test]
fn codex_allowed_denied_and_escalated() {
    let env = Env::new();
    // Codex reads a bare "allow" as an unsupported rewrite: allowed is an empty answer.
    assert_eq!(
        env.hook("codex", &input("codex", env.dir(), "cargo test")),
        json!({})
    );
    assert_valid_deny(
        &env.hook("codex", &input("codex", env.dir(), "mkfs.ext4 /dev/sda1")),
        "mkfs",
    );
    // Codex has no "ask": a command that needs approval is refused with what to do.
    let escalated = env.hook(
        "codex",
        &input("codex", env.dir(), "terraform destroy -auto-approve"),
    );
    assert_valid_deny(&escalated, "needs a person's approval");
    assert!(reason(&escalated).contains("next step:"), "{escalated}");
}

#[test]
fn every_failure_is_a_valid_deny() {
    let env = Env::new();
    let huge = format!(
        "{{\"tool_name\":\"Bash\",\"tool_input\":{{\"command\":\"{}\"}}}}",
        "a".repeat(2 << 20)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"rm -rf /".to_vec(), "as JSON"),
        ("empty", Vec::new(), "as JSON"),
        ("a JSON array", b"[1,2]".to_vec(), "tool_input.command"),
        (
            "no tool_input",
            br#"{"tool_name":"Bash","cwd":"/"}"#.to_vec(),
            "tool_input.command",
        ),
        (
            "command not a string",
            br#"{"tool_name":"Bash","tool_input":{"command":["rm","-rf","/"]}}"#.to_vec(),
            "tool_input.command",
        ),
        ("huge input", huge.into_bytes(), "larger than"),
    ];
    for agent in ["claude-code", "codex"] {
        for (name, body, mentions) in &cases {
            let answer = env.hook(agent, body);
            assert_eq!(decision(&answer), Some("deny"), "{agent} {name}: {answer}");
            assert!(
                reason(&answer).contains(mentions),
                "{agent} {name}: {answer}"
            );
        }
    }
}

#[test]
fn a_broken_policy_denies_even_harmless_commands() {
    let env = Env::new();
    let project = env.dir().join("repo");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join(".gatekeep.toml"),
        "[[rule]]\nid = \"x\"\ndecision = \"allow\"\n",
    )
    .unwrap();
    for agent in ["claude-code", "codex"] {
        let answer = env.hook(agent, &input(agent, &project, "ls"));
        assert_valid_deny(&answer, ".gatekeep.toml:");
    }
}

#[test]
fn install_writes_the_hook_once_and_keeps_other_settings() {
    let env = Env::new();
    let settings = env.dir().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(
        &settings,
        r#"{"model": "opus", "hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": []}]}}"#,
    )
    .unwrap();
    let out = env.run(&["hook", "install", "claude-code", "--yes"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("+") && shown.contains("hook claude-code"),
        "the change is shown first: {shown}"
    );
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(written["model"], "opus");
    assert!(written["hooks"]["PostToolUse"].is_array());
    let hook = &written["hooks"]["PreToolUse"][0];
    assert_eq!(hook["matcher"], "Bash");
    assert!(
        hook["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("gatekeep hook claude-code")
    );
    // Again: nothing to change.
    let again = env.run(&["hook", "install", "claude-code", "--yes"], b"");
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));
    // Without --yes and without a "y", nothing is written.
    let out = env.run(&["hook", "install", "codex"], b"n\n");
    assert!(!out.status.success());
    assert!(!env.dir().join(".codex/hooks.json").exists());
    let out = env.run(&["hook", "install", "codex"], b"y\n");
    assert!(out.status.success());
    let codex: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir().join(".codex/hooks.json")).unwrap(),
    )
    .unwrap();
    assert!(
        codex["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("hook codex")
    );
}

fn read_result(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn result_channel_keeps_the_commands_output_apart() {
    let env = Env::new();
    let result = env.dir().join("result.json");
    let r = result.to_str().unwrap();
    let out = env.run(
        &[
            "exec",
            "--result",
            r,
            "--",
            "bash",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (b"out\n".as_slice(), b"err\n".as_slice())
    );
    let v = read_result(&result);
    assert_eq!(
        (
            v["outcome"].as_str(),
            v["decision"].as_str(),
            v["exit_code"].as_i64()
        ),
        (Some("allowed"), Some("allow"), Some(3))
    );
    assert!(v["id"].as_str().is_some_and(|id| !id.is_empty()));

    let out = env.run(
        &[
            "exec",
            "--result",
            r,
            "--shell",
            "dd if=/dev/zero of=/dev/sda",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(77));
    let v = read_result(&result);
    assert_eq!(
        (v["outcome"].as_str(), v["exit_code"].as_i64()),
        (Some("denied"), Some(77))
    );
    assert_eq!(v["rules"][0]["id"], "disk-overwrite");
    assert!(v["message"].as_str().unwrap().contains("next step:") && v["decided_by"] == "policy");

    let out = env.run(
        &[
            "exec", "--result", r, "--", "kubectl", "delete", "ns", "prod",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(69));
    assert_eq!(read_result(&result)["outcome"], "refused");
}

#[test]
fn result_fd_is_not_inherited_by_the_command() {
    let env = Env::new();
    // The command tries to forge a result on descriptor 3; gatekeep closed it in the child.
    let script = format!(
        "{GK} exec --result-fd 3 -- bash -c 'echo forged >&3; echo ran' 3>{}/r.json",
        env.dir().display()
    );
    let out = env.run(&["exec", "--", "bash", "-c", &script], b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ran\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(env.dir().join("r.json")).unwrap();
    assert!(!text.contains("forged"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["exit_code"].as_i64()),
        (Some("allowed"), Some(0))
    );
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn openai_function_tool_example_runs_through_gatekeep() {
    let env = Env::new();
    let tool: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("openai-function-tool/tool.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(tool["function"]["name"], "run_shell");
    assert_eq!(
        tool["function"]["parameters"]["required"],
        json!(["command"])
    );
    let runner = examples().join("openai-function-tool/run_shell.py");
    let call = |args: Value| -> Value {
        let mut child = Command::new("setsid")
            .args(["-w", "python3"])
            .arg(&runner)
            .env("GATEKEEP", GK)
            .env("HOME", env.dir())
            .env("XDG_CONFIG_HOME", env.dir().join(".config"))
            .env("XDG_STATE_HOME", env.dir().join("state"))
            .current_dir(env.dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(args.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "runner failed");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let ok = call(json!({"command": "echo hello; exit 4", "reason": "demo"}));
    assert_eq!(
        (ok["exit_code"].as_i64(), ok["stdout"].as_str()),
        (Some(4), Some("hello\n"))
    );
    assert_eq!(ok["gatekeep"]["outcome"], "allowed");
    let denied = call(json!({"command": "rm -rf ~/"}));
    assert_eq!(
        (
            denied["exit_code"].as_i64(),
            denied["gatekeep"]["outcome"].as_str()
        ),
        (Some(77), Some("denied"))
    );
    assert!(
        denied["gatekeep"]["next_step"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(env.ledger().contains("openai-function-tool"));
}

#[test]
fn claude_code_settings_example_is_what_install_writes() {
    let shipped: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("claude-code/settings.json")).unwrap(),
    )
    .unwrap();
    let hook = &shipped["hooks"]["PreToolUse"][0];
    assert_eq!(hook["matcher"], "Bash");
    let command = hook["hooks"][0]["command"].as_str().unwrap();
    assert_eq!(command, "gatekeep hook claude-code");
    assert_eq!(
        shipped,
        gatekeep::integrations::hooks::settings_snippet(
            gatekeep::integrations::hooks::Agent::ClaudeCode,
            "gatekeep"
        )
    );
    // The command it names answers the documented protocol.
    let env = Env::new();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = env.run(
        &args,
        &input("claude-code", env.dir(), "git push --force origin main"),
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision(&answer), Some("ask"));
}

#[test]
fn rules_that_need_the_approval_service_are_not_asked_in_the_agents_dialog() {
    let env = Env::new();
    let policy = env.dir().join(".config/gatekeep/policy.toml");
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    std::fs::write(
        &policy,
        "[[rule]]\nid = \"prod-deploys\"\ndecision = \"approve\"\nrisk = \"high\"\nmessage = \"prod deploys need two people\"\nprogram = [\"make\"]\nargs = [\"deploy\"]\nquorum = 2\n\n[[rule]]\nid = \"server-only\"\ndecision = \"approve\"\nrisk = \"high\"\nmessage = \"only through the approval service\"\nprogram = [\"make\"]\nargs = [\"release\"]\nlocal_approval = false\n",
    )
    .unwrap();
    for (command, mentions) in [
        ("make deploy", "2 distinct approvers"),
        ("make release", "approval service"),
    ] {
        let answer = env.hook("claude-code", &input("claude-code", env.dir(), command));
        assert_valid_deny(&answer, mentions);
    }
}
