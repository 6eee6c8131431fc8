-- Contracts made from the caller's own PDFs (docs/documents.md, "Uploaded documents"): such a
-- contract has no template, so its template columns are empty and `documents_json` lists the
-- uploaded documents; each signer's places on them are in `contract_signer.places_json`. Both are
-- empty on rows of template contracts, and a rebuild gives the same.

ALTER TABLE contract ALTER COLUMN template_id DROP NOT NULL;
ALTER TABLE contract ALTER COLUMN template_version DROP NOT NULL;
ALTER TABLE contract ALTER COLUMN preview_hash DROP NOT NULL;
ALTER TABLE contract ADD COLUMN documents_json text;
ALTER TABLE contract ADD CONSTRAINT contract_ck_content CHECK (
    (template_id IS NOT NULL AND template_version IS NOT NULL AND preview_hash IS NOT NULL
        AND documents_json IS NULL)
    OR (template_id IS NULL AND template_version IS NULL AND preview_hash IS NULL
        AND documents_json IS NOT NULL));

ALTER TABLE contract_signer ADD COLUMN places_json text;
