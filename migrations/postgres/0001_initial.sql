-- The PostgreSQL schema: the SQLite one's columns and meanings, with `n` keeping the
-- requests' insertion order (SQLite's rowid).
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    groups TEXT NOT NULL,
    on_behalf_of TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE requests (
    n BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_unix BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX requests_state ON requests (state, expires_unix);
CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    time TEXT NOT NULL,
    request_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    channel TEXT,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_kind_actor ON events (kind, actor);
CREATE TABLE checkpoints (
    id BIGSERIAL PRIMARY KEY,
    seq BIGINT NOT NULL,
    head TEXT NOT NULL,
    time TEXT NOT NULL,
    jws TEXT NOT NULL
);
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    groups TEXT NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    auth_time BIGINT,
    created_at TEXT NOT NULL,
    expires_unix BIGINT NOT NULL
);
CREATE INDEX sessions_name ON sessions (name, expires_unix);
