//! The approval stage: asking a person, at the terminal or through the approval service.
//! Only commands that need approval come here; the allowed-command path never loads it.

pub mod anchors;
pub mod credentials;
pub mod oidc_login;
pub mod prompt;
pub mod remote;
pub mod tls;
pub mod wait;
