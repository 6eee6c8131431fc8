-- Payment-verification notices (spec 1.2 item 3): the SMS templates administrators publish and the
-- notices callers ask for. Both are projections of the log (`sms_template-<code>` and
-- `sms_notice-<id>` streams) with the same rules as 0002_query_tables.sql: every value a function of the
-- stream's events, no defaults, no triggers, no foreign keys, rebuilt by `esign projections rebuild`.
--
-- mobile holds the sealed marker copied from the event ({"$pii":{"c":..,"h":..,"k":..}}) and
-- mobile_hash its keyed hash. Variable values (amounts, remark codes) stay in the sealed events only.

CREATE TABLE sms_template (
    id                        INTEGER PRIMARY KEY,
    template_code             TEXT    NOT NULL,
    version                   TEXT    NOT NULL,
    name                      TEXT    NOT NULL,
    content                   TEXT    NOT NULL,
    variables_json            TEXT    NOT NULL,
    active                    INTEGER NOT NULL CHECK (active IN (0, 1)),
    activation_order          INTEGER,
    created_by                TEXT    NOT NULL,
    updated_by                TEXT    NOT NULL,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT sms_template_uk_code_version UNIQUE (template_code, version)
) STRICT;
CREATE INDEX sms_template_idx_current ON sms_template (template_code, activation_order);

CREATE TABLE sms_notice (
    id                        INTEGER PRIMARY KEY,
    notice_id                 TEXT    NOT NULL,
    client_id                 TEXT    NOT NULL,
    biz_id                    TEXT    NOT NULL,
    biz_type                  TEXT    NOT NULL,
    template_code             TEXT    NOT NULL,
    template_version          TEXT    NOT NULL,
    mobile                    TEXT    NOT NULL,
    mobile_hash               TEXT    NOT NULL,
    status                    TEXT    NOT NULL
        CHECK (status IN ('REQUESTED', 'SENT', 'FAILED')),
    attempts                  INTEGER NOT NULL,
    sender                    TEXT,
    message_id                TEXT,
    fail_reason               TEXT,
    retryable                 INTEGER CHECK (retryable IN (0, 1)),
    next_attempt_at           TEXT,
    attempt_started_at        TEXT,
    sent_at                   TEXT,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT sms_notice_uk_notice_id UNIQUE (notice_id),
    -- Idempotency is per client: bizId + bizType repeat only within one client's notices.
    CONSTRAINT sms_notice_uk_biz_id_type UNIQUE (client_id, biz_id, biz_type)
) STRICT;
-- The delivery sweep's look-up: notices waiting for an attempt or an outcome.
CREATE INDEX sms_notice_idx_status ON sms_notice (status, next_attempt_at);
CREATE INDEX sms_notice_idx_mobile_hash ON sms_notice (mobile_hash);
