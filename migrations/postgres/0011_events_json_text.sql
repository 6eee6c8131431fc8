-- Events keep their payload and metadata as the JSON text that was written, byte for byte (`json`),
-- instead of PostgreSQL's decomposed `jsonb`. Nothing queries inside the log but one indexed key, and
-- reading the log (replays, rebuilds, `audit verify`) is where the time goes: `jsonb` is turned back
-- into text, with every string re-escaped, for each row sent, which cost about as much server time as
-- everything else in the read together. The chain hashes a canonical form, so the stored spelling
-- does not matter to it; existing rows keep the text `jsonb` gives them.
ALTER TABLE events
    ALTER COLUMN payload TYPE json USING payload::json,
    ALTER COLUMN metadata TYPE json USING metadata::json;
