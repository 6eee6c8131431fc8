-- Organisations and their company seals (docs/seals.md): projections of the
-- `organization-<creditCode>` and `seal-<sealId>` streams, with the rules of 0002_query_tables.sql:
-- every value a function of the stream's events, no defaults, no triggers, rebuilt by
-- `esign projections rebuild`.
--
-- A seal row shows the version in use; seal_version keeps every version's picture facts, so the
-- picture a contract was signed with can be found by its version. Pictures themselves are in the
-- encrypted document store under `seals/<sealId>/<image_hash>.png`.

CREATE TABLE organization (
    id                        bigint        PRIMARY KEY,
    credit_code               varchar(18)   NOT NULL,
    name                      varchar(512)  NOT NULL,
    client_id                 varchar(64)   NOT NULL,
    operator                  varchar(64)   NOT NULL,
    registered_at             timestamptz   NOT NULL,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT organization_uk_credit_code UNIQUE (credit_code)
);

CREATE TABLE seal (
    id                        bigint        PRIMARY KEY,
    seal_id                   varchar(64)   NOT NULL,
    credit_code               varchar(18)   NOT NULL,
    organization_name         varchar(512)  NOT NULL,
    kind                      varchar(16)   NOT NULL
        CHECK (kind IN ('OFFICIAL', 'CONTRACT', 'FINANCE')),
    name                      varchar(512)  NOT NULL,
    version                   integer       NOT NULL,
    image_hash                varchar(64)   NOT NULL,
    width                     integer       NOT NULL,
    height                    integer       NOT NULL,
    active                    boolean       NOT NULL,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    stream_version            bigint        NOT NULL,
    CONSTRAINT seal_uk_seal_id UNIQUE (seal_id)
);
CREATE INDEX seal_idx_credit_code ON seal (credit_code, created_at);

CREATE TABLE seal_version (
    id                        bigint        PRIMARY KEY,
    seal_id                   varchar(64)   NOT NULL,
    version                   integer       NOT NULL,
    image_hash                varchar(64)   NOT NULL,
    width                     integer       NOT NULL,
    height                    integer       NOT NULL,
    byte_length               bigint        NOT NULL,
    source                    varchar(16)   NOT NULL CHECK (source IN ('UPLOADED', 'DRAWN')),
    operator                  varchar(64)   NOT NULL,
    created_at                timestamptz   NOT NULL,
    updated_at                timestamptz   NOT NULL,
    CONSTRAINT seal_version_uk_seal_version UNIQUE (seal_id, version)
);
