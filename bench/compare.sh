#!/usr/bin/env bash
# Two builds of the service measured in turn, in one run: initiate and query at the same levels,
# alternating which build goes first in each round so neither always meets a warmer machine.
#   bench/compare.sh BEFORE AFTER [seconds-per-level]
#     BEFORE, AFTER   commands that take `http ...` (an esign-bench binary, or a quoted
#                     `path/to/esign bench` of a build from before the load generators moved out)
#     LEVELS=16,64    connection levels
#     ROUNDS=3        rounds; each runs both builds once per scenario and backend
#     CONTRACTS=10000 contracts seeded for query (by AFTER's seed)
#     BACKENDS="postgres sqlite"
#     PGURL=postgres://postgres@127.0.0.1:5432/postgres   a server where databases may be created
#     OUT=target/bench/compare   where the JSON goes; bench/compare.py summarises it
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n 2,13p "$0"; exit 2; }
read -r -a before <<<"$1"
read -r -a after <<<"$2"
seconds=${3:-10}
levels=${LEVELS:-16,64}
rounds=${ROUNDS:-3}
contracts=${CONTRACTS:-10000}
backends=${BACKENDS:-postgres sqlite}
admin=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
out=${OUT:-target/bench/compare}
rm -rf "$out" && mkdir -p "$out"

source bench/fresh.sh
fresh() { if [[ $1 == postgres ]]; then fresh_pg "esign_compare_$2"; else fresh_sqlite "$2"; fi; }

for backend in $backends; do
  echo "== seed $contracts contracts ($backend)"
  seeded=$(fresh "$backend" seeded)
  # Both builds' query services read the personal data with the keys the seed sealed it with.
  export ESIGN_SERVER_DATA_DIR="$out/service-query-$backend/data"
  "${after[@]}" seed --database-url "$seeded" --contracts "$contracts" --ids "$out/ids-$backend.txt" \
    >"$out/seed-$backend.log"
  unset ESIGN_SERVER_DATA_DIR
  for round in $(seq 1 "$rounds"); do
    order=(before after)
    (( round % 2 == 0 )) && order=(after before)
    for build in "${order[@]}"; do
      if [[ $build == before ]]; then command=("${before[@]}"); else command=("${after[@]}"); fi
      echo "== round $round, $build, $backend: initiate"
      "${command[@]}" http --database-url "$(fresh "$backend" initiate)" --scenarios initiate \
        --connections "$levels" --seconds "$seconds" --dir "$out/service-initiate" \
        --json "$out/$build-$backend-initiate-$round.json" >/dev/null
      echo "== round $round, $build, $backend: query"
      "${command[@]}" http --database-url "$seeded" --scenarios query \
        --query-ids "$out/ids-$backend.txt" --connections "$levels" --seconds "$seconds" \
        --dir "$out/service-query-$backend" --json "$out/$build-$backend-query-$round.json" >/dev/null
    done
  done
done
python3 bench/compare.py "$out"
