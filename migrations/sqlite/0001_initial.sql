-- The schema as it stood before versioned migrations. Every statement is `IF NOT EXISTS`:
-- a database created by an older gatekeep already has these tables and takes this
-- migration as applied without a change.
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    groups TEXT NOT NULL,
    on_behalf_of TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_unix INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state, expires_unix);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    channel TEXT,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Signed checkpoints of the chain (see `crate::api::checkpoint`).
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    time TEXT NOT NULL,
    jws TEXT NOT NULL
);
-- Approver sessions from OIDC sign-ins (the token's hash only).
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    groups TEXT NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    auth_time INTEGER,
    created_at TEXT NOT NULL,
    expires_unix INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_name ON sessions (name, expires_unix);
