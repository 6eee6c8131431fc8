-- The signing page finds a signer by the SHA-256 of the token it was given: each signer row carries
-- its latest link's token hash (a projection column, rebuilt from `SignLinkIssued`). Existing rows get
-- what a rebuild would give them.
ALTER TABLE contract_signer ADD COLUMN link_token_hash TEXT;
UPDATE contract_signer SET link_token_hash = (
    SELECT json_extract(e.payload, '$.tokenHash') FROM events e
    WHERE e.stream_id = 'contract-' || contract_signer.contract_id
      AND e.event_type = 'SignLinkIssued'
      AND json_extract(e.payload, '$.linkId') = contract_signer.link_id
    ORDER BY e.stream_version DESC LIMIT 1)
WHERE link_id IS NOT NULL;
CREATE INDEX contract_signer_link_token ON contract_signer (link_token_hash);
-- An older (replaced) link is recognised by its `SignLinkIssued` event, so the signer hears "expired"
-- instead of "unknown".
CREATE INDEX events_sign_link_token ON events (json_extract(payload, '$.tokenHash'))
    WHERE event_type = 'SignLinkIssued';
