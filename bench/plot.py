#!/usr/bin/env python3
"""Draws benchmark results as SVG, one file per scenario: docs/benchmarks/<scenario>.svg.

    bench/plot.py RESULT.json [RESULT.json ...] [--out docs/benchmarks]

Each file holds one run or {"runs": [run, ...]} (a JSON list of runs works too). A run is
{"scenario", "backend", "variant", "levels": [{"connections", "perSecond", "p50Ms", "p90Ms",
"p99Ms", "maxMs", ...}]}. Runs of one scenario share a chart, one colour per backend + variant.
A scenario whose runs sweep connections gets two line panels (throughput; latency percentiles on a
logarithmic axis); one measured at a single level gets bar charts instead.

Standard library only, so it runs wherever python3 does.
"""

import argparse
import json
import math
import os
import sys
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]
PERCENTILES = [("p50Ms", "p50", ""), ("p90Ms", "p90", "6,3"), ("p99Ms", "p99", "2,3")]
FONT = "font-family='Helvetica, Arial, sans-serif'"

PANEL_W, PANEL_H = 460, 300
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 20, 40, 50
TITLE_H, LEGEND_ROW = 36, 18


def load_runs(paths):
    runs = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if isinstance(data, dict) and "runs" in data:
            data = data["runs"]
        if isinstance(data, dict):
            data = [data]
        for run in data:
            if not run.get("levels"):
                print(f"{path}: a run of {run.get('scenario')!r} has no levels; skipped",
                      file=sys.stderr)
                continue
            runs.append(run)
    return runs


def label(run):
    return f"{run.get('backend', '?')} · {run.get('variant', '?')}"


def nice_step(span, target_ticks=5):
    """A 1-2-5 step that cuts `span` into about `target_ticks` pieces."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def linear_ticks(top):
    step = nice_step(top)
    ticks, value = [], 0.0
    while value <= top * 1.0001:
        ticks.append(value)
        value += step
    return ticks, max(ticks[-1], top) if ticks else top


def log_ticks(low, high):
    """1-2-5 ticks covering [low, high] on a log axis, and the axis ends (whole tick values)."""
    low_exp = math.floor(math.log10(low))
    high_exp = math.ceil(math.log10(high))
    candidates = [m * 10 ** e for e in range(low_exp, high_exp + 1) for m in (1, 2, 5)]
    below = [c for c in candidates if c <= low]
    above = [c for c in candidates if c >= high]
    start = below[-1] if below else candidates[0]
    end = above[0] if above else candidates[-1]
    ticks = [c for c in candidates if start <= c <= end]
    # Too many ticks on a wide range: keep the powers of ten only.
    if len(ticks) > 9:
        ticks = [c for c in ticks if math.isclose(math.log10(c), round(math.log10(c)))]
    return ticks, start, end


def fmt(value):
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


class Svg:
    def __init__(self, width, height):
        self.width, self.height = width, height
        self.parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' {FONT} font-size='12'>",
            f"<rect width='{width}' height='{height}' fill='white'/>",
        ]

    def add(self, text):
        self.parts.append(text)

    def text(self, x, y, content, anchor="start", size=12, weight="normal", rotate=None,
             colour="#222"):
        transform = f" transform='rotate({rotate} {x:.1f} {y:.1f})'" if rotate else ""
        self.add(f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' font-size='{size}' "
                 f"font-weight='{weight}' fill='{colour}'{transform}>{escape(str(content))}</text>")

    def line(self, x1, y1, x2, y2, colour="#222", width=1, dash=""):
        dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
        self.add(f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
                 f"stroke='{colour}' stroke-width='{width}'{dash_attr}/>")

    def render(self):
        return "\n".join(self.parts + ["</svg>"]) + "\n"


class Panel:
    """A plotting area at (left, top) with axis mappings set by the caller."""

    def __init__(self, svg, left, top, title, x_label, y_label):
        self.svg = svg
        self.x0, self.y0 = left + MARGIN_L, top + MARGIN_T
        self.w = PANEL_W - MARGIN_L - MARGIN_R
        self.h = PANEL_H - MARGIN_T - MARGIN_B
        svg.text(left + PANEL_W / 2, top + 22, title, anchor="middle", size=14, weight="bold")
        svg.text(self.x0 + self.w / 2, self.y0 + self.h + 38, x_label, anchor="middle")
        svg.text(left + 16, self.y0 + self.h / 2, y_label, anchor="middle", rotate=-90)
        svg.add(f"<rect x='{self.x0}' y='{self.y0}' width='{self.w}' height='{self.h}' "
                f"fill='none' stroke='#888'/>")

    def y_axis(self, ticks, to_y):
        for tick in ticks:
            y = to_y(tick)
            self.svg.line(self.x0, y, self.x0 + self.w, y, colour="#e4e4e4")
            self.svg.line(self.x0 - 4, y, self.x0, y, colour="#444")
            self.svg.text(self.x0 - 7, y + 4, fmt(tick), anchor="end", size=11)

    def x_axis(self, ticks, to_x, labels=None):
        for index, tick in enumerate(ticks):
            x = to_x(tick)
            self.svg.line(x, self.y0, x, self.y0 + self.h, colour="#f0f0f0")
            self.svg.line(x, self.y0 + self.h, x, self.y0 + self.h + 4, colour="#444")
            text = labels[index] if labels else fmt(tick)
            self.svg.text(x, self.y0 + self.h + 17, text, anchor="middle", size=11)


def connection_axis(panel, runs):
    levels = sorted({level["connections"] for run in runs for level in run["levels"]})
    low, high = math.log2(levels[0]), math.log2(levels[-1])
    span = (high - low) or 1.0
    pad = 0.06 * panel.w

    def to_x(connections):
        return panel.x0 + pad + (math.log2(connections) - low) / span * (panel.w - 2 * pad)

    panel.x_axis(levels, to_x)
    return to_x


def polyline(svg, points, colour, dash="", marker=True):
    if not points:
        return
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    svg.add(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'"
            f"{dash_attr}/>")
    if marker:
        for x, y in points:
            svg.add(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colour}'/>")


def legend(svg, left, top, runs, colours, with_percentiles):
    y = top
    for run in runs:
        colour = colours[label(run)]
        svg.line(left, y - 4, left + 26, y - 4, colour=colour, width=3)
        svg.text(left + 32, y, label(run), size=12)
        y += LEGEND_ROW
    if with_percentiles:
        x = left
        for _, name, dash in PERCENTILES:
            svg.line(x, y - 4, x + 26, y - 4, colour="#444", width=2, dash=dash)
            svg.text(x + 32, y, f"latency {name}", size=12)
            x += 120
        y += LEGEND_ROW
    return y


def positive(values):
    return [v for v in values if isinstance(v, (int, float)) and v > 0]


def sweep_chart(scenario, runs, colours):
    width = 2 * PANEL_W + 20
    legend_h = LEGEND_ROW * (len(runs) + 1) + 14
    height = TITLE_H + PANEL_H + legend_h
    svg = Svg(width, height)
    svg.text(width / 2, 24, f"{scenario}: throughput and latency by concurrent connections",
             anchor="middle", size=16, weight="bold")

    top = TITLE_H
    throughput = Panel(svg, 0, top, "Throughput", "connections (log scale)", "operations per second")
    to_x = connection_axis(throughput, runs)
    peak = max(level.get("perSecond", 0) for run in runs for level in run["levels"]) or 1.0
    ticks, y_top = linear_ticks(peak * 1.05)

    def y_rate(value):
        return throughput.y0 + throughput.h - value / y_top * throughput.h

    throughput.y_axis(ticks, y_rate)
    for run in runs:
        levels = sorted(run["levels"], key=lambda level: level["connections"])
        points = [(to_x(level["connections"]), y_rate(level.get("perSecond", 0)))
                  for level in levels]
        polyline(svg, points, colours[label(run)])

    latency = Panel(svg, PANEL_W + 20, top, "Latency percentiles", "connections (log scale)",
                    "milliseconds (log scale)")
    to_x = connection_axis(latency, runs)
    values = positive([level.get(key) for run in runs for level in run["levels"]
                       for key, _, _ in PERCENTILES])
    ticks, low, high = log_ticks(min(values or [1.0]), max(values or [10.0]))
    span = math.log10(high) - math.log10(low) or 1.0

    def y_ms(value):
        value = max(value, low)
        return latency.y0 + latency.h - (math.log10(value) - math.log10(low)) / span * latency.h

    latency.y_axis(ticks, y_ms)
    for run in runs:
        levels = sorted(run["levels"], key=lambda level: level["connections"])
        for key, _, dash in PERCENTILES:
            points = [(to_x(level["connections"]), y_ms(level[key]))
                      for level in levels if positive([level.get(key)])]
            polyline(svg, points, colours[label(run)], dash=dash, marker=(key == "p50Ms"))

    legend(svg, MARGIN_L, TITLE_H + PANEL_H + 14, runs, colours, with_percentiles=True)
    return svg.render()


def bar_chart(scenario, runs, colours):
    width = 2 * PANEL_W + 20
    legend_h = LEGEND_ROW * len(runs) + 14
    height = TITLE_H + PANEL_H + legend_h
    svg = Svg(width, height)
    connections = sorted({run["levels"][0]["connections"] for run in runs})
    at = ", ".join(str(c) for c in connections)
    svg.text(width / 2, 24, f"{scenario}: throughput and latency at {at} connection(s)",
             anchor="middle", size=16, weight="bold")
    top = TITLE_H

    throughput = Panel(svg, 0, top, "Throughput", "", "operations per second")
    peak = max(run["levels"][0].get("perSecond", 0) for run in runs) or 1.0
    ticks, y_top = linear_ticks(peak * 1.1)

    def y_rate(value):
        return throughput.y0 + throughput.h - value / y_top * throughput.h

    throughput.y_axis(ticks, y_rate)
    slot = throughput.w / len(runs)
    bar_w = min(60, slot * 0.6)
    for index, run in enumerate(runs):
        value = run["levels"][0].get("perSecond", 0)
        x = throughput.x0 + slot * index + (slot - bar_w) / 2
        y = y_rate(value)
        svg.add(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar_w:.1f}' "
                f"height='{throughput.y0 + throughput.h - y:.1f}' fill='{colours[label(run)]}'/>")
        svg.text(x + bar_w / 2, y - 5, fmt(value), anchor="middle", size=11)
        svg.text(x + bar_w / 2, throughput.y0 + throughput.h + 17, run.get("variant", "?"),
                 anchor="middle", size=11)

    latency = Panel(svg, PANEL_W + 20, top, "Latency percentiles", "", "milliseconds")
    peak = max(positive([run["levels"][0].get(key) for run in runs
                         for key, _, _ in PERCENTILES]) or [1.0])
    ticks, y_top = linear_ticks(peak * 1.1)

    def y_ms(value):
        return latency.y0 + latency.h - value / y_top * latency.h

    latency.y_axis(ticks, y_ms)
    names = [name for _, name, _ in PERCENTILES]
    group = latency.w / len(names)
    bar_w = min(28, group * 0.8 / len(runs))
    for p_index, (key, name, _) in enumerate(PERCENTILES):
        start = latency.x0 + group * p_index + (group - bar_w * len(runs)) / 2
        for r_index, run in enumerate(runs):
            value = run["levels"][0].get(key) or 0
            x = start + r_index * bar_w
            y = y_ms(value)
            svg.add(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar_w - 2:.1f}' "
                    f"height='{latency.y0 + latency.h - y:.1f}' fill='{colours[label(run)]}'/>")
        svg.text(latency.x0 + group * (p_index + 0.5), latency.y0 + latency.h + 17, name,
                 anchor="middle", size=11)

    legend(svg, MARGIN_L, TITLE_H + PANEL_H + 14, runs, colours, with_percentiles=False)
    return svg.render()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="JSON result files")
    parser.add_argument("--out", default="docs/benchmarks", help="output directory")
    args = parser.parse_args()

    runs = load_runs(args.results)
    if not runs:
        sys.exit("no runs with levels in the given files")
    labels = []
    for run in runs:
        if label(run) not in labels:
            labels.append(label(run))
    colours = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(labels)}

    by_scenario = {}
    for run in runs:
        by_scenario.setdefault(run.get("scenario", "unnamed"), []).append(run)
    os.makedirs(args.out, exist_ok=True)
    for scenario, scenario_runs in by_scenario.items():
        sweep = any(len(run["levels"]) > 1 for run in scenario_runs)
        svg = (sweep_chart if sweep else bar_chart)(scenario, scenario_runs, colours)
        path = os.path.join(args.out, f"{scenario}.svg")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(svg)
        print(path)


if __name__ == "__main__":
    main()
