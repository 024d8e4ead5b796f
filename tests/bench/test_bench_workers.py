"""Load-generator workers: the TCP protocol on loopback, child processes, and a
``relayhub bench worker`` process as a remote worker; results merge exactly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio
from benchfix import write_config

from benchmarks.bench.cli import command
from benchmarks.bench.runner import Shape
from benchmarks.bench.stats import merged
from benchmarks.bench.worker import RemoteWorkers, WorkerError, serve_worker, shape_dict

SYNTHETIC = "benchmarks.bench.workloads.synthetic"


async def test_remote_workers_split_the_schedule_and_merge() -> None:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            addrs = []
            for _ in range(2):
                host, port = await nursery.start(serve_worker, "127.0.0.1", 0)
                assert host == "127.0.0.1"
                addrs.append(f"{host}:{port}")
            w = await RemoteWorkers.connect(addrs)
            setup = {"module": SYNTHETIC, "params": {"latency": 0.001}, "endpoints": {}}
            await w.setup({**setup, "shared": {}, "quick": False})
            shape = shape_dict(Shape(duration=1.0, drain=1.0))
            recs = await w.phase(
                {"rate": {"mode": "fixed", "rate": 200}, "shape": shape, "start_wall": time.time()}
            )
            assert [r.sent for r in recs] == [100, 100]
            m = merged(recs)
            assert m.sent == 200 and m.confirmed == 200 and m.latency.count == 200
            assert [row["offered"] for row in m.timeline()] == [200]
            closed = await w.phase(
                {"rate": {"mode": "closed", "users": 4}, "shape": shape, "start_wall": time.time()}
            )
            assert all(r.confirmed > 0 for r in closed)
            await w.bye()
            await w.aclose()

            bad = await RemoteWorkers.connect(addrs[:1])
            with pytest.raises(WorkerError, match="cannot be imported"):
                await bad.setup({"module": "no.such.workload", "params": {}, "endpoints": {}})
            await bad.aclose()
            nursery.cancel_scope.cancel()


def test_process_and_remote_workers_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = subprocess.Popen(
        [sys.executable, "-m", "relay.cli", "bench", "worker", "--listen", "127.0.0.1:0", "--once"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert remote.stdout is not None
        line = remote.stdout.readline()
        assert line.startswith("LISTENING 127.0.0.1:"), line
        addr = line.split()[1]
        cfg = write_config(
            tmp_path,
            "multi",
            workers=f'processes = 1\nremote = ["{addr}"]',
            report='html = false\nsample_interval = "200ms"',
        )
        assert command(["run", str(cfg), "--out", str(tmp_path / "o"), "--no-live"]) == 0
        head = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert head["sent"] == 100 and head["confirmed"] == 100
        assert head["send_tps"] == 100.0 and head["confirmed_tps"] > 50  # windows merged right
        doc = json.loads((tmp_path / "o" / "multi.json").read_text())
        assert doc["workers"] == 2
        assert {"loadgen-0", "loadgen-1"} <= set(doc["resources"]["summary"])
        assert remote.wait(timeout=30) == 0  # --once: it exits after the session
    finally:
        if remote.poll() is None:
            remote.kill()
            remote.wait()
