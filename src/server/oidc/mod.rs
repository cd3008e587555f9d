//! Approvers sign in with the organisation's OpenID Connect provider (Okta, Entra ID, any
//! conforming one): the authorization code flow with PKCE (S256), `state` and `nonce`, for
//! the browser; the validated ID token becomes an approver session of this service.
//!
//! Why not the `openidconnect` crate: version 4 verifies signatures with RustCrypto (`rsa`,
//! `p256`, `p384`, a second `ed25519-dalek`, `hmac`, `sha2` 0.10) and brings `chrono` and
//! `serde_with`, a second crypto stack beside the ring that rustls already uses here, and
//! it needs an HTTP client adapter either way. The protocol pieces it would give are small
//! and are done here by the book instead: discovery ([`discovery`]), the JWKS with rotation
//! by `kid` ([`jwks`]), ID token validation ([`id_token`], signatures by `jsonwebtoken` 9,
//! whose only backend is ring), and the code flow ([`flow`]). HTTP goes through the ureq
//! and rustls client the binary already has ([`fetch`]).

pub mod cli_login;
pub mod device;
pub mod discovery;
pub mod fetch;
pub mod flow;
pub mod id_token;
pub mod jwks;
pub mod routes;
pub mod session;

use std::time::Duration;

use serde_json::Value;

use super::config::OidcConfig;
use super::event::IdpLogin;
use super::names;
use crate::api::protocol::{Identity, Role};
use discovery::Provider;
use fetch::Fetcher;
use jwks::KeyCache;

/// How long an approver session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered something unusable.
    #[error("identity provider: {0}")]
    Provider(String),
    /// The ID token failed validation.
    #[error("{0}")]
    Token(String),
    /// The browser's side of the flow is wrong: unknown or reused `state`, an error from
    /// the provider, a missing code.
    #[error("{0}")]
    Flow(String),
    /// The person signed in but may not approve here.
    #[error("{0}")]
    NotAllowed(String),
}

/// The provider as this service uses it: settings, discovered metadata (fetched on first
/// use, so that a provider that is down does not stop the service from serving requesters),
/// keys and the logins in progress.
pub struct Oidc {
    pub config: OidcConfig,
    /// `public_url + "/auth/callback"`.
    pub redirect_uri: String,
    /// Whether cookies get `Secure` (public_url is https).
    pub secure_cookies: bool,
    fetcher: Fetcher,
    provider: tokio::sync::OnceCell<(Provider, KeyCache)>,
    pub pending: flow::PendingLogins,
    /// Terminal sign-ins in progress (device flow and loopback redirect).
    pub cli: cli_login::CliLogins,
}

impl Oidc {
    pub fn new(config: OidcConfig, public_url: &url::Url) -> Result<Oidc, OidcError> {
        let base = public_url.as_str().trim_end_matches('/');
        Ok(Oidc {
            config,
            redirect_uri: format!("{base}/auth/callback"),
            secure_cookies: public_url.scheme() == "https",
            fetcher: Fetcher::new()?,
            provider: tokio::sync::OnceCell::new(),
            pending: flow::PendingLogins::default(),
            cli: cli_login::CliLogins::default(),
        })
    }

    /// The discovered provider and its key cache (discovered once; a failure is retried
    /// on the next use).
    async fn provider(&self) -> Result<&(Provider, KeyCache), OidcError> {
        self.provider
            .get_or_try_init(|| async {
                let provider = discovery::discover(&self.fetcher, &self.config.issuer).await?;
                let keys = KeyCache::new(provider.metadata.jwks_uri.clone());
                tracing::info!(issuer = %self.config.issuer, algorithms = ?provider.algorithms, "discovered the identity provider");
                Ok((provider, keys))
            })
            .await
    }

    /// Validates an ID token for this client: what a login's callback and the tests use.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: u64,
    ) -> Result<id_token::IdClaims, OidcError> {
        let (provider, keys) = self.provider().await?;
        let expected = id_token::Expected {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce: Some(nonce),
        };
        id_token::verify(token, provider, keys, &self.fetcher, &expected, now).await
    }

    /// Validates an ID token from the device flow: every check of
    /// [`Oidc::verify_id_token`] but the nonce, which that flow does not have.
    pub async fn verify_device_id_token(
        &self,
        token: &str,
        now: u64,
    ) -> Result<id_token::IdClaims, OidcError> {
        let (provider, keys) = self.provider().await?;
        let expected = id_token::Expected {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            nonce: None,
        };
        id_token::verify(token, provider, keys, &self.fetcher, &expected, now).await
    }

    /// The approver a validated ID token makes: name from `name_claim`, groups from
    /// `groups_claim`; refused when `allowed_groups` is set and none of them is held.
    pub fn approver(&self, claims: &id_token::IdClaims) -> Result<(Identity, IdpLogin), OidcError> {
        let name = match claims.all.get(&self.config.name_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(OidcError::NotAllowed(format!(
                    "the provider's ID token has no `{}` claim to name the approver\nhint: set `[oidc] name_claim` to a claim it sends (email, preferred_username, sub)",
                    self.config.name_claim
                )));
            }
        };
        names::validate("the approver's name", &name).map_err(OidcError::NotAllowed)?;
        let groups: Vec<String> = match claims.all.get(&self.config.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|g| names::validate("the group", g).is_ok())
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) if names::validate("the group", one).is_ok() => {
                vec![one.clone()]
            }
            _ => Vec::new(),
        };
        let allowed = &self.config.allowed_groups;
        if !allowed.is_empty()
            && !groups
                .iter()
                .any(|g| allowed.iter().any(|a| names::same(g, a)))
        {
            return Err(OidcError::NotAllowed(format!(
                "{name} signed in, but is in none of the groups that may approve here ({})",
                allowed.join(", ")
            )));
        }
        Ok((
            Identity {
                name,
                role: Role::Approver,
                groups,
                on_behalf_of: None,
            },
            IdpLogin {
                subject: claims.subject.clone(),
                issuer: claims.issuer.clone(),
                auth_time: claims.auth_time,
            },
        ))
    }
}
