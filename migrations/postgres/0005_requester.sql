-- Each request's requester as a column of its own, so that counting one requester's pending
-- requests (the flood limit, checked on every create) is an index lookup instead of a read
-- of every pending request.
ALTER TABLE requests ADD COLUMN requester TEXT NOT NULL DEFAULT '';
UPDATE requests SET requester = (body::jsonb) ->> 'requester';
CREATE INDEX requests_requester ON requests (requester, state);
