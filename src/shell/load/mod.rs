//! Reading the files a command runs: shell scripts, Makefiles, `package.json` and
//! `justfile` scripts, and Python/Node/Perl/Ruby programs (for their shell-outs).
//!
//! The shell stage reads text; it does not decide where text comes from. File access goes
//! through the [`Files`] trait, which only a caller that knows the directory the command
//! runs in provides (`gatekeep exec`, `check`, the hooks: [`crate::host::LiveHost`]). The
//! pure reading used by case tables and rule examples has no `Files`, and then nothing is
//! read: a command that runs a file is judged by its own words, as before.
//!
//! Only commands that run a file ask for one: a line that runs no file does no file I/O.
//!
//! - [`make`]: the recipes `make [target]` runs;
//! - [`package`]: `npm run` / `yarn` / `pnpm` scripts in `package.json`, `just` recipes;
//! - [`shellouts`]: the best-effort scan of interpreter programs for commands they run.

pub mod make;
pub mod package;
pub mod shellouts;

use thiserror::Error;

/// Largest file read, in bytes; a larger one is unreadable (escalated).
pub const MAX_FILE: usize = 1024 * 1024;
/// How deep files may run files (a script sourcing a script ...) before the rest is
/// unreadable.
pub const MAX_FILE_DEPTH: usize = 8;
/// Total bytes of files read for one command line.
pub const MAX_TOTAL: usize = 8 * 1024 * 1024;
/// Files read for one command line.
pub const MAX_FILES: usize = 256;

/// Why a file could not be read as text.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    /// No such file (now: an earlier command of the line may still create it).
    #[error("it does not exist")]
    Missing,
    /// A compiled program (an ELF or other binary): judged by its name, as any program.
    #[error("it is a binary program")]
    Binary,
    #[error("it is larger than {MAX_FILE} bytes ({0} bytes)")]
    TooLarge(u64),
    #[error("it cannot be read ({0})")]
    Unreadable(String),
}

/// Read access to the files of the place a command runs in.
pub trait Files {
    /// The text of the file at `path`: absolute, or relative to the directory the command
    /// line runs in. At most [`MAX_FILE`] bytes; a binary file is [`LoadError::Binary`].
    fn read(&self, path: &str) -> Result<String, LoadError>;
    /// The home directory, for `~/x`.
    fn home(&self) -> Option<String>;
}

/// How much one command line has read so far, against [`MAX_FILES`] and [`MAX_TOTAL`].
#[derive(Clone, Debug, Default)]
pub struct Budget {
    pub files: usize,
    pub bytes: usize,
}

impl Budget {
    /// Counts one more file of `len` bytes; false when the line is over its budget.
    pub fn take(&mut self, len: usize) -> bool {
        self.files += 1;
        self.bytes += len;
        self.files <= MAX_FILES && self.bytes <= MAX_TOTAL
    }
}

/// The language a program file is written in, from its shebang or the program running it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lang {
    Shell,
    Python,
    Node,
    Perl,
    Ruby,
    /// An interpreter gatekeep does not scan (named as in the shebang).
    Other(String),
}

impl Lang {
    /// The language of a program by name (`python3.11`, `bash`, `nodejs`).
    pub fn of_program(program: &str) -> Option<Lang> {
        let name = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        Some(match name {
            "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "mksh" | "yash" | "rbash" => {
                Lang::Shell
            }
            "python" | "pypy" => Lang::Python,
            "node" | "nodejs" => Lang::Node,
            "perl" => Lang::Perl,
            "ruby" | "jruby" => Lang::Ruby,
            _ => return None,
        })
    }

    /// The language a file runs as when executed directly: by its shebang, and as a shell
    /// script without one (bash runs a text file that the kernel cannot execute itself).
    pub fn of_text(text: &str) -> Lang {
        let Some(line) = text.strip_prefix("#!") else {
            return Lang::Shell;
        };
        let line = line.lines().next().unwrap_or("");
        let mut words = line.split_whitespace();
        let mut program = words.next().map(crate::shell::basename).unwrap_or("");
        if program == "env" {
            program = words.find(|w| !w.starts_with('-')).unwrap_or("");
        }
        Lang::of_program(program).unwrap_or_else(|| Lang::Other(program.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_by_shebang_and_name() {
        assert_eq!(Lang::of_text("echo hi\n"), Lang::Shell);
        assert_eq!(Lang::of_text("#!/bin/bash -e\nls"), Lang::Shell);
        assert_eq!(
            Lang::of_text("#!/usr/bin/env -S python3 -u\n"),
            Lang::Python
        );
        assert_eq!(Lang::of_text("#!/usr/bin/node\n"), Lang::Node);
        assert_eq!(
            Lang::of_text("#!/usr/bin/awk -f\n"),
            Lang::Other("awk".into())
        );
        assert_eq!(Lang::of_program("python3.11"), Some(Lang::Python));
        assert_eq!(Lang::of_program("ls"), None);
    }

    #[test]
    fn the_budget_counts_files_and_bytes() {
        let mut b = Budget::default();
        assert!(b.take(MAX_TOTAL));
        assert!(!b.take(1));
    }
}
