//! The approval service's rules, whatever the storage and whatever the channel: who may see,
//! create, wait on, approve, deny and cancel a request; when a quorum is reached; when a
//! request expires; and signing every final state.
//!
//! Changes to one request are serialised by a lock held across read-modify-save, so two
//! approvers acting at once cannot both complete (or lose) a quorum.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::Notify;

pub use super::error::ServiceError;
use super::event::{Created, EventDetail, EventDraft, IdpLogin, Requester};
use super::keys::KeySet;
use super::limits::{Limits, validate, validate_outcome, validate_reason};
use super::names;
use super::store::{Record, Store};
use crate::api::protocol::{Anchor, CreateRequest, Identity, Role, RunReport, Shown, State};
use crate::api::verdict::{self, Approval, Claims};
use crate::audit::redact;
use crate::time::rfc3339;

/// How long a signed verdict stays valid: long enough to reach a waiting client, short
/// enough that a copy is useless later (the nonce already makes it single-use).
pub const VERDICT_TTL_SECS: u64 = 120;

mod refusals;
use refusals::RefusalBudget;

pub struct Service<S> {
    pub store: S,
    /// Swapped whole when the keys are rotated (see `set_keys`): a signature is made with
    /// the set as it was when it began.
    keys: std::sync::RwLock<Arc<KeySet>>,
    /// The longest a request may wait, whatever it asks for.
    max_timeout_secs: u64,
    /// One lock for all request changes: decisions are rare and quick.
    write: tokio::sync::Mutex<()>,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    refusals: Mutex<RefusalBudget>,
    limits: Limits,
    /// Per requester: creates still allowed, and when the count was last refilled.
    create_budget: Mutex<HashMap<String, (f64, std::time::Instant)>>,
    /// Held while a checkpoint is read, signed and stored, so that two callers do not sign
    /// the same head twice.
    checkpointing: tokio::sync::Mutex<()>,
    /// Every request change, for the approvers' long poll (`feed.rs`).
    pub(super) feed: super::feed::Feed,
}

impl<S: Store> Service<S> {
    pub fn new(store: S, key: SigningKey, max_timeout_secs: u64) -> Service<S> {
        Service::with_limits(
            store,
            KeySet::single(key),
            max_timeout_secs,
            Limits::default(),
        )
    }

    pub fn with_limits(
        store: S,
        keys: KeySet,
        max_timeout_secs: u64,
        limits: Limits,
    ) -> Service<S> {
        Service {
            store,
            keys: std::sync::RwLock::new(Arc::new(keys)),
            max_timeout_secs,
            write: tokio::sync::Mutex::new(()),
            waiters: Mutex::new(HashMap::new()),
            refusals: Mutex::new(RefusalBudget::default()),
            limits,
            create_budget: Mutex::new(HashMap::new()),
            checkpointing: tokio::sync::Mutex::new(()),
            feed: super::feed::Feed::new(),
        }
    }

    /// A signed checkpoint of the chain as it is now: the latest stored one when it already
    /// covers the chain's last event, else a new one, signed and stored. `None` while the
    /// chain is empty.
    ///
    /// Called every minute while the service runs, on shutdown, and whenever a final
    /// verdict is handed out (see `http::deliver`).
    pub async fn checkpoint(&self) -> Result<Option<String>, ServiceError> {
        let _guard = self.checkpointing.lock().await;
        let Some((seq, head)) = self.store.head().await? else {
            return Ok(None);
        };
        let latest = self.store.latest_checkpoint().await?;
        if let Some(latest) = &latest {
            if latest.seq == seq && latest.head == head {
                return Ok(Some(latest.jws.clone()));
            }
            if latest.seq > seq {
                // The chain is shorter than what this service signed before: someone cut
                // its tail. Keep signing (the old checkpoints still show the cut), but say it.
                tracing::error!(
                    checkpoint_seq = latest.seq,
                    chain_seq = seq,
                    "the audit chain is shorter than its last signed checkpoint: events were removed; run `gatekeep server audit verify`"
                );
            }
        }
        let time = crate::time::now_rfc3339();
        let (_, jws) = crate::api::checkpoint::sign(seq, &head, &time, &self.keys().current)
            .map_err(|e| ServiceError::Internal(format!("cannot sign a checkpoint: {e}")))?;
        self.store
            .add_checkpoint(&super::store::StoredCheckpoint {
                seq,
                head,
                time,
                jws: jws.clone(),
            })
            .await?;
        Ok(Some(jws))
    }

    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.keys().current.verifying_key()
    }

    /// The signing keys as they are now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Signs with `keys` from now on (after a rotation).
    pub fn set_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }

    /// Held across each read-modify-save of a request: this process's lock, then the store's.
    async fn exclusive(
        &self,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, S::Exclusive), ServiceError> {
        let local = self.write.lock().await;
        Ok((local, self.store.exclusive().await?))
    }

    /// The notifier for `id`, woken on every change to it.
    fn notifier(&self, id: &str) -> Arc<Notify> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.entry(id.to_owned()).or_default().clone()
    }

    /// Wakes the waiters on `id` and the approvers' feed: called after every saved change
    /// to a request, here or (through the database's notifications) on another replica.
    pub fn wake(&self, id: &str) {
        self.feed.changed(id);
        let waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = waiters.get(id) {
            n.notify_waiters();
        }
    }

    /// Wakes every waiting client to re-read its request, and sends every approver's watch a
    /// reset (news from replicas was lost: the feed cannot say what changed meanwhile).
    pub fn wake_all(&self) {
        self.feed.lost();
        let waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.values().for_each(|n| n.notify_waiters());
    }

    fn forget(&self, id: &str) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if waiters.get(id).is_some_and(|n| Arc::strong_count(n) == 1) {
            waiters.remove(id);
        }
    }

    /// Creates a request, or returns the existing one when the same create is retried.
    pub async fn create(
        &self,
        who: &Identity,
        req: CreateRequest,
    ) -> Result<(Record, bool), ServiceError> {
        if who.role != Role::Requester {
            let why = "only a requester token can create requests";
            self.refused(&who.name, "create", &req.id, why, None).await;
            return Err(ServiceError::Forbidden(why.into()));
        }
        validate(&req)?;
        let _guard = self.exclusive().await?;
        if let Some(existing) = self.store.request(&req.id).await? {
            // A retry after a lost response carries the same nonce and command.
            if existing.requester == who.name
                && existing.create.nonce == req.nonce
                && existing.create.ask.digest == req.ask.digest
            {
                return Ok((existing, false));
            }
            return Err(ServiceError::Conflict(format!(
                "request {} already exists for another command; choose a new id",
                req.id
            )));
        }
        self.take_create(&who.name)?;
        let pending = self.store.pending_of(&who.name).await?;
        if pending >= self.limits.pending_per_requester {
            return Err(ServiceError::TooMany(format!(
                "{} already has {pending} requests waiting for approval, the most one requester may have; wait for them to be decided or cancel some",
                who.name
            )));
        }
        // What approvers will read is derived here from the argv as received, never from
        // free text beside it, and its digest goes into the verdict (the `shown` claim): the
        // client computes the same from what it sent and refuses a verdict that differs.
        let shown = Shown::of(&req);
        // The server masks again: it stores and shows what the client sent, and a client
        // that forgot to mask must not put a secret into the audit trail.
        let mut req = req;
        req.ask.argv = redact::mask_argv(&req.ask.argv);
        req.ask.reason = req.ask.reason.as_deref().map(redact::mask_text);
        req.ask.messages = req
            .ask
            .messages
            .iter()
            .map(|m| redact::mask_text(m))
            .collect();
        let now = std::time::SystemTime::now();
        // `max(1)` on the cap too: `clamp` panics when its bounds cross.
        let timeout = req.timeout_secs.clamp(1, self.max_timeout_secs.max(1));
        let expires = now + Duration::from_secs(timeout);
        let record = Record {
            requester: who.name.clone(),
            on_behalf_of: who.on_behalf_of.clone(),
            state: State::Pending,
            created_at: rfc3339(now),
            expires_at: rfc3339(expires),
            expires_unix: verdict::unix_now() + timeout,
            approvals: Vec::new(),
            verdict: None,
            outcome: None,
            shown: shown.digest(),
            command: shown.command,
            create: req,
        };
        let c = &record.create;
        let detail = EventDetail::Created(Box::new(Created {
            command: record.command.clone(),
            shown: record.shown.clone(),
            argv: c.ask.argv.clone(),
            digest: c.ask.digest.clone(),
            requester: Requester {
                agent: c.ask.origin.agent.clone(),
                on_behalf_of: who.on_behalf_of.clone(),
                user: c.ask.origin.user.clone(),
                host: c.ask.origin.host.clone(),
                cwd: c.ask.origin.cwd.clone(),
            },
            reason: c.ask.reason.clone(),
            rules: c.ask.rules.clone(),
            messages: c.ask.messages.clone(),
            risk: c.ask.risk.clone(),
            quorum: c.ask.quorum,
            groups: c.ask.groups.clone(),
            group_sets: c.ask.group_sets.clone(),
            fresh_auth: c.ask.fresh_auth,
            expires_at: record.expires_at.clone(),
            ledger: c.ledger.clone(),
        }));
        let created = EventDraft::new(&c.id, &who.name, None, detail);
        // Approvers learn of pending requests through `gatekeep pending` (the CLI channel);
        // Slack, Teams and webhooks through the outbox rows the store writes with this save
        // (see `server::notify`), each delivery attempt an event of its own.
        let detail = EventDetail::Notified {
            channel: "cli".into(),
        };
        let notified = EventDraft::new(&c.id, "server", Some("cli"), detail);
        self.store.save(&record, vec![created, notified]).await?;
        self.wake(&record.create.id);
        Ok((record, true))
    }

    /// The ledger heads recorded in the audit trail for `who`'s requests, oldest first.
    /// Read from the chain itself (the `created` events), not from the request rows, so
    /// that what the requester checks against is what `server audit verify` covers.
    pub async fn anchors(&self, who: &Identity) -> Result<Vec<Anchor>, ServiceError> {
        if who.role != Role::Requester {
            return Err(ServiceError::Forbidden(
                "only a requester token has anchors: they are its own ledger's heads".into(),
            ));
        }
        let events = self.store.events_of("created", &who.name).await?;
        Ok(events
            .into_iter()
            .filter_map(|e| {
                let EventDetail::Created(created) =
                    EventDetail::from_stored(&e.kind, &e.detail).ok()?
                else {
                    return None;
                };
                let Created {
                    ledger, requester, ..
                } = *created;
                let head = ledger?;
                Some(Anchor {
                    request_id: e.request_id,
                    seq: head.seq,
                    hash: head.hash,
                    user: requester.user,
                    host: requester.host,
                    event_seq: e.seq,
                    time: e.time,
                })
            })
            .collect())
    }

    /// Takes one create from `requester`'s budget (a token bucket refilled evenly over the
    /// minute), or refuses with when to try again.
    fn take_create(&self, requester: &str) -> Result<(), ServiceError> {
        let per_minute = f64::from(self.limits.creates_per_minute.max(1));
        let now = std::time::Instant::now();
        let mut budgets = self.create_budget.lock().unwrap_or_else(|e| e.into_inner());
        let (left, since) = budgets
            .entry(requester.to_owned())
            .or_insert((per_minute, now));
        *left =
            (*left + now.duration_since(*since).as_secs_f64() * per_minute / 60.0).min(per_minute);
        *since = now;
        if *left < 1.0 {
            let wait = ((1.0 - *left) * 60.0 / per_minute).ceil();
            return Err(ServiceError::TooMany(format!(
                "{requester} has created more than {per_minute} requests in a minute; try again in {wait} s"
            )));
        }
        *left -= 1.0;
        Ok(())
    }

    /// A request, if `who` may see it: its own requester, or any approver. Another
    /// requester's attempt is answered as if there were no such request, and recorded.
    pub async fn get(&self, who: &Identity, id: &str) -> Result<Record, ServiceError> {
        let record = self.store.request(id).await?;
        match record {
            Some(r) if who.role == Role::Approver || r.requester == who.name => {
                self.expire_if_due(r).await
            }
            Some(r) => {
                let why = format!("the request belongs to requester {}", r.requester);
                self.refused(&who.name, "read", id, &why, None).await;
                Err(ServiceError::NotFound(format!("no request {id}")))
            }
            None => Err(ServiceError::NotFound(format!("no request {id}"))),
        }
    }

    /// The requests waiting for approval that `who` may decide: not their own, in their
    /// groups, and not already approved by them.
    pub async fn pending(&self, who: &Identity) -> Result<Vec<Record>, ServiceError> {
        if who.role != Role::Approver {
            let why = "only an approver token can list pending requests";
            self.refused(&who.name, "list", "", why, None).await;
            return Err(ServiceError::Forbidden(why.into()));
        }
        let mut out = Vec::new();
        for r in self.store.requests(Some(State::Pending)).await? {
            let r = self.expire_if_due(r).await?;
            if r.state == State::Pending && may_decide(who, &r).is_ok() {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Records an approver's decision; completes the request when the quorum is reached
    /// or on the first denial. A refused decision is recorded in the chain.
    pub async fn decide(
        &self,
        who: &Identity,
        id: &str,
        approve: bool,
        reason: Option<String>,
        channel: &str,
    ) -> Result<Record, ServiceError> {
        self.decide_as(who, None, id, approve, reason, channel)
            .await
    }

    /// [`Service::decide`] by an approver who signed in through OIDC: `idp` (subject,
    /// issuer, `auth_time`) goes into the decision's audit event.
    pub async fn decide_as(
        &self,
        who: &Identity,
        idp: Option<&IdpLogin>,
        id: &str,
        approve: bool,
        reason: Option<String>,
        channel: &str,
    ) -> Result<Record, ServiceError> {
        let action = if approve { "approve" } else { "deny" };
        let result = self
            .decide_inner(who, idp, id, approve, reason, channel)
            .await;
        self.note(who, action, id, Some(channel), result).await
    }

    async fn decide_inner(
        &self,
        who: &Identity,
        idp: Option<&IdpLogin>,
        id: &str,
        approve: bool,
        reason: Option<String>,
        channel: &str,
    ) -> Result<Record, ServiceError> {
        if who.role != Role::Approver {
            return Err(ServiceError::Forbidden(
                "a requester token cannot approve or deny; run `gatekeep login` with an approver token".into(),
            ));
        }
        validate_reason(reason.as_deref())?;
        let reason = reason.as_deref().map(redact::mask_text);
        if !approve && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(ServiceError::Invalid(
                "a denial needs a reason (--reason TEXT): the agent reads it".into(),
            ));
        }
        let _guard = self.exclusive().await?;
        let Some(record) = self.store.request(id).await? else {
            return Err(ServiceError::NotFound(format!("no request {id}")));
        };
        let record = self.expire_locked(record).await?;
        let mut record = self.cancel_if_orphaned(record).await?;
        if record.state != State::Pending {
            return Err(ServiceError::Conflict(format!(
                "request {id} is already {}",
                record.state
            )));
        }
        may_decide(who, &record)?;
        if let Some(idp) = idp {
            refuse_own_by_idp(who, idp, &record)?;
        }
        if approve {
            super::step_up::check(record.create.ask.fresh_auth, idp, verdict::unix_now())
                .map_err(ServiceError::StepUp)?;
        }
        // An approver whose token was revoked while the request waited no longer counts
        // towards its quorum: their approval is withdrawn, on the record.
        let mut events = Vec::new();
        let mut kept = Vec::new();
        for approval in std::mem::take(&mut record.approvals) {
            if self.store.live(&approval.name, Role::Approver).await? {
                kept.push(approval);
            } else {
                let detail = EventDetail::ApprovalWithdrawn {
                    approver: approval.name,
                    reason: "the approver's token was revoked before the quorum was reached".into(),
                };
                events.push(EventDraft::new(id, "server", None, detail));
            }
        }
        record.approvals = kept;
        let at = crate::time::now_rfc3339();
        let asked: Vec<String> = group_sets(&record).into_iter().flatten().collect();
        record.approvals.push(Approval {
            name: who.name.clone(),
            decision: if approve { "approved" } else { "denied" }.into(),
            at,
            channel: channel.to_owned(),
            reason: reason.clone(),
            groups: who
                .groups
                .iter()
                .filter(|g| asked.iter().any(|a| names::same(g, a)))
                .cloned()
                .collect(),
        });
        let approvals = record
            .approvals
            .iter()
            .filter(|a| a.decision == "approved")
            .count();
        let quorum = record.create.ask.quorum.max(1);
        let unmet = unmet_sets(&record);
        let done = !approve
            || (approvals >= usize::try_from(quorum).unwrap_or(usize::MAX) && unmet.is_empty());
        let verdict = if done {
            let outcome = if approve {
                verdict::FinalState::Approved
            } else {
                verdict::FinalState::Denied
            };
            Some(self.finish(&mut record, outcome, reason.clone())?)
        } else {
            None
        };
        let detail = if approve {
            EventDetail::Approved {
                reason,
                approvals,
                quorum,
                unmet_groups: unmet,
                done,
                verdict,
                idp: idp.cloned(),
            }
        } else {
            EventDetail::Denied {
                reason,
                verdict,
                idp: idp.cloned(),
            }
        };
        events.push(EventDraft::new(id, &who.name, Some(channel), detail));
        self.store.save(&record, events).await?;
        self.wake(id);
        Ok(record)
    }

    /// Cancels a pending request on behalf of its requester.
    pub async fn cancel(
        &self,
        who: &Identity,
        id: &str,
        reason: Option<String>,
    ) -> Result<Record, ServiceError> {
        validate_reason(reason.as_deref())?;
        let _guard = self.exclusive().await?;
        let record = match self.store.request(id).await? {
            Some(r) if r.requester == who.name && who.role == Role::Requester => r,
            Some(r) => {
                let why = format!("only its requester {} may cancel it", r.requester);
                self.refused(&who.name, "cancel", id, &why, None).await;
                return Err(ServiceError::NotFound(format!("no request {id}")));
            }
            None => return Err(ServiceError::NotFound(format!("no request {id}"))),
        };
        let mut record = self.expire_locked(record).await?;
        if record.state.is_final() {
            return Ok(record);
        }
        let reason = reason.as_deref().map(redact::mask_text);
        let verdict = self.finish(&mut record, verdict::FinalState::Cancelled, reason.clone())?;
        let event = EventDraft::new(
            id,
            &who.name,
            None,
            EventDetail::Cancelled { reason, verdict },
        );
        self.store.save(&record, vec![event]).await?;
        self.wake(id);
        Ok(record)
    }

    /// Records how an approved command ended.
    pub async fn outcome(
        &self,
        who: &Identity,
        id: &str,
        outcome: RunReport,
    ) -> Result<(), ServiceError> {
        validate_outcome(&outcome)?;
        let _guard = self.exclusive().await?;
        let mut record = match self.store.request(id).await? {
            Some(r) if r.requester == who.name && who.role == Role::Requester => r,
            Some(r) => {
                let why = format!("only its requester {} may report its outcome", r.requester);
                self.refused(&who.name, "outcome", id, &why, None).await;
                return Err(ServiceError::NotFound(format!("no request {id}")));
            }
            None => return Err(ServiceError::NotFound(format!("no request {id}"))),
        };
        if record.state != State::Approved {
            return Err(ServiceError::Conflict(format!(
                "request {id} is {}, so nothing ran",
                record.state
            )));
        }
        if record.outcome.is_some() {
            return Err(ServiceError::Conflict(format!(
                "the outcome of request {id} is already recorded"
            )));
        }
        let detail = EventDetail::Outcome {
            exit_code: outcome.exit_code,
            duration_ms: outcome.duration_ms,
            signal: outcome.signal.clone(),
        };
        let event = EventDraft::new(id, &who.name, None, detail);
        record.outcome = Some(outcome);
        self.store.save(&record, vec![event]).await?;
        Ok(())
    }

    /// Waits until request `id` is final or `timeout` passes; returns it either way.
    pub async fn wait(
        &self,
        who: &Identity,
        id: &str,
        timeout: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Record, ServiceError> {
        let notify = self.notifier(id);
        let deadline = tokio::time::Instant::now() + timeout;
        let result = loop {
            // Registered before reading, so a change between the read and the wait is seen.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let record = match self.get(who, id).await {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            if record.state.is_final() {
                break Ok(record);
            }
            // Wake at the request's own deadline too, to expire it on time.
            let expiry = tokio::time::Instant::now()
                + Duration::from_secs(record.expires_unix.saturating_sub(verdict::unix_now()))
                + Duration::from_millis(50);
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline.min(expiry)) => {
                    if tokio::time::Instant::now() >= deadline {
                        break self.get(who, id).await;
                    }
                }
                _ = shutdown.changed() => break Ok(record),
            }
        };
        drop(notify);
        self.forget(id);
        result
    }

    /// Expires every pending request past its deadline, and cancels those whose
    /// requester's token was revoked (run once a second). Revocation is written by
    /// another process (`gatekeep server token revoke`), so the server finds it here.
    pub async fn sweep(&self) -> Result<(), ServiceError> {
        let now = verdict::unix_now();
        for r in self.store.requests(Some(State::Pending)).await? {
            if r.expires_unix <= now {
                self.expire_if_due(r).await?;
            } else if !self.store.live(&r.requester, Role::Requester).await? {
                let _guard = self.exclusive().await?;
                if let Some(fresh) = self.store.request(&r.create.id).await? {
                    self.cancel_if_orphaned(fresh).await?;
                }
            }
        }
        Ok(())
    }

    /// With the write lock held: cancels `record` if it is pending and its requester's
    /// token has been revoked, so that nobody can approve it any more.
    async fn cancel_if_orphaned(&self, mut record: Record) -> Result<Record, ServiceError> {
        if record.state != State::Pending
            || self.store.live(&record.requester, Role::Requester).await?
        {
            return Ok(record);
        }
        let reason = format!("the token of requester {} was revoked", record.requester);
        let verdict = self.finish(
            &mut record,
            verdict::FinalState::Cancelled,
            Some(reason.clone()),
        )?;
        let detail = EventDetail::Cancelled {
            reason: Some(reason),
            verdict,
        };
        let event = EventDraft::new(&record.create.id, "server", None, detail);
        self.store.save(&record, vec![event]).await?;
        self.wake(&record.create.id);
        Ok(record)
    }

    async fn expire_if_due(&self, record: Record) -> Result<Record, ServiceError> {
        if record.state != State::Pending || record.expires_unix > verdict::unix_now() {
            return Ok(record);
        }
        let _guard = self.exclusive().await?;
        let id = record.create.id.clone();
        let fresh = self.store.request(&id).await?.unwrap_or(record);
        self.expire_locked(fresh).await
    }

    /// With the write lock held: expires `record` if it is pending past its deadline.
    async fn expire_locked(&self, mut record: Record) -> Result<Record, ServiceError> {
        if record.state != State::Pending || record.expires_unix > verdict::unix_now() {
            return Ok(record);
        }
        let verdict = self.finish(&mut record, verdict::FinalState::Expired, None)?;
        let detail = EventDetail::Expired { verdict };
        let event = EventDraft::new(&record.create.id, "server", None, detail);
        self.store.save(&record, vec![event]).await?;
        self.wake(&record.create.id);
        Ok(record)
    }

    /// Moves `record` to its final state and signs the verdict, which it returns for the
    /// audit event (so the trail itself holds the signed evidence).
    fn finish(
        &self,
        record: &mut Record,
        outcome: verdict::FinalState,
        reason: Option<String>,
    ) -> Result<String, ServiceError> {
        let now = verdict::unix_now();
        let claims = Claims {
            rid: record.create.id.clone(),
            digest: record.create.ask.digest.clone(),
            nonce: record.create.nonce.clone(),
            shown: Some(record.shown.clone()),
            decision: outcome,
            approvers: record.approvals.clone(),
            reason,
            iat: now,
            exp: now + VERDICT_TTL_SECS,
        };
        record.state = match outcome {
            verdict::FinalState::Approved => State::Approved,
            verdict::FinalState::Denied => State::Denied,
            verdict::FinalState::Expired => State::Expired,
            verdict::FinalState::Cancelled => State::Cancelled,
        };
        let jws = verdict::sign(&claims, &self.keys().current)
            .map_err(|e| ServiceError::Internal(format!("cannot sign the verdict: {e}")))?;
        record.verdict = Some(jws.clone());
        Ok(jws)
    }
}

/// Whether approver `who` may decide `record`: not their own, from a group it asks for,
/// and not already decided by them.
pub(super) fn may_decide(who: &Identity, record: &Record) -> Result<(), ServiceError> {
    let id = &record.create.id;
    if is_own(who, record) {
        return Err(ServiceError::Forbidden(format!(
            "{} cannot approve or deny request {id}: it is their own (requested by {}{})",
            who.name,
            record.requester,
            record
                .on_behalf_of
                .as_deref()
                .map(|u| format!(" on behalf of {u}"))
                .unwrap_or_default()
        )));
    }
    // An approval must count towards a set still unmet, or (all met) towards the quorum
    // from a group that was asked.
    let sets = group_sets(record);
    let member = |set: &[String]| {
        who.groups
            .iter()
            .any(|g| set.iter().any(|want| names::same(g, want)))
    };
    let unmet = unmet_sets(record);
    let useful = if unmet.is_empty() {
        sets.iter().all(|s| s.is_empty()) || sets.iter().any(|s| member(s))
    } else {
        unmet.iter().any(|s| member(s))
    };
    if !useful {
        let needed: Vec<String> = if unmet.is_empty() { sets } else { unmet }
            .iter()
            .map(|s| s.join(" or "))
            .collect();
        return Err(ServiceError::Forbidden(format!(
            "{} is not in any group that may approve request {id} (needs one of: {})",
            who.name,
            needed.join("; and one of: ")
        )));
    }
    if let Some(earlier) = record
        .approvals
        .iter()
        .find(|a| names::same_person(&a.name, &who.name))
    {
        return Err(ServiceError::Forbidden(format!(
            "{} has already approved request {id} (as {}); it needs a different approver",
            who.name, earlier.name
        )));
    }
    Ok(())
}

/// The request's approver group sets: one per rule that names groups (see
/// [`CreateRequest::group_sets`]); a request from an older client has its flat `groups`.
pub(super) fn group_sets(record: &Record) -> Vec<Vec<String>> {
    let c = &record.create;
    if !c.ask.group_sets.is_empty() {
        c.ask.group_sets.clone()
    } else if !c.ask.groups.is_empty() {
        vec![c.ask.groups.clone()]
    } else {
        Vec::new()
    }
}

/// The group sets no approval so far comes from.
fn unmet_sets(record: &Record) -> Vec<Vec<String>> {
    group_sets(record)
        .into_iter()
        .filter(|set| {
            !record.approvals.iter().any(|a| {
                a.decision == "approved"
                    && a.groups
                        .iter()
                        .any(|g| set.iter().any(|s| names::same(g, s)))
            })
        })
        .collect()
}

/// Refuses an approver who signed in through OIDC and is, by the provider's account, the
/// person the request was made for or from: the request's `--on-behalf-of` user or unix
/// user matched against the IdP subject and against the name's mailbox (`alice` is
/// `alice@example.com`). Wider than [`is_own`] on purpose: here a false match only sends
/// the request to another approver, a missed one lets a person approve their own agent.
pub(super) fn refuse_own_by_idp(
    who: &Identity,
    idp: &IdpLogin,
    record: &Record,
) -> Result<(), ServiceError> {
    let mailbox = who.name.rsplit_once('@').map(|(local, _)| local);
    let same = |user: &str| {
        names::same(user, &idp.subject) || mailbox.is_some_and(|m| names::same(user, m))
    };
    let people = [
        record.on_behalf_of.as_deref(),
        Some(record.create.ask.origin.user.as_str()),
    ];
    if people
        .into_iter()
        .flatten()
        .any(|u| !u.is_empty() && same(u))
    {
        return Err(ServiceError::Forbidden(format!(
            "{} cannot approve or deny request {}: the identity provider says it is their own (made for {})",
            who.name,
            record.create.id,
            record
                .on_behalf_of
                .as_deref()
                .unwrap_or(&record.create.ask.origin.user)
        )));
    }
    Ok(())
}

/// Whether `who` is the request's requester, or the person it was made for or from.
/// Compared as identities (see [`names::same`]): `Alice`, `alice` and `alice\u{a0}` are one
/// person to an auditor.
pub(super) fn is_own(who: &Identity, record: &Record) -> bool {
    let same = |name: &str| names::same(name, &who.name);
    same(&record.requester)
        || record.on_behalf_of.as_deref().is_some_and(same)
        || same(&record.create.ask.origin.user)
        || record.create.ask.origin.agent.as_deref().is_some_and(same)
}
