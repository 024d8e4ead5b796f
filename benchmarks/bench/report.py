"""Reports of a bench result: a rich table, JSON, CSV and a static HTML page with plots.

Files written by :func:`write_reports` into the output directory, each named after
the benchmark:

* ``NAME.json`` — the whole result document (what ``relayhub bench compare`` reads);
* ``NAME-timeline.csv`` — one row per phase and second; ``NAME-resources.csv`` — one
  row per process and sample;
* ``NAME.html`` — one self-contained page: tables of the figures and SVG plots
  (throughput and latency over time, latency CDF, CPU and memory per process, the
  steps of a rate search), drawn with matplotlib's SVG backend and inlined, so it
  needs no network, no script and no other file to view.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.bench.resources import MACHINE_OTHERS

# --- the terminal -------------------------------------------------------------------


def summary_table(doc: dict[str, Any]) -> Table:
    h = doc["headline"]
    s = doc.get("summary", {})
    t = Table(title=f"bench {doc['bench']}" + (" (quick)" if doc.get("quick") else ""))
    t.add_column("figure", style="bold")
    t.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = [
        ("sent", h.get("sent")),
        ("confirmed", h.get("confirmed")),
        ("failed", f"{h.get('failed')} {s.get('failed_by_code') or ''}".strip()),
        ("timed out", h.get("timed_out")),
        ("send TPS", h.get("send_tps")),
        ("confirmed TPS", h.get("confirmed_tps")),
        ("confirmed units/s", h.get("confirmed_units_per_s")),
        ("p50 / p90 ms", f"{h.get('p50_ms')} / {h.get('p90_ms')}"),
        ("p99 / p99.9 / max ms", f"{h.get('p99_ms')} / {h.get('p99.9_ms')} / {h.get('max_ms')}"),
        ("generator lag p99 ms", s.get("send_lag", {}).get("p99_ms")),
    ]
    if "floor_ratio" in h:
        ref = doc.get("reference") or {}
        rows.append(("reference units/s", f"{h.get('reference_per_s')} ({ref.get('what', '')})"))
        rows.append(("floor_ratio", h.get("floor_ratio")))
    if "max_rate" in h:
        rows.append(("max sustained rate", h.get("max_rate")))
    if "others_cores" in h:
        rows.append(("other processes' load, cores", h.get("others_cores")))
    for k, v in rows:
        t.add_row(k, "" if v is None else str(v))
    return t


def print_summary(doc: dict[str, Any], console: Console | None = None) -> None:
    (console or Console()).print(summary_table(doc))


# --- files --------------------------------------------------------------------------


def write_reports(doc: dict[str, Any], out: Path, *, html_report: bool, csv_files: bool) -> dict:
    """Write the report files of ``doc`` into ``out``; return ``{kind: path}``."""
    out.mkdir(parents=True, exist_ok=True)
    name = doc["bench"]
    paths: dict[str, Path] = {"json": out / f"{name}.json"}
    paths["json"].write_text(json.dumps(doc, indent=1) + "\n")
    if csv_files:
        paths["timeline_csv"] = out / f"{name}-timeline.csv"
        write_timeline_csv(doc, paths["timeline_csv"])
        paths["resources_csv"] = out / f"{name}-resources.csv"
        write_resources_csv(doc, paths["resources_csv"])
    if html_report:
        paths["html"] = out / f"{name}.html"
        paths["html"].write_text(render_html(doc))
    return paths


TIMELINE_COLUMNS = (
    "phase",
    "second",
    "warmup",
    "offered",
    "sent",
    "confirmed",
    "units",
    "failed",
    "timed_out",
    "p50_ms",
    "p99_ms",
    "max_ms",
)


def write_timeline_csv(doc: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(TIMELINE_COLUMNS)
        for p in doc["phases"]:
            for row in p["timeline"]:
                w.writerow([p["name"], *(row[c] for c in TIMELINE_COLUMNS[1:])])


def write_resources_csv(doc: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("t", "process", "cpu_percent", "rss_mb"))
        for r in doc["resources"]["rows"]:
            w.writerow((r["t"], r["process"], r["cpu_percent"], r["rss_mb"]))


# --- HTML ---------------------------------------------------------------------------


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype: inline SVG
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)


def _figure(title: str) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.2), dpi=96)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _log(ax: Any, axis: str) -> None:
    """A log axis labelled in plain numbers (2, 5, 100), not powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    which = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    which.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    which.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    which.set_minor_formatter(NullFormatter())


def _phase_series(doc: dict[str, Any]) -> list[tuple[str, float, list[dict[str, Any]]]]:
    return [(p["name"], float(p["started_s"]), p["timeline"]) for p in doc["phases"]]


def plot_throughput(doc: dict[str, Any]) -> str:
    fig, ax = _figure("throughput per second")
    xs: list[float] = []
    series: dict[str, list[float]] = {"offered": [], "sent": [], "confirmed": [], "failed": []}
    for _, start, rows in _phase_series(doc):
        for r in rows:
            xs.append(start + r["second"])
            for k in series:
                series[k].append(r[k] + (r["timed_out"] if k == "failed" else 0))
    styles = {"offered": ":", "sent": "--", "confirmed": "-", "failed": "-"}
    colors = {"offered": "#888888", "sent": "#1f77b4", "confirmed": "#2ca02c", "failed": "#d62728"}
    for k, ys in series.items():
        if k == "failed" and not any(ys):
            continue
        ax.plot(xs, ys, styles[k], color=colors[k], label=k, linewidth=1.5)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("transactions / s")
    ax.legend(loc="best", fontsize=8)
    return _svg(fig)


def plot_latency_over_time(doc: dict[str, Any]) -> str:
    fig, ax = _figure("latency per second (from intended send time)")
    xs, p50, p99, mx = [], [], [], []
    for _, start, rows in _phase_series(doc):
        for r in rows:
            if r["confirmed"]:
                xs.append(start + r["second"])
                p50.append(r["p50_ms"])
                p99.append(r["p99_ms"])
                mx.append(r["max_ms"])
    ax.plot(xs, p50, "-", color="#1f77b4", label="p50", linewidth=1.5)
    ax.plot(xs, p99, "-", color="#ff7f0e", label="p99", linewidth=1.5)
    ax.plot(xs, mx, ":", color="#d62728", label="max", linewidth=1.2)
    if xs and min(p50 + p99 + mx) > 0:
        _log(ax, "y")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("ms")
    ax.legend(loc="best", fontsize=8)
    return _svg(fig)


def plot_cdf(doc: dict[str, Any]) -> str:
    fig, ax = _figure("latency CDF (measured window)")
    for p in doc["phases"]:
        cdf = p["latency_cdf"]
        if cdf:
            ax.step([c[0] * 1e3 for c in cdf], [c[1] for c in cdf], where="post", label=p["name"])
    _log(ax, "x")
    ax.set_xlabel("latency, ms (log)")
    ax.set_ylabel("fraction of confirmed")
    ax.set_ylim(0, 1.02)
    if len(doc["phases"]) <= 12:
        ax.legend(loc="lower right", fontsize=7)
    return _svg(fig)


def plot_resources(doc: dict[str, Any], what: str) -> str:
    title = "CPU per process (% of one core)" if what == "cpu_percent" else "RSS per process (MB)"
    fig, ax = _figure(title)
    procs: dict[str, tuple[list[float], list[float]]] = {}
    for r in doc["resources"]["rows"]:
        if what == "rss_mb" and r["process"] == MACHINE_OTHERS:
            continue  # the rest of the machine has a CPU share, no RSS of ours
        xs, ys = procs.setdefault(r["process"], ([], []))
        xs.append(r["t"])
        ys.append(r[what])
    for name, (xs, ys) in sorted(procs.items()):
        ax.plot(xs, ys, "-", label=name, linewidth=1.3)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("%" if what == "cpu_percent" else "MB")
    if procs:
        ax.legend(loc="best", fontsize=7, ncol=2)
    return _svg(fig)


def plot_search(doc: dict[str, Any]) -> str:
    fig, ax = _figure("rate search: offered vs confirmed")
    steps = doc["search"]["steps"]
    xs = [s["rate"] for s in steps]
    ax.scatter(
        xs,
        [s["confirmed_tps"] for s in steps],
        c=["#2ca02c" if s["passed"] else "#d62728" for s in steps],
        label="confirmed TPS (green: step passed)",
        zorder=3,
    )
    hi = max(xs) if xs else 1
    ax.plot([0, hi], [0, hi], ":", color="#888888", label="confirmed = offered")
    ax.set_xlabel("offered rate / s")
    ax.set_ylabel("confirmed / s")
    ax.legend(loc="best", fontsize=8)
    return _svg(fig)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
figure.plot { margin: 1em 0; }
figure.plot svg { width: 100%; height: auto; }
"""


def render_html(doc: dict[str, Any]) -> str:
    """The report page: figures, then plots (inline SVG), no external resources."""
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "relayhub-bench"  # stable element ids
    h = doc["headline"]
    s = doc.get("summary", {})
    head = [(k, "" if v is None else v) for k, v in h.items() if k != "bench"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>relayhub bench: {html.escape(doc['bench'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>relayhub bench: {html.escape(doc['bench'])}</h1>",
        f"<p>{html.escape(doc.get('description', ''))}</p>",
        f"<p>config <code>{html.escape(doc['config'])}</code>, started {doc['started']}, "
        f"{doc['host']['cpus']} CPUs, Python {doc['host']['python']}, "
        f"{doc['workers']} load generator(s). Latency counts from each transaction's "
        "<em>intended</em> send time (no coordinated omission); percentiles from HDR "
        "histograms of the measured window (warm-up excluded, drain included).</p>",
        "<h2>Headline</h2>",
        _table(head, ("figure", "value")),
    ]
    if s.get("failed_by_code"):
        parts += ["<h3>Failed by code</h3>", _table(sorted(s["failed_by_code"].items()))]
    lat_all = s.get("latency_all", {})
    if lat_all:
        parts += [
            "<h3>Latency, ms</h3>",
            _table(
                [
                    ["confirmed", *s["latency"].values()],
                    ["all (failed, timed out at timeout)", *lat_all.values()],
                    ["generator lag", *s["send_lag"].values()],
                ],
                ("over", *s["latency"].keys()),
            ),
        ]
    ref = doc.get("reference")
    if ref:
        parts += [
            "<h3>Reference measured in the same run</h3>",
            f"<p>{html.escape(str(ref.get('what', '')))}: {ref.get('per_s')} units/s. "
            "floor_ratio = reference time per unit / actual time per unit = "
            f"<b>{doc.get('floor_ratio')}</b> (1.0: at the reference).</p>",
        ]
    parts += [
        "<h2>Plots</h2>",
        f'<figure class="plot" id="plot-throughput">{plot_throughput(doc)}</figure>',
        f'<figure class="plot" id="plot-latency">{plot_latency_over_time(doc)}</figure>',
        f'<figure class="plot" id="plot-cdf">{plot_cdf(doc)}</figure>',
    ]
    if doc["resources"]["rows"]:
        parts += [
            f'<figure class="plot" id="plot-cpu">{plot_resources(doc, "cpu_percent")}</figure>',
            f'<figure class="plot" id="plot-rss">{plot_resources(doc, "rss_mb")}</figure>',
        ]
    if doc.get("search"):
        parts.append(f'<figure class="plot" id="plot-search">{plot_search(doc)}</figure>')
        rows = [
            [
                i + 1,
                st["rate"],
                st["confirmed_tps"],
                round(st["p99_s"] * 1e3, 1),
                st["errors"],
                "pass" if st["passed"] else "fail",
            ]
            for i, st in enumerate(doc["search"]["steps"])
        ]
        parts += [
            "<h3>Search steps</h3>",
            _table(rows, ("step", "rate", "confirmed TPS", "p99 ms", "errors", "")),
        ]
    rs = doc["resources"]["summary"]
    if rs:
        cols = next(iter(rs.values())).keys()
        parts += [
            "<h2>Processes</h2>",
            _table([[n, *v.values()] for n, v in rs.items()], ("process", *cols)),
        ]
    for p in doc["phases"]:
        if p["metrics"]:
            parts += [
                f"<h3>/metrics, phase {html.escape(p['name'])} (added during it)</h3>",
                _table(sorted(p["metrics"].items()), ("sample", "value")),
            ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --- compare ------------------------------------------------------------------------

COMPARED = (
    ("send_tps", "higher"),
    ("confirmed_tps", "higher"),
    ("confirmed_units_per_s", "higher"),
    ("p50_ms", "lower"),
    ("p90_ms", "lower"),
    ("p99_ms", "lower"),
    ("p99.9_ms", "lower"),
    ("max_ms", "lower"),
    ("failed", "lower"),
    ("timed_out", "lower"),
    ("floor_ratio", "higher"),
    ("max_rate", "higher"),
)


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any, str]]:
    """``(figure, A, B, B/A)`` for each headline figure either document has."""
    ha, hb = a["headline"], b["headline"]
    rows = []
    for key, _better in COMPARED:
        va, vb = ha.get(key), hb.get(key)
        if va is None and vb is None:
            continue
        ratio = ""
        if isinstance(va, int | float) and isinstance(vb, int | float) and va:
            ratio = f"{vb / va:.3f}"
        rows.append((key, va, vb, ratio))
    return rows


def compare_table(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> Table:
    t = Table(title=f"{a['bench']} vs {b['bench']}")
    t.add_column("figure", style="bold")
    t.add_column(f"A {names[0]}", justify="right")
    t.add_column(f"B {names[1]}", justify="right")
    t.add_column("B / A", justify="right")
    for key, va, vb, ratio in compare_rows(a, b):
        t.add_row(key, str(va), str(vb), ratio)
    return t
