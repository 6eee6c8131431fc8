#!/usr/bin/env bash
# Two builds' whole journeys (initiate, two signers through the H5 pages, sealed, archived) measured
# in turn, in one run: the same levels on the same backends, alternating which build goes first in
# each round. bench/journey_compare.py summarises the JSON.
#   bench/journey_compare.sh BEFORE AFTER [seconds-per-level]
#     BEFORE, AFTER   esign-bench binaries (each drives its own build's service)
#     LEVELS=1,16     journeys at once
#     ROUNDS=2        rounds; each runs both builds once per backend
#     BACKENDS="postgres sqlite"
#     PGURL=postgres://postgres@127.0.0.1:5432/postgres   a server where databases may be created
#     OUT=target/bench/journey-compare   where the JSON goes
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n 2,12p "$0"; exit 2; }
read -r -a before <<<"$1"
read -r -a after <<<"$2"
seconds=${3:-10}
levels=${LEVELS:-1,16}
rounds=${ROUNDS:-2}
backends=${BACKENDS:-postgres sqlite}
admin=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
out=${OUT:-target/bench/journey-compare}
rm -rf "$out" && mkdir -p "$out"

source bench/fresh.sh
fresh() { if [[ $1 == postgres ]]; then fresh_pg "esign_journey_$2"; else fresh_sqlite "journey-$2"; fi; }

for round in $(seq 1 "$rounds"); do
  order=(before after)
  (( round % 2 == 0 )) && order=(after before)
  for backend in $backends; do
    for build in "${order[@]}"; do
      echo "== round $round, $backend, $build"
      if [[ $build == before ]]; then command=("${before[@]}"); else command=("${after[@]}"); fi
      url=$(fresh "$backend" "$build")
      "${command[@]}" journey --database-url "$url" --connections "$levels" --seconds "$seconds" \
        --work-dir "$out/service-$build" --json "$out/$build-$backend-$round.json" \
        >"$out/$build-$backend-$round.log" 2>&1
    done
  done
done
python3 bench/journey_compare.py "$out"
