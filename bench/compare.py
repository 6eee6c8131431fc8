#!/usr/bin/env python3
"""Summarises bench/compare.sh: for each backend, scenario and level, the median over rounds of
each build's requests per second and p99 latency, and the ratio after / before.

usage: bench/compare.py OUT_DIR
"""
import json
import pathlib
import re
import statistics
import sys
from collections import defaultdict

NAME = re.compile(r"^(before|after)-(\w+)-(initiate|query)-(\d+)\.json$")


def main(out):
    figures = defaultdict(list)  # (backend, scenario, connections, build) -> [(req/s, p99, errors)]
    for path in sorted(pathlib.Path(out).glob("*.json")):
        match = NAME.match(path.name)
        if not match:
            continue
        build, backend, scenario, _round = match.groups()
        for run in json.loads(path.read_text())["runs"]:
            for level in run["levels"]:
                figures[(backend, scenario, level["connections"], build)].append(
                    (level["perSecond"], level["p99Ms"], level["errors"])
                )
    keys = sorted({key[:3] for key in figures})
    print("| backend | scenario | conns | before req/s | after req/s | after ÷ before | before p99 ms | after p99 ms | rounds | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for backend, scenario, connections in keys:
        before = figures.get((backend, scenario, connections, "before"), [])
        after = figures.get((backend, scenario, connections, "after"), [])
        if not before or not after:
            continue
        rate_before = statistics.median(rate for rate, _, _ in before)
        rate_after = statistics.median(rate for rate, _, _ in after)
        p99_before = statistics.median(p99 for _, p99, _ in before)
        p99_after = statistics.median(p99 for _, p99, _ in after)
        errors = sum(e for _, _, e in before) + sum(e for _, _, e in after)
        print(
            f"| {backend} | {scenario} | {connections} | {rate_before:,.0f} | {rate_after:,.0f} "
            f"| {rate_after / rate_before:.2f} | {p99_before:.1f} | {p99_after:.1f} "
            f"| {min(len(before), len(after))} | {errors} |"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
