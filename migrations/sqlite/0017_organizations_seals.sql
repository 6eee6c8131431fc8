-- Organisations and their company seals (docs/seals.md): projections of the
-- `organization-<creditCode>` and `seal-<sealId>` streams, with the rules of 0002_query_tables.sql:
-- every value a function of the stream's events, no defaults, no triggers, rebuilt by
-- `esign projections rebuild`.
--
-- A seal row shows the version in use; seal_version keeps every version's picture facts, so the
-- picture a contract was signed with can be found by its version. Pictures themselves are in the
-- encrypted document store under `seals/<sealId>/<image_hash>.png`.

CREATE TABLE organization (
    id                        INTEGER PRIMARY KEY,
    credit_code               TEXT    NOT NULL,
    name                      TEXT    NOT NULL,
    client_id                 TEXT    NOT NULL,
    operator                  TEXT    NOT NULL,
    registered_at             TEXT    NOT NULL,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT organization_uk_credit_code UNIQUE (credit_code)
) STRICT;

CREATE TABLE seal (
    id                        INTEGER PRIMARY KEY,
    seal_id                   TEXT    NOT NULL,
    credit_code               TEXT    NOT NULL,
    organization_name         TEXT    NOT NULL,
    kind                      TEXT    NOT NULL
        CHECK (kind IN ('OFFICIAL', 'CONTRACT', 'FINANCE')),
    name                      TEXT    NOT NULL,
    version                   INTEGER NOT NULL,
    image_hash                TEXT    NOT NULL,
    width                     INTEGER NOT NULL,
    height                    INTEGER NOT NULL,
    active                    INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT seal_uk_seal_id UNIQUE (seal_id)
) STRICT;
CREATE INDEX seal_idx_credit_code ON seal (credit_code, created_at);

CREATE TABLE seal_version (
    id                        INTEGER PRIMARY KEY,
    seal_id                   TEXT    NOT NULL,
    version                   INTEGER NOT NULL,
    image_hash                TEXT    NOT NULL,
    width                     INTEGER NOT NULL,
    height                    INTEGER NOT NULL,
    byte_length               INTEGER NOT NULL,
    source                    TEXT    NOT NULL CHECK (source IN ('UPLOADED', 'DRAWN')),
    operator                  TEXT    NOT NULL,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    CONSTRAINT seal_version_uk_seal_version UNIQUE (seal_id, version)
) STRICT;
