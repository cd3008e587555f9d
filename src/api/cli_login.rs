//! The bodies of a terminal's sign-in through the service's identity provider
//! (`gatekeep login --server URL --oidc`), shared by the CLI and `gatekeep server`.
//!
//! The service holds the provider's client secret, so the terminal signs in *through* it:
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /auth/device` | [`DeviceStart`] | [`DeviceStarted`], or 501 when the provider has no device endpoint |
//! | `POST /auth/device/token` | [`DevicePoll`] | [`DevicePolled`]; 403 once denied, 410 once expired |
//! | `POST /auth/loopback` | [`LoopbackStart`] | [`LoopbackStarted`] |
//! | `POST /auth/loopback/token` | [`LoopbackExchange`] | [`CliSession`] |
//!
//! Each sign-in is bound to the terminal that started it the way PKCE (RFC 7636) binds a
//! code to its client: the terminal sends the S256 challenge of a random verifier it keeps,
//! and only that verifier gets the session. A handle or one-time code that leaks (a
//! shoulder-surfed URL, a log) is useless without it.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const DEVICE: &str = "/auth/device";
pub const DEVICE_TOKEN: &str = "/auth/device/token";
pub const LOOPBACK: &str = "/auth/loopback";
pub const LOOPBACK_TOKEN: &str = "/auth/loopback/token";

/// The S256 challenge of `verifier`: base64url (no padding) of its SHA-256.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `POST /auth/device`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceStart {
    pub code_challenge: String,
    /// Step-up: the sign-in may be at most this old (sent to the provider as `max_age`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// What the person does at the provider (RFC 8628 §3.2), and the handle to poll with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceStarted {
    pub handle: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u64,
}

/// `POST /auth/device/token`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevicePoll {
    pub handle: String,
    pub code_verifier: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    /// The person has not finished at the provider yet: poll again after `interval`.
    Pending,
    /// Polled too fast: `interval` is now longer.
    SlowDown,
    /// Signed in: `session` holds the approver session.
    Done,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevicePolled {
    pub status: PollStatus,
    pub interval: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<CliSession>,
}

/// `POST /auth/loopback`: start a browser sign-in that ends at `redirect_uri`, an
/// `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...` address the terminal listens on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoopbackStart {
    pub redirect_uri: String,
    pub code_challenge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// The URL the person opens in a browser.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoopbackStarted {
    pub url: String,
}

/// `POST /auth/loopback/token`: the one-time code the browser brought back, and the
/// verifier whose challenge started the sign-in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoopbackExchange {
    pub code: String,
    pub code_verifier: String,
}

/// A new approver session for the terminal. The token is shown here once.
#[derive(Clone, Serialize, Deserialize)]
pub struct CliSession {
    pub token: String,
    pub name: String,
    pub expires_at: String,
}

impl std::fmt::Debug for CliSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliSession")
            .field("token", &"gks_****")
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636 appendix B.
        assert_eq!(
            super::challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
