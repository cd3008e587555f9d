//! The policy stage: turns a [`Script`] into a decision. It does no I/O besides reading
//! policy files in [`layers`]; evaluation itself is pure.
//!
//! Decisions are ordered `allow < approve < deny`, so "the strictest wins" is `max()`.
//! Anything the shell stage could not read escalates to at least `approve` whatever the
//! rules say: that is not a rule, so no layer can disable it.

pub mod glob;
pub mod layers;
pub mod rule;
pub mod sql;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use layers::{Layer, LayerKind, PolicyError, PolicyPaths};
pub use rule::{Certainty, Rule, RuleSpec, Subject, ToolSpec};

use crate::shell::Script;

/// What happens to a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Runs at once.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
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

/// A compiled, layered policy.
#[derive(Debug, Default)]
pub struct Policy {
    /// Active rules, most trusted layer first.
    pub rules: Vec<(Rule, Layer)>,
    pub tools: HashMap<String, ToolSpec>,
    /// Built-in rules the system layer disabled, with the layer that disabled them.
    pub disabled: Vec<(String, Layer)>,
    /// The layers that were loaded, most trusted first.
    pub layers: Vec<Layer>,
    /// Rules by literal program name; rules with program globs or no program are scanned.
    by_program: HashMap<String, Vec<usize>>,
    scanned: Vec<usize>,
    constructs: Vec<usize>,
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
    /// Groups whose members may approve; empty means any approver.
    pub approvers: Vec<String>,
    pub quorum: u32,
    /// Whether a person at the terminal may approve.
    pub local_approval: bool,
}

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
    /// Builds the lookup index; called once after the layers are combined.
    pub(crate) fn index(&mut self) {
        self.by_program.clear();
        self.scanned.clear();
        self.constructs.clear();
        for (i, (rule, _)) in self.rules.iter().enumerate() {
            if rule.spec.construct.is_some() {
                self.constructs.push(i);
            } else if !rule.programs.is_empty() && rule.programs.iter().all(|g| g.is_literal()) {
                for p in &rule.spec.program {
                    self.by_program.entry(p.clone()).or_default().push(i);
                }
            } else {
                self.scanned.push(i);
            }
        }
    }

    /// Rule indexes that may apply to `program`, in policy order.
    fn candidates(&self, program: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self.by_program.get(program).cloned().unwrap_or_default();
        out.extend(self.scanned.iter().copied());
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rules that fire for one invocation, with their certainty.
    pub fn hits(&self, inv: &crate::shell::Invocation) -> Vec<RuleHit> {
        let Some(program) = inv.program() else { return Vec::new() };
        let subject = Subject::new(inv, program, self.tools.get(program));
        let mut hits = Vec::new();
        for i in self.candidates(program) {
            let (rule, layer) = &self.rules[i];
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
            hits.push(self.hit(i, layer, decision, certainty, why));
        }
        // A certain allow from the system (or built-in) layer overrides built-in rules: this
        // is how an admin lowers a built-in decision. Hits from other layers stay.
        if hits.iter().any(|h| h.decision == Decision::Allow) {
            hits.retain(|h| h.decision == Decision::Allow || h.layer != LayerKind::Builtin);
        }
        hits
    }

    fn hit(&self, i: usize, layer: &Layer, decision: Decision, certainty: Certainty, why: Option<String>) -> RuleHit {
        let spec = &self.rules[i].0.spec;
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

    /// Decides a whole command line.
    pub fn evaluate(&self, script: &Script) -> Assessment {
        let mut commands = Vec::new();
        for inv in &script.invocations {
            let hits = self.hits(inv);
            commands.push(verdict(inv.display_argv(), inv.via.clone(), hits));
        }
        for construct in &script.constructs {
            let hits: Vec<RuleHit> = self
                .constructs
                .iter()
                .filter(|&&i| self.rules[i].0.spec.construct.as_deref() == Some(construct.name()))
                .map(|&i| self.hit(i, &self.rules[i].1, self.rules[i].0.spec.decision, Certainty::Certain, None))
                .collect();
            let name = match construct {
                crate::shell::Construct::ForkBomb { name } => name.clone(),
            };
            commands.push(verdict(vec![format!("{name}()")], Vec::new(), hits));
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
        let decision = commands.iter().map(|c| c.decision).max().unwrap_or(Decision::Allow);
        let risk = commands
            .iter()
            .filter(|c| c.decision == decision)
            .filter_map(|c| c.risk)
            .max()
            .unwrap_or(Risk::Low);
        let reason = match commands.iter().find(|c| c.decision == decision && decision != Decision::Allow) {
            Some(c) => format!("`{}`: {}", c.argv.join(" "), c.reason),
            None if commands.is_empty() => "nothing to run".into(),
            None => "no rule asks for approval".into(),
        };
        let requirements = (decision == Decision::Approve).then(|| {
            let mut req = Requirements { approvers: Vec::new(), quorum: 1, local_approval: true };
            for hit in commands.iter().flat_map(|c| &c.rules).filter(|h| h.decision == Decision::Approve) {
                let spec = &self.rules[hit.rule].0.spec;
                req.quorum = req.quorum.max(spec.quorum.unwrap_or(1));
                req.local_approval &= spec.local_approval.unwrap_or(true);
                for group in &spec.approvers {
                    if !req.approvers.contains(group) {
                        req.approvers.push(group.clone());
                    }
                }
            }
            req
        });
        Assessment { decision, risk, reason, commands, requirements }
    }

    /// Compiled rules for `policy show`, most trusted first.
    pub fn rule_specs(&self) -> impl Iterator<Item = (&RuleSpec, &Layer)> {
        self.rules.iter().map(|(r, l)| (&r.spec, l))
    }

    /// Whether `rule` fires on the command line `example` (for rule examples).
    pub fn rule_fires(&self, index: usize, example: &str) -> bool {
        let script = crate::shell::parse_shell(example);
        let rule = &self.rules[index].0;
        if let Some(construct) = &rule.spec.construct {
            return script.constructs.iter().any(|c| c.name() == construct);
        }
        script.invocations.iter().any(|inv| {
            inv.program().is_some_and(|p| {
                let subject = Subject::new(inv, p, self.tools.get(p));
                rule.matches(&subject).0 != Certainty::No
            })
        })
    }
}

fn verdict(argv: Vec<String>, via: Vec<String>, hits: Vec<RuleHit>) -> CommandVerdict {
    let decision = hits.iter().map(|h| h.decision).max().unwrap_or(Decision::Allow);
    let top = hits.iter().filter(|h| h.decision == decision).max_by_key(|h| h.risk);
    let risk = if decision == Decision::Allow { None } else { top.map(|h| h.risk) };
    let reason = match top {
        Some(h) if decision != Decision::Allow => match &h.why {
            Some(why) if h.certainty == Certainty::Possible => format!("{} [{}] (possible match: {why})", h.message, h.id),
            _ => format!("{} [{}]", h.message, h.id),
        },
        Some(h) => format!("allowed by {} [{}]", h.layer, h.id),
        None => "no rule matches".into(),
    };
    CommandVerdict { argv, decision, risk, rules: hits, reason, via, unreadable: false }
}
