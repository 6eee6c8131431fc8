#!/usr/bin/env bash
# PostgreSQL's own limit for the rows one `POST /api/v1/contract/initiate` (two signers) writes, next to
# which esign's initiate rate is read (docs/benchmarks.md). Two variants of the same row writes:
#   pgbench-one-transaction     all rows in one transaction (bench/pgbench_initiate.sql): the least
#                               PostgreSQL needs;
#   pgbench-four-transactions   the same rows in four transactions (nonce, command, one per short link),
#                               as esign wrote them before short links joined the command
#                               (bench/pgbench_initiate_four_transactions.sql).
#
#   bench/pgbench.sh [seconds-per-level]      LEVELS=1,16,64,256 PGURL=postgres://... OUT=target/bench
#
# Every run gets a fresh database with esign's schema (`esign migrate` when ESIGN names a binary,
# otherwise the migration files applied with psql: the same tables, indexes, constraints and triggers;
# the triggers only refuse UPDATE/DELETE, so plain inserts go through). pgbench needs one server
# connection per client: levels above what the server has free are capped to that, and the JSON keeps
# the requested level as `requestedConnections`. Writes $OUT/pgbench-initiate-<variant>.json and
# $OUT/pgbench-initiate.json ({"runs": [...]}, for bench/plot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
levels=${LEVELS:-1,16,64,256}
admin=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
out=${OUT:-target/bench}
threads=${THREADS:-2}
db=esign_bench_pgbench_initiate
url="${admin%/*}/$db"

fresh_database() {
  psql "$admin" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  if [[ -n "${ESIGN:-}" ]]; then
    ESIGN_DATABASE_URL="$url" "$ESIGN" migrate >/dev/null
  else
    for migration in migrations/postgres/*.sql; do
      psql "$url" -qX -v ON_ERROR_STOP=1 -f "$migration" >/dev/null
    done
  fi
  psql "$url" -qX -v ON_ERROR_STOP=1 -f bench/pgbench_initiate_setup.sql
  psql "$url" -qX -c CHECKPOINT
}

# Connections free for pgbench: the server's limit less the superuser reserve, the sessions open now
# and a margin for others sharing the server.
max_connections=$(psql "$admin" -AtX -c "SHOW max_connections")
reserved=$(psql "$admin" -AtX -c "SHOW superuser_reserved_connections")
in_use=$(psql "$admin" -AtX -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
cap=$((max_connections - reserved - in_use - ${MARGIN:-10}))
echo "max_connections=$max_connections reserved=$reserved in use=$in_use: at most $cap clients"

mkdir -p "$out"
runs=()
for variant in one-transaction four-transactions; do
  case $variant in
    one-transaction) script=bench/pgbench_initiate.sql ;;
    four-transactions) script=bench/pgbench_initiate_four_transactions.sql ;;
  esac
  dirs=()
  done_levels=" "
  for requested in ${levels//,/ }; do
    clients=$(( requested < cap ? requested : cap ))
    if [[ $done_levels == *" $clients "* ]]; then continue; fi
    done_levels+="$clients "
    dir="$out/pgbench-initiate/$variant/c$clients"
    rm -rf "$dir" && mkdir -p "$dir"
    fresh_database
    jobs=$(( clients < threads ? clients : threads ))
    echo "== $variant: $clients clients (asked $requested), $jobs threads, ${seconds}s"
    summary=$(cd "$dir" && pgbench -n -M prepared -c "$clients" -j "$jobs" -T "$seconds" \
                -l --log-prefix=log -f "$OLDPWD/$script" "$url" 2>&1) || true
    echo "$summary" | grep -E '^(tps|latency average|number of (failed|transactions actually))|aborted' || true
    python3 - "$dir/meta.json" "$clients" "$requested" "$summary" <<'PY'
import json, sys
path, clients, requested, summary = sys.argv[1:]
json.dump({"connections": int(clients), "requestedConnections": int(requested), "summary": summary},
          open(path, "w"), indent=2)
PY
    dirs+=("$dir")
  done
  python3 bench/pgbench_log.py --scenario initiate --variant "pgbench-$variant" "${dirs[@]}" \
    > "$out/pgbench-initiate-$variant.json"
  runs+=("$out/pgbench-initiate-$variant.json")
done

python3 - "$out/pgbench-initiate.json" "${runs[@]}" <<'PY'
import json, sys
json.dump({"runs": [json.load(open(path)) for path in sys.argv[2:]]}, open(sys.argv[1], "w"), indent=2)
PY
python3 - "$out/pgbench-initiate.json" <<'PY'
import json, sys
for run in json.load(open(sys.argv[1]))["runs"]:
    print(run["variant"])
    for level in run["levels"]:
        asked = f' (asked {level["requestedConnections"]})' if "requestedConnections" in level else ""
        print(f'  {level["connections"]:>4} clients{asked}: {level["perSecond"]:9.1f}/s  '
              f'p50 {level["p50Ms"]:7.2f}  p90 {level["p90Ms"]:7.2f}  p99 {level["p99Ms"]:7.2f}  '
              f'max {level["maxMs"]:8.2f} ms  errors {level["errors"]}')
PY
psql "$admin" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
