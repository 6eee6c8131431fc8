-- Names are sealed personal data from now on (docs/event-store.md, "Personal data"): contract_signer.name
-- and face_verification.user_name take the sealed marker copied from the event, like id_card_no and
-- mobile, which is longer than a name's 128 characters. Rows projected from events written before
-- keep the plain name those events hold; a rebuild gives them the same.

ALTER TABLE contract_signer ALTER COLUMN name TYPE text;
ALTER TABLE face_verification ALTER COLUMN user_name TYPE text;
