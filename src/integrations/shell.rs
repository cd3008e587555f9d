//! `gatekeep init bash|zsh|fish [--mode aliases|preexec]`: the snippet a user loads from the
//! shell's rc file, so that what is typed into an interactive shell goes through the gate.
//!
//! This module only writes text; it decides nothing. Every decision is made by the real
//! binary at run time (`gatekeep exec --` or `gatekeep check --shell`), so a shell, an agent
//! hook and `gatekeep exec` can never disagree about a command.
//!
//! Two modes:
//!
//! - **aliases** (the default): one shell function per program the policy guards, which runs
//!   `gatekeep exec -- PROGRAM ARGS...`. gatekeep `execvp`s the real program, so the function
//!   never calls itself; exit status, stdin, stdout and stderr are the program's own, and
//!   completions stay attached to the name. It costs nothing until a guarded name is used.
//!   `command NAME`, `\NAME` and full paths go around it: this mode guards what people and
//!   agents usually type, not a determined caller.
//! - **preexec**: every command is checked before it runs, whatever it looks like. bash
//!   checks each simple command from a `DEBUG` trap (`extdebug` lets the trap skip it); zsh
//!   and fish check the whole line when Enter is pressed. A command that is not allowed is
//!   handed to `gatekeep exec`, which refuses it or asks for approval and then runs it: the
//!   shell never runs it itself.
//!
//! When the binary cannot be found while the snippet loads, the snippet says so on stderr,
//! once, and guards nothing: the shell starts as if it were not loaded (the same as
//! `eval "$(gatekeep init bash)"` with no gatekeep installed), rather than a shell where
//! every guarded command fails. When the binary disappears later, the guard fails closed:
//! guarded commands (in preexec mode: every command but `exit`) are refused with a message
//! saying why, and the prompt keeps working.

use std::fmt::Write as _;

mod reserved;
use reserved::{BASH_RESERVED, FISH_RESERVED, ZSH_RESERVED};

/// Which shell the snippet is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// How the snippet guards commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Functions for the programs the policy guards, routed through `gatekeep exec --`.
    #[default]
    Aliases,
    /// Every command line is checked before it runs.
    Preexec,
}

/// The snippet for `shell` in `mode`; `programs` are the program names the policy guards.
pub fn init(shell: Shell, mode: Mode, programs: &[String]) -> String {
    init_with_binary(shell, mode, programs, own_path().as_deref())
}

/// [`init`] with the binary's path given (`None`: look for `gatekeep` on PATH).
fn init_with_binary(shell: Shell, mode: Mode, programs: &[String], bin: Option<&str>) -> String {
    let quoted = match shell {
        Shell::Bash | Shell::Zsh => quote_posix(bin.unwrap_or("")),
        Shell::Fish => quote_fish(bin.unwrap_or("")),
    };
    let template = match (shell, mode) {
        (Shell::Bash, Mode::Aliases) => BASH_ALIASES,
        (Shell::Bash, Mode::Preexec) => BASH_PREEXEC,
        (Shell::Zsh, Mode::Aliases) => ZSH_ALIASES,
        (Shell::Zsh, Mode::Preexec) => ZSH_PREEXEC,
        (Shell::Fish, Mode::Aliases) => FISH_ALIASES,
        (Shell::Fish, Mode::Preexec) => FISH_PREEXEC,
    };
    let locate = match shell {
        Shell::Bash => "",
        Shell::Zsh => ZSH_LOCATE,
        Shell::Fish => FISH_LOCATE,
    };
    let names = wrapped_names(shell, programs);
    splice(template, "@LOCATE@", locate)
        .replace("@GATEKEEP@", &quoted)
        .replace("@PROGRAMS@", &name_list(&names))
}

/// Replaces each line holding `marker` with `text`, indented as that line was.
fn splice(template: &str, marker: &str, text: &str) -> String {
    let mut out = String::with_capacity(template.len() + text.len());
    for line in template.split_inclusive('\n') {
        match line.find(marker) {
            Some(at) => {
                let indent = &line[..at];
                for l in text.split_inclusive('\n') {
                    if !l.trim().is_empty() {
                        out.push_str(indent);
                    }
                    out.push_str(l);
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// zsh's and fish's `__gatekeep_locate`, the same in both modes (bash's preexec mode keeps
/// its own, whose path is read-only).
const ZSH_LOCATE: &str = include_str!("shell/locate.zsh");

const FISH_LOCATE: &str = include_str!("shell/locate.fish");

/// The absolute path of this binary, when it is one the snippet can name. A path that is
/// not UTF-8 cannot be written into the snippet faithfully, so the snippet then looks for
/// `gatekeep` on PATH instead.
fn own_path() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    if !path.is_absolute() {
        return None;
    }
    path.into_os_string().into_string().ok()
}

/// The guarded programs that get a function, in the policy's (sorted) order.
///
/// A name is left out when it cannot be a function the shell would call for it, or when
/// a function of that name would change what the name means:
///
/// - names with a `/` (`bin/rails`): the shell runs a path, never a function;
/// - names outside `[A-Za-z0-9_][A-Za-z0-9_.+-]*`: not portable function names, and the
///   snippet writes names unquoted;
/// - the shell's keywords and builtins. A function named `kill`, `history`, `set`,
///   `export`, `cd` or `umask` would run a program of that name in a child process instead
///   of acting on this shell (`kill %1` needs the shell's job table, `export` its variables),
///   so it would silently break them; `command`, `builtin`, `exec`, `eval`, `source`, `.`
///   and `time` are how the shell runs other commands, and keywords (`if`, `[[`) cannot be
///   functions at all. Preexec mode checks these too, since it reads whole command lines.
///   The lists below are the union over the shell versions in use; the snippet also asks
///   the running shell for its own builtins and keywords (a newer shell may have more);
/// - fish functions that implement shell features (`cd`, `history`, `export`, `psub`, ...),
///   for the same reason.
fn wrapped_names(shell: Shell, programs: &[String]) -> Vec<&str> {
    let reserved: &[&str] = match shell {
        Shell::Bash => BASH_RESERVED,
        Shell::Zsh => ZSH_RESERVED,
        Shell::Fish => FISH_RESERVED,
    };
    programs
        .iter()
        .map(String::as_str)
        .filter(|name| is_plain_name(name) && !reserved.contains(name))
        .filter(|name| !(shell == Shell::Fish && name.starts_with("fish_")))
        .collect()
}

/// `[A-Za-z0-9_][A-Za-z0-9_.+-]*`: safe to write unquoted as a function name in all three
/// shells.
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
}

/// The names as the argument list of the snippet's definition loop, a few per line.
fn name_list(names: &[&str]) -> String {
    let mut out = String::new();
    let mut width = 0;
    for name in names {
        if width > 0 && width + name.len() > 84 {
            out.push_str(" \\\n   ");
            width = 0;
        }
        let _ = write!(out, " {name}");
        width += name.len() + 1;
    }
    out
}

/// Single-quotes `s` for bash and zsh: only `'` needs care inside single quotes.
fn quote_posix(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Single-quotes `s` for fish, where `\` and `'` are escaped inside single quotes.
fn quote_fish(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

const BASH_ALIASES: &str = include_str!("shell/aliases.bash");

const BASH_PREEXEC: &str = include_str!("shell/preexec.bash");

const ZSH_ALIASES: &str = include_str!("shell/aliases.zsh");

const ZSH_PREEXEC: &str = include_str!("shell/preexec.zsh");

const FISH_ALIASES: &str = include_str!("shell/aliases.fish");

const FISH_PREEXEC: &str = include_str!("shell/preexec.fish");

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn wraps_plain_program_names_and_leaves_the_shell_alone() {
        let programs = names(&[
            "kubectl",
            "terraform",
            "7z",
            "dropdb.exe",
            "if-down",
            "bin/rails",
            "mkfs.*",
            "-x",
            "",
            "a b",
            "set",
            "export",
            "kill",
            "history",
            "[",
            "command",
            "exec",
            "eval",
            "source",
            ".",
            "cd",
            "builtin",
            "time",
            "umask",
            "trap",
        ]);
        assert_eq!(
            wrapped_names(Shell::Bash, &programs),
            ["kubectl", "terraform", "7z", "dropdb.exe", "if-down"]
        );
        // `kill` is no builtin in fish: /bin/kill is what runs there anyway.
        assert_eq!(
            wrapped_names(Shell::Fish, &programs),
            [
                "kubectl",
                "terraform",
                "7z",
                "dropdb.exe",
                "if-down",
                "kill"
            ]
        );
        assert_eq!(
            wrapped_names(Shell::Zsh, &names(&["noglob", "repeat", "which", "git"])),
            ["git"]
        );
        assert!(wrapped_names(Shell::Fish, &names(&["fish_prompt", "psub"])).is_empty());
    }

    #[test]
    fn quotes_the_binary_for_each_shell() {
        assert_eq!(
            quote_posix("/opt/it's here/gatekeep"),
            r"'/opt/it'\''s here/gatekeep'"
        );
        assert_eq!(quote_posix("/a/$HOME/`x`"), "'/a/$HOME/`x`'");
        assert_eq!(quote_fish(r"/opt/it's\here"), r"'/opt/it\'s\\here'");
        let snippet = init_with_binary(Shell::Fish, Mode::Aliases, &[], Some("/x/it's"));
        assert!(
            snippet.contains(r"set -g __gatekeep_bin '/x/it\'s'"),
            "{snippet}"
        );
        // No known path: empty, so the snippet looks on PATH (never in the current directory).
        let snippet = init_with_binary(Shell::Bash, Mode::Preexec, &[], None);
        assert!(snippet.contains("__gatekeep_bin=''\n"), "{snippet}");
    }

    #[test]
    fn every_template_is_filled() {
        let programs = names(&["kubectl", "touch"]);
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            for mode in [Mode::Aliases, Mode::Preexec] {
                let s = init_with_binary(shell, mode, &programs, Some("/bin/gatekeep"));
                assert!(
                    !s.contains("@GATEKEEP@")
                        && !s.contains("@PROGRAMS@")
                        && !s.contains("@LOCATE@"),
                    "{shell:?} {mode:?}: placeholder left\n{s}"
                );
                assert!(s.contains("'/bin/gatekeep'"), "{shell:?} {mode:?}");
                assert_eq!(
                    s.contains(" kubectl touch"),
                    mode == Mode::Aliases,
                    "{shell:?} {mode:?}"
                );
            }
        }
    }

    #[test]
    fn long_program_lists_are_wrapped() {
        let programs: Vec<String> = (0..100).map(|i| format!("program{i}")).collect();
        let list = name_list(&programs.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(list.lines().count() > 5);
        assert!(list.lines().all(|l| l.len() <= 100));
        assert!(list.lines().rev().skip(1).all(|l| l.ends_with(" \\")));
    }
}
