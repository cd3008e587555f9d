//! The audit stage: who asked, from where, and what happened, written to the ledger with
//! secrets masked. Records hold metadata, never the command's input or output.

pub mod canonical;
pub mod ledger;
pub mod redact;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::env_vars;

/// Who runs a command and where: the requester and the context every record carries.
#[derive(Clone, Debug, Serialize)]
pub struct Requester {
    pub user: String,
    pub uid: u32,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub cwd: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<GitContext>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GitContext {
    pub repo: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl Requester {
    /// Reads the requester from the process: no subprocess, no network.
    pub fn current(cwd: &Path, agent: Option<String>) -> Requester {
        let uid = nix::unistd::getuid();
        let user = std::env::var(env_vars::USER)
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| {
                nix::unistd::User::from_uid(uid)
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .unwrap_or_else(|| uid.to_string());
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let agent = agent
            .or_else(|| std::env::var(env_vars::GATEKEEP_AGENT).ok())
            .filter(|a| !a.is_empty());
        Requester {
            user,
            uid: uid.as_raw(),
            host,
            agent,
            cwd: cwd.display().to_string(),
            git: git_context(cwd),
        }
    }
}

/// The repository and branch around `cwd`, read from `.git` without running git.
fn git_context(cwd: &Path) -> Option<GitContext> {
    let top = cwd.ancestors().find(|d| d.join(".git").exists())?;
    let dot_git = top.join(".git");
    // A worktree or submodule has a `.git` file pointing at the real directory.
    let git_dir: PathBuf = if dot_git.is_file() {
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = text.trim().strip_prefix("gitdir:")?.trim();
        top.join(target)
    } else {
        dot_git
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok();
    let branch = head
        .as_deref()
        .and_then(|h| h.trim().strip_prefix("ref: refs/heads/"))
        .map(str::to_owned);
    Some(GitContext {
        repo: top.display().to_string(),
        branch,
    })
}

// Times are written by the one calendar in `crate::time`; re-exported where the records
// are made.

/// A request id: unique per command, without a random device read on the fast path.
pub fn new_request_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!(
        "{nanos}:{}:{:?}",
        std::process::id(),
        std::thread::current().id()
    );
    ledger::sha256_hex(seed.as_bytes())[..20].to_owned()
}

/// The digest that binds a decision to exactly this command: the unmasked argv, the working
/// directory and the requester, each length-prefixed so that no two inputs collide.
pub fn command_digest(argv: &[String], cwd: &str, requester: &str) -> String {
    let mut bytes = Vec::new();
    for part in argv.iter().map(String::as_str).chain([cwd, requester]) {
        bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes.extend_from_slice(&(argv.len() as u64).to_be_bytes());
    ledger::sha256_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_bind_every_word() {
        let a = command_digest(&["rm".into(), "-rf".into(), "a b".into()], "/x", "u");
        let b = command_digest(
            &["rm".into(), "-rf".into(), "a".into(), "b".into()],
            "/x",
            "u",
        );
        let c = command_digest(&["rm".into(), "-rf".into(), "a b".into()], "/y", "u");
        assert!(a != b && a != c && a.len() == 64);
    }
}
