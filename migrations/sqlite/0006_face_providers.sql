-- face_verification gains what provider failover and the degraded check add (docs/face-providers.md):
-- the provider's page for the person, the rounds in which no provider could take the task and when the
-- next may run (the background retry reads these), and whether the degraded SMS + identity check
-- replaced the face check. The table is a projection, so it is recreated with the new columns in the
-- projection's column order and the existing rows are copied with the values a rebuild would give them
-- (no event before this migration set any of the new facts). Still no defaults: see 0002.

CREATE TABLE face_verification__0006 AS SELECT * FROM face_verification;
DROP TABLE face_verification;

CREATE TABLE face_verification (
    id                        INTEGER PRIMARY KEY,
    verification_id           TEXT    NOT NULL,
    client_id                 TEXT    NOT NULL,
    biz_id                    TEXT    NOT NULL,
    biz_type                  TEXT    NOT NULL,
    status                    TEXT    NOT NULL
        CHECK (status IN ('PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'EXPIRED')),
    user_name                 TEXT    NOT NULL,
    id_card_no                TEXT    NOT NULL,
    id_card_hash              TEXT    NOT NULL,
    mobile                    TEXT,
    mobile_hash               TEXT,
    face_score                TEXT,
    thirdparty_transaction_no TEXT,
    fail_reason               TEXT,
    callback_url              TEXT    NOT NULL,
    callback_headers          TEXT,
    verification_url          TEXT,
    provider                  TEXT,
    provider_task_id          TEXT,
    provider_url              TEXT,
    provider_attempts         INTEGER NOT NULL,
    next_provider_attempt_at  TEXT,
    degraded                  INTEGER NOT NULL CHECK (degraded IN (0, 1)),
    verification_method       TEXT    NOT NULL
        CHECK (verification_method IN ('FACE', 'SMS_AND_IDENTITY')),
    ui_config_json            TEXT    NOT NULL,
    expires_at                TEXT    NOT NULL,
    verified_at               TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT face_verification_uk_verification_id UNIQUE (verification_id),
    -- Idempotency is per client: bizId + bizType repeat only within one client's verifications.
    CONSTRAINT face_verification_uk_biz_id_type UNIQUE (client_id, biz_id, biz_type)
) STRICT;
CREATE INDEX face_verification_idx_biz_id ON face_verification (biz_id);
CREATE INDEX face_verification_idx_status_expires ON face_verification (status, expires_at);
CREATE INDEX face_verification_idx_provider_task ON face_verification (provider, provider_task_id);
CREATE INDEX face_verification_idx_id_card_hash ON face_verification (id_card_hash);
-- The background retry looks for PENDING rows whose next provider round is due.
CREATE INDEX face_verification_idx_provider_retry ON face_verification (status, next_provider_attempt_at);

INSERT INTO face_verification
SELECT id, verification_id, client_id, biz_id, biz_type, status, user_name, id_card_no, id_card_hash,
       mobile, mobile_hash, face_score, thirdparty_transaction_no, fail_reason, callback_url,
       callback_headers, verification_url, provider, provider_task_id,
       NULL, 0, NULL, 0, 'FACE',
       ui_config_json, expires_at, verified_at, created_at, updated_at, stream_version
FROM face_verification__0006;

DROP TABLE face_verification__0006;
