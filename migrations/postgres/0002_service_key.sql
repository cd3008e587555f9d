-- The thumbprint of the key every replica signs with, recorded by the first replica to
-- start: a replica with another key refuses to start (its verdicts would fail the clients'
-- pinned key).
CREATE TABLE service_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    kid TEXT NOT NULL,
    added_at TEXT NOT NULL
);
