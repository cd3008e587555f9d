//! The PostgreSQL backend, for several replicas of the service on one database.
//!
//! What SQLite gets from one writer at a time, PostgreSQL gets from locks in the database, so
//! that replicas on different machines agree:
//! - the chain append takes a transaction-scoped advisory lock ([`CHAIN_LOCK`]) before it
//!   reads the head, so concurrent appends from any replica stay one chain;
//! - [`Store::exclusive`] holds another ([`WRITE_LOCK`]) across the service's
//!   read-modify-save of a request, so two replicas cannot both complete (or both expire) it;
//! - every saved request is announced with `NOTIFY` on [`CHANNEL`] (sent at commit), which
//!   replicas `LISTEN` to in order to wake the clients waiting on them.
//!
//! The notification outbox is written by `save` in its transaction, and claimed by every
//! replica's workers with `FOR UPDATE SKIP LOCKED` (see `outbox_postgres.rs`).

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use super::audit::{Event, FIRST_PREV};
use super::event::{EventDetail, IdpLogin};
use super::outbox::OutboxPlan;
use super::store::{
    EventDraft, Record, RequestRow, SessionRow, Store, StoreError, StoredCheckpoint, TokenRow,
    stamp_row,
};
use crate::api::protocol::{Identity, Role, State};

/// The advisory lock key serialising appends to the event chain (any fixed number, the
/// same in every replica: "gk chain").
const CHAIN_LOCK: i64 = 0x676b_2063_6861_696e;
/// The advisory lock key serialising request changes across replicas ("gk write").
const WRITE_LOCK: i64 = 0x676b_2077_7269_7465;
/// The channel every saved request's id is announced on.
pub const CHANNEL: &str = "gatekeep_requests";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Debug)]
pub struct Postgres {
    pool: PgPool,
    /// Which channels each saved change notifies (none unless the server sets it).
    outbox: OutboxPlan,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

/// `url` with its password, if it has one, replaced by `***`: what messages and logs show.
pub fn masked(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            // A password can also ride in the query (`?password=`).
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" { "***".into() } else { v };
                    (k.into_owned(), v.into_owned())
                })
                .collect();
            if !pairs.is_empty() {
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => "(a database URL that does not parse)".to_owned(),
    }
}

/// Held while the service reads, changes and saves a request: a transaction holding
/// [`WRITE_LOCK`], released when it ends (dropped: rolled back, having written nothing).
pub struct Exclusive {
    _tx: sqlx::Transaction<'static, sqlx::Postgres>,
}

impl Postgres {
    /// Connects to `url` and brings the schema up to date. A password not in the URL comes
    /// from `password_file` when given, else from `PGPASSFILE` or `~/.pgpass` (libpq's
    /// rules, which sqlx follows).
    pub async fn open(
        url: &str,
        password_file: Option<&std::path::Path>,
    ) -> Result<Postgres, StoreError> {
        let mut options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            // sqlx's message can quote the URL: say only what is wrong, masked.
            StoreError::Db(format!(
                "{} is not a PostgreSQL URL ({})",
                masked(url),
                e.to_string().replace(url, &masked(url))
            ))
        })?;
        if let Some(path) = password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                StoreError::Db(format!(
                    "cannot read the database password file {}: {e}",
                    path.display()
                ))
            })?;
            options = options.password(text.trim_end_matches(['\r', '\n']));
        }
        options = options.application_name("gatekeep");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(db)?;
        // Several replicas starting at once: sqlx takes an advisory lock around migrations.
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Db(format!("cannot migrate the schema: {e}")))?;
        Ok(Postgres {
            pool,
            outbox: OutboxPlan::default(),
        })
    }

    /// This store, writing the outbox rows `plan` asks for in every [`Store::save`].
    pub fn with_outbox(self, plan: OutboxPlan) -> Postgres {
        Postgres {
            outbox: plan,
            ..self
        }
    }

    /// The pool, for the listener (which takes a connection of its own from it).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) async fn append(
        tx: &mut sqlx::PgConnection,
        events: Vec<EventDraft>,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CHAIN_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Read after the lock: under READ COMMITTED this statement sees every append that
        // committed before the lock was granted.
        let last = sqlx::query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let (mut seq, mut prev) = match last {
            Some(row) => (row.get::<i64, _>(0), row.get::<String, _>(1)),
            None => (0, FIRST_PREV.to_owned()),
        };
        for draft in events {
            seq += 1;
            let (kind, detail) = draft
                .stored()
                .map_err(|e| StoreError::Corrupt(format!("event detail: {e}")))?;
            let mut event = Event {
                seq,
                time: crate::time::now_rfc3339(),
                request_id: draft.request_id,
                kind,
                actor: draft.actor,
                channel: draft.channel,
                detail,
                prev: prev.clone(),
                hash: String::new(),
            };
            event.hash = event.compute_hash();
            sqlx::query(
                "INSERT INTO events (seq, time, request_id, kind, actor, channel, detail, prev, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(event.seq)
            .bind(&event.time)
            .bind(&event.request_id)
            .bind(&event.kind)
            .bind(&event.actor)
            .bind(&event.channel)
            .bind(event.detail.to_string())
            .bind(&event.prev)
            .bind(&event.hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            prev = event.hash;
        }
        Ok(())
    }
}

fn token_row(row: &PgRow) -> Result<TokenRow, StoreError> {
    let role = match row.get::<String, _>("role").as_str() {
        "requester" => Role::Requester,
        "approver" => Role::Approver,
        other => return Err(StoreError::Corrupt(format!("token role `{other}`"))),
    };
    let groups: Vec<String> = serde_json::from_str(&row.get::<String, _>("groups"))
        .map_err(|e| StoreError::Corrupt(format!("token groups: {e}")))?;
    Ok(TokenRow {
        id: row.get("id"),
        hash: row.get("hash"),
        identity: Identity {
            name: row.get("name"),
            role,
            groups,
            on_behalf_of: row.get("on_behalf_of"),
        },
        created_at: row.get("created_at"),
        revoked_at: row.get("revoked_at"),
    })
}

fn record(row: &PgRow) -> Result<Record, StoreError> {
    serde_json::from_str(&row.get::<String, _>("body"))
        .map_err(|e| StoreError::Corrupt(format!("request record: {e}")))
}

fn unix(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for Postgres {
    type Exclusive = Exclusive;

    async fn exclusive(&self) -> Result<Exclusive, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Ok(Exclusive { _tx: tx })
    }

    async fn identity(&self, hash: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM tokens WHERE hash = $1 AND revoked_at IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| token_row(&r).map(|t| t.identity)).transpose()
    }

    async fn add_token(&self, token: &TokenRow, event: EventDraft) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The name check and the insert under the chain lock: two admins creating the same
        // name at once cannot both pass the check.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CHAIN_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let live = sqlx::query("SELECT name FROM tokens WHERE revoked_at IS NULL")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        if let Some(other) = live
            .iter()
            .map(|row| row.get::<String, _>(0))
            .find(|other| super::names::same(other, &token.identity.name))
        {
            return Err(StoreError::NameTaken(other));
        }
        let groups = serde_json::to_string(&token.identity.groups).unwrap_or_default();
        sqlx::query(
            "INSERT INTO tokens (id, hash, name, role, groups, on_behalf_of, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(&token.hash)
        .bind(&token.identity.name)
        .bind(token.identity.role.to_string())
        .bind(groups)
        .bind(&token.identity.on_behalf_of)
        .bind(&token.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        Self::append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        sqlx::query("SELECT * FROM tokens ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(token_row)
            .collect()
    }

    async fn live(&self, name: &str, role: Role) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM tokens WHERE name = $1 AND role = $2 AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(role.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if row.is_some() || role != Role::Approver {
            return Ok(row.is_some());
        }
        let now = unix(crate::api::verdict::unix_now());
        let session = sqlx::query("SELECT 1 FROM sessions WHERE name = $1 AND expires_unix > $2")
            .bind(name)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(session.is_some())
    }

    async fn add_session(&self, session: &SessionRow, event: EventDraft) -> Result<(), StoreError> {
        let groups = serde_json::to_string(&session.identity.groups)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let now = unix(crate::api::verdict::unix_now());
        sqlx::query("DELETE FROM sessions WHERE expires_unix <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO sessions (hash, name, groups, subject, issuer, auth_time, created_at, expires_unix)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&session.hash)
        .bind(&session.identity.name)
        .bind(groups)
        .bind(&session.idp.subject)
        .bind(&session.idp.issuer)
        .bind(session.idp.auth_time.and_then(|t| i64::try_from(t).ok()))
        .bind(&session.created_at)
        .bind(unix(session.expires_unix))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        Self::append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn session(&self, hash: &str, now: u64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE hash = $1 AND expires_unix > $2")
            .bind(hash)
            .bind(unix(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn sessions(&self, now: u64) -> Result<Vec<SessionRow>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM sessions WHERE expires_unix > $1 ORDER BY created_at, hash")
                .bind(unix(now))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(session_row).collect()
    }

    async fn end_session(&self, hash: &str, event: EventDraft) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if gone > 0 {
            Self::append(&mut tx, vec![event]).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(gone > 0)
    }

    async fn record_events(&self, events: Vec<EventDraft>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        Self::append(&mut tx, events).await?;
        tx.commit().await.map_err(db)
    }

    async fn revoke(&self, id_or_name: &str, at: &str, actor: &str) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let rows = sqlx::query(
            "SELECT * FROM tokens WHERE (id = $1 OR name = $1) AND revoked_at IS NULL
             ORDER BY id FOR UPDATE",
        )
        .bind(id_or_name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(token_row)
        .collect::<Result<Vec<_>, _>>()?;
        let mut events = Vec::new();
        for row in &rows {
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
                .bind(at)
                .bind(&row.id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let detail = EventDetail::TokenRevoked {
                token: id_or_name.to_owned(),
                id: Some(row.id.clone()),
                name: Some(row.identity.name.clone()),
                kind: Some(row.identity.role),
            };
            events.push(EventDraft::new("", actor, None, detail));
        }
        Self::append(&mut tx, events).await?;
        tx.commit().await.map_err(db)?;
        Ok(rows.len())
    }

    async fn request(&self, id: &str) -> Result<Option<Record>, StoreError> {
        sqlx::query("SELECT body FROM requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn pending_of(&self, requester: &str) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM requests WHERE requester = $1 AND state = 'pending'",
        )
        .bind(requester)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn requests(&self, state: Option<State>) -> Result<Vec<Record>, StoreError> {
        let rows = match state {
            Some(state) => {
                sqlx::query("SELECT body FROM requests WHERE state = $1 ORDER BY n")
                    .bind(state.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query("SELECT body FROM requests ORDER BY n")
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db)?;
        rows.iter().map(record).collect()
    }

    async fn save(&self, record: &Record, mut events: Vec<EventDraft>) -> Result<(), StoreError> {
        stamp_row(record, &mut events)?;
        let notices = self.outbox.rows(record, &events)?;
        let body = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO requests (id, state, expires_unix, body, requester) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body",
        )
        .bind(&record.create.id)
        .bind(record.state.as_str())
        .bind(unix(record.expires_unix))
        .bind(body)
        .bind(&record.requester)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        Self::append(&mut tx, events).await?;
        super::outbox_postgres::enqueue(&mut tx, &notices).await?;
        // Delivered at commit, to every replica listening: their waiting clients re-read,
        // and their delivery workers look for the new outbox rows.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&record.create.id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        if !notices.is_empty() {
            self.outbox.wake();
        }
        Ok(())
    }

    async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1))))
    }

    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO checkpoints (seq, head, time, jws) VALUES ($1, $2, $3, $4)")
            .bind(checkpoint.seq)
            .bind(&checkpoint.head)
            .bind(&checkpoint.time)
            .bind(&checkpoint.jws)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row =
            sqlx::query("SELECT seq, head, time, jws FROM checkpoints ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(row.as_ref().map(checkpoint))
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query("SELECT seq, head, time, jws FROM checkpoints ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        Ok(rows.iter().map(checkpoint).collect())
    }

    async fn request_rows(&self) -> Result<Vec<RequestRow>, StoreError> {
        let rows = sqlx::query("SELECT id, state, expires_unix, body FROM requests ORDER BY n")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let text: String = r.get("body");
                Ok(RequestRow {
                    id: r.get("id"),
                    state: r.get("state"),
                    expires_unix: r.get("expires_unix"),
                    body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                })
            })
            .collect()
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT * FROM events ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn events_of(&self, kind: &str, actor: &str) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query("SELECT * FROM events WHERE kind = $1 AND actor = $2 ORDER BY seq")
            .bind(kind)
            .bind(actor)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }
}

fn checkpoint(row: &PgRow) -> StoredCheckpoint {
    StoredCheckpoint {
        seq: row.get("seq"),
        head: row.get("head"),
        time: row.get("time"),
        jws: row.get("jws"),
    }
}

fn event(row: &PgRow) -> Result<Event, StoreError> {
    let detail: String = row.get("detail");
    Ok(Event {
        seq: row.get("seq"),
        time: row.get("time"),
        request_id: row.get("request_id"),
        kind: row.get("kind"),
        actor: row.get("actor"),
        channel: row.get("channel"),
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("event detail: {e}")))?,
        prev: row.get("prev"),
        hash: row.get("hash"),
    })
}

/// A session as stored (the same columns as SQLite's).
fn session_row(row: &sqlx::postgres::PgRow) -> Result<SessionRow, StoreError> {
    let groups: Vec<String> = serde_json::from_str(&row.get::<String, _>("groups"))
        .map_err(|e| StoreError::Corrupt(format!("session groups: {e}")))?;
    Ok(SessionRow {
        hash: row.get("hash"),
        identity: Identity {
            name: row.get("name"),
            role: Role::Approver,
            groups,
            on_behalf_of: None,
        },
        idp: IdpLogin {
            subject: row.get("subject"),
            issuer: row.get("issuer"),
            auth_time: row
                .get::<Option<i64>, _>("auth_time")
                .and_then(|t| u64::try_from(t).ok()),
        },
        created_at: row.get("created_at"),
        expires_unix: u64::try_from(row.get::<i64, _>("expires_unix")).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            masked("postgres://gk:s3cret@db.example:5432/gatekeep?sslmode=require"),
            "postgres://gk:***@db.example:5432/gatekeep?sslmode=require"
        );
        let m = masked("postgres://gk@db/gatekeep?password=s3cret&sslmode=verify-full");
        assert!(
            !m.contains("s3cret") && m.contains("sslmode=verify-full"),
            "{m}"
        );
        assert_eq!(
            masked("postgres://gk@db/gatekeep"),
            "postgres://gk@db/gatekeep"
        );
        assert!(!masked("postgres://gk:s3cret@[bad").contains("s3cret"));
    }
}
