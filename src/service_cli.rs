//! The approval service's commands: `gatekeep server ...` for its operators, `login`,
//! `logout` and `whoami` for any machine that uses it, and `pending`, `show`, `approve` and
//! `deny` for approvers. Thin: the work is in [`crate::server`] and
//! [`crate::approval::remote`].

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::api::protocol::{Identity, RequestView, Role};
use crate::api::verdict;
use crate::approval::credentials::{self, Stored};
use crate::approval::remote::{self, Client, RemoteError};
use crate::exit;
use crate::render::{self, Safe, terminal_safe};
use crate::server;

#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCmd>,
    /// Address to listen on (port 0 picks a free port and prints it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8700")]
    pub listen: SocketAddr,
    /// The longest a request may wait for approval, whatever its rule asks.
    #[arg(long, value_name = "SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_timeout: u64,
    /// Pending requests one requester may have at a time.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pending: u64,
    /// Requests one requester may create per minute.
    #[arg(long, value_name = "N", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_creates_per_minute: u32,
    /// Connections open at once; beyond it a connection is answered 503 and closed.
    /// Default: what the open-file limit (raised to its hard limit) leaves after a reserve
    /// for the database and logs, up to 32768.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// Connections open at once from one peer address (an IPv6 /64 counts as one).
    /// Default: half of --max-connections. Behind a reverse proxy every connection comes
    /// from the proxy: set it to --max-connections there.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_address: Option<u64>,
    /// Seconds a connection has to send a complete request head (and finish its TLS
    /// handshake), from connecting or from its previous response; idle keep-alive
    /// connections are closed after it too.
    #[arg(long, value_name = "SECS", default_value_t = server::conn::ConnLimits::DEFAULT_HEADER_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a connection may go without sending or reading a byte while none of its
    /// requests is being handled (a long poll waiting for a decision never counts); a
    /// request body must arrive in full within it.
    #[arg(long, value_name = "SECS", default_value_t = server::conn::ConnLimits::DEFAULT_IDLE_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,
    /// Serve HTTPS with this PEM certificate chain (server certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Where the database and signing key live (default: ~/.local/share/gatekeep/server).
    #[arg(long, value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCmd {
    /// Create, list and revoke the tokens requesters and approvers use.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Verify or export the service's hash-chained audit trail.
    #[command(subcommand)]
    Audit(ServerAuditCmd),
    /// Who requested what, who approved it, when and why, labelled with the controls it
    /// evidences (SOC 2, NIST 800-53).
    Report {
        /// First day or instant (`2026-11-01` or RFC 3339).
        #[arg(long, value_name = "WHEN")]
        from: Option<String>,
        /// Last day (inclusive) or instant.
        #[arg(long, value_name = "WHEN")]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = server::report::ReportFormat::Md)]
        format: server::report::ReportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token and print it once; only its hash is stored.
    #[command(group = clap::ArgGroup::new("who").required(true).args(["agent", "approver"]))]
    Create {
        /// A requester token for this agent or pipeline.
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        /// The person the agent works for (they cannot approve its requests).
        #[arg(long, value_name = "USER", requires = "agent")]
        on_behalf_of: Option<String>,
        /// An approver token for this person.
        #[arg(long, value_name = "NAME")]
        approver: Option<String>,
        /// Groups the approver belongs to (rules may require one).
        #[arg(
            long,
            value_name = "G1,G2",
            value_delimiter = ',',
            requires = "approver"
        )]
        groups: Vec<String>,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id or name; it stops working at once.
    Revoke { id_or_name: String },
}

#[derive(Debug, Subcommand)]
pub enum ServerAuditCmd {
    /// Check that no event was altered, removed, inserted or reordered, that the chain
    /// still holds every signed checkpoint (so its tail was neither cut nor re-hashed), and
    /// that every request row matches the hash its last event carries. Exit status 1 on
    /// any finding.
    Verify {
        /// Also check the checkpoints in this file (JSON Lines, as `gatekeep server audit
        /// checkpoints` or a client's `gatekeep audit checkpoints` writes them). Repeatable.
        #[arg(long, value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
    },
    /// Print every signed checkpoint of the chain as JSON Lines, to keep elsewhere.
    Checkpoints,
    /// Print every event.
    Export {
        #[arg(long, value_enum, default_value_t = server::audit::ExportFormat::Jsonl)]
        format: server::audit::ExportFormat,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The approval service's URL.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The thumbprint of the service's signing key, as `gatekeep server` prints it; without
    /// it the key is shown and you are asked to confirm it.
    #[arg(long, value_name = "THUMBPRINT", allow_hyphen_values = true)]
    pub key: Option<String>,
    /// Trust this PEM CA certificate for the service's https certificate, besides the
    /// system's (a private CA); recorded as `ca` in config.toml.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Also require the service certificate's public key to be this one
    /// (`sha256/BASE64`, as `gatekeep server --tls-cert` prints it); recorded as `tls_pin`.
    #[arg(long, value_name = "PIN")]
    pub tls_pin: Option<String>,
    /// Reach the service through this http:// proxy (CONNECT); recorded as `proxy`.
    /// Proxy environment variables are never used.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Accept plain http:// to a host that is not loopback: the token and every request
    /// cross the network unencrypted. Only for a network you trust; recorded as
    /// `insecure_http = true`.
    #[arg(long)]
    pub insecure_http: bool,
}

/// `gatekeep server ...`
pub fn server(args: ServerArgs) -> Result<ExitCode> {
    let data = args.data.unwrap_or_else(server::default_data_dir);
    match args.command {
        None => {
            server::run(&server::RunOptions {
                listen: args.listen,
                data,
                max_timeout_secs: args.max_timeout,
                limits: server::Limits {
                    pending_per_requester: usize::try_from(args.max_pending).unwrap_or(usize::MAX),
                    creates_per_minute: args.max_creates_per_minute,
                },
                connections: server::ConnOptions {
                    max: args
                        .max_connections
                        .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
                    per_address: args
                        .max_connections_per_address
                        .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
                    header_timeout: std::time::Duration::from_secs(args.header_timeout),
                    idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
                },
                tls: args.tls_cert.zip(args.tls_key),
            })?;
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Token(TokenCmd::Create {
            agent,
            on_behalf_of,
            approver,
            groups,
        })) => {
            let identity = match (agent, approver) {
                (Some(name), _) => Identity {
                    name,
                    role: Role::Requester,
                    groups: Vec::new(),
                    on_behalf_of,
                },
                (None, Some(name)) => Identity {
                    name,
                    role: Role::Approver,
                    groups,
                    on_behalf_of: None,
                },
                (None, None) => bail!("give --agent NAME or --approver NAME"),
            };
            let (token, row) = server::token_create(&data, identity)?;
            println!("{token}");
            eprintln!(
                "created {} token {} for {}; it is shown only this once\nhint: on the {} machine, run: gatekeep login --server URL   (and paste the token)",
                row.identity.role,
                row.id,
                row.identity.name,
                if row.identity.role == Role::Requester {
                    "agent's"
                } else {
                    "approver's"
                }
            );
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Token(TokenCmd::List { json })) => {
            let rows = server::token_list(&data)?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&rows)?)?;
            } else {
                writeln!(
                    out,
                    "{:<12}  {:<9}  {:<20}  {:<20}  STATUS",
                    "ID", "ROLE", "NAME", "GROUPS / FOR"
                )?;
                for r in rows {
                    let extra = match r.identity.role {
                        Role::Approver => r.identity.groups.join(","),
                        Role::Requester => r.identity.on_behalf_of.clone().unwrap_or_default(),
                    };
                    let status = r
                        .revoked_at
                        .map(|t| format!("revoked {t}"))
                        .unwrap_or_else(|| "active".into());
                    writeln!(
                        out,
                        "{:<12}  {:<9}  {:<20}  {:<20}  {status}",
                        r.id,
                        r.identity.role.to_string(),
                        terminal_safe(&r.identity.name),
                        terminal_safe(&extra)
                    )?;
                }
            }
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Token(TokenCmd::Revoke { id_or_name })) => {
            let n = server::token_revoke(&data, &id_or_name)?;
            if n == 0 {
                bail!(
                    "no active token has the id or name `{id_or_name}`\nhint: `gatekeep server token list` shows them"
                );
            }
            eprintln!("revoked {n} token(s) for `{id_or_name}`");
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Audit(ServerAuditCmd::Verify { checkpoints })) => {
            server_audit_verify(&data, &checkpoints)
        }
        Some(ServerCmd::Audit(ServerAuditCmd::Checkpoints)) => {
            let mut out = std::io::stdout().lock();
            for checkpoint in server::checkpoints(&data)? {
                serde_json::to_writer(
                    &mut out,
                    &crate::api::checkpoint::Line::of(&checkpoint.jws),
                )?;
                writeln!(out)?;
            }
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Audit(ServerAuditCmd::Export { format })) => {
            let events = server::events(&data)?;
            server::audit::export(&events, format, &mut std::io::stdout().lock())?;
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Report { from, to, format }) => {
            let events = server::events(&data)?;
            let text = server::report::report(&events, from.as_deref(), to.as_deref(), format)?;
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(exit::code(exit::SUCCESS))
        }
    }
}

/// `gatekeep server audit verify [--checkpoints FILE]...`: the chain, the checkpoints (the
/// database's and those in `files`) and the request rows. Findings go to stdout, one per
/// line; exit status 1 when there is any.
fn server_audit_verify(data: &std::path::Path, files: &[PathBuf]) -> Result<ExitCode> {
    let state = server::audit_state(data)?;
    let mut checkpoints: Vec<(String, String)> = state
        .checkpoints
        .iter()
        .map(|c| (format!("the database, event {}", c.seq), c.jws.clone()))
        .collect();
    let stored = checkpoints.len();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the checkpoint file {}", file.display()))?;
        let lines = crate::api::checkpoint::read_lines(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}\nhint: pass a file written by `gatekeep server audit checkpoints` or `gatekeep audit checkpoints`",
                file.display()
            )
        })?;
        for (n, jws) in lines {
            checkpoints.push((format!("{} line {n}", file.display()), jws));
        }
    }
    let chain = server::audit::verify(&state.events);
    let held = server::audit::verify_checkpoints(&state.events, &checkpoints, &state.key);
    let rows = server::audit::verify_rows(&state.events, &state.rows);
    let mut out = std::io::stdout().lock();
    let errors: Vec<&String> = chain
        .errors
        .iter()
        .chain(&held.errors)
        .chain(&rows.errors)
        .collect();
    if errors.is_empty() {
        writeln!(
            out,
            "ok: {} events, chain intact{}",
            chain.events,
            state
                .events
                .last()
                .map(|e| format!(", head {}", e.hash))
                .unwrap_or_default()
        )?;
        match &held.latest {
            Some((seq, time)) => writeln!(
                out,
                "ok: {} signed checkpoints ({stored} stored, {} from files) match the chain; the latest covers event {seq}, signed at {time}",
                held.matched,
                checkpoints.len() - stored
            )?,
            None => writeln!(
                out,
                "ok: no signed checkpoint yet (the service signs one every minute while events arrive, and on shutdown)"
            )?,
        }
        writeln!(
            out,
            "ok: {} request rows match their last events{}",
            rows.matched,
            if rows.unhashed > 0 {
                format!(
                    "; {} predate row hashes and cannot be checked",
                    rows.unhashed
                )
            } else {
                String::new()
            }
        )?;
        Ok(exit::code(exit::SUCCESS))
    } else {
        for e in &errors {
            writeln!(out, "error: {}", Safe(e))?;
        }
        writeln!(
            out,
            "FAILED: {} problem(s) in {} events, {} checkpoints and {} request rows",
            errors.len(),
            chain.events,
            checkpoints.len(),
            state.rows.len()
        )?;
        Ok(exit::code(exit::ERROR))
    }
}

/// Reads a token: from stdin when it is piped, else typed at the terminal without echo.
fn read_token() -> Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        use nix::sys::termios::{self, LocalFlags, SetArg};
        // Echo goes off before the prompt shows: a token pasted the moment `token:`
        // appears must not be echoed.
        let saved = termios::tcgetattr(&stdin).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
        }
        eprint!("token: ");
        let read = stdin.lock().read_line(&mut line);
        if let Some(saved) = &saved {
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, saved);
        }
        eprintln!();
        read?;
    } else {
        stdin.lock().read_line(&mut line)?;
    }
    let token = line.trim().to_owned();
    if token.is_empty() {
        bail!(
            "no token given\nhint: echo TOKEN | gatekeep login --server URL, with a token from `gatekeep server token create`"
        );
    }
    Ok(token)
}

/// `gatekeep login`: checks the token, pins the service's key, stores both.
pub fn login(args: LoginArgs) -> Result<ExitCode> {
    let url = args.server.trim_end_matches('/').to_owned();
    if !url.starts_with("http://") && !url.starts_with("https://") {
        bail!("`{url}` is not an http(s) URL");
    }
    let ca = match &args.ca {
        Some(ca) => Some(
            std::fs::canonicalize(ca)
                .with_context(|| format!("cannot read the CA file {}", ca.display()))?,
        ),
        None => None,
    };
    let connection = remote::Connection {
        proxy: args.proxy.clone(),
        ca,
        tls_pin: args.tls_pin.clone(),
        insecure_http: args.insecure_http,
    };
    if let Some(pin) = &connection.tls_pin {
        crate::approval::tls::parse_pin(pin).map_err(anyhow::Error::msg)?;
    }
    if let Some(proxy) = &connection.proxy
        && !proxy.starts_with("http://")
    {
        bail!("--proxy `{proxy}` is not an http:// proxy URL");
    }
    if connection.insecure_http && url.starts_with("http://") && !remote::is_loopback(&url) {
        eprintln!(
            "gatekeep: warning: using plain http to {url}: the token and every request cross the network unencrypted (recorded as insecure_http in config.toml)"
        );
    }
    // The token first, as the README shows: asked after the key question, a pasted token
    // would land in the [y/N] answer, echoed on the screen.
    let token = read_token()?;
    let anonymous = Client::connect(&url, &connection, None)?;
    let jwks = anonymous.jwks().context("cannot read the service's key")?;
    let keys: Vec<_> = jwks.keys.iter().filter_map(|k| k.key()).collect();
    let key = match &args.key {
        Some(want) => keys
            .iter()
            .find(|k| verdict::thumbprint(k) == *want)
            .copied()
            .with_context(|| {
                format!(
                    "the service at {url} does not have the key {want} (it has: {})\nhint: this may not be your approval service; check the thumbprint that `gatekeep server` printed",
                    keys.iter().map(verdict::thumbprint).collect::<Vec<_>>().join(", ")
                )
            })?,
        None => {
            let [key] = keys[..] else {
                bail!("the service at {url} publishes {} keys; name the one to trust with --key THUMBPRINT", keys.len());
            };
            confirm_key(&url, &key)?;
            key
        }
    };
    if let Ok(Some(current)) = remote::load_config()
        && current.key != key
    {
        eprintln!(
            "gatekeep: replacing the pinned key {} (from {}) with {}",
            current.key_id(),
            current.source.display(),
            verdict::thumbprint(&key)
        );
    }
    let client = Client::connect(&url, &connection, Some(token.clone()))?;
    let me = client
        .whoami()
        .context("the service did not accept the token")?;
    let stored = credentials::store(&url, me.role, &token)?;
    let path = remote::save_user_config(&url, &key, &connection)?;
    if let Ok(Some(active)) = remote::load_config()
        && active.source != path
    {
        eprintln!(
            "gatekeep: note: {} names a server too, and it takes precedence over {}",
            active.source.display(),
            path.display()
        );
    }
    println!(
        "logged in to {} as {} ({})",
        Safe(&url),
        Safe(&me.name),
        me.role
    );
    match stored {
        Stored::Keyring => println!("token stored in the OS keyring"),
        Stored::File(file) => println!(
            "token stored in {} (mode 0600): no keyring is available on this machine",
            file.display()
        ),
    }
    println!(
        "pinned signing key {} in {}",
        verdict::thumbprint(&key),
        path.display()
    );
    Ok(exit::code(exit::SUCCESS))
}

/// Shows the key's thumbprint and asks a person at the terminal to confirm it.
fn confirm_key(url: &str, key: &ed25519_dalek::VerifyingKey) -> Result<()> {
    let thumbprint = verdict::thumbprint(key);
    let Ok(mut tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        bail!(
            "the service at {url} signs with key {thumbprint}; with no terminal to confirm it, pass --key {thumbprint} after checking it against what `gatekeep server` printed"
        );
    };
    write!(
        tty,
        "The approval service at {url} signs verdicts with key\n  {thumbprint}\nCompare it with the key `gatekeep server` printed at start. Trust it? [y/N] "
    )?;
    let mut answer = String::new();
    std::io::BufReader::new(&tty).read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("key not trusted; nothing was changed");
    }
    Ok(())
}

/// `gatekeep logout`: forgets the tokens and the server.
pub fn logout() -> Result<ExitCode> {
    let Some(config) = remote::load_config()? else {
        eprintln!("gatekeep: not logged in to any approval service");
        return Ok(exit::code(exit::SUCCESS));
    };
    let mut removed = false;
    for kind in [Role::Requester, Role::Approver] {
        removed |= credentials::remove(&config.url, kind)?;
    }
    let cleared = remote::clear_user_config()?;
    println!(
        "logged out of {}{}",
        config.url,
        if removed { "; tokens removed" } else { "" }
    );
    if !cleared {
        eprintln!(
            "gatekeep: note: the server is set in {}, which logout does not change",
            config.source.display()
        );
    }
    Ok(exit::code(exit::SUCCESS))
}

/// The configured server, or an error that says how to configure one.
fn configured() -> Result<remote::ServerConfig> {
    remote::load_config()?
        .context("no approval service is configured\nhint: run `gatekeep login --server URL`")
}

fn client(config: &remote::ServerConfig, role: Role) -> Result<Client> {
    let token = credentials::load(&config.url, role)?.ok_or_else(|| RemoteError::NoToken {
        url: config.url.clone(),
        role,
    })?;
    Ok(Client::connect(
        &config.url,
        &config.connection,
        Some(token),
    )?)
}

/// The ledger heads the configured service holds for this machine's requester token, and
/// where they came from (`gatekeep audit verify --against-server`).
pub fn anchors() -> Result<(remote::ServerConfig, Vec<crate::api::protocol::Anchor>)> {
    let config = configured()?;
    let anchors = client(&config, Role::Requester)?
        .anchors()
        .with_context(|| format!("cannot read the ledger's anchors from {}", config.url))?;
    Ok((config, anchors))
}

/// `gatekeep whoami`.
pub fn whoami() -> Result<ExitCode> {
    let config = configured()?;
    println!(
        "server: {} (key {}, from {})",
        config.url,
        config.key_id(),
        config.source.display()
    );
    let mut any = false;
    for kind in [Role::Requester, Role::Approver] {
        if credentials::load(&config.url, kind)?.is_none() {
            continue;
        }
        any = true;
        let me = client(&config, kind)?.whoami()?;
        let extra = match (&me.on_behalf_of, me.groups.is_empty()) {
            (Some(user), _) => format!(" on behalf of {user}"),
            (None, false) => format!(" in groups {}", me.groups.join(", ")),
            (None, true) => String::new(),
        };
        println!("{}: {}{}", me.role, Safe(&me.name), Safe(&extra));
    }
    if !any {
        bail!(
            "no token is stored for {}\nhint: run `gatekeep login --server {}`",
            config.url,
            config.url
        );
    }
    Ok(exit::code(exit::SUCCESS))
}

/// `gatekeep pending`.
pub fn pending(json: bool) -> Result<ExitCode> {
    let config = configured()?;
    let list = client(&config, Role::Approver)?.pending()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&list)?)?;
        return Ok(exit::code(exit::SUCCESS));
    }
    if list.is_empty() {
        writeln!(out, "no requests are waiting for approval")?;
    }
    // Every field of a request came from its requester (an agent): rendered terminal-safe,
    // and the command wrapped under its line so that it is never cut.
    let width = render::terminal_width(&out);
    for r in &list {
        let left = r.expires_unix.saturating_sub(verdict::unix_now());
        writeln!(
            out,
            "{}  {:<8}  {}  ({}{}; {} of {} approvals; {}:{:02} left)",
            Safe(&r.id),
            terminal_safe(&r.risk),
            Safe(&r.requester),
            Safe(&r.origin.user),
            r.on_behalf_of
                .as_deref()
                .map(|u| format!(" for {}", Safe(u)))
                .unwrap_or_default(),
            r.approvals.len(),
            r.quorum,
            left / 60,
            left % 60,
        )?;
        writeln!(out, "{}", render::field("    ", &r.command, width))?;
    }
    Ok(exit::code(exit::SUCCESS))
}

fn print_request(r: &RequestView) -> Result<()> {
    let mut out = std::io::stdout().lock();
    // What an approver reads before deciding: every value the requester sent (command,
    // reason, user, host, agent, directory, risk, rule ids, even the request id) is rendered
    // terminal-safe and wrapped under its label, so it cannot redraw or forge a line.
    let width = render::terminal_width(&out);
    let mut line =
        |label: &str, value: &str| writeln!(out, "{}", render::field(label, value, width));
    line("request   ", &r.id)?;
    line("state     ", &r.state.to_string())?;
    line("command   ", &r.command)?;
    line(
        "risk      ",
        &format!("{}   rules: {}", r.risk, r.rules.join(", ")),
    )?;
    // Each rule's message says why the policy holds the command (the approver's context).
    for (rule, message) in r.rules.iter().zip(&r.messages) {
        line("why       ", &format!("{message} [{rule}]"))?;
    }
    line(
        "requester ",
        &format!(
            "{}{} ({}@{}{}) in {}",
            r.requester,
            r.on_behalf_of
                .as_deref()
                .map(|u| format!(" on behalf of {u}"))
                .unwrap_or_default(),
            r.origin.user,
            r.origin.host,
            r.origin
                .agent
                .as_deref()
                .map(|a| format!(", agent {a}"))
                .unwrap_or_default(),
            r.origin.cwd
        ),
    )?;
    if let Some(reason) = &r.reason {
        line("reason    ", reason)?;
    }
    // Several rules' groups must each be met (see `Requirements::approver_sets`).
    let groups = if r.group_sets.len() > 1 {
        let sets: Vec<String> = r.group_sets.iter().map(|s| s.join(" or ")).collect();
        format!(", covering each of: {}", sets.join("; "))
    } else if r.groups.is_empty() {
        String::new()
    } else {
        format!(" from {}", r.groups.join(" or "))
    };
    line("needs     ", &format!("{} approver(s){groups}", r.quorum))?;
    line(
        "created   ",
        &format!("{}   expires {}", r.created_at, r.expires_at),
    )?;
    for a in &r.approvals {
        line(
            "          ",
            &format!(
                "{} by {} via {} at {}{}",
                a.decision,
                a.name,
                a.channel,
                a.at,
                a.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        )?;
    }
    if let Some(o) = &r.outcome {
        let how = match &o.signal {
            Some(signal) => format!("ended by {signal}"),
            None => format!("exited {}", o.exit_code),
        };
        line("outcome   ", &format!("{how} after {} ms", o.duration_ms))?;
    }
    Ok(())
}

/// `gatekeep show ID`: with the approver token if there is one, else the requester's.
pub fn show(id: &str, json: bool) -> Result<ExitCode> {
    let config = configured()?;
    let client = client(&config, Role::Approver).or_else(|_| client(&config, Role::Requester))?;
    let r = client.get(id)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print_request(&r)?;
    }
    Ok(exit::code(exit::SUCCESS))
}

/// `gatekeep approve ID` / `gatekeep deny ID --reason TEXT`.
pub fn decide(id: &str, approve: bool, reason: Option<String>) -> Result<ExitCode> {
    let config = configured()?;
    let r = client(&config, Role::Approver)?.decide(id, approve, reason)?;
    let approvals = r
        .approvals
        .iter()
        .filter(|a| a.decision == "approved")
        .count();
    match r.state {
        crate::api::protocol::State::Pending => println!(
            "approved request {}: {approvals} of {} approvals; it waits for more",
            Safe(id),
            r.quorum
        ),
        state => println!("request {} is now {state}: {}", Safe(id), Safe(&r.command)),
    }
    Ok(exit::code(exit::SUCCESS))
}
