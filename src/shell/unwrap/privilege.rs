//! Wrappers that change who or what environment a command runs as: `sudo` and its kin,
//! `su`, `runuser`, `sg`, `env`.

use super::args::{join_as_script, option_value, run, skip_options, wrap};
use super::{Step, assignment_steps};
use crate::shell::Word;

/// sudo's options that take a value.
pub(super) const SUDO_VALUE_OPTIONS: &[&str] = &[
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

pub(super) fn sudo(args: &[Word], via: &str) -> Vec<Step> {
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

pub(super) fn su(args: &[Word]) -> Vec<Step> {
    match option_value(args, &["-c", "--command", "--session-command"]) {
        Some(text) => vec![Step::Script {
            text,
            via: "su -c".into(),
        }],
        None => Vec::new(),
    }
}

pub(super) fn runuser(args: &[Word]) -> Vec<Step> {
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

pub(super) fn sg(args: &[Word]) -> Vec<Step> {
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

pub(super) fn env(args: &[Word]) -> Vec<Step> {
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

pub(super) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
