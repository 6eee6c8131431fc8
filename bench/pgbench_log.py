#!/usr/bin/env python3
"""Turns pgbench per-transaction logs (`pgbench -l`) into the benchmark JSON that bench/plot.py reads.

    bench/pgbench_log.py --scenario initiate --variant NAME [--backend postgres] \\
        LEVEL_DIR [LEVEL_DIR ...] > result.json

Each LEVEL_DIR holds one pgbench run: its logs `log.*` and `meta.json`
({"connections": N, "requestedConnections": M, "summary": "<pgbench's stdout>"}). One log line per
script run: `client_id transaction_no latency_us script_no epoch_s epoch_us [...]`, where latency is
`failed` or `skipped` for runs that did not complete. Percentiles use the nearest rank on the sorted
latencies, the rule esign's own bench uses. Standard library only.
"""

import argparse
import glob
import json
import os
import re
import sys


def percentile(sorted_ms, quantile):
    if not sorted_ms:
        return 0.0
    index = round((len(sorted_ms) - 1) * quantile)
    return sorted_ms[min(index, len(sorted_ms) - 1)]


def failed_in_summary(summary):
    """Failed script runs and clients pgbench gave up on, from its summary text."""
    failed = re.search(r"number of failed transactions: (\d+)", summary)
    aborted = re.search(r"number of transactions actually processed: (\d+)/(\d+)", summary)
    errors = int(failed.group(1)) if failed else 0
    # With -T there is no planned total; an error line means a client aborted mid-run.
    errors += len(re.findall(r"client \d+ aborted", summary))
    if aborted and aborted.group(2) and int(aborted.group(1)) < int(aborted.group(2)):
        errors = max(errors, int(aborted.group(2)) - int(aborted.group(1)))
    return errors


def level(directory):
    with open(os.path.join(directory, "meta.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    latencies_ms, failed = [], 0
    first_start, last_end = None, None
    for path in sorted(glob.glob(os.path.join(directory, "log.*"))):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) < 6:
                    continue
                if not fields[2].isdigit():
                    failed += fields[2] == "failed"
                    continue
                latency_s = int(fields[2]) / 1e6
                end = int(fields[4]) + int(fields[5]) / 1e6
                start = end - latency_s
                first_start = start if first_start is None else min(first_start, start)
                last_end = end if last_end is None else max(last_end, end)
                latencies_ms.append(latency_s * 1000.0)
    latencies_ms.sort()
    seconds = (last_end - first_start) if latencies_ms else 0.0
    errors = max(failed, failed_in_summary(meta.get("summary", "")))
    result = {
        "connections": meta["connections"],
        "count": len(latencies_ms),
        "errors": errors,
        "seconds": round(seconds, 3),
        "perSecond": round(len(latencies_ms) / seconds, 2) if seconds > 0 else 0.0,
        "p50Ms": round(percentile(latencies_ms, 0.50), 3),
        "p90Ms": round(percentile(latencies_ms, 0.90), 3),
        "p99Ms": round(percentile(latencies_ms, 0.99), 3),
        "maxMs": round(latencies_ms[-1], 3) if latencies_ms else 0.0,
    }
    requested = meta.get("requestedConnections")
    if requested and requested != meta["connections"]:
        result["requestedConnections"] = requested
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--backend", default="postgres")
    parser.add_argument("--variant", required=True)
    parser.add_argument("levels", nargs="+", help="one directory per pgbench run")
    args = parser.parse_args()
    levels = sorted((level(d) for d in args.levels), key=lambda entry: entry["connections"])
    json.dump({"scenario": args.scenario, "backend": args.backend, "variant": args.variant,
               "levels": levels}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
