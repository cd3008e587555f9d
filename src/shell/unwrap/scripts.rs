//! Which file a command runs, read from its words alone (no I/O): `bash x.sh`, `./x`,
//! `source x`, `python3 x.py`, `make [-C D] [-f F] [target]`, `npm run S`, `yarn S`,
//! `pnpm S`, `just R`. The walker reads the file (see [`crate::shell::load`]).

use super::args::skip_options;
use super::interpreters::SHELLS;
use crate::shell::load::Lang;
use crate::shell::{Invocation, Word};

/// A file that one invocation runs, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunsFile {
    /// A program file: a shell script, or a program in `lang` (`None`: by its shebang, for
    /// `./x`). `sourced` when it runs in the current shell (`source x`, `. x`).
    Program {
        path: Word,
        lang: Option<Lang>,
        sourced: bool,
    },
    /// `make`: the Makefile (`None`: GNUmakefile, makefile or Makefile in `dir`) and the
    /// targets (none: the default one).
    Make {
        dir: Option<Word>,
        file: Option<Word>,
        targets: Vec<Word>,
    },
    /// A `package.json` script (`None`: a name only known at run time).
    Package { manager: String, script: Word },
    /// `just` recipes (empty: the default one).
    Just { recipes: Vec<Word> },
}

/// yarn and pnpm commands that are not scripts of the package.
const MANAGER_COMMANDS: &[&str] = &[
    "add",
    "audit",
    "autoclean",
    "bin",
    "cache",
    "config",
    "create",
    "dedupe",
    "dlx",
    "exec",
    "env",
    "fetch",
    "generate-lock-entry",
    "global",
    "help",
    "import",
    "info",
    "init",
    "install",
    "i",
    "licenses",
    "link",
    "list",
    "ls",
    "login",
    "logout",
    "node",
    "outdated",
    "owner",
    "pack",
    "patch",
    "plugin",
    "policies",
    "prune",
    "publish",
    "rebuild",
    "remove",
    "rm",
    "root",
    "search",
    "set",
    "setup",
    "store",
    "tag",
    "team",
    "unlink",
    "unplug",
    "up",
    "update",
    "upgrade",
    "upgrade-interactive",
    "version",
    "versions",
    "why",
    "workspace",
    "workspaces",
    "--version",
    "-v",
    "--help",
    "-h",
];

/// The file `inv` runs, if any.
pub fn runs_file(inv: &Invocation) -> Option<RunsFile> {
    let first = inv.argv.first()?.literal()?;
    let program = crate::shell::basename(first);
    let args = &inv.argv[1..];
    if first.contains('/') && !first.starts_with("/usr/") && !first.starts_with("/bin/") {
        // `./x`, `scripts/x`, `/opt/x`: the file itself runs (system programs excluded:
        // they are judged by name).
        return Some(RunsFile::Program {
            path: Word::Literal(first.to_owned()),
            lang: None,
            sourced: false,
        });
    }
    match program {
        "source" | "." => Some(RunsFile::Program {
            path: args.first()?.clone(),
            lang: Some(Lang::Shell),
            sourced: true,
        }),
        _ if SHELLS.contains(&program) => {
            let lang = Lang::of_program(program)?;
            shell_script(args).map(|path| RunsFile::Program {
                path,
                lang: Some(lang),
                sourced: false,
            })
        }
        "make" | "gmake" => Some(make(args)),
        "npm" => {
            let (start, _) = skip_options(args, &["--prefix", "-w", "--workspace"]);
            let sub = args.get(start)?.literal()?;
            let script = match sub {
                "run" | "run-script" | "rum" | "urn" => {
                    let (s, _) = skip_options(&args[start + 1..], &[]);
                    args.get(start + 1 + s)?.clone()
                }
                "test" | "t" | "tst" | "start" | "stop" | "restart" => {
                    Word::Literal(if sub.starts_with('t') { "test" } else { sub }.into())
                }
                _ => return None,
            };
            Some(RunsFile::Package {
                manager: "npm".into(),
                script,
            })
        }
        "yarn" | "pnpm" | "bun" => {
            let (start, _) = skip_options(args, &["--cwd", "-C", "--dir", "--filter", "-F"]);
            let mut word = args.get(start)?;
            if word.literal() == Some("run") || word.literal() == Some("run-script") {
                word = args.get(start + 1)?;
            } else if program == "bun" {
                return None;
            }
            if word
                .literal()
                .is_some_and(|w| MANAGER_COMMANDS.contains(&w) || w.starts_with('-'))
            {
                return None;
            }
            Some(RunsFile::Package {
                manager: program.to_owned(),
                script: word.clone(),
            })
        }
        "just" => {
            let (start, _) = skip_options(
                args,
                &[
                    "-f",
                    "--justfile",
                    "-d",
                    "--working-directory",
                    "--set",
                    "--shell",
                ],
            );
            let flags = &args[..start];
            if flags.iter().any(|f| {
                matches!(
                    f.literal(),
                    Some(
                        "-l" | "--list"
                            | "--summary"
                            | "--show"
                            | "-s"
                            | "--dump"
                            | "--evaluate"
                            | "--variables"
                            | "--help"
                            | "-h"
                            | "--version"
                            | "-V"
                            | "--choose"
                            | "--edit"
                            | "-e"
                            | "--init"
                            | "--fmt"
                    )
                )
            }) {
                return None;
            }
            Some(RunsFile::Just {
                recipes: args[start..]
                    .iter()
                    .filter(|w| !w.literal().is_some_and(|l| l.contains('=')))
                    .cloned()
                    .collect(),
            })
        }
        _ => {
            let lang = Lang::of_program(program)?;
            interpreter_script(args).map(|path| RunsFile::Program {
                path,
                lang: Some(lang),
                sourced: false,
            })
        }
    }
}

/// The script file of `bash [options] FILE`; `None` for `-c`, `-s`, stdin.
fn shell_script(args: &[Word]) -> Option<Word> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let Some(a) = arg.literal() else {
            return Some(arg.clone());
        };
        if a == "--" {
            return args.get(i + 1).cloned();
        }
        if matches!(a, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
            i += 2;
            continue;
        }
        if a.starts_with('-') || a.starts_with('+') {
            if !a.starts_with("--") && (a.contains('c') || a.contains('s')) {
                return None;
            }
            i += 1;
            continue;
        }
        return Some(arg.clone());
    }
    None
}

/// The script file of `python3 [options] FILE`; `None` for `-c`, `-m`, `-e`, stdin.
fn interpreter_script(args: &[Word]) -> Option<Word> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let a = arg.literal()?;
        if a == "-" {
            return None;
        }
        if a == "--" {
            return args.get(i + 1).cloned();
        }
        if let Some(letter) = a.strip_prefix('-') {
            if letter.len() == 1 && "cmeErWXIQ".contains(letter) {
                if "cmeEr".contains(letter) {
                    return None;
                }
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        return Some(arg.clone());
    }
    None
}

fn make(args: &[Word]) -> RunsFile {
    let (mut dir, mut file, mut targets) = (None, None, Vec::new());
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let a = arg.literal().unwrap_or("");
        let next = || args.get(i + 1).cloned();
        match a {
            "-C" | "--directory" => {
                dir = next();
                i += 2;
                continue;
            }
            "-f" | "--file" | "--makefile" => {
                file = next();
                i += 2;
                continue;
            }
            "-I" | "-o" | "-W" | "-j" | "-l" | "--include-dir" | "--old-file" | "--what-if" => {
                i += 2;
                continue;
            }
            _ => {}
        }
        if let Some(v) = a.strip_prefix("-C").filter(|v| !v.is_empty()) {
            dir = Some(Word::Literal(v.into()));
        } else if let Some(v) = a.strip_prefix("--directory=") {
            dir = Some(Word::Literal(v.into()));
        } else if let Some(v) = a.strip_prefix("-f").filter(|v| !v.is_empty()) {
            file = Some(Word::Literal(v.into()));
        } else if let Some(v) = a
            .strip_prefix("--file=")
            .or_else(|| a.strip_prefix("--makefile="))
        {
            file = Some(Word::Literal(v.into()));
        } else if !a.starts_with('-') && !a.contains('=') {
            targets.push(arg.clone());
        }
        i += 1;
    }
    RunsFile::Make { dir, file, targets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::parse_shell;

    fn runs(line: &str) -> Option<RunsFile> {
        runs_file(&parse_shell(line).invocations[0])
    }

    fn lit(s: &str) -> Word {
        Word::Literal(s.into())
    }

    #[test]
    fn reads_which_file_runs() {
        assert_eq!(
            runs("bash -e build.sh x"),
            Some(RunsFile::Program {
                path: lit("build.sh"),
                lang: Some(Lang::Shell),
                sourced: false
            })
        );
        assert_eq!(runs("bash -c 'ls'"), None);
        assert_eq!(runs("python3 -m pytest"), None);
        assert!(matches!(
            runs("python3 -u x.py"),
            Some(RunsFile::Program {
                lang: Some(Lang::Python),
                ..
            })
        ));
        assert!(matches!(
            runs("./x.sh"),
            Some(RunsFile::Program { lang: None, .. })
        ));
        assert!(matches!(
            runs(". ./env"),
            Some(RunsFile::Program { sourced: true, .. })
        ));
        assert_eq!(runs("ls -la"), None);
        assert_eq!(runs("/usr/bin/ls"), None);
        assert_eq!(
            runs("make -C sub -f x.mk test V=1"),
            Some(RunsFile::Make {
                dir: Some(lit("sub")),
                file: Some(lit("x.mk")),
                targets: vec![lit("test")]
            })
        );
        assert_eq!(
            runs("npm run lint -- --fix"),
            Some(RunsFile::Package {
                manager: "npm".into(),
                script: lit("lint")
            })
        );
        assert!(matches!(runs("npm test"), Some(RunsFile::Package { .. })));
        assert_eq!(runs("npm install"), None);
        assert!(matches!(runs("yarn build"), Some(RunsFile::Package { .. })));
        assert_eq!(runs("yarn add left-pad"), None);
        assert!(matches!(runs("just"), Some(RunsFile::Just { .. })));
        assert_eq!(runs("just --list"), None);
    }
}
