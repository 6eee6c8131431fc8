-- What one `GET /api/v1/contract/{id}` asks of PostgreSQL, with nothing in front: the one read of a
-- contract with its signers and archive records, as `queries::owned_contract_rows` sends it, for a
-- contract picked at random. The request's nonce is left out: esign writes the nonces of concurrent
-- requests together, one statement for many. Run by bench/pgbench_query.sh on a seeded database.
\set n random(1, :contracts)
SELECT row_to_json(c)::text,
       (SELECT coalesce(json_agg(row_to_json(s) ORDER BY s.sequence, s.id), '[]')::text
          FROM contract_signer s WHERE s.contract_id = c.contract_id),
       (SELECT coalesce(json_agg(row_to_json(a) ORDER BY a.id), '[]')::text
          FROM contract_archive a WHERE a.contract_id = c.contract_id)
  FROM contract c
 WHERE c.contract_id = (SELECT contract_id FROM bench_query_ids WHERE n = :n)
   AND c.client_id = 'bench-caller';
