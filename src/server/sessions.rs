//! `gatekeep server session list|revoke`: the operators' view of approver sessions (issued
//! after an OIDC sign-in), next to `token list|revoke`, and run the same way: on the
//! server's database, by another process than the running server.
//!
//! Revoking deletes the session's row in one transaction with its `session_revoked`
//! event. The running server reads the row on every call (`http::caller`), so the session
//! stops working with the next call, and approvals it gave to requests still short of
//! their quorum are withdrawn (the session's holder is no longer `live`).

use super::backend::Location;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde::Serialize;

use super::event::{EventDetail, EventDraft};
use super::store::{SessionRow, Store};
use crate::exit;
use crate::render::terminal_safe;

#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// List the live approver sessions (never their tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// End approver sessions by id (as `session list` shows it) or by their holder's name;
    /// they stop working at once.
    Revoke { id_or_name: String },
}

/// A session as `session list` shows it.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    /// The first 12 hex digits of the session token's hash, as the `signed_in` event has it.
    pub id: String,
    pub name: String,
    pub groups: Vec<String>,
    pub issuer: String,
    pub subject: String,
    /// When the person last authenticated at the provider (seconds since the epoch).
    pub auth_time: Option<u64>,
    pub created_at: String,
    pub expires_at: String,
}

impl SessionInfo {
    fn of(row: &SessionRow) -> SessionInfo {
        let expires = i64::try_from(row.expires_unix)
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .and_then(crate::time::format_rfc3339_ms)
            .unwrap_or_else(|| row.expires_unix.to_string());
        SessionInfo {
            id: row.hash.chars().take(12).collect(),
            name: row.identity.name.clone(),
            groups: row.identity.groups.clone(),
            issuer: row.idp.issuer.clone(),
            subject: row.idp.subject.clone(),
            auth_time: row.idp.auth_time,
            created_at: row.created_at.clone(),
            expires_at: expires,
        }
    }
}

/// The live sessions, oldest first.
pub fn list(at: &Location) -> Result<Vec<SessionInfo>> {
    super::runtime()?.block_on(async {
        let store = super::open_store(at).await?;
        let rows = store.sessions(crate::api::verdict::unix_now()).await?;
        Ok(rows.iter().map(SessionInfo::of).collect())
    })
}

/// Ends every live session whose id or holder's name is `id_or_name`, recording a
/// `session_revoked` event by the operator for each; returns those ended.
pub fn revoke(at: &Location, id_or_name: &str) -> Result<Vec<SessionInfo>> {
    super::runtime()?.block_on(async {
        let store = super::open_store(at).await?;
        let mut ended = Vec::new();
        for row in store.sessions(crate::api::verdict::unix_now()).await? {
            let info = SessionInfo::of(&row);
            if info.id != id_or_name && !super::names::same(&info.name, id_or_name) {
                continue;
            }
            let detail = EventDetail::SessionRevoked {
                session: info.id.clone(),
                name: info.name.clone(),
            };
            let event = EventDraft::new("", super::admin(), None, detail);
            if store.end_session(&row.hash, event).await? {
                ended.push(info);
            }
        }
        Ok(ended)
    })
}

/// `gatekeep server session ...`
pub fn command(at: &Location, cmd: SessionCmd) -> Result<ExitCode> {
    match cmd {
        SessionCmd::List { json } => {
            let sessions = list(at)?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&sessions)?)?;
                return Ok(exit::code(exit::SUCCESS));
            }
            writeln!(
                out,
                "{:<12}  {:<24}  {:<32}  {:<20}  {:<20}  EXPIRES",
                "ID", "NAME", "ISSUER", "SUBJECT", "CREATED"
            )?;
            // Name, issuer and subject come from the identity provider's token: shown
            // terminal-safe like everything else someone else wrote.
            for s in sessions {
                writeln!(
                    out,
                    "{:<12}  {:<24}  {:<32}  {:<20}  {:<20}  {}",
                    s.id,
                    terminal_safe(&s.name),
                    terminal_safe(&s.issuer),
                    terminal_safe(&s.subject),
                    s.created_at,
                    s.expires_at
                )?;
            }
            Ok(exit::code(exit::SUCCESS))
        }
        SessionCmd::Revoke { id_or_name } => {
            let ended = revoke(at, &id_or_name)?;
            if ended.is_empty() {
                bail!(
                    "no live approver session has the id or holder `{}`\nhint: `gatekeep server session list` shows them",
                    terminal_safe(&id_or_name)
                );
            }
            for s in &ended {
                eprintln!(
                    "revoked session {} of {}; it no longer works",
                    s.id,
                    terminal_safe(&s.name)
                );
            }
            Ok(exit::code(exit::SUCCESS))
        }
    }
}
