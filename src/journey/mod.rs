//! The journey of one command: read it, load the policy that applies where it runs, decide,
//! ask, run, record. `check` stops after deciding; `exec` (and the shell integration, which
//! hands commands to it) walks the whole way; the agent hooks walk it up to the verdict and
//! answer the agent instead of running the command. One path, so they can never disagree.
//!
//! - [`event`]: what the ledger records, as types;
//! - [`refusal`]: why a command did not run, for stderr, the JSON result and hooks;
//! - `terminal` and `service`: the two ways to ask a person.
//!
//! The allowed-command path is the fast path: policy files, one ledger append without fsync,
//! then exec in place. No async runtime, no network, no terminal: [`crate::approval`] is only
//! reached for commands that need approval.

pub mod event;
pub mod refusal;
mod service;
mod terminal;

use std::cell::RefCell;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::api::protocol;
use crate::approval::{prompt, remote};
use crate::audit::ledger::Ledger;
use crate::audit::{self, Requester, redact};
use crate::exec;
use crate::exit;
use crate::policy::{Assessment, Decision, Policy, PolicyError, PolicyPaths, Requirements};
use crate::render::{self, Safe};
use crate::shell;
use event::{Decided, DecisionKind, LedgerEvent, RunRecord};
use refusal::{Refusal, RefusalKind};

/// A command as handed to gatekeep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An argv, run without a shell: the words are exact.
    Argv(Vec<String>),
    /// One string, run by `bash -c`.
    Shell(String),
}

impl Command {
    /// The command as one line for display, secrets masked: the same line the approval
    /// service shows approvers (see [`protocol::display_argv`]).
    pub fn display(&self) -> String {
        match self {
            Command::Argv(argv) => protocol::display_argv(argv),
            // Shown as `bash -c STRING` is, without looking up which bash runs it.
            Command::Shell(text) => {
                protocol::display_argv(&["bash".to_owned(), "-c".to_owned(), text.clone()])
            }
        }
    }

    /// The exact argv that runs: the argv itself, or `bash -c STRING`.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Argv(argv) => argv.clone(),
            Command::Shell(text) => exec::shell_argv(text),
        }
    }
}

/// Loads the layered policy that applies to commands run in `cwd`.
pub fn load_policy(cwd: &Path) -> Result<Policy, PolicyError> {
    PolicyPaths::discover(cwd).load()
}

/// Reads `command` the way bash would and decides it, its path words read as spelled (no
/// environment or directory known: for tables of cases that must mean the same anywhere).
/// Everything shown is masked.
pub fn assess(command: &Command, policy: &Policy) -> Assessment {
    assess_in(command, policy, &crate::policy::paths::Unknown)
}

/// Reads `command` the way bash would and decides it where `host` says it runs: its path
/// words are matched as the files they reach (`$HOME`, `cd DIR &&`, `..`, symlinks).
/// Everything shown is masked.
pub fn assess_in(
    command: &Command,
    policy: &Policy,
    host: &dyn crate::policy::paths::Host,
) -> Assessment {
    // Files a command runs (scripts, Makefiles, package scripts) are read only where the
    // host knows the directory it runs in.
    let script = match command {
        Command::Argv(argv) => shell::from_argv_in(argv, host.files()),
        Command::Shell(text) => shell::parse_shell_in(text, host.files()),
    };
    let mut assessment = policy.evaluate_in(&script, host);
    for c in &mut assessment.commands {
        c.argv = redact::mask_argv(&c.argv);
        c.reason = redact::mask_text(&c.reason);
        for hit in &mut c.rules {
            hit.why = hit.why.as_deref().map(redact::mask_text);
        }
    }
    assessment.refresh_reason();
    assessment
}

/// What `gatekeep exec` was asked to do besides the command.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    pub reason: Option<String>,
    pub agent: Option<String>,
    pub json: bool,
    /// Where to write the final result as JSON (tool-definition mode).
    pub result: Option<ResultSink>,
}

/// Where the final result goes, apart from the command's own output.
#[derive(Clone, Debug)]
pub enum ResultSink {
    /// An open descriptor the caller passed (`--result-fd 3`).
    Fd(i32),
    Path(std::path::PathBuf),
}

/// Decides `command`, asks when needed, runs it, records every step; returns the exit code.
/// On the allow path it does not return (the process becomes the command) unless a result
/// was asked for, in which case the command runs supervised so its status can be reported.
pub fn exec(command: &Command, opts: &ExecOptions) -> i32 {
    let result = RefCell::new(Map::new());
    let code = exec_journey(command, opts, &result);
    if let Some(sink) = &opts.result {
        let mut result = result.into_inner();
        result.insert("exit_code".into(), json!(code));
        result.entry("outcome").or_insert(json!("error"));
        if let Err(e) = write_result(sink, &Value::Object(result)) {
            eprintln!("gatekeep: cannot write the result: {e}");
        }
    }
    code
}

fn write_result(sink: &ResultSink, result: &Value) -> std::io::Result<()> {
    let mut text = result.to_string();
    text.push('\n');
    let path = match sink {
        // Reopening the descriptor through /dev/fd needs no unsafe code and writes to the
        // same open file the caller handed over.
        ResultSink::Fd(fd) => std::path::PathBuf::from(format!("/dev/fd/{fd}")),
        ResultSink::Path(path) => path.clone(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(matches!(sink, ResultSink::Path(_)))
        .append(matches!(sink, ResultSink::Fd(_)))
        .open(path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())
}

fn exec_journey(
    command: &Command,
    opts: &ExecOptions,
    result: &RefCell<Map<String, Value>>,
) -> i32 {
    let argv = command.argv();
    if argv.first().is_none_or(|p| p.is_empty()) {
        eprintln!("gatekeep: no command given\nhint: gatekeep exec -- COMMAND [ARGS...]");
        return i32::from(exit::USAGE);
    }
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            eprintln!("gatekeep: cannot read the current directory: {e}");
            return i32::from(exit::ERROR);
        }
    };
    let ledger = Ledger::default_location();
    let requester = Requester::current(&cwd, opts.agent.clone());
    let journey = Journey::new(command, opts, &requester, &ledger, result);

    let policy = match load_policy(&cwd) {
        Ok(policy) => policy,
        Err(e) => {
            // The error quotes a project policy file, which the agent may have written.
            eprintln!(
                "gatekeep: policy error: {}",
                render::terminal_safe_lines(&e.to_string())
            );
            eprintln!(
                "gatekeep: refused `{}`: no command runs while the policy does not load",
                Safe(&command.display())
            );
            let mut d = Decided::new(DecisionKind::Deny).by("policy error");
            d.error = Some(e.to_string());
            let _ = journey.record(d, true);
            return i32::from(exit::POLICY);
        }
    };
    let assessment = assess_in(command, &policy, &crate::host::LiveHost::new(&cwd));
    let journey = journey.with(&assessment);

    match assessment.decision {
        Decision::Allow => {
            if let Err(code) = journey.record(Decided::new(DecisionKind::Allow).by("policy"), false)
            {
                return code;
            }
            if opts.result.is_some() {
                return journey.run(&argv).exit_code;
            }
            let error = exec::exec_in_place(&argv);
            let code = exec::spawn_error_code(&error);
            eprintln!("gatekeep: cannot run `{}`: {error}", Safe(&argv[0]));
            let _ = journey.record(LedgerEvent::Outcome(RunRecord::failed(code, &error)), true);
            code
        }
        Decision::Deny => {
            if let Err(code) = journey.record(Decided::new(DecisionKind::Deny).by("policy"), true) {
                return code;
            }
            journey.refuse(
                &assessment,
                &Refusal::new(RefusalKind::Policy, "gatekeep policy", None),
            )
        }
        Decision::Approve => journey.approve(&assessment, &argv),
    }
}

/// One command on its way: what every record about it shares.
pub(crate) struct Journey<'a> {
    /// The result for tool-definition mode, filled in as the journey goes.
    result: &'a RefCell<Map<String, Value>>,
    command: &'a Command,
    opts: &'a ExecOptions,
    requester: &'a Requester,
    ledger: &'a Ledger,
    id: String,
    /// What a verdict must be bound to: see [`audit::command_digest`].
    digest: String,
    base: Map<String, Value>,
    /// The ledger's head after this journey's last record, sent to the approval service as
    /// the ledger's anchor.
    head: RefCell<Option<crate::audit::ledger::Head>>,
}

/// How asking a person for approval ended. Every ending is already recorded.
pub(crate) enum Asked {
    /// Approved by `by`. With the service, `client` is where the outcome is reported.
    Approved {
        by: String,
        client: Option<remote::Client>,
    },
    Refused(Refusal),
    /// A signal stopped the wait; the command must end with 128+N.
    Interrupted(i32),
    /// Nothing runs and the reason was already said (the decision could not be recorded,
    /// the prompt failed): exit with this code.
    Stopped(i32),
}

impl<'a> Journey<'a> {
    pub(crate) fn new(
        command: &'a Command,
        opts: &'a ExecOptions,
        requester: &'a Requester,
        ledger: &'a Ledger,
        result: &'a RefCell<Map<String, Value>>,
    ) -> Journey<'a> {
        let argv = command.argv();
        let id = audit::new_request_id();
        let who = format!(
            "{}@{}/{}",
            requester.user,
            requester.host,
            requester.agent.as_deref().unwrap_or("")
        );
        let mut base = Map::new();
        base.insert("id".into(), json!(id));
        base.insert("command".into(), json!(command.display()));
        base.insert("argv".into(), json!(redact::mask_argv(&argv)));
        // The digest binds decisions to the exact, unmasked argv, directory and requester.
        let digest = audit::command_digest(&argv, &requester.cwd, &who);
        base.insert("digest".into(), json!(digest));
        base.insert(
            "requester".into(),
            serde_json::to_value(requester).unwrap_or(Value::Null),
        );
        if let Some(reason) = &opts.reason {
            base.insert("reason".into(), json!(redact::mask_text(reason)));
        }
        result.borrow_mut().insert("id".into(), json!(id));
        Journey {
            result,
            command,
            opts,
            requester,
            ledger,
            id,
            digest,
            base,
            head: RefCell::new(None),
        }
    }

    /// Where this journey is recorded, for the agent: `ID (recorded in PATH)`.
    pub(crate) fn request_label(&self) -> String {
        format!("{} (recorded in {})", self.id, self.ledger.path().display())
    }

    /// Adds the assessment's decision, risk and rules to every later record.
    pub(crate) fn with(mut self, a: &Assessment) -> Journey<'a> {
        let rules: Vec<Value> = a
            .commands
            .iter()
            .flat_map(|c| &c.rules)
            .filter(|h| h.decision == a.decision)
            .map(|h| json!({"id": h.id, "layer": h.layer}))
            .collect();
        {
            let mut result = self.result.borrow_mut();
            result.insert("decision".into(), json!(a.decision));
            result.insert("risk".into(), json!(a.risk));
            result.insert("reason".into(), json!(a.reason));
            result.insert("rules".into(), json!(rules));
        }
        self.base.insert(
            "policy".into(),
            json!({"decision": a.decision, "risk": a.risk, "reason": a.reason, "rules": rules}),
        );
        self
    }

    /// Appends one event; `Err` carries the exit code when it could not be recorded.
    pub(crate) fn record(&self, event: impl Into<LedgerEvent>, durable: bool) -> Result<(), i32> {
        let fields = serde_json::to_value(event.into()).unwrap_or(Value::Null);
        // The result for tool-definition mode follows the records.
        if let Value::Object(f) = &fields {
            let mut result = self.result.borrow_mut();
            for key in [
                "decided_by",
                "channel",
                "denial_reason",
                "why",
                "signal",
                "duration_ms",
                "error",
            ] {
                if let Some(v) = f.get(key) {
                    result.insert(key.into(), v.clone());
                }
            }
            if let Some(decision) = f.get("decision").and_then(Value::as_str) {
                let outcome = match decision {
                    "allow" => "allowed",
                    "approve" => "approved",
                    "deny" => "denied",
                    other => other,
                };
                result.insert("outcome".into(), json!(outcome));
            }
        }
        let mut record = self.base.clone();
        record.insert("time".into(), json!(crate::time::now_rfc3339()));
        if let Value::Object(fields) = fields {
            record.extend(fields);
        }
        self.ledger
            .append(record, durable)
            .map(|head| *self.head.borrow_mut() = Some(head))
            .map_err(|e| {
                eprintln!("gatekeep: {}", render::terminal_safe_lines(&e.to_string()));
                eprintln!(
                    "gatekeep: `{}` was not run because its record could not be written",
                    Safe(&self.command.display())
                );
                i32::from(exit::NOT_RECORDED)
            })
    }

    /// Asks for approval, runs the command when it is given, and reports how it ended.
    fn approve(&self, a: &Assessment, argv: &[String]) -> i32 {
        let req = a.requirements.clone().unwrap_or_default();
        if let Err(code) = self.record(
            LedgerEvent::Request {
                requirements: req.clone(),
            },
            true,
        ) {
            return code;
        }
        let asked = match remote::load_config() {
            // A broken client configuration could be an attempt to swap the pinned key:
            // nothing runs until it is fixed.
            Err(e) => self.not_asked(RefusalKind::Misconfigured, &e.to_string()),
            Ok(server) => {
                // Rules that need more than one approver, or a person other than the one at
                // this terminal, can only be approved through the service. A rule that
                // allows the terminal is asked there when one exists, server or not (so an
                // unreachable service never stands between a person and their terminal).
                let needs_service = !req.local_approval || req.quorum > 1;
                match (server, prompt::open_terminal()) {
                    (_, Some(tty)) if !needs_service => self.ask_terminal(a, &req, tty),
                    (Some(server), _) => self.ask_service(a, &req, &server),
                    (None, tty) => self.not_asked(
                        RefusalKind::Unavailable,
                        &no_one_to_ask(&req, tty.is_some()),
                    ),
                }
            }
        };
        match asked {
            Asked::Approved { by, client } => {
                let Some(client) = client else {
                    return self.run(argv).exit_code;
                };
                // The agent (and whoever reads its transcript) learns who let it run.
                eprintln!(
                    "gatekeep: approved by {}; running `{}`",
                    Safe(&by),
                    Safe(&self.command.display())
                );
                let ran = self.run(argv);
                let outcome = protocol::RunReport {
                    exit_code: ran.exit_code,
                    duration_ms: ran.duration_ms.unwrap_or(0),
                    signal: ran.signal.map(|s| format!("signal {s}")),
                };
                if let Err(e) = client.outcome(&self.id, &outcome) {
                    let _ = self.record(
                        LedgerEvent::OutcomeReport {
                            reported: false,
                            error: e.to_string(),
                        },
                        true,
                    );
                    eprintln!(
                        "gatekeep: could not report the outcome to the approval service: {}",
                        Safe(&e.to_string())
                    );
                }
                ran.exit_code
            }
            Asked::Refused(refusal) => self.refuse(a, &refusal),
            Asked::Interrupted(sig) => {
                eprintln!(
                    "gatekeep: cancelled while waiting for approval; `{}` was not run",
                    Safe(&self.command.display())
                );
                128 + sig
            }
            Asked::Stopped(code) => code,
        }
    }

    /// Runs the command supervised and records how it ended.
    fn run(&self, argv: &[String]) -> RunRecord {
        let close: Vec<i32> = match &self.opts.result {
            Some(ResultSink::Fd(fd)) => vec![*fd],
            _ => Vec::new(),
        };
        let ran = match exec::run_supervised(argv, &close) {
            Ok(outcome) => RunRecord::from(outcome),
            Err(e) => {
                eprintln!("gatekeep: cannot run `{}`: {e}", Safe(&argv[0]));
                RunRecord::failed(exec::spawn_error_code(&e), &e)
            }
        };
        let _ = self.record(LedgerEvent::Outcome(ran.clone()), true);
        ran
    }

    fn requester_label(&self) -> String {
        let r = self.requester;
        match &r.agent {
            Some(agent) => format!("{}@{} (agent: {agent})", r.user, r.host),
            None => format!("{}@{}", r.user, r.host),
        }
    }

    /// Nobody could be asked: records the refusal by gatekeep itself.
    pub(crate) fn not_asked(&self, kind: RefusalKind, why: &str) -> Asked {
        let _ = self.record(
            Decided::new(DecisionKind::Refused).by("gatekeep").why(why),
            true,
        );
        Asked::Refused(Refusal::new(kind, "gatekeep", Some(why)))
    }

    /// Tells the agent what was refused, by whom, why, and what to do instead; returns the
    /// exit code.
    fn refuse(&self, a: &Assessment, refusal: &Refusal) -> i32 {
        let command = self.command.display();
        let request = self.request_label();
        let msg = refusal.text(&command, a, Some(&request), None);
        // Often read by a person on a terminal: wrapped to it when there is one.
        match render::terminal_width(std::io::stderr()) {
            Some(width) => eprint!("{}", refusal.text(&command, a, Some(&request), Some(width))),
            None => eprint!("{msg}"),
        }
        let next = refusal.kind.next_step();
        {
            let mut result = self.result.borrow_mut();
            result.insert("message".into(), json!(msg.trim_end()));
            result.insert("next_step".into(), json!(next));
        }
        if self.opts.json {
            let v = json!({"id": self.id, "outcome": refusal.kind.word(), "decided_by": refusal.by, "reason": refusal.reason, "next_step": next, "assessment": a});
            println!("{v}");
        }
        i32::from(refusal.kind.exit_code())
    }
}

/// Why nobody can be asked when no approval service is configured.
pub(crate) fn no_one_to_ask(req: &Requirements, terminal: bool) -> String {
    let why = if req.quorum > 1 {
        format!(
            "it needs {} distinct approvers, and the terminal can give only one",
            req.quorum
        )
    } else if terminal {
        "its rule does not allow approval at the terminal".to_owned()
    } else {
        "there is no terminal to ask a person on (no /dev/tty)".to_owned()
    };
    format!(
        "{why}; it must go through the approval service, and none is configured (see `gatekeep login`)"
    )
}
