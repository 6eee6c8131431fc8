#!/usr/bin/env bash
# Every scenario of docs/benchmarks.md on both backends, with the baselines, then the plots:
#   bench/run.sh [seconds-per-level]
#     LEVELS=1,16,64,256   connection levels of initiate and query
#     CONTRACTS=100000     contracts seeded for query, rebuild and verify (18 events each)
#     PGURL=postgres://postgres@127.0.0.1:5432/postgres   a server where databases may be created
#     OUT=target/bench     where the JSON results go; plots go to docs/benchmarks/
# Needs a release build of esign and esign-bench (cargo build --release -p esign -p esign-tools),
# pgbench and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
levels=${LEVELS:-1,16,64,256}
contracts=${CONTRACTS:-100000}
admin=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
out=${OUT:-target/bench}
esign=${ESIGN:-target/release/esign}
bench=${ESIGN_BENCH:-target/release/esign-bench}
mkdir -p "$out"

source bench/fresh.sh

echo "== initiate: esign and plain CRUD, both backends"
for variant in esign plain-crud; do
  flag=()
  [[ $variant == plain-crud ]] && flag=(--plain-crud)
  for backend in sqlite postgres; do
    if [[ $backend == postgres ]]; then url=$(fresh_pg "esign_bench_initiate"); else url=$(fresh_sqlite initiate); fi
    "$bench" http --database-url "$url" --scenarios initiate --connections "$levels" \
      --seconds "$seconds" --dir "$out/service-initiate" "${flag[@]}" \
      --json "$out/initiate-$backend-$variant.json"
  done
done

echo "== initiate: pgbench baseline (the same row writes)"
LEVELS=$levels OUT=$out ESIGN=$esign PGURL=$admin bench/pgbench.sh "$seconds"

for backend in sqlite postgres; do
  echo "== seed $contracts contracts ($backend)"
  if [[ $backend == postgres ]]; then url=$(fresh_pg "esign_bench_seeded"); else url=$(fresh_sqlite seeded); fi
  # The seed seals personal data with the keys the query service will read it with.
  rm -rf "$out/service-query"
  export ESIGN_SERVER_DATA_DIR="$out/service-query/data"
  "$bench" seed --database-url "$url" --contracts "$contracts" --ids "$out/ids-$backend.txt" \
    --json "$out/seed-$backend.json"
  echo "== query ($backend)"
  "$bench" http --database-url "$url" --scenarios query --query-ids "$out/ids-$backend.txt" \
    --connections "$levels" --seconds "$seconds" --dir "$out/service-query" \
    --json "$out/query-$backend.json"
  echo "== rebuild and verify ($backend)"
  "$bench" rebuild --database-url "$url" --json "$out/rebuild-$backend.json"
  "$bench" verify --database-url "$url" --json "$out/verify-$backend.json"
  unset ESIGN_SERVER_DATA_DIR
done

for backend in sqlite postgres; do
  if [[ $backend == postgres ]]; then url=$(fresh_pg "esign_bench_journey"); else url=$(fresh_sqlite journey); fi
  echo "== journey ($backend)"
  "$bench" journey --database-url "$url" --seconds "$((seconds * 2))" --work-dir "$out/service-journey" \
    --json "$out/journey-$backend.json"
  if [[ $backend == postgres ]]; then url=$(fresh_pg "esign_bench_callbacks"); else url=$(fresh_sqlite callbacks); fi
  echo "== callbacks ($backend)"
  "$bench" callbacks --database-url "$url" --seconds "$seconds" --work-dir "$out/service-callbacks" \
    --json "$out/callbacks-$backend.json"
done

echo "== report"
python3 bench/report.py "$out" --runs "$out/all-runs.json" | tee "$out/report.md"
python3 bench/plot.py "$out/all-runs.json" --out docs/benchmarks
