//! Shells and interpreters: `bash -c STRING` is read; code given to other interpreters
//! (`python -c`, `perl -e`, `awk` with `system`) is not, and is unreadable.

use super::Step;
use super::args::{option_value, skip_options};
use crate::shell::Word;

/// Shells that run a string given with `-c`.
pub const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "ksh93", "mksh", "pdksh", "ash", "yash", "posh", "fish",
    "tcsh", "csh", "rbash", "elvish", "nu", "xonsh", "oksh", "loksh",
];

pub(super) fn awk(args: &[Word], via: &str) -> Vec<Step> {
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

pub(super) fn shell(args: &[Word], via: &str) -> Vec<Step> {
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
            Word::Literal(path) if super::readers::is_stdin_path(path) => {
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

pub(super) fn interpreter(args: &[Word], program: &str) -> Vec<Step> {
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
        // The first operand is a script file (or, for bun/deno, a subcommand): not inline,
        // unless that file is standard input in another spelling (`python3 /dev/stdin`).
        return match args[i].literal() {
            Some("eval") if interp.names.contains(&"deno") => inline("deno eval"),
            Some(path) if super::readers::is_stdin_path(path) => vec![Step::StdinScript {
                reader: program.to_owned(),
                shell: false,
            }],
            _ => Vec::new(),
        };
    }
    vec![Step::StdinScript {
        reader: program.to_owned(),
        shell: false,
    }]
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
