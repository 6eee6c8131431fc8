-- Contracts made from the caller's own PDFs (docs/documents.md, "Uploaded documents"): such a
-- contract has no template, so its template columns are empty and `documents_json` lists the
-- uploaded documents; each signer's places on them are in `contract_signer.places_json`. Both are
-- empty on rows of template contracts, and a rebuild gives the same.
--
-- SQLite cannot drop a NOT NULL constraint in place: the table is rebuilt with the same rows.

CREATE TABLE contract_rebuilt (
    id                        INTEGER PRIMARY KEY,
    contract_id               TEXT    NOT NULL,
    client_id                 TEXT    NOT NULL,
    biz_id                    TEXT    NOT NULL,
    biz_type                  TEXT    NOT NULL,
    template_id               TEXT,
    template_version          TEXT,
    title                     TEXT    NOT NULL,
    status                    TEXT    NOT NULL
        CHECK (status IN ('CREATED', 'PARTIAL_SIGNED', 'SIGNED', 'REJECTED', 'EXPIRED', 'REVOKED')),
    variables_json            TEXT    NOT NULL,
    preview_hash              TEXT,
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
INSERT INTO contract_rebuilt (
    id, contract_id, client_id, biz_id, biz_type, template_id, template_version, title, status,
    variables_json, preview_hash, document_url, document_hash, callback_url, callback_headers,
    need_archive, archive_providers, expires_at, signed_at, revoked_at, revoke_reason,
    revoke_operator, created_at, updated_at, stream_version)
SELECT
    id, contract_id, client_id, biz_id, biz_type, template_id, template_version, title, status,
    variables_json, preview_hash, document_url, document_hash, callback_url, callback_headers,
    need_archive, archive_providers, expires_at, signed_at, revoked_at, revoke_reason,
    revoke_operator, created_at, updated_at, stream_version
FROM contract;
DROP TABLE contract;
ALTER TABLE contract_rebuilt RENAME TO contract;
CREATE INDEX contract_idx_status_expires ON contract (status, expires_at);
-- Appended like PostgreSQL's, so both keep the same columns in the same order.
ALTER TABLE contract ADD COLUMN documents_json TEXT CONSTRAINT contract_ck_content CHECK (
    (template_id IS NOT NULL AND template_version IS NOT NULL AND preview_hash IS NOT NULL
        AND documents_json IS NULL)
    OR (template_id IS NULL AND template_version IS NULL AND preview_hash IS NULL
        AND documents_json IS NOT NULL));

ALTER TABLE contract_signer ADD COLUMN places_json TEXT;
