//! The SQLite backend (the default): one file in the data directory, WAL journal, full
//! sync. Writes take `BEGIN IMMEDIATE`, so the hash chain stays linear even when
//! `gatekeep server token ...` writes from another process while the server runs.

use std::path::Path;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::audit::{Event, FIRST_PREV};
use super::event::{EventDetail, IdpLogin};
use super::store::{
    EventDraft, Record, RequestRow, SessionRow, Store, StoreError, StoredCheckpoint, TokenRow,
    stamp_row,
};
use crate::api::protocol::{Identity, Role, State};

/// The versioned schema (migrations/sqlite/). Its first migration is the schema from before
/// versions, all `IF NOT EXISTS`, so databases created then open as they are.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug)]
pub struct Sqlite {
    pub(super) pool: SqlitePool,
    /// Which channels each saved change notifies (none unless the server sets it).
    outbox: super::outbox::OutboxPlan,
    /// Taken by `save` and the outbox worker's writes: in one process they queue here, in
    /// order, instead of meeting at SQLite's write lock, whose busy handler sleeps up to
    /// 100 ms at a time (a decision waited behind delivery records that way).
    pub(super) writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

/// A `sessions` row as a [`SessionRow`].
fn session_row(row: &sqlx::sqlite::SqliteRow) -> Result<SessionRow, StoreError> {
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

impl Sqlite {
    /// Opens (creating if needed) the database at `path`.
    pub async fn open(path: &Path) -> Result<Sqlite, StoreError> {
        // The database holds token hashes and the whole trail: its owner's only, and so are
        // the -wal and -shm files SQLite creates beside it later (hence the umask, which this
        // process, a server or an admin command, keeps). Files made by older versions with
        // 0644 are closed too.
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            if let Ok(meta) = std::fs::symlink_metadata(&file)
                && meta.is_file()
                && std::os::unix::fs::MetadataExt::mode(&meta) & 0o077 != 0
            {
                let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
                std::fs::set_permissions(&file, private).map_err(|e| {
                    StoreError::Db(format!("cannot make {} private: {e}", path.display()))
                })?;
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged decision must survive a crash: it is audit evidence.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(db)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Db(format!("cannot migrate the schema: {e}")))?;
        Ok(Sqlite {
            pool,
            outbox: super::outbox::OutboxPlan::default(),
            writer: std::sync::Arc::default(),
        })
    }

    /// This store, writing the outbox rows `plan` asks for in every [`Store::save`].
    pub fn with_outbox(self, plan: super::outbox::OutboxPlan) -> Sqlite {
        Sqlite {
            outbox: plan,
            ..self
        }
    }

    pub(super) async fn append(
        tx: &mut sqlx::SqliteConnection,
        events: Vec<EventDraft>,
    ) -> Result<(), StoreError> {
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

fn token_row(row: &SqliteRow) -> Result<TokenRow, StoreError> {
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

fn record(row: &SqliteRow) -> Result<Record, StoreError> {
    serde_json::from_str(&row.get::<String, _>("body"))
        .map_err(|e| StoreError::Corrupt(format!("request record: {e}")))
}

impl Store for Sqlite {
    type Exclusive = ();

    async fn exclusive(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn identity(&self, hash: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| token_row(&r).map(|t| t.identity)).transpose()
    }

    async fn add_token(&self, token: &TokenRow, event: EventDraft) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        // Taken also by a name that is the same identity in another spelling (`Bob`, `bob`).
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
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        let row =
            sqlx::query("SELECT 1 FROM tokens WHERE name = ? AND role = ? AND revoked_at IS NULL")
                .bind(name)
                .bind(role.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        if row.is_some() || role != Role::Approver {
            return Ok(row.is_some());
        }
        let now = i64::try_from(crate::api::verdict::unix_now()).unwrap_or(i64::MAX);
        let session = sqlx::query("SELECT 1 FROM sessions WHERE name = ? AND expires_unix > ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        // Dead sessions are swept here, where new ones arrive: the table stays as small as
        // the number of live sign-ins.
        let now = i64::try_from(crate::api::verdict::unix_now()).unwrap_or(i64::MAX);
        sqlx::query("DELETE FROM sessions WHERE expires_unix <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO sessions (hash, name, groups, subject, issuer, auth_time, created_at, expires_unix)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.hash)
        .bind(&session.identity.name)
        .bind(groups)
        .bind(&session.idp.subject)
        .bind(&session.idp.issuer)
        .bind(session.idp.auth_time.and_then(|t| i64::try_from(t).ok()))
        .bind(&session.created_at)
        .bind(i64::try_from(session.expires_unix).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        Self::append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn session(&self, hash: &str, now: u64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE hash = ? AND expires_unix > ?")
            .bind(hash)
            .bind(i64::try_from(now).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(session_row(&row)?))
    }

    async fn sessions(&self, now: u64) -> Result<Vec<SessionRow>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM sessions WHERE expires_unix > ? ORDER BY created_at, hash")
                .bind(i64::try_from(now).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(session_row).collect()
    }

    async fn end_session(&self, hash: &str, event: EventDraft) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM sessions WHERE hash = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        Self::append(&mut tx, events).await?;
        tx.commit().await.map_err(db)
    }

    async fn revoke(&self, id_or_name: &str, at: &str, actor: &str) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let rows = sqlx::query(
            "SELECT * FROM tokens WHERE (id = ? OR name = ?) AND revoked_at IS NULL ORDER BY id",
        )
        .bind(id_or_name)
        .bind(id_or_name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(token_row)
        .collect::<Result<Vec<_>, _>>()?;
        let mut events = Vec::new();
        for row in &rows {
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ?")
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
        sqlx::query("SELECT body FROM requests WHERE id = ?")
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
            "SELECT count(*) FROM requests WHERE requester = ? AND state = 'pending'",
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
                sqlx::query("SELECT body FROM requests WHERE state = ? ORDER BY rowid")
                    .bind(state.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query("SELECT body FROM requests ORDER BY rowid")
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
        let _writer = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query(
            "INSERT INTO requests (id, state, expires_unix, body, requester) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body",
        )
        .bind(&record.create.id)
        .bind(record.state.as_str())
        .bind(i64::try_from(record.expires_unix).unwrap_or(i64::MAX))
        .bind(body)
        .bind(&record.requester)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        Self::append(&mut tx, events).await?;
        super::outbox_sqlite::enqueue(&mut tx, &notices).await?;
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
        sqlx::query("INSERT INTO checkpoints (seq, head, time, jws) VALUES (?, ?, ?, ?)")
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
        let rows = sqlx::query("SELECT id, state, expires_unix, body FROM requests ORDER BY rowid")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let id: String = r.get("id");
                // A body that is not JSON any more is kept as its text: its hash still
                // differs from the one in the chain, and verify names the request.
                let text: String = r.get("body");
                Ok(RequestRow {
                    state: r.get("state"),
                    expires_unix: r.get("expires_unix"),
                    body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                    id,
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
        let rows = sqlx::query("SELECT * FROM events WHERE kind = ? AND actor = ? ORDER BY seq")
            .bind(kind)
            .bind(actor)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(event).collect()
    }
}

fn checkpoint(row: &SqliteRow) -> StoredCheckpoint {
    StoredCheckpoint {
        seq: row.get("seq"),
        head: row.get("head"),
        time: row.get("time"),
        jws: row.get("jws"),
    }
}

fn event(row: &SqliteRow) -> Result<Event, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database from before the requester column: the migration fills it in from each
    /// request's body, so the flood limit counts the requests made before the upgrade.
    #[tokio::test]
    async fn the_requester_column_is_filled_in_for_requests_made_before_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("gatekeep.db");
        let old = sqlx::sqlite::SqlitePoolOptions::new()
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for sql in [
            "CREATE TABLE requests (id TEXT PRIMARY KEY, state TEXT NOT NULL,
                expires_unix INTEGER NOT NULL, body TEXT NOT NULL)",
            r#"INSERT INTO requests VALUES
                ('a', 'pending', 0, '{"requester": "ci-bot"}'),
                ('b', 'pending', 0, '{"requester": "ci-bot"}'),
                ('c', 'approved', 0, '{"requester": "ci-bot"}'),
                ('d', 'pending', 0, '{"requester": "other-bot"}')"#,
        ] {
            sqlx::query(sql)
                .execute(&old)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        old.close().await;
        let store = Sqlite::open(&path).await.unwrap_or_else(|e| panic!("{e}"));
        let count = |who: &'static str| store.pending_of(who);
        assert_eq!(count("ci-bot").await.ok(), Some(2));
        assert_eq!(count("other-bot").await.ok(), Some(1));
        assert_eq!(count("nobody").await.ok(), Some(0));
    }
}
