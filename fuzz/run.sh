#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 60) from the committed seed corpus.
# Fails on the first crash, leak of an invariant or timeout; prints the executions per target.
#
#   fuzz/run.sh [SECONDS]
#
# New inputs found during a run go to a scratch directory, not into fuzz/corpus/; a crashing input
# is kept in fuzz/artifacts/<target>/ (add it to the corpus once fixed: it becomes a regression test).
# The stable toolchain is enough: no sanitizer (`--sanitizer none`, ASan needs nightly), release
# code with debug assertions and overflow checks (cargo-fuzz's default).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
cargo_fuzz_version="0.13.1"
# Kept apart from the service's own builds: the instrumented artefacts share nothing with them.
target_dir="${ESIGN_FUZZ_TARGET_DIR:-/var/tmp/esign-fuzz-target}"

if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

# 16 codegen units: a much shorter build for somewhat slower runs, right for short CI runs.
build_flags=(--sanitizer none --codegen-units 16 --target-dir "$target_dir")
started=$(date +%s)
cargo fuzz build "${build_flags[@]}"
echo "fuzz build: $(($(date +%s) - started)) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
summary=()
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  echo "==> $target for ${seconds} s"
  # The first corpus directory receives new inputs; the committed one is only read.
  if cargo fuzz run "${build_flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED"
    status=1
    tail -n 60 "$log"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  summary+=("$(printf '%-20s %-6s %10s execs in %s s' "$target" "$result" "${runs:-?}" "$seconds")")
done

echo
printf '%s\n' "${summary[@]}"
exit "$status"
