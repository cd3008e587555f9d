//! The `gatekeep` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use gatekeep::cli::{self, Cli};
use gatekeep::{exit, journey};

fn main() -> ExitCode {
    // `gatekeep exec -- ARGV...` is the form agents' shell tools send on every command:
    // read it without building clap's parser, which costs about 0.1 ms of a sub-millisecond
    // budget. Anything else (options, non-UTF-8 words) goes through clap as usual.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() > 3 && args[1] == "exec" && args[2] == "--" {
        let argv: Option<Vec<String>> = args[3..]
            .iter()
            .map(|a| a.to_str().map(str::to_owned))
            .collect();
        if let Some(argv) = argv {
            let code = journey::exec(
                &journey::Command::Argv(argv),
                &journey::ExecOptions::default(),
            );
            return ExitCode::from(u8::try_from(code).unwrap_or(255));
        }
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::code(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            });
        }
    };
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`gatekeep check ... | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return exit::code(exit::SUCCESS);
            }
            // Errors quote file names, server answers and request ids: no raw control
            // characters reach the terminal (the `hint:` lines stay lines).
            eprintln!(
                "gatekeep: error: {}",
                gatekeep::render::terminal_safe_lines(&format!("{e:#}"))
            );
            exit::code(exit::ERROR)
        }
    }
}
