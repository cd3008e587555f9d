//! gatekeep's own exit codes. They are part of the interface: agents and scripts branch on
//! them, so they never change meaning.

use std::process::ExitCode;

/// Allowed (`check`), or the subcommand succeeded.
pub const SUCCESS: u8 = 0;
/// gatekeep itself failed (I/O, an internal error) or `policy test` found failing examples.
pub const ERROR: u8 = 1;
/// The command line of gatekeep was wrong (clap's code).
pub const USAGE: u8 = 2;
/// A policy file could not be read, parsed or validated: nothing is allowed until it is fixed.
pub const POLICY: u8 = 3;
/// `check`: the command needs a person's approval.
pub const APPROVE: u8 = 10;
/// `check`: the command is denied.
pub const DENY: u8 = 11;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
