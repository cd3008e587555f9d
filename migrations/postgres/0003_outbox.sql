-- Notices to Slack, Teams and webhooks (src/server/notify/), written in the same transaction
-- as the request change they report and delivered in order per channel by whichever replica
-- claims them (src/server/outbox_postgres.rs): the columns and meanings of SQLite's outbox.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    notice TEXT NOT NULL,
    body TEXT NOT NULL,
    created_unix BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    reference TEXT
);
CREATE INDEX outbox_pending ON outbox (channel, state, id);
CREATE INDEX outbox_reference ON outbox (request_id, channel);
