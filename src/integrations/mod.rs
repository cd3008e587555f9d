//! Integrations: where agents and shells meet gatekeep. They all walk the path of
//! [`crate::journey`], so a command is decided the same way whichever door it came through.

pub mod hooks;
pub mod shell;
