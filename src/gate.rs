//! The journey of one command: read it, load the policy that applies where it runs, decide,
//! ask, run, record. `check` stops after deciding; `exec` walks the whole way, and the agent
//! hooks and the shell integration walk the same path so that they can never disagree.
//!
//! The allowed-command path is the fast path: policy files, one ledger append without fsync,
//! then exec in place. No async runtime, no network, no terminal: [`crate::approval`] is only
//! reached for commands that need approval.

use std::path::Path;
use std::time::Duration;

use std::cell::RefCell;

use serde_json::{Map, Value, json};

use crate::approval::credentials;
use crate::approval::prompt::{self, Answer};
use crate::approval::protocol::{self, CreateRequest, Origin, Role};
use crate::approval::remote;
use crate::audit::ledger::Ledger;
use crate::audit::{self, Requester, redact};
use crate::exec;
use crate::exit;
use crate::policy::{Assessment, Decision, Policy, PolicyError, PolicyPaths, Requirements};
use crate::render::{self, Safe};
use crate::shell;
use crate::verdict::Outcome;

/// The longest a create waits out an approval service at its connection limit (503).
const BUSY_RETRY_SECS: u64 = 30;

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
    let script = match command {
        Command::Argv(argv) => shell::from_argv(argv),
        Command::Shell(text) => shell::parse_shell(text),
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
            let _ = journey.record(
                "decision",
                json!({"decision": "deny", "decided_by": "policy error", "error": e.to_string()}),
                true,
            );
            return i32::from(exit::POLICY);
        }
    };
    let assessment = assess_in(command, &policy, &crate::host::LiveHost::new(&cwd));
    let journey = journey.with(&assessment);

    match assessment.decision {
        Decision::Allow => {
            if let Err(code) = journey.record(
                "decision",
                json!({"decision": "allow", "decided_by": "policy"}),
                false,
            ) {
                return code;
            }
            if opts.result.is_some() {
                return journey.run(&argv);
            }
            let error = exec::exec_in_place(&argv);
            let code = exec::spawn_error_code(&error);
            eprintln!("gatekeep: cannot run `{}`: {error}", Safe(&argv[0]));
            let _ = journey.record(
                "outcome",
                json!({"exit_code": code, "error": error.to_string()}),
                true,
            );
            code
        }
        Decision::Deny => {
            if let Err(code) = journey.record(
                "decision",
                json!({"decision": "deny", "decided_by": "policy"}),
                true,
            ) {
                return code;
            }
            journey.refuse(&assessment, "denied", "gatekeep policy", None, exit::DENY)
        }
        Decision::Approve => journey.approve(&assessment, &argv),
    }
}

/// One command on its way through `exec`: what every record about it shares.
struct Journey<'a> {
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

impl<'a> Journey<'a> {
    fn new(
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

    /// Adds the assessment's decision, risk and rules to every later record.
    fn with(mut self, a: &Assessment) -> Journey<'a> {
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
    fn record(&self, event: &str, fields: Value, durable: bool) -> Result<(), i32> {
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
        record.insert("time".into(), json!(audit::now_rfc3339()));
        record.insert("event".into(), json!(event));
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

    fn approve(&self, a: &Assessment, argv: &[String]) -> i32 {
        let req = a.requirements.clone().unwrap_or_default();
        if let Err(code) = self.record("request", json!({"requirements": req}), true) {
            return code;
        }
        // Rules that need more than one approver, or a person other than the one at this
        // terminal, can only be approved through the service.
        let needs_service = !req.local_approval || req.quorum > 1;
        let server = match remote::load_config() {
            Ok(server) => server,
            Err(e) => {
                // A broken client configuration could be an attempt to swap the pinned
                // key: nothing runs until it is fixed.
                let why = e.to_string();
                let _ = self.record(
                    "decision",
                    json!({"decision": "refused", "decided_by": "gatekeep", "why": why}),
                    true,
                );
                return self.refuse(a, "refused", "gatekeep", Some(&why), exit::POLICY);
            }
        };
        // A rule that allows the terminal is asked there when one exists, server or not
        // (so an unreachable service never stands between a person and their terminal).
        let tty = prompt::open_terminal();
        match (server, tty) {
            (_, Some(tty)) if !needs_service => self.local(a, argv, &req, tty),
            (Some(server), _) => self.remote(a, argv, &req, &server),
            (_, tty) => {
                let why = if req.quorum > 1 {
                    format!(
                        "it needs {} distinct approvers, and the terminal can give only one",
                        req.quorum
                    )
                } else if tty.is_some() {
                    "its rule does not allow approval at the terminal".to_owned()
                } else {
                    "there is no terminal to ask a person on (no /dev/tty)".to_owned()
                };
                self.unavailable(
                    a,
                    &format!("{why}; it must go through the approval service, and none is configured (see `gatekeep login`)"),
                )
            }
        }
    }

    /// Asks the approval service and runs the command only on a verdict that verifies.
    fn remote(
        &self,
        a: &Assessment,
        argv: &[String],
        req: &Requirements,
        server: &remote::ServerConfig,
    ) -> i32 {
        let token = match credentials::load(&server.url, Role::Requester) {
            Ok(Some(token)) => token,
            Ok(None) => {
                let e = remote::RemoteError::NoToken {
                    url: server.url.clone(),
                    role: Role::Requester,
                };
                return self.unavailable(a, &e.to_string());
            }
            Err(e) => return self.unavailable(a, &e.to_string()),
        };
        let nonce = match crate::verdict::random_b64(24) {
            Ok(nonce) => nonce,
            Err(e) => return self.unavailable(a, &format!("cannot make a nonce: {e}")),
        };
        let create = CreateRequest {
            id: self.id.clone(),
            nonce: nonce.clone(),
            argv: redact::mask_argv(argv),
            digest: self.digest.clone(),
            origin: Origin {
                user: self.requester.user.clone(),
                host: self.requester.host.clone(),
                agent: self.requester.agent.clone(),
                cwd: self.requester.cwd.clone(),
            },
            reason: self.opts.reason.as_deref().map(redact::mask_text),
            rules: prompt::rules_asking(a).into_iter().map(|r| r.0).collect(),
            risk: a.risk.to_string(),
            quorum: req.quorum.max(1),
            groups: req.approvers.clone(),
            group_sets: req.approver_sets.clone(),
            timeout_secs: req.timeout_secs,
            ledger: self.head.borrow().clone().map(Into::into),
        };
        // What approvers will be shown, computed from what this client sends (never from
        // anything the service echoes back): the verdict must carry the same digest of it.
        let shown = protocol::Shown::of(&create).digest();
        let client = match remote::Client::connect(&server.url, &server.connection, Some(token)) {
            Ok(client) => client,
            Err(e) => return self.unavailable(a, &e.to_string()),
        };
        // A service at its connection limit answers 503: worth waiting out, but no longer
        // than the request itself could wait, and never more than half a minute.
        let busy_for = Duration::from_secs(req.timeout_secs.clamp(1, BUSY_RETRY_SECS));
        let view = match remote::create_patiently(&client, &create, busy_for) {
            Ok(view) => view,
            Err(e) => return self.unavailable(a, &e.to_string()),
        };
        if let Err(code) = self.record(
            "submitted",
            json!({"server": server.url, "key_id": server.key_id(), "expires_at": view.expires_at}),
            true,
        ) {
            // Nothing will run; do not leave the request waiting for an approver.
            let _ = client.cancel(&self.id, Some("the requester could not record it".into()));
            return code;
        }
        let expires_unix = view.expires_unix;
        let view = match remote::wait_for_verdict(&client, &self.id, expires_unix) {
            remote::WaitEnd::Final(view) => view,
            remote::WaitEnd::Signal(sig) => {
                let cancelled = client.cancel(
                    &self.id,
                    Some(format!("the requester was stopped by signal {sig}")),
                );
                let _ = self.record(
                    "decision",
                    json!({"decision": "cancelled", "signal": sig, "server_cancelled": cancelled.is_ok(), "verdict": cancelled.ok().and_then(|v| v.verdict)}),
                    true,
                );
                eprintln!(
                    "gatekeep: cancelled while waiting for approval; `{}` was not run",
                    Safe(&self.command.display())
                );
                return 128 + sig;
            }
            remote::WaitEnd::Failed(why) => return self.unavailable(a, &why),
        };
        // The verdict is believed only after checking it against the pinned key, this
        // request, this command and this run.
        let expected = crate::verdict::Expected {
            rid: &self.id,
            digest: &self.digest,
            nonce: &nonce,
            shown: &shown,
            now: crate::verdict::unix_now(),
        };
        let jws = view.verdict.clone().unwrap_or_default();
        let claims = match expected.check(&jws, &server.key) {
            Ok(claims) => claims,
            Err(e) => {
                let why = format!("the approval service's verdict was rejected: {e}");
                let _ = self.record(
                    "decision",
                    json!({"decision": "deny", "decided_by": "gatekeep (verdict check)", "why": why, "verdict": jws}),
                    true,
                );
                return self.refuse(
                    a,
                    "denied",
                    "gatekeep (verdict check)",
                    Some(&why),
                    exit::DENY,
                );
            }
        };
        let by: Vec<String> = claims
            .approvers
            .iter()
            .map(|ap| format!("{} ({})", ap.name, ap.channel))
            .collect();
        let by = if by.is_empty() {
            "the approval service".to_owned()
        } else {
            by.join(", ")
        };
        let fields = json!({"decided_by": by, "channel": "service", "approvers": claims.approvers, "verdict": jws});
        let record = |decision: &str, extra: Value| {
            let mut f = fields.clone();
            if let (Value::Object(f), Value::Object(extra)) = (&mut f, extra) {
                f.insert("decision".into(), json!(decision));
                f.extend(extra);
            }
            self.record("decision", f, true)
        };
        match claims.decision {
            Outcome::Approved => {
                if let Err(code) = record("approve", json!({})) {
                    return code;
                }
                let started = std::time::Instant::now();
                let code = self.run(argv);
                let outcome = protocol::Outcome {
                    exit_code: code,
                    duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    signal: (code > 128).then(|| format!("signal {}", code - 128)),
                };
                if let Err(e) = client.outcome(&self.id, &outcome) {
                    let _ = self.record(
                        "outcome_report",
                        json!({"reported": false, "error": e.to_string()}),
                        true,
                    );
                    eprintln!(
                        "gatekeep: could not report the outcome to the approval service: {}",
                        Safe(&e.to_string())
                    );
                }
                code
            }
            Outcome::Denied => {
                let reason = claims.reason.clone();
                if let Err(code) = record("deny", json!({"denial_reason": reason})) {
                    return code;
                }
                self.refuse(a, "denied", &by, reason.as_deref(), exit::DENY)
            }
            Outcome::Expired => {
                if let Err(code) = record("expired", json!({"timeout_secs": req.timeout_secs})) {
                    return code;
                }
                self.refuse(
                    a,
                    "expired",
                    "nobody approved it in time (approval service)",
                    None,
                    exit::EXPIRED,
                )
            }
            Outcome::Cancelled => {
                if let Err(code) = record("cancelled", json!({})) {
                    return code;
                }
                // Only the server cancels a request this client did not (a revoked token).
                self.refuse(
                    a,
                    "cancelled",
                    "the approval service",
                    claims.reason.as_deref(),
                    exit::DENY,
                )
            }
        }
    }

    /// Asks the person at this terminal.
    fn local(
        &self,
        a: &Assessment,
        argv: &[String],
        req: &Requirements,
        mut tty: std::fs::File,
    ) -> i32 {
        let rules = prompt::rules_asking(a);
        let masked_reason = self.opts.reason.as_deref().map(redact::mask_text);
        let request = prompt::Request {
            command: &self.command.display(),
            rules,
            risk: a.risk.to_string(),
            cwd: &self.requester.cwd,
            branch: self
                .requester
                .git
                .as_ref()
                .and_then(|g| g.branch.as_deref()),
            requester: self.requester_label(),
            reason: masked_reason.as_deref(),
            request_id: &self.id,
        };
        let answer = match prompt::ask(&mut tty, &request, Duration::from_secs(req.timeout_secs)) {
            Ok(answer) => answer,
            Err(e) => {
                let _ = self.record("decision", json!({"decision": "deny", "decided_by": "terminal error", "error": e.to_string()}), true);
                eprintln!(
                    "gatekeep: the approval prompt failed ({e}); `{}` was not run",
                    Safe(&self.command.display())
                );
                return i32::from(exit::UNAVAILABLE);
            }
        };
        let approver = format!("{} at the terminal", self.requester.user);
        match answer {
            Answer::Approved => {
                if let Err(code) = self.record(
                    "decision",
                    json!({"decision": "approve", "decided_by": approver, "channel": "terminal"}),
                    true,
                ) {
                    return code;
                }
                self.run(argv)
            }
            Answer::Denied { reason } => {
                let reason = reason.map(|r| redact::mask_text(&r));
                if let Err(code) = self.record("decision", json!({"decision": "deny", "decided_by": approver, "channel": "terminal", "denial_reason": reason}), true) {
                    return code;
                }
                self.refuse(a, "denied", &approver, reason.as_deref(), exit::DENY)
            }
            Answer::Expired => {
                if let Err(code) = self.record(
                    "decision",
                    json!({"decision": "expired", "timeout_secs": req.timeout_secs}),
                    true,
                ) {
                    return code;
                }
                let left = format!(
                    "nobody approved it within {}:{:02}",
                    req.timeout_secs / 60,
                    req.timeout_secs % 60
                );
                self.refuse(a, "expired", &left, None, exit::EXPIRED)
            }
            Answer::Interrupted(sig) => {
                let _ = self.record(
                    "decision",
                    json!({"decision": "cancelled", "signal": sig}),
                    true,
                );
                eprintln!(
                    "gatekeep: cancelled while waiting for approval; `{}` was not run",
                    Safe(&self.command.display())
                );
                128 + sig
            }
        }
    }

    fn run(&self, argv: &[String]) -> i32 {
        let close: Vec<i32> = match &self.opts.result {
            Some(ResultSink::Fd(fd)) => vec![*fd],
            _ => Vec::new(),
        };
        match exec::run_supervised(argv, &close) {
            Ok(outcome) => {
                let _ = self.record(
                    "outcome",
                    serde_json::to_value(outcome).unwrap_or(Value::Null),
                    true,
                );
                outcome.exit_code
            }
            Err(e) => {
                let code = exec::spawn_error_code(&e);
                eprintln!("gatekeep: cannot run `{}`: {e}", Safe(&argv[0]));
                let _ = self.record(
                    "outcome",
                    json!({"exit_code": code, "error": e.to_string()}),
                    true,
                );
                code
            }
        }
    }

    fn requester_label(&self) -> String {
        let r = self.requester;
        match &r.agent {
            Some(agent) => format!("{}@{} (agent: {agent})", r.user, r.host),
            None => format!("{}@{}", r.user, r.host),
        }
    }

    fn unavailable(&self, a: &Assessment, why: &str) -> i32 {
        let _ = self.record(
            "decision",
            json!({"decision": "refused", "decided_by": "gatekeep", "why": why}),
            true,
        );
        self.refuse(a, "refused", "gatekeep", Some(why), exit::UNAVAILABLE)
    }

    /// Tells the agent what was refused, by whom, why, and what to do instead.
    fn refuse(
        &self,
        a: &Assessment,
        outcome: &str,
        by: &str,
        reason: Option<&str>,
        code: u8,
    ) -> i32 {
        let next = match outcome {
            "expired" => "ask the user to approve it at their terminal, then run it again",
            "refused" => {
                "ask the user to run it themselves, or run it where a person can approve it"
            }
            _ if by == "gatekeep policy" => {
                "do not retry it or work around it; if it is really needed, ask the user to run it themselves or to change the policy"
            }
            _ => "do not retry it; ask the user what they want instead",
        };
        // Written for the agent, and often read by a person on a terminal: every part that
        // the agent, a policy file or the service wrote is rendered terminal-safe. The copy
        // on stderr is wrapped to the terminal when there is one.
        let message = |width: Option<usize>| {
            let mut lines = vec![render::field(
                &format!("gatekeep: {outcome}: "),
                &format!("`{}`", self.command.display()),
                width,
            )];
            for c in a
                .commands
                .iter()
                .filter(|c| c.decision == a.decision && c.decision != Decision::Allow)
            {
                lines.push(render::field("  why:        ", &c.reason, width));
            }
            lines.push(render::field("  decided by: ", by, width));
            if let Some(reason) = reason {
                lines.push(render::field("  reason:     ", reason, width));
            }
            lines.push(render::field("  next step:  ", next, width));
            lines.push(render::field(
                "  request:    ",
                &format!("{} (recorded in {})", self.id, self.ledger.path().display()),
                width,
            ));
            let mut text = lines.join("\n");
            text.push('\n');
            text
        };
        let msg = message(None);
        let width = render::terminal_width(std::io::stderr());
        if width.is_some() {
            eprint!("{}", message(width));
        } else {
            eprint!("{msg}");
        }
        {
            let mut result = self.result.borrow_mut();
            result.insert("message".into(), json!(msg.trim_end()));
            result.insert("next_step".into(), json!(next));
        }
        if self.opts.json {
            let v = json!({"id": self.id, "outcome": outcome, "decided_by": by, "reason": reason, "next_step": next, "assessment": a});
            println!("{v}");
        }
        i32::from(code)
    }
}
