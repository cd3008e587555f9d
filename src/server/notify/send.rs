//! HTTP out to the channels with the client stack the binary already has (see
//! `oidc/fetch.rs`): ureq, blocking, on tokio's blocking pool, over gatekeep's rustls (ring)
//! connector. Every call is time-limited, so a channel that hangs holds one worker for at
//! most [`TIMEOUT`], and the server's shutdown no longer than that.
//!
//! Answers are sorted for the outbox: worth another try (no answer, 429, 5xx) or not (any
//! other refusal). Error texts never carry the URL: Teams and webhook URLs are credentials.

use std::time::Duration;

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, TcpConnector};

use crate::approval::tls::{TlsConnector, client_config};

/// The longest one call may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The most read of any answer.
const MAX_ANSWER_BYTES: u64 = 256 * 1024;

#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

/// A 2xx answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub text: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// Worth another try, not before `after` when the receiver said so (`Retry-After`).
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// The receiver refused it for good (wrong token, unknown channel, bad request).
    Refused(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry { why, .. } | SendError::Refused(why) => f.write_str(why),
        }
    }
}

impl Http {
    pub fn new() -> Result<Http, String> {
        let tls = client_config(None, None)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ().chain(TcpConnector::default())
                .chain(TlsConnector { config: tls }),
            DefaultResolver::default(),
        );
        Ok(Http { agent })
    }

    /// POSTs `body` as JSON to `url` with `headers`; `what` names the receiver in errors.
    pub async fn post_json(
        &self,
        what: &str,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: String,
    ) -> Result<Answer, SendError> {
        let agent = self.agent.clone();
        let (what, url) = (what.to_owned(), url.to_owned());
        blocking(move || {
            let mut request = agent
                .post(&url)
                .header("content-type", "application/json; charset=utf-8");
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            read(&what, request.send(body.as_bytes()))
        })
        .await
    }

    /// GETs `url` with `headers`.
    pub async fn get(
        &self,
        what: &str,
        url: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Answer, SendError> {
        let agent = self.agent.clone();
        let (what, url) = (what.to_owned(), url.to_owned());
        blocking(move || {
            let mut request = agent.get(&url);
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            read(&what, request.call())
        })
        .await
    }
}

async fn blocking(
    work: impl FnOnce() -> Result<Answer, SendError> + Send + 'static,
) -> Result<Answer, SendError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(SendError::Retry {
            why: format!("the call did not finish: {e}"),
            after: None,
        })
    })
}

fn read(
    what: &str,
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Answer, SendError> {
    let mut answer = answer.map_err(|e| SendError::Retry {
        // ureq's error names the kind of failure (connection refused, timeout), not the URL.
        why: format!("cannot reach {what}: {}", error_kind(&e)),
        after: None,
    })?;
    let status = answer.status().as_u16();
    let after = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = answer
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .unwrap_or_default();
    match status {
        200..=299 => Ok(Answer { status, text }),
        429 | 500..=599 => Err(SendError::Retry {
            why: format!("{what} answered {status}"),
            after,
        }),
        _ => {
            let shown: String = text.chars().take(200).collect();
            Err(SendError::Refused(format!(
                "{what} answered {status}: {}",
                crate::render::Safe(&shown)
            )))
        }
    }
}

/// What went wrong, without the URL ureq may include.
fn error_kind(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.kind().to_string(),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failed".into(),
        _ => "the HTTP call failed".into(),
    }
}
