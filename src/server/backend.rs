//! The store a server runs on, chosen at start-up: SQLite in the data directory (the
//! default) or PostgreSQL at `--database postgres://…` (several replicas on one database).

use std::path::{Path, PathBuf};

use super::audit::Event;
use super::outbox::{AttemptEnd, Outbox, OutboxPlan, OutboxRow};
use super::outbox_postgres;
use super::postgres::{self, Postgres};
use super::sqlite::Sqlite;
use super::store::{
    EventDraft, Record, RequestRow, SessionRow, Store, StoreError, StoredCheckpoint, TokenRow,
};
use crate::api::protocol::{Identity, Role, State};

/// Where a server's state lives: its data directory (the signing key, and the SQLite
/// database unless `database` names another), and the database URL if any.
#[derive(Clone)]
pub struct Location {
    pub data: PathBuf,
    /// `postgres://…` (or `postgresql://…`); `None`: SQLite in `data`.
    pub database: Option<String>,
    /// A file holding the database password (first line), for a URL without one.
    pub password_file: Option<PathBuf>,
    /// The key-encryption key that seals the signing keys kept in PostgreSQL (see
    /// [`super::keys`]); unused with SQLite, whose keys are files in `data`.
    pub kek_file: Option<PathBuf>,
}

impl Location {
    /// SQLite in `data`.
    pub fn data(data: &Path) -> Location {
        Location {
            data: data.to_owned(),
            database: None,
            password_file: None,
            kek_file: None,
        }
    }

    /// What logs and messages show for the database: never its password.
    pub fn describe(&self) -> String {
        match &self.database {
            Some(url) => postgres::masked(url),
            None => self.data.join("gatekeep.db").display().to_string(),
        }
    }
}

/// Shows the database masked: a password in its URL never reaches a log through `{:?}`.
impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Location")
            .field("data", &self.data)
            .field("database", &self.database.as_deref().map(postgres::masked))
            .field("password_file", &self.password_file)
            .field("kek_file", &self.kek_file)
            .finish()
    }
}

/// Whether `url` names a PostgreSQL database (the only kind `--database` takes).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub enum Backend {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

pub enum Exclusive {
    Sqlite,
    Postgres(postgres::Exclusive),
}

impl Backend {
    pub async fn open_postgres(
        url: &str,
        password_file: Option<&Path>,
    ) -> Result<Backend, StoreError> {
        Postgres::open(url, password_file)
            .await
            .map(Backend::Postgres)
    }

    pub async fn open_sqlite(path: &Path) -> Result<Backend, StoreError> {
        Sqlite::open(path).await.map(Backend::Sqlite)
    }

    /// This store, writing the outbox rows `plan` asks for in every save.
    pub fn with_outbox(self, plan: OutboxPlan) -> Backend {
        match self {
            Backend::Sqlite(s) => Backend::Sqlite(s.with_outbox(plan)),
            Backend::Postgres(p) => Backend::Postgres(p.with_outbox(plan)),
        }
    }

    /// The PostgreSQL store, when that is what runs (for its change listener).
    pub fn postgres(&self) -> Option<&Postgres> {
        match self {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(_) => None,
        }
    }
}

/// The same call on whichever store runs.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::Sqlite($s) => $call,
            Backend::Postgres($s) => $call,
        }
    };
}

impl Store for Backend {
    type Exclusive = Exclusive;

    async fn exclusive(&self) -> Result<Exclusive, StoreError> {
        Ok(match self {
            Backend::Sqlite(s) => {
                s.exclusive().await?;
                Exclusive::Sqlite
            }
            Backend::Postgres(p) => Exclusive::Postgres(p.exclusive().await?),
        })
    }

    async fn identity(&self, hash: &str) -> Result<Option<Identity>, StoreError> {
        each!(self, s => s.identity(hash).await)
    }

    async fn add_token(&self, token: &TokenRow, event: EventDraft) -> Result<(), StoreError> {
        each!(self, s => s.add_token(token, event).await)
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        each!(self, s => s.tokens().await)
    }

    async fn add_session(&self, session: &SessionRow, event: EventDraft) -> Result<(), StoreError> {
        each!(self, s => s.add_session(session, event).await)
    }

    async fn session(&self, hash: &str, now: u64) -> Result<Option<SessionRow>, StoreError> {
        each!(self, s => s.session(hash, now).await)
    }

    async fn sessions(&self, now: u64) -> Result<Vec<SessionRow>, StoreError> {
        each!(self, s => s.sessions(now).await)
    }

    async fn end_session(&self, hash: &str, event: EventDraft) -> Result<bool, StoreError> {
        each!(self, s => s.end_session(hash, event).await)
    }

    async fn live(&self, name: &str, role: Role) -> Result<bool, StoreError> {
        each!(self, s => s.live(name, role).await)
    }

    async fn record_events(&self, events: Vec<EventDraft>) -> Result<(), StoreError> {
        each!(self, s => s.record_events(events).await)
    }

    async fn revoke(&self, id_or_name: &str, at: &str, actor: &str) -> Result<usize, StoreError> {
        each!(self, s => s.revoke(id_or_name, at, actor).await)
    }

    async fn request(&self, id: &str) -> Result<Option<Record>, StoreError> {
        each!(self, s => s.request(id).await)
    }

    async fn pending_of(&self, requester: &str) -> Result<usize, StoreError> {
        each!(self, s => s.pending_of(requester).await)
    }

    async fn requests(&self, state: Option<State>) -> Result<Vec<Record>, StoreError> {
        each!(self, s => s.requests(state).await)
    }

    async fn save(&self, record: &Record, events: Vec<EventDraft>) -> Result<(), StoreError> {
        each!(self, s => s.save(record, events).await)
    }

    async fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        each!(self, s => s.head().await)
    }

    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        each!(self, s => s.add_checkpoint(checkpoint).await)
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        each!(self, s => s.latest_checkpoint().await)
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        each!(self, s => s.checkpoints().await)
    }

    async fn request_rows(&self) -> Result<Vec<RequestRow>, StoreError> {
        each!(self, s => s.request_rows().await)
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        each!(self, s => s.events().await)
    }

    async fn events_of(&self, kind: &str, actor: &str) -> Result<Vec<Event>, StoreError> {
        each!(self, s => s.events_of(kind, actor).await)
    }
}

/// A claim on whichever store runs.
pub enum Claim {
    Sqlite,
    Postgres(outbox_postgres::Claim),
}

impl Outbox for Backend {
    type Claim = Claim;

    async fn claim(&self, channel: &str) -> Result<Option<(OutboxRow, Claim)>, StoreError> {
        Ok(match self {
            Backend::Sqlite(s) => s
                .claim(channel)
                .await?
                .map(|(row, ())| (row, Claim::Sqlite)),
            Backend::Postgres(p) => p
                .claim(channel)
                .await?
                .map(|(row, claim)| (row, Claim::Postgres(claim))),
        })
    }

    async fn attempted(
        &self,
        claim: Claim,
        id: i64,
        end: &AttemptEnd,
        event: EventDraft,
    ) -> Result<(), StoreError> {
        match (self, claim) {
            (Backend::Sqlite(s), Claim::Sqlite) => s.attempted((), id, end, event).await,
            (Backend::Postgres(p), Claim::Postgres(claim)) => {
                p.attempted(claim, id, end, event).await
            }
            // A store runs on one backend for its whole life: its claims are its own.
            _ => Err(StoreError::Db(
                "an outbox claim was handed to another store".into(),
            )),
        }
    }

    async fn reference(
        &self,
        request_id: &str,
        channel: &str,
    ) -> Result<Option<String>, StoreError> {
        each!(self, s => s.reference(request_id, channel).await)
    }
}
