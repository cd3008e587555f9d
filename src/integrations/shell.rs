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
const ZSH_LOCATE: &str = r##"# gatekeep's path when this snippet was made, else gatekeep on PATH (absolute paths only).
__gatekeep_locate() {
  [[ -n $__gatekeep_bin && -x $__gatekeep_bin ]] && return 0
  local __gatekeep_path=${commands[gatekeep]-}
  [[ $__gatekeep_path == /* && -x $__gatekeep_path ]] || return 1
  __gatekeep_bin=$__gatekeep_path
}
"##;

const FISH_LOCATE: &str = r##"# gatekeep's path when this snippet was made, else gatekeep on PATH (absolute paths only).
function __gatekeep_locate
    if test -n "$__gatekeep_bin"; and test -x "$__gatekeep_bin"
        return 0
    end
    set -l path (command -s gatekeep)
    if set -q path[1]; and string match -q '/*' -- $path[1]; and test -x $path[1]
        set -g __gatekeep_bin $path[1]
        return 0
    end
    return 1
end
"##;

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

/// bash 5.2 keywords and builtins (`compgen -k -b`), with those of other versions.
const BASH_RESERVED: &[&str] = &[
    // keywords
    "!",
    "[[",
    "]]",
    "{",
    "}",
    "case",
    "coproc",
    "do",
    "done",
    "elif",
    "else",
    "esac",
    "fi",
    "for",
    "function",
    "if",
    "in",
    "select",
    "then",
    "time",
    "until",
    "while",
    // builtins
    ".",
    ":",
    "[",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "declare",
    "dirs",
    "disown",
    "echo",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
];

/// zsh 5.9 reserved words and builtins (`${(k)reswords} ${(k)builtins}`), with the builtins
/// of zsh's standard modules that act on the shell itself.
const ZSH_RESERVED: &[&str] = &[
    // reserved words
    "!",
    "[[",
    "{",
    "}",
    "case",
    "coproc",
    "declare",
    "do",
    "done",
    "elif",
    "else",
    "end",
    "esac",
    "export",
    "fi",
    "float",
    "for",
    "foreach",
    "function",
    "if",
    "integer",
    "local",
    "nocorrect",
    "readonly",
    "repeat",
    "select",
    "then",
    "time",
    "typeset",
    "until",
    "while",
    // builtins
    "-",
    ".",
    ":",
    "[",
    "alias",
    "autoload",
    "bg",
    "bindkey",
    "break",
    "builtin",
    "bye",
    "cd",
    "chdir",
    "command",
    "compadd",
    "comparguments",
    "compcall",
    "compctl",
    "compdescribe",
    "compfiles",
    "compgroups",
    "compquote",
    "compset",
    "comptags",
    "comptry",
    "compvalues",
    "continue",
    "dirs",
    "disable",
    "disown",
    "echo",
    "echotc",
    "echoti",
    "emulate",
    "enable",
    "eval",
    "exec",
    "exit",
    "false",
    "fc",
    "fg",
    "functions",
    "getln",
    "getopts",
    "hash",
    "history",
    "jobs",
    "kill",
    "let",
    "limit",
    "log",
    "logout",
    "noglob",
    "popd",
    "print",
    "printf",
    "private",
    "pushd",
    "pushln",
    "pwd",
    "r",
    "read",
    "rehash",
    "return",
    "sched",
    "set",
    "setopt",
    "shift",
    "source",
    "suspend",
    "test",
    "times",
    "trap",
    "true",
    "ttyctl",
    "type",
    "ulimit",
    "umask",
    "unalias",
    "unfunction",
    "unhash",
    "unlimit",
    "unset",
    "unsetopt",
    "vared",
    "wait",
    "whence",
    "where",
    "which",
    "zcompile",
    "zformat",
    "zle",
    "zmodload",
    "zparseopts",
    "zregexparse",
    "zstyle",
];

/// fish 3.x builtins and keywords (`builtin -n`), and the functions fish ships that act on
/// the shell itself (wrappers of external programs, such as `ls` or `grep`, may be wrapped).
const FISH_RESERVED: &[&str] = &[
    // builtins and keywords
    "!",
    ".",
    ":",
    "[",
    "_",
    "abbr",
    "and",
    "argparse",
    "begin",
    "bg",
    "bind",
    "block",
    "break",
    "breakpoint",
    "builtin",
    "case",
    "cd",
    "command",
    "commandline",
    "complete",
    "contains",
    "continue",
    "count",
    "disown",
    "echo",
    "else",
    "emit",
    "end",
    "eval",
    "exec",
    "exit",
    "false",
    "fg",
    "for",
    "function",
    "functions",
    "history",
    "if",
    "jobs",
    "math",
    "not",
    "or",
    "path",
    "printf",
    "pwd",
    "random",
    "read",
    "realpath",
    "return",
    "set",
    "set_color",
    "source",
    "status",
    "string",
    "switch",
    "test",
    "time",
    "true",
    "type",
    "ulimit",
    "wait",
    "while",
    // shipped functions that act on the shell
    "alias",
    "cdh",
    "dirh",
    "dirs",
    "export",
    "funced",
    "funcsave",
    "help",
    "isatty",
    "nextd",
    "popd",
    "prevd",
    "psub",
    "pushd",
    "setenv",
    "suspend",
    "trap",
    "umask",
    "vared",
];

const BASH_ALIASES: &str = r##"# gatekeep: bash integration, aliases mode (from `gatekeep init bash`).
# Load it at the end of ~/.bashrc:   eval "$(gatekeep init bash)"
#
# Each program that the policy guards becomes a function that runs it through
# `gatekeep exec --`: allowed commands run at once (gatekeep execs the real program, so exit
# status, stdin/stdout/stderr and completion are unchanged), others wait for approval or are
# refused. `command NAME`, `\NAME` and full paths go around these functions; use
# `gatekeep init bash --mode preexec` to check every command line instead.
__gatekeep_bin=@GATEKEEP@

# gatekeep's path when this snippet was made, else gatekeep on PATH (absolute paths only).
__gatekeep_locate() {
  [[ -n $__gatekeep_bin && -x $__gatekeep_bin ]] && return 0
  local __gatekeep_path
  __gatekeep_path=$(type -P gatekeep 2>/dev/null)
  [[ $__gatekeep_path == /* && -x $__gatekeep_path ]] || return 1
  __gatekeep_bin=$__gatekeep_path
}

__gatekeep_run() {
  if ! __gatekeep_locate; then
    # Fail closed: this name is guarded, and nothing can decide about it now.
    printf 'gatekeep: `%s` was not run: gatekeep is no longer at %s nor on PATH, and this shell sends `%s` through it\nhint: reinstall gatekeep, or use a shell that does not load its snippet\n' \
      "$1" "${__gatekeep_bin:-(unknown)}" "$1" >&2
    return 127
  fi
  "$__gatekeep_bin" exec -- "$@"
}

if __gatekeep_locate; then
  # The names below were checked when the snippet was made; this shell's own builtins and
  # keywords are left alone as well (a function would run a program in their place).
  __gatekeep_define() {
    local __gatekeep_keep __gatekeep_name
    __gatekeep_keep=$(compgen -b -k)
    __gatekeep_keep=" ${__gatekeep_keep//$'\n'/ } "
    for __gatekeep_name in "$@"; do
      [[ $__gatekeep_keep == *" $__gatekeep_name "* ]] && continue
      eval "function $__gatekeep_name { __gatekeep_run $__gatekeep_name \"\$@\"; }"
    done
  }
  __gatekeep_define@PROGRAMS@
  unset -f __gatekeep_define
else
  printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' \
    "${__gatekeep_bin:-(unknown)}" >&2
fi
"##;

const BASH_PREEXEC: &str = r##"# gatekeep: bash integration, preexec mode (from `gatekeep init bash --mode preexec`).
# Load it at the end of ~/.bashrc:   eval "$(gatekeep init bash --mode preexec)"
#
# Before bash runs a command, a DEBUG trap (with `shopt -s extdebug`, so that it can skip the
# command) asks `gatekeep check` about it. It sees what bash is about to run, one simple
# command at a time, after aliases and inside functions, pipelines, subshells and `$(...)`:
# `\rm`, `command rm`, `env rm` and `/bin/rm` are all read as rm.
# - allow: the command runs here, as usual. Allowed commands are remembered until the next
#   command line, so a loop asks once per distinct command.
# - anything else: the command is handed to `gatekeep exec --shell`, which refuses it or asks
#   for approval and runs it in a child bash that gets this shell's variables, positional
#   parameters and glob options (not its functions, aliases or traps; a `cd` or an assignment
#   there does not come back). bash cannot give a command skipped by the trap an exit status:
#   status 0 lets the line go on; any other status ends a subshell or pipeline stage with it,
#   and stops the command line in the shell itself, as Ctrl-C would ($? is 130).
# The rc files read at start-up are not checked. Commands that would switch the guard off
# (`trap - DEBUG`, `shopt -u extdebug`, `set +T`, touching `__gatekeep_*`) are refused.
if [[ $- != *i* ]]; then
  : # not interactive: nothing is typed here
elif (( BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 404 )); then
  printf 'gatekeep: preexec mode needs bash 4.4 or later, and this is %s: this shell is NOT guarded\nhint: `gatekeep init bash` (aliases mode) works here\n' "$BASH_VERSION" >&2
elif [[ -z ${__gatekeep_preexec-} ]]; then
  __gatekeep_preexec=1
  __gatekeep_bin=@GATEKEEP@
  __gatekeep_number='\#'   # expands (as a prompt) to the number of the current command line
  __gatekeep_line=
  __gatekeep_startup=1
  __gatekeep_found=
  declare -gA __gatekeep_allowed=()

  # Sets __gatekeep_exe, afresh for each use: gatekeep's path when this snippet was made
  # (read-only below), else gatekeep on PATH (absolute paths only).
  __gatekeep_locate() {
    __gatekeep_exe=$__gatekeep_bin
    [[ -n $__gatekeep_exe && -x $__gatekeep_exe ]] && return 0
    __gatekeep_exe=$__gatekeep_found
    [[ -n $__gatekeep_exe && -x $__gatekeep_exe ]] && return 0
    __gatekeep_exe=$(type -P gatekeep 2>/dev/null)
    [[ $__gatekeep_exe == /* && -x $__gatekeep_exe ]] || return 1
    __gatekeep_found=$__gatekeep_exe
  }

  # The trap: $1 is the count of positional parameters that follow $2 (the command), and the
  # last argument is `$_`, so that bash restores `$_` when the trap returns.
  __gatekeep_debug() {
    # Never inside itself (the trap is inherited by the subshells it starts).
    [[ -n ${__gatekeep_busy-} ]] && return 0
    local __gatekeep_busy=1 __gatekeep_cmd=$2
    local -a __gatekeep_args=("${@:3:$1}")

    # Programmable completion runs functions on Tab, not commands the user ran; checking
    # each of their lines would make Tab crawl. Only inside a function: typing a COMP_
    # variable at the prompt is refused below.
    [[ -n ${COMP_LINE-} && ${#FUNCNAME[@]} -gt 1 ]] && return 0

    # Start-up: the rc files this shell reads before its first prompt are the user's own
    # configuration, and are not checked. The first command outside them ends start-up
    # (after it, `source` and `.` never run here: gatekeep cannot read them ahead).
    local __gatekeep_starting=
    if [[ -n $__gatekeep_startup ]]; then
      if [[ ${FUNCNAME[-1]} == source ]]; then
        __gatekeep_starting=1
      else
        __gatekeep_startup=
      fi
    fi

    # The guard does not switch itself off: whatever gatekeep allows, these would remove
    # the trap (or its power to skip) for everything typed after them. Anything gatekeep
    # escalates (eval, source, a dynamic command) runs in a child bash and cannot reach it.
    local __gatekeep_upper=${__gatekeep_cmd^^}
    if [[ $__gatekeep_cmd == *__gatekeep* || $__gatekeep_cmd == *extdebug* || $__gatekeep_cmd == *functrace* \
          || ( -z $__gatekeep_starting && $__gatekeep_cmd == *COMP_* ) \
          || ( $__gatekeep_upper == *TRAP* && $__gatekeep_upper == *DEBUG* ) \
          || ( $__gatekeep_cmd == *set* && $__gatekeep_cmd =~ (^|[[:space:]\"\'])\+[[:alpha:]]*T ) ]]; then
      if [[ -n $__gatekeep_starting ]]; then
        # Another tool loaded after this snippet: keep the guard, let start-up go on.
        printf 'gatekeep: not run while starting: `%s` would take the DEBUG trap from gatekeep\nhint: load the gatekeep snippet after it in the rc file\n' "$__gatekeep_cmd" >&2
        return 1
      fi
      printf 'gatekeep: refused: `%s` would switch off gatekeep in this shell\nhint: work without gatekeep in a shell that does not load its snippet\n' "$__gatekeep_cmd" >&2
      __gatekeep_stop 77
      return 1
    fi
    [[ -n $__gatekeep_starting ]] && return 0

    local __gatekeep_n=${__gatekeep_number@P}
    if [[ $__gatekeep_n != "$__gatekeep_line" ]]; then
      __gatekeep_line=$__gatekeep_n
      __gatekeep_allowed=()
    fi
    local __gatekeep_key=$PWD$'\n'$__gatekeep_cmd
    [[ -n ${__gatekeep_allowed[$__gatekeep_key]-} ]] && return 0

    # bash shows the header of a loop or `case` as a command of its own. Its words are
    # expanded, not run: any `$(...)` in them is checked when it runs. A text like
    # `for x in y > f` is a command named `for` (after a leading redirection): checked.
    local __gatekeep_text=$__gatekeep_cmd
    if [[ $__gatekeep_cmd =~ ^(for|select)\ [[:alpha:]_][[:alnum:]_]*(\ in\ .*)?$ ]]; then
      [[ $__gatekeep_cmd == *[\<\>]* ]] || return 0
      __gatekeep_text="$__gatekeep_cmd; do :; done"
    elif [[ $__gatekeep_cmd =~ ^case\ .*\ in\ $ ]]; then
      [[ $__gatekeep_cmd == *[\<\>]* ]] || return 0
      __gatekeep_text="$__gatekeep_cmd *) ;; esac"
    fi

    # Leaving the shell is never held back, whatever state gatekeep or its policy is in.
    [[ $__gatekeep_cmd =~ ^(exit|logout)(\ [0-9]{1,3})?$ ]] && return 0

    if ! __gatekeep_locate; then
      printf 'gatekeep: not run: gatekeep is no longer at %s nor on PATH, and this shell checks every command with it\nhint: reinstall gatekeep, or leave this shell with `exit`\n' \
        "${__gatekeep_bin:-(unknown)}" >&2
      __gatekeep_stop 127
      return 1
    fi

    "$__gatekeep_exe" check --shell="$__gatekeep_text" >/dev/null 2>&1 </dev/null
    if [[ $? == 0 ]]; then
      __gatekeep_allowed[$__gatekeep_key]=1
      return 0
    fi

    # Not allowed as is: gatekeep exec decides again, records, refuses or asks, and runs it
    # if approved. The original is skipped either way.
    BASH_ENV=/dev/fd/3 "$__gatekeep_exe" exec --shell="$__gatekeep_cmd" \
      3< <(__gatekeep_state "${__gatekeep_args[@]}")
    local __gatekeep_status=$?
    (( __gatekeep_status == 0 )) || __gatekeep_stop "$__gatekeep_status"
    return 1
  }

  # What the command would have seen here, as bash code for the child bash (read through
  # BASH_ENV, which it then forgets): variables other than bash's own, the positional
  # parameters and the options that change how words expand.
  __gatekeep_state() {
    local -a __gatekeep_names
    local __gatekeep_name
    mapfile -t __gatekeep_names < <(compgen -v)
    for __gatekeep_name in "${__gatekeep_names[@]}"; do
      case $__gatekeep_name in
        BASH* | COMP_* | HIST* | PS[0-4] | PROMPT_COMMAND | SHELLOPTS | SHLVL | EUID | UID | PPID \
          | GROUPS | FUNCNAME | LINENO | RANDOM | SRANDOM | SECONDS | EPOCHREALTIME | EPOCHSECONDS \
          | DIRSTACK | PIPESTATUS | OPTIND | OPTARG | OPTERR | READLINE_* | MAPFILE | COPROC* \
          | PWD | OLDPWD | COLUMNS | LINES | _ | __gatekeep*) ;;
        *) declare -p -- "$__gatekeep_name" 2>/dev/null ;;
      esac
    done
    printf 'set --'
    (( $# )) && printf ' %q' "$@"
    printf '\n'
    shopt -p extglob globstar nullglob failglob dotglob nocaseglob nocasematch 2>/dev/null
    shopt -p -o noglob nounset pipefail 2>/dev/null
    printf 'exec 3<&-\nunset BASH_ENV\n'
  }

  # A command did not run here, or ran elsewhere and failed. In a subshell (a pipeline stage,
  # `( )`, `$( )`) end it with that status, as the command itself would have failed; in the
  # shell, stop the rest of the command line, so that nothing runs on a status it did not get.
  __gatekeep_stop() {
    if [[ $BASHPID != "$$" ]]; then
      exit "$1"
    fi
    printf 'gatekeep: status %s: the rest of this command line was not run\n' "$1" >&2
    builtin kill -INT "$$"
  }

  # Commands typed later cannot redefine the guard.
  readonly __gatekeep_bin __gatekeep_number
  readonly -f __gatekeep_locate __gatekeep_debug __gatekeep_state __gatekeep_stop

  if __gatekeep_locate; then
    if [[ -n $(trap -p DEBUG) ]]; then
      printf 'gatekeep: replacing the DEBUG trap that was set before: %s\n' "$(trap -p DEBUG)" >&2
    fi
    shopt -s extdebug
    trap '__gatekeep_debug "$#" "$BASH_COMMAND" "$@" "$_"' DEBUG
  else
    printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' \
      "${__gatekeep_bin:-(unknown)}" >&2
  fi
fi
"##;

const ZSH_ALIASES: &str = r##"# gatekeep: zsh integration, aliases mode (from `gatekeep init zsh`).
# Load it at the end of ~/.zshrc:   eval "$(gatekeep init zsh)"
#
# Each program that the policy guards becomes a function that runs it through
# `gatekeep exec --`: allowed commands run at once (gatekeep execs the real program, so exit
# status, stdin/stdout/stderr and completion are unchanged), others wait for approval or are
# refused. `command NAME`, `\NAME` and full paths go around these functions; use
# `gatekeep init zsh --mode preexec` to check every command line instead.
typeset -g __gatekeep_bin=@GATEKEEP@

@LOCATE@

__gatekeep_run() {
  if ! __gatekeep_locate; then
    # Fail closed: this name is guarded, and nothing can decide about it now.
    print -ru2 -- "gatekeep: \`$1\` was not run: gatekeep is no longer at ${__gatekeep_bin:-(unknown)} nor on PATH, and this shell sends \`$1\` through it"
    print -ru2 -- "hint: reinstall gatekeep, or use a shell that does not load its snippet"
    return 127
  fi
  "$__gatekeep_bin" exec -- "$@"
}

if __gatekeep_locate; then
  # The names below were checked when the snippet was made; this shell's own builtins and
  # reserved words are left alone as well (a function would run a program in their place).
  () {
    emulate -L zsh
    local __gatekeep_name
    for __gatekeep_name; do
      (( $+builtins[$__gatekeep_name] || ${reswords[(Ie)$__gatekeep_name]} )) && continue
      functions[$__gatekeep_name]="__gatekeep_run ${(q)__gatekeep_name} \"\$@\""
    done
  }@PROGRAMS@
else
  print -ru2 -- "gatekeep: not found at ${__gatekeep_bin:-(unknown)} nor on PATH: this shell is NOT guarded by gatekeep"
fi
"##;

const ZSH_PREEXEC: &str = r##"# gatekeep: zsh integration, preexec mode (from `gatekeep init zsh --mode preexec`).
# Load it at the end of ~/.zshrc:   eval "$(gatekeep init zsh --mode preexec)"
#
# When Enter accepts a command line, `gatekeep check --shell` reads all of it first: every
# command in lists, pipelines and substitutions, through `\rm`, `command rm`, `env rm` and
# `/bin/rm` (zsh's `preexec` hook cannot stop a line, so this wraps the accept-line widgets).
# - allow: the line runs as typed.
# - anything else: the line is replaced by `gatekeep exec -- zsh -f -c '<line>'` and run, so
#   gatekeep refuses it or asks for approval, then runs it in a child zsh (which has this
#   shell's environment, not its unexported variables, functions or aliases).
# The check reads what zsh will run: `!` history references and aliases are expanded first.
# Commands inside functions defined in this shell are not seen (bash's preexec mode sees
# them), and `r`/`fc`, which re-run history lines past the line editor, are refused.
if [[ ! -o interactive ]]; then
  : # not interactive: nothing is typed here
elif (( ! ${+__gatekeep_preexec} )); then
  typeset -g __gatekeep_preexec=1 __gatekeep_bin=@GATEKEEP@ __gatekeep_offered=
  typeset -gi __gatekeep_rerun=0

  @LOCATE@

  # The line as gatekeep's bash reader should see it, in REPLY ($1 the line, $2 1 when
  # this shell reads `#` as a comment). zsh expands aliases only when it runs the line, and
  # read as bash some zsh words would hide what runs, so the line is rebuilt from zsh's own
  # words (`(z)`) when it uses any of these (otherwise it is left exactly as typed):
  # - aliases (command, global and suffix aliases) are expanded, as zsh will;
  # - the precommand modifiers (`noglob`, `nocorrect`, `-`) and `repeat N` would read as
  #   program names: they are dropped;
  # - with INTERACTIVE_COMMENTS off (zsh's default), `#` is an ordinary character here but
  #   starts a comment for bash: a word starting with it is escaped.
  # `__gatekeep_rerun` is set when the line runs `r` or `fc`, which re-run history lines
  # without the line editor.
  __gatekeep_text() {
    emulate -L zsh
    setopt extended_glob
    local -a __gatekeep_words __gatekeep_out
    local -A __gatekeep_seen
    local __gatekeep_word __gatekeep_prev=
    local -i __gatekeep_i=1 __gatekeep_at_command=1 __gatekeep_skip=0 __gatekeep_changed=0
    local -i __gatekeep_expansions=0
    __gatekeep_rerun=0
    __gatekeep_words=(${(z)1})
    while (( __gatekeep_i <= $#__gatekeep_words )); do
      __gatekeep_word=$__gatekeep_words[__gatekeep_i]
      # Aliases, each name once per command (`alias ls='ls -G'` expands once, as in zsh).
      if (( __gatekeep_expansions < 100 && ! $+__gatekeep_seen[$__gatekeep_word] )); then
        if (( __gatekeep_at_command && $+aliases[$__gatekeep_word] )); then
          __gatekeep_words[__gatekeep_i,__gatekeep_i]=(${(z)aliases[$__gatekeep_word]})
        elif (( $+galiases[$__gatekeep_word] )); then
          __gatekeep_words[__gatekeep_i,__gatekeep_i]=(${(z)galiases[$__gatekeep_word]})
        elif (( __gatekeep_at_command )) && [[ $__gatekeep_word == [^/]#.[^./]## ]] \
            && (( $+saliases[${__gatekeep_word##*.}] )); then
          __gatekeep_words[__gatekeep_i,__gatekeep_i]=(${(z)saliases[${__gatekeep_word##*.}]} $__gatekeep_word)
        else
          __gatekeep_word=
        fi
        if [[ -n $__gatekeep_word ]]; then
          __gatekeep_seen[$__gatekeep_word]=1
          (( __gatekeep_expansions++, __gatekeep_changed = 1 ))
          continue
        fi
        __gatekeep_word=$__gatekeep_words[__gatekeep_i]
      fi
      (( __gatekeep_i++ ))
      if (( __gatekeep_skip )); then
        __gatekeep_skip=0
        continue
      fi
      if [[ $__gatekeep_prev == fc && $__gatekeep_word != -*l* ]]; then
        __gatekeep_rerun=1
      fi
      __gatekeep_prev=
      if (( __gatekeep_at_command )); then
        case $__gatekeep_word in
          (noglob|nocorrect|-) __gatekeep_changed=1; continue ;;
          (repeat) __gatekeep_changed=1; __gatekeep_skip=1; continue ;;
          (r) __gatekeep_rerun=1 ;;
          (fc) __gatekeep_prev=fc ;;
        esac
      fi
      if [[ $2 != 1 && $__gatekeep_word == '#'* ]]; then
        __gatekeep_word="\\$__gatekeep_word"
        __gatekeep_changed=1
      fi
      __gatekeep_out+=($__gatekeep_word)
      case $__gatekeep_word in
        (';'|'&'|'|'|'&&'|'||'|'|&'|'&|'|'&!'|'('|'{'|'!'|if|then|else|elif|while|until|do|time|exec|command|builtin)
          __gatekeep_at_command=1
          __gatekeep_seen=() ;;
        (*) __gatekeep_at_command=0 ;;
      esac
    done
    [[ $__gatekeep_prev == fc ]] && __gatekeep_rerun=1
    if (( __gatekeep_changed )); then
      REPLY=${(j: :)__gatekeep_out}
    else
      REPLY=$1
    fi
  }

  # Wraps accept-line and the other widgets that run the line.
  __gatekeep_accept() {
    # zsh expands `!` history references after the widget, so expand them now: the check
    # must read what will run. This and the parse test below use this shell's own options.
    if [[ -o bang_hist && -z $PREBUFFER && $BUFFER == *'!'* ]]; then
      local __gatekeep_before
      repeat 5; do
        __gatekeep_before=$BUFFER
        zle expand-history
        [[ $BUFFER == "$__gatekeep_before" ]] && break
      done
    fi
    local __gatekeep_line=$PREBUFFER$BUFFER __gatekeep_parses=0 __gatekeep_comments=0
    [[ -o interactive_comments ]] && __gatekeep_comments=1
    unfunction __gatekeep_syntax 2>/dev/null
    functions[__gatekeep_syntax]=$__gatekeep_line 2>/dev/null
    (( $+functions[__gatekeep_syntax] )) && __gatekeep_parses=1
    unfunction __gatekeep_syntax 2>/dev/null

    emulate -L zsh
    setopt extended_glob
    local __gatekeep_orig=__gatekeep_orig_$WIDGET
    (( $+widgets[$__gatekeep_orig] )) || __gatekeep_orig=.$WIDGET
    # Blank lines, and lines zsh cannot parse yet (it asks for more) or at all (it says
    # why): nothing runs, so there is nothing to check.
    if [[ -z ${__gatekeep_line//[[:space:]]/} ]] || (( ! __gatekeep_parses )); then
      zle $__gatekeep_orig
      return
    fi
    # The line offered below after a multi-line command, unchanged: gatekeep exec decides.
    if [[ -n $__gatekeep_offered && $__gatekeep_line == "$__gatekeep_offered" ]]; then
      __gatekeep_offered=
      zle $__gatekeep_orig
      return
    fi
    # Leaving the shell is never held back, whatever state gatekeep or its policy is in.
    if [[ $__gatekeep_line == [[:space:]]#(exit|logout|bye)([[:space:]]##<->)#[[:space:]]# ]]; then
      zle $__gatekeep_orig
      return
    fi
    # The guard does not switch itself off: whatever gatekeep says about them, lines that
    # name its internals or rebind what Enter runs would leave the next lines unchecked.
    if [[ $__gatekeep_line == *__gatekeep* || $__gatekeep_line == *accept-(line|and-)* \
          || ( $__gatekeep_line == *bindkey* && $__gatekeep_line == *(\^M|\^J|-[rdDAN]|\\[rn])* ) ]]; then
      zle -I
      print -ru2 -- "gatekeep: refused: this line would switch off gatekeep in this shell"
      print -ru2 -- "hint: work without gatekeep in a shell that does not load its snippet"
      zle send-break
      return
    fi
    if ! __gatekeep_locate; then
      zle -I
      print -ru2 -- "gatekeep: not run: gatekeep is no longer at ${__gatekeep_bin:-(unknown)} nor on PATH, and this shell checks every command line with it"
      print -ru2 -- "hint: reinstall gatekeep, or leave this shell with \`exit\`"
      zle send-break
      return
    fi
    __gatekeep_text $__gatekeep_line $__gatekeep_comments
    local __gatekeep_checked=$REPLY
    if (( __gatekeep_rerun )); then
      zle -I
      print -ru2 -- "gatekeep: refused: \`r\` and \`fc\` re-run history lines that this shell cannot check; type the command instead"
      zle send-break
      return
    fi
    "$__gatekeep_bin" check --shell=$__gatekeep_checked </dev/null >/dev/null 2>&1
    if (( $? == 0 )); then
      zle $__gatekeep_orig
      return
    fi
    local __gatekeep_exec="${(q)__gatekeep_bin} exec -- ${(q)${commands[zsh]:-zsh}} -f -c ${(qq)__gatekeep_checked}"
    if [[ -n $PREBUFFER ]]; then
      # zsh has already read the first lines of this command and cannot take them back:
      # offer the whole command in gatekeep's form at a fresh prompt instead.
      zle -I
      print -ru2 -- "gatekeep: not run as typed: press Enter to run it through gatekeep"
      __gatekeep_offered=$__gatekeep_exec
      print -rz -- $__gatekeep_exec
      zle send-break
      return
    fi
    BUFFER=$__gatekeep_exec
    zle $__gatekeep_orig
  }

  if __gatekeep_locate; then
    () {
      local __gatekeep_widget
      for __gatekeep_widget in accept-line accept-and-hold accept-line-and-down-history \
          accept-and-infer-next-history; do
        # Keep a widget that another plugin put there, and call it after the check.
        [[ $widgets[$__gatekeep_widget] == user:* ]] &&
          zle -A $__gatekeep_widget __gatekeep_orig_$__gatekeep_widget
        zle -N $__gatekeep_widget __gatekeep_accept
      done
    }
  else
    print -ru2 -- "gatekeep: not found at ${__gatekeep_bin:-(unknown)} nor on PATH: this shell is NOT guarded by gatekeep"
  fi
fi
"##;

const FISH_ALIASES: &str = r##"# gatekeep: fish integration, aliases mode (from `gatekeep init fish`).
# Load it from ~/.config/fish/config.fish:   gatekeep init fish | source
#
# Each program that the policy guards becomes a function that runs it through
# `gatekeep exec --`: allowed commands run at once (gatekeep execs the real program, so exit
# status, stdin/stdout/stderr and completion are unchanged), others wait for approval or are
# refused. `command NAME` and full paths go around these functions; use
# `gatekeep init fish --mode preexec` to check every command line instead. fish runs
# functions in the foreground: `NAME ... &` waits for NAME (`command NAME ... &` does not).
set -g __gatekeep_bin @GATEKEEP@

@LOCATE@

function __gatekeep_run
    if not __gatekeep_locate
        # Fail closed: this name is guarded, and nothing can decide about it now.
        printf 'gatekeep: `%s` was not run: gatekeep is no longer at %s nor on PATH, and this shell sends `%s` through it\nhint: reinstall gatekeep, or use a shell that does not load its snippet\n' \
            $argv[1] "$__gatekeep_bin" $argv[1] >&2
        return 127
    end
    $__gatekeep_bin exec -- $argv
end

# Defined at the first prompt, after fish's own start-up: fish runs a function in the
# foreground even after `&`, and its first start runs `python3 ... &` to build completions.
# The names below were checked when the snippet was made; this shell's own builtins are left
# alone as well (a function would run a program in their place).
function __gatekeep_define --on-event fish_prompt
    functions -e __gatekeep_define
    set -l __gatekeep_builtins (builtin -n)
    for __gatekeep_name in@PROGRAMS@
        contains -- $__gatekeep_name $__gatekeep_builtins; and continue
        function $__gatekeep_name --inherit-variable __gatekeep_name --description "$__gatekeep_name, through gatekeep exec"
            __gatekeep_run $__gatekeep_name $argv
        end
    end
end

if not __gatekeep_locate
    functions -e __gatekeep_define
    printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' "$__gatekeep_bin" >&2
end
"##;

const FISH_PREEXEC: &str = r##"# gatekeep: fish integration, preexec mode (from `gatekeep init fish --mode preexec`).
# Load it from ~/.config/fish/config.fish:   gatekeep init fish --mode preexec | source
#
# Enter runs a function that has `gatekeep check --shell` read the whole command line first:
# every command in lists, pipelines and substitutions, through `command rm`, `env rm` and
# `/bin/rm` (fish's `fish_preexec` event cannot stop a line, so this binds Enter).
# - allow: the line runs as typed.
# - anything else: the line is replaced by `gatekeep exec -- fish -N -c '<line>'` and run,
#   so gatekeep refuses it or asks for approval, then runs it in a child fish (which has
#   this shell's exported variables, not its other variables or functions).
# gatekeep reads command lines as bash does, so the line is checked as text that fish reads
# the same way: `(...)` as `$(...)`, and `and`, `or`, `not` as `&&`, `||`, `!`. fish blocks
# (`if ... end`, `for ... end`) are not bash: gatekeep cannot read them, so they need
# approval. An abbreviation under the cursor, which fish would expand only as the line runs,
# is expanded and shown first; Enter again checks what it became. Commands inside functions
# defined in this shell are not seen (bash's preexec mode sees them).
set -l __gatekeep_version (string split . -- $version)
if not status is-interactive; or set -q __gatekeep_preexec
    # not interactive (nothing is typed here), or loaded already
else if not test "$__gatekeep_version[1]" -gt 3 -o \( "$__gatekeep_version[1]" -eq 3 -a "$__gatekeep_version[2]" -ge 4 \) 2>/dev/null
    printf 'gatekeep: preexec mode needs fish 3.4 or later, and this is %s: this shell is NOT guarded\nhint: `gatekeep init fish` (aliases mode) works here\n' $version >&2
else
    set -g __gatekeep_preexec 1
    set -g __gatekeep_bin @GATEKEEP@
    set -g __gatekeep_expanded

    @LOCATE@

    # The line as text that fish reads the same way and gatekeep's bash reader can read:
    # outside quotes, `(cmd)` becomes `$(cmd)`, and `and`, `or`, `not` starting a command
    # become `&&`, `||`, `!` (read as program names, they would hide the command after
    # them); in single quotes, `\'` becomes `'\''`. Quoted text is otherwise left alone.
    function __gatekeep_text
        # Newlines (as \x1e) out of the way while the line is cut into quoted and plain pieces.
        set -l text (string replace -a -- \n \x1e $argv[1])
        set -l out
        set -l first 1
        for piece in (string match -ra -- '\'(?:[^\'\\\\]|\\\\.)*\'|"(?:[^"\\\\]|\\\\.)*"|\\\\.|[^\'"\\\\]+|.' $text)
            set -l lead (string sub -l 1 -- $piece)
            if test "$lead" = "'"
                set piece (string replace -a -- "\\'" "'\\''" $piece)
            else if test "$lead" != '"' -a "$lead" != \\
                set piece (string replace -ra -- '(?<!\$)\(' '\$(' $piece)
                set piece (string replace -ra -- '[;\x1e][ \t]*and[ \t]+' ' && ' $piece)
                set piece (string replace -ra -- '[;\x1e][ \t]*or[ \t]+' ' || ' $piece)
                set piece (string replace -ra -- '([;|&(\x1e]|\bif|\bwhile)([ \t]*)not[ \t]+' '$1$2! ' $piece)
                if test $first = 1
                    set piece (string replace -r -- '^[ \t]*(and|or)[ \t]+' '' $piece)
                    set piece (string replace -r -- '^([ \t]*)not[ \t]+' '$1! ' $piece)
                end
            end
            set first 0
            set -a out $piece
        end
        string join '' -- $out | string replace -a -- \x1e \n
    end

    # Whether fish could expand the token under the cursor as an abbreviation when it runs
    # the line (after the check): one of that name, or a `--regex` one that matches it.
    function __gatekeep_abbr_at_cursor
        set -l token (commandline -t)
        test -n "$token"; or return 1
        abbr --query -- $token; and return 0
        for definition in (abbr --show | string match -- '* --regex *')
            # `abbr --show` prints fish code; read back its arguments.
            set -l args (eval (string replace -r -- '^abbr ' '__gatekeep_args ' $definition) | string split0)
            set -l regex (contains -i -- --regex $args); or continue
            set regex (math $regex + 1)
            string match -qr -- "^(?:$args[$regex])\$" $token; and return 0
        end
        return 1
    end

    function __gatekeep_args
        printf '%s\0' $argv
    end

    function __gatekeep_execute --description 'gatekeep: check the command line, then run it'
        # In the pager (completions, history search) Enter takes the selection.
        if commandline --paging-mode; or commandline --search-mode
            commandline -f execute
            return
        end
        set -l line (commandline | string collect)
        set -l trimmed (string trim -- $line)
        # A blank, incomplete or invalid line does not run: fish adds a line or says why.
        if test -z "$trimmed"; or not commandline --is-valid
            commandline -f execute
            return
        end
        # fish expands an abbreviation under the cursor only as it runs the line, after this
        # function: expand it now and show it (Enter again checks and runs what it became).
        if test "$line" != "$__gatekeep_expanded"; and __gatekeep_abbr_at_cursor
            set -g __gatekeep_expanded $line
            commandline -f expand-abbr
            return
        end
        set -g __gatekeep_expanded
        # Leaving the shell is never held back, whatever state gatekeep or its policy is in.
        if string match -qr '^(exit|logout)(\s+\d+)?$' -- $trimmed
            commandline -f execute
            return
        end
        # The guard does not switch itself off: whatever gatekeep says about them, lines that
        # name its internals or rebind Enter would leave the next lines unchecked.
        if string match -q -- '*__gatekeep*' $line
            or begin
                string match -qr -- '\bbind\b' $line
                and string match -qr -- '\\\\[rn]|\\\\c[mj]|execute|--erase|\s-[a-zA-Z]*e' $line
            end
            printf '\ngatekeep: refused: this line would switch off gatekeep in this shell\nhint: work without gatekeep in a shell that does not load its snippet\n' >&2
            commandline -r ''
            commandline -f execute
            return
        end
        if not __gatekeep_locate
            printf '\ngatekeep: not run: gatekeep is no longer at %s nor on PATH, and this shell checks every command line with it\nhint: reinstall gatekeep, or leave this shell with `exit`\n' "$__gatekeep_bin" >&2
            # An empty line in its place: a fresh prompt, and nothing runs.
            commandline -r ''
            commandline -f execute
            return
        end
        set -l text (__gatekeep_text $line | string collect)
        $__gatekeep_bin check --shell=$text </dev/null >/dev/null 2>&1
        if test $status -eq 0
            commandline -f execute
            return
        end
        commandline -r -- (string join ' ' -- (string escape -- $__gatekeep_bin) exec -- \
            (string escape -- (status fish-path)) -N -c (string escape -- $text))
        commandline -f execute
    end

    if __gatekeep_locate
        for mode in default insert
            bind -M $mode \r __gatekeep_execute
            bind -M $mode \n __gatekeep_execute
        end
    else
        printf 'gatekeep: not found at %s nor on PATH: this shell is NOT guarded by gatekeep\n' "$__gatekeep_bin" >&2
    end
end
"##;

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
