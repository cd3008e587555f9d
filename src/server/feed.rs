//! The approvers' long poll, `GET /v1/changes` (the protocol is in
//! [`crate::api::changes`]): which requests changed after a cursor, as each caller may see
//! them.
//!
//! Every saved change to a request goes through [`Service`]'s one wake-up (`wake`), which
//! appends the request's id to the [`Feed`] and bumps a `tokio::sync::watch` counter: a
//! waiting poll wakes on that, never on a timer. The feed is in memory and bounded
//! ([`REMEMBERED`] changes); a cursor from before it, or from another run of the server,
//! gets the caller's whole pending list again (a *reset*), so nothing is ever missed, only
//! sent twice.
//!
//! Visibility is [`Service::pending`]'s: only approvers may call it (a requester's attempt
//! is refused and recorded like a list), a request is never shown to the person it is for
//! or from, nor to someone outside the groups it asks for.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State as AxState};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::http::{ApiError, App, authenticate};
use super::names;
use super::service::{Service, ServiceError, group_sets, is_own, may_decide};
use super::store::{Record, Store};
use crate::api::changes::{Change, Changes};
use crate::api::protocol::{Identity, MAX_WAIT_SECS, Role, State};

/// Changes remembered for cursors: past it, a caller that was away that long gets a reset.
const REMEMBERED: usize = 4096;

/// The service's record of request changes since it started.
pub struct Feed {
    /// This run's id, the first half of every cursor: a restart cannot be mistaken for no
    /// change.
    run: String,
    /// The number of the last change; waiters subscribe to it.
    counter: tokio::sync::watch::Sender<u64>,
    /// The last [`REMEMBERED`] changes: (number, request id), in order.
    log: Mutex<VecDeque<(u64, String)>>,
}

impl Feed {
    pub fn new() -> Feed {
        // The run id only has to differ between runs: the start time says when, a few
        // random bytes tell apart two runs started in the same nanosecond.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let salt = crate::api::verdict::random_b64(3).unwrap_or_default();
        Feed {
            run: format!("{nanos:x}{}", salt.replace(['-', '_', '.'], "0")),
            counter: tokio::sync::watch::channel(0).0,
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// Records that request `id` changed, and wakes every waiting poll.
    pub fn changed(&self, id: &str) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        // Numbered under the log's lock, so that the log stays in order.
        let n = *self.counter.borrow() + 1;
        log.push_back((n, id.to_owned()));
        while log.len() > REMEMBERED {
            log.pop_front();
        }
        self.counter.send_replace(n);
    }

    /// Forgets every change so far and wakes every waiting poll: each cursor from before gets
    /// a reset, as after a restart. For when changes may have been missed (the replicas'
    /// notifications were lost with the connection that listens for them).
    pub fn lost(&self) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.clear();
        // With the log empty, `after` reaches back only to the next number: every earlier
        // cursor, this one included, is before it.
        let n = *self.counter.borrow() + 1;
        self.counter.send_replace(n);
    }

    fn cursor(&self, n: u64) -> String {
        format!("{}.{n}", self.run)
    }

    /// The change number `cursor` stands for, if it is from this run.
    fn parse(&self, cursor: &str) -> Option<u64> {
        let (run, n) = cursor.rsplit_once('.')?;
        if run != self.run {
            return None;
        }
        n.parse().ok()
    }

    /// The last change's number and the ids changed after `after`, each once, in the order
    /// of their last change; `None` when the log no longer reaches back to `after` (or
    /// `after` is ahead of it).
    fn after(&self, after: u64) -> Option<(u64, Vec<String>)> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let last = *self.counter.borrow();
        let oldest = log.front().map_or(last + 1, |(n, _)| *n);
        if after > last || after + 1 < oldest {
            return None;
        }
        let mut ids: Vec<String> = Vec::new();
        for (_, id) in log.iter().filter(|(n, _)| *n > after) {
            ids.retain(|seen| seen != id);
            ids.push(id.clone());
        }
        Some((last, ids))
    }
}

impl Default for Feed {
    fn default() -> Feed {
        Feed::new()
    }
}

/// Whether approver `who` may see `record` in their list or its changes: not their own,
/// and from a group it asks for (when it asks for any).
fn visible(who: &Identity, record: &Record) -> bool {
    if is_own(who, record) {
        return false;
    }
    let sets = group_sets(record);
    sets.iter().all(Vec::is_empty)
        || sets.iter().any(|set| {
            who.groups
                .iter()
                .any(|g| set.iter().any(|want| names::same(g, want)))
        })
}

impl<S: Store> Service<S> {
    /// What changed for approver `who` after `since`, waiting up to `wait` for something
    /// (see [`crate::api::changes`]). Returns early, with nothing, when the server shuts down.
    pub async fn changes(
        &self,
        who: &Identity,
        since: Option<&str>,
        wait: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Changes, ServiceError> {
        if who.role != Role::Approver {
            let why = "only an approver token can watch pending requests";
            self.refused(&who.name, "list", "", why, None).await;
            return Err(ServiceError::Forbidden(why.into()));
        }
        let mut counter = self.feed.counter.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        let Some(mut after) = since.and_then(|c| self.feed.parse(c)) else {
            return self.reset(who, &mut counter).await;
        };
        loop {
            // Marked seen before the log is read: a change after this read wakes the wait.
            counter.borrow_and_update();
            let Some((last, ids)) = self.feed.after(after) else {
                return self.reset(who, &mut counter).await;
            };
            let mut requests = Vec::new();
            for id in ids {
                let Some(record) = self.store.request(&id).await? else {
                    continue;
                };
                if visible(who, &record) {
                    requests.push(Change {
                        actionable: record.state == State::Pending
                            && may_decide(who, &record).is_ok(),
                        request: record.view(),
                    });
                }
            }
            if !requests.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(Changes {
                    cursor: self.feed.cursor(last),
                    reset: false,
                    requests,
                });
            }
            // Only changes this approver may not see: wait on from here.
            after = last;
            tokio::select! {
                changed = counter.changed() => {
                    if changed.is_err() {
                        return Err(ServiceError::Internal("the change feed closed".into()));
                    }
                }
                () = tokio::time::sleep_until(deadline) => {}
                _ = shutdown.changed() => {
                    return Ok(Changes { cursor: self.feed.cursor(last), reset: false, requests });
                }
            }
        }
    }

    /// The whole pending list of `who`, as a reset answer.
    async fn reset(
        &self,
        who: &Identity,
        counter: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Result<Changes, ServiceError> {
        // The counter is read first: a change while the list is read comes again next time.
        let last = *counter.borrow_and_update();
        let requests = self
            .pending(who)
            .await?
            .into_iter()
            .map(|r| Change {
                actionable: true,
                request: r.view(),
            })
            .collect();
        Ok(Changes {
            cursor: self.feed.cursor(last),
            reset: true,
            requests,
        })
    }
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    since: Option<String>,
    /// Seconds to hold the call open for a change (default 0, at most [`MAX_WAIT_SECS`]).
    wait: Option<u64>,
}

/// `GET /v1/changes?since=CURSOR&wait=SECS`. A held call is an in-flight request to the
/// connection limits (`conn.rs`): it counts against the caps and is never idle-closed,
/// like the wait for a decision.
pub async fn changes<S: Store>(
    AxState(app): AxState<Arc<App<S>>>,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<Changes>, ApiError> {
    let who = authenticate(&app, &headers).await?;
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    Ok(Json(
        app.service
            .changes(&who, q.since.as_deref(), wait, app.shutdown.clone())
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_answers_from_a_cursor_and_resets_past_its_reach() {
        let feed = Feed::new();
        assert_eq!(feed.after(0), Some((0, vec![])));
        feed.changed("a");
        feed.changed("b");
        feed.changed("a");
        // Each id once, in the order of its last change.
        assert_eq!(feed.after(0), Some((3, vec!["b".into(), "a".into()])));
        assert_eq!(feed.after(2), Some((3, vec!["a".into()])));
        assert_eq!(feed.after(3), Some((3, vec![])));
        // A cursor ahead of the feed is from elsewhere.
        assert_eq!(feed.after(4), None);
        for i in 0..REMEMBERED {
            feed.changed(&format!("r{i}"));
        }
        assert_eq!(feed.after(0), None, "older than what is remembered");
        let last = u64::try_from(REMEMBERED).unwrap_or(0) + 3;
        assert!(feed.after(last - 1).is_some());
    }

    #[test]
    fn a_lost_feed_resets_every_earlier_cursor() {
        let feed = Feed::new();
        feed.changed("a");
        let (before, _) = feed.after(0).unwrap();
        let mut waiting = feed.counter.subscribe();
        waiting.borrow_and_update();
        feed.lost();
        assert!(waiting.has_changed().unwrap(), "a waiting poll wakes");
        assert_eq!(feed.after(before), None);
        assert_eq!(feed.after(0), None);
        // The reset's cursor (the counter after the loss) reads on normally.
        let reset = *feed.counter.borrow();
        assert_eq!(feed.after(reset), Some((reset, vec![])));
        feed.changed("b");
        assert_eq!(feed.after(reset), Some((reset + 1, vec!["b".into()])));
        assert_eq!(feed.after(before), None);
    }

    #[test]
    fn cursors_are_tied_to_one_run() {
        let (one, two) = (Feed::new(), Feed::new());
        assert_eq!(one.parse(&one.cursor(7)), Some(7));
        assert_eq!(two.parse(&one.cursor(7)), None);
        assert_eq!(one.parse("7"), None);
    }
}
