//! The outbox: notifications to approvers' channels (Slack, Teams, webhooks) written in the
//! same transaction as the state change they announce, and delivered later by the worker in
//! `server::notify`. What goes into it is decided here, once for every backend
//! ([`OutboxPlan::rows`]); a backend only stores rows and hands them out ([`Outbox`]).
//!
//! A backend: an [`OutboxPlan`] in the store, `plan.rows(record, &events)` inserted inside
//! `save`'s transaction, [`OutboxPlan::wake`] after the commit, and [`Outbox`]. SQLite's is
//! `outbox_sqlite.rs` (one process: its worker is the only one); PostgreSQL's is
//! `outbox_postgres.rs`, where every replica runs the workers and a row is claimed with a
//! row lock held for the send (see there).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Notify;

use super::event::{EventDetail, EventDraft};
use super::store::{Record, StoreError};

/// What a notification announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Notice {
    Created,
    /// An approval that did not complete the quorum.
    Approval,
    /// The approval that completed the request.
    Approved,
    Denied,
    Expired,
    Cancelled,
    Outcome,
}

impl Notice {
    pub const ALL: [Notice; 7] = [
        Notice::Created,
        Notice::Approval,
        Notice::Approved,
        Notice::Denied,
        Notice::Expired,
        Notice::Cancelled,
        Notice::Outcome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Created => "created",
            Notice::Approval => "approval",
            Notice::Approved => "approved",
            Notice::Denied => "denied",
            Notice::Expired => "expired",
            Notice::Cancelled => "cancelled",
            Notice::Outcome => "outcome",
        }
    }

    pub fn parse(text: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.as_str() == text)
    }

    /// The notice an audit event is worth, if any.
    pub fn of(detail: &EventDetail) -> Option<Notice> {
        Some(match detail {
            EventDetail::Created(_) => Notice::Created,
            EventDetail::Approved { done: true, .. } => Notice::Approved,
            EventDetail::Approved { .. } => Notice::Approval,
            EventDetail::Denied { .. } => Notice::Denied,
            EventDetail::Expired { .. } => Notice::Expired,
            EventDetail::Cancelled { .. } => Notice::Cancelled,
            EventDetail::Outcome { .. } => Notice::Outcome,
            _ => return None,
        })
    }

    /// Whether the request is decided (or gone) once this is announced.
    pub fn is_final(self) -> bool {
        !matches!(self, Notice::Created | Notice::Approval)
    }
}

/// One channel the outbox feeds, and the notices it takes.
#[derive(Clone, Debug)]
pub struct Route {
    /// `slack`, `teams`, or `webhook:` and the first 12 hex digits of the URL's SHA-256
    /// (never the URL: it may carry a credential).
    pub channel: String,
    pub notices: Vec<Notice>,
}

/// Which channels get which notices, and the bell the worker waits on. Empty by default: a
/// store without one (the admin commands) writes no outbox rows.
#[derive(Clone, Debug, Default)]
pub struct OutboxPlan {
    routes: Arc<Vec<Route>>,
    wake: Arc<Notify>,
}

/// A row to insert.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRow {
    pub request_id: String,
    pub channel: String,
    pub notice: Notice,
    /// The request's view as this change leaves it (JSON, verdict removed).
    pub body: String,
    pub created_unix: u64,
}

impl OutboxPlan {
    pub fn new(routes: Vec<Route>) -> OutboxPlan {
        OutboxPlan {
            routes: Arc::new(routes),
            wake: Arc::default(),
        }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The rows that saving `record` with `events` adds: one per channel per notice.
    pub fn rows(&self, record: &Record, events: &[EventDraft]) -> Result<Vec<NewRow>, StoreError> {
        if self.routes.is_empty() {
            return Ok(Vec::new());
        }
        let mut view = record.view();
        // A notification announces; the signed verdict goes to the requester alone.
        view.verdict = None;
        let body = serde_json::to_string(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = crate::api::verdict::unix_now();
        let mut rows = Vec::new();
        for notice in events
            .iter()
            .filter(|e| e.request_id == record.create.id)
            .filter_map(|e| Notice::of(&e.detail))
        {
            for route in self.routes.iter().filter(|r| r.notices.contains(&notice)) {
                rows.push(NewRow {
                    request_id: record.create.id.clone(),
                    channel: route.channel.clone(),
                    notice,
                    body: body.clone(),
                    created_unix: now,
                });
            }
        }
        Ok(rows)
    }

    /// Rings the worker's bell: called by the store after a commit that added rows.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    pub fn bell(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// A stored outbox row, as the worker reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub request_id: String,
    pub channel: String,
    pub notice: Notice,
    pub body: String,
    pub created_unix: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this (milliseconds since the epoch).
    pub next_ms: u64,
}

/// How an attempt ended, as stored.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptEnd {
    /// Delivered; `reference` is what later notices need (Slack: the message's channel and
    /// `ts`, to update it in place).
    Sent { reference: Option<String> },
    /// Try again, not before `next_ms`.
    Retry { next_ms: u64 },
    /// Given up: the row stays, marked failed, for the report.
    Failed,
}

/// What a backend does for the outbox. Every method is one transaction (a claim's lasts
/// until [`Outbox::attempted`] ends it, or until it is dropped).
pub trait Outbox: Send + Sync + 'static {
    /// Held while a claimed row is sent, and handed back to [`Outbox::attempted`]; dropping
    /// it releases the row untouched.
    type Claim: Send;
    /// The oldest undelivered row of `channel`, claimed for this worker (delivered in order: a
    /// row waits for the ones before it on its channel), due or not; `None` when the channel
    /// has nothing pending or another worker holds its oldest row.
    fn claim(
        &self,
        channel: &str,
    ) -> impl Future<Output = Result<Option<(OutboxRow, Self::Claim)>, StoreError>> + Send;
    /// Records how an attempt at the claimed row `id` ended, and its audit event, atomically.
    fn attempted(
        &self,
        claim: Self::Claim,
        id: i64,
        end: &AttemptEnd,
        event: EventDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The reference stored with the delivered `created` notice of `request_id` on `channel`.
    fn reference(
        &self,
        request_id: &str,
        channel: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
}
