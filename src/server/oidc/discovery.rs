//! OpenID Connect Discovery 1.0: the provider's metadata, read from
//! `ISSUER/.well-known/openid-configuration` and checked before anything relies on it.

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::OidcError;
use super::fetch::Fetcher;

/// The algorithms an ID token may be signed with here: asymmetric only. `none` and the HMAC
/// family are never accepted, whatever the provider advertises (an HMAC "verified" with a
/// public key is the classic forgery).
pub const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The fields of the provider's metadata that the code flow uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// RFC 8628: where a terminal's sign-in starts; without it `gatekeep login --oidc`
    /// falls back to a loopback redirect.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// RFC 9207: the provider names itself in the redirect (`iss`), which is then checked.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// The provider as discovered and checked.
#[derive(Clone, Debug)]
pub struct Provider {
    pub metadata: Metadata,
    /// The advertised ID token algorithms that are also in [`ASYMMETRIC`].
    pub algorithms: Vec<Algorithm>,
}

/// Reads and checks the metadata of `issuer`.
pub async fn discover(fetcher: &Fetcher, issuer: &str) -> Result<Provider, OidcError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata: Metadata = fetcher.get_json(&url).await?;
    check(issuer, metadata)
}

fn check(issuer: &str, metadata: Metadata) -> Result<Provider, OidcError> {
    // Discovery §4.3: the issuer in the document is exactly the configured one.
    if metadata.issuer != issuer {
        return Err(OidcError::Provider(format!(
            "the provider's discovery document names the issuer `{}`, not the configured `{issuer}`",
            crate::render::Safe(&metadata.issuer)
        )));
    }
    for (what, url) in [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
    ] {
        crate::server::config::secure_url(url)
            .map_err(|why| OidcError::Provider(format!("the provider's {what}: {why}")))?;
    }
    if let Some(url) = &metadata.device_authorization_endpoint {
        crate::server::config::secure_url(url).map_err(|why| {
            OidcError::Provider(format!(
                "the provider's device_authorization_endpoint: {why}"
            ))
        })?;
    }
    if let Some(methods) = &metadata.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OidcError::Provider(
            "the provider does not support PKCE with S256, which gatekeep requires".into(),
        ));
    }
    // The spec makes the list required and RS256 always allowed; a provider that leaves
    // it out gets RS256 alone.
    let advertised: Vec<String> = if metadata.id_token_signing_alg_values_supported.is_empty() {
        vec!["RS256".into()]
    } else {
        metadata.id_token_signing_alg_values_supported.clone()
    };
    let algorithms: Vec<Algorithm> = advertised
        .iter()
        .filter_map(|a| a.parse::<Algorithm>().ok())
        .filter(|a| ASYMMETRIC.contains(a))
        .collect();
    if algorithms.is_empty() {
        return Err(OidcError::Provider(format!(
            "the provider signs ID tokens only with {}; gatekeep accepts asymmetric signatures only (RS*, PS*, ES256, ES384, EdDSA)",
            advertised.join(", ")
        )));
    }
    Ok(Provider {
        metadata,
        algorithms,
    })
}
