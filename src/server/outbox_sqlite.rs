//! The outbox in SQLite (its table is `migrations/sqlite/0002_outbox.sql`): the insert
//! `Sqlite::save` makes inside its transaction, and [`Outbox`] for the worker. One process
//! uses the database and runs one worker per channel, so a claim is only a read: nothing
//! else can take the row. (PostgreSQL's, for replicas, is `outbox_postgres.rs`.)

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::event::EventDraft;
use super::outbox::{AttemptEnd, NewRow, Notice, Outbox, OutboxRow};
use super::sqlite::Sqlite;
use super::store::StoreError;

const INSERT: &str = "INSERT INTO outbox (request_id, channel, notice, body, created_unix)
     VALUES (?, ?, ?, ?, ?)";

const NEXT_DUE: &str =
    "SELECT id, request_id, channel, notice, body, created_unix, attempts, next_ms
     FROM outbox WHERE channel = ? AND state = 'pending' ORDER BY id LIMIT 1";

const SENT: &str =
    "UPDATE outbox SET state = 'sent', attempts = attempts + 1, reference = ? WHERE id = ?";

const RETRY: &str = "UPDATE outbox SET attempts = attempts + 1, next_ms = ? WHERE id = ?";

const FAILED: &str = "UPDATE outbox SET state = 'failed', attempts = attempts + 1 WHERE id = ?";

const REFERENCE: &str = "SELECT reference FROM outbox
     WHERE request_id = ? AND channel = ? AND notice = 'created' AND state = 'sent'
     ORDER BY id LIMIT 1";

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Inserts `rows` inside the caller's transaction.
pub async fn enqueue(tx: &mut sqlx::SqliteConnection, rows: &[NewRow]) -> Result<(), StoreError> {
    for row in rows {
        sqlx::query(INSERT)
            .bind(&row.request_id)
            .bind(&row.channel)
            .bind(row.notice.as_str())
            .bind(&row.body)
            .bind(i64::try_from(row.created_unix).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

fn outbox_row(row: &SqliteRow) -> Result<OutboxRow, StoreError> {
    let notice: String = row.get("notice");
    Ok(OutboxRow {
        id: row.get("id"),
        request_id: row.get("request_id"),
        channel: row.get("channel"),
        notice: Notice::parse(&notice)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox notice `{notice}`")))?,
        body: row.get("body"),
        created_unix: u64::try_from(row.get::<i64, _>("created_unix")).unwrap_or(0),
        attempts: u32::try_from(row.get::<i64, _>("attempts")).unwrap_or(u32::MAX),
        next_ms: u64::try_from(row.get::<i64, _>("next_ms")).unwrap_or(0),
    })
}

impl Outbox for Sqlite {
    type Claim = ();

    async fn claim(&self, channel: &str) -> Result<Option<(OutboxRow, ())>, StoreError> {
        let row = sqlx::query(NEXT_DUE)
            .bind(channel)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.as_ref().map(outbox_row).transpose()?.map(|r| (r, ())))
    }

    async fn attempted(
        &self,
        (): (),
        id: i64,
        end: &AttemptEnd,
        event: EventDraft,
    ) -> Result<(), StoreError> {
        // Behind any decision already waiting (see `Sqlite::writer`).
        let _writer = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let query = match end {
            AttemptEnd::Sent { reference } => sqlx::query(SENT).bind(reference.clone()).bind(id),
            AttemptEnd::Retry { next_ms } => sqlx::query(RETRY)
                .bind(i64::try_from(*next_ms).unwrap_or(i64::MAX))
                .bind(id),
            AttemptEnd::Failed => sqlx::query(FAILED).bind(id),
        };
        query.execute(&mut *tx).await.map_err(db)?;
        Sqlite::append(&mut tx, vec![event]).await?;
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
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(0)))
    }
}
