//! HMAC-SHA256 signatures: Slack's on the requests it sends us (`X-Slack-Signature`, v0),
//! and ours on the webhooks we send (`X-Gatekeep-Signature`).
//!
//! Slack's is compared in constant time (`Mac::verify_slice`), and a timestamp more than five
//! minutes from now is refused before the MAC is even computed, as Slack's documentation
//! asks: a captured request cannot be replayed later. Within the window, [`Replays`] refuses
//! a signature seen before.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a Slack timestamp may be from now.
pub const WINDOW_SECS: u64 = 5 * 60;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no X-Slack-Request-Timestamp or X-Slack-Signature")]
    Missing,
    #[error("the request's timestamp is more than five minutes from now")]
    Stale,
    #[error("the request's signature does not match")]
    Mismatch,
    #[error("the request was already received (a replay)")]
    Replayed,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

/// Checks Slack's `v0` signature of `body` sent at `timestamp`, at time `now`.
pub fn verify_slack(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let sent: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Stale)?;
    if sent.abs_diff(now) > WINDOW_SECS {
        return Err(SignatureError::Stale);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(unhex)
        .ok_or(SignatureError::Mismatch)?;
    let mut mac = mac(secret);
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Gatekeep-Signature` of `body` sent at `t`: `t=UNIX,v1=HEX(HMAC-SHA256(secret,
/// t + "." + body))`.
pub fn webhook(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Signatures seen within the window: a second request with the same one is a replay.
#[derive(Debug, Default)]
pub struct Replays {
    seen: Mutex<HashMap<String, u64>>,
}

impl Replays {
    /// Records `signature` (sent at `timestamp`); refuses it if it was seen before.
    pub fn check(&self, signature: &str, timestamp: u64, now: u64) -> Result<(), SignatureError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Older ones would be refused as stale anyway: forget them.
        seen.retain(|_, t| t.abs_diff(now) <= WINDOW_SECS);
        if seen.insert(signature.to_owned(), timestamp).is_some() {
            return Err(SignatureError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's worked example (shared/vectors/README.md).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_published_vector_verifies() {
        let now = 1_531_420_618 + 10;
        assert_eq!(
            verify_slack(
                SECRET.as_bytes(),
                TIMESTAMP,
                SIGNATURE,
                BODY.as_bytes(),
                now
            ),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_secret_or_signature_or_an_old_timestamp_is_refused() {
        let now = 1_531_420_618;
        let mut body = BODY.as_bytes().to_vec();
        body[10] ^= 1;
        assert_eq!(
            verify_slack(SECRET.as_bytes(), TIMESTAMP, SIGNATURE, &body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(
                b"another secret",
                TIMESTAMP,
                SIGNATURE,
                BODY.as_bytes(),
                now
            ),
            Err(SignatureError::Mismatch)
        );
        let short = &SIGNATURE[..SIGNATURE.len() - 2];
        assert_eq!(
            verify_slack(SECRET.as_bytes(), TIMESTAMP, short, BODY.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
        for late in [now + WINDOW_SECS + 1, now - WINDOW_SECS - 1] {
            assert_eq!(
                verify_slack(
                    SECRET.as_bytes(),
                    TIMESTAMP,
                    SIGNATURE,
                    BODY.as_bytes(),
                    late
                ),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn a_signature_seen_before_is_a_replay() {
        let replays = Replays::default();
        assert_eq!(replays.check("v0=ab", 100, 100), Ok(()));
        assert_eq!(
            replays.check("v0=ab", 100, 101),
            Err(SignatureError::Replayed)
        );
        assert_eq!(replays.check("v0=cd", 100, 101), Ok(()));
    }

    /// Checked against Python's `hmac.new(b"s3cret", b"1700000000.{}", sha256).hexdigest()`.
    #[test]
    fn webhook_signature_is_hmac_of_time_dot_body() {
        assert_eq!(
            webhook(b"s3cret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
    }
}
