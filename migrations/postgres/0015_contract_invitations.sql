-- SMS invitations to signers (spec 4.1.2 step 2, docs/sms.md "Signing invitations"): one row per
-- signer notified by SMS, their latest invitation. A projection of the contract streams with the
-- rules of 0002_query_tables.sql; the delivery sweep reads it to find invitations that need another
-- attempt. Neither the short code nor the token is stored here.

CREATE TABLE contract_invitation (
    id                 bigint       PRIMARY KEY,
    contract_id        varchar(64)  NOT NULL,
    party_id           varchar(64)  NOT NULL,
    link_id            varchar(64)  NOT NULL,
    status             varchar(32)  NOT NULL
        CHECK (status IN ('REQUESTED', 'SENT', 'FAILED', 'CANCELLED')),
    attempts           integer      NOT NULL,
    sender             varchar(32),
    message_id         text,
    fail_reason        text,
    retryable          boolean,
    next_attempt_at    timestamptz,
    attempt_started_at timestamptz,
    sent_at            timestamptz,
    created_at         timestamptz  NOT NULL,
    updated_at         timestamptz  NOT NULL,
    stream_version     bigint       NOT NULL,
    CONSTRAINT contract_invitation_uk_contract_party UNIQUE (contract_id, party_id)
);
CREATE INDEX contract_invitation_idx_status ON contract_invitation (status, next_attempt_at);

-- An invitation's text carries a short link to the signer's current sign URL, found among the
-- signer's short links.
CREATE INDEX short_links_contract_party ON short_links (contract_id, party_id);
