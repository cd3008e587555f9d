//! Reading the files a command runs (see [`crate::shell::load`]): the text comes from what
//! the line itself wrote ([`super::files`]) or, when the caller gave a [`Files`], from disk
//! at check time. Shell scripts, Makefile recipes and `package.json`/`justfile` scripts are
//! walked with the same parser; Python, Node, Perl and Ruby files are scanned for
//! shell-outs. Depth, size and count are bounded; past a bound the rest is unreadable.

use super::files::Origin;
use super::{Ctx, Walker};
use crate::shell::load::make::Makefile;
use crate::shell::load::package::{just_recipes, package_scripts};
use crate::shell::load::shellouts::{ShellOut, scan};
use crate::shell::load::{Lang, LoadError, MAX_FILE_DEPTH};
use crate::shell::unwrap::scripts::{RunsFile, runs_file};
use crate::shell::{Construct, Invocation, Scope, Word};

/// A file's text as far as gatekeep can know it before the line runs.
enum Content {
    Text(String),
    /// Not readable here: no [`Files`] (the pure reading), or a binary program.
    Absent,
    /// Does not exist now (and the line did not write it).
    Missing,
    Unreadable(String),
}

impl Walker<'_> {
    /// Reads the file `inv` runs, if any. Returns true when it was read as the shell
    /// script a `source` runs (so that the generic "source is unreadable" step is moot).
    pub(super) fn run_files(&mut self, inv: &Invocation, ctx: &Ctx) -> bool {
        if let Some((file, why)) = self.runs_unknown_file(inv) {
            let display = inv.display_argv().join(" ");
            self.unreadable(
                &display,
                format!("it runs `{file}`, which an earlier command of the same line {why}, so its code cannot be read ahead"),
                ctx,
            );
            return true;
        }
        let Some(runs) = runs_file(inv) else {
            return false;
        };
        match runs {
            RunsFile::Program {
                path,
                lang,
                sourced,
            } => self.program_file(inv, &path, lang, sourced, ctx),
            RunsFile::Make { dir, file, targets } => {
                self.make(inv, dir.as_ref(), file.as_ref(), &targets, ctx);
                false
            }
            RunsFile::Package { manager, script } => {
                let Some(content) = self.first_content(inv, None, &["package.json"]) else {
                    return false;
                };
                let name = script.literal();
                match content.and_then(|t| package_scripts(&t, name)) {
                    Ok(scripts) => {
                        for (key, text) in scripts {
                            self.file_text(&text, &format!("{manager} run {key}"), false, ctx);
                        }
                    }
                    Err(why) => self.unreadable(
                        &inv.display_argv().join(" "),
                        format!("its package.json cannot be read: {why}"),
                        ctx,
                    ),
                }
                false
            }
            RunsFile::Just { recipes } => {
                let Some(content) =
                    self.first_content(inv, None, &["justfile", "Justfile", ".justfile"])
                else {
                    return false;
                };
                let names: Option<Vec<String>> = recipes
                    .iter()
                    .map(|w| w.literal().map(str::to_owned))
                    .collect();
                match content.and_then(|t| just_recipes(&t, names.as_deref())) {
                    Ok(lines) => {
                        for line in lines {
                            self.file_text(&line, "just", false, ctx);
                        }
                    }
                    Err(why) => self.unreadable(
                        &inv.display_argv().join(" "),
                        format!("its justfile cannot be read: {why}"),
                        ctx,
                    ),
                }
                false
            }
        }
    }

    /// A file the line wrote in a way gatekeep cannot read, run as the program or as the
    /// script of a shell, an interpreter or `source` (the earlier rule, kept: any word of
    /// such a runner that names the file counts).
    fn runs_unknown_file(&self, inv: &Invocation) -> Option<(String, String)> {
        let program = inv.program()?;
        let runs_files = crate::shell::unwrap::runs_script_files(program);
        for (i, w) in inv.argv.iter().enumerate() {
            if i > 0 && !runs_files {
                break;
            }
            if let Some(w) = w.literal()
                && let Some(Origin::Unknown(why)) = self.names.file(w)
            {
                return Some((w.to_owned(), why.clone()));
            }
        }
        None
    }

    fn program_file(
        &mut self,
        inv: &Invocation,
        path: &Word,
        lang: Option<Lang>,
        sourced: bool,
        ctx: &Ctx,
    ) -> bool {
        let Some(path) = path.literal() else {
            return false;
        };
        let shown = inv.display_argv().join(" ");
        match self.content(path, &inv.scope) {
            Content::Text(text) => {
                let lang = lang.unwrap_or_else(|| Lang::of_text(&text));
                let via = format!("{} {path}", inv.program().unwrap_or(""));
                match lang {
                    Lang::Shell => {
                        self.file_text(&text, &via, sourced, ctx);
                        return sourced;
                    }
                    Lang::Other(name) => self.unreadable(
                        &shown,
                        format!("`{path}` is a `{name}` program, which gatekeep does not read"),
                        ctx,
                    ),
                    lang => self.shellouts(&lang, &text, path, &via, ctx),
                }
            }
            Content::Missing if lang.is_some() => self.unreadable(
                &shown,
                format!("`{path}` does not exist now: what runs is whatever is there when the command runs"),
                ctx,
            ),
            Content::Unreadable(why) => self.unreadable(&shown, format!("`{path}` cannot be read: {why}"), ctx),
            Content::Missing | Content::Absent => {}
        }
        false
    }

    fn shellouts(&mut self, lang: &Lang, text: &str, path: &str, via: &str, ctx: &Ctx) {
        for out in scan(lang, text) {
            match out {
                ShellOut::Command(cmd) => self.file_text(&cmd, via, false, ctx),
                ShellOut::Argv(argv) => {
                    let ctx = ctx.nested(via);
                    let inv = Invocation {
                        via: ctx.via.clone(),
                        ..Invocation::literal(argv)
                    };
                    self.invocation(inv, &ctx);
                }
                ShellOut::Dynamic(call) => {
                    let c = Construct::ScriptShellOut {
                        file: path.to_owned(),
                        call,
                    };
                    if !self.script.constructs.contains(&c) {
                        self.script.constructs.push(c);
                    }
                }
            }
        }
    }

    fn make(
        &mut self,
        inv: &Invocation,
        dir: Option<&Word>,
        file: Option<&Word>,
        targets: &[Word],
        ctx: &Ctx,
    ) {
        let shown = inv.display_argv().join(" ");
        let dir = match dir {
            Some(Word::Literal(d)) => Some(d.as_str()),
            Some(Word::Dynamic { .. }) => {
                if self.files.is_some() {
                    self.unreadable(
                        &shown,
                        "make runs in a directory only known at run time",
                        ctx,
                    );
                }
                return;
            }
            None => None,
        };
        let names: Vec<&str> = match file {
            Some(Word::Literal(f)) => vec![f.as_str()],
            Some(Word::Dynamic { .. }) => {
                if self.files.is_some() {
                    self.unreadable(&shown, "make reads a Makefile only known at run time", ctx);
                }
                return;
            }
            None => vec!["GNUmakefile", "makefile", "Makefile"],
        };
        let Some(content) = self.first_content(inv, dir, &names) else {
            return;
        };
        let text = match content {
            Ok(text) => text,
            Err(why) => {
                self.unreadable(&shown, format!("its Makefile cannot be read: {why}"), ctx);
                return;
            }
        };
        let mut mf = Makefile::parse(&text);
        for include in std::mem::take(&mut mf.includes) {
            match self.first_content(inv, dir, &[include.as_str()]) {
                Some(Ok(text)) => mf.add(&text),
                _ => mf.dynamic_include = true,
            }
        }
        let targets: Option<Vec<String>> = targets
            .iter()
            .map(|w| w.literal().map(str::to_owned))
            .collect();
        let Some(targets) = targets else {
            self.unreadable(&shown, "make builds a target only known at run time", ctx);
            return;
        };
        let via = format!("make {}", targets.join(" ")).trim_end().to_owned();
        match mf.recipes(&targets) {
            Ok(lines) => {
                let mut scope = inv.scope.clone();
                if let Some(d) = dir {
                    scope.dirs.push(Word::Literal(d.to_owned()));
                }
                let saved = std::mem::replace(&mut self.scope, scope);
                for line in lines {
                    self.file_text(&line, &via, false, ctx);
                }
                self.scope = saved;
            }
            Err(why) => self.unreadable(&shown, format!("its Makefile cannot be read: {why}"), ctx),
        }
    }

    /// The first of `names` (in `dir`) that the line wrote or that exists: `None` when
    /// none can be known (nothing runs, or no files are read here).
    fn first_content(
        &mut self,
        inv: &Invocation,
        dir: Option<&str>,
        names: &[&str],
    ) -> Option<Result<String, String>> {
        for name in names {
            let path = match dir {
                Some(d) if !name.starts_with('/') => format!("{}/{name}", d.trim_end_matches('/')),
                _ => (*name).to_owned(),
            };
            match self.content(&path, &inv.scope) {
                Content::Text(t) => return Some(Ok(t)),
                Content::Unreadable(why) => return Some(Err(why)),
                Content::Missing | Content::Absent => {}
            }
        }
        None
    }

    /// What the file at `path` holds for a command run with `scope`.
    fn content(&mut self, path: &str, scope: &Scope) -> Content {
        let mut path = path.to_owned();
        match self.names.file(&path) {
            Some(Origin::Text(t)) => return Content::Text(t.clone()),
            Some(Origin::Unknown(why)) => return Content::Unreadable(why.clone()),
            Some(Origin::Copy(src)) => path = src.clone(),
            None => {}
        }
        // An archive extracted earlier in the line may hold this file.
        if let Some(why) = self.names.extracted() {
            return Content::Unreadable(why.to_owned());
        }
        let Some(files) = self.files else {
            return Content::Absent;
        };
        let Some(located) = locate(&path, scope, files.home()) else {
            return Content::Unreadable("it is in a directory only known at run time".into());
        };
        match files.read(&located) {
            Ok(text) => {
                if self.budget.take(text.len()) {
                    Content::Text(text)
                } else {
                    Content::Unreadable(
                        "the line's scripts are over gatekeep's reading budget".into(),
                    )
                }
            }
            Err(LoadError::Missing) => Content::Missing,
            Err(LoadError::Binary) => Content::Absent,
            Err(e) => Content::Unreadable(e.to_string()),
        }
    }

    /// Walks shell text read from a file. A sourced file runs in the current shell (what
    /// it changes stays); another runs in a child (nothing comes back).
    fn file_text(&mut self, text: &str, via: &str, sourced: bool, ctx: &Ctx) {
        if self.file_depth >= MAX_FILE_DEPTH {
            self.unreadable(
                via,
                format!("scripts run scripts more than {MAX_FILE_DEPTH} deep"),
                ctx,
            );
            return;
        }
        let ctx = ctx.nested(via);
        if self.over_budget(via, &ctx) {
            return;
        }
        self.file_depth += 1;
        let saved = (!sourced).then(|| self.scope.clone());
        self.parse_text(text, &ctx);
        if let Some(saved) = saved {
            self.scope = saved;
        }
        self.file_depth -= 1;
    }
}

/// `path` as the command reaches it: under the directories `cd` led to, `~` expanded.
/// `None` when a directory is only known at run time.
fn locate(path: &str, scope: &Scope, home: Option<String>) -> Option<String> {
    let expand = |p: &str| -> Option<String> {
        if p == "~" {
            return home.clone();
        }
        match p.strip_prefix("~/") {
            Some(rest) => Some(format!("{}/{rest}", home.clone()?)),
            None => Some(p.to_owned()),
        }
    };
    let path = expand(path)?;
    if path.starts_with('/') {
        return Some(path);
    }
    let mut base = String::new();
    for dir in &scope.dirs {
        let d = expand(dir.literal()?)?;
        base = if d.starts_with('/') || base.is_empty() {
            d
        } else {
            format!("{}/{d}", base.trim_end_matches('/'))
        };
    }
    Some(if base.is_empty() {
        path
    } else {
        format!("{}/{path}", base.trim_end_matches('/'))
    })
}
