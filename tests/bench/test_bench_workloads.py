"""The shipped workloads on small, bounded runs: every server on 127.0.0.1, every loop
with a count or a duration and a deadline. Figures are not asserted (no speed checks):
only that every transaction is accounted for and the reference was measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from benchfix import write_config

from benchmarks.bench.cli import command
from relay.cli import main

pytestmark = pytest.mark.slow


def run(tmp: Path, cfg: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert command(["run", str(cfg), "--out", str(tmp / "o"), "--no-live"]) == 0
    capsys.readouterr()
    return json.loads((tmp / "o" / f"{cfg.stem}.json").read_text())


def test_verify_evm_workload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(
        tmp_path,
        "verify",
        workload='module = "benchmarks.bench.workloads.verify_evm"\n'
        "params = { blocks = 2, receipts = 20 }",
        rate='mode = "closed"\nusers = 1',
        run="count = 6",
        report="html = false",
    )
    doc = run(tmp_path, cfg, capsys)
    h = doc["headline"]
    assert h["confirmed"] == 6 and doc["summary"]["confirmed_units"] == 120
    assert h["reference_per_s"] > 0 and h["floor_ratio"] > 0


def test_relay_ingest_workloads_on_a_relay_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = 'mode = "embedded"\nprocesses = true\nchains = []\ntimeout_blocks = 1000000'
    notary = write_config(
        tmp_path,
        "notary",
        topology=topology,
        workload='module = "benchmarks.bench.workloads.relay_ingest"\n'
        "params = { streams = 2, batch = 50, txs_per_request = 2, requests = 3 }",
        rate='mode = "closed"\nusers = 2',
        run='count = 6\ndrain = "30s"\ntx_timeout = "60s"',
        report="html = false",
    )
    doc = run(tmp_path, notary, capsys)
    assert doc["headline"]["confirmed"] == 6 and doc["summary"]["confirmed_units"] == 600
    assert doc["headline"]["floor_ratio"] > 0
    metrics = doc["phases"][0]["metrics"]
    assert metrics["relay:relayhub_ibtps_total{outcome=new}"] == 600
    assert "relay" in doc["resources"]["summary"]

    evm = write_config(
        tmp_path,
        "evm",
        topology=topology,
        workload='module = "benchmarks.bench.workloads.relay_ingest_evm"\n'
        "params = { streams = 2, blocks = 2, receipts = 20, txs_per_request = 1 }",
        rate='mode = "closed"\nusers = 2',
        run='count = 4\ndrain = "30s"\ntx_timeout = "60s"',
        report="html = false",
    )
    doc = run(tmp_path, evm, capsys)
    assert doc["headline"]["confirmed"] == 4 and doc["summary"]["confirmed_units"] == 80
    assert doc["headline"]["failed"] == 0 and doc["headline"]["reference_per_s"] > 0


@pytest.mark.parametrize("mode", ["secp256k1", "sm"])
def test_relay_ingest_fisco_on_a_relay_process(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(
        tmp_path,
        f"fisco-{mode}",
        topology='mode = "embedded"\nprocesses = true\nchains = []\ntimeout_blocks = 1000000',
        workload='module = "benchmarks.bench.workloads.relay_ingest_fisco"\n'
        f'params = {{ mode = "{mode}", streams = 2, blocks = 2, receipts = 20, '
        "txs_per_request = 1 }",
        rate='mode = "closed"\nusers = 2',
        run='count = 4\ndrain = "30s"\ntx_timeout = "60s"',
        report="html = false",
    )
    doc = run(tmp_path, cfg, capsys)
    h = doc["headline"]
    assert h["confirmed"] == 4 and doc["summary"]["confirmed_units"] == 80
    assert h["failed"] == 0 and h["reference_per_s"] > 0 and h["floor_ratio"] > 0
    assert doc["phases"][0]["metrics"]["relay:relayhub_ibtps_total{outcome=new}"] == 80


def test_e2e_and_mixed_workloads_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = 'mode = "embedded"\nprocesses = false\nchains = ["chainA", "chainB"]'
    cfg = write_config(
        tmp_path,
        "e2e",
        topology=topology,
        workload='module = "benchmarks.bench.workloads.mixed"\n'
        "[[workload.params.parts]]\n"
        'module = "benchmarks.bench.workloads.e2e_transfer"\nweight = 2\n'
        "params = { users = 4, presign = 40, reference_transfers = 50 }\n"
        "[[workload.params.parts]]\n"
        'module = "benchmarks.bench.workloads.e2e_transfer"\nweight = 1\n'
        'params = { src = "chainB", dst = "chainA", users = 4, presign = 20 }',
        rate='mode = "fixed"\nrate = 20.0',
        run='duration = "2s"\nwarmup = "500ms"\ndrain = "30s"\ntx_timeout = "40s"',
        report="html = false",
    )
    doc = run(tmp_path, cfg, capsys)
    h = doc["headline"]
    assert h["sent"] == 40 and h["confirmed"] == 40 and h["failed"] == 0
    assert h["reference_per_s"] > 0 and h["p50_ms"] > 0


def test_endpoints_of_a_running_relay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "relay"
    assert main(["relay", "init", "--dir", str(d), "--json"]) == 0
    capsys.readouterr()
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "relay", "start", "--dir", str(d), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line, line
        url = line.split("serving ")[1].split()[0]
        cfg = write_config(
            tmp_path,
            "ep",
            topology=f'mode = "endpoints"\nrelay = "{url}"\nadmin_key = "relay/keys/admin.key"',
            workload='module = "benchmarks.bench.workloads.relay_ingest"\n'
            "params = { streams = 2, batch = 20, txs_per_request = 1, requests = 2 }",
            rate='mode = "closed"\nusers = 2',
            run='count = 4\ndrain = "30s"\ntx_timeout = "60s"',
            report="html = false",
        )
        doc = run(tmp_path, cfg, capsys)
        assert doc["headline"]["confirmed"] == 4 and doc["summary"]["confirmed_units"] == 80
        assert doc["phases"][0]["metrics"]["relay:relayhub_ibtps_total{outcome=new}"] == 80
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
