-- The query tables of spec section 3.1: read models the `projections` crate computes from the event log.
-- Every value, the surrogate `id` included, is a function of the owning stream's events (see
-- docs/projections.md), so the tables can be rebuilt from the log at any time and come out identical.
-- They are not the source of truth: no triggers, no defaults (a writer that forgets a column fails
-- loudly), no foreign keys (rebuilds fill shadow copies and swap them in).
--
-- Personal data never lands here in clear: id_card_no, mobile and callback_headers hold the sealed
-- markers copied from the events ({"$pii":{"c":..,"h":..,"k":..}}), and the *_hash columns hold their
-- keyed hashes (HMAC) for look-ups.
--
-- STRICT tables with TEXT and INTEGER only: timestamps are RFC 3339 UTC text with microseconds
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ, which sorts like time), decimals are text ("0.9500"), booleans 0 or 1.

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

CREATE TABLE contract (
    id                        INTEGER PRIMARY KEY,
    contract_id               TEXT    NOT NULL,
    client_id                 TEXT    NOT NULL,
    biz_id                    TEXT    NOT NULL,
    biz_type                  TEXT    NOT NULL,
    template_id               TEXT    NOT NULL,
    template_version          TEXT    NOT NULL,
    title                     TEXT    NOT NULL,
    status                    TEXT    NOT NULL
        CHECK (status IN ('CREATED', 'PARTIAL_SIGNED', 'SIGNED', 'REJECTED', 'EXPIRED', 'REVOKED')),
    variables_json            TEXT    NOT NULL,
    preview_hash              TEXT    NOT NULL,
    document_url              TEXT,
    document_hash             TEXT,
    callback_url              TEXT    NOT NULL,
    callback_headers          TEXT,
    need_archive              INTEGER NOT NULL CHECK (need_archive IN (0, 1)),
    archive_providers         TEXT    NOT NULL,
    expires_at                TEXT    NOT NULL,
    signed_at                 TEXT,
    revoked_at                TEXT,
    revoke_reason             TEXT,
    revoke_operator           TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT contract_uk_contract_id UNIQUE (contract_id),
    CONSTRAINT contract_uk_biz_id_type UNIQUE (client_id, biz_id, biz_type)
) STRICT;
CREATE INDEX contract_idx_status_expires ON contract (status, expires_at);

CREATE TABLE contract_signer (
    id                        INTEGER PRIMARY KEY,
    contract_id               TEXT    NOT NULL,
    party_id                  TEXT    NOT NULL,
    party_type                TEXT    NOT NULL,
    name                      TEXT    NOT NULL,
    id_card_no                TEXT    NOT NULL,
    id_card_hash              TEXT    NOT NULL,
    mobile                    TEXT    NOT NULL,
    mobile_hash               TEXT    NOT NULL,
    sign_method               TEXT    NOT NULL,
    notify_type               TEXT    NOT NULL,
    sign_status               TEXT    NOT NULL
        CHECK (sign_status IN ('PENDING', 'SIGNED', 'REJECTED')),
    sign_url                  TEXT,
    short_url                 TEXT,
    sequence                  INTEGER NOT NULL,
    link_id                   TEXT,
    signed_at                 TEXT,
    transaction_no            TEXT,
    ip_address                TEXT,
    device_info               TEXT,
    reject_reason             TEXT,
    rejected_at               TEXT,
    expires_at                TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    CONSTRAINT contract_signer_uk_contract_party UNIQUE (contract_id, party_id)
) STRICT;
-- The spec's idx_mobile_status, on the keyed hash: the mobile column itself is ciphertext.
CREATE INDEX contract_signer_idx_mobile_status ON contract_signer (mobile_hash, sign_status);
CREATE INDEX contract_signer_idx_contract_status ON contract_signer (contract_id, sign_status);
CREATE INDEX contract_signer_idx_id_card_hash ON contract_signer (id_card_hash);

CREATE TABLE contract_archive (
    id                        INTEGER PRIMARY KEY,
    archive_id                TEXT    NOT NULL,
    contract_id               TEXT    NOT NULL,
    archive_provider          TEXT    NOT NULL,
    status                    TEXT    NOT NULL
        CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    document_hash             TEXT    NOT NULL,
    archive_time              TEXT,
    certificate_url           TEXT,
    transaction_no            TEXT,
    metadata_json             TEXT,
    attempts                  INTEGER NOT NULL,
    fail_reason               TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    CONSTRAINT contract_archive_uk_archive_id UNIQUE (archive_id),
    CONSTRAINT contract_archive_uk_contract_provider UNIQUE (contract_id, archive_provider)
) STRICT;
CREATE INDEX contract_archive_idx_status ON contract_archive (status);

CREATE TABLE contract_template (
    id                        INTEGER PRIMARY KEY,
    template_id               TEXT    NOT NULL,
    name                      TEXT    NOT NULL,
    version                   TEXT    NOT NULL,
    category                  TEXT    NOT NULL,
    content_type              TEXT    NOT NULL,
    content                   TEXT    NOT NULL,
    variable_definitions_json TEXT    NOT NULL,
    signer_config_json        TEXT    NOT NULL,
    active                    INTEGER NOT NULL CHECK (active IN (0, 1)),
    activation_order          INTEGER,
    created_by                TEXT    NOT NULL,
    updated_by                TEXT    NOT NULL,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT contract_template_uk_template_version UNIQUE (template_id, version)
) STRICT;
CREATE INDEX contract_template_idx_category_active ON contract_template (category, active);
CREATE INDEX contract_template_idx_current ON contract_template (template_id, activation_order);
