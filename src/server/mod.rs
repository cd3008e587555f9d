//! `gatekeep server`: the approval service. Requests from agents wait here until people who
//! are not their requesters approve or deny them; every final state is signed.
//!
//! Nothing in this module is reachable from `gatekeep exec`'s allowed path: tokio, axum,
//! sqlx and the tracing subscriber are only started by `gatekeep server` itself.
//!
//! The data directory holds `gatekeep.db` (SQLite, WAL) and `signing-key` (the Ed25519 seed,
//! 0600), both created on first start, and `signing-key.previous` after a rotation. With
//! `--database postgres://…` the database is PostgreSQL instead, shared by replicas, and it
//! holds the signing keys too, sealed (see [`keys`]).

pub mod audit;
pub mod backend;
pub mod cli;
pub mod config;
pub mod conn;
pub mod error;
pub mod event;
pub mod feed;
pub mod http;
pub mod keys;
pub mod limits;
pub mod listen;
pub mod names;
pub mod notify;
pub mod oidc;
pub mod outbox;
pub mod outbox_postgres;
pub mod outbox_sqlite;
pub mod postgres;
pub mod report;
pub mod service;
pub mod sessions;
pub mod sqlite;
pub mod step_up;
pub mod store;
pub mod tls;
pub mod web;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::api::protocol::{Identity, Role};
use crate::api::verdict;
use crate::audit::ledger::sha256_hex;
use backend::Backend;
pub use backend::Location;
use event::{EventDetail, EventDraft};
pub use limits::Limits;
use service::Service;
use store::{Store, TokenRow};

/// How often the running service checkpoints its chain (when it moved).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// Where the server keeps its state unless `--data` says otherwise.
pub fn default_data_dir() -> PathBuf {
    let base = std::env::var_os(crate::env_vars::XDG_DATA_HOME)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os(crate::env_vars::HOME).map(|h| Path::new(&h).join(".local/share"))
        })
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("gatekeep/server")
}

/// SHA-256 of a token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// The tokio runtime for server-side commands (never built on the client's paths).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn open_store(at: &Location) -> Result<Backend> {
    // The data directory holds the signing key whatever the database.
    let data = &at.data;
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {} to its owner", data.display()))?;
    if let Some(url) = &at.database {
        if !backend::is_postgres(url) {
            bail!(
                "--database takes a postgres:// URL, not {}\nhint: leave --database out for SQLite in the data directory",
                at.describe()
            );
        }
        return Backend::open_postgres(url, at.password_file.as_deref())
            .await
            .with_context(|| format!("cannot open the database {}", at.describe()));
    }
    let db = data.join("gatekeep.db");
    Backend::open_sqlite(&db)
        .await
        .with_context(|| format!("cannot open the database {}", db.display()))
}

pub use keys::signing_key;

/// The key set the server signs with: the files in the data directory on SQLite, the
/// sealed rows on PostgreSQL.
async fn load_keys(at: &Location, store: &Backend) -> Result<keys::KeySet> {
    match store {
        Backend::Postgres(pg) => {
            let kek = keys::kek_for(at.kek_file.as_deref())?;
            keys::load_db(pg.pool(), &kek, &at.data).await
        }
        Backend::Sqlite(_) => keys::load_files(&at.data),
    }
}

/// Loads the key set again (after a rotation) and signs with it from now on; on failure the
/// server keeps signing with the keys it has, and says why.
async fn reload_keys(app: &http::App<Backend>, at: &Location) {
    // A reload never makes a key (as the first start does): a missing file is an error.
    if at.database.is_none() && !at.data.join("signing-key").exists() {
        tracing::error!(data = %at.data.display(), "no signing-key in the data directory; still signing with the keys loaded before");
        return;
    }
    match load_keys(at, &app.service.store).await {
        Ok(set) => {
            let kid = set.kid();
            if kid != app.service.keys().kid() {
                eprintln!("gatekeep server: now signing with key {kid}");
                tracing::info!(%kid, previous = ?set.previous_kid(), "loaded the rotated signing keys");
            }
            app.service.set_keys(set);
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cannot load the signing keys again; still signing with the ones loaded before");
        }
    }
}

/// Settings of `gatekeep server` (run).
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub listen: SocketAddr,
    /// The data directory (signing key) and the database.
    pub at: Location,
    pub max_timeout_secs: u64,
    pub limits: Limits,
    /// Connection caps and timeouts: `None` caps are derived from the open-file limit.
    pub connections: ConnOptions,
    /// `--tls-cert` and `--tls-key`: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// What only the settings file sets: the public URL, OIDC, static approver tokens.
    pub web: WebOptions,
}

/// The settings of the approver-facing side (see [`config`]).
#[derive(Clone, Debug)]
pub struct WebOptions {
    pub public_url: Option<url::Url>,
    pub oidc: Option<config::OidcConfig>,
    /// Whether approver tokens from `gatekeep server token create` may decide.
    pub static_approver_tokens: bool,
    /// Slack, Teams and webhooks (see [`notify`]).
    pub channels: notify::config::Channels,
}

impl Default for WebOptions {
    fn default() -> WebOptions {
        WebOptions {
            public_url: None,
            oidc: None,
            static_approver_tokens: true,
            channels: notify::config::Channels::default(),
        }
    }
}

impl WebOptions {
    pub fn from_config(config: config::ServerConfig) -> WebOptions {
        WebOptions {
            public_url: config.public_url,
            oidc: config.oidc,
            static_approver_tokens: config.static_approver_tokens,
            channels: config.channels,
        }
    }
}

/// `--max-connections`, `--max-connections-per-address`, `--header-timeout` and
/// `--idle-timeout` as given (see [`conn::ConnLimits::resolve`]).
#[derive(Clone, Copy, Debug)]
pub struct ConnOptions {
    pub max: Option<usize>,
    pub per_address: Option<usize>,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for ConnOptions {
    fn default() -> ConnOptions {
        ConnOptions {
            max: None,
            per_address: None,
            header_timeout: Duration::from_secs(conn::ConnLimits::DEFAULT_HEADER_SECS),
            idle_timeout: Duration::from_secs(conn::ConnLimits::DEFAULT_IDLE_SECS),
        }
    }
}

/// The warning for plain HTTP on an address other hosts can reach, if that is the case:
/// bearer tokens and requests would cross the network readable and changeable.
pub fn plain_http_warning(addr: &SocketAddr, tls: bool) -> Option<String> {
    (!tls && !addr.ip().is_loopback()).then(|| {
        format!(
            "listening on {addr} without TLS: tokens, requests and verdicts cross the network in plain text, and clients refuse plain http to a host that is not loopback unless logged in with --insecure-http\nhint: pass --tls-cert FILE --tls-key FILE, or listen on 127.0.0.1 behind a TLS-terminating proxy"
        )
    })
}

/// Starts structured logs on stderr: `GATEKEEP_LOG` (default `info`) sets the filter.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(crate::env_vars::GATEKEEP_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .try_init();
}

/// Runs the service until SIGINT or SIGTERM.
pub fn run(opts: &RunOptions) -> Result<()> {
    init_logs();
    // Before the runtime, the database and the listener take any descriptor: the cap on
    // connections is what the limit leaves after the reserve.
    let nofile = conn::raise_file_limit();
    let c = opts.connections;
    let limits = conn::ConnLimits::resolve(
        nofile,
        c.max,
        c.per_address,
        c.header_timeout,
        c.idle_timeout,
    )?;
    runtime()?.block_on(async {
        let plan = outbox::OutboxPlan::new(opts.web.channels.routes());
        let bell = plan.bell();
        let store = open_store(&opts.at).await?.with_outbox(plan);
        // Replicas sign alike: on PostgreSQL every replica loads the one key set stored there.
        let keys = load_keys(&opts.at, &store).await?;
        let oidc = match (&opts.web.oidc, &opts.web.public_url) {
            (Some(config), Some(public_url)) => Some(oidc::Oidc::new(config.clone(), public_url)?),
            _ => None,
        };
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let app = Arc::new(http::App {
            service: Service::with_limits(store, keys, opts.max_timeout_secs, opts.limits),
            shutdown,
            web: opts.web.clone(),
            oidc,
            channels: notify::Live::new().map_err(anyhow::Error::msg)?,
        });
        // Read before binding, so that a bad certificate stops the start with its own error.
        let tls = match &opts.tls {
            Some((cert, key)) => Some(tls::server_config(cert, key)?),
            None => None,
        };
        let listener = conn::listen(opts.listen)
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        let addr = listener.local_addr()?;
        let kid = app.service.keys().kid();
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Plain lines for people and scripts (tests read the address from the first one).
        eprintln!("gatekeep server: listening on {scheme}://{addr}");
        eprintln!("gatekeep server: signing key {kid}");
        if let Some(previous) = app.service.keys().previous_kid() {
            eprintln!("gatekeep server: previous signing key {previous} (still published)");
        }
        if let Some(oidc) = &app.oidc {
            // Discovery waits for the first sign-in, so that a provider that is down does
            // not keep requesters from the service.
            eprintln!(
                "gatekeep server: approvers sign in at {}/auth/login with {}",
                opts.web
                    .public_url
                    .as_ref()
                    .map(|u| u.as_str().trim_end_matches('/'))
                    .unwrap_or_default(),
                oidc.config.issuer
            );
        }
        if !opts.web.static_approver_tokens {
            eprintln!("gatekeep server: static approver tokens are off: approvers decide through OIDC sessions");
        }
        if let Some(tls) = &tls {
            eprintln!("gatekeep server: tls key pin {}", tls.pin);
        }
        if let Some(warning) = plain_http_warning(&addr, tls.is_some()) {
            eprintln!("gatekeep server: warning: {warning}");
            tracing::warn!(%addr, "listening without TLS on an address other hosts can reach");
        }
        tracing::info!(
            %addr,
            data = %opts.at.data.display(),
            database = %opts.at.describe(),
            %kid,
            tls = tls.is_some(),
            max_connections = limits.max,
            per_address = limits.per_address,
            open_files = nofile,
            "started"
        );

        let sweeper = {
            let app = app.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    if let Err(e) = app.service.sweep().await {
                        tracing::error!(error = %e, "expiry sweep failed");
                    }
                }
            })
        };
        // A signed checkpoint of the chain every minute while events arrive (none when the
        // head did not move): the longest stretch of events that a cut of the tail could
        // remove without a checkpoint naming it.
        let checkpointer = {
            let app = app.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
                loop {
                    tick.tick().await;
                    if let Err(e) = app.service.checkpoint().await {
                        tracing::error!(error = %e, "cannot sign a checkpoint of the audit chain");
                    }
                }
            })
        };
        let workers = notify::start(app.clone(), bell.clone(), app.shutdown.clone());
        // A rotation: SIGHUP on any backend; on PostgreSQL, also the rotation's announcement
        // (and every reconnection of the listener, which may have missed one).
        let rotated = Arc::new(tokio::sync::Notify::new());
        let reloader = {
            let (app, at, rotated) = (app.clone(), opts.at.clone(), rotated.clone());
            tokio::spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let mut hup = signal(SignalKind::hangup()).ok();
                loop {
                    match &mut hup {
                        Some(hup) => tokio::select! {
                            _ = hup.recv() => {}
                            () = rotated.notified() => {}
                        },
                        None => rotated.notified().await,
                    }
                    reload_keys(&app, &at).await;
                }
            })
        };
        // Several replicas on one database: decisions taken elsewhere wake clients here, and
        // the delivery workers, which may claim the notices another replica's save wrote.
        let follower = app.service.store.postgres().map(|pg| {
            let (app, rotated) = (app.clone(), rotated.clone());
            tokio::spawn(listen::follow(pg.pool().clone(), move |heard| match heard {
                listen::Heard::Request(id) => {
                    app.service.wake(id);
                    bell.notify_waiters();
                }
                listen::Heard::Keys => rotated.notify_one(),
                listen::Heard::Reconnected => {
                    app.service.wake_all();
                    bell.notify_waiters();
                    rotated.notify_one();
                }
            }))
        });
        let router = http::router(app.clone());
        let graceful = async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            // Long polls return at once; their clients reconnect after the restart.
            let _ = stop.send(true);
        };
        conn::serve(listener, router, tls.map(|t| t.config), limits, graceful).await;
        sweeper.abort();
        reloader.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        checkpointer.abort();
        // A channel that hangs holds its worker for one call's timeout at most.
        workers.stop(notify::send::TIMEOUT).await;
        // The last word on shutdown: a checkpoint of the chain as this run leaves it.
        match app.service.checkpoint().await {
            Ok(Some(jws)) => {
                tracing::info!(checkpoint = %jws, "signed a checkpoint of the audit chain")
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot sign the shutdown checkpoint"),
        }
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// `gatekeep server token create`: prints the new token once.
pub fn token_create(at: &Location, identity: Identity) -> Result<(String, TokenRow)> {
    names::validate("the token name", &identity.name).map_err(anyhow::Error::msg)?;
    if let Some(user) = &identity.on_behalf_of {
        names::validate("the --on-behalf-of user", user).map_err(anyhow::Error::msg)?;
    }
    for group in &identity.groups {
        names::validate("the group", group).map_err(anyhow::Error::msg)?;
    }
    runtime()?.block_on(async {
        let store = open_store(at).await?;
        let prefix = match identity.role {
            Role::Requester => "gkr",
            Role::Approver => "gka",
        };
        let token = format!("{prefix}_{}", verdict::random_b64(32)?);
        let hash = token_hash(&token);
        let row = TokenRow {
            id: hash[..12].to_owned(),
            hash,
            identity,
            created_at: crate::time::now_rfc3339(),
            revoked_at: None,
        };
        let detail = EventDetail::TokenCreated {
            id: row.id.clone(),
            name: row.identity.name.clone(),
            kind: row.identity.role,
            groups: row.identity.groups.clone(),
            on_behalf_of: row.identity.on_behalf_of.clone(),
        };
        let event = EventDraft::new("", admin(), None, detail);
        store.add_token(&row, event).await?;
        Ok((token, row))
    })
}

pub fn token_list(at: &Location) -> Result<Vec<TokenRow>> {
    runtime()?.block_on(async { Ok(open_store(at).await?.tokens().await?) })
}

pub fn token_revoke(at: &Location, id_or_name: &str) -> Result<usize> {
    runtime()?.block_on(async {
        let store = open_store(at).await?;
        Ok(store
            .revoke(id_or_name, &crate::time::now_rfc3339(), &admin())
            .await?)
    })
}

/// `gatekeep server key rotate`: a new current key, the old one kept as previous. On
/// PostgreSQL, running replicas load it when the rotation is announced; a server on SQLite
/// loads it on SIGHUP.
pub fn key_rotate(at: &Location) -> Result<keys::KeySet> {
    // Checked before the store is opened, which would create a database in a wrong --data.
    if at.database.is_none() && !at.data.join("signing-key").exists() {
        bail!(
            "no signing key in {} to rotate\nhint: pass the server's --data directory",
            at.data.display()
        );
    }
    let kek = match at.database {
        Some(_) => Some(keys::kek_for(at.kek_file.as_deref())?),
        None => None,
    };
    runtime()?.block_on(async {
        let store = open_store(at).await?;
        let set = match (&store, &kek) {
            (Backend::Postgres(pg), Some(kek)) => keys::rotate_db(pg.pool(), kek).await?,
            _ => keys::rotate_files(&at.data)?,
        };
        // Evidence for auditors: which key signs from when, and who rotated it.
        let detail = EventDetail::KeyRotated {
            kid: set.kid(),
            previous: set.previous_kid().unwrap_or_default(),
        };
        store
            .record_events(vec![EventDraft::new("", admin(), None, detail)])
            .await
            .with_context(|| {
                format!(
                    "the signing key was rotated to {}, but the rotation could not be recorded in the audit trail",
                    set.kid()
                )
            })?;
        Ok(set)
    })
}

/// The whole audit trail.
pub fn events(at: &Location) -> Result<Vec<audit::Event>> {
    let data = &at.data;
    if at.database.is_none() && !data.join("gatekeep.db").exists() {
        bail!(
            "no approval-service database in {}\nhint: pass the server's --data directory",
            data.display()
        );
    }
    runtime()?.block_on(async { Ok(open_store(at).await?.events().await?) })
}

/// Everything `gatekeep server audit verify` checks, read from the data directory in one
/// go: the chain, the stored checkpoints, the request rows, and the service's public key.
pub struct AuditState {
    pub events: Vec<audit::Event>,
    pub checkpoints: Vec<store::StoredCheckpoint>,
    pub rows: Vec<store::RequestRow>,
    /// The service's public keys: the current one, then the previous one after a rotation.
    pub keys: Vec<ed25519_dalek::VerifyingKey>,
}

pub fn audit_state(at: &Location) -> Result<AuditState> {
    let data = &at.data;
    if at.database.is_none() && !data.join("gatekeep.db").exists() {
        bail!(
            "no approval-service database in {}\nhint: pass the server's --data directory",
            data.display()
        );
    }
    runtime()?.block_on(async {
        let store = open_store(at).await?;
        // Never created here: a verify that made a new key would check nothing.
        let keys = match &store {
            Backend::Postgres(pg) => {
                let kek = keys::kek_for(at.kek_file.as_deref())?;
                keys::stored_db(pg.pool(), &kek)
                    .await?
                    .map(|set| set.public())
                    .unwrap_or_default()
            }
            Backend::Sqlite(_) if data.join("signing-key").exists() => {
                keys::load_files(data)?.public()
            }
            Backend::Sqlite(_) => Vec::new(),
        };
        if keys.is_empty() {
            bail!(
                "no signing key in {}: checkpoints cannot be checked without the service's key\nhint: pass the server's --data directory (and --database)",
                at.describe()
            );
        }
        Ok(AuditState {
            events: store.events().await?,
            checkpoints: store.checkpoints().await?,
            rows: store.request_rows().await?,
            keys,
        })
    })
}

/// Every stored checkpoint (`gatekeep server audit checkpoints`).
pub fn checkpoints(at: &Location) -> Result<Vec<store::StoredCheckpoint>> {
    let data = &at.data;
    if at.database.is_none() && !data.join("gatekeep.db").exists() {
        bail!(
            "no approval-service database in {}\nhint: pass the server's --data directory",
            data.display()
        );
    }
    runtime()?.block_on(async { Ok(open_store(at).await?.checkpoints().await?) })
}

/// Who runs an admin command, for the audit trail.
fn admin() -> String {
    let user = std::env::var(crate::env_vars::USER).unwrap_or_default();
    if user.is_empty() {
        format!("admin (uid {})", nix::unistd::getuid())
    } else {
        format!("admin ({user})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_warned_about_only_off_loopback() {
        for addr in ["127.0.0.1:8700", "127.9.9.9:1", "[::1]:8700"] {
            assert_eq!(
                plain_http_warning(&addr.parse().unwrap(), false),
                None,
                "{addr}"
            );
        }
        for addr in ["0.0.0.0:8700", "[::]:8700", "192.0.2.7:8700"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let w = plain_http_warning(&addr, false).unwrap();
            assert!(w.contains("without TLS") && w.contains("--tls-cert"), "{w}");
            assert_eq!(plain_http_warning(&addr, true), None, "{addr} with TLS");
        }
    }

    /// What `token revoke` records reads back as that token's revocation (servers before
    /// typed events recorded only the name given, which the report took for a token it
    /// never issued).
    #[test]
    fn a_revocation_is_reported_on_the_token_it_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let at = Location::data(dir.path());
        let approver = |name: &str| Identity {
            name: name.into(),
            role: Role::Approver,
            groups: vec!["sre".into()],
            on_behalf_of: None,
        };
        let (_, bob) = token_create(&at, approver("bob")).unwrap();
        token_create(&at, approver("carol")).unwrap();
        assert_eq!(token_revoke(&at, &bob.id).unwrap(), 1);
        assert_eq!(token_revoke(&at, "carol").unwrap(), 1);
        assert_eq!(token_revoke(&at, "carol").unwrap(), 0, "already revoked");
        let events = events(&at).unwrap();
        let revoked: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "token_revoked")
            .map(|e| event::EventDetail::from_stored(&e.kind, &e.detail).unwrap())
            .collect();
        assert_eq!(revoked.len(), 2, "one event per token revoked");
        assert!(
            matches!(&revoked[0], event::EventDetail::TokenRevoked { id: Some(id), name: Some(n), .. } if *id == bob.id && n == "bob")
        );
        let md = report::report(&events, None, None, report::ReportFormat::Md).unwrap();
        assert!(!md.contains("never issued"), "{md}");
        for name in ["bob", "carol"] {
            let row = md
                .lines()
                .find(|l| l.starts_with(&format!("| {name} | approver |")))
                .unwrap_or_else(|| panic!("no token row for {name} in\n{md}"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            // | name | kind | groups | for | issued | by | revoked | by |
            assert!(
                cells[7].starts_with("20") && cells[8].starts_with("admin"),
                "not shown revoked: {row}"
            );
        }
    }
}
