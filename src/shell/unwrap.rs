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

/// Shells that run a string given with `-c`.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "ksh93", "mksh", "pdksh", "ash", "yash", "posh", "fish",
    "tcsh", "csh", "rbash", "elvish", "nu", "xonsh", "oksh", "loksh",
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

/// Everything `inv` runs besides itself. `fresh` are the assignments made at this level
/// (the rest were inherited from a wrapper and already followed there).
pub fn steps(inv: &Invocation, fresh: &[(String, Word)]) -> Vec<Step> {
    let mut steps = assignment_steps(fresh);
    let Some(program) = inv.program() else {
        return steps;
    };
    let args = &inv.argv[1..];
    let name = program.to_owned();
    steps.extend(match program {
        "sudo" | "doas" | "pkexec" | "run0" | "please" => sudo(args, &name),
        "sudoedit" => Vec::new(),
        "su" => su(args),
        "runuser" => runuser(args),
        "sg" => sg(args),
        "env" => env(args),
        "nice" => wrap(args, &["-n", "--adjustment"], 0, &name),
        "ionice" => wrap(
            args,
            &["-c", "--class", "-n", "--classdata", "-p", "-P", "-u"],
            0,
            &name,
        ),
        "timeout" => wrap(args, &["-s", "--signal", "-k", "--kill-after"], 1, &name),
        "nohup" | "setsid" | "unbuffer" | "fakeroot" | "torsocks" | "catchsegv" | "sudo-rs"
        | "tsocks" | "firejail" | "valgrind" | "command-not-found" | "caffeinate" => wrap(
            args,
            &["-w", "-t", "--config-file", "--dbus-daemon"],
            0,
            &name,
        ),
        "dbus-run-session" => wrap(args, &["--config-file", "--dbus-daemon"], 0, &name),
        "time" => wrap(args, &["-f", "--format", "-o", "--output"], 0, &name),
        "stdbuf" => wrap(
            args,
            &["-i", "-o", "-e", "--input", "--output", "--error"],
            0,
            &name,
        ),
        "chrt" => wrap(args, &[], 1, &name),
        "taskset" => wrap(args, &[], 1, &name),
        "numactl" => wrap(
            args,
            &[
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
            0,
            &name,
        ),
        "cgexec" => wrap(args, &["-g"], 0, &name),
        "proxychains" | "proxychains4" => wrap(args, &["-f"], 0, &name),
        "xvfb-run" => wrap(
            args,
            &[
                "-n",
                "-s",
                "-f",
                "-e",
                "-p",
                "-w",
                "--server-args",
                "--server-num",
            ],
            0,
            &name,
        ),
        "strace" | "ltrace" => wrap(
            args,
            &[
                "-e", "-o", "-p", "-s", "-u", "-P", "-I", "-b", "-a", "-E", "-X", "-O", "-S", "-n",
                "-A", "-D", "-F", "-l", "-w",
            ],
            0,
            &name,
        ),
        "chroot" => wrap(args, &["--userspec", "--groups"], 1, &name),
        "flock" => flock(args),
        "command" => command(args),
        "builtin" | "busybox" | "toybox" => wrap(args, &[], 0, &name),
        "exec" => wrap(args, &["-a"], 0, &name),
        "xargs" => xargs(args),
        "find" => find(args),
        "fd" | "fdfind" => fd(args),
        "parallel" => parallel(args),
        "watch" => watch(args),
        "ssh" => ssh(args),
        "kubectl" | "oc" => kubectl(args),
        "docker" | "podman" | "nerdctl" => docker(args, &name),
        "docker-compose" | "podman-compose" => compose(args, &name),
        "systemd-run" => wrap(
            args,
            &[
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
            0,
            &name,
        ),
        "ip" => ip(args),
        "nocache" => wrap(args, &["-n"], 0, &name),
        // zsh's precommand modifiers and fish's `and`/`or`/`not` run the rest of the line.
        // In bash they are not commands at all, so reading through them only adds checks.
        "noglob" | "nocorrect" | "and" | "or" | "not" => wrap(args, &[], 0, &name),
        "repeat" => wrap(args, &[], 1, &name),
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
        // nsenter's -r and -w take only attached values; unshare's -R and -w take the next word.
        "nsenter" => wrap(
            args,
            &["-t", "--target", "-S", "--setuid", "-G", "--setgid", "-N"],
            0,
            &name,
        ),
        "unshare" => wrap(
            args,
            &[
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
            0,
            &name,
        ),
        "sshpass" => wrap(args, &["-p", "-f", "-d", "-P"], 0, &name),
        "rlwrap" => wrap(
            args,
            &[
                "-a", "-b", "-f", "-H", "-l", "-p", "-P", "-q", "-s", "-S", "-t", "-w", "-z", "-C",
                "-D", "-g", "-m", "-o", "-M", "-e", "-O",
            ],
            0,
            &name,
        ),
        "gcloud" => gcloud(args),
        "script" => option_script(args, &["-c", "--command"], &name),
        "nix-shell" => option_script(args, &["--run", "--command"], &name),
        "nix" => nix(args),
        "tmux" => tmux(args),
        "screen" => wrap(
            args,
            &["-S", "-c", "-e", "-p", "-T", "-t", "-h", "-s", "-X"],
            0,
            &name,
        ),
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
        "git" => git(args),
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
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => awk(args, &name),
        _ if SHELLS.contains(&program) => shell(args, &name),
        _ => interpreter(args, &name),
    });
    steps
}

/// Files a download tool saves: `curl -o F`/`--output F`, `curl -O URL` (the URL's last
/// part), `wget -O F`/`--output-document=F`, `wget URL`.
pub fn downloaded_files(inv: &Invocation) -> Vec<String> {
    let Some(program) = inv.program() else {
        return Vec::new();
    };
    let args = &inv.argv[1..];
    let url_name = |w: &Word| {
        w.literal()
            .filter(|s| s.contains("://"))
            .and_then(|s| s.split(['?', '#']).next())
            .and_then(|s| s.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let named =
        |names: &[&str]| option_value(args, names).and_then(|w| w.literal().map(str::to_owned));
    match program {
        "curl" => {
            let mut files: Vec<String> = named(&["-o", "--output"]).into_iter().collect();
            let remote_name = args.iter().any(|a| {
                a.literal().is_some_and(|s| {
                    s == "--remote-name"
                        || s == "--remote-name-all"
                        || (s.starts_with('-') && !s.starts_with("--") && s.contains('O'))
                })
            });
            if remote_name {
                files.extend(args.iter().filter_map(url_name));
            }
            files
        }
        "wget" | "aria2c" | "fetch" => match named(&["-O", "--output-document", "-o", "--out"]) {
            Some(file) => vec![file],
            None => args.iter().filter_map(url_name).collect(),
        },
        "scp" | "rsync" => args
            .last()
            .and_then(Word::literal)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `program` runs script files named in its arguments (shells, interpreters,
/// `source`), so that running a file written earlier in the line is unreadable.
pub fn runs_script_files(program: &str) -> bool {
    SHELLS.contains(&program)
        || matches!(
            program,
            "source"
                | "."
                | "exec"
                | "command"
                | "nohup"
                | "sudo"
                | "env"
                | "timeout"
                | "nice"
                | "chmod"
        )
        || INTERPRETERS
            .iter()
            .any(|i| i.names.contains(&program) || i.names.contains(&unversioned(program)))
}

/// Reads leading options: returns the index of the first operand and whether an option that
/// gatekeep does not know came right before it.
fn skip_options(args: &[Word], value_opts: &[&str]) -> (usize, bool) {
    let mut i = 0;
    let mut unknown = false;
    while i < args.len() {
        let Some(arg) = args[i].literal() else {
            return (i, false);
        };
        if arg == "--" {
            return (i + 1, false);
        }
        if arg == "-" || !arg.starts_with('-') {
            return (i, unknown);
        }
        if let Some(long) = arg.strip_prefix("--") {
            let name = format!("--{}", long.split('=').next().unwrap_or(long));
            if !long.contains('=') && value_opts.contains(&name.as_str()) {
                i += 2;
                unknown = false;
                continue;
            }
            unknown = !value_opts.contains(&name.as_str()) && !long.contains('=');
            i += 1;
            continue;
        }
        // A cluster of short options: `-iu root`, `-uroot`, `-n10`.
        let mut consumed_next = false;
        unknown = false;
        for (pos, c) in arg[1..].char_indices() {
            if value_opts.contains(&format!("-{c}").as_str()) {
                if arg.len() == pos + 2 {
                    consumed_next = true;
                }
                unknown = false;
                break;
            }
            unknown = true;
        }
        i += if consumed_next { 2 } else { 1 };
    }
    (i.min(args.len()), unknown)
}

/// The value of the first occurrence of option `names` (`-c X`, `-cX`, `--command=X`).
fn option_value(args: &[Word], names: &[&str]) -> Option<Word> {
    for (i, arg) in args.iter().enumerate() {
        let Some(s) = arg.literal() else { continue };
        if s == "--" {
            break;
        }
        for name in names {
            // `-c X`, or a cluster of short options ending in it (`curl -fsSLo X`).
            let short_cluster_end = name.len() == 2
                && !s.starts_with("--")
                && s.len() > 2
                && s.starts_with('-')
                && s.ends_with(&name[1..]);
            if s == *name || short_cluster_end {
                return args.get(i + 1).cloned();
            }
            if let Some(rest) = s.strip_prefix(name) {
                if name.starts_with("--") {
                    if let Some(v) = rest.strip_prefix('=') {
                        return Some(Word::Literal(v.to_owned()));
                    }
                } else if !rest.is_empty() && name.len() == 2 {
                    return Some(Word::Literal(rest.to_owned()));
                }
            }
        }
    }
    None
}

/// A wrapper whose command follows its options and `positionals` operands of its own.
fn wrap(args: &[Word], value_opts: &[&str], positionals: usize, via: &str) -> Vec<Step> {
    let (start, unknown) = skip_options(args, value_opts);
    let start = start + positionals;
    let mut steps = Vec::new();
    if start < args.len() {
        steps.push(run(&args[start..], via));
        // An unknown option may have taken the word we read as the command.
        if unknown && start + 1 < args.len() {
            steps.push(run(
                &args[start + 1..],
                &format!("{via} (alternative reading)"),
            ));
        }
    }
    steps
}

fn run(argv: &[Word], via: &str) -> Step {
    Step::Run {
        argv: argv.to_vec(),
        via: via.to_owned(),
        assignments: Vec::new(),
    }
}

fn skip_word<'a>(args: &'a [Word], word: &str) -> &'a [Word] {
    match args.first().and_then(Word::literal) {
        Some(w) if w == word => &args[1..],
        _ => args,
    }
}

/// Quotes literal words back into one shell string (for `ssh host cmd`, `watch cmd`).
fn join_as_script(args: &[Word]) -> Word {
    let mut text = String::new();
    for (i, arg) in args.iter().enumerate() {
        let Some(s) = arg.literal() else {
            return Word::dynamic(
                arg.display(),
                "an argument of the command is only known at run time",
            );
        };
        if i > 0 {
            text.push(' ');
        }
        // Remote shells and `watch` join their arguments with spaces and parse the result:
        // words are passed as they are, not re-quoted.
        text.push_str(s);
    }
    Word::Literal(text)
}

/// sudo's options that take a value.
const SUDO_VALUE_OPTIONS: &[&str] = &[
    "-u",
    "--user",
    "-g",
    "--group",
    "-C",
    "--close-from",
    "-D",
    "--chdir",
    "-h",
    "--host",
    "-p",
    "--prompt",
    "-r",
    "--role",
    "-t",
    "--type",
    "-U",
    "--other-user",
    "-T",
    "--command-timeout",
    "-R",
    "--chroot",
];

fn sudo(args: &[Word], via: &str) -> Vec<Step> {
    // `sudo -e FILE` edits files instead of running a command; only sudo's own options count
    // (`sudo grep -e x f` runs grep).
    let (start, _) = skip_options(args, SUDO_VALUE_OPTIONS);
    let edit = args[..start]
        .iter()
        .filter_map(Word::literal)
        .any(|a| a == "--edit" || (a.starts_with('-') && !a.starts_with("--") && a.contains('e')));
    if edit {
        return Vec::new();
    }
    wrap(args, SUDO_VALUE_OPTIONS, 0, via)
}

fn su(args: &[Word]) -> Vec<Step> {
    match option_value(args, &["-c", "--command", "--session-command"]) {
        Some(text) => vec![Step::Script {
            text,
            via: "su -c".into(),
        }],
        None => Vec::new(),
    }
}

fn runuser(args: &[Word]) -> Vec<Step> {
    if let Some(text) = option_value(args, &["-c", "--command", "--session-command"]) {
        return vec![Step::Script {
            text,
            via: "runuser -c".into(),
        }];
    }
    wrap(
        args,
        &[
            "-u",
            "--user",
            "-g",
            "--group",
            "-G",
            "--supp-group",
            "-s",
            "--shell",
            "-w",
        ],
        0,
        "runuser",
    )
}

fn sg(args: &[Word]) -> Vec<Step> {
    if let Some(text) = option_value(args, &["-c"]) {
        return vec![Step::Script {
            text,
            via: "sg -c".into(),
        }];
    }
    let (start, _) = skip_options(args, &[]);
    match args.get(start + 1..) {
        Some(rest) if !rest.is_empty() => vec![Step::Script {
            text: join_as_script(rest),
            via: "sg".into(),
        }],
        _ => Vec::new(),
    }
}

fn env(args: &[Word]) -> Vec<Step> {
    if let Some(text) = option_value(args, &["-S", "--split-string"]) {
        return vec![Step::Script {
            text,
            via: "env -S".into(),
        }];
    }
    let (mut start, unknown) = skip_options(
        args,
        &["-u", "--unset", "-C", "--chdir", "-a", "--argv0", "-P"],
    );
    let mut assignments = Vec::new();
    while let Some(word) = args.get(start) {
        match word.literal().and_then(|s| s.split_once('=')) {
            Some((name, value)) if is_name(name) => {
                assignments.push((name.to_owned(), Word::Literal(value.to_owned())));
                start += 1;
            }
            _ => break,
        }
    }
    let mut steps = assignment_steps(&assignments);
    if start < args.len() {
        steps.push(Step::Run {
            argv: args[start..].to_vec(),
            via: "env".into(),
            assignments,
        });
        if unknown && start + 1 < args.len() {
            steps.push(run(&args[start + 1..], "env (alternative reading)"));
        }
    }
    steps
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn flock(args: &[Word]) -> Vec<Step> {
    if let Some(text) = option_value(args, &["-c", "--command"]) {
        return vec![Step::Script {
            text,
            via: "flock -c".into(),
        }];
    }
    wrap(
        args,
        &["-w", "--timeout", "-E", "--conflict-exit-code"],
        1,
        "flock",
    )
}

fn command(args: &[Word]) -> Vec<Step> {
    // `command -v x` / `-V` only look a program up.
    let looks_up = args
        .iter()
        .map_while(|a| a.literal().filter(|s| s.starts_with('-')))
        .any(|s| s.contains('v') || s.contains('V'));
    if looks_up {
        Vec::new()
    } else {
        wrap(args, &[], 0, "command")
    }
}

fn xargs(args: &[Word]) -> Vec<Step> {
    let value_opts = [
        "-a",
        "--arg-file",
        "-d",
        "--delimiter",
        "-E",
        "-I",
        "-L",
        "-n",
        "--max-args",
        "-P",
        "--max-procs",
        "-s",
        "--max-chars",
        "--process-slot-var",
        "--replace",
        "-R",
        "-S",
    ];
    let replace = option_value(args, &["-I", "--replace", "-i"])
        .and_then(|w| w.literal().map(str::to_owned))
        .unwrap_or_else(|| "{}".into());
    let (start, _) = skip_options(args, &value_opts);
    let mut argv: Vec<Word> = if start < args.len() {
        args[start..].to_vec()
    } else {
        vec![Word::Literal("echo".into())]
    };
    mark_placeholder(&mut argv, &replace, "a value xargs reads from its input");
    argv.push(Word::dynamic(
        "<input>",
        "arguments xargs reads from its input",
    ));
    vec![run(&argv, "xargs")]
}

/// Replaces every argument holding `placeholder` (`{}`) with a dynamic word.
fn mark_placeholder(argv: &mut [Word], placeholder: &str, why: &str) {
    for word in argv.iter_mut() {
        if let Some(s) = word
            .literal()
            .filter(|s| !placeholder.is_empty() && s.contains(placeholder))
        {
            *word = Word::dynamic(s.to_owned(), why);
        }
    }
}

fn find(args: &[Word]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let action = args[i].literal().unwrap_or("");
        if matches!(action, "-exec" | "-execdir" | "-ok" | "-okdir") {
            let end = args[i + 1..]
                .iter()
                .position(|w| matches!(w.literal(), Some(";" | "+")))
                .map_or(args.len(), |p| i + 1 + p);
            let mut argv = args[i + 1..end].to_vec();
            mark_placeholder(&mut argv, "{}", "a path found by find");
            if !argv.is_empty() {
                steps.push(run(&argv, &format!("find {action}")));
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    steps
}

fn fd(args: &[Word]) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if matches!(arg.literal(), Some("-x" | "--exec" | "-X" | "--exec-batch")) {
            let end = args[i + 1..]
                .iter()
                .position(|w| w.literal() == Some(";"))
                .map_or(args.len(), |p| i + 1 + p);
            let mut argv = args[i + 1..end].to_vec();
            mark_placeholder(&mut argv, "{", "a path found by fd");
            argv.push(Word::dynamic("<path>", "a path found by fd"));
            if !argv.is_empty() {
                steps.push(run(&argv, "fd --exec"));
            }
        }
    }
    steps
}

fn parallel(args: &[Word]) -> Vec<Step> {
    let value_opts = [
        "-j",
        "--jobs",
        "-S",
        "--sshlogin",
        "-a",
        "--arg-file",
        "--colsep",
        "-d",
        "--delimiter",
        "-I",
        "--results",
        "--joblog",
        "--tmpdir",
        "-N",
        "-n",
        "-L",
        "--max-args",
        "--timeout",
        "--delay",
        "--retries",
        "-E",
        "--halt",
        "--memfree",
        "--load",
    ];
    let (start, _) = skip_options(args, &value_opts);
    let end = args[start..]
        .iter()
        .position(|w| w.literal().is_some_and(|s| s.starts_with(":::")))
        .map_or(args.len(), |p| start + p);
    if start >= end {
        // No command template: every input line is a command.
        return vec![Step::StdinScript {
            reader: "parallel".into(),
            shell: true,
        }];
    }
    let Word::Literal(template) = join_as_script(&args[start..end]) else {
        return vec![Step::Unreadable {
            why: "the parallel command template is only known at run time".into(),
        }];
    };
    // parallel runs the template once per input, put at `{}` or appended. Inputs given with
    // `:::` are read as written (up to a bound); others are only known at run time.
    let inline = args.get(end).and_then(Word::literal) == Some(":::");
    let values: Vec<&Word> = if inline {
        args[end + 1..].iter().take(16).collect()
    } else {
        Vec::new()
    };
    let fill = |value: &str| {
        if template.contains("{}") {
            template.replace("{}", value)
        } else {
            format!("{template} {value}")
        }
    };
    let mut steps: Vec<Step> = values
        .iter()
        .filter(|v| !v.literal().is_some_and(|s| s.starts_with(":::")))
        .map(|v| match v.literal() {
            Some(value) => Step::Script {
                text: Word::Literal(fill(&quote(value))),
                via: "parallel".into(),
            },
            None => Step::Script {
                text: Word::Literal(fill("\"$PARALLEL_INPUT\"")),
                via: "parallel".into(),
            },
        })
        .collect();
    if steps.is_empty() {
        steps.push(Step::Script {
            text: Word::Literal(fill("\"$PARALLEL_INPUT\"")),
            via: "parallel".into(),
        });
    }
    steps
}

/// Single-quotes a value for a shell string.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

fn watch(args: &[Word]) -> Vec<Step> {
    let value_opts = ["-n", "--interval", "-q", "--equexit", "--differences"];
    let (start, _) = skip_options(args, &value_opts);
    if start >= args.len() {
        return Vec::new();
    }
    let exec = args[..start]
        .iter()
        .any(|a| matches!(a.literal(), Some("-x" | "--exec")));
    if exec {
        vec![run(&args[start..], "watch -x")]
    } else {
        vec![Step::Script {
            text: join_as_script(&args[start..]),
            via: "watch".into(),
        }]
    }
}

fn ssh(args: &[Word]) -> Vec<Step> {
    let value_opts = [
        "-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
        "-p", "-Q", "-R", "-S", "-W", "-w",
    ];
    let (host, _) = skip_options(args, &value_opts);
    // OpenSSH reads options after the host too (`ssh host -t cmd`), and `--`.
    let rest = args.get(host + 1..).unwrap_or_default();
    let (start, _) = skip_options(rest, &value_opts);
    match rest.get(start..) {
        Some(command) if !command.is_empty() => {
            vec![Step::Script {
                text: join_as_script(command),
                via: "ssh".into(),
            }]
        }
        _ => Vec::new(),
    }
}

fn entr(args: &[Word]) -> Vec<Step> {
    // `entr -s 'cmd'` runs a shell string; otherwise the rest is the command.
    let shell = args
        .iter()
        .take_while(|w| w.literal().is_some_and(|s| s.starts_with('-')))
        .any(|w| w.literal().is_some_and(|s| s.contains('s')));
    let (start, _) = skip_options(args, &[]);
    match args.get(start..) {
        Some(rest) if !rest.is_empty() && shell => vec![Step::Script {
            text: join_as_script(rest),
            via: "entr -s".into(),
        }],
        Some(rest) if !rest.is_empty() => vec![run(rest, "entr")],
        _ => Vec::new(),
    }
}

fn kubectl(args: &[Word]) -> Vec<Step> {
    // `kubectl exec|run|debug ... -- CMD`: the command after `--` runs in the pod.
    let Some(dash) = args.iter().position(|w| w.literal() == Some("--")) else {
        return Vec::new();
    };
    let runs = args[..dash]
        .iter()
        .any(|w| matches!(w.literal(), Some("exec" | "run" | "debug" | "attach")));
    if runs && dash + 1 < args.len() {
        vec![run(&args[dash + 1..], "kubectl exec")]
    } else {
        Vec::new()
    }
}

const DOCKER_GLOBAL: &[&str] = &[
    "-H",
    "--host",
    "--context",
    "-c",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];
const DOCKER_RUN: &[&str] = &[
    "-e",
    "--env",
    "--env-file",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "--name",
    "--network",
    "--net",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "-l",
    "--label",
    "-m",
    "--memory",
    "--cpus",
    "--mount",
    "--add-host",
    "-h",
    "--hostname",
    "--device",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "--restart",
    "--platform",
    "--pull",
    "--log-driver",
    "--log-opt",
    "--tmpfs",
    "--ulimit",
    "--dns",
    "--ipc",
    "--pid",
    "--userns",
    "--gpus",
    "--shm-size",
    "--cidfile",
    "-a",
    "--attach",
    "--expose",
    "--label-file",
    "--link",
    "--runtime",
    "--stop-signal",
    "--stop-timeout",
    "--health-cmd",
    "--group-add",
    "--volumes-from",
    "--cgroupns",
    "--cpuset-cpus",
    "--memory-swap",
    "--detach-keys",
    "--index",
    "--entrypoint",
];

fn docker(args: &[Word], via: &str) -> Vec<Step> {
    let (start, _) = skip_options(args, DOCKER_GLOBAL);
    let Some(sub) = args.get(start).and_then(Word::literal) else {
        return Vec::new();
    };
    let rest = &args[start + 1..];
    match sub {
        "exec" | "run" | "create" => container_command(rest, &format!("{via} {sub}")),
        "container" => match rest.first().and_then(Word::literal) {
            Some(s @ ("exec" | "run" | "create")) => {
                container_command(&rest[1..], &format!("{via} {s}"))
            }
            _ => Vec::new(),
        },
        "compose" => compose(rest, via),
        _ => Vec::new(),
    }
}

fn container_command(args: &[Word], via: &str) -> Vec<Step> {
    let entrypoint = option_value(args, &["--entrypoint"]);
    let (start, unknown) = skip_options(args, DOCKER_RUN);
    let mut argv: Vec<Word> = entrypoint.into_iter().collect();
    argv.extend(args.get(start + 1..).unwrap_or_default().iter().cloned());
    let mut steps = Vec::new();
    if !argv.is_empty() {
        steps.push(run(&argv, via));
    }
    if unknown && start + 2 < args.len() {
        steps.push(run(
            &args[start + 2..],
            &format!("{via} (alternative reading)"),
        ));
    }
    steps
}

fn compose(args: &[Word], via: &str) -> Vec<Step> {
    let (start, _) = skip_options(
        args,
        &[
            "-f",
            "--file",
            "-p",
            "--project-name",
            "--profile",
            "--env-file",
            "--project-directory",
        ],
    );
    match args.get(start).and_then(Word::literal) {
        Some(sub @ ("exec" | "run")) => {
            container_command(&args[start + 1..], &format!("{via} compose {sub}"))
        }
        _ => Vec::new(),
    }
}

fn ip(args: &[Word]) -> Vec<Step> {
    // `ip netns exec NAME CMD...`
    let words: Vec<&str> = args.iter().take(3).filter_map(Word::literal).collect();
    if words.len() == 3 && words[0] == "netns" && words[1] == "exec" && args.len() > 3 {
        vec![run(&args[3..], "ip netns exec")]
    } else {
        Vec::new()
    }
}

fn option_script(args: &[Word], names: &[&str], via: &str) -> Vec<Step> {
    match option_value(args, names) {
        Some(text) => vec![Step::Script {
            text,
            via: format!("{via} {}", names[0]),
        }],
        None => Vec::new(),
    }
}

fn nix(args: &[Word]) -> Vec<Step> {
    match args
        .iter()
        .position(|w| matches!(w.literal(), Some("-c" | "--command")))
    {
        Some(i) if i + 1 < args.len() => vec![run(&args[i + 1..], "nix develop -c")],
        _ => Vec::new(),
    }
}

fn tmux(args: &[Word]) -> Vec<Step> {
    let (start, _) = skip_options(args, &["-L", "-S", "-f", "-c", "-T"]);
    let Some(sub) = args.get(start).and_then(Word::literal) else {
        return Vec::new();
    };
    let rest = &args[start + 1..];
    let value_opts = [
        "-t", "-s", "-n", "-c", "-e", "-F", "-x", "-y", "-l", "-p", "-w", "-N", "-f",
    ];
    let (first, _) = skip_options(rest, &value_opts);
    let mut words: Vec<Word> = rest.get(first..).unwrap_or_default().to_vec();
    match sub {
        "send-keys" | "send" => {
            // Key names end a line; the rest is typed into the pane and run by its shell.
            words.retain(|w| !matches!(w.literal(), Some("Enter" | "C-m" | "KPEnter" | "C-j")));
        }
        "new-session" | "new" | "new-window" | "neww" | "split-window" | "splitw"
        | "respawn-pane" | "respawnp" | "respawn-window" | "respawnw" | "run-shell" | "run" => {}
        _ => return Vec::new(),
    }
    if words.is_empty() {
        Vec::new()
    } else {
        vec![Step::Script {
            text: join_as_script(&words),
            via: format!("tmux {sub}"),
        }]
    }
}

fn at(args: &[Word], via: &str) -> Vec<Step> {
    if let Some(file) = option_value(args, &["-f"]) {
        return vec![Step::Unreadable {
            why: format!(
                "{via} schedules the commands in `{}`, which gatekeep does not read",
                file.display()
            ),
        }];
    }
    let lists = args
        .iter()
        .any(|a| matches!(a.literal(), Some("-l" | "-r" | "-d" | "-c")));
    if lists {
        Vec::new()
    } else {
        vec![Step::StdinScript {
            reader: via.to_owned(),
            shell: true,
        }]
    }
}

fn trap(args: &[Word]) -> Vec<Step> {
    match args.first() {
        Some(w)
            if !matches!(w.literal(), Some("-" | "-p" | "-l" | "--" | "")) && args.len() > 1 =>
        {
            vec![Step::Script {
                text: w.clone(),
                via: "trap".into(),
            }]
        }
        _ => Vec::new(),
    }
}

fn alias(args: &[Word]) -> Vec<Step> {
    args.iter()
        .filter_map(|w| match w {
            Word::Literal(s) => s.split_once('=').map(|(_, v)| Step::Script {
                text: Word::Literal(v.to_owned()),
                via: "alias".into(),
            }),
            Word::Dynamic { .. } => Some(Step::Script {
                text: w.clone(),
                via: "alias".into(),
            }),
        })
        .collect()
}

/// git's global options that take the next word.
const GIT_VALUE_OPTIONS: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--super-prefix",
    "--config-env",
    "--exec-path",
];

fn git(args: &[Word]) -> Vec<Step> {
    let mut steps = Vec::new();
    // `git -c core.sshCommand=...`, `-c alias.x='!cmd'`: configuration that runs commands.
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i + 1 < args.len() {
        if args[i].literal() == Some("-c") {
            match &args[i + 1] {
                Word::Literal(kv) => {
                    if let Some((key, value)) = kv.split_once('=') {
                        let key = key.to_ascii_lowercase();
                        let runs = [
                            "sshcommand",
                            "pager",
                            "editor",
                            "fsmonitor",
                            "textconv",
                            "askpass",
                            "command",
                            "cmd",
                            "program",
                            // diff.external, uploadpack.packObjectsHook, filter.<x>.clean,
                            // .smudge and .process all run commands.
                            "external",
                            "hook",
                            "clean",
                            "smudge",
                            "process",
                        ]
                        .iter()
                        .any(|k| key.ends_with(k));
                        if let Some(cmd) = value.strip_prefix('!') {
                            steps.push(Step::Script {
                                text: Word::Literal(cmd.to_owned()),
                                via: format!("git -c {key}"),
                            });
                        } else if key == "core.hookspath" {
                            steps.push(Step::Unreadable {
                                why: format!("git -c core.hooksPath={value} runs hooks from a directory gatekeep does not read"),
                            });
                        } else if let Some(alias) = key.strip_prefix("alias.") {
                            aliases.push((alias.to_owned(), value.to_owned()));
                        } else if runs {
                            steps.push(Step::Script {
                                text: Word::Literal(value.to_owned()),
                                via: format!("git -c {key}"),
                            });
                        }
                    }
                }
                dynamic => steps.push(Step::Script {
                    text: dynamic.clone(),
                    via: "git -c".into(),
                }),
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    let (start, _) = skip_options(args, GIT_VALUE_OPTIONS);
    let Some(sub) = args.get(start).and_then(Word::literal) else {
        return steps;
    };
    let rest = &args[start + 1..];
    // An alias given with -c runs git with its expansion: read that as a git command.
    if let Some((_, expansion)) = aliases.iter().find(|(a, _)| a == sub) {
        let mut text = format!("git {expansion}");
        if let Word::Literal(tail) = join_as_script(rest) {
            text.push(' ');
            text.push_str(&tail);
        }
        steps.push(Step::Script {
            text: Word::Literal(text),
            via: format!("git alias {sub}"),
        });
        return steps;
    }
    // Subcommands that run commands of their own.
    match sub {
        "submodule" if rest.first().and_then(Word::literal) == Some("foreach") => {
            let (cmd, _) = skip_options(&rest[1..], &[]);
            if let Some(words) = rest.get(1 + cmd..).filter(|w| !w.is_empty()) {
                steps.push(Step::Script {
                    text: join_as_script(words),
                    via: "git submodule foreach".into(),
                });
            }
        }
        "rebase" => {
            if let Some(text) = option_value(rest, &["-x", "--exec"]) {
                steps.push(Step::Script {
                    text,
                    via: "git rebase --exec".into(),
                });
            }
        }
        "bisect" if rest.first().and_then(Word::literal) == Some("run") && rest.len() > 1 => {
            steps.push(run(&rest[1..], "git bisect run"));
        }
        _ => {}
    }
    steps
}

fn gcloud(args: &[Word]) -> Vec<Step> {
    // `gcloud compute ssh VM --command CMD` (or `-- CMD`) runs CMD on the VM.
    let ssh = args.iter().any(|w| w.literal() == Some("ssh"));
    if !ssh {
        return Vec::new();
    }
    if let Some(text) = option_value(args, &["--command"]) {
        return vec![Step::Script {
            text,
            via: "gcloud compute ssh --command".into(),
        }];
    }
    match args.iter().position(|w| w.literal() == Some("--")) {
        Some(i) if i + 1 < args.len() => vec![Step::Script {
            text: join_as_script(&args[i + 1..]),
            via: "gcloud compute ssh".into(),
        }],
        _ => Vec::new(),
    }
}

fn npx(args: &[Word], via: &str) -> Vec<Step> {
    if let Some(text) = option_value(args, &["-c", "--call"]) {
        return vec![Step::Script {
            text,
            via: format!("{via} -c"),
        }];
    }
    wrap(args, &["-p", "--package"], 0, via)
}

fn run_subcommand(args: &[Word], subs: &[&str], value_opts: &[&str], via: &str) -> Vec<Step> {
    let (start, _) = skip_options(args, &["--directory", "--project", "-C", "--cwd"]);
    match args.get(start).and_then(Word::literal) {
        Some(sub) if subs.contains(&sub) => {
            wrap(&args[start + 1..], value_opts, 0, &format!("{via} {sub}"))
        }
        _ => Vec::new(),
    }
}

fn gatekeep(args: &[Word]) -> Vec<Step> {
    if let Some(text) = option_value(args, &["--shell"]) {
        return vec![Step::Script {
            text,
            via: "gatekeep --shell".into(),
        }];
    }
    match args.iter().position(|w| w.literal() == Some("--")) {
        Some(i) if i + 1 < args.len() => vec![run(&args[i + 1..], "gatekeep")],
        _ => Vec::new(),
    }
}

fn awk(args: &[Word], via: &str) -> Vec<Step> {
    if option_value(args, &["-f", "--file"]).is_some() {
        return Vec::new();
    }
    let program = option_value(args, &["-e", "--source"]).or_else(|| {
        let (start, _) = skip_options(
            args,
            &[
                "-F",
                "-v",
                "--assign",
                "-i",
                "--include",
                "-l",
                "--load",
                "-W",
            ],
        );
        args.get(start).cloned()
    });
    let runs = |text: &str| {
        text.contains("system(")
            || text.contains("system (")
            || text.contains("| getline")
            || text.contains("|getline")
            || text.contains("print |")
            || text.contains("printf |")
            || text.contains("\" |")
            || text.contains("|&")
    };
    match program {
        Some(Word::Literal(text)) if runs(&text) => vec![Step::Unreadable {
            why: format!(
                "the {via} program runs commands (system() or a pipe), which gatekeep cannot read"
            ),
        }],
        Some(Word::Dynamic { raw, .. }) => vec![Step::Unreadable {
            why: format!("the {via} program `{raw}` is only known at run time"),
        }],
        _ => Vec::new(),
    }
}

fn shell(args: &[Word], via: &str) -> Vec<Step> {
    let value_opts = [
        "-o",
        "+o",
        "-O",
        "+O",
        "--rcfile",
        "--init-file",
        "-C",
        "--init-command",
    ];
    let mut i = 0;
    let mut reads_stdin = false;
    while i < args.len() {
        let Some(arg) = args[i].literal() else {
            return vec![Step::Unreadable {
                why: format!(
                    "{via} is given `{}`, only known at run time",
                    args[i].display()
                ),
            }];
        };
        if arg == "--" || arg == "-" {
            i += 1;
            break;
        }
        if value_opts.contains(&arg) {
            i += 2;
            continue;
        }
        if arg == "--command"
            || (arg.starts_with('-') && !arg.starts_with("--") && arg[1..].contains('c'))
        {
            return match args.get(i + 1) {
                Some(text) => vec![Step::Script {
                    text: text.clone(),
                    via: format!("{via} -c"),
                }],
                None => Vec::new(),
            };
        }
        if arg.starts_with('-') || arg.starts_with('+') {
            reads_stdin |= !arg.starts_with("--") && arg[1..].contains('s');
            i += 1;
            continue;
        }
        break;
    }
    match args.get(i) {
        Some(file) if !reads_stdin => match file {
            Word::Literal(path)
                if matches!(
                    path.as_str(),
                    "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
                ) =>
            {
                vec![Step::StdinScript {
                    reader: via.to_owned(),
                    shell: true,
                }]
            }
            // Running a script file is like running any program: its content is not read.
            Word::Literal(_) => Vec::new(),
            Word::Dynamic { raw, .. } => vec![Step::Unreadable {
                why: format!("{via} runs the script `{raw}`, which is only known at run time"),
            }],
        },
        _ => vec![Step::StdinScript {
            reader: via.to_owned(),
            shell: true,
        }],
    }
}

/// Interpreters: how each takes inline code, and which options take a value.
struct Interpreter {
    names: &'static [&'static str],
    /// Short option letters that introduce inline code (also inside a cluster: `perl -ne`).
    inline: &'static str,
    inline_long: &'static [&'static str],
    /// Short option letters that take a value.
    value: &'static str,
    /// Options after which the interpreter runs something named, not stdin (`python -m`).
    named: &'static [&'static str],
}

const INTERPRETERS: &[Interpreter] = &[
    Interpreter {
        names: &["python", "pypy", "pypy3"],
        inline: "c",
        inline_long: &[],
        value: "WXQm",
        named: &["-m"],
    },
    Interpreter {
        names: &["node", "nodejs"],
        inline: "ep",
        inline_long: &["--eval", "--print"],
        value: "r",
        named: &[],
    },
    Interpreter {
        names: &["bun", "deno"],
        inline: "ep",
        inline_long: &["--eval", "--print"],
        value: "",
        named: &[
            "run", "test", "x", "install", "add", "build", "task", "fmt", "lint", "check",
            "compile", "upgrade", "create", "init",
        ],
    },
    // perl's -I, -M, -m, -i, -x and -d take their values attached, never the next word.
    Interpreter {
        names: &["perl"],
        inline: "eE",
        inline_long: &[],
        value: "",
        named: &[],
    },
    Interpreter {
        names: &["ruby", "jruby"],
        inline: "e",
        inline_long: &[],
        value: "IrCE",
        named: &[],
    },
    Interpreter {
        names: &["php"],
        inline: "rBRE",
        inline_long: &[],
        value: "cdfz",
        named: &["-f", "-S", "-l", "-v", "-m", "-i"],
    },
    Interpreter {
        names: &["lua", "luajit"],
        inline: "e",
        inline_long: &[],
        value: "l",
        named: &[],
    },
    Interpreter {
        names: &["Rscript"],
        inline: "e",
        inline_long: &[],
        value: "",
        named: &[],
    },
    Interpreter {
        names: &["julia"],
        inline: "eE",
        inline_long: &["--eval", "--print"],
        value: "pJCt",
        named: &[],
    },
    Interpreter {
        names: &["osascript"],
        inline: "e",
        inline_long: &[],
        value: "ls",
        named: &[],
    },
    Interpreter {
        names: &["pwsh", "powershell"],
        inline: "ce",
        inline_long: &[
            "-Command",
            "-command",
            "-EncodedCommand",
            "-encodedcommand",
            "-ec",
        ],
        value: "f",
        named: &["-File", "-file", "-f"],
    },
    Interpreter {
        names: &["tclsh", "wish", "expect"],
        inline: "c",
        inline_long: &[],
        value: "",
        named: &[],
    },
    Interpreter {
        names: &[
            "groovy", "scala", "kotlin", "jshell", "irb", "ghci", "guile", "sbcl", "racket",
            "clojure", "elixir", "erl",
        ],
        inline: "e",
        inline_long: &["--eval"],
        value: "",
        named: &[],
    },
];

/// An interpreter name without its version (`python3.11` -> `python`).
fn unversioned(program: &str) -> &str {
    program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-')
}

fn interpreter(args: &[Word], program: &str) -> Vec<Step> {
    let Some(interp) = INTERPRETERS
        .iter()
        .find(|i| i.names.contains(&program) || i.names.contains(&unversioned(program)))
    else {
        return Vec::new();
    };
    // Asking for the version or help runs no code.
    let info = [
        "--version",
        "--help",
        "-version",
        "-help",
        "-h",
        "-V",
        "-VV",
    ];
    let version_v = !interp.names.contains(&"python");
    if let Some(first) = args.first().and_then(Word::literal)
        && (info.contains(&first) || (version_v && first == "-v"))
    {
        return Vec::new();
    }
    let inline = |what: &str| {
        vec![Step::Unreadable {
            why: format!(
                "{program} runs inline code ({what}), which gatekeep cannot read as commands"
            ),
        }]
    };
    let mut i = 0;
    while i < args.len() {
        let Some(arg) = args[i].literal() else {
            return vec![Step::Unreadable {
                why: format!(
                    "{program} is given `{}`, only known at run time",
                    args[i].display()
                ),
            }];
        };
        if interp.named.contains(&arg) {
            return Vec::new();
        }
        if interp.inline_long.contains(&arg)
            || interp
                .inline_long
                .iter()
                .any(|l| arg.starts_with(&format!("{l}=")))
        {
            return inline(arg);
        }
        if arg == "-" {
            break;
        }
        if arg == "--" {
            // What follows is the script and its arguments.
            return match args.get(i + 1).and_then(Word::literal) {
                Some("-") | None => vec![Step::StdinScript {
                    reader: program.to_owned(),
                    shell: false,
                }],
                Some(_) => Vec::new(),
            };
        }
        if let Some(cluster) = arg
            .strip_prefix('-')
            .filter(|c| !c.is_empty() && !c.starts_with('-'))
        {
            for (pos, c) in cluster.char_indices() {
                if interp.inline.contains(c) {
                    return inline(&format!("-{c}"));
                }
                if interp.value.contains(c) {
                    if pos + c.len_utf8() == cluster.len() {
                        i += 1;
                    }
                    break;
                }
            }
            i += 1;
            continue;
        }
        if arg.starts_with("--") {
            i += 1;
            continue;
        }
        // The first operand is a script file (or, for bun/deno, a subcommand): not inline.
        return match args[i].literal() {
            Some("eval") if interp.names.contains(&"deno") => inline("deno eval"),
            _ => Vec::new(),
        };
    }
    vec![Step::StdinScript {
        reader: program.to_owned(),
        shell: false,
    }]
}

#[cfg(test)]
mod tests {
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
