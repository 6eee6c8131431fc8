-- The event log. Append-only: the triggers below refuse UPDATE and DELETE (SQLite has no TRUNCATE; a
-- DELETE without WHERE is refused by the same trigger, which also disables the truncate optimisation).
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    -- A counter per write transaction; SQLite commits serially, so this order is the commit order.
    transaction_id  INTEGER NOT NULL,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 1),
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 1),
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
) STRICT;

CREATE INDEX events_commit_order ON events (transaction_id, global_position);

CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE refused');
END;
