//! Every environment variable gatekeep reads, in one table.
//!
//! None of them can loosen the policy: `GATEKEEP_POLICY` adds a layer that may only tighten,
//! and the system layer's path is fixed.

/// A policy file added as the least trusted layer (it may only tighten).
pub const GATEKEEP_POLICY: &str = "GATEKEEP_POLICY";
/// Base of the user's configuration directory.
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
pub const HOME: &str = "HOME";
/// The agent name recorded with each command (also `--agent`).
pub const GATEKEEP_AGENT: &str = "GATEKEEP_AGENT";
/// Base of the user's state directory, where the ledger lives.
pub const XDG_STATE_HOME: &str = "XDG_STATE_HOME";
pub const USER: &str = "USER";
/// Base of the user's data directory, where `gatekeep server` keeps its state by default.
pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
/// Log filter for `gatekeep server` (tracing's `EnvFilter` syntax; default `info`).
pub const GATEKEEP_LOG: &str = "GATEKEEP_LOG";
/// `off` keeps the approval-service tokens in the 0600 credentials file and never contacts
/// the Secret Service (headless servers, tests). Unset, or any other value: the OS keyring
/// when one answers, the file when none does. `0`, `false` and `no` also mean `off`.
pub const GATEKEEP_KEYRING: &str = "GATEKEEP_KEYRING";
/// A browser to open `gatekeep login --oidc`'s sign-in URL with (only when set; the URL is
/// always printed).
pub const BROWSER: &str = "BROWSER";
