//! `gatekeep server ...`: the approval service's commands for its operators (run it, manage
//! tokens, verify and export the audit trail, reports). Thin: the work is in the rest of
//! [`crate::server`].

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::api::protocol::{Identity, Role};
use crate::exit;
use crate::render::{Safe, terminal_safe};
use crate::server;
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub command: Option<ServerCmd>,
    /// The server's settings file (TOML): `listen`, `data`, `database`,
    /// `database_password_file`, `key_encryption_key_file`, `tls_cert`, `tls_key`, and the
    /// `[web]`, `[oidc]` and `[auth]` tables. A flag given here wins over the file.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port and prints it) [default: 127.0.0.1:8700].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
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
    /// A PostgreSQL database instead of SQLite in --data (`postgres://USER@HOST/DB`), for
    /// several replicas on one database. Give the password with --database-password-file or
    /// in PGPASSFILE (~/.pgpass), not in the URL, which other users can read in `ps`.
    #[arg(long, value_name = "URL", global = true)]
    pub database: Option<String>,
    /// A file whose first line is the --database password.
    #[arg(long, value_name = "FILE", global = true)]
    pub database_password_file: Option<PathBuf>,
    /// The key-encryption key that seals the signing keys kept in the --database
    /// (32 random bytes, base64url, 0600: `gatekeep server key new-kek FILE` makes one).
    /// Every replica needs a copy of the same file.
    #[arg(long, value_name = "FILE", global = true)]
    pub key_encryption_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCmd {
    /// Create, list and revoke the tokens requesters and approvers use.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Rotate the verdict-signing key, or make a key-encryption key for PostgreSQL.
    #[command(subcommand)]
    Key(KeyCmd),
    /// List and revoke approver sessions (from OIDC sign-ins).
    #[command(subcommand)]
    Session(server::sessions::SessionCmd),
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
pub enum KeyCmd {
    /// Make a new signing key current and keep the current one as the previous key (any
    /// older one is dropped). The previous key endorses the new one in the JWK Set, so
    /// clients pinned to it accept the new key. On PostgreSQL running replicas switch at
    /// once; a server on SQLite switches on SIGHUP (or a restart).
    Rotate,
    /// Write a new key-encryption key (for --key-encryption-key-file) to FILE, which must
    /// not exist yet.
    NewKek { file: PathBuf },
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

/// `gatekeep server ...`
pub fn server(args: ServerArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(file) => server::config::load(file)?,
        None => server::config::ServerConfig {
            static_approver_tokens: true,
            ..Default::default()
        },
    };
    let data = server::Location {
        data: args
            .data
            .or_else(|| config.data.clone())
            .unwrap_or_else(server::default_data_dir),
        database: args.database.or_else(|| config.database.clone()),
        password_file: args
            .database_password_file
            .or_else(|| config.database_password_file.clone()),
        kek_file: args
            .key_encryption_key_file
            .or_else(|| config.key_encryption_key_file.clone()),
    };
    match args.command {
        None => {
            server::run(&server::RunOptions {
                listen: args
                    .listen
                    .or(config.listen)
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8700))),
                at: data,
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
                tls: args.tls_cert.zip(args.tls_key).or(config.tls.clone()),
                web: server::WebOptions::from_config(config),
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
        Some(ServerCmd::Key(KeyCmd::Rotate)) => {
            let set = server::key_rotate(&data)?;
            println!("{}", set.kid());
            eprintln!(
                "the signing key is now {}; {} stays published as the previous key and endorses it",
                set.kid(),
                set.previous_kid().unwrap_or_default()
            );
            if data.database.is_some() {
                eprintln!("running replicas on this database switch to it now");
            } else {
                eprintln!(
                    "hint: send SIGHUP to the running `gatekeep server` (or restart it) to sign with the new key"
                );
            }
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Key(KeyCmd::NewKek { file })) => {
            server::keys::new_kek(&file)?;
            eprintln!(
                "wrote a new key-encryption key to {} (mode 0600)\nhint: give every replica a copy and pass --key-encryption-key-file {}; without it the signing keys in the database cannot be opened",
                file.display(),
                file.display()
            );
            Ok(exit::code(exit::SUCCESS))
        }
        Some(ServerCmd::Session(cmd)) => server::sessions::command(&data, cmd),
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
fn server_audit_verify(data: &server::Location, files: &[PathBuf]) -> Result<ExitCode> {
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
    let held = server::audit::verify_checkpoints(&state.events, &checkpoints, &state.keys);
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
