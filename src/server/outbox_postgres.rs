//! The outbox in PostgreSQL (its table is `migrations/postgres/0003_outbox.sql`), shared by
//! every replica: each runs the workers of `server::notify`, and a row is sent by whichever
//! replica claims it.
//!
//! A claim is a transaction holding the row's lock (`FOR UPDATE SKIP LOCKED`) from before
//! the send until the attempt is recorded, in the same transaction, with its audit event:
//! - exactly once while replicas live: a row another replica holds is skipped, and once
//!   its `sent` commits it is no longer pending;
//! - in order per channel: only the channel's oldest pending row is ever claimed ([`CLAIM`]),
//!   so while one replica sends it, the others take nothing from that channel;
//! - at least once on a crash: a replica killed mid-send takes its transaction with it
//!   (PostgreSQL rolls back when the connection drops), the row is pending and unlocked
//!   again, and another replica sends it again (a webhook's `id` lets a receiver drop the
//!   repeat). A replica that hangs or loses the network without closing the connection is
//!   cut off by [`HOLD_BOUND`].

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::event::EventDraft;
use super::notify::send::TIMEOUT;
use super::outbox::{AttemptEnd, NewRow, Notice, Outbox, OutboxRow};
use super::postgres::Postgres;
use super::store::StoreError;

/// The longest a claim's transaction may sit idle, as `idle_in_transaction_session_timeout`:
/// PostgreSQL ends the session of a replica that holds a row longer (a frozen process, a
/// network partition that leaves the connection open), and the row goes to another replica.
/// A claim is idle for one send, which the HTTP client bounds at [`TIMEOUT`] (Slack reads
/// its message's reference first, on another connection); three times that leaves a loaded
/// machine room and keeps a dead holder from stalling its channel for long.
const HOLD_BOUND: Duration = Duration::from_secs(TIMEOUT.as_secs() * 3);

const INSERT: &str = "INSERT INTO outbox (request_id, channel, notice, body, created_unix)
     VALUES ($1, $2, $3, $4, $5)";

/// The channel's oldest pending row, locked, or nothing when another replica holds it. Not
/// `ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`: that would pass over a held row and hand
/// out the next one, out of order. `state` is checked again on the row itself: a row sent
/// between the subquery's snapshot and the lock is re-read, and no longer matches.
///
/// Ids are given at insert, so rows of two requests saved at once on two replicas may
/// commit out of id order (the later one is then sent first); one request's rows cannot:
/// its changes are saved one after the other under the store's write lock.
const CLAIM: &str = "SELECT id, request_id, channel, notice, body, created_unix, attempts, next_ms
     FROM outbox
     WHERE id = (SELECT min(id) FROM outbox WHERE channel = $1 AND state = 'pending')
       AND state = 'pending'
     FOR UPDATE SKIP LOCKED";

const SENT: &str =
    "UPDATE outbox SET state = 'sent', attempts = attempts + 1, reference = $1 WHERE id = $2";

const RETRY: &str = "UPDATE outbox SET attempts = attempts + 1, next_ms = $1 WHERE id = $2";

const FAILED: &str = "UPDATE outbox SET state = 'failed', attempts = attempts + 1 WHERE id = $1";

const REFERENCE: &str = "SELECT reference FROM outbox
     WHERE request_id = $1 AND channel = $2 AND notice = 'created' AND state = 'sent'
     ORDER BY id LIMIT 1";

/// A claimed row: the transaction holding its lock.
pub struct Claim {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Inserts `rows` inside the caller's transaction.
pub async fn enqueue(tx: &mut sqlx::PgConnection, rows: &[NewRow]) -> Result<(), StoreError> {
    for row in rows {
        sqlx::query(INSERT)
            .bind(&row.request_id)
            .bind(&row.channel)
            .bind(row.notice.as_str())
            .bind(&row.body)
            .bind(int(row.created_unix))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

fn outbox_row(row: &PgRow) -> Result<OutboxRow, StoreError> {
    let notice: String = row.get("notice");
    Ok(OutboxRow {
        id: row.get("id"),
        request_id: row.get("request_id"),
        channel: row.get("channel"),
        notice: Notice::parse(&notice)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox notice `{notice}`")))?,
        body: row.get("body"),
        created_unix: u64::try_from(row.get::<i64, _>("created_unix")).unwrap_or(0),
        attempts: u32::try_from(row.get::<i32, _>("attempts")).unwrap_or(u32::MAX),
        next_ms: u64::try_from(row.get::<i64, _>("next_ms")).unwrap_or(0),
    })
}

impl Outbox for Postgres {
    type Claim = Claim;

    async fn claim(&self, channel: &str) -> Result<Option<(OutboxRow, Claim)>, StoreError> {
        let mut tx = self.pool().begin().await.map_err(db)?;
        sqlx::query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)")
            .bind(format!("{}ms", HOLD_BOUND.as_millis()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let row = sqlx::query(CLAIM)
            .bind(channel)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        // Nothing claimed: the transaction ends here, having written nothing.
        let Some(row) = row else { return Ok(None) };
        Ok(Some((outbox_row(&row)?, Claim { tx })))
    }

    async fn attempted(
        &self,
        claim: Claim,
        id: i64,
        end: &AttemptEnd,
        event: EventDraft,
    ) -> Result<(), StoreError> {
        let mut tx = claim.tx;
        let query = match end {
            AttemptEnd::Sent { reference } => sqlx::query(SENT).bind(reference.clone()).bind(id),
            AttemptEnd::Retry { next_ms } => sqlx::query(RETRY).bind(int(*next_ms)).bind(id),
            AttemptEnd::Failed => sqlx::query(FAILED).bind(id),
        };
        query.execute(&mut *tx).await.map_err(db)?;
        Postgres::append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn reference(
        &self,
        request_id: &str,
        channel: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(REFERENCE)
            .bind(request_id)
            .bind(channel)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }
}
