//! gatekeep: puts a human signature on the privileged commands that AI agents run.
//!
//! The flow of one command, one module per stage: [`shell`] reads the command the way bash
//! will, [`policy`] decides from layered TOML policy, and [`gate`] walks one command through
//! the stages. The CLI in `main.rs` only parses arguments and calls [`gate`].

pub mod approval;
pub mod audit;
pub mod cli;
pub(crate) mod csv;
pub mod doctor;
pub mod env_vars;
pub mod exec;
pub mod exit;
pub mod gate;
pub mod host;
pub mod integrations;
pub mod policy;
pub mod render;
pub mod server;
pub mod service_cli;
pub mod shell;
pub mod time;
pub mod verdict;
