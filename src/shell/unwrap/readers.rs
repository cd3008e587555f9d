//! Programs that read their program from standard input.
//!
//! `curl URL | sh` is only the best-known spelling: any shell or interpreter told to read its
//! program from `/dev/stdin` (in any spelling: `/dev/./stdin`, `/dev/fd/0`,
//! `/proc/self/fd/0`, `//dev//stdin`), from `-`, or with `-f -` (`make`, `sed`, `awk`) runs
//! whatever is piped in. Each such reader becomes a [`Step::StdinScript`], so the producer's
//! output is classified as code exactly as for `| sh`: readable when it is known text and the
//! reader is a shell, escalated otherwise.

use super::Step;
use super::args::option_value;
use crate::shell::Word;

/// Whether `path` names the process's own standard input. The path is read lexically
/// (`.` and empty parts dropped, `..` taken back), which also catches spellings that only
/// resolve to stdin through the `/dev/fd -> /proc/self/fd` link: erring that way escalates.
pub fn is_stdin_path(path: &str) -> bool {
    if path == "-" {
        return true;
    }
    if !path.starts_with('/') {
        return false;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    matches!(
        parts.as_slice(),
        ["dev", "stdin"]
            | ["dev", "fd", "0"]
            | ["proc", "self" | "thread-self", "fd", "0"]
            | ["proc", "self", "task", _, "fd", "0"]
    )
}

/// `make -f -`, `make --file=/dev/stdin`: recipes read from standard input; `make --eval`
/// (`-E`): make code given on the command line, whose `$(shell ...)` and recipes gatekeep
/// does not read.
pub(super) fn make(args: &[Word], via: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(code) = option_value(args, &["--eval", "-E"]) {
        steps.push(Step::Unreadable {
            why: format!(
                "{via} --eval evaluates `{}` as make code (functions such as $(shell) and recipes), which gatekeep does not read",
                code.display()
            ),
        });
    }
    steps.extend(program_file(args, &["-f", "--file", "--makefile"], via));
    steps
}

/// A tool whose program comes from the file named by one of `options` (`sed -f F`,
/// `awk -f F`): when that file is standard input, the program is whatever is piped in.
/// `None` when no such option names standard input.
pub(super) fn program_file(args: &[Word], options: &[&str], via: &str) -> Option<Step> {
    match option_value(args, options)? {
        Word::Literal(path) if is_stdin_path(&path) => Some(Step::StdinScript {
            reader: format!("{via} -f {path}"),
            shell: false,
        }),
        Word::Literal(_) => None,
        Word::Dynamic { raw, .. } => Some(Step::Unreadable {
            why: format!("{via} reads its program from `{raw}`, only known at run time"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_in_every_spelling() {
        for p in [
            "-",
            "/dev/stdin",
            "/dev/./stdin",
            "//dev//stdin",
            "/dev/fd/0",
            "/dev/fd/../fd/0",
            "/proc/self/fd/0",
            "/proc/thread-self/fd/0",
            "/proc/self/task/1/fd/0",
            "/tmp/../dev/stdin",
        ] {
            assert!(is_stdin_path(p), "{p}");
        }
        for p in [
            "/dev/stdout",
            "dev/stdin",
            "/dev/fd/1",
            "x.sh",
            "/proc/self/fd/00",
        ] {
            assert!(!is_stdin_path(p), "{p}");
        }
    }

    fn words(s: &[&str]) -> Vec<Word> {
        s.iter().map(|w| Word::Literal((*w).to_owned())).collect()
    }

    #[test]
    fn make_reads_stdin_or_eval() {
        assert!(make(&words(&["-f", "build.mk", "all"]), "make").is_empty());
        assert!(matches!(
            make(&words(&["-sf", "-"]), "make")[0],
            Step::StdinScript { shell: false, .. }
        ));
        assert!(matches!(
            make(&words(&["--file=/dev/stdin"]), "make")[0],
            Step::StdinScript { .. }
        ));
        assert!(matches!(
            make(&words(&["--eval=x:=1", "all"]), "make")[0],
            Step::Unreadable { .. }
        ));
        assert!(make(&words(&["test"]), "make").is_empty());
    }
}
