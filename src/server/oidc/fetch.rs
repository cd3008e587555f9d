//! HTTP to the OpenID provider (discovery, JWKS, token endpoint) with the client stack the
//! binary already has: ureq, blocking, on tokio's blocking pool, over gatekeep's own rustls
//! (ring) connector with the system's CA bundle. No second HTTP client, no second TLS stack.
//!
//! Redirects are not followed (a provider's endpoints are where its discovery says), proxies
//! from the environment are not used, answers are size-capped and time-limited.

use std::time::Duration;

use serde::de::DeserializeOwned;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, TcpConnector};

use super::OidcError;
use crate::approval::tls::{TlsConnector, client_config};

/// The most read from any provider answer (a JWKS with many keys is a few kB).
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

#[derive(Clone)]
pub struct Fetcher {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

impl Fetcher {
    pub fn new() -> Result<Fetcher, OidcError> {
        let tls = client_config(None, None).map_err(OidcError::Provider)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(15)))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ().chain(TcpConnector::default())
                .chain(TlsConnector { config: tls }),
            DefaultResolver::default(),
        );
        Ok(Fetcher { agent })
    }

    /// GETs `url` and reads its JSON answer (status 200 only).
    pub async fn get_json<T: DeserializeOwned + Send + 'static>(
        &self,
        url: &str,
    ) -> Result<T, OidcError> {
        let agent = self.agent.clone();
        let url = url.to_owned();
        blocking(move || {
            let answer = agent.get(&url).header("accept", "application/json").call();
            read_json(&url, answer)
        })
        .await
    }

    /// POSTs `form` (url-encoded) to `url` with HTTP Basic client authentication, and reads
    /// the JSON answer.
    pub async fn post_form<T: DeserializeOwned + Send + 'static>(
        &self,
        url: &str,
        form: Vec<(&'static str, String)>,
        basic: Option<String>,
    ) -> Result<T, OidcError> {
        let agent = self.agent.clone();
        let url = url.to_owned();
        blocking(move || {
            let mut request = agent.post(&url).header("accept", "application/json");
            if let Some(basic) = &basic {
                request = request.header("authorization", basic);
            }
            let answer = request.send_form(form.iter().map(|(k, v)| (*k, v.as_str())));
            read_json(&url, answer)
        })
        .await
    }
}

impl Fetcher {
    /// [`Fetcher::post_form`] that also reads an error answer: the status and the JSON body
    /// whatever the status (the device flow's token endpoint answers 400 with
    /// `{"error": "authorization_pending"}` while the person has not finished).
    pub async fn post_form_any(
        &self,
        url: &str,
        form: Vec<(&'static str, String)>,
        basic: Option<String>,
    ) -> Result<(u16, serde_json::Value), OidcError> {
        let agent = self.agent.clone();
        let url = url.to_owned();
        blocking(move || {
            let mut request = agent.post(&url).header("accept", "application/json");
            if let Some(basic) = &basic {
                request = request.header("authorization", basic);
            }
            let mut answer = request
                .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
                .map_err(|e| OidcError::Provider(format!("cannot reach {url}: {e}")))?;
            let status = answer.status().as_u16();
            let text = answer
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_string()
                .map_err(|e| {
                    OidcError::Provider(format!("cannot read the answer of {url}: {e}"))
                })?;
            let value = serde_json::from_str(&text).map_err(|e| {
                OidcError::Provider(format!("{url} answered {status} with unreadable JSON: {e}"))
            })?;
            Ok((status, value))
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OidcError> + Send + 'static,
) -> Result<T, OidcError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| OidcError::Provider(format!("the request to the provider failed: {e}")))?
}

fn read_json<T: DeserializeOwned>(
    url: &str,
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, OidcError> {
    let mut answer = answer.map_err(|e| OidcError::Provider(format!("cannot reach {url}: {e}")))?;
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .map_err(|e| OidcError::Provider(format!("cannot read the answer of {url}: {e}")))?;
    if status != 200 {
        // A token endpoint's error is `{"error": "...", "error_description": "..."}`: short,
        // and never a secret of ours.
        let shown: String = text.chars().take(300).collect();
        return Err(OidcError::Provider(format!(
            "{url} answered {status}: {}",
            crate::render::Safe(&shown)
        )));
    }
    serde_json::from_str(&text)
        .map_err(|e| OidcError::Provider(format!("{url} sent unreadable JSON: {e}")))
}
