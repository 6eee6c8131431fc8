-- Payment-verification notices (spec 1.2 item 3): the SMS templates administrators publish and the
-- notices callers ask for. Both are projections of the log (`sms_template-<code>` and
-- `sms_notice-<id>` streams) with the same rules as 0002_query_tables.sql: every value a function of the
-- stream's events, no defaults, no triggers, no foreign keys, rebuilt by `esign projections rebuild`.
--
-- mobile holds the sealed marker copied from the event ({"$pii":{"c":..,"h":..,"k":..}}) and
-- mobile_hash its keyed hash. Variable values (amounts, remark codes) stay in the sealed events only.

CREATE TABLE sms_template (
    id                        bigint        PRIMARY KEY,
    template_code             varchar(64)   NOT NULL,
    version                   varchar(32)   NOT NULL,
    name                      varchar(128)  NOT NULL,
    content                   text          NOT NULL,
    variables_json            text          NOT NULL,
    active                    boolean       NOT NULL,
    activation_order          bigint,
    created_by                varchar(64)   NOT NULL,
    updated_by                varchar(64)   NOT NULL,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT sms_template_uk_code_version UNIQUE (template_code, version)
);
CREATE INDEX sms_template_idx_current ON sms_template (template_code, activation_order);

CREATE TABLE sms_notice (
    id                        bigint        PRIMARY KEY,
    notice_id                 varchar(64)   NOT NULL,
    client_id                 varchar(64)   NOT NULL,
    biz_id                    varchar(64)   NOT NULL,
    biz_type                  varchar(32)   NOT NULL,
    template_code             varchar(64)   NOT NULL,
    template_version          varchar(32)   NOT NULL,
    mobile                    text          NOT NULL,
    mobile_hash               varchar(128)  NOT NULL,
    status                    varchar(32)   NOT NULL
        CHECK (status IN ('REQUESTED', 'SENT', 'FAILED')),
    attempts                  integer       NOT NULL,
    sender                    varchar(32),
    message_id                varchar(1024),
    fail_reason               varchar(512),
    retryable                 boolean,
    next_attempt_at           timestamptz,
    attempt_started_at        timestamptz,
    sent_at                   timestamptz,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT sms_notice_uk_notice_id UNIQUE (notice_id),
    -- Idempotency is per client: bizId + bizType repeat only within one client's notices.
    CONSTRAINT sms_notice_uk_biz_id_type UNIQUE (client_id, biz_id, biz_type)
);
-- The delivery sweep's look-up: notices waiting for an attempt or an outcome.
CREATE INDEX sms_notice_idx_status ON sms_notice (status, next_attempt_at);
CREATE INDEX sms_notice_idx_mobile_hash ON sms_notice (mobile_hash);
