//! The command line: clap definitions, and a thin dispatch onto [`crate::gate`] and
//! [`crate::policy`]. Data goes to stdout, diagnostics to stderr; `--json` gives exactly one
//! JSON object on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::gate::{self, Command};
use crate::policy::layers::{self, ExampleFailure};
use crate::policy::{Assessment, Decision, Layer, LayerKind, Policy};

#[derive(Debug, Parser)]
#[command(name = "gatekeep", version, about = "Puts a human signature on the privileged commands that AI agents and pipelines run")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show what gatekeep would decide for a command, without running it.
    ///
    /// Exit status: 0 allow, 10 approve, 11 deny, 3 policy error.
    Check(CheckArgs),
    /// Inspect and test the layered policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
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
        Cmd::Check(args) => check(args),
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
    gate::load_policy(cwd).map_err(|e| {
        eprintln!("gatekeep: policy error: {e}");
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
    let assessment = gate::assess(&command, &policy);
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

fn write_explanation(out: &mut impl Write, command: &Command, a: &Assessment) -> std::io::Result<()> {
    let verb = match a.decision {
        Decision::Allow => "allow: runs without asking",
        Decision::Approve => "approve: waits for a person to approve it",
        Decision::Deny => "deny: never runs",
    };
    writeln!(out, "{verb}")?;
    writeln!(out, "command: {}", command.display())?;
    if a.decision != Decision::Allow {
        writeln!(out, "risk:    {}", a.risk)?;
        writeln!(out, "reason:  {}", a.reason)?;
    }
    for c in &a.commands {
        let via = if c.via.is_empty() { String::new() } else { format!("  (via {})", c.via.join(" > ")) };
        writeln!(out, "  {:<7} {}{via}", c.decision.to_string(), c.argv.join(" "))?;
        for hit in &c.rules {
            let certainty = match hit.certainty {
                crate::policy::Certainty::Possible => " possible",
                _ => "",
            };
            writeln!(out, "          {} [{} layer, {}{certainty}] {}", hit.id, hit.layer, hit.risk, hit.message)?;
            if let Some(why) = &hit.why {
                writeln!(out, "            because {why}")?;
            }
        }
        if c.unreadable {
            writeln!(out, "          {}", c.reason)?;
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
        serde_json::to_writer(&mut out, &serde_json::json!({"examples": examples, "failures": failures}))?;
        writeln!(out)?;
    } else {
        for f in &failures {
            writeln!(out, "FAIL {f}")?;
        }
        writeln!(out, "{} passed, {} failed", examples - failures.len(), failures.len())?;
    }
    Ok(exit::code(if failures.is_empty() { exit::SUCCESS } else { exit::ERROR }))
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
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        sources.push((Layer { kind, path: Some(file.clone()) }, text));
    }
    match layers::combine(&sources) {
        Ok(policy) => {
            let rules = policy.rule_specs().filter(|(_, l)| l.kind == kind).count();
            println!("ok: {} file(s), {rules} rule(s), checked as the {kind} layer", files.len());
            Ok(exit::code(exit::SUCCESS))
        }
        Err(e) => {
            eprintln!("gatekeep: {e}");
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
        let disabled: Vec<_> = policy.disabled.iter().map(|(id, l)| serde_json::json!({"id": id, "by": l.path})).collect();
        serde_json::to_writer(&mut out, &serde_json::json!({"layers": policy.layers, "disabled": disabled, "rules": rules}))?;
        writeln!(out)?;
        return Ok(exit::code(exit::SUCCESS));
    }
    writeln!(out, "# layers, most trusted first:")?;
    for layer in &policy.layers {
        let name = layer.path.as_ref().map_or("compiled into gatekeep".into(), |p| p.display().to_string());
        writeln!(out, "#   {:<11} {name}", layer.kind.to_string())?;
    }
    for (id, layer) in &policy.disabled {
        writeln!(out, "# disabled: {id} (by {})", layer.path.as_ref().map_or(String::new(), |p| p.display().to_string()))?;
    }
    for (spec, layer) in policy.rule_specs() {
        writeln!(out, "\n# from the {} layer", layer.kind)?;
        // A struct, not a table, keeps the fields in the order a person writes them.
        #[derive(serde::Serialize)]
        struct One<'a> {
            rule: [&'a crate::policy::RuleSpec; 1],
        }
        write!(out, "{}", toml::to_string(&One { rule: [spec] })?)?;
    }
    Ok(exit::code(exit::SUCCESS))
}
