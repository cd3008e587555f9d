//! The shell stage: turns a command line into a small model of what would run.
//!
//! It owns parsing ([`parse`]), quote removal ([`word`]) and unwrapping of command wrappers
//! ([`unwrap`]). It knows nothing of policy: its only output is a [`Script`], the list of every
//! program invocation bash would perform, plus everything it could not read.
//!
//! The model fails closed. Anything the adapter cannot represent exactly — a parse error, a
//! program name that is a variable, `eval`, `source`, a script fed to a shell from a pipe it
//! cannot read, a depth or size limit — becomes an [`Unreadable`] entry, which the policy
//! stage escalates whatever the rules say.

pub mod brace;
pub mod load;
pub mod parse;
pub mod program;
pub mod unwrap;
pub mod word;

pub use parse::{from_argv, from_argv_in, parse_shell, parse_shell_in};

use serde::Serialize;

/// One word of a command after bash's quote removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    /// The word's exact value: bash would pass these bytes to the program.
    Literal(String),
    /// A word whose value is only known when it runs (a variable, a substitution, a glob
    /// gatekeep does not expand). `raw` is the source text, `why` says what made it dynamic.
    Dynamic { raw: String, why: String },
}

impl Word {
    /// The exact value, when it is known statically.
    pub fn literal(&self) -> Option<&str> {
        match self {
            Word::Literal(s) => Some(s),
            Word::Dynamic { .. } => None,
        }
    }

    /// The value for display: the literal value, or the source text of a dynamic word.
    pub fn display(&self) -> &str {
        match self {
            Word::Literal(s) => s,
            Word::Dynamic { raw, .. } => raw,
        }
    }

    pub fn dynamic(raw: impl Into<String>, why: impl Into<String>) -> Word {
        Word::Dynamic {
            raw: raw.into(),
            why: why.into(),
        }
    }
}

/// Where a command's standard input comes from, as far as it can be read statically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stdin {
    /// Whatever the caller of the whole line provides (a terminal, an agent's pipe): unseen.
    Inherited,
    /// Text known statically: a here-document, a here-string, or literal `echo`/`printf`
    /// output piped in.
    Text(String),
    /// A file redirected in with `<`.
    File(Word),
    /// The output of another command in a pipeline, named by its program.
    Pipe { from: String, source: PipeSource },
}

/// What kind of text a pipe carries, for deciding whether a shell reading it is readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeSource {
    /// Fetched from the network (`curl`, `wget`, ...).
    Downloaded,
    /// Decoded or decompressed (`base64 -d`, `xxd -r`, `gunzip`, ...): hidden from review.
    Decoded,
    /// Anything else whose text gatekeep does not know.
    Other,
}

/// One program invocation that would run, after wrappers have been unwrapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The words of the command; `argv[0]` is the program as written.
    pub argv: Vec<Word>,
    /// Leading `NAME=value` assignments (and those given to `env`).
    pub assignments: Vec<(String, Word)>,
    /// Targets of output redirections (`>`, `>>`, `&>`, `>|`), including those of enclosing
    /// compound commands.
    pub writes: Vec<Word>,
    pub stdin: Stdin,
    /// The wrappers and nestings this invocation was found through, outermost first
    /// (`sudo`, `bash -c`, `$(...)`).
    pub via: Vec<String>,
    /// True inside a command or process substitution, where its output is consumed as text
    /// and a person reading the line would not expect it to run.
    pub hidden: bool,
    /// What earlier commands of the same line changed that this one sees: variables and the
    /// directory it runs in. The policy stage needs it to read a path as it will be on disk.
    pub scope: Scope,
    /// Literal words of `argv` that bash expands as pathname patterns (`~/.ssh/*`,
    /// `/etc/shad?w`): each stands for any file it may match. Kept by value, so that they
    /// survive unwrapping (`sudo cat /etc/*`); a quoted word with the same text is rare and
    /// only ever read as a pattern too.
    pub globs: Vec<String>,
}

/// Changes earlier commands of a line make that later commands see (`H=$HOME; cd ~/x &&
/// echo > $H/y`). Recorded as written; the policy stage resolves them, since only it is
/// given the environment and the directory the line runs in.
///
/// A subshell, a pipeline element, a substitution or a nested shell gets a copy: what it
/// changes does not leak out, as in bash. A `cd` is taken to succeed: the commands after it
/// are read as running where it leads, which is where they run whenever they run at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Shell variables assigned earlier in the line (`X=1;`, `export X=1`, `declare X=1`),
    /// oldest first: the last entry for a name wins. A value only known at run time (`read
    /// X`, `printf -v X`) is a [`Word::Dynamic`].
    pub vars: Vec<(String, Word)>,
    /// Directories changed into earlier in the line (`cd DIR &&`, `pushd DIR`), oldest first,
    /// each relative to the one before; `cd` alone is `~`. `cd -` and `popd` are dynamic.
    pub dirs: Vec<Word>,
    /// Paths earlier commands made into links or moved or copied data into (`ln -s ~/.ssh
    /// /tmp/x`, `mv ~/.aws /tmp/a`), oldest first: a path exemption (build or temporary
    /// directories) never holds at or below them, and a path below one is also read as the
    /// path its data came from.
    pub links: Vec<Link>,
}

/// What one `ln`, `cp`, `mv` or `install` put where, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The sources (for `ln -s`, the link's target).
    pub from: Vec<Word>,
    /// The destination: a file, or a directory that the sources went into.
    pub to: Word,
    /// A symbolic link: a relative target is read from the link's directory.
    pub symbolic: bool,
}

impl Scope {
    /// The last value assigned to `name` earlier in the line.
    pub fn var(&self, name: &str) -> Option<&Word> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, w)| w)
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty() && self.dirs.is_empty() && self.links.is_empty()
    }
}

impl Invocation {
    /// A command of literal words run on its own: no assignments, redirections or scope (a
    /// program named in a rule probe, an argv given directly, a shell-out's argument list,
    /// which runs without a shell and so globs nothing).
    pub fn literal(argv: impl IntoIterator<Item = String>) -> Invocation {
        Invocation {
            argv: argv.into_iter().map(Word::Literal).collect(),
            assignments: Vec::new(),
            writes: Vec::new(),
            stdin: Stdin::Inherited,
            via: Vec::new(),
            hidden: false,
            scope: Scope::default(),
            globs: Vec::new(),
        }
    }

    /// The program's name: the basename of `argv[0]` when it is literal.
    pub fn program(&self) -> Option<&str> {
        let first = self.argv.first()?.literal()?;
        Some(basename(first))
    }

    /// The argv for display, dynamic words shown as their source text.
    pub fn display_argv(&self) -> Vec<String> {
        self.argv.iter().map(|w| w.display().to_owned()).collect()
    }
}

/// The basename of a program path (`/usr/bin/rm` -> `rm`).
pub fn basename(program: &str) -> &str {
    let trimmed = program.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Something that would run but cannot be read statically.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// The source text (or a short description) of the unreadable part.
    pub text: String,
    /// What could not be read, written for a person.
    pub why: String,
    pub via: Vec<String>,
}

/// Structures that are dangerous as a whole rather than through any one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Construct {
    /// A function that starts copies of itself concurrently (`:(){ :|:& };:`).
    ForkBomb { name: String },
    /// A program file (Python, Node, Perl, Ruby) that a command runs calls a shell-out
    /// whose command is not a literal.
    ScriptShellOut { file: String, call: String },
}

impl Construct {
    /// The name a policy rule uses to match this construct.
    pub fn name(&self) -> &'static str {
        match self {
            Construct::ForkBomb { .. } => "fork-bomb",
            Construct::ScriptShellOut { .. } => "script-shell-out",
        }
    }

    /// The construct as shown in a verdict.
    pub fn shown(&self) -> String {
        match self {
            Construct::ForkBomb { name } => format!("{name}()"),
            Construct::ScriptShellOut { file, call } => format!("{file}: {call}"),
        }
    }
}

/// Everything a command line would run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub invocations: Vec<Invocation>,
    /// Statements that only assign variables (`X=1`, with no program). They run nothing, but
    /// a variable the shell inherited is exported, so `HOME=/x` alone changes the environment
    /// of every later program. `argv` is empty; `assignments` holds what is assigned.
    pub assignments: Vec<Invocation>,
    pub unreadable: Vec<Unreadable>,
    pub constructs: Vec<Construct>,
}
