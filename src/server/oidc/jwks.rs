//! The provider's signing keys (its JWK Set), fetched once and cached.
//!
//! Providers rotate keys by publishing a new one under a new `kid` and signing with it. A
//! token whose `kid` is not in the cache makes one refetch, and such refetches are limited
//! to one per [`REFETCH_EVERY`]: a stream of tokens with made-up `kid`s must not turn the
//! service into a load generator against its provider. The whole set is also refreshed when
//! older than [`MAX_AGE`], so that withdrawn keys stop being trusted.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use serde::Deserialize;

use super::OidcError;
use super::fetch::Fetcher;

/// The shortest time between two refetches for an unknown `kid`.
pub const REFETCH_EVERY: Duration = Duration::from_secs(30);
/// How long a fetched set is trusted before it is fetched again.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Cached {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
    /// When a refetch for an unknown `kid` last happened.
    refetched: Option<Instant>,
}

pub struct KeyCache {
    uri: String,
    cached: tokio::sync::Mutex<Cached>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl KeyCache {
    pub fn new(uri: String) -> KeyCache {
        KeyCache {
            uri,
            cached: tokio::sync::Mutex::new(Cached::default()),
        }
    }

    /// The key that verifies a token signed with `alg` under `kid`.
    pub async fn key_for(
        &self,
        fetcher: &Fetcher,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Jwk, OidcError> {
        // Held across a fetch: concurrent logins wait for one fetch rather than make many.
        let mut cached = self.cached.lock().await;
        if cached.fetched.is_none_or(|t| t.elapsed() >= MAX_AGE) {
            cached.keys = self.fetch(fetcher).await?;
            cached.fetched = Some(Instant::now());
        }
        if let Some(key) = pick(&cached.keys, kid, alg)? {
            return Ok(key);
        }
        if cached
            .refetched
            .is_none_or(|t| t.elapsed() >= REFETCH_EVERY)
        {
            cached.refetched = Some(Instant::now());
            cached.keys = self.fetch(fetcher).await?;
            cached.fetched = Some(Instant::now());
            if let Some(key) = pick(&cached.keys, kid, alg)? {
                return Ok(key);
            }
        }
        Err(OidcError::Token(format!(
            "the provider publishes no {alg:?} key{}",
            kid.map(|k| format!(" with kid `{}`", crate::render::Safe(k)))
                .unwrap_or_default()
        )))
    }

    async fn fetch(&self, fetcher: &Fetcher) -> Result<Vec<Jwk>, OidcError> {
        let set: RawSet = fetcher.get_json(&self.uri).await?;
        // One key of a kind this library does not know (an encryption key, a new curve)
        // must not hide the others: each is read on its own, and those that do not read
        // are skipped.
        let keys: Vec<Jwk> = set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter(|k| {
                k.common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|u| *u == PublicKeyUse::Signature)
            })
            .collect();
        tracing::info!(uri = %self.uri, keys = keys.len(), "fetched the provider's signing keys");
        Ok(keys)
    }
}

/// The key among `keys` for `kid` and `alg`: by `kid` when the token names one, else the
/// only key that fits `alg` (several would be ambiguous). A key that declares another
/// algorithm, or whose type does not fit `alg`, never verifies.
fn pick(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Result<Option<Jwk>, OidcError> {
    let fits = |k: &&Jwk| {
        let declared = k
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok());
        declared.is_none_or(|d| d == alg) && kind_fits(&k.algorithm, alg)
    };
    match kid {
        Some(kid) => Ok(keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(fits)
            .cloned()),
        None => {
            let mut candidates = keys.iter().filter(fits);
            match (candidates.next(), candidates.next()) {
                (Some(one), None) => Ok(Some(one.clone())),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(OidcError::Token(
                    "the ID token names no key (`kid`) and the provider has several that fit"
                        .into(),
                )),
            }
        }
    }
}

fn kind_fits(params: &AlgorithmParameters, alg: Algorithm) -> bool {
    use Algorithm::*;
    match params {
        AlgorithmParameters::RSA(_) => {
            matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
        }
        AlgorithmParameters::EllipticCurve(_) => matches!(alg, ES256 | ES384),
        AlgorithmParameters::OctetKeyPair(_) => alg == EdDSA,
        // A symmetric key is never a provider's signing key here.
        AlgorithmParameters::OctetKey(_) => false,
    }
}
