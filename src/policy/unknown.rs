//! Programs that no rule names.
//!
//! An enumerated list of dangerous programs is never complete, so the policy does not stop
//! at "no rule fired" for a program it knows nothing about:
//!
//! - **Programs that may take a command.** `setarch x86_64 kubectl delete ns prod`,
//!   `ssh-agent kubectl ...`, `prlimit ... kubectl ...`: countless programs run the rest of
//!   their command line, and gatekeep cannot list them all. So for a program that no rule
//!   names and that is not on the known-safe list, any later word that names a program
//!   rules guard starts a *possible* command: it is classified, and what it would need
//!   (approval or denial) makes the line a possible match, which escalates (never denies:
//!   a possible match needs a person, not a refusal).
//! - **`default_unknown = "approve"`.** With this setting a program that no rule names and
//!   the known-safe list (`known_safe.toml`, shipped with the pack) does not hold escalates.
//!   The default, `allow`, keeps the behaviour of earlier releases. Only the system layer may
//!   set it back to `allow` (see `layers.rs`).
//!
//! The fast path is kept: the known-safe list is parsed only when a later word names a
//! guarded program, or when `default_unknown = "approve"` is in force; a word is checked
//! against the built-in index with a binary search.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{CommandVerdict, Decision, Policy, Risk, RuleHit, paths, verdict};
use crate::shell::unwrap::SHELLS;
use crate::shell::{Invocation, Word, basename};

/// What happens to a program that no rule names and the known-safe list does not hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultUnknown {
    /// Runs as before (rules alone decide).
    #[default]
    Allow,
    /// Escalates.
    Approve,
}

/// The known-safe list (`known_safe.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownSafe {
    /// Programs safe with any arguments.
    #[serde(default)]
    programs: Vec<String>,
    /// Programs safe with these first words only (`git status`, `cargo test`).
    #[serde(default)]
    subcommands: HashMap<String, Vec<String>>,
}

const KNOWN_SAFE: &str = include_str!("known_safe.toml");

/// How many later words of one command are tried as the start of a possible command.
const MAX_INNER: usize = 8;

impl KnownSafe {
    /// The list shipped with the pack, parsed on first use.
    pub fn builtin() -> &'static KnownSafe {
        static LIST: OnceLock<KnownSafe> = OnceLock::new();
        // The list is tested (`known_safe_list_parses`); were it broken, an empty list only
        // makes more commands escalate.
        LIST.get_or_init(|| toml::from_str(KNOWN_SAFE).unwrap_or_default())
    }

    /// Whether `inv` runs a program the list holds (with a listed first word where the list
    /// names subcommands).
    pub fn holds(&self, program: &str, inv: &Invocation) -> bool {
        if self.programs.iter().any(|p| p == program) {
            return true;
        }
        let Some(subs) = self.subcommands.get(program) else {
            return false;
        };
        let first = inv.argv[1..]
            .iter()
            .find(|w| w.literal().is_none_or(|s| !s.starts_with('-')));
        first
            .and_then(Word::literal)
            .is_some_and(|w| subs.iter().any(|s| s == w))
    }
}

impl Policy {
    /// Whether some rule in force names `program` (literally or by a glob).
    pub(super) fn guards(&self, program: &str) -> bool {
        let bare = Invocation::literal([program.to_owned()]);
        !self.candidates(&bare, program).is_empty()
    }

    /// What the policy adds for a program no rule names: the possible command it may run,
    /// and the `default_unknown` decision.
    pub(super) fn unknown_program(
        &self,
        inv: &Invocation,
        host: &dyn paths::Host,
    ) -> Option<CommandVerdict> {
        let program = inv.program()?;
        if self.guards(program) {
            return None;
        }
        if let Some(inner) = self.possible_inner(program, inv, host) {
            return Some(inner);
        }
        if self.default_unknown == DefaultUnknown::Approve
            && !KnownSafe::builtin().holds(program, inv)
        {
            return Some(CommandVerdict {
                argv: inv.display_argv(),
                decision: Decision::Approve,
                risk: Some(Risk::Medium),
                rules: Vec::new(),
                reason: format!(
                    "`{program}` is not named by any rule or the known-safe list, and the policy escalates unknown programs (default_unknown = \"approve\")"
                ),
                via: inv.via.clone(),
                unreadable: false,
            });
        }
        None
    }

    /// The first later word of `inv` that names a guarded program and starts a command
    /// needing approval or denial, read as a possible match.
    fn possible_inner(
        &self,
        program: &str,
        inv: &Invocation,
        host: &dyn paths::Host,
    ) -> Option<CommandVerdict> {
        let mut tried = 0;
        for start in 1..inv.argv.len() {
            let Some(word) = inv.argv[start].literal() else {
                continue;
            };
            // Options and assignments are never a program name.
            if word.starts_with('-') || word.contains('=') {
                continue;
            }
            let name = basename(word);
            // A shell given a command string is followed through the shell stage, since
            // what it runs is in the string (`setarch x86_64 bash -c '...'`).
            let shell = SHELLS.contains(&name) && inv.argv.len() > start + 1;
            if name.is_empty() || name == program || !(shell || self.guards(name)) {
                continue;
            }
            // Checked only now, so that commands without such a word never parse the list.
            if KnownSafe::builtin().holds(program, inv) {
                return None;
            }
            tried += 1;
            if tried > MAX_INNER {
                return None;
            }
            let mut inner = inv.clone();
            inner.argv = inv.argv[start..].to_vec();
            inner.via.push(format!("{program} (may run its arguments)"));
            if shell {
                if let Some(found) = self.possible_shell(program, &inner, host) {
                    return Some(found);
                }
                continue;
            }
            let hits: Vec<RuleHit> = self
                .hits_in(&inner, host)
                .into_iter()
                .filter(|h| h.decision >= Decision::Approve)
                .map(|mut h| {
                    h.decision = Decision::Approve;
                    h.certainty = super::Certainty::Possible;
                    h.why = Some(format!(
                        "`{program}` is a program gatekeep does not know; it may run `{name}` with the words after it"
                    ));
                    h
                })
                .collect();
            if !hits.is_empty() {
                return Some(verdict(inner.display_argv(), inner.via, hits));
            }
        }
        None
    }

    /// A shell with arguments after a program gatekeep does not know: the shell's command
    /// line is read by the shell stage and decided as a whole; whatever it would need
    /// (approval, denial, or a person because it cannot be read) escalates.
    fn possible_shell(
        &self,
        program: &str,
        inner: &Invocation,
        host: &dyn paths::Host,
    ) -> Option<CommandVerdict> {
        let argv: Option<Vec<String>> = inner
            .argv
            .iter()
            .map(|w| w.literal().map(str::to_owned))
            .collect();
        let reason = match argv {
            Some(argv) => {
                let assessment = self.evaluate_in(&crate::shell::from_argv(&argv), host);
                if assessment.decision < Decision::Approve {
                    return None;
                }
                assessment.reason
            }
            None => "its words are only known at run time".to_owned(),
        };
        Some(CommandVerdict {
            argv: inner.display_argv(),
            decision: Decision::Approve,
            risk: Some(Risk::High),
            rules: Vec::new(),
            reason: format!(
                "`{program}` is a program gatekeep does not know; it may run this shell command line, which needs a person: {reason}"
            ),
            via: inner.via.clone(),
            unreadable: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_safe_list_parses() {
        let list: KnownSafe = toml::from_str(KNOWN_SAFE).expect("known_safe.toml parses");
        assert!(list.programs.iter().any(|p| p == "ls"));
        assert!(list.subcommands["git"].iter().any(|s| s == "status"));
        // Nothing that changes state outside the working tree (shells and wrappers are read
        // through: what they run is classified).
        for risky in ["rm", "dd", "kubectl", "terraform", "sudo", "curl", "wget"] {
            assert!(!list.programs.iter().any(|p| p == risky), "{risky}");
        }
    }
}
