//! The authorization code flow (OpenID Connect Core §3.1) with PKCE (RFC 7636, S256 only)
//! for the browser.
//!
//! A login in progress is kept server-side under its `state`: the `nonce` the ID token must
//! carry and the PKCE verifier, which never leave this process. Each entry is taken (and so
//! removed) by the first callback that names it, and dies after [`LOGIN_TTL`]: a replayed
//! or forged callback finds nothing. The number kept is capped, so that unauthenticated
//! `GET /auth/login`s cannot grow memory without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Oidc, OidcError};
use crate::api::verdict::random_b64;

/// How long a person has to finish signing in at the provider.
pub const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Logins in progress kept at once; the oldest go first beyond it.
const MAX_PENDING: usize = 10_000;

/// What a login in progress holds until its callback.
struct PendingLogin {
    nonce: String,
    verifier: String,
    started: Instant,
    options: BeginOptions,
}

/// What a login asks besides signing in.
#[derive(Clone, Debug, Default)]
pub struct BeginOptions {
    /// `max_age` sent to the provider (step-up), and then checked against `auth_time`.
    pub max_age: Option<u64>,
    /// A terminal's sign-in by loopback redirect: where the browser goes at the end.
    pub loopback: Option<super::cli_login::Loopback>,
}

#[derive(Default)]
pub struct PendingLogins {
    logins: Mutex<HashMap<String, PendingLogin>>,
}

/// A login just begun: where to send the browser, and its `state` (also set in a cookie, to
/// tie the callback to the browser that started it).
pub struct Begun {
    pub state: String,
    pub location: String,
}

/// A login whose callback matched: the `nonce` to check and the PKCE verifier to send.
pub struct Taken {
    pub nonce: String,
    pub verifier: String,
    pub options: BeginOptions,
}

impl PendingLogins {
    fn insert(&self, state: String, login: PendingLogin) {
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        logins.retain(|_, l| l.started.elapsed() < LOGIN_TTL);
        if logins.len() >= MAX_PENDING
            && let Some(oldest) = logins
                .iter()
                .min_by_key(|(_, l)| l.started)
                .map(|(s, _)| s.clone())
        {
            logins.remove(&oldest);
        }
        logins.insert(state, login);
    }

    /// Takes the login of `state`: once, and only while it is fresh.
    pub(super) fn take(&self, state: &str) -> Option<Taken> {
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        let login = logins.remove(state)?;
        (login.started.elapsed() < LOGIN_TTL).then_some(Taken {
            nonce: login.nonce,
            verifier: login.verifier,
            options: login.options,
        })
    }
}

/// The provider's token response (the fields used).
#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    token_type: Option<String>,
}

impl Oidc {
    /// Starts a login: new `state`, `nonce` and PKCE verifier, and the provider's
    /// authorization URL carrying them (the verifier as its S256 challenge).
    pub async fn begin(&self, options: BeginOptions) -> Result<Begun, OidcError> {
        let (provider, _) = self.provider().await?;
        let random =
            |n| random_b64(n).map_err(|e| OidcError::Provider(format!("no randomness: {e}")));
        let state = random(32)?;
        let nonce = random(32)?;
        let verifier = random(32)?;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let scopes = self.scopes(provider);
        let mut location = url::Url::parse(&provider.metadata.authorization_endpoint)
            .map_err(|e| OidcError::Provider(format!("authorization_endpoint: {e}")))?;
        location
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(max_age) = options.max_age {
            location
                .query_pairs_mut()
                .append_pair("max_age", &max_age.to_string());
        }
        self.pending.insert(
            state.clone(),
            PendingLogin {
                nonce,
                verifier,
                started: Instant::now(),
                options,
            },
        );
        Ok(Begun {
            state,
            location: location.into(),
        })
    }

    /// Finishes a login from the callback's parameters: the `state` must be a login in
    /// progress (taken, so a second callback with it fails), `iss` (RFC 9207) the issuer
    /// when the provider sends it, and the code is exchanged (with the PKCE verifier) for an
    /// ID token that is then validated in full.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        iss: Option<&str>,
        now: u64,
    ) -> Result<(super::id_token::IdClaims, BeginOptions), OidcError> {
        let login = self.pending.take(state).ok_or_else(|| {
            OidcError::Flow(
                "this sign-in is unknown, already used or expired (`state`)\nhint: start again at /auth/login".into(),
            )
        })?;
        let (provider, _) = self.provider().await?;
        if let Some(iss) = iss
            && iss != self.config.issuer
        {
            return Err(OidcError::Flow(
                "the callback names another issuer (`iss`): refused as a mix-up".into(),
            ));
        }
        if iss.is_none()
            && provider
                .metadata
                .authorization_response_iss_parameter_supported
        {
            return Err(OidcError::Flow(
                "the provider promises `iss` in its callback and this one has none".into(),
            ));
        }
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("code_verifier", login.verifier),
        ];
        let authorization = self.client_auth(provider, &mut form);
        let answer: TokenResponse = self
            .fetcher
            .post_form(&provider.metadata.token_endpoint, form, authorization)
            .await?;
        if answer
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer") && !t.eq_ignore_ascii_case("dpop"))
        {
            return Err(OidcError::Provider(
                "the token endpoint answered an unknown token type".into(),
            ));
        }
        let id_token = answer.id_token.ok_or_else(|| {
            OidcError::Provider("the token endpoint answered without an ID token".into())
        })?;
        let claims = self.verify_id_token(&id_token, &login.nonce, now).await?;
        super::id_token::check_max_age(&claims, login.options.max_age, now)?;
        Ok((claims, login.options))
    }

    /// `openid`, plus what the provider offers of what names and groups people.
    pub(super) fn scopes<'a>(&'a self, provider: &super::discovery::Provider) -> Vec<&'a str> {
        let mut scopes = vec!["openid"];
        for wanted in ["email", "profile", self.config.groups_claim.as_str()] {
            let offered = provider
                .metadata
                .scopes_supported
                .as_ref()
                .is_none_or(|s| s.iter().any(|o| o == wanted));
            if offered && !scopes.contains(&wanted) && wanted != "roles" {
                scopes.push(wanted);
            }
        }
        scopes
    }

    /// This client's authentication at the provider: `client_secret_basic` (the default the
    /// spec gives) as the returned header, or `client_secret_post` added to `form` for a
    /// provider that says it does not take basic.
    pub(super) fn client_auth(
        &self,
        provider: &super::discovery::Provider,
        form: &mut Vec<(&'static str, String)>,
    ) -> Option<String> {
        let basic = provider
            .metadata
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_none_or(|m| m.iter().any(|m| m == "client_secret_basic"));
        if basic {
            Some(self.basic_auth())
        } else {
            form.push(("client_id", self.config.client_id.clone()));
            form.push((
                "client_secret",
                self.config.client_secret.expose().to_owned(),
            ));
            None
        }
    }

    /// `client_secret_basic` (RFC 6749 §2.3.1): id and secret form-encoded, then base64.
    fn basic_auth(&self) -> String {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!(
            "{}:{}",
            encode(&self.config.client_id),
            encode(self.config.client_secret.expose())
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}
