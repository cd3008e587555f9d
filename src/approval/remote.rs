//! The client side of the approval service: its configuration (URL and pinned key) and the
//! HTTP calls. The wait for a verdict is in [`super::wait`].
//!
//! Only reached when a command needs approval, or from the approver's commands. It is
//! blocking on purpose: one request at a time needs no async runtime, and `ureq` keeps TLS
//! and networking out of the allowed path's start-up.
//!
//! The pinned key comes only from the system or user configuration, written by `gatekeep
//! login` after a person compared its thumbprint. No environment variable or project file
//! is read here, so nothing an agent controls can point gatekeep at another key — nor at
//! another route: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` are ignored (ureq
//! reads them by default; [`Client::connect`] turns that off), and a proxy is used only when
//! `config.toml` names one. Plain `http://` is refused to anything but loopback unless
//! `gatekeep login --insecure-http` recorded that choice.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::protocol::{
    Anchor, CreateRequest, Decide, ErrorBody, Identity, MAX_WAIT_SECS, PAGE_MAX, RequestView, Role,
    RunReport,
};
use crate::api::routes;
use crate::api::verdict::{self, JwkSet};
use crate::env_vars;
use crate::render::Safe;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};

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
    /// The TLS handshake failed on the certificate: not worth retrying.
    #[error(
        "the approval service at {url} did not present a certificate this client trusts: {why}\nhint: for a private CA run `gatekeep login --server {url} --ca FILE` (it records `ca = \"FILE\"` under [server] in config.toml); with `tls_pin` set, compare it with the pin `gatekeep server` prints"
    )]
    Untrusted { url: String, why: String },
    #[error(
        "refusing plain http to {url}: the bearer token and the request would cross the network readable and changeable by anyone on the path\nhint: use an https:// URL (with --ca FILE for a private CA), or, only on a network you trust, run `gatekeep login --server {url} --insecure-http`"
    )]
    InsecureHttp { url: String },
    #[error("cannot set up the connection to {url}: {why}")]
    Setup { url: String, why: String },
    /// The service kept answering 503 (at its connection limit) for as long as we could wait.
    #[error(
        "the approval service at {url} stayed busy for {secs} s: {message}\nhint: try again in a minute; if it keeps happening, ask its operator to look at `gatekeep server --max-connections` and what is holding its connections"
    )]
    Busy {
        url: String,
        secs: u64,
        message: String,
    },
    #[error(transparent)]
    Credentials(#[from] super::credentials::CredentialError),
}

/// Whether `url`'s host is this machine: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Plain http is for loopback, or for a network someone chose to trust at login.
pub fn check_http(url: &str, insecure_http: bool) -> Result<(), RemoteError> {
    if url.starts_with("http://") && !insecure_http && !is_loopback(url) {
        return Err(RemoteError::InsecureHttp {
            url: url.to_owned(),
        });
    }
    Ok(())
}

/// How to reach the service, besides its URL: the `[server]` keys `proxy`, `ca`, `tls_pin`
/// and `insecure_http` of `config.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// An `http://` proxy to tunnel through (CONNECT); none unless configured.
    pub proxy: Option<String>,
    /// A PEM file of CA certificates trusted besides the system's (a private CA).
    pub ca: Option<PathBuf>,
    /// `sha256/BASE64` of the server certificate's public key (see [`super::tls`]).
    pub tls_pin: Option<String>,
    /// Plain `http://` to a host that is not loopback was accepted at login.
    pub insecure_http: bool,
    /// `urls`: other replicas of the same service (one database, one signing key, the same
    /// tokens), tried in turn while the current one is unreachable or busy.
    pub replicas: Vec<String>,
}

/// The approval service this machine uses.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub url: String,
    /// The verdict-signing key, pinned at login.
    pub key: VerifyingKey,
    /// The file it came from.
    pub source: PathBuf,
    pub connection: Connection,
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

/// The file pins the key that every verdict is checked against, so, like sudoers, it must
/// be yours (or root's) and writable by no one else: another local user who could edit it
/// could point gatekeep at a service of their own.
fn trusted_file(file: &std::fs::File) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(format!(
            "owned by uid {}, not by you (uid {uid}) or root; refusing to trust the server it names\nhint: remove it and run `gatekeep login` again",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by group or others (mode {:o}); refusing to trust the server it names\nhint: chmod go-w it, then check that its [server] is still yours",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// One configuration file's `[server]`: `None` when the file is missing or names no server.
/// The file must be one only its owner (you or root) can write; see `trusted_file`.
pub fn read_config(path: &Path) -> Result<Option<ServerConfig>, RemoteError> {
    read_config_checking(path, true)
}

/// [`read_config`] without the owner and mode check, for `gatekeep doctor`, which reports
/// who can write the file in more detail (directories above it included).
pub fn read_config_unchecked(path: &Path) -> Result<Option<ServerConfig>, RemoteError> {
    read_config_checking(path, false)
}

fn read_config_checking(path: &Path, check: bool) -> Result<Option<ServerConfig>, RemoteError> {
    let err = |why: String| RemoteError::Config {
        path: path.display().to_string(),
        why,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    if check {
        trusted_file(&file).map_err(err)?;
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).map_err(|e| err(e.to_string()))?;
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
    let optional = |name: &str| match server.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| err(format!("[server] `{name}` is not a string"))),
    };
    let proxy = optional("proxy")?;
    if let Some(proxy) = &proxy
        && !proxy.starts_with("http://")
    {
        return Err(err(format!(
            "[server] proxy `{proxy}` is not an http:// proxy URL"
        )));
    }
    let ca = optional("ca")?.map(PathBuf::from);
    if let Some(ca) = &ca
        && !ca.is_absolute()
    {
        return Err(err(format!(
            "[server] ca `{}` is not an absolute path",
            ca.display()
        )));
    }
    let tls_pin = optional("tls_pin")?;
    if let Some(pin) = &tls_pin {
        super::tls::parse_pin(pin).map_err(|e| err(format!("[server] tls_pin: {e}")))?;
    }
    let insecure_http = match server.get("insecure_http") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| err("[server] `insecure_http` is not true or false".into()))?,
    };
    let replicas = match server.get("urls") {
        None => Vec::new(),
        Some(v) => v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(toml::Value::as_str)
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| err("[server] `urls` is not a list of URLs".into()))?
            .into_iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .filter(|u| *u != url)
            .collect(),
    };
    for replica in &replicas {
        if !replica.starts_with("http://") && !replica.starts_with("https://") {
            return Err(err(format!(
                "[server] urls: `{replica}` is not an http(s) URL"
            )));
        }
    }
    Ok(Some(ServerConfig {
        url,
        key,
        source: path.to_owned(),
        connection: Connection {
            proxy,
            ca,
            tls_pin,
            insecure_http,
            replicas,
        },
    }))
}

/// Writes the server URL and pinned key into the user's configuration, keeping whatever
/// else the file holds.
pub fn save_user_config(
    url: &str,
    key: &VerifyingKey,
    connection: &Connection,
) -> Result<PathBuf, RemoteError> {
    let path = user_config_path().ok_or_else(|| RemoteError::Config {
        path: "~/.config/gatekeep/config.toml".into(),
        why: "neither XDG_CONFIG_HOME nor HOME is set".into(),
    })?;
    save_config(&path, url, key, connection)?;
    Ok(path)
}

fn save_config(
    path: &Path,
    url: &str,
    key: &VerifyingKey,
    connection: &Connection,
) -> Result<(), RemoteError> {
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
    if let Some(proxy) = &connection.proxy {
        server.insert("proxy".into(), proxy.as_str().into());
    }
    if let Some(ca) = &connection.ca {
        server.insert("ca".into(), ca.display().to_string().into());
    }
    if let Some(pin) = &connection.tls_pin {
        server.insert("tls_pin".into(), pin.as_str().into());
    }
    if connection.insecure_http {
        server.insert("insecure_http".into(), true.into());
    }
    if !connection.replicas.is_empty() {
        let urls = connection.replicas.iter().map(|u| u.as_str().into());
        server.insert("urls".into(), toml::Value::Array(urls.collect()));
    }
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
    pub(super) url: String,
    token: Option<String>,
    agent: ureq::Agent,
    /// The other replicas (`urls`), each with its agent.
    replicas: Arc<[(String, ureq::Agent)]>,
    /// Which one answered last (0: `url`, then `replicas` in order): calls go there first,
    /// so that a client that failed over stays where it was answered.
    current: Arc<AtomicUsize>,
}

impl Client {
    /// A client for `url` with no proxy, no extra CA and no pin; plain http only to loopback.
    pub fn new(url: &str, token: Option<String>) -> Client {
        let url = url.trim_end_matches('/').to_owned();
        // Only an https URL reads the system roots; without an extra CA or pin, that cannot
        // fail, and an error here would surface on the first call anyway.
        let agent =
            agent(&url, &Connection::default()).unwrap_or_else(|_| plain_agent(base_config(None)));
        Client {
            url,
            token,
            agent,
            replicas: Arc::new([]),
            current: Arc::default(),
        }
    }

    /// A client for `url` as `connection` says: refuses plain http to anything but loopback
    /// unless it was accepted at login, and reads the proxy, CA and pin.
    pub fn connect(
        url: &str,
        connection: &Connection,
        token: Option<String>,
    ) -> Result<Client, RemoteError> {
        let url = url.trim_end_matches('/').to_owned();
        check_http(&url, connection.insecure_http)?;
        let agent = agent(&url, connection).map_err(|why| RemoteError::Setup {
            url: url.clone(),
            why,
        })?;
        let mut replicas = Vec::new();
        for replica in &connection.replicas {
            check_http(replica, connection.insecure_http)?;
            let agent = self::agent(replica, connection).map_err(|why| RemoteError::Setup {
                url: replica.clone(),
                why,
            })?;
            replicas.push((replica.clone(), agent));
        }
        Ok(Client {
            url,
            token,
            agent,
            replicas: replicas.into(),
            current: Arc::default(),
        })
    }

    /// Calls the replica that answered last, then the others in turn while one is
    /// unreachable or busy (503). Every call is safe to repeat on another replica: creates
    /// are idempotent on their id and nonce, and a decision already taken is refused.
    pub fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, RemoteError> {
        let count = self.replicas.len() + 1;
        let first = self.current.load(Ordering::Relaxed) % count;
        let mut tried = 0;
        loop {
            let i = (first + tried) % count;
            let (url, agent) = match i {
                0 => (&self.url, &self.agent),
                _ => (&self.replicas[i - 1].0, &self.replicas[i - 1].1),
            };
            let result = self.call_at(url, agent, method, path, body);
            tried += 1;
            let retry_elsewhere = matches!(
                result,
                Err(RemoteError::Unreachable { .. } | RemoteError::Refused { status: 503, .. })
            );
            if !retry_elsewhere || tried == count {
                if !retry_elsewhere {
                    self.current.store(i, Ordering::Relaxed);
                }
                return result;
            }
        }
    }

    fn call_at<T: DeserializeOwned>(
        &self,
        base: &str,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, RemoteError> {
        let url = format!("{base}{path}");
        let unreachable = |e: ureq::Error| {
            let (url, why) = (base.to_owned(), e.to_string());
            if is_certificate_error(&e) {
                RemoteError::Untrusted { url, why }
            } else {
                RemoteError::Unreachable { url, why }
            }
        };
        let auth = self
            .token
            .as_deref()
            .map(|t| format!("Bearer {t}"))
            .unwrap_or_default();
        let response = if method == "GET" {
            agent
                .get(&url)
                .header("authorization", &auth)
                .call()
                .map_err(unreachable)?
        } else {
            let request = agent
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
        self.call("GET", routes::JWKS, None::<&()>)
    }

    pub fn whoami(&self) -> Result<Identity, RemoteError> {
        self.call("GET", routes::WHOAMI, None::<&()>)
    }

    pub fn create(&self, req: &CreateRequest) -> Result<RequestView, RemoteError> {
        self.call("POST", routes::REQUESTS, Some(req))
    }

    pub fn get(&self, id: &str) -> Result<RequestView, RemoteError> {
        self.call("GET", &routes::with_id(routes::REQUEST, id), None::<&()>)
    }

    /// Holds until the request is final or `secs` pass.
    pub fn wait(&self, id: &str, secs: u64) -> Result<RequestView, RemoteError> {
        self.call(
            "GET",
            &format!("{}?timeout={secs}", routes::with_id(routes::WAIT, id)),
            None::<&()>,
        )
    }

    pub fn cancel(&self, id: &str, reason: Option<String>) -> Result<RequestView, RemoteError> {
        self.call(
            "POST",
            &routes::with_id(routes::CANCEL, id),
            Some(&Decide { reason }),
        )
    }

    pub fn outcome(&self, id: &str, outcome: &RunReport) -> Result<(), RemoteError> {
        self.call::<serde_json::Value>("POST", &routes::with_id(routes::OUTCOME, id), Some(outcome))
            .map(|_| ())
    }

    /// The ledger heads the service recorded for this (requester) token.
    pub fn anchors(&self) -> Result<Vec<Anchor>, RemoteError> {
        self.call("GET", routes::ANCHORS, None::<&()>)
    }

    /// Every pending request this approver may decide, fetched a page at a time.
    pub fn pending(&self) -> Result<Vec<RequestView>, RemoteError> {
        let mut all: Vec<RequestView> = Vec::new();
        loop {
            let path = match all.last() {
                Some(last) => format!(
                    "{}?state=pending&after={}",
                    routes::REQUESTS,
                    routes::with_id("{id}", &last.id)
                ),
                None => format!("{}?state=pending", routes::REQUESTS),
            };
            let page: Vec<RequestView> = self.call("GET", &path, None::<&()>)?;
            let full = page.len() >= PAGE_MAX;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// What changed in this approver's list after `since` (`None`: the whole list), held
    /// up to `wait` seconds for a change (see [`crate::api::changes`]).
    pub fn changes(
        &self,
        since: Option<&str>,
        wait: u64,
    ) -> Result<crate::api::changes::Changes, RemoteError> {
        let since = since
            .map(|c| format!("&since={}", routes::with_id("{id}", c)))
            .unwrap_or_default();
        self.call(
            "GET",
            &format!("{}?wait={wait}{since}", routes::CHANGES),
            None::<&()>,
        )
    }

    pub fn decide(
        &self,
        id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<RequestView, RemoteError> {
        let route = if approve {
            routes::APPROVE
        } else {
            routes::DENY
        };
        self.call(
            "POST",
            &routes::with_id(route, id),
            Some(&Decide { reason }),
        )
    }
}

/// Creates `req`, retrying what is worth retrying: a lost connection twice, briefly (a create
/// is idempotent on its id, nonce and digest), and a service at its connection limit (503)
/// with backoff for up to `busy_for`, saying so once on stderr. Past that, [`RemoteError::Busy`].
pub fn create_patiently(
    client: &Client,
    req: &CreateRequest,
    busy_for: Duration,
) -> Result<RequestView, RemoteError> {
    let started = Instant::now();
    let mut lost = 0;
    let mut backoff = Duration::from_millis(250);
    let mut told = false;
    loop {
        match client.create(req) {
            Err(RemoteError::Unreachable { .. }) if lost < 2 => lost += 1,
            Err(RemoteError::Refused {
                status: 503,
                message,
            }) => {
                if started.elapsed() + backoff > busy_for {
                    return Err(RemoteError::Busy {
                        url: client.url.clone(),
                        secs: started.elapsed().as_secs().max(1),
                        message,
                    });
                }
                if !told {
                    eprintln!(
                        "gatekeep: the approval service is busy ({}); retrying for up to {} s",
                        Safe(&message),
                        busy_for.as_secs()
                    );
                    told = true;
                }
            }
            result => return result,
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
}

/// Whether the TLS handshake failed on the server's certificate (or the pin), rather than
/// on the network.
fn is_certificate_error(e: &ureq::Error) -> bool {
    let tls = match e {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    matches!(
        tls,
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::General(_))
    )
}

/// ureq's settings for the service. `proxy` is set explicitly, to the configured proxy or to
/// none: ureq's default would read `HTTP(S)_PROXY` / `ALL_PROXY` from the environment.
fn base_config(proxy: Option<ureq::Proxy>) -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(proxy)
        // The API never redirects; following one could carry the token elsewhere.
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(5)))
        // Long polls hold the response for up to MAX_WAIT_SECS.
        .timeout_global(Some(Duration::from_secs(MAX_WAIT_SECS + 15)))
        .build()
}

/// The HTTP agent: TCP (through the configured proxy if any), then gatekeep's own TLS step
/// for https (see [`super::tls`]).
fn agent(url: &str, connection: &Connection) -> Result<ureq::Agent, String> {
    let proxy = match &connection.proxy {
        Some(p) => Some(ureq::Proxy::new(p).map_err(|e| format!("proxy `{p}`: {e}"))?),
        None => None,
    };
    let config = base_config(proxy);
    if !url.starts_with("https://") {
        return Ok(plain_agent(config));
    }
    let tls = super::tls::client_config(connection.ca.as_deref(), connection.tls_pin.as_deref())?;
    Ok(ureq::Agent::with_parts(
        config,
        tcp_connector().chain(super::tls::TlsConnector { config: tls }),
        DefaultResolver::default(),
    ))
}

/// An agent without TLS: an https URL fails closed ("TLS required").
fn plain_agent(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(config, tcp_connector(), DefaultResolver::default())
}

fn tcp_connector() -> impl Connector<(), Out = impl ureq::unversioned::transport::Transport> {
    ().chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
}

#[cfg(test)]
mod tests;
