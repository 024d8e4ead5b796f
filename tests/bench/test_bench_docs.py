"""docs/bench.md's example runs as written: its TOML is the config, its Python the
workload module (imported from a temporary directory)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from benchmarks.bench.cli import command

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = ROOT / "docs" / "bench.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", PAGE.read_text(), re.M | re.S)


def test_bench_page_example_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (config,) = blocks("toml")
    (module,) = blocks("python")
    (tmp_path / "mybench.py").write_text(module)
    (tmp_path / "my.toml").write_text(config)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert command(["run", str(tmp_path / "my.toml"), "--out", str(tmp_path), "--no-live"]) == 0
    finally:
        sys.modules.pop("mybench", None)
    head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert head["bench"] == "my-bench" and head["sent"] == 600
    assert head["failed"] == 6 and head["confirmed"] == 594
    assert head["reference_per_s"] == 500.0 and 0 < head["floor_ratio"] <= 1.0
