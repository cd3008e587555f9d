//! Policy layers and their combination — the one place where layers meet.
//!
//! Layers, most trusted first: the built-in pack (compiled into the binary), the system file
//! (`/etc/gatekeep/policy.toml`, admin-owned), the user file, `.gatekeep.toml` files from
//! the working directory upward, and a file named by `GATEKEEP_POLICY`. Only the system layer
//! may disable a built-in rule, redefine one, define tools, or write `allow` rules. Every
//! other layer can only add rules that tighten; one that tries anything else is refused with
//! an error naming the file, line and column, and — since an agent can write files in its
//! workspace — no command is allowed while that error stands.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::ToolSpec;
use super::rule::{Rule, RuleSpec};
use super::unknown::DefaultUnknown;
use super::{Decision, Policy};
use crate::env_vars;

/// The system layer's fixed location. It is not configurable at run time: an environment
/// variable or flag that moved it would let whoever sets it replace the admin's policy.
pub const SYSTEM_PATH: &str = "/etc/gatekeep/policy.toml";

/// The project file name looked for from the working directory upward.
pub const PROJECT_FILE: &str = ".gatekeep.toml";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    Builtin,
    System,
    User,
    Project,
    Env,
}

impl LayerKind {
    /// Whether this layer may loosen: disable or redefine rules, define tools, allow.
    pub fn may_loosen(self) -> bool {
        matches!(self, LayerKind::Builtin | LayerKind::System)
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayerKind::Builtin => "built-in",
            LayerKind::System => "system",
            LayerKind::User => "user",
            LayerKind::Project => "project",
            LayerKind::Env => "environment",
        })
    }
}

/// Where a layer came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub kind: LayerKind,
    pub path: Option<PathBuf>,
}

impl Layer {
    fn name(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "<built-in policy>".into(),
        }
    }
}

/// A policy file that could not be used. Every variant stops every command.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}:{line}:{column}: {message}\nhint: {hint}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    },
    #[error(
        "cannot read policy file {file}: {source}\nhint: fix its permissions or remove it; no command runs while it cannot be read"
    )]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "policy file {file} named by {var} does not exist\nhint: unset {var} or point it at a policy file"
    )]
    Missing { file: String, var: &'static str },
}

/// Which files make up the policy.
#[derive(Clone, Debug, Default)]
pub struct PolicyPaths {
    pub system: Option<PathBuf>,
    pub user: Option<PathBuf>,
    /// Project files, nearest the working directory last.
    pub project: Vec<PathBuf>,
    pub env: Option<PathBuf>,
}

impl PolicyPaths {
    /// The standard locations for a command run in `cwd`.
    pub fn discover(cwd: &Path) -> PolicyPaths {
        let config = std::env::var_os(env_vars::XDG_CONFIG_HOME)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os(env_vars::HOME).map(|h| PathBuf::from(h).join(".config")));
        let mut project: Vec<PathBuf> = cwd
            .ancestors()
            .map(|dir| dir.join(PROJECT_FILE))
            .filter(|p| p.is_file())
            .collect();
        project.reverse();
        PolicyPaths {
            system: Some(PathBuf::from(SYSTEM_PATH)),
            user: config.map(|c| c.join("gatekeep").join("policy.toml")),
            project,
            env: std::env::var_os(env_vars::GATEKEEP_POLICY)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// Loads and combines every layer.
    pub fn load(&self) -> Result<Policy, PolicyError> {
        let mut sources = Vec::new();
        let optional = [
            (LayerKind::System, &self.system),
            (LayerKind::User, &self.user),
        ];
        for (kind, path) in optional {
            if let Some(path) = path
                && let Some(text) = read_optional(path)?
            {
                sources.push((
                    Layer {
                        kind,
                        path: Some(path.clone()),
                    },
                    text,
                ));
            }
        }
        for path in &self.project {
            if let Some(text) = read_optional(path)? {
                sources.push((
                    Layer {
                        kind: LayerKind::Project,
                        path: Some(path.clone()),
                    },
                    text,
                ));
            }
        }
        if let Some(path) = &self.env {
            match read_optional(path)? {
                Some(text) => sources.push((
                    Layer {
                        kind: LayerKind::Env,
                        path: Some(path.clone()),
                    },
                    text,
                )),
                None => {
                    return Err(PolicyError::Missing {
                        file: path.display().to_string(),
                        var: env_vars::GATEKEEP_POLICY,
                    });
                }
            }
        }
        combine(&sources)
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, PolicyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PolicyError::Read {
            file: path.display().to_string(),
            source,
        }),
    }
}

/// One policy file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    /// Built-in rule ids to switch off (system layer only).
    #[serde(default)]
    disable: Vec<Spanned<String>>,
    /// How tools lay out their command lines (built-in and system layers only).
    #[serde(default)]
    tools: BTreeMap<String, Spanned<ToolSpec>>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RuleSpec>>,
    /// What happens to programs no rule names; only the system layer may set `allow`.
    #[serde(default)]
    default_unknown: Option<Spanned<DefaultUnknown>>,
}

/// Parses one layer's text, reporting errors against its file.
fn parse_file(layer: &Layer, text: &str) -> Result<PolicyFile, PolicyError> {
    toml::from_str::<PolicyFile>(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        PolicyError::Invalid {
            file: layer.name(),
            line,
            column,
            message: e.message().trim_end().to_owned(),
            hint: "see `gatekeep policy show` for the format, and check the file with `gatekeep policy lint FILE`".into(),
        }
    })
}

/// The 1-based line and column of a byte offset, for `file:line:col` messages.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

fn invalid(
    layer: &Layer,
    text: &str,
    span: std::ops::Range<usize>,
    message: String,
    hint: &str,
) -> PolicyError {
    let (line, column) = line_col(text, span.start);
    PolicyError::Invalid {
        file: layer.name(),
        line,
        column,
        message,
        hint: hint.into(),
    }
}

/// Combines the built-in pack with `sources` (file layers, most trusted first).
pub fn combine(sources: &[(Layer, String)]) -> Result<Policy, PolicyError> {
    let mut policy = Policy::with_capacity(super::builtin::RULES.len());
    policy.layers.push(Layer {
        kind: LayerKind::Builtin,
        path: None,
    });
    policy.set_builtin_tools();
    // Where each rule id was defined, to refuse redefinitions.
    let mut defined: BTreeMap<String, (usize, LayerKind)> = BTreeMap::new();
    for (i, rule) in super::builtin::RULES.iter().enumerate() {
        // Only files can redefine ids: without them, skip the map (start-up time).
        if !sources.is_empty() {
            defined.insert(rule.id.to_owned(), (i, LayerKind::Builtin));
        }
        policy.push_builtin(rule);
    }
    let mut disabled = Vec::new();
    // Source text and span of every rule from a file, to point example failures at it.
    let mut spans: BTreeMap<String, (String, std::ops::Range<usize>)> = BTreeMap::new();
    let loosening_hint = "only the system layer (/etc/gatekeep/policy.toml, owned by an admin) may loosen the policy; user, project and environment layers can only add rules that ask for approval or deny";
    for (layer, text) in sources {
        let file = parse_file(layer, text)?;
        policy.layers.push(layer.clone());
        for id in &file.disable {
            if !layer.kind.may_loosen() {
                return Err(invalid(
                    layer,
                    text,
                    id.span(),
                    format!("the {} layer cannot disable rules", layer.kind),
                    loosening_hint,
                ));
            }
            match defined.get(id.get_ref()) {
                Some(&(index, LayerKind::Builtin)) => {
                    policy.disabled.push((id.get_ref().clone(), layer.clone()));
                    disabled.push(index);
                }
                _ => {
                    return Err(invalid(
                        layer,
                        text,
                        id.span(),
                        format!("no built-in rule has the id `{}`", id.get_ref()),
                        "`gatekeep policy show` lists the rule ids",
                    ));
                }
            }
        }
        if let Some(setting) = &file.default_unknown {
            // A lower layer may ask for more approvals, never fewer: `allow` there would undo
            // the system layer's `approve`, so it is refused like an `allow` rule.
            let value = *setting.get_ref();
            if value == DefaultUnknown::Allow && !layer.kind.may_loosen() {
                return Err(invalid(
                    layer,
                    text,
                    setting.span(),
                    format!(
                        "the {} layer cannot set default_unknown = \"allow\"",
                        layer.kind
                    ),
                    loosening_hint,
                ));
            }
            policy.default_unknown = if layer.kind.may_loosen() {
                value
            } else {
                policy.default_unknown.max(value)
            };
        }
        for (name, tool) in &file.tools {
            if !layer.kind.may_loosen() {
                return Err(invalid(
                    layer,
                    text,
                    tool.span(),
                    format!(
                        "the {} layer cannot define how `{name}` is read",
                        layer.kind
                    ),
                    loosening_hint,
                ));
            }
            policy.set_tool(name.clone(), tool.get_ref().clone());
        }
        for spanned in &file.rules {
            let spec = spanned.get_ref().clone();
            let span = spanned.span();
            if spec.decision == Decision::Allow && !layer.kind.may_loosen() {
                return Err(invalid(
                    layer,
                    text,
                    span,
                    format!(
                        "rule `{}` has decision \"allow\", which the {} layer cannot use",
                        spec.id, layer.kind
                    ),
                    loosening_hint,
                ));
            }
            let rule = Rule::compile(spec).map_err(|m| {
                invalid(
                    layer,
                    text,
                    span.clone(),
                    m,
                    "fix the rule, then run `gatekeep policy lint FILE`",
                )
            })?;
            spans.insert(rule.spec.id.clone(), (text.clone(), span.clone()));
            match defined.get(&rule.spec.id) {
                Some(&(index, LayerKind::Builtin)) if layer.kind == LayerKind::System => {
                    // The system layer redefines a built-in rule in place.
                    defined.insert(rule.spec.id.clone(), (index, LayerKind::System));
                    policy.replace(index, rule, layer.clone());
                }
                Some(&(_, kind)) => {
                    return Err(invalid(
                        layer,
                        text,
                        span,
                        format!(
                            "rule id `{}` is already defined by the {kind} layer",
                            rule.spec.id
                        ),
                        "give the rule its own id; only the system layer may redefine a built-in rule",
                    ));
                }
                None => {
                    let index = policy.push_file_rule(rule, layer.clone());
                    defined.insert(policy.id(index).to_owned(), (index, layer.kind));
                }
            }
        }
    }
    for index in disabled {
        policy.disable(index);
    }
    policy.index();
    // Rule examples of admin, user and project files are checked as they load; the built-in
    // pack's are checked by the test suite and `gatekeep policy test`, to keep start-up fast.
    for layer in policy
        .layers
        .iter()
        .filter(|l| l.kind != LayerKind::Builtin)
    {
        if let Some(failure) = example_failures(&policy, layer).into_iter().next() {
            let (text, span) = spans.get(&failure.rule).cloned().unwrap_or_default();
            return Err(invalid(
                layer,
                &text,
                span,
                failure.to_string(),
                "fix the rule or its example; `gatekeep policy test` lists every failure",
            ));
        }
    }
    Ok(policy)
}

/// A rule example that does not behave as the rule says.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleFailure {
    pub rule: String,
    #[serde(skip)]
    pub layer: Layer,
    pub example: String,
    pub expected_match: bool,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.expected_match {
            "should match but does not"
        } else {
            "should not match but does"
        };
        write!(f, "rule `{}`: example `{}` {verb}", self.rule, self.example)
    }
}

/// Runs the examples of every rule defined by `only` and returns those that fail.
pub fn example_failures(policy: &Policy, only: &Layer) -> Vec<ExampleFailure> {
    let mut failures = Vec::new();
    for i in policy.active() {
        if policy.layer(i) != only {
            continue;
        }
        let (rule, layer) = (policy.rule(i), policy.layer(i));
        let cases = rule
            .spec
            .must_match
            .iter()
            .map(|e| (e, true))
            .chain(rule.spec.must_not_match.iter().map(|e| (e, false)));
        for (example, expected_match) in cases {
            if policy.rule_fires(i, example) != expected_match {
                failures.push(ExampleFailure {
                    rule: rule.spec.id.clone(),
                    layer: layer.clone(),
                    example: example.clone(),
                    expected_match,
                });
            }
        }
    }
    failures
}
