-- SMS invitations to signers (spec 4.1.2 step 2, docs/sms.md "Signing invitations"): one row per
-- signer notified by SMS, their latest invitation. A projection of the contract streams with the
-- rules of 0002_query_tables.sql; the delivery sweep reads it to find invitations that need another
-- attempt. Neither the short code nor the token is stored here.

CREATE TABLE contract_invitation (
    id                 INTEGER PRIMARY KEY,
    contract_id        TEXT    NOT NULL,
    party_id           TEXT    NOT NULL,
    link_id            TEXT    NOT NULL,
    status             TEXT    NOT NULL
        CHECK (status IN ('REQUESTED', 'SENT', 'FAILED', 'CANCELLED')),
    attempts           INTEGER NOT NULL,
    sender             TEXT,
    message_id         TEXT,
    fail_reason        TEXT,
    retryable          INTEGER CHECK (retryable IN (0, 1)),
    next_attempt_at    TEXT,
    attempt_started_at TEXT,
    sent_at            TEXT,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    stream_version     INTEGER NOT NULL,
    CONSTRAINT contract_invitation_uk_contract_party UNIQUE (contract_id, party_id)
) STRICT;
CREATE INDEX contract_invitation_idx_status ON contract_invitation (status, next_attempt_at);

-- An invitation's text carries a short link to the signer's current sign URL, found among the
-- signer's short links.
CREATE INDEX short_links_contract_party ON short_links (contract_id, party_id);
