#!/usr/bin/env python3
"""Summarises bench/journey_compare.sh: for each backend and level, the median over rounds of each
build's journeys per second, the whole journey's p50/p99 (initiation to archived, as the caller sees
it), the signing part (initiation to the second signer's done page) and the server's SIGNED to
archived, with the ratio after / before of the journey's p50.

usage: bench/journey_compare.py OUT_DIR
"""
import json
import pathlib
import re
import statistics
import sys
from collections import defaultdict

NAME = re.compile(r"^(before|after)-(\w+)-(\d+)\.json$")


def main(out):
    figures = defaultdict(list)  # (backend, journeys at once, build) -> [level]
    for path in sorted(pathlib.Path(out).glob("*.json")):
        match = NAME.match(path.name)
        if not match:
            continue
        build, backend, _round = match.groups()
        for level in json.loads(path.read_text())["levels"]:
            figures[(backend, level["journeys"]["connections"], build)].append(level)

    def median(levels, pick):
        return statistics.median(pick(level) for level in levels)

    print("| backend | at once | build | journeys/s | journey p50 / p99 ms | signing p50 / p99 ms "
          "| signed → archived (server) p50 / p99 ms | errors | p50 after ÷ before |")
    print("| --- | ---: | --- | ---: | --- | --- | --- | ---: | ---: |")
    for backend, connections in sorted({key[:2] for key in figures}):
        before = figures.get((backend, connections, "before"), [])
        after = figures.get((backend, connections, "after"), [])
        for build, levels in (("before", before), ("after", after)):
            if not levels:
                continue
            ratio = ""
            if build == "after" and before:
                ratio = "%.2f" % (median(after, lambda l: l["journeys"]["p50Ms"])
                                  / median(before, lambda l: l["journeys"]["p50Ms"]))
            print("| %s | %d | %s | %.2f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %d | %s |" % (
                backend, connections, build,
                median(levels, lambda l: l["journeys"]["perSecond"]),
                median(levels, lambda l: l["journeys"]["p50Ms"]),
                median(levels, lambda l: l["journeys"]["p99Ms"]),
                median(levels, lambda l: l["signing"]["p50Ms"]),
                median(levels, lambda l: l["signing"]["p99Ms"]),
                median(levels, lambda l: l["signedToArchivedServer"]["p50Ms"]),
                median(levels, lambda l: l["signedToArchivedServer"]["p99Ms"]),
                sum(l["journeys"]["errors"] for l in levels),
                ratio,
            ))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench/journey-compare")
