-- Delivery of the outbox: where each row goes, who holds it, and every attempt made.
--
-- A row goes to one destination: the caller's callback URL or the event broker. Both rows of one
-- publication share the event id (receivers and JetStream dedupe by it), so uniqueness is per
-- destination. SQLite cannot drop a table constraint, so the table is rebuilt.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id     TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    source_event_id TEXT    NOT NULL,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    client_id       TEXT    NOT NULL,
    callback_url    TEXT    NOT NULL,
    callback_headers TEXT,
    body_sealed     TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'DELIVERING', 'DELIVERED', 'DEAD')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT,
    destination     TEXT    NOT NULL DEFAULT 'callback' CHECK (destination IN ('callback', 'nats')),
    -- A dispatcher claims a row by writing its token and a lease; a crashed dispatcher's rows become
    -- claimable again when the lease ends.
    claim_token     TEXT,
    lease_until     TEXT,
    dead_at         TEXT,
    CONSTRAINT outbox_callback_destination_key UNIQUE (callback_id, destination)
) STRICT;
INSERT INTO outbox_new (id, callback_id, event_type, source_event_id, stream_id, stream_version,
    client_id, callback_url, callback_headers, body_sealed, status, attempts, next_attempt_at,
    last_error, created_at, delivered_at)
SELECT id, callback_id, event_type, source_event_id, stream_id, stream_version, client_id,
    callback_url, callback_headers, body_sealed, status, attempts, next_attempt_at, last_error,
    created_at, delivered_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;

CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'PENDING';
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE status = 'DELIVERING';
-- Per-stream order: a row waits while an earlier row of its stream and destination is undelivered.
CREATE INDEX outbox_undelivered_stream ON outbox (stream_id, destination, id)
    WHERE status IN ('PENDING', 'DELIVERING');
CREATE INDEX outbox_stream ON outbox (stream_id, stream_version);

-- Every delivery attempt (operational history, not a projection).
CREATE TABLE outbox_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    attempt     INTEGER NOT NULL,
    started_at  TEXT    NOT NULL,
    latency_ms  INTEGER NOT NULL,
    http_status INTEGER,
    outcome     TEXT    NOT NULL,
    error       TEXT,
    instance    TEXT    NOT NULL
) STRICT;
CREATE INDEX outbox_attempts_outbox ON outbox_attempts (outbox_id, attempt);

-- Periodic jobs one instance at a time runs. One process owns a SQLite file, so the row only
-- records the last run here.
CREATE TABLE scheduler_jobs (
    name             TEXT PRIMARY KEY,
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_outcome     TEXT
) STRICT;
INSERT INTO scheduler_jobs (name) VALUES ('expiry');

-- Whether a signer's latest link still works (ACTIVE), was expired by the scheduler (EXPIRED) or
-- was used (USED). Existing rows get what a rebuild would give them.
ALTER TABLE contract_signer ADD COLUMN link_status TEXT
    CHECK (link_status IN ('ACTIVE', 'EXPIRED', 'USED'));
UPDATE contract_signer SET link_status = CASE
    WHEN link_id IS NULL THEN NULL
    WHEN sign_status = 'PENDING' THEN 'ACTIVE'
    ELSE 'USED' END;
CREATE INDEX contract_signer_link_due ON contract_signer (expires_at) WHERE link_status = 'ACTIVE';
