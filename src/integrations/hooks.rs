//! Agent hooks: the PreToolUse protocol of Claude Code and of Codex for their Bash tools.
//!
//! The agent sends JSON on stdin (`tool_name`, `tool_input.command`, `cwd`, `session_id`);
//! gatekeep answers on stdout and exits 0. The hook fails closed: bad input, a broken
//! policy, an internal error or a panic answers `deny` with the reason, never a crash or a
//! silent exit that the agent could take as "allow".
//!
//! The two protocols differ in their answers. Claude Code takes `allow`, `deny` and `ask`
//! (its own permission dialog). Codex takes `deny`; it reads a bare `allow` as an
//! unsupported rewrite and does not support `ask`, so for Codex "allow" is an empty answer
//! and a command that needs approval is denied with what to do instead.
//!
//! A command that needs approval: a rule that allows no approval at the terminal (or needs
//! a quorum) is denied, since that takes the approval service. Otherwise Claude Code is
//! answered `ask`, so that the person at Claude Code approves it in its own dialog, and
//! Codex, which has no `ask`, is denied with what to do instead. gatekeep's own terminal
//! prompt is used only when asked for (`--prompt`): both agents run full-screen interfaces
//! that own the terminal, and a second reader of the same keys would race them.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::approval::prompt::{self, Answer};
use crate::audit::ledger::Ledger;
use crate::audit::{self, Requester, redact};
use crate::gate::{self, Command};
use crate::policy::{Assessment, Decision};

/// Which agent's protocol to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Agent {
    #[value(name = "claude-code")]
    ClaudeCode,
    Codex,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
        }
    }
}

/// Largest hook input read, in bytes: more is refused rather than buffered.
pub const MAX_INPUT: u64 = 1024 * 1024;

/// The hook timeout `gatekeep hook install` writes into the agent's settings, in seconds.
pub const HOST_TIMEOUT_SECS: u64 = 600;

/// How long the hook waits for a person, at most: well inside the host's timeout, because
/// a hook the host kills for running too long counts as a failure that does not block.
pub const MAX_WAIT_SECS: u64 = HOST_TIMEOUT_SECS * 9 / 10;

/// How a hook answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not gatekeep's business (another tool than Bash): no decision at all, so the agent's
    /// own permission rules stay in charge. An `allow` here would let Claude Code skip them.
    Abstain,
    Allow(String),
    Ask(String),
    Deny(String),
}

/// Reads the hook input from stdin, decides, prints the answer. Always exits 0 with a valid
/// answer, also when something fails (the answer is then `deny`).
pub fn run(agent: Agent, prompt: bool) -> ExitCode {
    // A panic must still produce a deny. Release builds abort on panic, so unwinding cannot
    // be caught: the panic hook answers deny and exits 2 (which both agents read as "block",
    // stderr being the reason) before the abort.
    std::panic::set_hook(Box::new(move |info| {
        let reason = format!(
            "gatekeep failed internally while checking the command ({info}), so it was refused; please report this"
        );
        println!("{}", answer(agent, &Verdict::Deny(reason.clone())));
        eprintln!("{}", crate::render::terminal_safe_lines(&reason));
        std::process::exit(2);
    }));
    let verdict = std::panic::catch_unwind(|| {
        let mut input = Vec::new();
        let read = std::io::stdin().take(MAX_INPUT + 1).read_to_end(&mut input);
        match read {
            Err(e) => Verdict::Deny(format!("gatekeep could not read the hook input ({e}), so the command was refused")),
            Ok(_) if input.len() as u64 > MAX_INPUT => {
                Verdict::Deny(format!("the hook input is larger than {MAX_INPUT} bytes, so gatekeep refused the command"))
            }
            Ok(_) => decide(agent, &input, prompt),
        }
    })
    .unwrap_or_else(|_| Verdict::Deny("gatekeep failed internally while checking the command, so it was refused; please report this".into()));
    println!("{}", answer(agent, &verdict));
    ExitCode::SUCCESS
}

/// The answer JSON for `verdict` in `agent`'s protocol.
pub fn answer(agent: Agent, verdict: &Verdict) -> Value {
    let (decision, reason) = match verdict {
        Verdict::Abstain => return json!({}),
        Verdict::Allow(r) => ("allow", r),
        Verdict::Ask(r) => ("ask", r),
        Verdict::Deny(r) => ("deny", r),
    };
    if agent == Agent::Codex && decision == "allow" {
        // Codex proceeds on an answer without a decision.
        return json!({});
    }
    json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": reason,
        }
    })
}

/// Decides one hook input; `prompt`: ask at the terminal for commands that need approval.
pub fn decide(agent: Agent, input: &[u8], prompt: bool) -> Verdict {
    let value: Value = match serde_json::from_slice(input) {
        Ok(v) => v,
        Err(e) => {
            return Verdict::Deny(format!(
                "gatekeep could not read the hook input as JSON ({e}), so the command was refused"
            ));
        }
    };
    let tool = value.get("tool_name").and_then(Value::as_str);
    if tool.is_some_and(|t| t != "Bash") {
        // Only shell commands are gatekeep's business; other tools keep their own rules.
        return Verdict::Abstain;
    }
    let Some(command) = value.pointer("/tool_input/command").and_then(Value::as_str) else {
        return Verdict::Deny(
            "the hook input has no tool_input.command, so gatekeep refused the command".into(),
        );
    };
    let cwd = value
        .get("cwd")
        .and_then(Value::as_str)
        .map(std::path::PathBuf::from);
    let cwd = match cwd.or_else(|| std::env::current_dir().ok()) {
        Some(cwd) => cwd,
        None => return Verdict::Deny("the hook input has no cwd and the current directory cannot be read, so gatekeep refused the command".into()),
    };
    let policy = match gate::load_policy(&cwd) {
        Ok(p) => p,
        Err(e) => {
            return Verdict::Deny(format!(
                "gatekeep's policy does not load, so no command is allowed until it is fixed: {e}"
            ));
        }
    };
    let command = Command::Shell(command.to_owned());
    // The command runs in the harness's directory with (as far as gatekeep can know) the
    // environment the hook was started with.
    let assessment = gate::assess_in(&command, &policy, &crate::host::LiveHost::new(&cwd));
    let session = value
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let agent_name = format!(
        "{}{}",
        agent.name(),
        if session.is_empty() {
            String::new()
        } else {
            format!(" session {session}")
        }
    );
    let requester = Requester::current(&cwd, Some(agent_name));
    let verdict = match assessment.decision {
        Decision::Allow => Verdict::Allow("allowed by gatekeep policy".into()),
        Decision::Deny => Verdict::Deny(denial(&assessment, "gatekeep policy", None)),
        Decision::Approve => approve(agent, &command, &assessment, &requester, prompt),
    };
    record(&command, &assessment, &requester, &verdict);
    verdict
}

/// Records the hook's decision in the ledger (fsynced unless it is a plain allow).
fn record(command: &Command, a: &Assessment, requester: &Requester, verdict: &Verdict) {
    let (decision, reason) = match verdict {
        // Never reached: only Bash commands are decided, and so recorded.
        Verdict::Abstain => return,
        Verdict::Allow(r) => ("allow", r),
        Verdict::Ask(r) => ("ask", r),
        Verdict::Deny(r) => ("deny", r),
    };
    let argv = command.argv();
    let who = format!(
        "{}@{}/{}",
        requester.user,
        requester.host,
        requester.agent.as_deref().unwrap_or("")
    );
    let Value::Object(record) = json!({
        "time": audit::now_rfc3339(),
        "event": "decision",
        "channel": "hook",
        "id": audit::new_request_id(),
        "command": command.display(),
        "argv": redact::mask_argv(&argv),
        "digest": audit::command_digest(&argv, &requester.cwd, &who),
        "requester": requester,
        "policy": {"decision": a.decision, "risk": a.risk, "reason": a.reason},
        "decision": decision,
        "decided_by": "gatekeep hook",
        "why": redact::mask_text(reason),
    }) else {
        return;
    };
    // The hook's answer stands whether or not it could be recorded: a deny stays a deny,
    // and the agent's own run records the rest.
    let _ = Ledger::default_location().append(record, decision != "allow");
}

fn approve(
    agent: Agent,
    command: &Command,
    a: &Assessment,
    requester: &Requester,
    use_prompt: bool,
) -> Verdict {
    let req = a.requirements.clone().unwrap_or_default();
    // The reason quotes the command: Claude Code shows it to the person in its dialog.
    let why = crate::render::terminal_safe(&a.reason).into_owned();
    if !req.local_approval || req.quorum > 1 {
        // Neither the agent's dialog nor the terminal may stand in for the approval service.
        let quorum = if req.quorum > 1 {
            format!(" and needs {} approvers", req.quorum)
        } else {
            String::new()
        };
        return Verdict::Deny(format!(
            "gatekeep: this needs approval through the approval service (its rule allows no approval at the terminal{quorum}), and none is configured. {why}\nnext step: ask the user to run it themselves"
        ));
    }
    if use_prompt && let Some(mut tty) = prompt::open_terminal() {
        let rules = prompt::rules_asking(a);
        let id = audit::new_request_id();
        let request = prompt::Request {
            command: &command.display(),
            rules,
            risk: a.risk.to_string(),
            cwd: &requester.cwd,
            branch: requester.git.as_ref().and_then(|g| g.branch.as_deref()),
            requester: format!(
                "{}@{} ({})",
                requester.user,
                requester.host,
                requester.agent.as_deref().unwrap_or(agent.name())
            ),
            reason: None,
            request_id: &id,
        };
        let wait = Duration::from_secs(req.timeout_secs.min(MAX_WAIT_SECS));
        return match prompt::ask(&mut tty, &request, wait) {
            Ok(Answer::Approved) => Verdict::Allow(format!(
                "approved by {} at the terminal",
                crate::render::Safe(&requester.user)
            )),
            Ok(Answer::Denied { reason }) => Verdict::Deny(denial(
                a,
                &format!("{} at the terminal", requester.user),
                reason.as_deref(),
            )),
            Ok(Answer::Expired) => Verdict::Deny(format!(
                "{why}\nnobody approved it in time; ask the user to approve it, then try again"
            )),
            Ok(Answer::Interrupted(_)) => {
                Verdict::Deny(format!("{why}\nthe approval was cancelled"))
            }
            Err(e) => Verdict::Deny(format!(
                "{why}\nthe approval prompt failed ({e}), so the command was refused"
            )),
        };
    }
    match agent {
        // A person decides in Claude Code's own permission dialog.
        Agent::ClaudeCode => {
            Verdict::Ask(format!("gatekeep: this needs a person's approval. {why}"))
        }
        Agent::Codex => Verdict::Deny(format!(
            "gatekeep: this needs a person's approval and none can be asked here. {why}\nnext step: ask the user to run it themselves or to approve it"
        )),
    }
}

/// The reason shown to the agent for a denial: what, which rule, who, what next.
fn denial(a: &Assessment, by: &str, reason: Option<&str>) -> String {
    // The agent's harness may show this to a person: the command quoted in the reason and
    // a reason typed at the prompt are rendered terminal-safe.
    let mut text = format!(
        "gatekeep denied this command. {}\ndecided by: {}",
        crate::render::Safe(&a.reason),
        crate::render::Safe(by)
    );
    if let Some(reason) = reason {
        text.push_str(&format!("\nreason: {}", crate::render::Safe(reason)));
    }
    text.push_str(
        "\nnext step: do not retry it or work around it; ask the user what they want instead",
    );
    text
}

/// The settings snippet that installs the hook for `agent`.
pub fn settings_snippet(agent: Agent, binary: &str) -> Value {
    let hook = json!({"type": "command", "command": format!("{binary} hook {}", agent.name()), "timeout": HOST_TIMEOUT_SECS});
    json!({"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [hook]}]}})
}

/// `gatekeep hook install AGENT`: merges the hook into the agent's settings file, showing
/// the change first and asking unless `yes`.
pub fn install(agent: Agent, project: bool, yes: bool) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let home = std::env::var_os(crate::env_vars::HOME)
        .map(std::path::PathBuf::from)
        .context("HOME is not set")?;
    let base = if project {
        std::env::current_dir()?
    } else {
        home
    };
    let path = match agent {
        Agent::ClaudeCode => base.join(".claude/settings.json"),
        Agent::Codex => base.join(".codex/hooks.json"),
    };
    let before: Value = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON; fix it first", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let binary = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "gatekeep".into());
    let after = merge_hook(&before, agent, &binary);
    if after == before {
        println!(
            "{} already runs the gatekeep hook; nothing to change",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let old = serde_json::to_string_pretty(&before)?;
    let new = serde_json::to_string_pretty(&after)?;
    println!(
        "--- {} (now)\n+++ {} (with the gatekeep hook)",
        path.display(),
        path.display()
    );
    for line in diff_lines(&old, &new) {
        println!("{line}");
    }
    if !yes {
        eprint!("write this change? [y/N] ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            println!("nothing written");
            return Ok(ExitCode::from(crate::exit::ERROR));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, new + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `settings` with gatekeep's PreToolUse hook for Bash added (once).
pub fn merge_hook(settings: &Value, agent: Agent, binary: &str) -> Value {
    let mut out = settings.clone();
    let snippet = settings_snippet(agent, binary);
    let entry = snippet["hooks"]["PreToolUse"][0].clone();
    let Some(root) = out.as_object_mut() else {
        return snippet;
    };
    let hooks = root.entry("hooks").or_insert_with(|| json!({}));
    let Some(hooks) = hooks.as_object_mut() else {
        return snippet;
    };
    let pre = hooks.entry("PreToolUse").or_insert_with(|| json!([]));
    let Some(list) = pre.as_array_mut() else {
        return snippet;
    };
    let present = list.iter().any(|e| {
        e["hooks"].as_array().is_some_and(|hs| {
            hs.iter().any(|h| {
                h["command"]
                    .as_str()
                    .is_some_and(|c| c.contains(" hook ") && c.contains("gatekeep"))
            })
        })
    });
    if !present {
        list.push(entry);
    }
    out
}

/// A line diff good enough to show a settings change: removed lines with `-`, added `+`.
fn diff_lines(old: &str, new: &str) -> Vec<String> {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    // Longest common subsequence over lines; settings files are small.
    let mut lcs = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push(format!(" {}", old[i]));
            i += 1;
            j += 1;
        } else if j < new.len() && (i == old.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+{}", new[j]));
            j += 1;
        } else {
            out.push(format!("-{}", old[i]));
            i += 1;
        }
    }
    out
}
