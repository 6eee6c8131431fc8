-- The rows one `POST /api/v1/contract/initiate` with two signers writes on PostgreSQL (nonce, three
-- events, the contract, two signers, two short links; no outbox rows), in ONE transaction: the least
-- PostgreSQL needs for these writes.
-- Values are those of a real initiate (sealed personal data included), so rows have the same sizes:
-- events about 2.3 KB + 0.65 KB + 0.65 KB, contract 0.6 KB, signers 0.7 KB each, short links 0.35 KB
-- each, the nonce 70 bytes. Variable r makes the contract's ids unique; row ids come from a sequence, as
-- esign's come from the log's positions. Run by bench/pgbench.sh on a freshly migrated esign database.
\set r random(1, 9000000000000000)
BEGIN;
INSERT INTO api_nonces (client_id, nonce, expires_at)
VALUES ('bench-caller', md5(random()::text), now() + interval '5 minutes') ON CONFLICT DO NOTHING;
INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, payload, metadata,
                    recorded_at, prev_hash, hash)
VALUES
    ('contract-CONTRACT_2026' || :r::text, 1, (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid,
     'ContractInitiated', 1, replace(replace('{"type": "ContractInitiated", "bizId": "@BIZ@", "title": "天财分账资金归集授权协议", "bizType": "RELATIONSHIP_AGREEMENT", "signers": [{"name": "张三", "mobile": {"$pii": {"c": "XnwCECqhmAq1BNOu1auqUxX/1QZoWqrYAeFzI0G1mfLVuTVWrrBB", "h": "0316e3b2d1d42314bd9f4c8d04ec9c2e2c7a950f147cf8c50ca66fcc2bf0b8d4", "k": "dev"}}, "partyId": "RECEIVER_001", "idCardNo": {"$pii": {"c": "kXBI1csNDNGesttB4QNrmrduxD0FEIjUJb8sQ2JPViiGx4Z48q2t357oU83V0g==", "h": "d0e56ec27949a1950877a17dd10dc337a04121bb9e8334ad95b03e0fd2528148", "k": "dev"}}, "sequence": 1, "partyType": "RECEIVER", "notifyType": "SMS", "signMethod": "FACE_AND_SMS"}, {"name": "李四", "mobile": {"$pii": {"c": "TJyU1Dl6NEqcjG+gArN8flGPBYKPV3T49PHm290brIw0VcVp9cQJ", "h": "916f713ef025f409d51a182827e8cd2c9cefd3de3f236e56ada213efea898564", "k": "dev"}}, "partyId": "PAYER_001", "idCardNo": {"$pii": {"c": "foZtatnm60rp6gkdDzkAMi78ihGKWUhsYLT4TWgTNfP7/C7xlvxeATzLJy7Vpw==", "h": "00fbacb8c8ebbc4dadce21875999350e3b4d0e73f40e8c8c802a5755f9b6309a", "k": "dev"}}, "sequence": 2, "partyType": "PAYER", "notifyType": "H5_LINK", "signMethod": "FACE_AND_SMS"}], "clientId": "bench-caller", "createdAt": "2026-11-29T16.14.23.415646Z", "expiresAt": "2026-12-06T16.14.23.415646Z", "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"}, "contractId": "@CONTRACT@", "templateId": "TPL_BENCH", "callbackUrl": "https://auth.example.com/callback/e-sign", "previewHash": "acb320323f36b3bc61633f3ac3d1b4629b92f627199c367de94541965bfa7439", "webhookHeaders": {"Authorization": {"$pii": {"c": "alhdnIxwTFJ+qDtStVAdKkS6sSR4fnMbQ48YgfJZReHZiNMyR5UwCwX13Hm+w2ptpw==", "h": "abd7307709a0ac576580f5cee7708d6a79582ca48804b893a1639f0ec116d962", "k": "dev"}}}, "templateVersion": "1.0", "archiveProviders": []}', '@CONTRACT@', 'CONTRACT_2026' || :r::text), '@BIZ@', 'REL_' || :r::text)::json, '{"ip": "127.0.0.1", "actor": "client.bench-caller", "clientId": "bench-caller", "userAgent": "esign-bench", "correlationId": "69020959-ec7b-4057-9950-c9f9e8fb98c2"}', now(), sha256(random()::text::bytea), sha256(random()::text::bytea)),
    ('contract-CONTRACT_2026' || :r::text, 2, (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid,
     'SignLinkIssued', 1, '{"type": "SignLinkIssued", "linkId": "28859c23aed944bb891487bd28473229", "partyId": "RECEIVER_001", "issuedAt": "2026-11-29T16.14.23.415646Z", "expiresAt": "2026-11-30T16.14.23.415646Z", "tokenHash": "d714703bb3c595908e8ba77b6f409402f49fe8d19a5bf7bdae186d28240f7886"}', '{"ip": "127.0.0.1", "actor": "client.bench-caller", "clientId": "bench-caller", "userAgent": "esign-bench", "correlationId": "69020959-ec7b-4057-9950-c9f9e8fb98c2"}', now(), sha256(random()::text::bytea), sha256(random()::text::bytea)),
    ('contract-CONTRACT_2026' || :r::text, 3, (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid,
     'SignLinkIssued', 1, '{"type": "SignLinkIssued", "linkId": "42083aac02cb41c89ac3ed976c973c3d", "partyId": "PAYER_001", "issuedAt": "2026-11-29T16.14.23.415646Z", "expiresAt": "2026-11-30T16.14.23.415646Z", "tokenHash": "0643332b64701c1afd5bddccfe52ac6c31f81aa143d3f05451a749dd852420af"}', '{"ip": "127.0.0.1", "actor": "client.bench-caller", "clientId": "bench-caller", "userAgent": "esign-bench", "correlationId": "69020959-ec7b-4057-9950-c9f9e8fb98c2"}', now(), sha256(random()::text::bytea), sha256(random()::text::bytea));
INSERT INTO contract (id, contract_id, client_id, biz_id, biz_type, template_id, template_version, title, status,
    variables_json, preview_hash, document_url, document_hash, callback_url, callback_headers, need_archive,
    archive_providers, expires_at, signed_at, revoked_at, revoke_reason, revoke_operator, created_at, updated_at,
    stream_version)
VALUES (nextval('bench_initiate_ids'), 'CONTRACT_2026' || :r::text, 'bench-caller', 'REL_' || :r::text,
    'RELATIONSHIP_AGREEMENT', 'TPL_BENCH', '1.0', '天财分账资金归集授权协议', 'CREATED',
    '{"payerName":"XX品牌总部","receiverName":"上海浦东店"}',
    'acb320323f36b3bc61633f3ac3d1b4629b92f627199c367de94541965bfa7439', NULL, NULL,
    'https://auth.example.com/callback/e-sign',
    '{"Authorization":{"$pii":{"c":"alhdnIxwTFJ+qDtStVAdKkS6sSR4fnMbQ48YgfJZReHZiNMyR5UwCwX13Hm+w2ptpw==","h":"abd7307709a0ac576580f5cee7708d6a79582ca48804b893a1639f0ec116d962","k":"dev"}}}',
    false, '[]', now() + interval '7 days', NULL, NULL, NULL, NULL, now(), now(), 3);
INSERT INTO contract_signer (id, contract_id, party_id, party_type, name, id_card_no, id_card_hash, mobile,
    mobile_hash, sign_method, notify_type, sign_status, sign_url, short_url, sequence, link_id, signed_at,
    transaction_no, ip_address, device_info, reject_reason, rejected_at, expires_at, created_at, updated_at,
    link_status, link_token_hash)
VALUES (currval('bench_initiate_ids') * 1000 + 1, 'CONTRACT_2026' || :r::text, 'RECEIVER_001', 'RECEIVER', '张三',
    '{"$pii":{"c":"kXBI1csNDNGesttB4QNrmrduxD0FEIjUJb8sQ2JPViiGx4Z48q2t357oU83V0g==","h":"d0e56ec27949a1950877a17dd10dc337a04121bb9e8334ad95b03e0fd2528148","k":"dev"}}',
    'd0e56ec27949a1950877a17dd10dc337a04121bb9e8334ad95b03e0fd2528148',
    '{"$pii":{"c":"XnwCECqhmAq1BNOu1auqUxX/1QZoWqrYAeFzI0G1mfLVuTVWrrBB","h":"0316e3b2d1d42314bd9f4c8d04ec9c2e2c7a950f147cf8c50ca66fcc2bf0b8d4","k":"dev"}}',
    '0316e3b2d1d42314bd9f4c8d04ec9c2e2c7a950f147cf8c50ca66fcc2bf0b8d4',
    'FACE_AND_SMS', 'SMS', 'PENDING', NULL, NULL, 1, '28859c23aed944bb891487bd28473229', NULL, NULL, NULL, NULL, NULL, NULL,
    now() + interval '1 day', now(), now(), 'ACTIVE',
    'd714703bb3c595908e8ba77b6f409402f49fe8d19a5bf7bdae186d28240f7886');
INSERT INTO contract_signer (id, contract_id, party_id, party_type, name, id_card_no, id_card_hash, mobile,
    mobile_hash, sign_method, notify_type, sign_status, sign_url, short_url, sequence, link_id, signed_at,
    transaction_no, ip_address, device_info, reject_reason, rejected_at, expires_at, created_at, updated_at,
    link_status, link_token_hash)
VALUES (currval('bench_initiate_ids') * 1000 + 2, 'CONTRACT_2026' || :r::text, 'PAYER_001', 'PAYER', '李四',
    '{"$pii":{"c":"foZtatnm60rp6gkdDzkAMi78ihGKWUhsYLT4TWgTNfP7/C7xlvxeATzLJy7Vpw==","h":"00fbacb8c8ebbc4dadce21875999350e3b4d0e73f40e8c8c802a5755f9b6309a","k":"dev"}}',
    '00fbacb8c8ebbc4dadce21875999350e3b4d0e73f40e8c8c802a5755f9b6309a',
    '{"$pii":{"c":"TJyU1Dl6NEqcjG+gArN8flGPBYKPV3T49PHm290brIw0VcVp9cQJ","h":"916f713ef025f409d51a182827e8cd2c9cefd3de3f236e56ada213efea898564","k":"dev"}}',
    '916f713ef025f409d51a182827e8cd2c9cefd3de3f236e56ada213efea898564',
    'FACE_AND_SMS', 'H5_LINK', 'PENDING', NULL, NULL, 2, '42083aac02cb41c89ac3ed976c973c3d', NULL, NULL, NULL, NULL, NULL, NULL,
    now() + interval '30 minutes', now(), now(), 'ACTIVE',
    '0643332b64701c1afd5bddccfe52ac6c31f81aa143d3f05451a749dd852420af');
INSERT INTO short_links (code, contract_id, party_id, target_sealed, expires_at, created_at)
VALUES (substr(translate(encode(sha256(random()::text::bytea), 'base64'), '+/=', ''), 1, 10),
    'CONTRACT_2026' || :r::text, 'RECEIVER_001',
    '{"c":"3euoz6s7e6mBN0Pj2odEPgJcf3J6cT+tbpzMzDwQFOnoPoM7/McgxW8HfJms4MvgjYNjL0zopbZuYfGH79uy7kqJtZIdg7hntFo5Hc37DVhtv11BX8OieaQX2I8q8M6xFiASFtLzhaJN/WwM","h":"de77e5fb71445f740c0bf8c49d3818375f01b74cc3dae8cb3bf7bbf1fe02294e","k":"dev"}',
    now() + interval '1 day', now()) ON CONFLICT DO NOTHING;
INSERT INTO short_links (code, contract_id, party_id, target_sealed, expires_at, created_at)
VALUES (substr(translate(encode(sha256(random()::text::bytea), 'base64'), '+/=', ''), 1, 10),
    'CONTRACT_2026' || :r::text, 'PAYER_001',
    '{"c":"FscqgRXiUCjTZ63yW/mBr9D4ojriwIyoPrazUkCrEfSdI0Bio+E0Gu3HBTuGsaZsgdHo6YGYUFVgNhr6jscACPXxMz4zxG7BMQw4FuU+Pw9m7ey2dGo+swHp2dfPEGn+ijRRrcVRc6ezsSoh","h":"ecda96f9fe9952d3998a512cac4ea63c68b107d727c8a39b647f170f1b3281ee","k":"dev"}',
    now() + interval '30 minutes', now()) ON CONFLICT DO NOTHING;
COMMIT;
