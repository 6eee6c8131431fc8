#!/usr/bin/env python3
"""Turns the JSON results of bench/run.sh into the markdown tables of docs/benchmarks.md, and
gathers every connection sweep into one {"runs": [...]} file for bench/plot.py.

    bench/report.py OUT_DIR [--runs OUT_DIR/all-runs.json]

Standard library only.
"""

import argparse
import glob
import json
import os


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def runs_of(data):
    if isinstance(data, list):
        return data
    if "runs" in data:
        return data["runs"]
    return [data]


def fmt(value, digits=0):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def level_at(run, connections):
    for level in run["levels"]:
        if level.get("requestedConnections", level["connections"]) == connections:
            return level
    return None


def initiate_table(out, runs):
    by_key = {(r["backend"], r["variant"]): r for r in runs if r["scenario"] == "initiate"}
    esign_pg = by_key.get(("postgres", "esign"))
    if not esign_pg:
        return ""
    plain_pg = by_key.get(("postgres", "plain-crud"))
    pgbench = by_key.get(("postgres", "pgbench-one-transaction"))
    esign_lite = by_key.get(("sqlite", "esign"))
    plain_lite = by_key.get(("sqlite", "plain-crud"))
    lines = [
        "| conns | esign PG req/s | p50 ms | p99 ms | plain CRUD PG req/s | pgbench (same rows, 1 tx)/s "
        "| esign ÷ pgbench | esign ÷ plain | service cores | peak RSS MiB | esign SQLite req/s "
        "| SQLite p99 ms | plain CRUD SQLite req/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in esign_pg["levels"]:
        n = level["connections"]
        plain = level_at(plain_pg, n) if plain_pg else None
        base = level_at(pgbench, n) if pgbench else None
        lite = level_at(esign_lite, n) if esign_lite else None
        plite = level_at(plain_lite, n) if plain_lite else None
        ratio_base = level["perSecond"] / base["perSecond"] if base else None
        ratio_plain = level["perSecond"] / plain["perSecond"] if plain else None
        base_label = fmt(base and base["perSecond"])
        if base and base["connections"] != n:
            base_label += f" ({base['connections']} clients)"
        lines.append(
            f"| {n} | {fmt(level['perSecond'])} | {fmt(level['p50Ms'], 1)} | {fmt(level['p99Ms'], 1)} "
            f"| {fmt(plain and plain['perSecond'])} | {base_label} | {fmt(ratio_base, 2)} "
            f"| {fmt(ratio_plain, 2)} | {fmt(level.get('serviceCores'), 2)} "
            f"| {fmt(level.get('servicePeakRssMib'), 1)} | {fmt(lite and lite['perSecond'])} "
            f"| {fmt(lite and lite['p99Ms'], 1)} | {fmt(plite and plite['perSecond'])} |"
        )
    errors = sum(l["errors"] for r in by_key.values() for l in r["levels"] if "errors" in l)
    lines.append("")
    lines.append(f"Errors across all initiate levels: {errors}.")
    return "\n".join(lines)


def sweep_table(runs, scenario):
    rows = [r for r in runs if r["scenario"] == scenario]
    if not rows:
        return ""
    lines = [
        "| backend | variant | conns | ok | errors | per s | p50 ms | p90 ms | p99 ms | max ms | service cores | peak RSS MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in rows:
        for level in run["levels"]:
            lines.append(
                f"| {run['backend']} | {run['variant']} | {level['connections']} | {fmt(level.get('count'))} "
                f"| {fmt(level.get('errors'))} | {fmt(level['perSecond'])} | {fmt(level['p50Ms'], 2)} "
                f"| {fmt(level['p90Ms'], 2)} | {fmt(level['p99Ms'], 2)} | {fmt(level['maxMs'], 2)} "
                f"| {fmt(level.get('serviceCores'), 2)} | {fmt(level.get('servicePeakRssMib'), 1)} |"
            )
    return "\n".join(lines)


def tools_table(out):
    lines = [
        "| backend | step | events | seconds | events/s | peak RSS MiB | cores (tool) | cores (machine) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    found = False
    for backend in ("sqlite", "postgres"):
        seed = os.path.join(out, f"seed-{backend}.json")
        if os.path.exists(seed):
            s = load(seed)
            found = True
            lines.append(
                f"| {backend} | seed ({fmt(s['contracts'])} contracts) | {fmt(s['events'])} "
                f"| {fmt(s['seconds'], 1)} | {fmt(s['eventsPerSecond'])} | – | – | – |"
            )
        for step in ("rebuild", "verify"):
            path = os.path.join(out, f"{step}-{backend}.json")
            if not os.path.exists(path):
                continue
            found = True
            t = load(path)
            lines.append(
                f"| {backend} | {t['command']} | {fmt(t['events'])} | {fmt(t['seconds'], 1)} "
                f"| {fmt(t['eventsPerSecond'])} | {fmt(t['peakRssMib'], 1)} | {fmt(t['cpuCores'], 2)} "
                f"| {fmt(t['machineCores'], 2)} |"
            )
    return "\n".join(lines) if found else ""


def journey_runs(out):
    runs = []
    lines = [
        "| backend | journeys at once | journeys/s | p50 ms | p99 ms | signing p50/p99 ms "
        "| signed → archived (server) p50/p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for path in sorted(glob.glob(os.path.join(out, "journey-*.json"))):
        data = load(path)
        levels = []
        for level in data["levels"]:
            j = level["journeys"]
            levels.append(j)
            sign = level["signing"]
            server = level["signedToArchivedServer"]
            lines.append(
                f"| {data['backend']} | {j['connections']} | {fmt(j['perSecond'], 2)} | {fmt(j['p50Ms'])} "
                f"| {fmt(j['p99Ms'])} | {fmt(sign['p50Ms'])} / {fmt(sign['p99Ms'])} "
                f"| {fmt(server['p50Ms'])} / {fmt(server['p99Ms'])} | {j['errors']} |"
            )
        runs.append({"scenario": "journey", "backend": data["backend"], "variant": "esign", "levels": levels})
    return runs, ("\n".join(lines) if runs else "")


def callback_runs(out):
    runs = []
    lines = [
        "| backend | producers | callbacks produced | received | duplicates | bad signatures "
        "| deliveries/s | latency p50/p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for path in sorted(glob.glob(os.path.join(out, "callbacks-*.json"))):
        data = load(path)
        levels = []
        for live in data["live"]:
            d = live["delivery"]
            producers = live["producers"]
            levels.append({**producers, "perSecond": d["deliveriesPerSecond"],
                           "p50Ms": d["latency"]["p50Ms"], "p90Ms": d["latency"]["p90Ms"],
                           "p99Ms": d["latency"]["p99Ms"], "maxMs": d["latency"]["maxMs"]})
            lines.append(
                f"| {data['backend']} | {producers['connections']} | {d['produced']} | {d['received']} "
                f"| {d['duplicates']} | {d['badSignatures']} | {fmt(d['deliveriesPerSecond'], 1)} "
                f"| {fmt(d['latency']['p50Ms'])} / {fmt(d['latency']['p99Ms'])} |"
            )
        drain = data.get("drain")
        if drain:
            d = drain["delivery"]
            lines.append(
                f"| {data['backend']} | backlog drain | {d['produced']} | {d['received']} | {d['duplicates']} "
                f"| {d['badSignatures']} | {fmt(d['deliveriesPerSecond'], 1)} | – |"
            )
        runs.append({"scenario": "callbacks", "backend": data["backend"], "variant": "esign", "levels": levels})
    return runs, ("\n".join(lines) if runs else "")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--runs")
    args = parser.parse_args()
    runs = []
    for pattern in ("initiate-*.json", "pgbench-initiate.json", "query-*.json"):
        for path in sorted(glob.glob(os.path.join(args.out, pattern))):
            runs.extend(runs_of(load(path)))
    journeys, journey_md = journey_runs(args.out)
    callbacks, callback_md = callback_runs(args.out)
    runs.extend(journeys)
    runs.extend(callbacks)
    sections = [
        ("initiate", initiate_table(args.out, runs)),
        ("query", sweep_table(runs, "query")),
        ("seed, rebuild and verify", tools_table(args.out)),
        ("journey", journey_md),
        ("callbacks", callback_md),
    ]
    for title, body in sections:
        if body:
            print(f"### {title}\n\n{body}\n")
    if args.runs:
        with open(args.runs, "w", encoding="utf-8") as handle:
            json.dump({"runs": runs}, handle, indent=1)


if __name__ == "__main__":
    main()
