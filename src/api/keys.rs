//! Key rotation as clients see it: the service publishes its current key and the one before
//! it, and the previous key signs an endorsement of its successor. A client pinned to the
//! previous key believes the current one only through that signature.
//!
//! Trust flows forward from the pin and nowhere else: [`trusted_key`] starts at the pinned
//! key and follows endorsements, each checked with the key before it, to the key a token
//! names. A JWK Set is fetched from the service (or from whatever answers in its place), so
//! nothing in it is believed until a signature by an already trusted key vouches for it;
//! a key no chain reaches is refused, whatever the set says.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::verdict::{JwkSet, thumbprint};

/// The first line of the signed message: its own domain, so that no verdict, checkpoint or
/// other signature by the key can be read as an endorsement (those are JWS inputs, which
/// start with a base64url header and never with this text).
pub const DOMAIN: &str = "gatekeep key successor v1";

/// An endorsement of a key by its predecessor, as the JWK of the endorsed key carries it
/// (`gatekeep_endorsed_by`: other JWK Set readers ignore the member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    /// The predecessor's thumbprint.
    pub kid: String,
    /// Ed25519 by the predecessor over [`message`]`(kid, endorsed kid)`, base64url.
    pub sig: String,
}

/// What a predecessor signs to vouch for its successor.
pub fn message(previous_kid: &str, next_kid: &str) -> String {
    format!("{DOMAIN}\n{previous_kid}\n{next_kid}")
}

/// `previous` endorses `next`.
pub fn endorse(previous: &SigningKey, next: &VerifyingKey) -> Endorsement {
    let kid = thumbprint(&previous.verifying_key());
    let sig = previous.sign(message(&kid, &thumbprint(next)).as_bytes());
    Endorsement {
        kid,
        sig: B64.encode(sig.to_bytes()),
    }
}

/// Why a key was not believed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the endorsement is by key {got}, not by {want}")]
    OtherEndorser { got: String, want: String },
    #[error("the endorsement's signature does not verify")]
    BadSignature,
    #[error(
        "it is signed by key {kid}, not the pinned key {pinned}, and the pinned key did not endorse it ({why})\nhint: if the service's key was rotated more than once since this client pinned it, or after a suspected compromise, check the new thumbprint with its operator and re-pin: `gatekeep login --server URL --key {kid}` (or update [server] key in /etc/gatekeep/config.toml)"
    )]
    Unendorsed {
        kid: String,
        pinned: String,
        why: String,
    },
}

/// Checks that `endorsement` is `previous`'s signature vouching for `next`.
pub fn verify_endorsement(
    previous: &VerifyingKey,
    next: &VerifyingKey,
    endorsement: &Endorsement,
) -> Result<(), KeyError> {
    let kid = thumbprint(previous);
    if endorsement.kid != kid {
        return Err(KeyError::OtherEndorser {
            got: endorsement.kid.clone(),
            want: kid,
        });
    }
    let sig: [u8; 64] = B64
        .decode(&endorsement.sig)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(KeyError::BadSignature)?;
    previous
        .verify_strict(
            message(&kid, &thumbprint(next)).as_bytes(),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| KeyError::BadSignature)
}

/// The key named `kid`, if a chain of endorsements in `jwks` leads to it from `pinned`
/// (at most one step per published key); the pinned key itself when `kid` is its own.
pub fn trusted_key(
    pinned: &VerifyingKey,
    jwks: &JwkSet,
    kid: &str,
) -> Result<VerifyingKey, KeyError> {
    let unendorsed = |why: String| KeyError::Unendorsed {
        kid: kid.to_owned(),
        pinned: thumbprint(pinned),
        why,
    };
    let mut trusted = *pinned;
    for _ in 0..=jwks.keys.len() {
        if thumbprint(&trusted) == kid {
            return Ok(trusted);
        }
        // The key the trusted one vouched for, if the set has one whose endorsement checks.
        let endorser = thumbprint(&trusted);
        let next = jwks.keys.iter().find_map(|jwk| {
            let key = jwk.key()?;
            let by = jwk.gatekeep_endorsed_by.as_ref()?;
            (by.kid == endorser && verify_endorsement(&trusted, &key, by).is_ok()).then_some(key)
        });
        match next {
            Some(next) => trusted = next,
            None => {
                let published = jwks.keys.iter().any(|j| j.kid == kid);
                return Err(unendorsed(if published {
                    "the service publishes it, but no valid endorsement chain leads to it from the pinned key".into()
                } else {
                    "the service does not publish it".into()
                }));
            }
        }
    }
    Err(unendorsed("the endorsements go round in a circle".into()))
}

/// The published key no other published key's (valid) endorsement supersedes: the service's
/// current key, what `gatekeep login` pins. `None` when that is not exactly one key.
pub fn current_key(jwks: &JwkSet) -> Option<VerifyingKey> {
    let keys: Vec<(VerifyingKey, Option<&Endorsement>)> = jwks
        .keys
        .iter()
        .filter_map(|j| Some((j.key()?, j.gatekeep_endorsed_by.as_ref())))
        .collect();
    let superseded = |key: &VerifyingKey| {
        keys.iter().any(|(next, by)| {
            by.is_some_and(|by| next != key && verify_endorsement(key, next, by).is_ok())
        })
    };
    let mut current = keys.iter().map(|(k, _)| *k).filter(|k| !superseded(k));
    match (current.next(), current.next()) {
        (Some(key), None) => Some(key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::verdict::Jwk;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn jwk(k: &SigningKey, by: Option<&SigningKey>) -> Jwk {
        let mut jwk = Jwk::from_key(&k.verifying_key());
        jwk.gatekeep_endorsed_by = by.map(|p| endorse(p, &k.verifying_key()));
        jwk
    }

    #[test]
    fn an_endorsement_verifies_only_for_its_pair() {
        let (a, b, c) = (key(1), key(2), key(3));
        let e = endorse(&a, &b.verifying_key());
        verify_endorsement(&a.verifying_key(), &b.verifying_key(), &e).unwrap();
        // For another successor, or claimed by another predecessor.
        assert_eq!(
            verify_endorsement(&a.verifying_key(), &c.verifying_key(), &e),
            Err(KeyError::BadSignature)
        );
        assert!(matches!(
            verify_endorsement(&c.verifying_key(), &b.verifying_key(), &e),
            Err(KeyError::OtherEndorser { .. })
        ));
        // The successor cannot endorse itself in the predecessor's name.
        let mut forged = endorse(&b, &b.verifying_key());
        forged.kid = thumbprint(&a.verifying_key());
        assert_eq!(
            verify_endorsement(&a.verifying_key(), &b.verifying_key(), &forged),
            Err(KeyError::BadSignature)
        );
        // Not base64url, or not 64 bytes.
        for sig in ["!!", "AAAA"] {
            let bad = Endorsement {
                kid: e.kid.clone(),
                sig: sig.into(),
            };
            assert_eq!(
                verify_endorsement(&a.verifying_key(), &b.verifying_key(), &bad),
                Err(KeyError::BadSignature)
            );
        }
    }

    /// A signature by the right key over anything but the domain-separated message in its
    /// order is not an endorsement.
    #[test]
    fn wrong_domain_or_swapped_kids_are_refused() {
        let (a, b) = (key(1), key(2));
        let (ka, kb) = (
            thumbprint(&a.verifying_key()),
            thumbprint(&b.verifying_key()),
        );
        let signed = |text: String| Endorsement {
            kid: ka.clone(),
            sig: B64.encode(a.sign(text.as_bytes()).to_bytes()),
        };
        for text in [
            format!("gatekeep key successor v2\n{ka}\n{kb}"),
            format!("\n{ka}\n{kb}"),
            format!("{ka}\n{kb}"),
            format!("{DOMAIN}\n{kb}\n{ka}"),
            format!("{DOMAIN}\n{ka}\n{kb}\n"),
            format!("{DOMAIN} {ka} {kb}"),
        ] {
            assert_eq!(
                verify_endorsement(
                    &a.verifying_key(),
                    &b.verifying_key(),
                    &signed(text.clone())
                ),
                Err(KeyError::BadSignature),
                "{text:?}"
            );
        }
        verify_endorsement(
            &a.verifying_key(),
            &b.verifying_key(),
            &signed(message(&ka, &kb)),
        )
        .unwrap();
    }

    #[test]
    fn trust_follows_endorsements_from_the_pin_only() {
        let (k0, k1, k2, evil) = (key(1), key(2), key(3), key(9));
        let pin = k0.verifying_key();
        let kid = |k: &SigningKey| thumbprint(&k.verifying_key());
        // Current k1 endorsed by previous k0 (the pin).
        let set = JwkSet {
            keys: vec![jwk(&k1, Some(&k0)), jwk(&k0, None)],
        };
        assert_eq!(trusted_key(&pin, &set, &kid(&k1)), Ok(k1.verifying_key()));
        assert_eq!(trusted_key(&pin, &set, &kid(&k0)), Ok(pin));
        assert_eq!(current_key(&set), Some(k1.verifying_key()));

        // Two rotations later: k2 endorsed by k1, and k1's own endorsement is gone.
        let later = JwkSet {
            keys: vec![jwk(&k2, Some(&k1)), jwk(&k1, None)],
        };
        let e = trusted_key(&pin, &later, &kid(&k2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&kid(&k2)) && e.contains(&kid(&k0)) && e.contains("--key"),
            "{e}"
        );
        // With the chain published in full, two steps are followed.
        let chain = JwkSet {
            keys: vec![jwk(&k2, Some(&k1)), jwk(&k1, Some(&k0))],
        };
        assert_eq!(trusted_key(&pin, &chain, &kid(&k2)), Ok(k2.verifying_key()));

        // An attacker's key: unendorsed, self-endorsed, endorsed by a key of its own, or
        // with the pin's kid over a signature the pin never made.
        let mut claimed = jwk(&evil, Some(&evil));
        claimed.gatekeep_endorsed_by.as_mut().unwrap().kid = kid(&k0);
        for forged in [
            jwk(&evil, None),
            jwk(&evil, Some(&evil)),
            jwk(&evil, Some(&k2)),
            claimed,
        ] {
            let set = JwkSet {
                keys: vec![forged, jwk(&k0, None), jwk(&k2, Some(&k1))],
            };
            let e = trusted_key(&pin, &set, &kid(&evil)).unwrap_err();
            assert!(matches!(e, KeyError::Unendorsed { .. }), "{e}");
        }
        // A key the set does not publish at all.
        let e = trusted_key(&pin, &set, &kid(&evil))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not publish"), "{e}");
    }

    #[test]
    fn the_current_key_is_the_one_not_superseded() {
        let (k0, k1) = (key(1), key(2));
        assert_eq!(
            current_key(&JwkSet {
                keys: vec![jwk(&k0, None)]
            }),
            Some(k0.verifying_key())
        );
        // Order does not matter; an endorsement that does not verify supersedes nothing.
        let set = JwkSet {
            keys: vec![jwk(&k0, None), jwk(&k1, Some(&k0))],
        };
        assert_eq!(current_key(&set), Some(k1.verifying_key()));
        let mut bad = jwk(&k1, Some(&k0));
        bad.gatekeep_endorsed_by.as_mut().unwrap().sig = B64.encode([0u8; 64]);
        assert_eq!(
            current_key(&JwkSet {
                keys: vec![jwk(&k0, None), bad]
            }),
            None
        );
    }
}
