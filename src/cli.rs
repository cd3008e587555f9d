//! The command line: clap definitions, and a thin dispatch onto [`crate::journey`] and
//! [`crate::policy`]. Data goes to stdout, diagnostics to stderr; `--json` gives exactly one
//! JSON object on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::journey::{self, Command};
use crate::policy::layers::{self, ExampleFailure};
use crate::policy::{Assessment, Decision, Layer, LayerKind, Policy};
use crate::render::{self, Safe, terminal_safe};

#[derive(Debug, Parser)]
#[command(
    name = "gatekeep",
    version,
    about = "Puts a human signature on the privileged commands that AI agents and pipelines run"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run a command after the gate: allowed commands run at once, others wait for approval.
    ///
    /// Exit status: the command's own (128+N if signal N ended it; 126 cannot run, 127 not
    /// found), or gatekeep's: 77 denied, 75 approval expired, 69 approval needed but no way
    /// to ask, 70 the decision could not be recorded, 78 policy error.
    Exec(ExecArgs),
    /// Show what gatekeep would decide for a command, without running it.
    ///
    /// Exit status: 0 allow, 10 approve, 77 deny, 78 policy error.
    Check(CheckArgs),
    /// Inspect and test the layered policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Read and verify the local ledger of decisions.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Print the snippet that guards an interactive shell: `eval "$(gatekeep init bash)"`.
    Init {
        #[arg(value_enum)]
        shell: crate::integrations::shell::Shell,
        #[arg(long, value_enum, default_value_t)]
        mode: crate::integrations::shell::Mode,
    },
    /// Answer an agent's PreToolUse hook (JSON on stdin, JSON on stdout).
    #[command(subcommand)]
    Hook(HookCmd),
    /// Run the approval service, or manage its tokens, audit trail and reports.
    #[cfg(feature = "server")]
    Server(Box<crate::server::cli::ServerArgs>),
    /// Connect this machine to an approval service: check a token (read from stdin), pin the
    /// service's signing key, and store both.
    Login(crate::service_cli::LoginArgs),
    /// Forget the approval service and its tokens.
    Logout,
    /// Show the approval service and the identities this machine's tokens stand for.
    Whoami,
    /// List the requests waiting for approval (approver token).
    Pending {
        #[arg(long)]
        json: bool,
        /// Follow the list as it changes: a full-screen view on a terminal (keys to open,
        /// approve and deny); with --json or without a terminal, one JSON line per new or
        /// changed request until interrupted.
        #[arg(long)]
        watch: bool,
    },
    /// Show one request.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a request (approver token; never your own).
    Approve {
        id: String,
        /// Why, recorded with the approval.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Deny a request; the agent is shown the reason.
    Deny {
        id: String,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Report whether the agent's unix user could move the trust anchor: who pinned the
    /// server key and whether the agent can write it, credentials, the ledger, the server
    /// URL, proxy variables, policy layers.
    ///
    /// One line per check (ok, warn, FAIL; each FAIL with the commands that fix it). Exit
    /// status 1 when anything FAILs.
    Doctor {
        /// The agent's unix user (default: the current user).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        #[arg(long)]
        json: bool,
        /// Read DIR as if it were `/` (tests; doctor only reads).
        #[arg(long, value_name = "DIR", hide = true)]
        root: Option<PathBuf>,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages into a directory (used to refresh `man/`).
    #[command(hide = true)]
    Man { dir: PathBuf },
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Why the command is needed, shown to the approver and recorded.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The agent's name, recorded with the command (default: $GATEKEEP_AGENT).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// When the command does not run, print the decision as JSON on stdout too.
    #[arg(long)]
    pub json: bool,
    /// Write the final result as JSON (decision, rule, approver, exit status, request id) to
    /// this open file descriptor, so the command's own output stays unmixed.
    #[arg(long, value_name = "FD", conflicts_with = "result")]
    pub result_fd: Option<i32>,
    /// Write the final result as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub result: Option<PathBuf>,
    /// Run one string with `bash -c`, exactly as approved.
    #[arg(long, value_name = "STRING", conflicts_with = "argv")]
    pub shell: Option<String>,
    /// The command, as an argv: `gatekeep exec -- kubectl delete ns prod`.
    #[arg(last = true, value_name = "ARGV", required_unless_present = "shell")]
    pub argv: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum HookCmd {
    /// Claude Code's PreToolUse hook for its Bash tool.
    #[command(name = "claude-code")]
    ClaudeCode {
        /// Ask at the terminal (`/dev/tty`) for commands that need approval, instead of in
        /// Claude Code's own dialog. For agents run where they do not own the terminal.
        #[arg(long)]
        prompt: bool,
        /// Nobody watches this agent (`claude -p` in CI): commands that need approval wait
        /// for the approval service instead of Claude Code's dialog. Implied when the hook
        /// has no terminal and a service is configured.
        #[arg(long)]
        unattended: bool,
    },
    /// Codex's PreToolUse hook for its Bash tool. Codex has no dialog: with an approval
    /// service configured, commands that need approval wait for it.
    Codex {
        /// Ask at the terminal (`/dev/tty`) for commands that need approval, instead of
        /// through the approval service. For agents run where they do not own the terminal.
        #[arg(long)]
        prompt: bool,
    },
    /// Write the hook into the agent's settings file, after showing the change.
    Install {
        #[arg(value_enum)]
        agent: crate::integrations::hooks::Agent,
        /// Settings of this project (`.claude/settings.json`, `.codex/hooks.json`) instead of
        /// the user's.
        #[arg(long)]
        project: bool,
        /// Write without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Print the ledger's records.
    Show {
        /// Only records at or after this time: RFC 3339 (`2026-11-21T08:00:00Z`) or an age
        /// (`30m`, `12h`, `7d`).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check that no record was edited, removed, inserted or reordered.
    ///
    /// With --against-server, also check every ledger head the approval service recorded
    /// (each request carries one): the ledger must still hold each anchored record, so a
    /// wiped or consistently rewritten ledger shows. Exit status 1 on any finding.
    Verify {
        #[arg(long)]
        json: bool,
        /// Check the ledger against the heads the approval service holds for this machine's
        /// requester token.
        #[arg(long)]
        against_server: bool,
    },
    /// Print the approval service's signed checkpoints this ledger holds (one came with
    /// each verdict), as JSON Lines: an auditor checks the service's chain against them with
    /// `gatekeep server audit verify --checkpoints FILE`.
    Checkpoints,
    /// Export every record as JSON Lines or CSV.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object on stdout instead of an explanation.
    #[arg(long)]
    pub json: bool,
    /// Read the command as one shell string, as `bash -c` would.
    #[arg(long, value_name = "STRING", conflicts_with = "argv")]
    pub shell: Option<String>,
    /// Decide as if run in this directory (project policy files are found from it upward).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The command, as an argv: `gatekeep check -- kubectl delete ns prod`.
    #[arg(last = true, value_name = "ARGV", required_unless_present = "shell")]
    pub argv: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Run every rule's `match` and `not_match` examples.
    Test {
        #[arg(long)]
        json: bool,
    },
    /// Validate policy files without using them.
    Lint {
        /// Check the files as this layer would be checked.
        #[arg(long = "as", value_enum, default_value_t = LintLayer::User)]
        layer: LintLayer,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the effective policy: every active rule and the layer it came from.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LintLayer {
    System,
    User,
    Project,
    Env,
}

/// Runs the parsed command line; errors are reported by `main`.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Exec(args) => {
            let command = match args.shell {
                Some(text) => Command::Shell(text),
                None => Command::Argv(args.argv),
            };
            let result = match (args.result_fd, args.result) {
                (Some(fd), _) => Some(journey::ResultSink::Fd(fd)),
                (None, Some(path)) => Some(journey::ResultSink::Path(path)),
                (None, None) => None,
            };
            let opts = journey::ExecOptions {
                reason: args.reason,
                agent: args.agent,
                json: args.json,
                result,
            };
            let code = journey::exec(&command, &opts);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(255)))
        }
        Cmd::Check(args) => check(args),
        Cmd::Init { shell, mode } => {
            let cwd = current_dir(None)?;
            let policy = match load(&cwd) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            print!(
                "{}",
                crate::integrations::shell::init(shell, mode, &policy.programs())
            );
            Ok(exit::code(exit::SUCCESS))
        }
        Cmd::Hook(HookCmd::ClaudeCode { prompt, unattended }) => {
            Ok(crate::integrations::hooks::run(
                crate::integrations::hooks::Agent::ClaudeCode,
                crate::integrations::hooks::HookMode { prompt, unattended },
            ))
        }
        Cmd::Hook(HookCmd::Codex { prompt }) => Ok(crate::integrations::hooks::run(
            crate::integrations::hooks::Agent::Codex,
            crate::integrations::hooks::HookMode {
                prompt,
                unattended: false,
            },
        )),
        Cmd::Hook(HookCmd::Install {
            agent,
            project,
            yes,
        }) => crate::integrations::hooks::install(agent, project, yes),
        Cmd::Audit(cmd) => audit(cmd),
        #[cfg(feature = "server")]
        Cmd::Server(args) => crate::server::cli::server(*args),
        Cmd::Login(args) => crate::service_cli::login(args),
        Cmd::Logout => crate::service_cli::logout(),
        Cmd::Whoami => crate::service_cli::whoami(),
        Cmd::Pending { json, watch: false } => crate::service_cli::pending(json),
        Cmd::Pending { json, watch: true } => crate::watch::watch(json),
        Cmd::Show { id, json } => crate::service_cli::show(&id, json),
        Cmd::Approve { id, reason } => crate::service_cli::decide(&id, true, reason),
        Cmd::Deny { id, reason } => crate::service_cli::decide(&id, false, Some(reason)),
        Cmd::Doctor { user, json, root } => {
            match crate::doctor::doctor(root.as_deref(), user.as_deref(), json) {
                Ok(true) => Ok(exit::code(exit::SUCCESS)),
                Ok(false) => Ok(exit::code(exit::ERROR)),
                Err(e) => {
                    eprintln!("gatekeep: doctor: {e}");
                    Ok(exit::code(exit::USAGE))
                }
            }
        }
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Generated into memory and written once: clap_complete panics on a write error,
            // and `gatekeep completions zsh | head -1` closes the pipe early.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "gatekeep", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(exit::code(exit::SUCCESS))
        }
        Cmd::Man { dir } => {
            write_man_pages(&dir)?;
            Ok(exit::code(exit::SUCCESS))
        }
        Cmd::Policy(PolicyCmd::Test { json }) => policy_test(json),
        Cmd::Policy(PolicyCmd::Lint { layer, files }) => policy_lint(layer, &files),
        Cmd::Policy(PolicyCmd::Show { json }) => policy_show(json),
    }
}

fn current_dir(cwd: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match cwd {
        Some(dir) => Ok(dir),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

/// Loads the policy or reports why nothing may run.
fn load(cwd: &std::path::Path) -> Result<Policy, ExitCode> {
    journey::load_policy(cwd).map_err(|e| {
        // The error quotes a project policy file, which an agent may have written.
        eprintln!(
            "gatekeep: policy error: {}",
            render::terminal_safe_lines(&e.to_string())
        );
        eprintln!("gatekeep: no command is allowed while the policy does not load");
        exit::code(exit::POLICY)
    })
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let cwd = current_dir(args.cwd)?;
    let policy = match load(&cwd) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let command = match args.shell {
        Some(text) => Command::Shell(text),
        None => Command::Argv(args.argv),
    };
    let host = crate::host::LiveHost::new(&cwd);
    let assessment = journey::assess_in(&command, &policy, &host);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &assessment)?;
        writeln!(out)?;
    } else {
        write_explanation(&mut out, &command, &assessment)?;
    }
    Ok(exit::code(match assessment.decision {
        Decision::Allow => exit::SUCCESS,
        Decision::Approve => exit::APPROVE,
        Decision::Deny => exit::DENY,
    }))
}

fn write_explanation(
    out: &mut impl Write,
    command: &Command,
    a: &Assessment,
) -> std::io::Result<()> {
    let verb = match a.decision {
        Decision::Allow => "allow: runs without asking",
        Decision::Approve => "approve: waits for a person to approve it",
        Decision::Deny => "deny: never runs",
    };
    // The command, its words and a project policy's rule ids and messages are the agent's
    // to choose: each is rendered terminal-safe (one line per field, wrapped on a terminal).
    let width = render::terminal_width(std::io::stdout());
    writeln!(out, "{verb}")?;
    writeln!(
        out,
        "{}",
        render::field("command: ", &command.display(), width)
    )?;
    if a.decision != Decision::Allow {
        writeln!(out, "risk:    {}", a.risk)?;
        writeln!(out, "{}", render::field("reason:  ", &a.reason, width))?;
    }
    for c in &a.commands {
        let via = if c.via.is_empty() {
            String::new()
        } else {
            format!("  (via {})", c.via.join(" > "))
        };
        writeln!(
            out,
            "{}",
            render::field(
                &format!("  {:<7} ", c.decision.to_string()),
                &format!("{}{via}", c.argv.join(" ")),
                width
            )
        )?;
        for hit in &c.rules {
            let certainty = match hit.certainty {
                crate::policy::Certainty::Possible => " possible",
                _ => "",
            };
            writeln!(
                out,
                "{}",
                render::field(
                    "          ",
                    &format!(
                        "{} [{} layer, {}{certainty}] {}",
                        hit.id, hit.layer, hit.risk, hit.message
                    ),
                    width
                )
            )?;
            if let Some(why) = &hit.why {
                writeln!(out, "{}", render::field("            because ", why, width))?;
            }
        }
        if c.unreadable {
            writeln!(out, "{}", render::field("          ", &c.reason, width))?;
        }
    }
    Ok(())
}

fn policy_test(json: bool) -> anyhow::Result<ExitCode> {
    let cwd = current_dir(None)?;
    let policy = match load(&cwd) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut failures: Vec<ExampleFailure> = Vec::new();
    let mut examples = 0;
    for layer in &policy.layers {
        failures.extend(layers::example_failures(&policy, layer));
    }
    for (spec, _) in policy.rule_specs() {
        examples += spec.must_match.len() + spec.must_not_match.len();
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"examples": examples, "failures": failures}),
        )?;
        writeln!(out)?;
    } else {
        // Examples and rule ids may come from a project policy file.
        for f in &failures {
            writeln!(out, "FAIL {}", Safe(&f.to_string()))?;
        }
        writeln!(
            out,
            "{} passed, {} failed",
            examples - failures.len(),
            failures.len()
        )?;
    }
    Ok(exit::code(if failures.is_empty() {
        exit::SUCCESS
    } else {
        exit::ERROR
    }))
}

fn policy_lint(as_layer: LintLayer, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let kind = match as_layer {
        LintLayer::System => LayerKind::System,
        LintLayer::User => LayerKind::User,
        LintLayer::Project => LayerKind::Project,
        LintLayer::Env => LayerKind::Env,
    };
    let mut sources = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        sources.push((
            Layer {
                kind,
                path: Some(file.clone()),
            },
            text,
        ));
    }
    match layers::combine(&sources) {
        Ok(policy) => {
            let rules = policy.rule_specs().filter(|(_, l)| l.kind == kind).count();
            println!(
                "ok: {} file(s), {rules} rule(s), checked as the {kind} layer",
                files.len()
            );
            Ok(exit::code(exit::SUCCESS))
        }
        Err(e) => {
            eprintln!("gatekeep: {}", render::terminal_safe_lines(&e.to_string()));
            Ok(exit::code(exit::POLICY))
        }
    }
}

fn policy_show(json: bool) -> anyhow::Result<ExitCode> {
    let cwd = current_dir(None)?;
    let policy = match load(&cwd) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let rules: Vec<_> = policy
            .rule_specs()
            .map(|(spec, layer)| serde_json::json!({"layer": layer.kind, "file": layer.path, "rule": spec}))
            .collect();
        let disabled: Vec<_> = policy
            .disabled
            .iter()
            .map(|(id, l)| serde_json::json!({"id": id, "by": l.path}))
            .collect();
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"layers": policy.layers, "disabled": disabled, "rules": rules}),
        )?;
        writeln!(out)?;
        return Ok(exit::code(exit::SUCCESS));
    }
    let to_terminal = render::terminal_width(std::io::stdout()).is_some();
    writeln!(out, "# layers, most trusted first:")?;
    for layer in &policy.layers {
        let name = layer
            .path
            .as_ref()
            .map_or("compiled into gatekeep".into(), |p| p.display().to_string());
        writeln!(out, "#   {:<11} {}", layer.kind.to_string(), Safe(&name))?;
    }
    for (id, layer) in &policy.disabled {
        writeln!(
            out,
            "# disabled: {} (by {})",
            Safe(id),
            Safe(
                &layer
                    .path
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            )
        )?;
    }
    for (spec, layer) in policy.rule_specs() {
        writeln!(out, "\n# from the {} layer", layer.kind)?;
        // A struct, not a table, keeps the fields in the order a person writes them.
        #[derive(serde::Serialize)]
        struct One<'a> {
            rule: [&'a crate::policy::RuleSpec; 1],
        }
        // TOML escapes control characters in strings, but not bidirectional or invisible
        // ones: on a terminal those are shown escaped too; piped, the TOML stays exact.
        let text = toml::to_string(&One { rule: [spec] })?;
        if to_terminal {
            write!(out, "{}", render::terminal_safe_lines(&text))?;
        } else {
            write!(out, "{text}")?;
        }
    }
    Ok(exit::code(exit::SUCCESS))
}

/// Writes `gatekeep.1` and one page per subcommand (`gatekeep-exec.1`, ...).
pub fn write_man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut pages = vec![("gatekeep".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("gatekeep-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn audit(cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let ledger = crate::audit::ledger::Ledger::default_location();
    let mut out = std::io::stdout().lock();
    match cmd {
        AuditCmd::Verify {
            json,
            against_server,
        } => {
            let report = ledger.verify()?;
            let anchored = if against_server {
                let (config, anchors) = crate::service_cli::anchors()?;
                let cwd = std::env::current_dir().unwrap_or_default();
                let me = crate::audit::Requester::current(&cwd, None);
                let records = ledger.records()?;
                let found = crate::approval::anchors::check(&records, &anchors, &me.user, &me.host);
                Some((config.url, found))
            } else {
                None
            };
            let ok = report.errors.is_empty() && anchored.as_ref().is_none_or(|(_, a)| a.is_ok());
            if json {
                let mut v = serde_json::to_value(&report)?;
                if let Some((url, found)) = &anchored {
                    v["server"] = serde_json::json!(url);
                    v["anchors"] = serde_json::to_value(found)?;
                }
                v["ok"] = serde_json::json!(ok);
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            } else {
                // Problems may quote what a record holds.
                for w in &report.warnings {
                    writeln!(out, "warning: {}", Safe(&w.to_string()))?;
                }
                match report.errors.first() {
                    Some(first) => writeln!(
                        out,
                        "BROKEN: {}\nledger: {}",
                        Safe(&first.to_string()),
                        Safe(&ledger.path().display().to_string())
                    )?,
                    None => writeln!(
                        out,
                        "ok: {} records, chain intact ({})",
                        report.records,
                        ledger.path().display()
                    )?,
                }
                if let Some((url, found)) = &anchored {
                    for e in &found.errors {
                        writeln!(out, "BROKEN: {e}")?;
                    }
                    let others = if found.other_ledgers > 0 {
                        format!(
                            "; {} more from other users or hosts set aside",
                            found.other_ledgers
                        )
                    } else {
                        String::new()
                    };
                    if found.checked == 0 {
                        writeln!(
                            out,
                            "ok: {url} holds no anchors for this ledger yet: no request from it has reached the service{others}"
                        )?;
                    } else if found.is_ok() {
                        writeln!(
                            out,
                            "ok: {} anchors held by {url} match the ledger (records 1..{} are anchored{others})",
                            found.checked, found.last_anchored
                        )?;
                    } else {
                        writeln!(
                            out,
                            "the ledger does not match the {} anchors held by {url}{others}",
                            found.checked
                        )?;
                    }
                }
            }
            Ok(exit::code(if ok { exit::SUCCESS } else { exit::ERROR }))
        }
        AuditCmd::Show { since, json } => {
            let since = match since.as_deref().map(parse_since).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("gatekeep: {e}");
                    return Ok(exit::code(exit::USAGE));
                }
            };
            for record in ledger.records()? {
                let time = record.get("time").and_then(|t| t.as_str()).unwrap_or("");
                if since.as_deref().is_some_and(|s| time < s) {
                    continue;
                }
                if json {
                    serde_json::to_writer(&mut out, &record)?;
                    writeln!(out)?;
                } else {
                    let field = |k: &str| {
                        record
                            .get(k)
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let what = match field("event").as_str() {
                        "outcome" => format!(
                            "exit {}",
                            record
                                .get("exit_code")
                                .map_or(String::new(), |c| c.to_string())
                        ),
                        _ => record
                            .get("decision")
                            .and_then(|v| v.as_str())
                            .unwrap_or("requested")
                            .to_owned(),
                    };
                    let by = field("decided_by");
                    let by = if by.is_empty() {
                        String::new()
                    } else {
                        format!(" by {by}")
                    };
                    // Every field here is what the agent asked (the command) or what the
                    // ledger file holds, which its owner can edit: rendered terminal-safe.
                    writeln!(
                        out,
                        "{}  {:<8} {:<10} {}  [{}]{}",
                        Safe(time),
                        terminal_safe(&field("event")),
                        terminal_safe(&what),
                        Safe(&field("command")),
                        Safe(&field("id")),
                        Safe(&by)
                    )?;
                }
            }
            Ok(exit::code(exit::SUCCESS))
        }
        AuditCmd::Checkpoints => {
            let mut seen = std::collections::HashSet::new();
            for record in ledger.records()? {
                if let Some(jws) = record.get("checkpoint").and_then(serde_json::Value::as_str)
                    && seen.insert(jws.to_owned())
                {
                    serde_json::to_writer(&mut out, &crate::api::checkpoint::Line::of(jws))?;
                    writeln!(out)?;
                }
            }
            if seen.is_empty() {
                eprintln!(
                    "gatekeep: the ledger {} holds no checkpoints: none of its records is a verdict from an approval service that sends them",
                    Safe(&ledger.path().display().to_string())
                );
            }
            Ok(exit::code(exit::SUCCESS))
        }
        AuditCmd::Export { format } => {
            let records = ledger.records()?;
            match format {
                ExportFormat::Jsonl => {
                    for record in records {
                        serde_json::to_writer(&mut out, &record)?;
                        writeln!(out)?;
                    }
                }
                ExportFormat::Csv => {
                    let columns = [
                        "seq",
                        "time",
                        "event",
                        "id",
                        "command",
                        "decision",
                        "decided_by",
                        "reason",
                        "denial_reason",
                        "exit_code",
                        "duration_ms",
                        "user",
                        "host",
                        "agent",
                        "cwd",
                        "digest",
                        "prev",
                        "hash",
                    ];
                    let lf = crate::csv::LineEnd::Lf;
                    out.write_all(crate::csv::record(&columns, lf).as_bytes())?;
                    for record in records {
                        let cell = |k: &str| -> String {
                            let v = match k {
                                "user" | "host" | "agent" | "cwd" => {
                                    record.get("requester").and_then(|r| r.get(k))
                                }
                                _ => record.get(k),
                            };
                            match v {
                                None | Some(serde_json::Value::Null) => String::new(),
                                Some(serde_json::Value::String(s)) => s.clone(),
                                Some(other) => other.to_string(),
                            }
                        };
                        let row = columns.map(cell);
                        out.write_all(crate::csv::record(&row, lf).as_bytes())?;
                    }
                }
            }
            Ok(exit::code(exit::SUCCESS))
        }
    }
}

/// `--since`: an RFC 3339 time, or an age such as `30m`, `12h`, `7d`.
fn parse_since(s: &str) -> Result<String, String> {
    if s.contains('T') && s.len() >= 10 {
        return Ok(s.to_owned());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| {
        format!(
            "--since {s}: expected a time like 2026-11-21T08:00:00Z or an age like 30m, 12h, 7d"
        )
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 604_800,
        _ => {
            return Err(format!(
                "--since {s}: unknown unit `{unit}` (use s, m, h, d or w)"
            ));
        }
    };
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    Ok(crate::time::rfc3339(when))
}
