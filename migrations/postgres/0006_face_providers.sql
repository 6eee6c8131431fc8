-- face_verification gains what provider failover and the degraded check add (docs/face-providers.md):
-- the provider's page for the person, the rounds in which no provider could take the task and when the
-- next may run (the background retry reads these), and whether the degraded SMS + identity check
-- replaced the face check. The table is a projection, so it is recreated with the new columns in the
-- projection's column order and the existing rows are copied with the values a rebuild would give them
-- (no event before this migration set any of the new facts). Still no defaults: see 0002.

CREATE TABLE face_verification__0006 AS SELECT * FROM face_verification;
DROP TABLE face_verification;

CREATE TABLE face_verification (
    id                        bigint        PRIMARY KEY,
    verification_id           varchar(64)   NOT NULL,
    client_id                 varchar(64)   NOT NULL,
    biz_id                    varchar(64)   NOT NULL,
    biz_type                  varchar(32)   NOT NULL,
    status                    varchar(32)   NOT NULL
        CHECK (status IN ('PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'EXPIRED')),
    user_name                 varchar(128)  NOT NULL,
    id_card_no                text          NOT NULL,
    id_card_hash              varchar(128)  NOT NULL,
    mobile                    text,
    mobile_hash               varchar(128),
    face_score                numeric(5,4),
    thirdparty_transaction_no varchar(128),
    fail_reason               varchar(64),
    callback_url              varchar(1024) NOT NULL,
    callback_headers          text,
    verification_url          varchar(1024),
    provider                  varchar(32),
    provider_task_id          varchar(128),
    provider_url              varchar(1024),
    provider_attempts         integer       NOT NULL,
    next_provider_attempt_at  timestamptz,
    degraded                  boolean       NOT NULL,
    verification_method       varchar(32)   NOT NULL
        CHECK (verification_method IN ('FACE', 'SMS_AND_IDENTITY')),
    ui_config_json            text          NOT NULL,
    expires_at                timestamptz   NOT NULL,
    verified_at               timestamptz,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT face_verification_uk_verification_id UNIQUE (verification_id),
    -- Idempotency is per client: bizId + bizType repeat only within one client's verifications.
    CONSTRAINT face_verification_uk_biz_id_type UNIQUE (client_id, biz_id, biz_type)
);
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
       NULL, 0, NULL, false, 'FACE',
       ui_config_json, expires_at, verified_at, created_at, updated_at, stream_version
FROM face_verification__0006;

DROP TABLE face_verification__0006;
