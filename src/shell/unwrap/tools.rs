//! Tools that run commands elsewhere or through subcommands: `ssh`, `kubectl exec`,
//! `docker run`/`exec`, `git` (aliases, `-c` hooks), `gcloud`, `npx`, `uv run`...

use super::Step;
use super::args::{join_as_script, option_value, run, skip_options, wrap};
use crate::shell::Word;

pub(super) fn ssh(args: &[Word]) -> Vec<Step> {
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

pub(super) fn kubectl(args: &[Word]) -> Vec<Step> {
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

pub(super) const DOCKER_GLOBAL: &[&str] = &[
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

pub(super) const DOCKER_RUN: &[&str] = &[
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

pub(super) fn docker(args: &[Word], via: &str) -> Vec<Step> {
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

pub(super) fn container_command(args: &[Word], via: &str) -> Vec<Step> {
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

pub(super) fn compose(args: &[Word], via: &str) -> Vec<Step> {
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

pub(super) fn ip(args: &[Word]) -> Vec<Step> {
    // `ip netns exec NAME CMD...`
    let words: Vec<&str> = args.iter().take(3).filter_map(Word::literal).collect();
    if words.len() == 3 && words[0] == "netns" && words[1] == "exec" && args.len() > 3 {
        vec![run(&args[3..], "ip netns exec")]
    } else {
        Vec::new()
    }
}

pub(super) fn nix(args: &[Word]) -> Vec<Step> {
    match args
        .iter()
        .position(|w| matches!(w.literal(), Some("-c" | "--command")))
    {
        Some(i) if i + 1 < args.len() => vec![run(&args[i + 1..], "nix develop -c")],
        _ => Vec::new(),
    }
}

/// git's global options that take the next word.
pub(super) const GIT_VALUE_OPTIONS: &[&str] = &[
    "-C",
    "-c",
    "--git-dir",
    "--work-tree",
    "--namespace",
    "--super-prefix",
    "--config-env",
    "--exec-path",
];

pub(super) fn git(args: &[Word]) -> Vec<Step> {
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

pub(super) fn gcloud(args: &[Word]) -> Vec<Step> {
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

pub(super) fn npx(args: &[Word], via: &str) -> Vec<Step> {
    if let Some(text) = option_value(args, &["-c", "--call"]) {
        return vec![Step::Script {
            text,
            via: format!("{via} -c"),
        }];
    }
    wrap(args, &["-p", "--package"], 0, via)
}

pub(super) fn run_subcommand(
    args: &[Word],
    subs: &[&str],
    value_opts: &[&str],
    via: &str,
) -> Vec<Step> {
    let (start, _) = skip_options(args, &["--directory", "--project", "-C", "--cwd"]);
    match args.get(start).and_then(Word::literal) {
        Some(sub) if subs.contains(&sub) => {
            wrap(&args[start + 1..], value_opts, 0, &format!("{via} {sub}"))
        }
        _ => Vec::new(),
    }
}
