-- Short links for signers (`shortUrl`, e.g. in an SMS): a random code that redirects to the sign URL.
-- The sign URL carries the link's token, which the log never stores, so the target is kept here
-- encrypted (AES-256-GCM, the personal-data key) rather than hashed. Operational, not a projection:
-- a database rebuilt from the log has no short links, and signers then use the full URL or a
-- re-issued link.
CREATE TABLE short_links (
    code          TEXT PRIMARY KEY,
    contract_id   TEXT NOT NULL,
    party_id      TEXT NOT NULL,
    target_sealed TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX short_links_expires_at ON short_links (expires_at);
