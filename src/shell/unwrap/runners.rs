//! Programs that run a command they are given, once or many times: `xargs`, `find -exec`,
//! `parallel`, `watch`, `flock`, `at`, `trap`, `tmux`...

use super::Step;
use super::args::{join_as_script, mark_placeholder, option_value, quote, run, skip_options, wrap};
use crate::shell::Word;

pub(super) fn flock(args: &[Word]) -> Vec<Step> {
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

pub(super) fn command(args: &[Word]) -> Vec<Step> {
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

pub(super) fn xargs(args: &[Word]) -> Vec<Step> {
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

pub(super) fn find(args: &[Word]) -> Vec<Step> {
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

pub(super) fn fd(args: &[Word]) -> Vec<Step> {
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

pub(super) fn parallel(args: &[Word]) -> Vec<Step> {
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

pub(super) fn watch(args: &[Word]) -> Vec<Step> {
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

pub(super) fn entr(args: &[Word]) -> Vec<Step> {
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

pub(super) fn at(args: &[Word], via: &str) -> Vec<Step> {
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

pub(super) fn trap(args: &[Word]) -> Vec<Step> {
    // `trap -- ACTION SIG` is `trap ACTION SIG`; `-p`, `-l` and `-P` only print.
    let args = match args.first().and_then(Word::literal) {
        Some("--") => &args[1..],
        _ => args,
    };
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

pub(super) fn alias(args: &[Word]) -> Vec<Step> {
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

pub(super) fn tmux(args: &[Word]) -> Vec<Step> {
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

pub(super) fn option_script(args: &[Word], names: &[&str], via: &str) -> Vec<Step> {
    match option_value(args, names) {
        Some(text) => vec![Step::Script {
            text,
            via: format!("{via} {}", names[0]),
        }],
        None => Vec::new(),
    }
}

pub(super) fn gatekeep(args: &[Word]) -> Vec<Step> {
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
