//! Paths as they will be on disk. A rule's path patterns (`args`, `target`, `writes`) are
//! matched against every form a path word can take once bash and the kernel are done with
//! it, not only its spelling: `$HOME/.config/gatekeep/x`, `cd ~/.config/gatekeep && echo >
//! x`, `../gatekeep/x`, a symlinked parent and `$XDG_CONFIG_HOME/gatekeep/x` all reach the
//! same file, and a rule written for `~/.config/gatekeep/**` must hold for each.
//!
//! The policy stage does no I/O: what it needs to know about the place the command runs in
//! (its environment, its directory, the symlinks on disk) it asks a [`Host`] that the caller
//! built. `gatekeep exec`, `check` and the hooks pass the real one (`crate::host`); rule
//! examples and unit tests pass a [`FakeHost`] with a fixed home and directory, so that an
//! example means the same on every machine.
//!
//! Resolution is lazy: only words matched against path patterns are resolved, once per word.

use crate::shell::word;
use crate::shell::{Scope, Word};

/// What classification may ask about the place a command runs in.
pub trait Host {
    /// A variable of the environment the command runs with.
    fn var(&self, name: &str) -> Option<String>;
    /// The directory the command runs in (absolute).
    fn cwd(&self) -> Option<String>;
    /// `absolute` with the symlinks in its existing parents, and an existing final symlink,
    /// resolved (the rest appended as written); `None` when that cannot be learnt.
    fn resolve(&self, absolute: &str) -> Option<String>;
    /// The files of the place the command runs in, for reading the scripts it runs; `None`
    /// (the default) where they must not be read (case tables, rule examples).
    fn files(&self) -> Option<&dyn crate::shell::load::Files> {
        None
    }
}

/// A host that knows nothing: words are matched as spelled (and lexically normalised).
pub struct Unknown;

impl Host for Unknown {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
    fn cwd(&self) -> Option<String> {
        None
    }
    fn resolve(&self, _: &str) -> Option<String> {
        None
    }
}

/// A host described in memory: for rule examples (`gatekeep policy test`) and unit tests.
#[derive(Clone, Debug, Default)]
pub struct FakeHost {
    pub vars: Vec<(String, String)>,
    pub cwd: Option<String>,
    /// Symlinks: (link path, absolute target).
    pub links: Vec<(String, String)>,
}

impl FakeHost {
    /// The host rule examples run on: `HOME=/home/user`, working in `/home/user/project`,
    /// no XDG variables, no symlinks.
    pub fn example() -> FakeHost {
        FakeHost {
            vars: vec![("HOME".into(), "/home/user".into())],
            cwd: Some("/home/user/project".into()),
            links: Vec::new(),
        }
    }
}

impl Host for FakeHost {
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
    fn cwd(&self) -> Option<String> {
        self.cwd.clone()
    }
    fn resolve(&self, absolute: &str) -> Option<String> {
        // Follows links part by part, as the kernel does, up to a bound.
        let mut path = normalize_path(absolute);
        for _ in 0..16 {
            let hit = self
                .links
                .iter()
                .find(|(link, _)| path == *link || path.starts_with(&format!("{link}/")));
            let Some((link, target)) = hit else {
                return Some(path);
            };
            path = normalize_path(&format!("{target}{}", &path[link.len()..]));
        }
        None
    }
}

/// Every form one path word takes.
#[derive(Debug, Default)]
pub struct Forms {
    /// The value as bash passes it (variables substituted), and lexically normalised.
    pub spelled: Vec<String>,
    /// The absolute path, lexically normalised, with its `~/` form when under the home
    /// directory and its default-location form when under an XDG directory.
    pub lexical: Vec<String>,
    /// The same after symlinks are resolved; empty when no symlink changes the path.
    pub physical: Vec<String>,
    /// A relative path after a `cd` to a directory only known at run time: the path as
    /// written there (`"$D"/config.toml`), to be matched like any dynamic word.
    pub unknown_dir: Option<String>,
}

impl Forms {
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.spelled
            .iter()
            .chain(&self.lexical)
            .chain(&self.physical)
            .map(String::as_str)
    }
}

/// The XDG base directories gatekeep uses and where they are by default. A path under the
/// effective directory also takes its default-location form, so that rules written for the
/// default locations hold wherever the variable points.
const XDG: &[(&str, &str)] = &[
    ("XDG_CONFIG_HOME", "~/.config"),
    ("XDG_STATE_HOME", "~/.local/state"),
    ("XDG_DATA_HOME", "~/.local/share"),
];

/// How deep variables may refer to variables before the value counts as unknown.
const MAX_INDIRECTION: usize = 8;

/// Resolves words of one invocation.
pub struct Resolver<'a> {
    pub host: &'a dyn Host,
    pub scope: &'a Scope,
}

impl Resolver<'_> {
    /// The value of a variable as the command sees it: the last assignment earlier in the
    /// line before position `upto` of the scope, else the environment.
    fn var_before(&self, name: &str, upto: usize, depth: usize) -> Option<String> {
        let earlier = self.scope.vars.get(..upto).unwrap_or_default();
        match earlier.iter().rposition(|(n, _)| n == name) {
            Some(i) => self.value_at(&earlier[i].1, i, depth + 1),
            None => self.host.var(name),
        }
    }

    /// The value of `word` given the variables assigned before scope position `upto`.
    fn value_at(&self, word: &Word, upto: usize, depth: usize) -> Option<String> {
        if depth > MAX_INDIRECTION {
            return None;
        }
        match word {
            Word::Literal(text) => Some(text.clone()),
            Word::Dynamic { raw, .. } => {
                word::substitute(raw, &mut |name| self.var_before(name, upto, depth))
            }
        }
    }

    /// The value of a word of the command: `None` when some part of it is only known at run
    /// time.
    pub fn value(&self, word: &Word) -> Option<String> {
        self.value_at(word, self.scope.vars.len(), 0)
    }

    fn var(&self, name: &str) -> Option<String> {
        self.var_before(name, self.scope.vars.len(), 0)
            .filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<String> {
        self.var("HOME")
            .filter(|h| h.starts_with('/'))
            .map(|h| normalize_path(&h))
    }

    /// `~`, `~/x`, absolute and relative paths made absolute (not normalised).
    fn absolute(&self, value: &str, cwd: Option<&str>) -> Option<String> {
        if value == "~" || value.starts_with("~/") {
            return self.home().map(|h| format!("{h}{}", &value[1..]));
        }
        if value.starts_with('~') {
            // `~user`: another user's home, not known here.
            return None;
        }
        if value.starts_with('/') {
            return Some(value.to_owned());
        }
        cwd.map(|c| format!("{c}/{value}"))
    }

    /// The directory the command runs in: the process's, moved by the line's `cd`s.
    pub fn cwd(&self) -> Option<String> {
        self.cwd_or_unknown().ok().flatten()
    }

    /// The directory the command runs in; `Err` with the `cd` argument as written when a
    /// `cd` leads somewhere only known at run time.
    fn cwd_or_unknown(&self) -> Result<Option<String>, String> {
        let Some(start) = self.host.cwd() else {
            return Ok(None);
        };
        let mut dir = normalize_path(&start);
        for step in &self.scope.dirs {
            let absolute = self
                .value(step)
                .and_then(|value| self.absolute(&value, Some(&dir)));
            match absolute {
                // bash's `cd` is logical: `..` undoes the last part as written.
                Some(absolute) => dir = normalize_path(&absolute),
                None => return Err(step.display().to_owned()),
            }
        }
        Ok(Some(dir))
    }

    /// Every form of a path word; `None` when its value is only known at run time.
    pub fn forms(&self, word: &Word, assignments: bool) -> Option<Forms> {
        let value = self.value(word)?;
        let mut forms = Forms::default();
        let cwd = match self.cwd_or_unknown() {
            Ok(cwd) => cwd,
            Err(dir) => {
                if !value.starts_with(['/', '~']) {
                    let dir = if dir.is_empty() {
                        "$OLDPWD"
                    } else {
                        dir.as_str()
                    };
                    forms.unknown_dir = Some(format!("{dir}/{value}"));
                }
                None
            }
        };
        self.add(&mut forms, "", &value, cwd.as_deref());
        // `of=PATH`, `--file=PATH`: the path after the name, with the name kept.
        if assignments
            && let Some((name, path)) = value.split_once('=')
            && !name.is_empty()
            && name
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !path.is_empty()
        {
            let mut sub = Forms::default();
            self.add(&mut sub, &format!("{name}="), path, cwd.as_deref());
            forms.lexical.extend(sub.lexical);
            forms.physical.extend(sub.physical);
        }
        Some(forms)
    }

    fn add(&self, forms: &mut Forms, prefix: &str, value: &str, cwd: Option<&str>) {
        if prefix.is_empty() {
            forms.spelled.push(value.to_owned());
            forms.spelled.push(normalize_path(value));
        }
        let Some(absolute) = self.absolute(value, cwd) else {
            return;
        };
        let home = self.home();
        let lexical = normalize_path(&absolute);
        let xdg: Vec<(String, &str)> = XDG
            .iter()
            .filter_map(|(var, default)| {
                let dir = self.var(var).filter(|d| d.starts_with('/'))?;
                Some((normalize_path(&dir), *default))
            })
            .collect();
        let push = |out: &mut Vec<String>, path: &str, homes: &[&str], dirs: &[(&str, &str)]| {
            out.push(format!("{prefix}{path}"));
            for home in homes {
                if let Some(rest) = under(path, home) {
                    out.push(format!("{prefix}~{rest}"));
                }
            }
            for (dir, default) in dirs {
                if let Some(rest) = under(path, dir) {
                    out.push(format!("{prefix}{default}{rest}"));
                }
            }
        };
        let homes: Vec<&str> = home.iter().map(String::as_str).collect();
        let dirs: Vec<(&str, &str)> = xdg.iter().map(|(d, def)| (d.as_str(), *def)).collect();
        push(&mut forms.lexical, &lexical, &homes, &dirs);
        let Some(physical) = self.host.resolve(&absolute) else {
            return;
        };
        if physical == lexical {
            return;
        }
        // The home and XDG directories may be reached through symlinks themselves.
        let home_physical = home.as_deref().and_then(|h| self.host.resolve(h));
        let mut homes = homes.clone();
        homes.extend(home_physical.as_deref());
        let xdg_physical: Vec<(String, &str)> = xdg
            .iter()
            .filter_map(|(d, def)| Some((self.host.resolve(d)?, *def)))
            .collect();
        let mut dirs = dirs.clone();
        dirs.extend(xdg_physical.iter().map(|(d, def)| (d.as_str(), *def)));
        push(&mut forms.physical, &physical, &homes, &dirs);
    }
}

/// The rest of `path` after directory `dir` (`""` for `dir` itself, `/x` below it).
fn under<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    if dir == "/" || dir.is_empty() {
        return None;
    }
    let rest = path.strip_prefix(dir)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Lexically normalises a path: drops `.` parts, resolves `..` against earlier parts, drops
/// a trailing `/`.
pub fn normalize_path(path: &str) -> String {
    if path.is_empty() || path == "/" {
        return path.to_owned();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::parse_shell;

    fn forms_of(line: &str, host: &FakeHost) -> Vec<String> {
        let script = parse_shell(line);
        let inv = script.invocations.last().expect("a command");
        let word = inv
            .writes
            .last()
            .or_else(|| inv.argv.last())
            .expect("a word");
        let r = Resolver {
            host,
            scope: &inv.scope,
        };
        match r.forms(word, true) {
            Some(f) => f.all().map(str::to_owned).collect(),
            None => Vec::new(),
        }
    }

    #[test]
    fn every_spelling_reaches_the_same_file() {
        let mut host = FakeHost::example();
        host.vars
            .push(("XDG_CONFIG_HOME".into(), "/srv/cfg".into()));
        host.links
            .push(("/home/user/project/cfg".into(), "/home/user/.config".into()));
        let want = "~/.config/gatekeep/config.toml";
        for line in [
            "echo x > ~/.config/gatekeep/config.toml",
            "echo x > $HOME/.config/gatekeep/config.toml",
            "echo x > \"${HOME}\"/.config/gatekeep/config.toml",
            "echo x > /home/user/.config/gatekeep/config.toml",
            "echo x > ../.config/gatekeep/config.toml",
            "cd ~/.config/gatekeep && echo x > config.toml",
            "cd ~/.config; cd gatekeep; echo x > ./config.toml",
            "cd; echo x > .config/gatekeep/config.toml",
            "H=$HOME; echo x > $H/.config/gatekeep/config.toml",
            "export D=~/.config/gatekeep; echo x > \"$D/config.toml\"",
            "echo x > cfg/gatekeep/config.toml",
            "echo x > $XDG_CONFIG_HOME/gatekeep/config.toml",
            "echo x > /srv/cfg/gatekeep/config.toml",
            "XDG_CONFIG_HOME=/opt/c; echo x > /opt/c/gatekeep/config.toml",
            "dd if=x of=~/.config/gatekeep/config.toml",
        ] {
            let forms = forms_of(line, &host);
            let want = if line.starts_with("dd") {
                format!("of={want}")
            } else {
                want.to_owned()
            };
            assert!(forms.contains(&want), "{line}: {forms:?}");
        }
    }

    #[test]
    fn what_cannot_be_known_is_not_guessed() {
        let host = FakeHost::example();
        for line in [
            "echo x > \"$F\"",
            "echo x > $(mktemp)",
            "read F; echo x > $F",
            "cd \"$D\" && echo x > config.toml",
            "echo x > ${F:-x}",
        ] {
            let forms = forms_of(line, &host);
            assert!(
                forms
                    .iter()
                    .all(|f| !f.starts_with('/') && !f.starts_with('~')),
                "{line}: {forms:?}"
            );
        }
        // A subshell's `cd` and a pipeline's do not move the commands after them.
        for line in [
            "(cd ~/.config/gatekeep); echo x > config.toml",
            "cd ~/.config/gatekeep | true; echo x > config.toml",
            "echo $(cd ~/.config/gatekeep); echo x > config.toml",
        ] {
            let forms = forms_of(line, &host);
            assert!(
                forms.contains(&"~/project/config.toml".to_owned()),
                "{line}: {forms:?}"
            );
        }
    }
}
