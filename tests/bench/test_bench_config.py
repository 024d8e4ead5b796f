"""The bench file on relayhub's config layer, and the ``relayhub bench`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchfix import write_config

from benchmarks.bench.cli import CONFIGS_DIR, command, shipped_configs
from benchmarks.bench.config import load_bench_file, load_suite_file, quick_variant
from relay import cli
from relay.config import ConfigError, config_docs


def test_bench_file_loads_typed(tmp_path: Path) -> None:
    cfg = load_bench_file(write_config(tmp_path, quick='duration = "300ms"\ncount = 0'))
    assert cfg.rate.rate == 100.0 and cfg.run.duration == 1.0 and cfg.run.warmup == 0.2
    assert cfg.workload.params == {"latency": 0.002}
    q = quick_variant(cfg)
    assert q.run.duration == 0.3 and q.run.warmup == 0.2


def test_unknown_keys_and_broken_rules_are_errors(tmp_path: Path) -> None:
    bad = write_config(tmp_path, rate='mode = "fixed"\nrat = 5.0', run="duration = 5")
    with pytest.raises(ConfigError) as err:
        load_bench_file(bad)
    text = "\n".join(err.value.problems)
    assert "rate.rat: unknown key" in text and "run.duration: expected a duration" in text
    rules = write_config(tmp_path, "r", rate='mode = "ramp"', run="count = 10")
    with pytest.raises(ConfigError) as err:
        load_bench_file(rules)
    text = "\n".join(err.value.problems)
    assert "rate.end: required" in text and "run.duration: required" in text
    with pytest.raises(ConfigError, match=r"workers\.remote"):
        load_bench_file(write_config(tmp_path, "w", workers='remote = ["nohost"]'))


def test_config_check_and_docs_know_bench_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_config(tmp_path)
    assert cli.main(["config", "check", str(good)]) == 0
    assert "(bench)" in capsys.readouterr().out
    bad = write_config(tmp_path, "bad", body="\n[extra]\nx = 1\n")
    assert cli.main(["config", "check", str(bad)]) == 2
    assert "extra: unknown key" in capsys.readouterr().err
    docs = config_docs(cli.config_kinds())
    for key in ("bench.name", "rate.mode", "run.drain", "workers.remote", "suite.configs"):
        assert f"`{key}`" in docs


def test_shipped_configs_and_suite_load(capsys: pytest.CaptureFixture[str]) -> None:
    found = shipped_configs()
    assert found and all(cfg is not None for _, cfg, _ in found), [p for *_, p in found if p]
    suite = load_suite_file(CONFIGS_DIR / "suite.toml")
    names = {p.name for p, _, _ in found}
    assert {p.name for p in suite.configs} == names - {"synthetic.toml"}
    assert command(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {it["name"] for it in listed} >= {"synthetic"}


def test_run_writes_reports_and_ends_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, "run1")
    assert command(["run", str(cfg), "--out", str(tmp_path / "out"), "--no-live"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    head = json.loads(last)
    assert head["bench"] == "run1" and head["sent"] == 100 and head["confirmed"] == 100
    for f in ("run1.json", "run1-timeline.csv", "run1-resources.csv", "run1.html"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    doc = json.loads((tmp_path / "out" / "run1.json").read_text())
    assert doc["summary"]["send_tps"] == 100.0 and doc["phases"][0]["timeline"]
    assert "coordinator" in doc["resources"]["summary"]

    # compare: a run against itself is 1.0 everywhere
    a = str(tmp_path / "out" / "run1.json")
    assert command(["compare", a, a, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["figure"]: r["ratio"] for r in rows}["confirmed_tps"] == "1.000"


def test_search_finds_the_synthetic_capacity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10 at a time x 20 ms = 500/s at most; the search must stop between 300 and 500.
    cfg = write_config(
        tmp_path,
        "search",
        workload='module = "benchmarks.bench.workloads.synthetic"\n'
        "params = { latency = 0.02, concurrency = 10 }",
        rate='mode = "search"\nstart = 200.0\nfactor = 1.5\nstep = "600ms"\nmax_steps = 4\n'
        'refine = 1\np99_max = "200ms"\ntracking = 0.9',
        run='warmup = "0s"\ndrain = "500ms"',
        report="html = false",
    )
    assert command(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-live"]) == 0
    head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert head["max_rate"] is not None and 250 <= head["max_rate"] <= 500
    doc = json.loads((tmp_path / "o" / "search.json").read_text())
    passed = [s["passed"] for s in doc["search"]["steps"]]
    assert passed[0] and not all(passed)


def test_registered_through_entry_points() -> None:
    assert "bench" in cli.plugin_commands()
    assert {"bench", "bench-suite"} <= set(cli.config_kinds())
