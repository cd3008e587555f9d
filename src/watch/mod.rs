//! `gatekeep pending --watch`: the approver's list, followed as it changes through the
//! service's long poll (`GET /v1/changes`, see [`crate::api::changes`]): one call at a time,
//! held by the server until something changes, never a timer.
//!
//! On a terminal it is a full-screen view ([`tui`]); with `--json`, or when stdout or stdin
//! is not a terminal, it prints one JSON line per new or changed request ([`Line`]) until
//! interrupted. Decisions go through the same API call as `gatekeep approve`/`deny`.
//!
//! Not on any `gatekeep exec` path: crossterm and the poll threads are only reached here.

mod terminal;
mod tui;

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::api::changes::{Change, Changes};
use crate::api::protocol::{MAX_WAIT_SECS, RequestView, Role, State};
use crate::approval::remote::{Client, RemoteError};
use crate::exit;

/// `gatekeep pending --watch [--json]`.
pub fn watch(json: bool) -> Result<ExitCode> {
    let config = crate::service_cli::configured()?;
    let client = crate::service_cli::client(&config, Role::Approver)?;
    if json || !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return stream(&client);
    }
    tui::run(client, &config.url)
}

/// One line of `gatekeep pending --watch --json`: a request seen for the first time
/// (`"kind": "new"`) or seen again with something changed (`"changed"`: its state, its
/// approvals, or whether this approver may still decide it). `request` is what
/// `gatekeep show ID --json` prints.
#[derive(Serialize)]
pub struct Line<'a> {
    pub kind: &'static str,
    /// Whether this approver may decide it now (see [`Change::actionable`]).
    pub actionable: bool,
    pub request: &'a RequestView,
}

/// What the watcher knows of the approver's list: every request it has been told of that
/// has not reached a final state, by id.
#[derive(Default)]
pub struct Model {
    pub requests: BTreeMap<String, Change>,
    pub cursor: Option<String>,
}

/// What one answer changed in a [`Model`].
pub struct Applied {
    /// Requests new to the model or different from what it held (`true`: new).
    pub reported: Vec<(bool, Change)>,
    /// Requests the model held as actionable that a reset list no longer has: decided,
    /// expired or cancelled while the watcher could not hear of it (the server restarted).
    pub vanished: Vec<String>,
}

impl Model {
    /// Takes in one answer of the long poll.
    pub fn apply(&mut self, changes: Changes) -> Applied {
        let mut vanished = Vec::new();
        if changes.reset {
            let listed: HashSet<&str> = changes
                .requests
                .iter()
                .map(|c| c.request.id.as_str())
                .collect();
            vanished = self
                .requests
                .iter()
                .filter(|(id, c)| c.actionable && !listed.contains(id.as_str()))
                .map(|(id, _)| id.clone())
                .collect();
            for id in &vanished {
                self.requests.remove(id);
            }
        }
        let mut reported = Vec::new();
        for change in changes.requests {
            if let Some(new) = self.update(change) {
                reported.push(new);
            }
        }
        self.cursor = Some(changes.cursor);
        Applied { reported, vanished }
    }

    /// Takes in what is known now of one request; returns it (and whether it is new) when
    /// it is new or changed. Final requests are reported and then forgotten: nothing about
    /// them changes any more.
    pub fn update(&mut self, change: Change) -> Option<(bool, Change)> {
        let id = change.request.id.clone();
        let new = match self.requests.get(&id) {
            Some(known) if known.actionable == change.actionable && same(known, &change) => {
                return None;
            }
            Some(_) => false,
            None => true,
        };
        if change.request.state.is_final() {
            self.requests.remove(&id);
        } else {
            self.requests.insert(id, change.clone());
        }
        Some((new, change))
    }

    /// The requests this approver may decide now, newest first.
    pub fn actionable(&self) -> Vec<&Change> {
        let mut list: Vec<&Change> = self.requests.values().filter(|c| c.actionable).collect();
        list.sort_by(|a, b| {
            (&b.request.created_at, &b.request.id).cmp(&(&a.request.created_at, &a.request.id))
        });
        list
    }
}

/// The same request in the same state: the checkpoint a server adds to a final view is
/// signed fresh each time, so it is left out of the comparison.
fn same(a: &Change, b: &Change) -> bool {
    a.request.state == b.request.state
        && a.request.approvals == b.request.approvals
        && a.request.expires_unix == b.request.expires_unix
}

/// Whether a failed poll is worth trying again: the service is away or busy, not refusing.
fn transient(e: &RemoteError) -> bool {
    match e {
        RemoteError::Unreachable { .. } | RemoteError::Busy { .. } => true,
        RemoteError::Refused { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Waits before the next poll after the `n`th failure in a row: 1 s, doubling, at most 30 s.
fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.min(5)).min(Duration::from_secs(30))
}

/// `--watch --json`: one [`Line`] per new or changed request, until interrupted or until
/// stdout closes.
fn stream(client: &Client) -> Result<ExitCode> {
    let mut model = Model::default();
    let mut out = std::io::stdout().lock();
    let mut failures = 0u32;
    loop {
        let changes = match client.changes(model.cursor.as_deref(), MAX_WAIT_SECS) {
            Ok(changes) => changes,
            Err(e) if transient(&e) => {
                if failures == 0 {
                    eprintln!(
                        "gatekeep: {}; retrying",
                        crate::render::terminal_safe_lines(&e.to_string())
                    );
                }
                std::thread::sleep(backoff(failures));
                failures += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        failures = 0;
        let applied = model.apply(changes);
        let mut lines = applied.reported;
        // Asked one by one: only after the service restarted, and only for what this
        // watcher held as waiting.
        for id in applied.vanished {
            if let Ok(request) = client.get(&id) {
                lines.push((
                    false,
                    Change {
                        actionable: false,
                        request,
                    },
                ));
            }
        }
        for (new, change) in &lines {
            let line = Line {
                kind: if *new { "new" } else { "changed" },
                actionable: change.actionable,
                request: &change.request,
            };
            let text = serde_json::to_string(&line)?;
            // A reader that went away (`| head -1`) ends the watch, as a success.
            if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                return Ok(exit::code(exit::SUCCESS));
            }
        }
    }
}

/// Seconds until `r` expires, and since it was created.
fn left_and_age(r: &RequestView) -> (u64, u64) {
    let now = crate::api::verdict::unix_now();
    let created = crate::time::parse_rfc3339_ms(&r.created_at)
        .and_then(|ms| u64::try_from(ms / 1000).ok())
        .unwrap_or(now);
    (
        r.expires_unix.saturating_sub(now),
        now.saturating_sub(created),
    )
}

/// `r`'s state for a status line.
fn state_word(r: &RequestView) -> String {
    match r.state {
        State::Pending => "pending".into(),
        state => state.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, state: State, actionable: bool) -> Change {
        let view: RequestView = serde_json::from_value(serde_json::json!({
            "id": id, "state": state, "command": "touch x", "argv": ["touch", "x"],
            "digest": "d", "origin": {"user": "u", "host": "h", "cwd": "/"},
            "risk": "high", "rules": [], "quorum": 1, "requester": "bot",
            "created_at": format!("2026-01-01T00:00:0{}Z", id.len()), "expires_at": "2026-01-01T01:00:00Z",
            "expires_unix": 1, "approvals": []
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        Change {
            actionable,
            request: view,
        }
    }

    #[test]
    fn the_model_reports_new_and_changed_once_and_forgets_final_requests() {
        let mut model = Model::default();
        let applied = model.apply(Changes {
            cursor: "r.1".into(),
            reset: true,
            requests: vec![change("a", State::Pending, true)],
        });
        assert_eq!(applied.reported.len(), 1);
        assert!(applied.reported[0].0, "new");
        // The same again is not news.
        assert!(model.update(change("a", State::Pending, true)).is_none());
        // No longer this approver's to decide: changed, and off the list.
        let (new, _) = model
            .update(change("a", State::Pending, false))
            .unwrap_or_else(|| panic!("a change"));
        assert!(!new);
        assert!(model.actionable().is_empty());
        let (new, _) = model
            .update(change("a", State::Approved, false))
            .unwrap_or_else(|| panic!("a change"));
        assert!(!new);
        assert!(model.requests.is_empty(), "final requests are forgotten");
        assert_eq!(model.cursor.as_deref(), Some("r.1"));
    }

    #[test]
    fn a_reset_names_what_vanished() {
        let mut model = Model::default();
        model.update(change("a", State::Pending, true));
        model.update(change("bb", State::Pending, true));
        let applied = model.apply(Changes {
            cursor: "s.0".into(),
            reset: true,
            requests: vec![change("bb", State::Pending, true)],
        });
        assert_eq!(applied.vanished, vec!["a".to_owned()]);
        assert!(applied.reported.is_empty());
        assert_eq!(model.actionable().len(), 1);
    }
}
