//! What several test modules share.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on setup errors")]

pub mod fake;
pub mod oidc;
pub mod pg;
pub mod pki;
pub mod policy;
pub mod pty;
pub mod sandbox;
pub mod service;
