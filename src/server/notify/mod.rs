//! Telling approvers where they work: Slack (with Approve / Deny buttons), Microsoft Teams
//! (an Adaptive Card linking to the web page) and signed webhooks.
//!
//! Notifications are durable: `Store::save` writes them into the outbox (see
//! `server::outbox`) in the same transaction as the change they announce, and the workers
//! here deliver them, one task per channel, so that a channel that is down delays nothing
//! but its own notifications. A channel's notifications go out in order, each once it is
//! acknowledged; a failed attempt is retried with exponential backoff (at least what a 429's
//! `Retry-After` asks) until the notice is older than `[delivery] give_up_after_secs`. Every
//! attempt is a `delivery` event in the audit chain. Nothing here is on the decision path:
//! a decision only adds rows.
//!
//! On PostgreSQL every replica runs these workers: a row is claimed by one of them for its
//! send (`outbox_postgres.rs`), and a replica's workers wake on its own saves and on the
//! `NOTIFY` of every other replica's (`listen.rs`), besides their poll.
//!
//! Decisions taken in Slack come back through `interactions` and go through the service's
//! one decision path, with the channel `slack`.

pub mod config;
mod facts;
pub mod interactions;
pub mod send;
pub mod signature;
pub mod slack;
mod teams;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use send::{Http, SendError};

use super::event::{EventDetail, EventDraft};
use super::http::App;
use super::outbox::{AttemptEnd, Notice, Outbox, OutboxRow};
use super::store::Store;
use crate::api::protocol::RequestView;
use crate::api::verdict::unix_now;

/// What the channels keep while the server runs.
#[derive(Debug)]
pub struct Live {
    pub http: Http,
    /// Slack signatures seen in the last five minutes.
    pub replays: signature::Replays,
}

impl Live {
    pub fn new() -> Result<Live, String> {
        Ok(Live {
            http: Http::new()?,
            replays: signature::Replays::default(),
        })
    }
}

/// The running workers.
pub struct Workers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts one worker per configured channel.
pub fn start<S: Store + Outbox>(
    app: Arc<App<S>>,
    bell: Arc<tokio::sync::Notify>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Workers {
    let tasks = app
        .web
        .channels
        .routes()
        .into_iter()
        .map(|route| {
            let (app, bell, shutdown) = (app.clone(), bell.clone(), shutdown.clone());
            tokio::spawn(work(app, route.channel, bell, shutdown))
        })
        .collect();
    Workers { tasks }
}

impl Workers {
    /// Waits for the workers to finish their attempt in flight, at most `bound`, then stops
    /// them: what is left stays in the outbox for the next start.
    pub async fn stop(self, bound: Duration) {
        let deadline = tokio::time::Instant::now() + bound;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Delivers `channel`'s rows, oldest first, until shutdown.
async fn work<S: Store + Outbox>(
    app: Arc<App<S>>,
    channel: String,
    bell: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // Rows written while no bell could ring (by an earlier run, or by another replica while
    // this one's listener was reconnecting) are found by this poll.
    const POLL: Duration = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Listened for before reading, so a row saved in between still wakes us.
        let rung = bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let wait = match app.service.store.claim(&channel).await {
            Ok(Some((row, claim))) if row.next_ms <= now_ms() => {
                attempt(&app, &channel, row, claim).await;
                continue;
            }
            Ok(Some((row, claim))) => {
                // Not due yet: released, for whichever worker is awake when it is.
                drop(claim);
                Duration::from_millis(row.next_ms.saturating_sub(now_ms())).min(POLL)
            }
            // Nothing pending, or another replica is sending the channel's oldest row.
            Ok(None) => POLL,
            Err(e) => {
                tracing::error!(channel, error = %e, "cannot read the outbox");
                POLL
            }
        };
        tokio::select! {
            () = &mut rung => {}
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// One attempt at the claimed `row`, recorded with its audit event.
async fn attempt<S: Store + Outbox>(app: &App<S>, channel: &str, row: OutboxRow, claim: S::Claim) {
    let result = deliver(app, channel, &row).await;
    let number = row.attempts.saturating_add(1);
    let delivery = &app.web.channels.delivery;
    let (end, result, error, retry_in_ms) = match result {
        Ok(reference) => (AttemptEnd::Sent { reference }, "sent", None, None),
        Err(SendError::Refused(why)) => (AttemptEnd::Failed, "failed", Some(why), None),
        Err(SendError::Retry { why, after }) => {
            if unix_now().saturating_sub(row.created_unix) >= delivery.give_up_after_secs {
                let why = format!("{why}; given up after {} s", delivery.give_up_after_secs);
                (AttemptEnd::Failed, "failed", Some(why), None)
            } else {
                let backoff = delivery
                    .retry_first_ms
                    .saturating_mul(1u64 << (number - 1).min(30))
                    .min(delivery.retry_max_ms);
                let asked = after.map_or(0, |a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX));
                let delay = backoff.max(asked);
                let end = AttemptEnd::Retry {
                    next_ms: now_ms().saturating_add(delay),
                };
                (end, "retry", Some(why), Some(delay))
            }
        }
    };
    if let Some(error) = &error {
        tracing::warn!(channel, request = %row.request_id, attempt = number, result, error = %crate::render::Safe(error), "a notification was not delivered");
    }
    let detail = EventDetail::Delivery {
        channel: channel.to_owned(),
        notice: row.notice.as_str().to_owned(),
        attempt: number,
        result: result.to_owned(),
        error,
        retry_in_ms,
    };
    let event = EventDraft::new(&row.request_id, "server", Some(channel), detail);
    if let Err(e) = app
        .service
        .store
        .attempted(claim, row.id, &end, event)
        .await
    {
        // The row stays as it was: it is tried again, and may go out twice (at least once).
        tracing::error!(channel, error = %e, "cannot record a delivery attempt");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Sends `row` to its channel; returns the reference later notices need.
async fn deliver<S: Store + Outbox>(
    app: &App<S>,
    channel: &str,
    row: &OutboxRow,
) -> Result<Option<String>, SendError> {
    let view: RequestView = serde_json::from_str(&row.body)
        .map_err(|e| SendError::Refused(format!("the stored notice does not read: {e}")))?;
    let page = facts::page(app.web.public_url.as_ref(), &view.id);
    let channels = &app.web.channels;
    let http = &app.channels.http;
    let now = unix_now();
    if channel == "slack" {
        let Some(config) = &channels.slack else {
            return Err(SendError::Refused("Slack is no longer configured".into()));
        };
        let api = slack::Api { http, config };
        let blocks = slack::blocks(&view, page.as_deref(), now);
        let text = slack::text(&view);
        if row.notice != Notice::Created {
            let stored = app
                .service
                .store
                .reference(&row.request_id, channel)
                .await
                .map_err(|e| SendError::Retry {
                    why: e.to_string(),
                    after: None,
                })?;
            if let Some(reference) = stored {
                api.update(&reference, blocks, text).await?;
                return Ok(None);
            }
            // The first message never went out: post this one instead.
        }
        return api.post(blocks, text).await.map(Some);
    }
    if channel == "teams" {
        let Some(config) = &channels.teams else {
            return Err(SendError::Refused("Teams is no longer configured".into()));
        };
        let body = teams::message(&view, page.as_deref(), now).to_string();
        http.post_json(
            "the Teams workflow",
            config.webhook_url.expose(),
            Vec::new(),
            body,
        )
        .await?;
        return Ok(None);
    }
    let Some(hook) = channels.webhooks.iter().find(|h| h.channel == channel) else {
        return Err(SendError::Refused(format!(
            "{channel} is no longer configured"
        )));
    };
    webhook::send(http, hook, row).await.map(|()| None)
}
