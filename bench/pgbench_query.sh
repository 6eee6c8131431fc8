#!/usr/bin/env bash
# PostgreSQL's own limit for the read behind `GET /api/v1/contract/{id}` (bench/pgbench_query.sql), on
# a database `esign-bench seed` filled, next to which esign's query rate is read (docs/benchmarks.md):
#   bench/pgbench_query.sh <database-url> [seconds-per-level]      LEVELS=1,16,64
# The contract ids are numbered once into `bench_query_ids` (dropped again at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?usage: bench/pgbench_query.sh <database-url> [seconds]}
seconds=${2:-10}
levels=${LEVELS:-1,16,64}
threads=${THREADS:-2}
psql "$url" -qX -v ON_ERROR_STOP=1 <<'SQL'
DROP TABLE IF EXISTS bench_query_ids;
CREATE TABLE bench_query_ids AS
    SELECT row_number() OVER (ORDER BY contract_id) AS n, contract_id FROM contract;
CREATE UNIQUE INDEX ON bench_query_ids (n);
ANALYZE bench_query_ids;
SQL
contracts=$(psql "$url" -AtX -c "SELECT count(*) FROM bench_query_ids")
for clients in ${levels//,/ }; do
  jobs=$(( clients < threads ? clients : threads ))
  printf '%4s clients: ' "$clients"
  pgbench -n -M prepared -c "$clients" -j "$jobs" -T "$seconds" -D contracts="$contracts" \
    -f bench/pgbench_query.sql "$url" 2>&1 | grep -E '^(tps|latency average)' | tr '\n' ' '
  echo
done
psql "$url" -qX -c "DROP TABLE bench_query_ids"
