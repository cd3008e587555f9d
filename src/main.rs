//! The `gatekeep` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use gatekeep::cli::{self, Cli};
use gatekeep::exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
            eprintln!("gatekeep: error: {e:#}");
            exit::code(exit::ERROR)
        }
    }
}
