//! The journey of one command: read it, load the policy that applies where it runs, decide.
//!
//! `check` stops after deciding; `exec`, the agent hooks and the shell integration walk the
//! same path so that they can never disagree about a command. This path is the fast path for
//! allowed commands: no async runtime, no network, nothing but the policy files.

use std::path::Path;

use crate::policy::{Assessment, Policy, PolicyError, PolicyPaths};
use crate::shell;

/// A command as handed to gatekeep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An argv, run without a shell: the words are exact.
    Argv(Vec<String>),
    /// One string, run by `bash -c`.
    Shell(String),
}

impl Command {
    /// The command as one line for display.
    pub fn display(&self) -> String {
        match self {
            Command::Argv(argv) => argv.join(" "),
            Command::Shell(text) => text.clone(),
        }
    }
}

/// Loads the layered policy that applies to commands run in `cwd`.
pub fn load_policy(cwd: &Path) -> Result<Policy, PolicyError> {
    PolicyPaths::discover(cwd).load()
}

/// Reads `command` the way bash would and decides it.
pub fn assess(command: &Command, policy: &Policy) -> Assessment {
    let script = match command {
        Command::Argv(argv) => shell::from_argv(argv),
        Command::Shell(text) => shell::parse_shell(text),
    };
    policy.evaluate(&script)
}
