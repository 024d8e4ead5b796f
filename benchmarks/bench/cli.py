"""``relayhub bench``: run, compare and list benchmarks; serve as a remote worker.

    relayhub bench run CONFIG.toml [--quick] [--out DIR]   # a bench file or a suite
    relayhub bench compare A.json B.json                   # headline ratios side by side
    relayhub bench list                                    # the shipped configs
    relayhub bench worker --listen HOST:PORT [--once]      # a remote load generator

``run`` shows live progress on stderr, prints the figures as a table and, as its
last line on stdout, one JSON object of its headline figures (for a suite: one
object with every benchmark's). Reports go to ``--out`` (default
``bench-results/``): ``NAME.json``, ``NAME-timeline.csv``, ``NAME-resources.csv``
and ``NAME.html``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import trio
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.bench.config import (
    BenchFile,
    load_bench_file,
    load_suite_file,
)
from relay.config import ConfigError, read_toml
from relay.errors import RelayError

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_OUT = Path("bench-results")


def _problems(exc: ConfigError) -> int:
    for p in exc.problems:
        print(f"error [{exc.code}]: {p}", file=sys.stderr)
    return 2


class LiveProgress:
    """A rich progress bar per phase on stderr (elapsed of warm-up + duration)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, name: str, elapsed: float, total: float) -> None:
        if name not in self.tasks:
            t = total if total == total else None  # NaN: count-shaped, no known end
            self.tasks[name] = self.progress.add_task(name, total=t)
        self.progress.update(self.tasks[name], completed=max(elapsed, 0.0))


def run_one(
    cfg: BenchFile, *, quick: bool, out: Path, live: bool, keep: Path | None
) -> dict[str, Any]:
    from benchmarks.bench.engine import run_bench
    from benchmarks.bench.report import print_summary, write_reports

    err = Console(stderr=True)
    progress = LiveProgress(err) if live else None
    err.print(f"[bold]bench {cfg.bench.name}[/]: {cfg.bench.description}")

    async def go() -> dict[str, Any]:
        return await run_bench(cfg, quick=quick, progress=progress, keep_workdir=keep)

    if progress is not None:
        with progress.progress:
            doc = trio.run(go)
    else:
        doc = trio.run(go)
    paths = write_reports(doc, out, html_report=cfg.report.html, csv_files=cfg.report.csv)
    print_summary(doc, Console(file=sys.stdout, soft_wrap=True))
    for kind, p in paths.items():
        print(f"{kind}: {p}")
    return doc


def cmd_run(args: argparse.Namespace) -> int:
    path = Path(args.config)
    try:
        doc = read_toml(path)
        if isinstance(doc.get("suite"), dict):
            suite = load_suite_file(path)
            configs = [load_bench_file(p) for p in suite.configs]
            configs = [c for c in configs if not set(c.bench.tags) & set(suite.skip_tags)]
            name = suite.name
        else:
            configs = [load_bench_file(path)]
            name = ""
    except ConfigError as exc:
        return _problems(exc)
    out = Path(args.out) if args.out else DEFAULT_OUT
    headlines: dict[str, Any] = {}
    failed = []
    for cfg in configs:
        keep = Path(args.keep_workdir) / cfg.bench.name if args.keep_workdir else None
        if not name:  # a single benchmark: its errors are the command's
            doc = run_one(cfg, quick=args.quick, out=out, live=not args.no_live, keep=keep)
            print(json.dumps(doc["headline"]))
            return 0
        try:  # a suite goes on past a benchmark that fails, and says so at the end
            doc = run_one(cfg, quick=args.quick, out=out, live=not args.no_live, keep=keep)
            headlines[cfg.bench.name] = doc["headline"]
        except Exception as exc:
            print(f"error: bench {cfg.bench.name} failed: {exc!r}", file=sys.stderr)
            headlines[cfg.bench.name] = {"error": repr(exc)}
            failed.append(cfg.bench.name)
    (out / f"{name}.json").write_text(json.dumps(headlines, indent=1) + "\n")
    print(json.dumps({"suite": name, "quick": args.quick, "failed": failed, "benches": headlines}))
    return 1 if failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmarks.bench.report import compare_rows, compare_table

    docs = []
    for p in (args.a, args.b):
        try:
            docs.append(json.loads(Path(p).read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"error [6006]: {p}: not a bench result ({exc})", file=sys.stderr)
            return 2
        if "headline" not in docs[-1]:
            print(f"error [6006]: {p}: not a bench result (no headline)", file=sys.stderr)
            return 2
    if args.json:
        rows = compare_rows(docs[0], docs[1])
        print(json.dumps([{"figure": k, "a": a, "b": b, "ratio": r} for k, a, b, r in rows]))
        return 0
    Console().print(compare_table(docs[0], docs[1], (args.a, args.b)))
    return 0


def shipped_configs() -> list[tuple[Path, BenchFile | None, str]]:
    """``(path, config or None, problem)`` of every bench file in benchmarks/configs."""
    out: list[tuple[Path, BenchFile | None, str]] = []
    for p in sorted(CONFIGS_DIR.glob("*.toml")):
        if isinstance(read_toml(p).get("suite"), dict):
            continue
        try:
            out.append((p, load_bench_file(p), ""))
        except ConfigError as exc:
            out.append((p, None, "; ".join(exc.problems)))
    return out


def cmd_list(args: argparse.Namespace) -> int:
    items: list[dict[str, Any]] = []
    for p, cfg, problem in shipped_configs():
        if cfg is None:
            items.append({"file": str(p), "problem": problem})
            continue
        items.append(
            {
                "file": p.name,
                "name": cfg.bench.name,
                "rate": cfg.rate.mode,
                "topology": cfg.topology.mode,
                "tags": list(cfg.bench.tags),
                "description": cfg.bench.description,
            }
        )
    if args.json:
        print(json.dumps(items, indent=1))
        return 0
    from rich.table import Table

    t = Table(title=f"shipped benchmark configs in {CONFIGS_DIR} (relayhub bench run FILE)")
    for c in ("file", "rate", "topology", "tags", "description"):
        t.add_column(c, overflow="fold")
    for it in items:
        t.add_row(
            it["file"],
            it.get("rate", ""),
            it.get("topology", ""),
            ", ".join(it.get("tags", [])),
            it.get("description", it.get("problem", "")),
        )
    Console(soft_wrap=True).print(t)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="relayhub bench", description="benchmark harness")
    sub = p.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="run a bench file or a suite")
    r.add_argument("config", metavar="CONFIG.toml")
    r.add_argument("--quick", action="store_true", help="the config's [quick] variant")
    r.add_argument("--out", default=None, metavar="DIR", help=f"reports (default {DEFAULT_OUT})")
    r.add_argument("--no-live", action="store_true", help="no live progress display")
    r.add_argument("--keep-workdir", default=None, metavar="DIR", help="keep data and logs here")
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("compare", help="two results' headline figures and their ratios")
    c.add_argument("a", metavar="A.json")
    c.add_argument("b", metavar="B.json")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)
    ls = sub.add_parser("list", help="the shipped configs")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    w = sub.add_parser("worker", help="serve as a load generator: --listen HOST:PORT")
    w.add_argument("rest", nargs=argparse.REMAINDER)
    w.set_defaults(func=None)
    return p


def command(argv: list[str]) -> int:
    """The ``relayhub.commands`` entry point ``bench``."""
    if argv and argv[0] == "worker":
        from benchmarks.bench.worker import main as worker_main

        return worker_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RelayError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2


def script_main(
    config: str, legacy: str, aliases: dict[str, str], argv: list[str] | None = None
) -> int:
    """A benchmark script kept as a thin wrapper over the harness: ``SCRIPT [--quick]
    [--out DIR]`` runs ``benchmarks/configs/CONFIG`` and prints, as its last line, the
    headline JSON with ``"bench": legacy`` and the figures also under the script's
    former names (``aliases``: old name -> headline key)."""
    p = argparse.ArgumentParser(description=f"relayhub bench run benchmarks/configs/{config}")
    p.add_argument("--quick", action="store_true", help="the config's [quick] variant")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR")
    args = p.parse_args(argv)
    try:
        cfg = load_bench_file(CONFIGS_DIR / config)
    except ConfigError as exc:
        return _problems(exc)
    doc = run_one(cfg, quick=args.quick, out=Path(args.out), live=False, keep=None)
    head = {"bench": legacy, **{k: v for k, v in doc["headline"].items() if k != "bench"}}
    head.update({old: doc["headline"].get(new) for old, new in aliases.items()})
    head["config"] = f"benchmarks/configs/{config}"
    print(json.dumps(head))
    return 0


def main() -> int:
    return command(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
