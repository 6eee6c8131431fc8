-- The transactional outbox: one row per event published to a caller, written in the same transaction
-- as the command's events and rows, delivered afterwards. Not a projection: it is never rebuilt.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Sent as X-Esign-Event-Id, the same on every attempt; receivers dedupe by it.
    callback_id     TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    -- The log event that caused it.
    source_event_id TEXT    NOT NULL,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    client_id       TEXT    NOT NULL,
    callback_url    TEXT    NOT NULL,
    -- Sealed JSON (header values are credentials).
    callback_headers TEXT,
    -- Sealed JSON of the body: it may carry personal data (a verification's ID number).
    body_sealed     TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'PENDING',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT,
    CONSTRAINT outbox_callback_id_key UNIQUE (callback_id)
) STRICT;

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_stream ON outbox (stream_id, stream_version);
