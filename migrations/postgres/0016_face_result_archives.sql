-- Archiving a face verification's result (spec 5.1, (可选) 核验结果存证; docs/archive.md): one row
-- per provider the caller asked, like contract_archive. A projection of the verification streams,
-- with the rules of 0002_query_tables.sql. A row appears once the result is final; until the
-- archive sweep requests it, `archive_id` and `record_hash` are NULL and `attempts` is 0.
-- `record_json` is the result record (no personal data) whose SHA-256 is `record_hash`;
-- `metadata_json` holds the provider's evidence.

CREATE TABLE face_verification_archive (
    id                        bigint        PRIMARY KEY,
    archive_id                varchar(64),
    verification_id           varchar(64)   NOT NULL,
    archive_provider          varchar(32)   NOT NULL,
    status                    varchar(32)   NOT NULL
        CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    record_hash               varchar(128),
    record_json               text          NOT NULL,
    archive_time              timestamptz,
    transaction_no            varchar(128),
    metadata_json             text,
    attempts                  integer       NOT NULL,
    fail_reason               varchar(512),
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    CONSTRAINT face_verification_archive_uk_archive_id UNIQUE (archive_id),
    CONSTRAINT face_verification_archive_uk_verification_provider
        UNIQUE (verification_id, archive_provider)
);
CREATE INDEX face_verification_archive_idx_status ON face_verification_archive (status, attempts);
