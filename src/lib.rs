//! gatekeep: puts a human signature on the privileged commands that AI agents run.
//!
//! The flow of one command, one module per stage: [`shell`] reads the command the way bash
//! will, [`policy`] decides from layered TOML policy, and [`journey`] walks one command
//! through the stages (asking through [`approval`], recording with [`audit`], running with
//! [`exec`]). [`api`] is the approval service's API, shared by the client and [`server`].
//! The CLI in `main.rs` only parses arguments and calls [`journey`].

pub mod api;
pub mod approval;
pub mod audit;
pub mod cli;
pub(crate) mod csv;
pub mod doctor;
pub mod env_vars;
pub mod exec;
pub mod exit;
pub mod host;
pub mod integrations;
pub mod journey;
pub mod policy;
pub mod render;
#[cfg(feature = "server")]
pub mod server;
pub mod service_cli;
pub mod shell;
pub mod time;
pub mod watch;
