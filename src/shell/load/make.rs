//! The recipes `make [target...]` runs, read from a Makefile's text.
//!
//! A reading, not a second make: rules (`targets: prereqs`, recipe lines after a tab, `;`
//! recipes, pattern rules `%.o: %.c`), variables (`=`, `:=`, `::=`, `?=`, `+=`, `export`,
//! `override`) and automatic variables (`$@ $< $^ $* $?`) are expanded; both branches of a
//! conditional are read (whichever runs, gatekeep has seen it); `$(shell CMD)` becomes the
//! command substitution `$(CMD)`, so the walker reads it as one; any other make function
//! becomes a shell variable, a word only known at run time. A target the Makefile has no
//! rule for, while an include could not be read, is an error (the caller escalates).

use std::collections::HashSet;

/// How deep variables may refer to variables, and prerequisites to prerequisites.
const MAX_EXPAND: usize = 16;
/// Most recipe lines one `make` yields; more is an error.
const MAX_LINES: usize = 20_000;

/// Make's built-in variables that recipes commonly use.
const DEFAULTS: &[(&str, &str)] = &[
    ("MAKE", "make"),
    ("CC", "cc"),
    ("CXX", "g++"),
    ("CPP", "cc -E"),
    ("AR", "ar"),
    ("AS", "as"),
    ("LD", "ld"),
    ("RM", "rm -f"),
    ("SHELL", "/bin/sh"),
    ("INSTALL", "install"),
    ("MKDIR_P", "mkdir -p"),
];

#[derive(Debug, Default)]
struct Rule {
    targets: Vec<String>,
    prereqs: Vec<String>,
    recipe: Vec<String>,
}

/// A Makefile as read: its variables, rules and what it includes.
#[derive(Debug, Default)]
pub struct Makefile {
    vars: Vec<(String, String)>,
    rules: Vec<Rule>,
    /// Files named by `include` (literal names only).
    pub includes: Vec<String>,
    /// True when an include names a file only known at run time.
    pub dynamic_include: bool,
    /// Commands `$(shell ...)` runs while make reads the file, outside any recipe.
    parse_time: Vec<String>,
}

impl Makefile {
    /// Reads one Makefile's text.
    pub fn parse(text: &str) -> Makefile {
        let mut mf = Makefile::default();
        mf.add(text);
        mf
    }

    /// Reads an included file's text into this one.
    pub fn add(&mut self, text: &str) {
        let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
        let mut current: Option<usize> = None;
        for line in joined.lines() {
            if let Some(recipe) = line.strip_prefix('\t') {
                if let Some(i) = current {
                    self.rules[i].recipe.push(recipe.to_owned());
                }
                continue;
            }
            let code = strip_comment(line);
            let trimmed = code.trim();
            if trimmed.is_empty() {
                continue;
            }
            let first = trimmed.split_whitespace().next().unwrap_or("");
            if matches!(
                first,
                "ifeq" | "ifneq" | "ifdef" | "ifndef" | "else" | "endif" | "endef" | "define"
            ) || first.starts_with("ifeq(")
                || first.starts_with("ifneq(")
            {
                // Both branches are read; `define` bodies are read as lines too.
                continue;
            }
            if matches!(first, "include" | "-include" | "sinclude") {
                for name in trimmed.split_whitespace().skip(1) {
                    if name.contains('$') || name.contains(['*', '?', '[']) {
                        self.dynamic_include = true;
                    } else {
                        self.includes.push(name.to_owned());
                    }
                }
                continue;
            }
            self.parse_time.extend(shell_calls(trimmed));
            if let Some((name, op, value)) = assignment(trimmed) {
                current = None;
                match op {
                    "+=" => match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
                        Some((_, v)) => {
                            v.push(' ');
                            v.push_str(&value);
                        }
                        None => self.vars.push((name, value)),
                    },
                    "?=" if self.vars.iter().any(|(n, _)| *n == name) => {}
                    _ => self.vars.push((name, value)),
                }
                continue;
            }
            if let Some((targets, rest)) = split_rule(trimmed) {
                let (prereqs, inline) = match rest.split_once(';') {
                    Some((p, r)) => (p, Some(r.trim().to_owned())),
                    None => (rest, None),
                };
                let prereqs = prereqs.split('|').collect::<Vec<_>>().join(" ");
                self.rules.push(Rule {
                    targets: targets.split_whitespace().map(str::to_owned).collect(),
                    prereqs: prereqs.split_whitespace().map(str::to_owned).collect(),
                    recipe: inline.into_iter().collect(),
                });
                current = Some(self.rules.len() - 1);
            }
        }
    }

    /// The target `make` builds when none is named: the first rule's first target that is
    /// not special (`.PHONY`) nor a pattern.
    pub fn default_target(&self) -> Option<&str> {
        self.rules
            .iter()
            .flat_map(|r| &r.targets)
            .find(|t| (!t.starts_with('.') || t.contains('/')) && !t.contains('%'))
            .map(String::as_str)
    }

    /// The recipe lines, expanded, that building `targets` runs (prerequisites first), and
    /// the commands `$(shell ...)` runs as the file is read.
    pub fn recipes(&self, targets: &[String]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for call in &self.parse_time {
            out.push(format!("$({})", self.expand(call, &Auto::default(), 0)));
        }
        let mut seen = HashSet::new();
        let defaults: Vec<String>;
        let targets = if targets.is_empty() {
            defaults = self
                .default_target()
                .map(str::to_owned)
                .into_iter()
                .collect();
            &defaults[..]
        } else {
            targets
        };
        for target in targets {
            self.build(target, &mut seen, &mut out, 0, true)?;
        }
        Ok(out)
    }

    fn build(
        &self,
        target: &str,
        seen: &mut HashSet<String>,
        out: &mut Vec<String>,
        depth: usize,
        asked: bool,
    ) -> Result<(), String> {
        if depth > MAX_EXPAND || out.len() > MAX_LINES {
            return Err(format!(
                "its prerequisites nest more than {MAX_EXPAND} deep or run more than {MAX_LINES} lines"
            ));
        }
        if !seen.insert(target.to_owned()) {
            return Ok(());
        }
        let explicit: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.targets.iter().any(|t| t == target))
            .collect();
        let (rules, stem): (Vec<&Rule>, String) = if explicit.is_empty() {
            match self.rules.iter().find_map(|r| {
                r.targets
                    .iter()
                    .find_map(|t| pattern_stem(t, target))
                    .map(|stem| (r, stem))
            }) {
                Some((r, stem)) => (vec![r], stem),
                None if asked && (self.dynamic_include || !self.includes.is_empty()) => {
                    return Err(format!(
                        "no rule for `{target}` was found, and it may come from an included file gatekeep could not read"
                    ));
                }
                // A file that exists, or make's built-in rules (compiling sources).
                None => return Ok(()),
            }
        } else {
            (explicit, String::new())
        };
        for rule in &rules {
            let prereqs: Vec<String> = rule
                .prereqs
                .iter()
                .map(|p| p.replace('%', &stem))
                .map(|p| self.expand(&p, &Auto::default(), 0))
                .collect();
            for p in prereqs.iter().flat_map(|p| p.split_whitespace()) {
                self.build(p, seen, out, depth + 1, false)?;
            }
            let auto = Auto {
                target: target.to_owned(),
                prereqs: prereqs.join(" "),
                stem: stem.clone(),
            };
            for line in &rule.recipe {
                let line = line.trim_start_matches(['@', '-', '+', ' ', '\t']);
                out.push(self.expand(line, &auto, 0));
            }
        }
        Ok(())
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    /// Expands make's `$` references in `text` into shell text.
    fn expand(&self, text: &str, auto: &Auto, depth: usize) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let Some(c) = after.chars().next() else {
                out.push('$');
                break;
            };
            match c {
                '$' => {
                    out.push('$');
                    rest = &after[1..];
                }
                '(' | '{' => {
                    let close = if c == '(' { ')' } else { '}' };
                    let Some(end) = matching(after, c, close) else {
                        out.push_str("${__gatekeep_make_unclosed}");
                        break;
                    };
                    let inner = &after[1..end];
                    out.push_str(&self.reference(inner, auto, depth));
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push_str(&match c {
                        '@' => auto.target.clone(),
                        '<' => auto.prereqs.split_whitespace().next().unwrap_or("").into(),
                        '^' | '+' | '?' => auto.prereqs.clone(),
                        '*' => auto.stem.clone(),
                        other => self.reference(&other.to_string(), auto, depth),
                    });
                    rest = &after[c.len_utf8()..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// One `$(...)` reference: a variable, `$(shell ...)`, or another function.
    fn reference(&self, inner: &str, auto: &Auto, depth: usize) -> String {
        if depth > MAX_EXPAND {
            return "${__gatekeep_make_deep}".into();
        }
        if let Some(cmd) = inner.strip_prefix("shell ") {
            return format!("$({})", self.expand(cmd, auto, depth + 1));
        }
        if inner.contains([' ', ':', ',']) || inner.contains('$') {
            // A function or a computed name: only known when make runs.
            return "${__gatekeep_make_function}".into();
        }
        match inner {
            "@" => return auto.target.clone(),
            "<" => return auto.prereqs.split_whitespace().next().unwrap_or("").into(),
            "^" | "+" | "?" => return auto.prereqs.clone(),
            "*" => return auto.stem.clone(),
            _ => {}
        }
        match self.var(inner) {
            Some(value) => self.expand(value, auto, depth + 1),
            // Not set in the Makefile: make takes it from the environment, as the shell would.
            None if is_name(inner) => format!("${{{inner}}}"),
            None => "${__gatekeep_make_variable}".into(),
        }
    }
}

/// Automatic variables of the rule being expanded.
#[derive(Default)]
struct Auto {
    target: String,
    prereqs: String,
    stem: String,
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The index of the bracket closing the one `text` starts with.
fn matching(text: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn strip_comment(line: &str) -> &str {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' => escaped = !escaped,
            '#' if !escaped => return &line[..i],
            _ => escaped = false,
        }
    }
    line
}

/// `NAME op value` with op one of `=`, `:=`, `::=`, `?=`, `+=`, `!=`.
fn assignment(line: &str) -> Option<(String, &'static str, String)> {
    let eq = line.find('=')?;
    if let Some(colon) = line.find(':')
        && colon < eq
        && !line[colon..eq].chars().all(|c| c == ':')
    {
        return None;
    }
    let (left, value) = (&line[..eq], line[eq + 1..].trim().to_owned());
    let (left, op) = if let Some(l) = left.strip_suffix("::") {
        (l, ":=")
    } else if let Some(l) = left.strip_suffix(':') {
        (l, ":=")
    } else if let Some(l) = left.strip_suffix('?') {
        (l, "?=")
    } else if let Some(l) = left.strip_suffix('+') {
        (l, "+=")
    } else if let Some(l) = left.strip_suffix('!') {
        (l, "!=")
    } else {
        (left, "=")
    };
    let name = left
        .split_whitespace()
        .rfind(|w| !matches!(*w, "export" | "override" | "private"))?;
    if name.contains(['(', ')', '{', '}', '$']) || left.split_whitespace().count() > 3 {
        return None;
    }
    // `X != cmd` runs cmd in a shell as the file is read.
    let value = if op == "!=" {
        format!("$(shell {value})")
    } else {
        value
    };
    Some((name.to_owned(), op, value))
}

/// `targets: prereqs` (or `::`), the colon outside any `$(...)`.
fn split_rule(line: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in line.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            ':' if depth == 0 => {
                let rest = line[i + 1..].trim_start_matches(':');
                return Some((&line[..i], rest));
            }
            _ => {}
        }
    }
    None
}

/// The `$(shell CMD)` calls in a line outside recipes.
fn shell_calls(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(pos) = rest.find("$(shell ") {
        let after = &rest[pos + 1..];
        match matching(after, '(', ')') {
            Some(end) => {
                out.push(after[7..end].to_owned());
                rest = &after[end + 1..];
            }
            None => {
                out.push(after[7..].to_owned());
                break;
            }
        }
    }
    out
}

/// The stem when `pattern` (`%.o`) matches `target` (`x.o`).
fn pattern_stem(pattern: &str, target: &str) -> Option<String> {
    let (prefix, suffix) = pattern.split_once('%')?;
    (target.len() >= prefix.len() + suffix.len()
        && target.starts_with(prefix)
        && target.ends_with(suffix))
    .then(|| target[prefix.len()..target.len() - suffix.len()].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipes(text: &str, targets: &[&str]) -> Vec<String> {
        let targets: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
        Makefile::parse(text).recipes(&targets).unwrap_or_default()
    }

    #[test]
    fn runs_the_target_and_its_prerequisites() {
        let mf = "CC = gcc\nall: build\n\techo all\nbuild: gen\n\t@$(CC) -o app $^\ngen:\n\t-./gen.sh $@\n.PHONY: all\n";
        assert_eq!(
            recipes(mf, &[]),
            ["./gen.sh gen", "gcc -o app gen", "echo all"]
        );
        assert_eq!(recipes(mf, &["gen"]), ["./gen.sh gen"]);
    }

    #[test]
    fn variables_functions_and_patterns() {
        let mf = "X := $(shell date)\nY ?= a\nY ?= b\nY += c\n%.o: %.c ; $(CC) -c $< -o $@ $(Y) $(wildcard *.c) $(HOME) $$PATH\n";
        assert_eq!(
            recipes(mf, &["x.o"]),
            [
                "$(date)",
                "cc -c x.c -o x.o a c ${__gatekeep_make_function} ${HOME} $PATH"
            ]
        );
    }

    #[test]
    fn a_missing_target_with_unread_includes_is_an_error() {
        let mf = Makefile::parse("include other.mk\nall:\n\ttrue\n");
        assert_eq!(mf.includes, ["other.mk"]);
        assert!(mf.recipes(&["deploy".into()]).is_err());
        assert!(mf.recipes(&["all".into()]).is_ok());
        assert!(
            Makefile::parse("all:\n\ttrue\n")
                .recipes(&["x.o".into()])
                .is_ok()
        );
    }
}
