//! Signed checkpoints of the approval service's audit chain: "at this time, the chain ended
//! with event `seq`, whose hash is `head`", signed with the service's Ed25519 key as a
//! compact JWS of its own type.
//!
//! A hash chain alone shows edits in the middle, but not events cut off its end, nor a tail
//! re-hashed after an edit by someone who can write the database. A checkpoint held
//! anywhere else (an exported file, a client's ledger) pins the chain up to its `seq`: the
//! chain must still hold that event with that hash, and only the key can sign a new one.
//!
//! Shared by the server (which signs) and the client (which checks what a verdict carries
//! against the pinned key); it uses the verdict's JWS code with a distinct `typ`
//! ([`TYP`]), so that a checkpoint is never accepted as a verdict, nor a verdict as a
//! checkpoint.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::api::verdict::{self, VerdictError};

/// The JWS `typ` of a checkpoint (a verdict's is [`verdict::TYP`]).
pub const TYP: &str = "gatekeep-checkpoint+jwt";

/// What a checkpoint signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The sequence number of the chain's last event when it was signed.
    pub seq: i64,
    /// That event's hash.
    pub head: String,
    /// When it was signed, RFC 3339 UTC.
    pub time: String,
    /// The signing key's thumbprint (also in the JWS header).
    pub kid: String,
}

/// Why a checkpoint was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("the checkpoint is not a compact JWS (three base64url parts)")]
    Malformed,
    #[error("the token is not an EdDSA {TYP} (a verdict or another token is not a checkpoint)")]
    NotACheckpoint,
    #[error("the checkpoint was signed by key {0}, not the service's key")]
    OtherKey(String),
    #[error("the checkpoint's signature does not verify against the service's key")]
    BadSignature,
    #[error("the checkpoint's payload cannot be read: {0}")]
    BadPayload(String),
}

impl From<VerdictError> for CheckpointError {
    fn from(e: VerdictError) -> CheckpointError {
        match e {
            VerdictError::Malformed => CheckpointError::Malformed,
            VerdictError::OtherKey(kid) => CheckpointError::OtherKey(kid),
            VerdictError::BadSignature => CheckpointError::BadSignature,
            VerdictError::BadPayload(why) => CheckpointError::BadPayload(why),
            // Only the header and signature are checked on the way here.
            _ => CheckpointError::NotACheckpoint,
        }
    }
}

/// Signs a checkpoint of the chain ending at event `seq` with hash `head`, at `time`.
pub fn sign(
    seq: i64,
    head: &str,
    time: &str,
    key: &SigningKey,
) -> Result<(Claims, String), serde_json::Error> {
    let claims = Claims {
        seq,
        head: head.to_owned(),
        time: time.to_owned(),
        kid: verdict::thumbprint(&key.verifying_key()),
    };
    let jws = verdict::sign_typed(TYP, &serde_json::to_vec(&claims)?, key)?;
    Ok((claims, jws))
}

/// Checks that `jws` is a checkpoint signed by `key` and returns what it says.
pub fn verify(jws: &str, key: &VerifyingKey) -> Result<Claims, CheckpointError> {
    let payload = verdict::verify_typed(jws.trim(), TYP, key).map_err(|e| match e {
        VerdictError::BadHeader => CheckpointError::NotACheckpoint,
        other => other.into(),
    })?;
    let claims: Claims =
        serde_json::from_slice(&payload).map_err(|e| CheckpointError::BadPayload(e.to_string()))?;
    if claims.kid != verdict::thumbprint(key) {
        return Err(CheckpointError::OtherKey(claims.kid));
    }
    Ok(claims)
}

/// What the client keeps of the checkpoint a verdict carried: `None` when there is none (a
/// server from before checkpoints: the verdict alone is still checked), the JWS when it
/// verifies with the pinned `key`, and an error otherwise, which the client treats like a
/// verdict that does not verify.
pub fn accept(
    carried: Option<&str>,
    key: &VerifyingKey,
) -> Result<Option<String>, CheckpointError> {
    match carried {
        None => Ok(None),
        Some(jws) => verify(jws, key).map(|_| Some(jws.to_owned())),
    }
}

/// One line of an export (`gatekeep server audit checkpoints`, `gatekeep audit
/// checkpoints`): the signed checkpoint (`jws`) and, for people reading the file, what it
/// says. Only `jws` is believed when the file is read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub seq: i64,
    pub head: String,
    pub time: String,
    pub kid: String,
    pub jws: String,
}

impl Line {
    /// The export line of a checkpoint, from its JWS: the readable fields are read from the
    /// payload without checking the signature (the reader of the file checks it).
    pub fn of(jws: &str) -> Line {
        let claims = unverified_claims(jws);
        Line {
            seq: claims.as_ref().map_or(0, |c| c.seq),
            head: claims.as_ref().map(|c| c.head.clone()).unwrap_or_default(),
            time: claims.as_ref().map(|c| c.time.clone()).unwrap_or_default(),
            kid: claims.map(|c| c.kid).unwrap_or_default(),
            jws: jws.to_owned(),
        }
    }
}

/// What a checkpoint says, signature unchecked: for display and export only.
fn unverified_claims(jws: &str) -> Option<Claims> {
    use base64::Engine;
    let payload = jws.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads an export: one JSON object per line with a `jws` member (blank lines skipped).
/// Returns each line's number and JWS; a line that is not such an object is an error
/// naming it.
pub fn read_lines(text: &str) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(line).map_err(|e| {
            format!(
                "line {} is not a checkpoint line (a JSON object with `jws`, as `gatekeep server audit checkpoints` writes): {e}",
                i + 1
            )
        })?;
        out.push((i + 1, parsed.jws));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::verdict::{Approval, FinalState};

    #[test]
    fn a_checkpoint_verifies_with_its_key_only() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (claims, jws) = sign(12, &"ab".repeat(32), "2026-12-05T12:00:00.000Z", &key).unwrap();
        assert_eq!(verify(&jws, &key.verifying_key()).unwrap(), claims);
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            verify(&jws, &other.verifying_key()),
            Err(CheckpointError::OtherKey(_))
        ));
        // Signed by the other key but claiming this key's id in the header: bad signature.
        let (_, forged) = sign(12, "x", "t", &other).unwrap();
        assert!(verify(&forged, &key.verifying_key()).is_err());
    }

    /// The two kinds of tokens the key signs can never stand in for each other.
    #[test]
    fn a_checkpoint_is_not_a_verdict_and_a_verdict_is_not_a_checkpoint() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let pinned = key.verifying_key();
        let (_, checkpoint) = sign(3, "h", "t", &key).unwrap();
        assert_eq!(
            verdict::verify(&checkpoint, &pinned),
            Err(VerdictError::BadHeader)
        );
        let claims = verdict::Claims {
            rid: "r1".into(),
            digest: "d".into(),
            nonce: "n".into(),
            shown: Some("s".into()),
            decision: FinalState::Approved,
            approvers: vec![Approval {
                name: "bob".into(),
                decision: "approved".into(),
                at: "t".into(),
                channel: "cli".into(),
                reason: None,
                groups: Vec::new(),
            }],
            reason: None,
            iat: 1,
            exp: 2,
        };
        let verdict = verdict::sign(&claims, &key).unwrap();
        assert_eq!(
            verify(&verdict, &pinned),
            Err(CheckpointError::NotACheckpoint)
        );
    }

    #[test]
    fn the_client_keeps_a_checkpoint_only_when_it_verifies() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let pinned = key.verifying_key();
        let (_, good) = sign(9, "h9", "t", &key).unwrap();
        assert_eq!(accept(Some(&good), &pinned), Ok(Some(good.clone())));
        assert_eq!(accept(None, &pinned), Ok(None));
        let (_, forged) = sign(9, "h9", "t", &SigningKey::from_bytes(&[8; 32])).unwrap();
        assert!(matches!(
            accept(Some(&forged), &pinned),
            Err(CheckpointError::OtherKey(_))
        ));
        assert_eq!(
            accept(Some("not a jws"), &pinned),
            Err(CheckpointError::Malformed)
        );
    }

    #[test]
    fn export_lines_round_trip_and_bad_lines_are_named() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (claims, jws) = sign(5, "h5", "2026-12-05T12:00:00.000Z", &key).unwrap();
        let line = Line::of(&jws);
        assert_eq!((line.seq, line.head.as_str()), (5, "h5"));
        assert_eq!(line.kid, claims.kid);
        let text = format!("{}\n\n{}\n", serde_json::to_string(&line).unwrap(), "{}");
        let e = read_lines(&text).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let text = format!("{}\n", serde_json::to_string(&line).unwrap());
        assert_eq!(read_lines(&text).unwrap(), vec![(1, jws)]);
    }
}
