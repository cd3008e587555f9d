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

use std::cell::RefCell;
use std::io::Read;
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use crate::approval::{prompt, remote};
use crate::audit::ledger::Ledger;
use crate::audit::{Requester, redact};
use crate::journey::event::{Decided, DecisionKind, LedgerEvent};
use crate::journey::refusal::{Refusal, RefusalKind};
use crate::journey::{self, Asked, Command, ExecOptions, Journey, no_one_to_ask};
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
pub fn run(agent: Agent, how: HookMode) -> ExitCode {
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
            Ok(_) => decide(agent, &input, how),
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

/// Decides one hook input, asking for approval as `how` allows.
pub fn decide(agent: Agent, input: &[u8], how: HookMode) -> Verdict {
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
    let policy = match journey::load_policy(&cwd) {
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
    let assessment = journey::assess_in(&command, &policy, &crate::host::LiveHost::new(&cwd));
    // The session id is the agent's text: it names the requester in every record and request,
    // so it is bounded (the service refuses origin fields over 4 KiB outright).
    let session: String = value
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(128)
        .collect();
    let agent_name = format!(
        "{}{}",
        agent.name(),
        if session.is_empty() {
            String::new()
        } else {
            format!(" session {session}")
        }
    );
    let requester = Requester::current(&cwd, Some(agent_name.clone()));
    let opts = ExecOptions {
        agent: Some(agent_name),
        ..ExecOptions::default()
    };
    let ledger = Ledger::default_location();
    let result = RefCell::new(Map::new());
    let trip = Journey::new(&command, &opts, &requester, &ledger, &result).with(&assessment);
    let hook = Hook {
        agent,
        how,
        trip: &trip,
        command: &command,
        a: &assessment,
    };
    match assessment.decision {
        Decision::Allow => {
            // The hook's answer stands whether or not it could be recorded: the agent's own
            // run records the rest.
            let _ = trip.record(
                Decided::new(DecisionKind::Allow).by("policy").on("hook"),
                false,
            );
            Verdict::Allow("allowed by gatekeep policy".into())
        }
        Decision::Deny => {
            let _ = trip.record(
                Decided::new(DecisionKind::Deny).by("policy").on("hook"),
                true,
            );
            hook.deny(&Refusal::new(RefusalKind::Policy, "gatekeep policy", None))
        }
        Decision::Approve => hook.approve(),
    }
}

/// How the hook may ask for approval (its command-line flags).
#[derive(Clone, Copy, Debug, Default)]
pub struct HookMode {
    /// `--prompt`: ask at gatekeep's own terminal prompt.
    pub prompt: bool,
    /// `--unattended`: nobody watches the agent, so a command that needs approval goes to
    /// the approval service even where the agent has a dialog of its own.
    pub unattended: bool,
}

/// One hook call on its way through the journey.
struct Hook<'a> {
    agent: Agent,
    how: HookMode,
    trip: &'a Journey<'a>,
    command: &'a Command,
    a: &'a Assessment,
}

impl Hook<'_> {
    /// A command that needs approval: through the approval service when nobody can answer
    /// the agent's own dialog (Codex has none; an unattended agent, or one with no terminal,
    /// has nobody at it) or when its rule demands the service; else the agent's dialog.
    fn approve(&self) -> Verdict {
        let mut req = self.a.requirements.clone().unwrap_or_default();
        // The verdict must come before the agent's hook timeout kills the hook.
        req.timeout_secs = req.timeout_secs.min(MAX_WAIT_SECS);
        if self
            .trip
            .record(
                LedgerEvent::Request {
                    requirements: req.clone(),
                },
                true,
            )
            .is_err()
        {
            return Verdict::Deny(
                "gatekeep could not record the request, so the command was refused".into(),
            );
        }
        let needs_service = !req.local_approval || req.quorum > 1;
        let server = match remote::load_config() {
            Ok(server) => server,
            Err(e) => {
                let asked = self
                    .trip
                    .not_asked(RefusalKind::Misconfigured, &e.to_string());
                return self.answer(asked);
            }
        };
        let tty = prompt::open_terminal();
        if self.how.prompt
            && !needs_service
            && let Some(tty) = tty
        {
            return self.answer(self.trip.ask_terminal(self.a, &req, tty));
        }
        let nobody_here = self.agent == Agent::Codex || self.how.unattended || tty.is_none();
        match server {
            Some(server) if needs_service || nobody_here => {
                self.answer(self.trip.ask_service(self.a, &req, &server))
            }
            None if needs_service => {
                let why = no_one_to_ask(&req, tty.is_some());
                self.answer(self.trip.not_asked(RefusalKind::Unavailable, &why))
            }
            _ => self.ask_agent(),
        }
    }

    /// Hands the decision to the agent's own permission dialog (Claude Code), or denies with
    /// what to do instead where there is none (Codex).
    fn ask_agent(&self) -> Verdict {
        // The reason quotes the command: Claude Code shows it to the person in its dialog.
        let why = crate::render::terminal_safe(&self.a.reason).into_owned();
        let (kind, verdict) = match self.agent {
            Agent::ClaudeCode => (
                DecisionKind::Ask,
                Verdict::Ask(format!("gatekeep: this needs a person's approval. {why}")),
            ),
            Agent::Codex => (
                DecisionKind::Deny,
                Verdict::Deny(format!(
                    "gatekeep: this needs a person's approval and none can be asked here. {why}\nnext step: ask the user to run it themselves, to approve it, or to configure the approval service (`gatekeep login`)"
                )),
            ),
        };
        let reason = match &verdict {
            Verdict::Ask(r) | Verdict::Deny(r) => r.clone(),
            _ => String::new(),
        };
        let _ = self.trip.record(
            Decided::new(kind)
                .by("gatekeep hook")
                .on("hook")
                .why(redact::mask_text(&reason)),
            true,
        );
        verdict
    }

    /// The agent's answer for how asking ended. `allow` only on an approval, which for the
    /// service means a verdict verified for exactly this command string.
    fn answer(&self, asked: Asked) -> Verdict {
        match asked {
            Asked::Approved { by, .. } => Verdict::Allow(format!(
                "approved by {} (gatekeep request {})",
                crate::render::Safe(&by),
                self.trip.request_label()
            )),
            Asked::Refused(refusal) => self.deny(&refusal),
            Asked::Interrupted(sig) => self.deny(&Refusal::new(
                RefusalKind::Denied,
                "gatekeep",
                Some(&format!(
                    "the wait for approval was stopped by signal {sig}"
                )),
            )),
            Asked::Stopped(_) => self.deny(&Refusal::new(
                RefusalKind::Unavailable,
                "gatekeep",
                Some("asking for approval failed (see the hook's stderr)"),
            )),
        }
    }

    fn deny(&self, refusal: &Refusal) -> Verdict {
        Verdict::Deny(refusal.text(
            &self.command.display(),
            self.a,
            Some(&self.trip.request_label()),
            None,
        ))
    }
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
