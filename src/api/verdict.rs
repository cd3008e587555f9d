//! Signed verdicts: the approval service's final word on one request, as a compact JWS
//! (RFC 7515) signed with Ed25519 (`alg: EdDSA`, RFC 8037), and the JWK Set that publishes
//! the service's key.
//!
//! Written directly on `ed25519-dalek` rather than a general JWT library: a verdict has one
//! algorithm and one key type, so everything else a JWT library accepts (`none`, HMAC with a
//! public key as the secret, embedded `jwk` headers) is a way to forge one. [`verify`] takes
//! the pinned key and nothing from the token decides how it is checked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

/// The JWS `typ` of a verdict, so that no other token signed by the key passes as one.
pub const TYP: &str = "gatekeep-verdict+jwt";

/// The final state of a request, as signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinalState {
    Approved,
    Denied,
    Expired,
    Cancelled,
}

impl std::fmt::Display for FinalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FinalState::Approved => "approved",
            FinalState::Denied => "denied",
            FinalState::Expired => "expired",
            FinalState::Cancelled => "cancelled",
        })
    }
}

/// One approver's signature on the request, as the verdict records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver's identity name.
    pub name: String,
    /// `approved` or `denied`.
    pub decision: String,
    /// RFC 3339.
    pub at: String,
    /// Where they decided: `cli`, `api` (later `slack`, `teams`, `web`).
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The approver's groups among those the request asked for (what their approval
    /// covers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The signed payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The request id the client chose.
    pub rid: String,
    /// SHA-256 of the exact argv, working directory and requester (see
    /// [`crate::audit::command_digest`]).
    pub digest: String,
    /// The client's one-time nonce for this request.
    pub nonce: String,
    /// SHA-256 (hex) of what approvers were shown: the canonical encoding of
    /// [`crate::api::protocol::Shown`]. Absent only in verdicts from servers that
    /// predate it, which [`Expected::check`] refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown: Option<String>,
    pub decision: FinalState,
    pub approvers: Vec<Approval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not valid after, seconds since the epoch.
    pub exp: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Why a verdict was not accepted. Each is treated as a denial.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerdictError {
    #[error("the verdict is not a compact JWS (three base64url parts)")]
    Malformed,
    #[error("the verdict's header is not an EdDSA {TYP} header")]
    BadHeader,
    #[error("the verdict was signed by key {0}, not the pinned key")]
    OtherKey(String),
    #[error("the verdict's signature does not verify against the pinned key")]
    BadSignature,
    #[error("the verdict's payload cannot be read: {0}")]
    BadPayload(String),
    #[error("the verdict is for request {got}, not {want}")]
    OtherRequest { got: String, want: String },
    #[error("the verdict is for a different command (digest {got}, expected {want})")]
    OtherCommand { got: String, want: String },
    #[error("the verdict's nonce does not match this request's")]
    WrongNonce,
    #[error(
        "the approvers were shown something other than what this client sent (shown digest {got}, expected {want}): a proxy or the service changed the command, reason or context a person read, so the approval does not cover this command\nhint: check the `proxy` and `url` in the gatekeep config, and use https to the approval service"
    )]
    OtherShown { got: String, want: String },
    #[error("the verdict expired at {exp} (now {now})")]
    Expired { exp: u64, now: u64 },
    #[error("the verdict was issued in the future ({iat}, now {now}): check the clocks")]
    FromTheFuture { iat: u64, now: u64 },
}

/// How far the server's clock may run ahead of the client's.
const CLOCK_SKEW_SECS: u64 = 60;

/// The RFC 7638 thumbprint of an Ed25519 public key: the key id and the fingerprint people
/// compare when they pin it.
pub fn thumbprint(key: &VerifyingKey) -> String {
    // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        B64.encode(key.to_bytes())
    );
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// A public key as a JWK (RFC 8037 §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default)]
    pub kid: String,
    #[serde(default)]
    pub alg: String,
    #[serde(default, rename = "use")]
    pub use_: String,
    /// The predecessor's signature vouching for this key (see [`super::keys`]); absent on
    /// a key that succeeds none the service still holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gatekeep_endorsed_by: Option<super::keys::Endorsement>,
}

impl Jwk {
    pub fn from_key(key: &VerifyingKey) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: B64.encode(key.to_bytes()),
            kid: thumbprint(key),
            alg: "EdDSA".into(),
            use_: "sig".into(),
            gatekeep_endorsed_by: None,
        }
    }

    /// The key, if this is an Ed25519 JWK.
    pub fn key(&self) -> Option<VerifyingKey> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return None;
        }
        public_key(&self.x)
    }
}

/// A JWK Set (`/.well-known/jwks.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// Reads a base64url Ed25519 public key.
pub fn public_key(x: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = B64.decode(x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Signs `claims` as a compact JWS. Never signs anything but the claims: an encoding
/// failure is an error, not an empty payload.
pub fn sign(claims: &Claims, key: &SigningKey) -> Result<String, serde_json::Error> {
    sign_typed(TYP, &serde_json::to_vec(claims)?, key)
}

/// Signs `payload` as a compact EdDSA JWS whose header says `typ`. Each kind of token the
/// service signs (verdicts, checkpoints of its audit chain) has its own `typ`, and each
/// verifier accepts only its own, so that one can never be passed off as the other.
pub(crate) fn sign_typed(
    typ: &str,
    payload: &[u8],
    key: &SigningKey,
) -> Result<String, serde_json::Error> {
    let header = Header {
        alg: "EdDSA".into(),
        typ: typ.into(),
        kid: thumbprint(&key.verifying_key()),
    };
    let header = B64.encode(serde_json::to_vec(&header)?);
    let payload = B64.encode(payload);
    let input = format!("{header}.{payload}");
    let signature = key.sign(input.as_bytes());
    Ok(format!("{input}.{}", B64.encode(signature.to_bytes())))
}

/// Checks the signature of `jws` against the pinned `key` and returns its claims, without
/// checking what they say (see [`Expected::check`]).
pub fn verify(jws: &str, key: &VerifyingKey) -> Result<Claims, VerdictError> {
    let payload = verify_typed(jws, TYP, key)?;
    serde_json::from_slice(&payload).map_err(|e| VerdictError::BadPayload(e.to_string()))
}

/// Checks that `jws` is a compact EdDSA JWS of type `typ` signed by `key`, and returns its
/// payload bytes. A token of another `typ` is [`VerdictError::BadHeader`].
pub(crate) fn verify_typed(
    jws: &str,
    typ: &str,
    key: &VerifyingKey,
) -> Result<Vec<u8>, VerdictError> {
    let mut parts = jws.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerdictError::Malformed);
    };
    let header: Header = B64
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(VerdictError::BadHeader)?;
    if header.alg != "EdDSA" || header.typ != typ {
        return Err(VerdictError::BadHeader);
    }
    if header.kid != thumbprint(key) {
        return Err(VerdictError::OtherKey(header.kid));
    }
    let signature: [u8; 64] = B64
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(VerdictError::Malformed)?;
    let signed = &jws[..jws.len() - jws.rsplit('.').next().map_or(0, |s| s.len() + 1)];
    // verify_strict rejects small-order keys and non-canonical signatures (malleability).
    key.verify_strict(signed.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| VerdictError::BadSignature)?;
    B64.decode(payload)
        .map_err(|e| VerdictError::BadPayload(e.to_string()))
}

/// What the client knows about its own request, to hold a verdict against.
#[derive(Clone, Debug)]
pub struct Expected<'a> {
    pub rid: &'a str,
    pub digest: &'a str,
    pub nonce: &'a str,
    /// The client's own [`crate::api::protocol::Shown::digest`] of what it sent.
    pub shown: &'a str,
    /// Seconds since the epoch.
    pub now: u64,
}

impl Expected<'_> {
    /// Verifies `jws` with the pinned key and checks that it is about this very request,
    /// command and run, and still valid.
    pub fn check(&self, jws: &str, key: &VerifyingKey) -> Result<Claims, VerdictError> {
        let claims = verify(jws, key)?;
        if claims.rid != self.rid {
            return Err(VerdictError::OtherRequest {
                got: claims.rid,
                want: self.rid.to_owned(),
            });
        }
        if claims.digest != self.digest {
            return Err(VerdictError::OtherCommand {
                got: claims.digest,
                want: self.digest.to_owned(),
            });
        }
        if claims.nonce != self.nonce {
            return Err(VerdictError::WrongNonce);
        }
        if claims.shown.as_deref() != Some(self.shown) {
            return Err(VerdictError::OtherShown {
                got: claims.shown.unwrap_or_else(|| "(none)".into()),
                want: self.shown.to_owned(),
            });
        }
        if self.now > claims.exp {
            return Err(VerdictError::Expired {
                exp: claims.exp,
                now: self.now,
            });
        }
        if claims.iat > self.now + CLOCK_SKEW_SECS {
            return Err(VerdictError::FromTheFuture {
                iat: claims.iat,
                now: self.now,
            });
        }
        Ok(claims)
    }
}

/// `n` random bytes from the OS, base64url: request nonces, tokens, signing-key seeds.
pub fn random_b64(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(B64.encode(bytes))
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 §7.1 TEST 1–3 (../shared/vectors/README.md).
    #[test]
    fn signing_matches_rfc8032_vectors() {
        let vectors = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155
                 5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac
                 18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ];
        for (secret, public, message, signature) in vectors {
            let key = SigningKey::from_bytes(&hex(secret).try_into().unwrap());
            assert_eq!(key.verifying_key().to_bytes().to_vec(), hex(public));
            let sig = key.sign(&hex(message));
            assert_eq!(sig.to_bytes().to_vec(), hex(signature));
            key.verifying_key()
                .verify_strict(&hex(message), &sig)
                .unwrap();
        }
    }

    /// RFC 8037 §A.3: the thumbprint of the RFC 8032 TEST 1 public key.
    #[test]
    fn thumbprint_matches_rfc8037() {
        let key = public_key("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    fn claims() -> Claims {
        Claims {
            rid: "r1".into(),
            digest: "d1".into(),
            nonce: "n1".into(),
            shown: Some("s1".into()),
            decision: FinalState::Approved,
            approvers: vec![Approval {
                name: "bob".into(),
                decision: "approved".into(),
                at: "2026-11-21T10:00:00.000Z".into(),
                channel: "cli".into(),
                reason: None,
                groups: Vec::new(),
            }],
            reason: None,
            iat: 1000,
            exp: 1120,
        }
    }

    fn expected(now: u64) -> Expected<'static> {
        Expected {
            rid: "r1",
            digest: "d1",
            nonce: "n1",
            shown: "s1",
            now,
        }
    }

    #[test]
    fn a_verdict_verifies_only_for_its_request_key_and_time() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let pinned = key.verifying_key();
        let jws = sign(&claims(), &key).unwrap();
        assert_eq!(expected(1100).check(&jws, &pinned).unwrap(), claims());

        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            expected(1100).check(&sign(&claims(), &other).unwrap(), &pinned),
            Err(VerdictError::OtherKey(_))
        ));
        let e = |rid, digest, nonce| Expected {
            rid,
            digest,
            nonce,
            shown: "s1",
            now: 1100,
        };
        assert!(matches!(
            e("r2", "d1", "n1").check(&jws, &pinned),
            Err(VerdictError::OtherRequest { .. })
        ));
        assert!(matches!(
            e("r1", "d2", "n1").check(&jws, &pinned),
            Err(VerdictError::OtherCommand { .. })
        ));
        assert_eq!(
            e("r1", "d1", "n2").check(&jws, &pinned),
            Err(VerdictError::WrongNonce)
        );
        // What the approvers were shown differs from what this client sent, or the
        // verdict says nothing about it (a server from before the claim): refused.
        let other_shown = Expected {
            shown: "s2",
            ..expected(1100)
        };
        assert!(matches!(
            other_shown.check(&jws, &pinned),
            Err(VerdictError::OtherShown { .. })
        ));
        let unbound = sign(
            &Claims {
                shown: None,
                ..claims()
            },
            &key,
        )
        .unwrap();
        assert!(matches!(
            expected(1100).check(&unbound, &pinned),
            Err(VerdictError::OtherShown { .. })
        ));
        assert!(matches!(
            expected(1121).check(&jws, &pinned),
            Err(VerdictError::Expired { .. })
        ));
        assert!(matches!(
            expected(900).check(&jws, &pinned),
            Err(VerdictError::FromTheFuture { .. })
        ));
    }

    #[test]
    fn altered_or_reheadered_verdicts_fail() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let pinned = key.verifying_key();
        let jws = sign(&claims(), &key).unwrap();
        let parts: Vec<&str> = jws.split('.').collect();

        // A payload changed after signing (denied → approved is the attack; any change).
        let mut altered = claims();
        altered.decision = FinalState::Denied;
        let payload = B64.encode(serde_json::to_vec(&altered).unwrap());
        let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(verify(&forged, &pinned), Err(VerdictError::BadSignature));

        // alg none, and an HMAC header, are refused before any signature check.
        for alg in ["none", "HS256"] {
            let header = B64.encode(format!(
                r#"{{"alg":"{alg}","typ":"{TYP}","kid":"{}"}}"#,
                thumbprint(&pinned)
            ));
            let forged = format!("{header}.{}.{}", parts[1], parts[2]);
            assert_eq!(verify(&forged, &pinned), Err(VerdictError::BadHeader));
        }
        assert_eq!(
            verify(&format!("{}.{}", parts[0], parts[1]), &pinned),
            Err(VerdictError::Malformed)
        );
        // One flipped signature bit.
        let mut sig = B64.decode(parts[2]).unwrap();
        sig[10] ^= 1;
        let forged = format!("{}.{}.{}", parts[0], parts[1], B64.encode(sig));
        assert_eq!(verify(&forged, &pinned), Err(VerdictError::BadSignature));
    }

    #[test]
    fn jwk_round_trips() {
        let key = SigningKey::from_bytes(&[9; 32]).verifying_key();
        let jwk = Jwk::from_key(&key);
        assert_eq!(jwk.key(), Some(key));
        assert_eq!(jwk.kid, thumbprint(&key));
        let text = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
        assert!(text.contains(r#""use":"sig""#) && text.contains(r#""kty":"OKP""#));
    }
}
