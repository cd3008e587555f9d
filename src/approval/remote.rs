//! The client side of the approval service: its configuration (URL and pinned key), the
//! HTTP calls, and the wait for a verdict.
//!
//! Only reached when a command needs approval, or from the approver's commands. It is
//! blocking on purpose: one request at a time needs no async runtime, and `ureq` keeps TLS
//! and networking out of the allowed path's start-up.
//!
//! The pinned key comes only from the system or user configuration, written by `gatekeep
//! login` after a person compared its thumbprint. No environment variable or project file
//! is read here, so nothing an agent controls can point gatekeep at another key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::protocol::{
    Anchor, CreateRequest, Decide, ErrorBody, Identity, MAX_WAIT_SECS, Outcome, RequestView, Role,
};
use crate::env_vars;
use crate::verdict::{self, JwkSet};

/// The system configuration: when it names a server, it wins over the user's.
pub const SYSTEM_CONFIG: &str = "/etc/gatekeep/config.toml";

/// Why talking to the approval service failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No answer at all: worth retrying.
    #[error("cannot reach the approval service at {url}: {why}")]
    Unreachable { url: String, why: String },
    /// The service answered no.
    #[error("the approval service refused: {message} (HTTP {status})")]
    Refused { status: u16, message: String },
    #[error(
        "the approval service sent something unreadable: {0}\nhint: check that the configured URL is a gatekeep server (`gatekeep whoami` shows it)"
    )]
    Protocol(String),
    #[error("{path}: {why}\nhint: run `gatekeep login --server URL` again to rewrite it")]
    Config { path: String, why: String },
    #[error(
        "not logged in to {url} as {role}\nhint: run `gatekeep login --server {url}` with a token from `gatekeep server token create --{}`",
        match role { Role::Requester => "agent NAME", Role::Approver => "approver NAME" }
    )]
    NoToken { url: String, role: Role },
    #[error(transparent)]
    Credentials(#[from] super::credentials::CredentialError),
}

/// The approval service this machine uses.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub url: String,
    /// The verdict-signing key, pinned at login.
    pub key: VerifyingKey,
    /// The file it came from.
    pub source: PathBuf,
}

impl ServerConfig {
    pub fn key_id(&self) -> String {
        verdict::thumbprint(&self.key)
    }
}

/// The user's configuration file.
pub fn user_config_path() -> Option<PathBuf> {
    std::env::var_os(env_vars::XDG_CONFIG_HOME)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(env_vars::HOME).map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("gatekeep").join("config.toml"))
}

/// The configured server: the system file's if it names one, else the user's.
pub fn load_config() -> Result<Option<ServerConfig>, RemoteError> {
    for path in [Some(PathBuf::from(SYSTEM_CONFIG)), user_config_path()]
        .into_iter()
        .flatten()
    {
        if let Some(config) = read_config(&path)? {
            return Ok(Some(config));
        }
    }
    Ok(None)
}

/// One configuration file's `[server]`: `None` when the file is missing or names no server.
pub fn read_config(path: &Path) -> Result<Option<ServerConfig>, RemoteError> {
    let err = |why: String| RemoteError::Config {
        path: path.display().to_string(),
        why,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let doc: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    let Some(server) = doc.get("server") else {
        return Ok(None);
    };
    let field = |name: &str| {
        server
            .get(name)
            .and_then(toml::Value::as_str)
            .ok_or_else(|| err(format!("[server] has no `{name}` string")))
    };
    let url = field("url")?.trim_end_matches('/').to_owned();
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(err(format!("[server] url `{url}` is not an http(s) URL")));
    }
    let key = verdict::public_key(field("key")?)
        .ok_or_else(|| err("[server] key is not a base64url Ed25519 public key".into()))?;
    Ok(Some(ServerConfig {
        url,
        key,
        source: path.to_owned(),
    }))
}

/// Writes the server URL and pinned key into the user's configuration, keeping whatever
/// else the file holds.
pub fn save_user_config(url: &str, key: &VerifyingKey) -> Result<PathBuf, RemoteError> {
    let path = user_config_path().ok_or_else(|| RemoteError::Config {
        path: "~/.config/gatekeep/config.toml".into(),
        why: "neither XDG_CONFIG_HOME nor HOME is set".into(),
    })?;
    save_config(&path, url, key)?;
    Ok(path)
}

fn save_config(path: &Path, url: &str, key: &VerifyingKey) -> Result<(), RemoteError> {
    let err = |why: String| RemoteError::Config {
        path: path.display().to_string(),
        why,
    };
    let mut doc: toml::Table = match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| err(e.to_string()))?,
        Err(_) => toml::Table::new(),
    };
    let mut server = toml::Table::new();
    server.insert("url".into(), url.into());
    server.insert(
        "key".into(),
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            key.to_bytes(),
        )
        .into(),
    );
    doc.insert("server".into(), server.into());
    let text = format!(
        "# Written by `gatekeep login`. The key is the approval service's verdict-signing key\n# (thumbprint {}); a verdict signed by any other key is refused.\n{}",
        verdict::thumbprint(key),
        toml::to_string(&doc).map_err(|e| err(e.to_string()))?
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
}

/// Removes the `[server]` table from the user's configuration.
pub fn clear_user_config() -> Result<bool, RemoteError> {
    match user_config_path() {
        Some(path) => clear_config(&path),
        None => Ok(false),
    }
}

fn clear_config(path: &Path) -> Result<bool, RemoteError> {
    let err = |why: String| RemoteError::Config {
        path: path.display().to_string(),
        why,
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(false);
    };
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    if doc.remove("server").is_none() {
        return Ok(false);
    }
    let text = toml::to_string(&doc).map_err(|e| err(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| err(e.to_string()))?;
    Ok(true)
}

/// An HTTP client for one server and token.
#[derive(Clone)]
pub struct Client {
    url: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(url: &str, token: Option<String>) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            // Long polls hold the response for up to MAX_WAIT_SECS.
            .timeout_global(Some(Duration::from_secs(MAX_WAIT_SECS + 15)))
            .build();
        Client {
            url: url.trim_end_matches('/').to_owned(),
            token,
            agent: config.into(),
        }
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, RemoteError> {
        let url = format!("{}{path}", self.url);
        let unreachable = |e: ureq::Error| RemoteError::Unreachable {
            url: self.url.clone(),
            why: e.to_string(),
        };
        let auth = self
            .token
            .as_deref()
            .map(|t| format!("Bearer {t}"))
            .unwrap_or_default();
        let response = if method == "GET" {
            self.agent
                .get(&url)
                .header("authorization", &auth)
                .call()
                .map_err(unreachable)?
        } else {
            let request = self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .header("x-gatekeep-channel", "cli");
            match body {
                Some(body) => request.send_json(body),
                None => request.send_empty(),
            }
            .map_err(unreachable)?
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let text = body.read_to_string().map_err(unreachable)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|b| b.error)
                .unwrap_or_else(|_| text.chars().take(200).collect());
            return Err(RemoteError::Refused { status, message });
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| RemoteError::Protocol(e.to_string()))
    }

    /// The service's verdict-signing keys (no token needed).
    pub fn jwks(&self) -> Result<JwkSet, RemoteError> {
        self.call("GET", "/.well-known/jwks.json", None::<&()>)
    }

    pub fn whoami(&self) -> Result<Identity, RemoteError> {
        self.call("GET", "/v1/whoami", None::<&()>)
    }

    pub fn create(&self, req: &CreateRequest) -> Result<RequestView, RemoteError> {
        self.call("POST", "/v1/requests", Some(req))
    }

    pub fn get(&self, id: &str) -> Result<RequestView, RemoteError> {
        self.call("GET", &format!("/v1/requests/{id}"), None::<&()>)
    }

    /// Holds until the request is final or `secs` pass.
    pub fn wait(&self, id: &str, secs: u64) -> Result<RequestView, RemoteError> {
        self.call(
            "GET",
            &format!("/v1/requests/{id}/wait?timeout={secs}"),
            None::<&()>,
        )
    }

    pub fn cancel(&self, id: &str, reason: Option<String>) -> Result<RequestView, RemoteError> {
        self.call(
            "POST",
            &format!("/v1/requests/{id}/cancel"),
            Some(&Decide { reason }),
        )
    }

    pub fn outcome(&self, id: &str, outcome: &Outcome) -> Result<(), RemoteError> {
        self.call::<serde_json::Value>("POST", &format!("/v1/requests/{id}/outcome"), Some(outcome))
            .map(|_| ())
    }

    /// The ledger heads the service recorded for this (requester) token.
    pub fn anchors(&self) -> Result<Vec<Anchor>, RemoteError> {
        self.call("GET", "/v1/anchors", None::<&()>)
    }

    pub fn pending(&self) -> Result<Vec<RequestView>, RemoteError> {
        self.call("GET", "/v1/requests?state=pending", None::<&()>)
    }

    pub fn decide(
        &self,
        id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<RequestView, RemoteError> {
        let verb = if approve { "approve" } else { "deny" };
        self.call(
            "POST",
            &format!("/v1/requests/{id}/{verb}"),
            Some(&Decide { reason }),
        )
    }
}

/// How a wait for a verdict ended.
#[derive(Debug)]
pub enum WaitEnd {
    /// The request is final (its verdict still to be verified).
    Final(Box<RequestView>),
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP, SIGQUIT).
    Signal(i32),
    /// The service stopped answering, or refused, past any hope of a verdict.
    Failed(String),
}

enum Event {
    Final(Box<RequestView>),
    Lost(String),
    Back,
    Failed(String),
}

/// Waits for request `id` to become final, with long polls that reconnect with backoff;
/// shows a spinner with the request id, the approve hint and a countdown on a terminal, one
/// line otherwise. Signals are taken while waiting so that the caller can cancel.
pub fn wait_for_verdict(client: &Client, id: &str, expires_unix: u64) -> WaitEnd {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};

    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        mask.add(s);
    }
    // Blocked before the poller starts, so it inherits the mask and signals queue for us.
    let old = mask.thread_swap_mask(SigmaskHow::SIG_BLOCK).ok();
    let restore = || {
        if let Some(old) = old {
            let _ = old.thread_set_mask();
        }
    };
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
        Ok(sfd) => sfd,
        Err(e) => {
            restore();
            return WaitEnd::Failed(format!("cannot watch for signals: {e}"));
        }
    };

    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    {
        let client = client.clone();
        let id = id.to_owned();
        let stop = stop.clone();
        std::thread::spawn(move || poll(&client, &id, &tx, &stop));
    }

    let tty = nix::unistd::isatty(std::io::stderr()).unwrap_or(false);
    let hint = format!("gatekeep approve {id}");
    let left = |now: u64| {
        let s = expires_unix.saturating_sub(now);
        format!("{}:{:02}", s / 60, s % 60)
    };
    if !tty {
        eprintln!(
            "gatekeep: waiting for approval of request {id} at {} (approver runs: {hint}); expires in {}",
            client.url,
            left(verdict::unix_now())
        );
    }
    let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let started = Instant::now();
    let mut status: Option<String> = None;
    let end = loop {
        if let Ok(Some(info)) = sfd.read_signal() {
            break WaitEnd::Signal(i32::try_from(info.ssi_signo).unwrap_or(15));
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Final(view)) => break WaitEnd::Final(view),
            Ok(Event::Failed(why)) => break WaitEnd::Failed(why),
            Ok(Event::Lost(why)) => {
                if !tty && status.is_none() {
                    eprintln!("gatekeep: lost the approval service ({why}); retrying");
                }
                status = Some(why);
            }
            Ok(Event::Back) => {
                if !tty && status.is_some() {
                    eprintln!("gatekeep: reconnected; still waiting for request {id}");
                }
                status = None;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break WaitEnd::Failed("the wait ended unexpectedly".into());
            }
        }
        let now = verdict::unix_now();
        // Past the deadline, the service should have expired it; if it cannot be reached
        // for a minute more, give up rather than wait forever.
        if now > expires_unix + 60 && status.is_some() {
            break WaitEnd::Failed(format!(
                "the request expired and the approval service is still unreachable ({})",
                status.unwrap_or_default()
            ));
        }
        if tty {
            let frame = frames[(started.elapsed().as_millis() / 100) as usize % frames.len()];
            let line = match &status {
                Some(why) => format!(
                    "{frame} request {id}: reconnecting ({why}) · {} left",
                    left(now)
                ),
                None => format!(
                    "{frame} waiting for approval: request {id} · approve with `{hint}` · {} left",
                    left(now)
                ),
            };
            eprint!("\r\x1b[2K{line}");
        }
    };
    if tty {
        eprint!("\r\x1b[2K");
    }
    stop.store(true, Ordering::Relaxed);
    drop(sfd);
    restore();
    end
}

/// The poller thread: long polls until final, reconnecting with capped backoff.
fn poll(client: &Client, id: &str, tx: &mpsc::Sender<Event>, stop: &AtomicBool) {
    let mut backoff = Duration::from_millis(200);
    let mut lost = false;
    while !stop.load(Ordering::Relaxed) {
        match client.wait(id, MAX_WAIT_SECS) {
            Ok(view) => {
                if lost {
                    lost = false;
                    let _ = tx.send(Event::Back);
                }
                backoff = Duration::from_millis(200);
                if view.state.is_final() {
                    let _ = tx.send(Event::Final(Box::new(view)));
                    return;
                }
            }
            // A restarting server answers 503 or not at all: both are worth waiting out.
            Err(
                RemoteError::Unreachable { why, .. }
                | RemoteError::Refused {
                    status: 503,
                    message: why,
                },
            ) => {
                lost = true;
                let _ = tx.send(Event::Lost(why));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(3));
            }
            Err(e) => {
                let _ = tx.send(Event::Failed(e.to_string()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_the_server_and_refuses_broken_pins() {
        let dir = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
        let x = verdict::Jwk::from_key(&key).x;
        let path = write(
            dir.path(),
            &format!("[server]\nurl = \"http://gk:8700/\"\nkey = \"{x}\"\n"),
        );
        let config = read_config(&path).unwrap().unwrap();
        assert_eq!(config.url, "http://gk:8700");
        assert_eq!(config.key, key);

        // No [server]: not configured (policy-only files are fine).
        assert!(
            read_config(&write(dir.path(), "[other]\n"))
                .unwrap()
                .is_none()
        );
        assert!(
            read_config(&dir.path().join("missing.toml"))
                .unwrap()
                .is_none()
        );

        // A pin that is not an Ed25519 key, a missing key, a non-http URL: errors that
        // name the file, never "not configured" (which would silently skip the service).
        for bad in [
            "[server]\nurl = \"http://gk\"\nkey = \"not-a-key\"\n",
            "[server]\nurl = \"http://gk\"\n",
            &format!("[server]\nurl = \"file:///x\"\nkey = \"{x}\"\n"),
            "[server\n",
        ] {
            let e = read_config(&write(dir.path(), bad))
                .unwrap_err()
                .to_string();
            assert!(e.contains("config.toml"), "{e}");
        }
    }

    #[test]
    fn saving_keeps_other_tables_and_clearing_removes_only_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[other]\nx = 1\n");
        let key = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
        save_config(&path, "http://gk:1", &key).unwrap();
        let config = read_config(&path).unwrap().unwrap();
        assert_eq!((config.url.as_str(), config.key), ("http://gk:1", key));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[other]") && text.contains(&verdict::thumbprint(&key)));

        assert!(clear_config(&path).unwrap());
        assert!(read_config(&path).unwrap().is_none());
        assert!(std::fs::read_to_string(&path).unwrap().contains("[other]"));
        assert!(!clear_config(&path).unwrap());
    }
}
