-- Notices to Slack, Teams and webhooks (src/server/notify/), written in the same transaction
-- as the request change they report and delivered in order per channel by a worker.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    notice TEXT NOT NULL,
    body TEXT NOT NULL,
    created_unix INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    reference TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (channel, state, id);
