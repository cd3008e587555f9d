//! Unwrapping: what a command runs in turn.
//!
//! A wrapper (`sudo`, `env`, `timeout`, `xargs`, `find -exec`, `ssh host cmd`, `docker exec`,
//! ...) runs another command; a shell with `-c` runs a string; an interpreter with `-c`/`-e`
//! runs code gatekeep cannot read. [`steps`] says, for one invocation, what else runs. The
//! wrapper itself stays in the script too, so that it keeps its own risk (`sudo` is a
//! privilege escalation whatever it runs).
//!
//! Options are read the way each wrapper reads them: an option that takes a value consumes
//! it (`sudo -u root`, `nice -n 10`, `timeout -s KILL 5`). When a wrapper meets an option it
//! does not know, it might have taken a value; the word after the assumed command start is
//! then also read as a command (an alternative reading), so an unknown option can never hide
//! the command behind it.

mod args;
mod config;
mod files;
mod interpreters;
mod privilege;
mod readers;
mod runners;
pub mod scripts;
mod tools;

use self::args::{run, skip_word, wrap};
use self::interpreters::{awk, interpreter, shell};
use self::privilege::{env, runuser, sg, su, sudo};
use self::runners::{
    alias, at, command, entr, fd, find, flock, gatekeep, option_script, parallel, tmux, trap,
    watch, xargs,
};
use self::tools::{compose, docker, gcloud, git, ip, kubectl, nix, npx, run_subcommand, ssh};
pub use files::downloaded_files;
pub use interpreters::{SHELLS, runs_script_files};

use super::{Invocation, Word};

/// Something an invocation runs besides itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Runs this argv (with these extra environment assignments).
    Run {
        argv: Vec<Word>,
        via: String,
        assignments: Vec<(String, Word)>,
    },
    /// Runs this text as a shell script.
    Script { text: Word, via: String },
    /// Reads code from standard input: a shell (`shell`, readable when the text is known) or
    /// another interpreter (never readable).
    StdinScript { reader: String, shell: bool },
    /// Runs code that cannot be read statically.
    Unreadable { why: String },
}

/// Environment variables whose value is a command that a program runs.
const COMMAND_VARS: &[&str] = &[
    "GIT_SSH_COMMAND",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MANPAGER",
    "PROMPT_COMMAND",
    "BROWSER",
    "SUDO_ASKPASS",
    "LESSOPEN",
    "LESSCLOSE",
    "RSYNC_RSH",
    "CVS_RSH",
];

/// Environment variables that make programs load code gatekeep cannot see.
const CODE_LOADING_VARS: &[&str] = &[
    "LD_PRELOAD",
    "LD_AUDIT",
    "DYLD_INSERT_LIBRARIES",
    "BASH_ENV",
    "ENV",
    "PYTHONSTARTUP",
    "PERL5OPT",
    "NODE_OPTIONS",
    "RUBYOPT",
    "PYTHONINSPECT",
    "ZDOTDIR",
    "PS4",
];

/// What is run by `assignments` alone, or by the programs they are given to.
pub fn assignment_steps(assignments: &[(String, Word)]) -> Vec<Step> {
    let mut steps = Vec::new();
    for (name, value) in assignments {
        if COMMAND_VARS.contains(&name.as_str()) {
            steps.push(Step::Script {
                text: value.clone(),
                via: format!("{name}="),
            });
        } else if CODE_LOADING_VARS.contains(&name.as_str()) {
            steps.push(Step::Unreadable {
                why: format!("`{name}` makes programs load code that gatekeep cannot read"),
            });
        }
    }
    steps
}

/// A program that runs the rest of its command line after its own options: the options
/// that take a value (so that value is not read as the command), and how many plain words
/// come before the command (`timeout 5 CMD`, `chroot DIR CMD`).
struct Wrapper {
    names: &'static [&'static str],
    value_opts: &'static [&'static str],
    positionals: usize,
}

/// The plain wrappers; those with their own reading (`sudo`, `env`, `xargs`, `find`, `ssh`,
/// `docker`, interpreters...) are dispatched in [`steps`].
const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        names: &["nice"],
        value_opts: &["-n", "--adjustment"],
        positionals: 0,
    },
    Wrapper {
        names: &["ionice"],
        value_opts: &["-c", "--class", "-n", "--classdata", "-p", "-P", "-u"],
        positionals: 0,
    },
    Wrapper {
        names: &["timeout"],
        value_opts: &["-s", "--signal", "-k", "--kill-after"],
        positionals: 1,
    },
    Wrapper {
        names: &[
            "nohup",
            "setsid",
            "unbuffer",
            "fakeroot",
            "torsocks",
            "catchsegv",
            "sudo-rs",
            "tsocks",
            "firejail",
            "valgrind",
            "command-not-found",
            "caffeinate",
        ],
        value_opts: &["-w", "-t", "--config-file", "--dbus-daemon"],
        positionals: 0,
    },
    Wrapper {
        names: &["dbus-run-session"],
        value_opts: &["--config-file", "--dbus-daemon"],
        positionals: 0,
    },
    Wrapper {
        names: &["time"],
        value_opts: &["-f", "--format", "-o", "--output"],
        positionals: 0,
    },
    Wrapper {
        names: &["stdbuf"],
        value_opts: &["-i", "-o", "-e", "--input", "--output", "--error"],
        positionals: 0,
    },
    Wrapper {
        names: &["chrt"],
        value_opts: &[],
        positionals: 1,
    },
    Wrapper {
        names: &["taskset"],
        value_opts: &[],
        positionals: 1,
    },
    Wrapper {
        names: &["numactl"],
        value_opts: &[
            "-C",
            "-N",
            "-m",
            "-p",
            "-i",
            "--physcpubind",
            "--cpunodebind",
            "--membind",
            "--preferred",
            "--interleave",
        ],
        positionals: 0,
    },
    Wrapper {
        names: &["cgexec"],
        value_opts: &["-g"],
        positionals: 0,
    },
    Wrapper {
        names: &["proxychains", "proxychains4"],
        value_opts: &["-f"],
        positionals: 0,
    },
    Wrapper {
        names: &["xvfb-run"],
        value_opts: &[
            "-n",
            "-s",
            "-f",
            "-e",
            "-p",
            "-w",
            "--server-args",
            "--server-num",
        ],
        positionals: 0,
    },
    Wrapper {
        names: &["strace", "ltrace"],
        value_opts: &[
            "-e", "-o", "-p", "-s", "-u", "-P", "-I", "-b", "-a", "-E", "-X", "-O", "-S", "-n",
            "-A", "-D", "-F", "-l", "-w",
        ],
        positionals: 0,
    },
    Wrapper {
        names: &["chroot"],
        value_opts: &["--userspec", "--groups"],
        positionals: 1,
    },
    Wrapper {
        names: &["builtin", "busybox", "toybox"],
        value_opts: &[],
        positionals: 0,
    },
    Wrapper {
        names: &["exec"],
        value_opts: &["-a"],
        positionals: 0,
    },
    Wrapper {
        names: &["systemd-run"],
        value_opts: &[
            "-u",
            "--unit",
            "-p",
            "--property",
            "-M",
            "--machine",
            "--description",
            "--slice",
            "-E",
            "--setenv",
            "--uid",
            "--gid",
            "--working-directory",
            "-H",
            "--host",
        ],
        positionals: 0,
    },
    Wrapper {
        names: &["nocache"],
        value_opts: &["-n"],
        positionals: 0,
    },
    // zsh's precommand modifiers and fish's `and`/`or`/`not` run the rest of the line.
    // In bash they are not commands at all, so reading through them only adds checks.
    Wrapper {
        names: &["noglob", "nocorrect", "and", "or", "not"],
        value_opts: &[],
        positionals: 0,
    },
    Wrapper {
        names: &["repeat"],
        value_opts: &[],
        positionals: 1,
    },
    // nsenter's -r and -w take only attached values; unshare's -R and -w take the next word.
    Wrapper {
        names: &["nsenter"],
        value_opts: &["-t", "--target", "-S", "--setuid", "-G", "--setgid", "-N"],
        positionals: 0,
    },
    Wrapper {
        names: &["unshare"],
        value_opts: &[
            "-S",
            "--setuid",
            "-G",
            "--setgid",
            "-R",
            "--root",
            "-w",
            "--wd",
            "--propagation",
            "--setgroups",
            "--map-user",
            "--map-group",
            "--map-users",
            "--map-groups",
        ],
        positionals: 0,
    },
    Wrapper {
        names: &["sshpass"],
        value_opts: &["-p", "-f", "-d", "-P"],
        positionals: 0,
    },
    Wrapper {
        names: &["rlwrap"],
        value_opts: &[
            "-a", "-b", "-f", "-H", "-l", "-p", "-P", "-q", "-s", "-S", "-t", "-w", "-z", "-C",
            "-D", "-g", "-m", "-o", "-M", "-e", "-O",
        ],
        positionals: 0,
    },
    Wrapper {
        names: &["screen"],
        value_opts: &["-S", "-c", "-e", "-p", "-T", "-t", "-h", "-s", "-X"],
        positionals: 0,
    },
];

/// Everything `inv` runs besides itself. `fresh` are the assignments made at this level
/// (the rest were inherited from a wrapper and already followed there).
pub fn steps(inv: &Invocation, fresh: &[(String, Word)]) -> Vec<Step> {
    let mut steps = assignment_steps(fresh);
    let Some(program) = inv.program() else {
        return steps;
    };
    // `bash.exe -c`, `C:\…\env.exe`: Windows spellings of the same wrappers.
    let key = super::program::key(program);
    let program: &str = &key;
    let args = &inv.argv[1..];
    let name = program.to_owned();
    steps.extend(match program {
        "sudo" | "doas" | "pkexec" | "run0" | "please" => sudo(args, &name),
        "sudoedit" => Vec::new(),
        "su" => su(args),
        "runuser" => runuser(args),
        "sg" => sg(args),
        "env" => env(args),
        "flock" => flock(args),
        "command" => command(args),
        "xargs" => xargs(args),
        "find" => find(args),
        "fd" | "fdfind" => fd(args),
        "parallel" => parallel(args),
        "watch" => watch(args),
        "ssh" => ssh(args),
        "kubectl" | "oc" => kubectl(args),
        "docker" | "podman" | "nerdctl" => docker(args, &name),
        "docker-compose" | "podman-compose" => compose(args, &name),
        "ip" => ip(args),
        "entr" => entr(args),
        "direnv" => match args.first().and_then(Word::literal) {
            // `direnv exec DIR CMD...`
            Some("exec") if args.len() > 2 => vec![run(&args[2..], "direnv exec")],
            _ => Vec::new(),
        },
        "dotenv" | "dotenvx" | "env-cmd" => {
            match args.iter().position(|w| w.literal() == Some("--")) {
                Some(i) if i + 1 < args.len() => vec![run(&args[i + 1..], &name)],
                _ => wrap(
                    skip_word(args, "run"),
                    &["-e", "-f", "--env-file", "-c", "-v"],
                    0,
                    &name,
                ),
            }
        }
        "lxc" | "incus" => kubectl(args),
        "gdb" | "lldb" => match args
            .iter()
            .position(|w| matches!(w.literal(), Some("--args" | "--")))
        {
            Some(i) if i + 1 < args.len() => vec![run(&args[i + 1..], &format!("{name} --args"))],
            _ => Vec::new(),
        },
        "gcloud" => gcloud(args),
        "script" => option_script(args, &["-c", "--command"], &name),
        "nix-shell" => option_script(args, &["--run", "--command"], &name),
        "nix" => nix(args),
        "tmux" => tmux(args),
        "at" | "batch" => at(args, &name),
        "trap" => trap(args),
        "alias" => alias(args),
        "eval" => vec![Step::Unreadable {
            why: "eval runs text as code at run time; gatekeep does not treat it as readable"
                .into(),
        }],
        "source" | "." => vec![Step::Unreadable {
            why: format!(
                "`{name}` runs the commands in the file `{}`, which gatekeep does not read",
                args.first().map_or("", |w| w.display())
            ),
        }],
        "git" => {
            let mut steps = git(args);
            steps.extend(config::git(args, &inv.assignments));
            steps
        }
        "sqlite3" => config::sqlite(args, &inv.stdin),
        "psql" | "pgcli" => config::psql(args, &inv.stdin),
        "npx" | "bunx" | "pnpx" => npx(args, &name),
        "npm" => match args.first().and_then(Word::literal) {
            Some("exec" | "x") => npx(&args[1..], "npm exec"),
            _ => Vec::new(),
        },
        "uvx" | "pipx" => wrap(
            skip_word(args, "run"),
            &["--from", "--with", "-p", "--python", "--spec"],
            0,
            &name,
        ),
        "uv" | "poetry" | "pipenv" | "pdm" | "hatch" | "rye" => run_subcommand(
            args,
            &["run"],
            &[
                "--with",
                "--python",
                "-p",
                "--package",
                "--extra",
                "--group",
                "--env-file",
                "-e",
                "--env",
            ],
            &name,
        ),
        "bundle" | "bundler" => run_subcommand(args, &["exec"], &[], &name),
        "pnpm" | "yarn" => run_subcommand(args, &["dlx", "exec"], &["-p", "--package"], &name),
        "conda" | "mamba" | "micromamba" => {
            run_subcommand(args, &["run"], &["-n", "--name", "-p", "--prefix"], &name)
        }
        "gatekeep" => gatekeep(args),
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => {
            match readers::program_file(args, &["-f", "--file"], &name) {
                Some(step) => vec![step],
                None => awk(args, &name),
            }
        }
        "sed" | "gsed" => readers::program_file(args, &["-f", "--file"], &name)
            .into_iter()
            .collect(),
        "make" | "gmake" | "bmake" => readers::make(args, &name),
        _ if let Some(w) = WRAPPERS.iter().find(|w| w.names.contains(&program)) => {
            wrap(args, w.value_opts, w.positionals, &name)
        }
        _ if SHELLS.contains(&program) => shell(args, &name),
        _ => interpreter(args, &name),
    });
    steps
}

#[cfg(test)]
mod tests {
    use super::args::skip_options;
    use super::*;

    fn words(s: &[&str]) -> Vec<Word> {
        s.iter().map(|w| Word::Literal((*w).to_owned())).collect()
    }

    #[test]
    fn skips_options_with_values() {
        assert_eq!(skip_options(&words(&["-u", "root", "rm"]), &["-u"]).0, 2);
        assert_eq!(skip_options(&words(&["-uroot", "rm"]), &["-u"]).0, 1);
        assert_eq!(
            skip_options(&words(&["--user=root", "rm"]), &["--user"]).0,
            1
        );
        assert_eq!(
            skip_options(&words(&["--user", "root", "rm"]), &["--user"]).0,
            2
        );
        assert_eq!(skip_options(&words(&["-E", "rm"]), &["-u"]), (1, true));
        assert_eq!(skip_options(&words(&["--", "-rm"]), &[]).0, 1);
    }

    #[test]
    fn interpreters_without_code_read_stdin() {
        assert_eq!(interpreter(&words(&["-"]), "python3").len(), 1);
        assert!(interpreter(&words(&["script.py"]), "python3").is_empty());
        assert!(interpreter(&words(&["-m", "pytest"]), "python3.11").is_empty());
        assert!(matches!(
            interpreter(&words(&["-ne", "print"]), "perl")[0],
            Step::Unreadable { .. }
        ));
        assert!(matches!(
            interpreter(&words(&["-u", "-c", "x"]), "python3")[0],
            Step::Unreadable { .. }
        ));
        assert!(interpreter(&words(&["-W", "ignore", "x.py"]), "python3").is_empty());
    }
}
