-- Long-term validation (docs/trust.md, "Long-term validation"): a sealed document is closed again
-- with fresh validation data and a new document timestamp before the last one's authority
-- certificate expires. A projection of the contract streams, with the rules of
-- 0002_query_tables.sql.
--
-- Every version of a sealed document: the sealed file (version 1), then each renewal. Each is a
-- prefix of the next, so a file kept from any of them still verifies by its hash. `current` marks
-- the contract's file now; the renewal sweep picks current versions by
-- `document_timestamp_valid_until`, the expiry of the TSA certificate behind the last document
-- timestamp. Contracts sealed before this migration get their rows from `esign projections
-- rebuild`.

CREATE TABLE contract_document (
    id                             bigint        PRIMARY KEY,
    contract_id                    varchar(64)   NOT NULL,
    version                        integer       NOT NULL,
    document_hash                  varchar(128)  NOT NULL,
    current                        boolean       NOT NULL,
    document_timestamped_at        timestamptz,
    document_timestamp_valid_until timestamptz,
    created_at                     timestamptz   NOT NULL,
    updated_at                     timestamptz   NOT NULL,
    CONSTRAINT contract_document_uk_contract_version UNIQUE (contract_id, version)
);
CREATE INDEX contract_document_idx_document_hash ON contract_document (document_hash);
CREATE INDEX contract_document_idx_renewal
    ON contract_document (current, document_timestamp_valid_until);
