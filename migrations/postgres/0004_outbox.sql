-- The transactional outbox: one row per event published to a caller, written in the same transaction
-- as the command's events and rows, delivered afterwards. Not a projection: it is never rebuilt.
CREATE TABLE outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Sent as X-Esign-Event-Id, the same on every attempt; receivers dedupe by it.
    callback_id     uuid        NOT NULL,
    event_type      text        NOT NULL,
    -- The log event that caused it.
    source_event_id uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    client_id       text        NOT NULL,
    callback_url    text        NOT NULL,
    -- Sealed JSON (header values are credentials).
    callback_headers text,
    -- Sealed JSON of the body: it may carry personal data (a verification's ID number).
    body_sealed     text        NOT NULL,
    status          text        NOT NULL DEFAULT 'PENDING',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz,
    CONSTRAINT outbox_callback_id_key UNIQUE (callback_id)
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_stream ON outbox (stream_id, stream_version);
