//! ID token validation (OpenID Connect Core §3.1.3.7), done in full before a session exists:
//!
//! - the signature, with an algorithm the provider advertises and that is asymmetric
//!   ([`super::discovery::ASYMMETRIC`]: never `none`, never HMAC), by the provider's key for
//!   the token's `kid` ([`super::jwks`]);
//! - `iss` is the configured issuer, byte for byte; `aud` contains the client id, and when
//!   it holds several audiences `azp` must be the client id (an `azp` is checked whenever
//!   present);
//! - `exp` not passed and `nbf` reached, `iat` present and not in the future, each with
//!   [`SKEW_SECS`] of clock skew;
//! - `nonce` is the one this login sent (a replayed or injected token carries another), in
//!   the code flow; the device flow (RFC 8628) has no authorization request that could
//!   carry a nonce, and its token comes straight from the token endpoint to this server
//!   over TLS in answer to a device code only this server holds, so there is none to check;
//! - `auth_time` is no older than the `max_age` the login sent, when it sent one;
//! - `sub` is present.

use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

use super::OidcError;
use super::discovery::Provider;
use super::fetch::Fetcher;
use super::jwks::KeyCache;

/// Clock skew allowed between the provider and this server.
pub const SKEW_SECS: u64 = 60;

/// What the token must say, besides its signature.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The code flow's nonce; `None` for the device flow, which has none.
    pub nonce: Option<&'a str>,
}

/// A validated ID token's claims.
#[derive(Debug)]
pub struct IdClaims {
    pub subject: String,
    pub issuer: String,
    pub auth_time: Option<u64>,
    /// Every claim, for the configured name and groups claims.
    pub all: Map<String, Value>,
}

/// Validates `token` (compact JWS) against `provider`'s keys and `expected`, at `now`
/// (seconds since the epoch).
pub async fn verify(
    token: &str,
    provider: &Provider,
    keys: &KeyCache,
    fetcher: &Fetcher,
    expected: &Expected<'_>,
    now: u64,
) -> Result<IdClaims, OidcError> {
    let bad = |why: String| OidcError::Token(why);
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| bad(format!("the ID token is not a signed JWT: {e}")))?;
    let alg = header.alg;
    if !provider.algorithms.contains(&alg) {
        return Err(bad(format!(
            "the ID token is signed with {alg:?}, which is not one of the provider's asymmetric algorithms ({:?})",
            provider.algorithms
        )));
    }
    let jwk = keys.key_for(fetcher, header.kid.as_deref(), alg).await?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| bad(format!("the provider's key is unusable: {e}")))?;
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.leeway = SKEW_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| bad(format!("the ID token was refused: {e}")))?;
    check_claims(data.claims, expected, now)
}

/// The checks `jsonwebtoken` does not make: `iat`, `azp`, `nonce`, `sub`, `auth_time`.
fn check_claims(
    claims: Map<String, Value>,
    expected: &Expected<'_>,
    now: u64,
) -> Result<IdClaims, OidcError> {
    let bad = |why: &str| OidcError::Token(format!("the ID token was refused: {why}"));
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("it has no `iat`"))?;
    if iat > now + SKEW_SECS {
        return Err(bad("it was issued in the future (`iat`)"));
    }
    let audiences = match claims.get("aud") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    match claims.get("azp").map(Value::as_str) {
        Some(Some(azp)) if azp == expected.client_id => {}
        Some(_) => return Err(bad("it was issued to another party (`azp`)")),
        None if audiences > 1 => {
            return Err(bad("it has several audiences and no `azp`"));
        }
        None => {}
    }
    if let Some(nonce) = expected.nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
    {
        return Err(bad("its `nonce` is not this sign-in's"));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("it has no `sub`"))?
        .to_owned();
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let auth_time = match claims.get("auth_time") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| bad("its `auth_time` is not a time"))?,
        ),
    };
    if auth_time.is_some_and(|t| t > now + SKEW_SECS) {
        return Err(bad("its `auth_time` is in the future"));
    }
    Ok(IdClaims {
        subject,
        issuer,
        auth_time,
        all: claims,
    })
}

/// The provider honoured a login's `max_age` (OpenID Connect Core §3.1.2.1): the token
/// names an `auth_time` within it, with [`SKEW_SECS`] for the provider's clock.
pub fn check_max_age(claims: &IdClaims, max_age: Option<u64>, now: u64) -> Result<(), OidcError> {
    let Some(max_age) = max_age else {
        return Ok(());
    };
    match claims.auth_time {
        Some(t) if now.saturating_sub(t) <= max_age + SKEW_SECS => Ok(()),
        Some(t) => Err(OidcError::Token(format!(
            "the identity provider did not make you sign in again: the sign-in it reports is {} s old, more than the {max_age} s asked (`max_age`)",
            now.saturating_sub(t)
        ))),
        None => Err(OidcError::Token(
            "the ID token has no `auth_time`, so the sign-in's age (`max_age`) cannot be checked"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const EXPECTED: Expected<'static> = Expected {
        issuer: "https://idp",
        client_id: "gk",
        nonce: Some("n1"),
    };

    #[test]
    fn azp_nonce_and_iat_are_checked() {
        let ok = json!({"sub": "a", "iss": "https://idp", "aud": "gk", "iat": 1000, "nonce": "n1"});
        assert!(check_claims(claims(ok.clone()), &EXPECTED, 1000).is_ok());
        let mut several = ok.clone();
        several["aud"] = json!(["gk", "other"]);
        assert!(check_claims(claims(several.clone()), &EXPECTED, 1000).is_err());
        several["azp"] = json!("gk");
        assert!(check_claims(claims(several.clone()), &EXPECTED, 1000).is_ok());
        several["azp"] = json!("other");
        assert!(check_claims(claims(several), &EXPECTED, 1000).is_err());
        let mut nonce = ok.clone();
        nonce["nonce"] = json!("n2");
        assert!(check_claims(claims(nonce), &EXPECTED, 1000).is_err());
        // Issued more than the skew in the future.
        assert!(check_claims(claims(ok.clone()), &EXPECTED, 1000 - SKEW_SECS - 1).is_err());
        assert!(check_claims(claims(ok), &EXPECTED, 1000 - SKEW_SECS).is_ok());
    }
}
