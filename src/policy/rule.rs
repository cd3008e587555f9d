//! Rules: their TOML form, their compiled form, and how one rule matches one command.
//!
//! A rule matches the parsed command, never its text: the program by basename, subcommand
//! words found after the tool's own global options, flags in every spelling, argument globs,
//! SQL statements, redirection targets. Every condition answers [`Certainty`]: a word only
//! known at run time can make a condition *possible* rather than certain, and a possible
//! match still escalates (but never reaches `deny`, which needs certainty).

use serde::{Deserialize, Serialize};

use super::glob::{Glob, GlobList};
use super::subject::{FlagSpec, SubcommandPattern, Subject, best};
use super::{Certainty, Decision, Risk};

/// A rule as written in a policy file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub decision: Decision,
    pub risk: Risk,
    pub message: String,
    /// Program basenames (globs allowed: `mkfs*`). Empty: any program.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program: Vec<String>,
    /// Leading words after the tool's global options, any of: `"delete"`, `"state rm"`,
    /// `"* delete-*"`, `"** delete"` (`**` stands for any number of words).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcommand: Vec<String>,
    /// The rule does not fire when the leading words match one of these (read-only verbs of
    /// a tool whose other verbs all change something).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_subcommand: Vec<String>,
    /// Every one of these flags must be given; `|` separates spellings of one flag:
    /// `"-r|-R|--recursive"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// At least one of these flags must be given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_flag: Vec<String>,
    /// None of these flags may be given (`--dry-run`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_flags: Vec<String>,
    /// Some argument (any word that is not a flag) matches; `!glob` exempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The last argument matches (the destination of a copy); `!glob` exempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// Some SQL statement the command runs uses one of these keywords (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql: Vec<String>,
    /// Some output redirection writes to a path matching one of these globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
    /// Where standard input comes from, any of: `pipe` (another command's output), `file`
    /// (`< file`), `text` (a here-document or here-string), `inherited`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdin: Vec<String>,
    /// Some leading `NAME=value` assignment names one of these variables (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// A structure of the whole line (`fork-bomb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub construct: Option<String>,
    /// Groups whose members may approve (used by the approval service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// How many distinct approvers are needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// Whether a person at the terminal may approve (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_approval: Option<bool>,
    /// Seconds to wait for an approval before the request expires (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Step-up: an approval needs a sign-in at the identity provider no older than this
    /// many seconds (the approver's `auth_time`); static approver tokens and older sessions
    /// are refused, and the terminal prompt cannot approve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_auth: Option<u64>,
    /// Commands this rule must match (checked when the policy loads and by `policy test`).
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub must_match: Vec<String>,
    /// Commands this rule must not match.
    #[serde(default, rename = "not_match", skip_serializing_if = "Vec::is_empty")]
    pub must_not_match: Vec<String>,
}

/// A rule ready to match.
#[derive(Clone, Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    pub programs: Vec<Glob>,
    subcommands: Vec<SubcommandPattern>,
    not_subcommands: Vec<SubcommandPattern>,
    flags: Vec<FlagSpec>,
    any_flag: Vec<FlagSpec>,
    not_flags: Vec<FlagSpec>,
    args: GlobList,
    target: GlobList,
    sql: Vec<String>,
    writes: GlobList,
    env: Vec<Glob>,
}

impl Rule {
    pub fn compile(spec: RuleSpec) -> Result<Rule, String> {
        if spec.id.trim().is_empty() || spec.id.contains(char::is_whitespace) {
            return Err(format!(
                "rule id `{}` must be a non-empty word without spaces",
                spec.id
            ));
        }
        if spec.message.trim().is_empty() {
            return Err(format!(
                "rule `{}` needs a message: it is what agents and approvers read",
                spec.id
            ));
        }
        let has_condition = !spec.program.is_empty()
            || !spec.writes.is_empty()
            || !spec.env.is_empty()
            || spec.construct.is_some();
        if !has_condition {
            return Err(format!(
                "rule `{}` would match every command; give it a `program`, `writes`, `env` or `construct`",
                spec.id
            ));
        }
        if let Some(c) = &spec.construct
            && !matches!(c.as_str(), "fork-bomb" | "script-shell-out")
        {
            return Err(format!(
                "rule `{}`: unknown construct `{c}` (known: fork-bomb, script-shell-out)",
                spec.id
            ));
        }
        if let Some(bad) = spec
            .stdin
            .iter()
            .find(|s| !matches!(s.as_str(), "pipe" | "file" | "text" | "inherited"))
        {
            return Err(format!(
                "rule `{}`: unknown stdin source `{bad}` (known: pipe, file, text, inherited)",
                spec.id
            ));
        }
        if spec.timeout == Some(0) {
            return Err(format!(
                "rule `{}`: timeout must be at least 1 second",
                spec.id
            ));
        }
        if spec.quorum == Some(0) {
            return Err(format!("rule `{}`: quorum must be at least 1", spec.id));
        }
        if spec.fresh_auth == Some(0) {
            return Err(format!(
                "rule `{}`: fresh_auth must be at least 1 second (a sign-in that old at most)",
                spec.id
            ));
        }
        let globs = |list: &[String]| -> Result<Vec<Glob>, String> {
            list.iter().map(|p| Glob::new(p)).collect()
        };
        let sequences = |list: &[String]| -> Result<Vec<SubcommandPattern>, String> {
            list.iter()
                .map(|p| {
                    p.split_whitespace()
                        .map(|w| {
                            if w == "**" {
                                Ok(None)
                            } else {
                                Glob::new(w).map(Some)
                            }
                        })
                        .collect()
                })
                .collect()
        };
        let flag_specs = |list: &[String]| -> Result<Vec<FlagSpec>, String> {
            list.iter().map(|s| parse_flag_spec(s)).collect()
        };
        let with_id = |e: String| format!("rule `{}`: {e}", spec.id);
        Ok(Rule {
            programs: globs(&spec.program).map_err(with_id)?,
            subcommands: sequences(&spec.subcommand).map_err(with_id)?,
            not_subcommands: sequences(&spec.not_subcommand).map_err(with_id)?,
            flags: flag_specs(&spec.flags).map_err(with_id)?,
            any_flag: flag_specs(&spec.any_flag).map_err(with_id)?,
            not_flags: flag_specs(&spec.not_flags).map_err(with_id)?,
            args: GlobList::new(&spec.args).map_err(with_id)?,
            target: GlobList::new(&spec.target).map_err(with_id)?,
            sql: spec.sql.iter().map(|k| k.to_ascii_uppercase()).collect(),
            writes: GlobList::new(&spec.writes).map_err(with_id)?,
            env: globs(&spec.env).map_err(with_id)?,
            spec,
        })
    }

    /// A rule from a spec known to be valid (gatekeep's own fail-closed stand-in): if it
    /// were not, the rule would still match every command.
    pub(crate) fn compile_unchecked(spec: RuleSpec) -> Rule {
        Rule::compile(spec.clone()).unwrap_or_else(|_| Rule {
            programs: vec![Glob::any()],
            subcommands: Vec::new(),
            not_subcommands: Vec::new(),
            flags: Vec::new(),
            any_flag: Vec::new(),
            not_flags: Vec::new(),
            args: GlobList::default(),
            target: GlobList::default(),
            sql: Vec::new(),
            writes: GlobList::default(),
            env: Vec::new(),
            spec,
        })
    }

    /// How this rule matches one command; `why` names the word that made it only possible.
    /// When the line reads more than one way (an option gatekeep does not know may take the
    /// word after it), the strictest reading counts for rules that look for a verb.
    pub fn matches(&self, subject: &Subject<'_>) -> (Certainty, Option<String>) {
        let mut found = self.matches_reading(subject);
        // Only where the verb is found: dropping words changes nothing else for the stricter.
        if self.subcommands.is_empty() && self.not_subcommands.is_empty() {
            return found;
        }
        for other in subject.other_readings() {
            if found.0 == Certainty::Certain {
                break;
            }
            let m = self.matches_reading(other);
            if m.0 > found.0 {
                found = m;
            }
        }
        found
    }

    fn matches_reading(&self, subject: &Subject<'_>) -> (Certainty, Option<String>) {
        if self.spec.construct.is_some() {
            return (Certainty::No, None);
        }
        let mut certainty = Certainty::Certain;
        let mut why = None;
        let mut check = |c: (Certainty, Option<String>)| {
            if c.0 < certainty {
                certainty = c.0;
            }
            if c.0 == Certainty::Possible && why.is_none() {
                why = c.1;
            }
            certainty != Certainty::No
        };
        if !(self.programs.is_empty() || self.programs.iter().any(|g| g.is_match(subject.program)))
        {
            return (Certainty::No, None);
        }
        // Arguments are the words after the subcommand this rule matched.
        let mut skip = 0;
        if !self.subcommands.is_empty() {
            let (c, w, consumed) = subject.subcommand(&self.subcommands);
            if !check((c, w)) {
                return (Certainty::No, None);
            }
            skip = consumed;
        }
        let ok = (self.not_subcommands.is_empty()
            || subject.subcommand(&self.not_subcommands).0 != Certainty::Certain)
            && self.flags.iter().all(|f| check(subject.flag(f)))
            && (self.any_flag.is_empty()
                || check(best(self.any_flag.iter().map(|f| subject.flag(f)))))
            && !self.not_flags.iter().any(|f| subject.flag_in_force(f))
            && (self.args.is_empty() || check(subject.args(&self.args, skip)))
            && (self.target.is_empty() || check(subject.target(&self.target, skip)))
            && (self.sql.is_empty() || check(subject.sql(&self.sql)))
            && (self.writes.is_empty() || check(subject.writes(&self.writes)))
            && (self.env.is_empty() || check(subject.env(&self.env)))
            && (self.spec.stdin.is_empty()
                || self.spec.stdin.iter().any(|s| s == subject.stdin_kind()));
        if ok {
            (certainty, why)
        } else {
            (Certainty::No, None)
        }
    }
}

fn parse_flag_spec(spec: &str) -> Result<FlagSpec, String> {
    let mut flag = FlagSpec {
        long: Vec::new(),
        short: Vec::new(),
        exact: Vec::new(),
    };
    for alt in spec.split('|').map(str::trim) {
        let glob = alt.contains(['*', '?', '[', '=']);
        if let Some(long) = alt.strip_prefix("--").filter(|l| !l.is_empty() && !glob) {
            flag.long.push(long.to_owned());
        } else if alt.starts_with('-') && alt.chars().count() == 2 {
            flag.short.extend(alt.chars().nth(1));
        } else if alt.starts_with('-') || alt.starts_with('+') {
            flag.exact.push(Glob::new(alt)?);
        } else {
            return Err(format!(
                "flag `{alt}` must start with `-` (write `-f`, `--force` or `-delete`)"
            ));
        }
    }
    Ok(flag)
}
