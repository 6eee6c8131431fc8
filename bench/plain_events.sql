-- The baseline table for the append benchmark: the events table's columns and indexes, no triggers,
-- no hash chain, no commit fence. pgbench inserts single rows into it (pgbench_insert.sql).
DROP TABLE IF EXISTS bench_plain_events;
CREATE TABLE bench_plain_events (
    global_position bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         json        NOT NULL,
    metadata        json        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX ON bench_plain_events (transaction_id, global_position);
