-- Organisation signers (docs/seals.md): a signer may sign for an organisation, whose seal is
-- applied. The columns are empty for a person signing for themselves, and on every row projected
-- from events written before organisations signed; a rebuild gives the same.

ALTER TABLE contract_signer ADD COLUMN organization_name TEXT;
ALTER TABLE contract_signer ADD COLUMN credit_code TEXT;
ALTER TABLE contract_signer ADD COLUMN agent_role TEXT;
ALTER TABLE contract_signer ADD COLUMN seal_appearance TEXT;
ALTER TABLE contract_signer ADD COLUMN seal_id TEXT;
ALTER TABLE contract_signer ADD COLUMN seal_version INTEGER;
