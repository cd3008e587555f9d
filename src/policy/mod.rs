//! The policy stage: turns a [`Script`] into a decision. It does no I/O besides reading
//! policy files in [`layers`]; evaluation itself is pure: what it needs to know about the
//! place a command runs in (environment, directory, symlinks) it asks a [`paths::Host`]
//! the caller passes in.
//!
//! Decisions are ordered `allow < approve < deny`, so "the strictest wins" is `max()`.
//! Anything the shell stage could not read escalates to at least `approve` whatever the
//! rules say: that is not a rule, so no layer can disable it.

pub mod flags;
pub mod glob;
pub mod layers;
mod moved;
mod overlap;
pub mod paths;
mod push;
pub mod rule;
pub mod sql;
pub mod subject;
pub mod unknown;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use layers::{Layer, LayerKind, PolicyError, PolicyPaths};
pub use rule::{Rule, RuleSpec};
pub use subject::{Subject, ToolSpec};

use crate::shell::Script;

/// How sure a match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Certainty {
    No,
    /// It matches if a word only known at run time takes a matching value.
    Possible,
    Certain,
}

/// What happens to a command.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Runs at once.
    #[default]
    Allow,
    /// Waits for a person to approve it.
    Approve,
    /// Never runs, whoever approves.
    Deny,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        })
    }
}

/// How much harm a command can do.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        })
    }
}

/// The built-in pack, indexed at build time (see `build.rs`).
pub mod builtin {
    use super::{Decision, Risk, RuleSpec, ToolSpec};

    /// One built-in rule: what the index needs, and its TOML text, compiled on first use.
    #[derive(Debug)]
    pub struct BuiltinRule {
        pub id: &'static str,
        pub programs: &'static [&'static str],
        /// Literal first words of the rule's subcommand patterns (empty: no such filter).
        pub first_words: &'static [&'static str],
        pub writes: bool,
        pub env: bool,
        pub construct: bool,
        pub source: &'static str,
    }

    include!(concat!(env!("OUT_DIR"), "/builtin_index.rs"));
}

/// Where a rule comes from: a file layer (compiled as it loaded, so that it could be
/// validated) or the built-in pack (compiled when a command first needs it).
#[derive(Debug)]
enum Source {
    Builtin(&'static builtin::BuiltinRule),
    File,
}

#[derive(Debug)]
struct Slot {
    layer: Layer,
    source: Source,
    /// Boxed: most built-in rules are never compiled in a process, and a slot stays small.
    rule: OnceCell<Box<Rule>>,
    /// Switched off by the system layer (`disable = [...]`).
    disabled: bool,
}

/// What makes a file rule worth trying on a command. Built-in rules are indexed by
/// `build.rs` into static sorted tables instead, so a process pays nothing for them.
#[derive(Debug, Default)]
struct Index {
    /// Rules by literal program name.
    by_program: HashMap<String, Vec<usize>>,
    /// Rules with program globs (`mkfs.*`): the globs, tried before the rule is compiled.
    by_glob: Vec<(usize, Vec<glob::Glob>)>,
    /// Rules without a program, tried on commands with output redirections...
    on_writes: Vec<usize>,
    /// ...with leading assignments...
    on_env: Vec<usize>,
    /// ...or on constructs of the whole line.
    constructs: Vec<usize>,
}

/// A layered policy: the built-in pack, then the files of each layer, most trusted first.
/// Slot `i` below `builtin::RULES.len()` is built-in rule `i`, possibly redefined or
/// disabled by the system layer; file rules follow.
#[derive(Debug, Default)]
pub struct Policy {
    slots: Vec<Slot>,
    /// Tool tables from files (system layer), which take precedence over built-in ones.
    tools: HashMap<String, ToolSpec>,
    /// Built-in tool tables, parsed on first use (same order as `builtin::TOOLS`).
    builtin_tools: Vec<OnceCell<ToolSpec>>,
    /// Compiled program globs of built-in rules, on first use.
    builtin_globs: OnceCell<Vec<(usize, Vec<glob::Glob>)>>,
    /// Built-in rules the system layer disabled, with the layer that disabled them.
    pub disabled: Vec<(String, Layer)>,
    /// The layers that were loaded, most trusted first.
    pub layers: Vec<Layer>,
    /// What happens to programs no rule names (see [`unknown`]).
    pub default_unknown: unknown::DefaultUnknown,
    index: Index,
}

/// One rule that fired for a command.
#[derive(Clone, Debug, Serialize)]
pub struct RuleHit {
    pub id: String,
    pub layer: LayerKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The decision this hit contributes (a possible match of a `deny` rule is `approve`).
    pub decision: Decision,
    pub risk: Risk,
    pub message: String,
    pub certainty: Certainty,
    /// Why the match is only possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(skip)]
    rule: usize,
}

/// The decision for one command of the line.
#[derive(Clone, Debug, Serialize)]
pub struct CommandVerdict {
    pub argv: Vec<String>,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    pub rules: Vec<RuleHit>,
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// True when the command could not be read statically.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

/// What an approval needs, combined over every rule that asked for approval.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Requirements {
    /// Groups whose members may approve (every rule's, for display); empty means any
    /// approver.
    pub approvers: Vec<String>,
    /// Each rule's `approvers`, one set per rule that names groups: every set must be
    /// met by some approval. Never the union alone: a layer that may only tighten must not
    /// widen who may approve by naming more groups.
    pub approver_sets: Vec<Vec<String>>,
    pub quorum: u32,
    /// Whether a person at the terminal may approve.
    pub local_approval: bool,
    /// Seconds to wait for approval: the shortest of the rules' timeouts.
    pub timeout_secs: u64,
    /// Step-up: the smallest of the rules' `fresh_auth`, the oldest an approver's sign-in at
    /// the identity provider may be. A rule that adds one, or a smaller one, only tightens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_auth: Option<u64>,
}

/// How long an approval may wait when no rule says.
pub const DEFAULT_APPROVAL_TIMEOUT_SECS: u64 = 300;

/// The decision for a whole command line.
#[derive(Clone, Debug, Serialize)]
pub struct Assessment {
    pub decision: Decision,
    pub risk: Risk,
    pub reason: String,
    pub commands: Vec<CommandVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Requirements>,
}

impl Policy {
    pub(crate) fn with_capacity(rules: usize) -> Policy {
        Policy {
            slots: Vec::with_capacity(rules),
            ..Policy::default()
        }
    }

    pub(crate) fn push_builtin(&mut self, rule: &'static builtin::BuiltinRule) {
        let layer = Layer {
            kind: LayerKind::Builtin,
            path: None,
        };
        self.slots.push(Slot {
            layer,
            source: Source::Builtin(rule),
            rule: OnceCell::new(),
            disabled: false,
        });
    }

    pub(crate) fn push_file_rule(&mut self, rule: Rule, layer: Layer) -> usize {
        self.slots.push(Slot {
            layer,
            source: Source::File,
            rule: OnceCell::from(Box::new(rule)),
            disabled: false,
        });
        self.slots.len() - 1
    }

    /// Replaces a rule in place (the system layer redefining a built-in rule).
    pub(crate) fn replace(&mut self, index: usize, rule: Rule, layer: Layer) {
        self.slots[index] = Slot {
            layer,
            source: Source::File,
            rule: OnceCell::from(Box::new(rule)),
            disabled: false,
        };
    }

    pub(crate) fn disable(&mut self, index: usize) {
        self.slots[index].disabled = true;
    }

    pub(crate) fn set_builtin_tools(&mut self) {
        self.builtin_tools = builtin::TOOLS.iter().map(|_| OnceCell::new()).collect();
    }

    pub(crate) fn set_tool(&mut self, name: String, tool: ToolSpec) {
        self.tools.insert(name, tool);
    }

    /// How `program`'s command line is laid out, if the policy knows.
    pub fn tool(&self, program: &str) -> Option<&ToolSpec> {
        if let Some(tool) = self.tools.get(program) {
            return Some(tool);
        }
        let i = builtin::TOOLS
            .binary_search_by(|(name, _)| (*name).cmp(program))
            .ok()?;
        let cell = self.builtin_tools.get(i)?;
        // A built-in tool table that does not parse is caught by the test suite; should one
        // slip through, reading the command without it only makes more words positional.
        Some(cell.get_or_init(|| builtin::tool_spec(builtin::TOOLS[i].0).unwrap_or_default()))
    }

    /// The id of rule `i`, without compiling it.
    pub(crate) fn id(&self, i: usize) -> &str {
        match (&self.slots[i].source, self.slots[i].rule.get()) {
            (_, Some(rule)) => &rule.spec.id,
            (Source::Builtin(b), None) => b.id,
            (Source::File, None) => "",
        }
    }

    /// Rule `i`, compiled on first use.
    pub fn rule(&self, i: usize) -> &Rule {
        let slot = &self.slots[i];
        slot.rule.get_or_init(|| {
            Box::new(match slot.source {
                Source::Builtin(b) => compile_builtin(b),
                // File rules are compiled when they load; this arm is never taken.
                Source::File => compile_builtin(&BROKEN),
            })
        })
    }

    pub fn layer(&self, i: usize) -> &Layer {
        &self.slots[i].layer
    }

    /// The indexes of every rule in force (not disabled), most trusted first.
    pub fn active(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(|&i| !self.slots[i].disabled)
    }

    /// How many rules are in force.
    pub fn len(&self) -> usize {
        self.active().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether slot `i` still holds the built-in rule `build.rs` indexed, in force.
    fn builtin_in_force(&self, i: usize) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| !s.disabled && matches!(s.source, Source::Builtin(_)))
    }

    /// Builds the index of file rules (and redefined built-in ones); called once after the
    /// layers are combined.
    pub(crate) fn index(&mut self) {
        let mut index = Index::default();
        for i in self.active().collect::<Vec<_>>() {
            if matches!(self.slots[i].source, Source::Builtin(_)) {
                continue;
            }
            let spec = &self.rule(i).spec;
            let programs: Vec<&str> = spec.program.iter().map(String::as_str).collect();
            if spec.construct.is_some() {
                index.constructs.push(i);
            } else if programs.is_empty() {
                if !spec.writes.is_empty() {
                    index.on_writes.push(i);
                }
                if !spec.env.is_empty() {
                    index.on_env.push(i);
                }
            } else if programs.iter().all(|p| !p.contains(['*', '?', '[', '\\'])) {
                for p in programs {
                    index.by_program.entry(p.to_owned()).or_default().push(i);
                }
            } else {
                let globs = programs
                    .iter()
                    .filter_map(|p| glob::Glob::new(p).ok())
                    .collect();
                index.by_glob.push((i, globs));
            }
        }
        self.index = index;
    }

    /// Rule indexes that may apply to an invocation, in policy order.
    fn candidates(&self, inv: &crate::shell::Invocation, program: &str) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        if let Ok(i) = builtin::BY_PROGRAM.binary_search_by(|(p, _)| (*p).cmp(program)) {
            out.extend(
                builtin::BY_PROGRAM[i]
                    .1
                    .iter()
                    .filter(|&&r| self.builtin_in_force(r)),
            );
        }
        let globbed = self.builtin_globs.get_or_init(|| {
            builtin::GLOBBED
                .iter()
                .map(|&r| {
                    (
                        r,
                        builtin::RULES[r]
                            .programs
                            .iter()
                            .filter_map(|p| glob::Glob::new(p).ok())
                            .collect(),
                    )
                })
                .collect()
        });
        let by_glob = globbed.iter().chain(&self.index.by_glob);
        out.extend(
            by_glob
                .filter(|(i, globs)| {
                    globs.iter().any(|g| g.is_match(program)) && !self.slots[*i].disabled
                })
                .map(|(i, _)| *i),
        );
        if let Some(rules) = self.index.by_program.get(program) {
            out.extend(rules);
        }
        if !inv.writes.is_empty() {
            out.extend(
                builtin::ON_WRITES
                    .iter()
                    .filter(|&&r| self.builtin_in_force(r)),
            );
            out.extend(&self.index.on_writes);
        }
        if !inv.assignments.is_empty() {
            out.extend(
                builtin::ON_ENV
                    .iter()
                    .filter(|&&r| self.builtin_in_force(r)),
            );
            out.extend(&self.index.on_env);
        }
        out.retain(|&i| !self.slots[i].disabled);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether built-in rule `i` cannot match because the command's first argument is a
    /// literal none of its subcommand patterns starts with: decided without compiling it.
    fn cannot_match(&self, i: usize, subject: &Subject<'_>) -> bool {
        let Source::Builtin(b) = self.slots[i].source else {
            return false;
        };
        if b.first_words.is_empty() || subject.has_other_readings() {
            return false;
        }
        match subject.first_positional() {
            None => true,
            Some(crate::shell::Word::Literal(w)) => !b.first_words.contains(&w.as_str()),
            Some(crate::shell::Word::Dynamic { .. }) => false,
        }
    }

    /// Rules that match constructs of the whole line.
    fn construct_rules(&self) -> Vec<usize> {
        let mut out: Vec<usize> = builtin::CONSTRUCTS
            .iter()
            .copied()
            .filter(|&r| self.builtin_in_force(r))
            .collect();
        out.extend(&self.index.constructs);
        out
    }

    /// The rules that fire for one invocation, with their certainty, its path words read as
    /// spelled.
    pub fn hits(&self, inv: &crate::shell::Invocation) -> Vec<RuleHit> {
        self.hits_in(inv, &paths::Unknown)
    }

    /// The rules that fire for one invocation, its path words read as they will be on disk
    /// where `host` says it runs.
    pub fn hits_in(&self, inv: &crate::shell::Invocation, host: &dyn paths::Host) -> Vec<RuleHit> {
        let key = inv.program().map(crate::shell::program::key);
        let (program, candidates) = match key.as_deref() {
            Some(program) => (program, self.candidates(inv, program)),
            // A statement that only assigns variables: only rules about variables apply.
            None if inv.argv.is_empty() && !inv.assignments.is_empty() => {
                let mut rules: Vec<usize> = builtin::ON_ENV
                    .iter()
                    .copied()
                    .filter(|&r| self.builtin_in_force(r))
                    .collect();
                rules.extend(
                    self.index
                        .on_env
                        .iter()
                        .filter(|&&i| !self.slots[i].disabled),
                );
                ("", rules)
            }
            None => return Vec::new(),
        };
        let subject = Subject::new(inv, program, self.tool(program)).with_host(host);
        let mut hits = Vec::new();
        for i in candidates {
            if self.cannot_match(i, &subject) {
                continue;
            }
            let rule = self.rule(i);
            let (certainty, why) = rule.matches(&subject);
            if certainty == Certainty::No {
                continue;
            }
            let decision = match certainty {
                Certainty::Certain => rule.spec.decision,
                // Only a certain match may deny, or allow; a possible one escalates.
                _ => match rule.spec.decision {
                    Decision::Allow => continue,
                    _ => Decision::Approve,
                },
            };
            hits.push(self.hit(i, decision, certainty, why));
        }
        // A certain allow from the system (or built-in) layer overrides built-in rules: this
        // is how an admin lowers a built-in decision. Hits from other layers stay.
        if hits.iter().any(|h| h.decision == Decision::Allow) {
            hits.retain(|h| h.decision == Decision::Allow || h.layer != LayerKind::Builtin);
        }
        hits
    }

    fn hit(
        &self,
        i: usize,
        decision: Decision,
        certainty: Certainty,
        why: Option<String>,
    ) -> RuleHit {
        let spec = &self.rule(i).spec;
        let layer = self.layer(i);
        RuleHit {
            id: spec.id.clone(),
            layer: layer.kind,
            file: layer.path.as_ref().map(|p| p.display().to_string()),
            decision,
            risk: spec.risk,
            message: spec.message.clone(),
            certainty,
            why,
            rule: i,
        }
    }

    /// Decides a whole command line, its path words read as spelled (no host known).
    pub fn evaluate(&self, script: &Script) -> Assessment {
        self.evaluate_in(script, &paths::Unknown)
    }

    /// Decides a whole command line, its path words read as they will be on disk where
    /// `host` says it runs.
    pub fn evaluate_in(&self, script: &Script, host: &dyn paths::Host) -> Assessment {
        let mut commands = Vec::new();
        for inv in &script.invocations {
            let hits = self.hits_in(inv, host);
            commands.push(verdict(inv.display_argv(), inv.via.clone(), hits));
            commands.extend(self.unknown_program(inv, host));
            commands.extend(self.push_to_default(inv, host));
        }
        for inv in &script.assignments {
            let hits = self.hits_in(inv, host);
            if hits.is_empty() {
                continue;
            }
            let shown = inv
                .assignments
                .iter()
                .map(|(name, value)| format!("{name}={}", value.display()))
                .collect();
            commands.push(verdict(shown, inv.via.clone(), hits));
        }
        for construct in &script.constructs {
            let hits: Vec<RuleHit> = self
                .construct_rules()
                .iter()
                .filter(|&&i| self.rule(i).spec.construct.as_deref() == Some(construct.name()))
                .map(|&i| self.hit(i, self.rule(i).spec.decision, Certainty::Certain, None))
                .collect();
            commands.push(verdict(vec![construct.shown()], Vec::new(), hits));
        }
        for u in &script.unreadable {
            commands.push(CommandVerdict {
                argv: vec![u.text.clone()],
                decision: Decision::Approve,
                risk: Some(Risk::High),
                rules: Vec::new(),
                reason: format!("cannot be read ahead: {}", u.why),
                via: u.via.clone(),
                unreadable: true,
            });
        }
        self.combine(commands)
    }

    /// The combine step: the strictest command decides the line.
    fn combine(&self, commands: Vec<CommandVerdict>) -> Assessment {
        let decision = commands
            .iter()
            .map(|c| c.decision)
            .max()
            .unwrap_or(Decision::Allow);
        let risk = commands
            .iter()
            .filter(|c| c.decision == decision)
            .filter_map(|c| c.risk)
            .max()
            .unwrap_or(Risk::Low);
        let reason = summary(&commands, decision);
        let requirements = (decision == Decision::Approve).then(|| {
            let mut req = Requirements {
                approvers: Vec::new(),
                approver_sets: Vec::new(),
                quorum: 1,
                local_approval: true,
                timeout_secs: DEFAULT_APPROVAL_TIMEOUT_SECS,
                fresh_auth: None,
            };
            for hit in commands
                .iter()
                .flat_map(|c| &c.rules)
                .filter(|h| h.decision == Decision::Approve)
            {
                let spec = &self.rule(hit.rule).spec;
                req.quorum = req.quorum.max(spec.quorum.unwrap_or(1));
                // A person at the terminal has no sign-in at the identity provider to be
                // fresh: a rule with `fresh_auth` is decided by the service only.
                req.local_approval &=
                    spec.local_approval.unwrap_or(true) && spec.fresh_auth.is_none();
                req.fresh_auth = match (req.fresh_auth, spec.fresh_auth) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                req.timeout_secs = req
                    .timeout_secs
                    .min(spec.timeout.unwrap_or(DEFAULT_APPROVAL_TIMEOUT_SECS));
                for group in &spec.approvers {
                    if !req.approvers.contains(group) {
                        req.approvers.push(group.clone());
                    }
                }
                let mut set = spec.approvers.clone();
                set.sort();
                set.dedup();
                if !set.is_empty() && !req.approver_sets.contains(&set) {
                    req.approver_sets.push(set);
                }
            }
            req
        });
        Assessment {
            decision,
            risk,
            reason,
            commands,
            requirements,
        }
    }

    /// The program names that rules in force guard (literal names only), sorted.
    pub fn programs(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for i in self.active() {
            let programs: Vec<&str> = match (&self.slots[i].source, self.slots[i].rule.get()) {
                (Source::Builtin(b), None) => b.programs.to_vec(),
                (_, _) => self
                    .rule(i)
                    .spec
                    .program
                    .iter()
                    .map(String::as_str)
                    .collect(),
            };
            names.extend(
                programs
                    .into_iter()
                    .filter(|p| !p.contains(['*', '?', '[', '\\']))
                    .map(str::to_owned),
            );
        }
        names.sort();
        names.dedup();
        names
    }

    /// Every rule (compiling the rest), most trusted first, for `policy show` and tests.
    pub fn rule_specs(&self) -> impl Iterator<Item = (&RuleSpec, &Layer)> {
        self.active().map(|i| (&self.rule(i).spec, self.layer(i)))
    }

    /// Whether `rule` fires on the command line `example` (for rule examples). Examples run
    /// on [`paths::FakeHost::example`]: home `/home/user`, working in `/home/user/project`,
    /// so that one means the same on every machine.
    pub fn rule_fires(&self, index: usize, example: &str) -> bool {
        let script = crate::shell::parse_shell(example);
        let rule = self.rule(index);
        if let Some(construct) = &rule.spec.construct {
            return script.constructs.iter().any(|c| c.name() == construct);
        }
        let host = paths::FakeHost::example();
        script
            .invocations
            .iter()
            .chain(&script.assignments)
            .any(|inv| {
                let key = inv.program().map(crate::shell::program::key);
                let program = match key.as_deref() {
                    Some(p) => p,
                    None if inv.argv.is_empty() => "",
                    None => return false,
                };
                let subject = Subject::new(inv, program, self.tool(program)).with_host(&host);
                rule.matches(&subject).0 != Certainty::No
            })
    }
}

/// Stands in for a built-in rule that does not compile (never shipped: a test compiles them
/// all). It matches every command and denies, so a broken pack fails closed.
static BROKEN: builtin::BuiltinRule = builtin::BuiltinRule {
    id: "broken-builtin-rule",
    programs: &[],
    first_words: &[],
    writes: false,
    env: false,
    construct: false,
    source: "",
};

fn compile_builtin(b: &builtin::BuiltinRule) -> Rule {
    // The spec comes from code `build.rs` generated; no TOML is parsed at run time.
    let index = builtin::RULES.iter().position(|r| std::ptr::eq(r, b));
    let compiled = index
        .and_then(builtin::rule_spec)
        .ok_or_else(|| "it is not in the generated pack".to_owned())
        .and_then(Rule::compile);
    compiled.unwrap_or_else(|e| {
        let spec = RuleSpec {
            id: b.id.to_owned(),
            decision: Decision::Deny,
            risk: Risk::Critical,
            message: format!(
                "the built-in rule `{}` is broken ({e}); nothing runs until gatekeep is fixed",
                b.id
            ),
            program: vec!["*".into()],
            ..RuleSpec::default()
        };
        Rule::compile_unchecked(spec)
    })
}

/// The line's reason: the first command that decided it, and why.
fn summary(commands: &[CommandVerdict], decision: Decision) -> String {
    match commands
        .iter()
        .find(|c| c.decision == decision && decision != Decision::Allow)
    {
        Some(c) => format!("`{}`: {}", c.argv.join(" "), c.reason),
        None if commands.is_empty() => "nothing to run".into(),
        None => "no rule asks for approval".into(),
    }
}

impl Assessment {
    /// Recomputes the line's reason after the commands were changed (masked for display).
    pub fn refresh_reason(&mut self) {
        self.reason = summary(&self.commands, self.decision);
    }
}

fn verdict(argv: Vec<String>, via: Vec<String>, hits: Vec<RuleHit>) -> CommandVerdict {
    let decision = hits
        .iter()
        .map(|h| h.decision)
        .max()
        .unwrap_or(Decision::Allow);
    let top = hits
        .iter()
        .filter(|h| h.decision == decision)
        .max_by_key(|h| h.risk);
    let risk = if decision == Decision::Allow {
        None
    } else {
        top.map(|h| h.risk)
    };
    let reason = match top {
        Some(h) if decision != Decision::Allow => match &h.why {
            Some(why) if h.certainty == Certainty::Possible => {
                format!("{} [{}] (possible match: {why})", h.message, h.id)
            }
            _ => format!("{} [{}]", h.message, h.id),
        },
        Some(h) => format!("allowed by {} [{}]", h.layer, h.id),
        None => "no rule matches".into(),
    };
    CommandVerdict {
        argv,
        decision,
        risk,
        rules: hits,
        reason,
        via,
        unreadable: false,
    }
}

#[cfg(test)]
mod tests;
