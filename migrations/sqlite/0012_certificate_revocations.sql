-- Certificates the platform CA revoked (docs/trust.md, "Revocation"): a projection of the
-- `certificate_revocation-<serial>` streams, with the rules of 0002_query_tables.sql: every value a
-- function of the stream's events, no defaults, no triggers, rebuilt by `esign projections rebuild`.
-- The CRL lists every row; the OCSP responder looks a serial up by its key.
--
-- serial is upper-case hexadecimal without leading zero bytes, as `openssl x509 -serial` prints it.
-- reason_code is the RFC 5280 CRLReason the CRL and OCSP answers carry.

CREATE TABLE certificate_revocation (
    id                        INTEGER PRIMARY KEY,
    serial                    TEXT    NOT NULL,
    reason                    TEXT    NOT NULL,
    reason_code               INTEGER NOT NULL CHECK (reason_code IN (0, 1, 3, 4, 5)),
    operator                  TEXT    NOT NULL,
    revoked_at                TEXT    NOT NULL,
    created_at                TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    stream_version            INTEGER NOT NULL,
    CONSTRAINT certificate_revocation_uk_serial UNIQUE (serial)
) STRICT;
