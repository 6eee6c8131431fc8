-- One row per transaction, about 500 bytes of JSON payload, as `esign-bench append` writes.
INSERT INTO bench_plain_events (stream_id, stream_version, event_id, event_type, schema_version, payload,
                                metadata, recorded_at, prev_hash, hash)
VALUES ('bench-' || gen_random_uuid(), 1, gen_random_uuid(), 'BenchEventAppended', 1,
        json_build_object('contractId', 'CONTRACT_BENCH', 'partyId', 'RECEIVER_001',
                           'mobile', json_build_object('$pii', json_build_object('k', 'bench',
                               'c', encode(gen_random_bytes(39), 'base64'), 'h', encode(sha256(random()::text::bytea), 'hex'))),
                           'note', repeat('x', 260)),
        '{"actor": "system:bench"}', now(), '\x0000000000000000000000000000000000000000000000000000000000000000',
        sha256(random()::text::bytea));
