-- Organisation signers (docs/seals.md): a signer may sign for an organisation, whose seal is
-- applied. The columns are empty for a person signing for themselves, and on every row projected
-- from events written before organisations signed; a rebuild gives the same.

ALTER TABLE contract_signer ADD COLUMN organization_name varchar(128);
ALTER TABLE contract_signer ADD COLUMN credit_code varchar(18);
ALTER TABLE contract_signer ADD COLUMN agent_role varchar(32);
ALTER TABLE contract_signer ADD COLUMN seal_appearance varchar(32);
ALTER TABLE contract_signer ADD COLUMN seal_id varchar(64);
ALTER TABLE contract_signer ADD COLUMN seal_version integer;
