//! gatekeep's own exit codes. They are part of the interface: agents and scripts branch on
//! them, so they never change meaning. Where a meaning exists in `sysexits.h` its number is
//! used, to stay clear of the small codes commands use themselves.
//!
//! `gatekeep exec` otherwise exits with the child's status (128+N when signal N ended it),
//! 126 when the command cannot be run and 127 when it is not found, as a shell does.

use std::process::ExitCode;

/// Allowed (`check`), or the subcommand succeeded.
pub const SUCCESS: u8 = 0;
/// gatekeep itself failed, or `policy test` / `audit verify` found problems.
pub const ERROR: u8 = 1;
/// The command line of gatekeep was wrong (clap's code).
pub const USAGE: u8 = 2;
/// `check`: the command needs a person's approval.
pub const APPROVE: u8 = 10;
/// `exec`: approval is needed but cannot be asked for here (no terminal, or the rule does
/// not allow approval at the terminal, and no approval service). EX_UNAVAILABLE.
pub const UNAVAILABLE: u8 = 69;
/// `exec`: the decision could not be recorded, so nothing ran. EX_SOFTWARE.
pub const NOT_RECORDED: u8 = 70;
/// `exec`: nobody approved in time. EX_TEMPFAIL: asking again may work.
pub const EXPIRED: u8 = 75;
/// Denied, by policy or by a person. EX_NOPERM.
pub const DENY: u8 = 77;
/// A policy file could not be read, parsed or validated: nothing is allowed until it is
/// fixed. EX_CONFIG.
pub const POLICY: u8 = 78;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
