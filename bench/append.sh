#!/usr/bin/env bash
# The append benchmark of docs/benchmarks.md: esign's append path on both backends next to PostgreSQL's
# raw single-row INSERT rate (pgbench) into an equivalent plain table, at the same concurrency.
#   bench/append.sh [seconds-per-level]
# Needs a release build of esign-bench (cargo build --release -p esign-tools), pgbench, and a
# PostgreSQL server at $PGURL.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
levels=${LEVELS:-1,8,32}
admin=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
db=esign_bench_append
out=${OUT:-target/bench}
mkdir -p "$out"
bench=${ESIGN_BENCH:-target/release/esign-bench}

psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
url="${admin%/*}/$db"
psql "$url" -q -c 'CREATE EXTENSION IF NOT EXISTS pgcrypto' -f bench/plain_events.sql

echo "== pgbench: raw single-row INSERT, ${seconds}s per level"
: > "$out/pgbench.txt"
for c in ${levels//,/ }; do
  tps=$(pgbench -n -c "$c" -j "$c" -T "$seconds" -f bench/pgbench_insert.sql "$url" 2>/dev/null \
        | awk '/^tps/ {print $3; exit}')
  echo "$c $tps" | tee -a "$out/pgbench.txt"
done

echo "== pgbench: the same INSERT behind an advisory lock held to commit"
: > "$out/pgbench-locked.txt"
for c in ${levels//,/ }; do
  tps=$(pgbench -n -c "$c" -j "$c" -T "$seconds" -f bench/pgbench_insert_locked.sql "$url" 2>/dev/null \
        | awk '/^tps/ {print $3; exit}')
  echo "$c $tps" | tee -a "$out/pgbench-locked.txt"
done

echo "== esign-bench append (postgres)"
"$bench" append --database-url "$url" --writers "$levels" --seconds "$seconds" --json "$out/append-postgres.json"

echo "== esign-bench append (sqlite)"
rm -rf "$out/sqlite" && mkdir -p "$out/sqlite"
"$bench" append --database-url "sqlite://$out/sqlite/bench.db" --writers "$levels" --seconds "$seconds" \
  --json "$out/append-sqlite.json"

echo "== ratios (esign postgres / pgbench)"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
raw = dict(line.split() for line in open(f"{out}/pgbench.txt") if line.strip())
for r in json.load(open(f"{out}/append-postgres.json")):
    base = float(raw.get(str(r["writers"]), "nan"))
    print(f'{r["writers"]:>3} writers: esign {r["eventsPerSecond"]:8.0f}/s  pgbench {base:8.0f}/s  ratio {r["eventsPerSecond"]/base:.2f}')
PY
psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
