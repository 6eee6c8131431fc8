-- The query tables of spec section 3.1: read models the `projections` crate computes from the event log.
-- Every value, the surrogate `id` included, is a function of the owning stream's events (see
-- docs/projections.md), so the tables can be rebuilt from the log at any time and come out identical.
-- They are not the source of truth: no triggers, no defaults (a writer that forgets a column fails
-- loudly), no foreign keys (rebuilds fill shadow copies and swap them in).
--
-- Personal data never lands here in clear: id_card_no, mobile and callback_headers hold the sealed
-- markers copied from the events ({"$pii":{"c":..,"h":..,"k":..}}), and the *_hash columns hold their
-- keyed hashes (HMAC) for look-ups. Constraint and index names carry their table's name because both
-- are schema-wide names in PostgreSQL.

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

CREATE TABLE contract (
    id                        bigint        PRIMARY KEY,
    contract_id               varchar(64)   NOT NULL,
    client_id                 varchar(64)   NOT NULL,
    biz_id                    varchar(64)   NOT NULL,
    biz_type                  varchar(32)   NOT NULL,
    template_id               varchar(64)   NOT NULL,
    template_version          varchar(32)   NOT NULL,
    title                     varchar(256)  NOT NULL,
    status                    varchar(32)   NOT NULL
        CHECK (status IN ('CREATED', 'PARTIAL_SIGNED', 'SIGNED', 'REJECTED', 'EXPIRED', 'REVOKED')),
    variables_json            text          NOT NULL,
    preview_hash              varchar(128)  NOT NULL,
    document_url              varchar(1024),
    document_hash             varchar(128),
    callback_url              varchar(1024) NOT NULL,
    callback_headers          text,
    need_archive              boolean       NOT NULL,
    archive_providers         text          NOT NULL,
    expires_at                timestamptz   NOT NULL,
    signed_at                 timestamptz,
    revoked_at                timestamptz,
    revoke_reason             varchar(512),
    revoke_operator           varchar(64),
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT contract_uk_contract_id UNIQUE (contract_id),
    CONSTRAINT contract_uk_biz_id_type UNIQUE (client_id, biz_id, biz_type)
);
CREATE INDEX contract_idx_status_expires ON contract (status, expires_at);

CREATE TABLE contract_signer (
    id                        bigint        PRIMARY KEY,
    contract_id               varchar(64)   NOT NULL,
    party_id                  varchar(64)   NOT NULL,
    party_type                varchar(32)   NOT NULL,
    name                      varchar(128)  NOT NULL,
    id_card_no                text          NOT NULL,
    id_card_hash              varchar(128)  NOT NULL,
    mobile                    text          NOT NULL,
    mobile_hash               varchar(128)  NOT NULL,
    sign_method               varchar(32)   NOT NULL,
    notify_type               varchar(32)   NOT NULL,
    sign_status               varchar(32)   NOT NULL
        CHECK (sign_status IN ('PENDING', 'SIGNED', 'REJECTED')),
    sign_url                  varchar(1024),
    short_url                 varchar(256),
    sequence                  integer       NOT NULL,
    link_id                   varchar(64),
    signed_at                 timestamptz,
    transaction_no            varchar(128),
    ip_address                varchar(64),
    device_info               varchar(512),
    reject_reason             varchar(512),
    rejected_at               timestamptz,
    expires_at                timestamptz,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    CONSTRAINT contract_signer_uk_contract_party UNIQUE (contract_id, party_id)
);
-- The spec's idx_mobile_status, on the keyed hash: the mobile column itself is ciphertext.
CREATE INDEX contract_signer_idx_mobile_status ON contract_signer (mobile_hash, sign_status);
CREATE INDEX contract_signer_idx_contract_status ON contract_signer (contract_id, sign_status);
CREATE INDEX contract_signer_idx_id_card_hash ON contract_signer (id_card_hash);

CREATE TABLE contract_archive (
    id                        bigint        PRIMARY KEY,
    archive_id                varchar(64)   NOT NULL,
    contract_id               varchar(64)   NOT NULL,
    archive_provider          varchar(32)   NOT NULL,
    status                    varchar(32)   NOT NULL
        CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    document_hash             varchar(128)  NOT NULL,
    archive_time              timestamptz,
    certificate_url           varchar(1024),
    transaction_no            varchar(128),
    metadata_json             text,
    attempts                  integer       NOT NULL,
    fail_reason               varchar(512),
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    CONSTRAINT contract_archive_uk_archive_id UNIQUE (archive_id),
    CONSTRAINT contract_archive_uk_contract_provider UNIQUE (contract_id, archive_provider)
);
CREATE INDEX contract_archive_idx_status ON contract_archive (status);

CREATE TABLE contract_template (
    id                        bigint        PRIMARY KEY,
    template_id               varchar(64)   NOT NULL,
    name                      varchar(128)  NOT NULL,
    version                   varchar(32)   NOT NULL,
    category                  varchar(32)   NOT NULL,
    content_type              varchar(32)   NOT NULL,
    content                   text          NOT NULL,
    variable_definitions_json text          NOT NULL,
    signer_config_json        text          NOT NULL,
    active                    boolean       NOT NULL,
    activation_order          bigint,
    created_by                varchar(64)   NOT NULL,
    updated_by                varchar(64)   NOT NULL,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT contract_template_uk_template_version UNIQUE (template_id, version)
);
CREATE INDEX contract_template_idx_category_active ON contract_template (category, active);
CREATE INDEX contract_template_idx_current ON contract_template (template_id, activation_order);
