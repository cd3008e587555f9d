-- The service's signing keys, shared by every replica: the current key and, after a
-- rotation, the previous one (still published so that clients pinned to it follow the
-- rotation). Each seed is sealed with AES-256-GCM under a key-encryption key that replicas
-- read from a file, never from here (`gatekeep server audit verify` opens them too: a public
-- key kept in the clear could be swapped by whoever writes the database). They replace `service_key`, which only recorded the
-- thumbprint of a key every replica had to hold in a file: the first replica to start on
-- this table imports that file.
CREATE TABLE signing_keys (
    slot TEXT PRIMARY KEY CHECK (slot IN ('current', 'previous')),
    kid TEXT NOT NULL,
    sealed_seed TEXT NOT NULL,
    added_at TEXT NOT NULL
);
DROP TABLE service_key;
