-- Archiving a face verification's result (spec 5.1, (可选) 核验结果存证; docs/archive.md): one row
-- per provider the caller asked, like contract_archive. A projection of the verification streams,
-- with the rules of 0002_query_tables.sql. A row appears once the result is final; until the
-- archive sweep requests it, `archive_id` and `record_hash` are NULL and `attempts` is 0.
-- `record_json` is the result record (no personal data) whose SHA-256 is `record_hash`;
-- `metadata_json` holds the provider's evidence.

CREATE TABLE face_verification_archive (
    id                        INTEGER PRIMARY KEY,
    archive_id                TEXT,
    verification_id           TEXT    NOT NULL,
    archive_provider          TEXT    NOT NULL,
    status                    TEXT    NOT NULL
        CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    record_hash               TEXT,
    record_json               TEXT    NOT NULL,
    archive_time              TEXT,
    transaction_no            TEXT,
    metadata_json             TEXT,
    attempts                  INTEGER NOT NULL,
    fail_reason               TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    CONSTRAINT face_verification_archive_uk_archive_id UNIQUE (archive_id),
    CONSTRAINT face_verification_archive_uk_verification_provider
        UNIQUE (verification_id, archive_provider)
) STRICT;
CREATE INDEX face_verification_archive_idx_status ON face_verification_archive (status, attempts);
