-- Delivery of the outbox: where each row goes, who holds it, and every attempt made.
--
-- A row goes to one destination: the caller's callback URL or the event broker. Both rows of one
-- publication share the event id (receivers and JetStream dedupe by it), so uniqueness is per
-- destination.
ALTER TABLE outbox ADD COLUMN destination text NOT NULL DEFAULT 'callback'
    CHECK (destination IN ('callback', 'nats'));
ALTER TABLE outbox DROP CONSTRAINT outbox_callback_id_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_callback_destination_key UNIQUE (callback_id, destination);
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('PENDING', 'DELIVERING', 'DELIVERED', 'DEAD'));
-- A dispatcher claims a row by writing its token and a lease; a crashed dispatcher's rows become
-- claimable again when the lease ends.
ALTER TABLE outbox ADD COLUMN claim_token uuid;
ALTER TABLE outbox ADD COLUMN lease_until timestamptz;
ALTER TABLE outbox ADD COLUMN dead_at timestamptz;

DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'PENDING';
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE status = 'DELIVERING';
-- Per-stream order: a row waits while an earlier row of its stream and destination is undelivered.
CREATE INDEX outbox_undelivered_stream ON outbox (stream_id, destination, id)
    WHERE status IN ('PENDING', 'DELIVERING');

-- Every delivery attempt (operational history, not a projection).
CREATE TABLE outbox_attempts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint      NOT NULL REFERENCES outbox (id),
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    latency_ms  integer     NOT NULL,
    -- The receiver's HTTP status, when it answered.
    http_status integer,
    -- DELIVERED, FAILED (will retry) or DEAD (the last attempt failed).
    outcome     text        NOT NULL,
    error       text,
    instance    text        NOT NULL
);
CREATE INDEX outbox_attempts_outbox ON outbox_attempts (outbox_id, attempt);

-- Periodic jobs that one instance at a time runs (expiry): a sweeper holds its row locked
-- (FOR UPDATE SKIP LOCKED) for the duration of a sweep; others skip it.
CREATE TABLE scheduler_jobs (
    name             text PRIMARY KEY,
    last_started_at  timestamptz,
    last_finished_at timestamptz,
    last_outcome     text
);
INSERT INTO scheduler_jobs (name) VALUES ('expiry');

-- Whether a signer's latest link still works (ACTIVE), was expired by the scheduler (EXPIRED) or
-- was used (USED). Existing rows get what a rebuild would give them.
ALTER TABLE contract_signer ADD COLUMN link_status text
    CHECK (link_status IN ('ACTIVE', 'EXPIRED', 'USED'));
UPDATE contract_signer SET link_status = CASE
    WHEN link_id IS NULL THEN NULL
    WHEN sign_status = 'PENDING' THEN 'ACTIVE'
    ELSE 'USED' END;
CREATE INDEX contract_signer_link_due ON contract_signer (expires_at) WHERE link_status = 'ACTIVE';
