"""Logs and gateway metrics: one timestamped format (text or JSON lines) for every
process, levels from the config and -v/-q, the relay's bounded committed-blocks log
(on virtual time), and the gateway's lag metrics against a real topology."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from relayfix import World, node_config, notary_registry, submit_ok

from adapters.base import AdapterRegistry
from adapters.gateway.config import GatewayConfig
from adapters.gateway.runtime import Gateway, open_gateway
from appchains.evm.devchain import __main__ as devchain_main
from benchmarks.harness.topology import Topology, open_topology
from relay.crypto import Account, write_key_file
from relay.logs import TEXT_FORMAT, BlockLog, level_number, setup_logging
from relay.node import open_node
from relay.sdk.aio import AsyncRelayClient

REPO = Path(__file__).resolve().parents[1]
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) *"
    r" (?P<logger>[\w.\-]+): (?P<msg>.*)$"
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --- format and levels -----------------------------------------------------------------


def test_text_lines_parse() -> None:
    out = io.StringIO()
    setup_logging("info", "text", stream=out)
    logging.getLogger("relayhub.test").info("hello %s", "world")
    logging.getLogger("relayhub.test").debug("not shown")
    (line,) = out.getvalue().splitlines()
    m = TEXT_LINE.match(line)
    assert m is not None, line
    assert (m["logger"], m["msg"]) == ("relayhub.test", "hello world")


def test_json_lines_parse_with_fields_and_tracebacks() -> None:
    out = io.StringIO()
    setup_logging("debug", "json", stream=out)
    log = logging.getLogger("relayhub.test")
    log.debug("blocks", extra={"blocks": 3, "height": 9})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert (first["level"], first["logger"], first["msg"]) == ("DEBUG", "relayhub.test", "blocks")
    assert (first["blocks"], first["height"]) == (3, 9)
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc"]


def test_levels_from_config_and_flags() -> None:
    assert level_number("info") == logging.INFO
    assert level_number("info", verbose=1) == logging.DEBUG
    assert level_number("info", quiet=1) == logging.WARNING
    assert level_number("warning", verbose=3) == logging.DEBUG  # clamped
    assert level_number("debug", quiet=9) == logging.ERROR
    with pytest.raises(ValueError):
        level_number("loud")
    out = io.StringIO()
    setup_logging("warning", "text", verbose=0, quiet=1, stream=out)
    logging.getLogger("x").warning("dropped")
    logging.getLogger("x").error("kept")
    assert [TEXT_LINE.match(line)["msg"] for line in out.getvalue().splitlines()] == ["kept"]  # type: ignore[index]


def test_the_dev_chain_logs_in_the_same_text_format() -> None:
    # App chains import nothing of the relay: their fallback format is kept equal here.
    assert devchain_main.LOG_FORMAT == TEXT_FORMAT


def _first_stderr_line(argv: list[str], tmp_path: Path) -> str:
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line, "the process wrote nothing on stderr"
        return line.rstrip("\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_processes_log_in_one_format(tmp_path: Path) -> None:
    """A gateway (text, from its config), a dev chain run alone (text) and one run from
    its TOML file through relayhub's loader (json)."""
    write_key_file(tmp_path / "gw.key", Account.create())
    write_key_file(tmp_path / "evm.key", Account.create())
    (tmp_path / "gw.toml").write_text(
        '[gateway]\nrelay = "http://127.0.0.1:9"\nkey = "gw.key"\ndata_dir = "state"\n'
        'log_level = "info"\n\n[chain]\ntype = "evm"\nid = "chainA"\n'
        'rpc = "http://127.0.0.1:9"\nbroker = "0x0000000000000000000000000000000000001000"\n'
        'key = "evm.key"\n'
    )
    gw = [sys.executable, "-m", "adapters.gateway.main", "--config", str(tmp_path / "gw.toml")]
    m = TEXT_LINE.match(_first_stderr_line(gw, tmp_path))
    assert m is not None and m["logger"] == "relayhub.gateway"
    assert "cannot start yet" in m["msg"]

    dev = [sys.executable, "-m", "appchains.evm.devchain", "--port", "0", "--seed", "x"]
    m = TEXT_LINE.match(_first_stderr_line(dev, tmp_path))
    assert m is not None and m["logger"] == "relayhub.devchain", m

    (tmp_path / "dev.toml").write_text('[devchain]\nseed = "y"\nlog_format = "json"\n')
    dev = [
        sys.executable,
        "-m",
        "benchmarks.harness.devchain_config",
        "--config",
        str(tmp_path / "dev.toml"),
        "--port",
        "0",
    ]
    doc = json.loads(_first_stderr_line(dev, tmp_path))
    assert doc["logger"] == "relayhub.devchain" and doc["level"] == "INFO"


# --- the relay's committed-blocks log ---------------------------------------------------


def test_block_log_sums_and_waits_for_its_interval() -> None:
    b = BlockLog(1.0)
    assert b.take(0.0) is None  # nothing committed
    b.add(1, 2, 3, 1)
    b.add(2, 1, 0, 0)
    assert b.take(0.1) == {"blocks": 2, "height": 2, "txs": 3, "ibtps": 3, "routed": 1}
    b.add(3, 1, 1, 1)
    assert b.take(0.9) is None  # less than a second after the last line
    b.add(4, 1, 1, 1)
    assert b.take(1.1) == {"blocks": 2, "height": 4, "txs": 2, "ibtps": 2, "routed": 2}
    assert b.take(5.0) is None


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def lazy_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_relay_logs_committed_blocks_at_a_bounded_rate(
    tmp_path: Path,
    world: World,
    lazy_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="relayhub.relay")
    # Open timeouts: an idle block every 50 ms of virtual time, ~20 a second.
    cfg = node_config(tmp_path, world, idle_block_interval=0.05, block_log_interval=1.0)
    async with open_node(cfg, notary_registry()) as node:
        await submit_ok(node, world.setup_txs())
        await submit_ok(node, [world.ibtp_tx([world.interchain("A", "B", timeout=10_000)])])
        t0 = trio.current_time()
        await trio.sleep(5.0)
        elapsed = trio.current_time() - t0
    records = [r for r in caplog.records if r.name == "relayhub.relay"]
    blocks = sum(r.blocks for r in records)  # type: ignore[attr-defined]
    assert blocks == node.head_height > 40  # every block counted once, at close too
    # At most one line per second (plus the first, and the last at close).
    assert 3 <= len(records) <= elapsed / 1.0 + 2, len(records)
    assert all(r.getMessage().startswith("committed ") for r in records)
    assert sum(r.txs for r in records) == len(world.setup_txs()) + 1  # type: ignore[attr-defined]


# --- gateway lag metrics on the in-process topology ---------------------------------------


@asynccontextmanager
async def gateway_with_admin(topo: Topology, chain: str) -> AsyncIterator[Gateway]:
    """chain's gateway as start_gateway makes it, with its admin endpoint and one
    delivery per round (so catching up takes a block per delivery)."""
    c = topo.chains[chain]
    cfg = GatewayConfig(
        relay=topo.relay_url,
        key=Path("-"),
        data_dir=topo.workdir / f"gateway-{chain}",
        chain_type="evm",
        chain_id=chain,
        poll_interval=0.05,
        batch=1,
        admin="127.0.0.1:0",
    )
    adapter = AdapterRegistry.from_entry_points().create(c.family, dict(c.adapter_config))
    async with (
        AsyncRelayClient(topo.relay_url, account=c.gateway_key) as client,
        open_gateway(cfg, adapter, client) as gw,
    ):
        yield gw


def gauges(text: str, chain: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(rf'relayhub_gateway_(\w+)\{{chain="{chain}"\}} (\S+)', line)
        if m:
            out[m[1]] = float(m[2])
    return out


async def test_gateway_lag_metrics(tmp_path: Path) -> None:
    with trio.fail_after(180):
        async with open_topology(
            tmp_path, ("chainA", "chainB"), without_gateway=("chainB",)
        ) as topo:
            assert topo.node is not None
            await topo.transfer_many("chainA", "chainB", [1] * 6)
            while topo.node.outbound("chainB", 1, 100)["last_seq"] < 6:
                await trio.sleep(0.05)
            routed = topo.node.outbound("chainB", 1, 100)["last_seq"]
            async with gateway_with_admin(topo, "chainB") as gw, httpx.AsyncClient() as http:
                assert gw.admin_url is not None
                samples = []
                while True:
                    m = gauges((await http.get(f"{gw.admin_url}/metrics")).text, "chainB")
                    samples.append(m)
                    caught_up = m.get("stream_seq") == routed and m.get("relay_lag") == 0
                    if caught_up and m.get("chain_lag") == 0:
                        break
                    await trio.sleep(0.01)
                health = (await http.get(f"{gw.admin_url}/healthz")).json()
                head = int(await topo.rpc("chainB").call("eth_blockNumber"), 16)
    for m in samples:
        if "relay_lag" in m:
            assert m["relay_lag"] == m["relay_seq"] - m["stream_seq"] >= 0, m
            assert m["relay_seq"] <= routed
        if "chain_lag" in m:
            assert m["chain_lag"] == m["chain_head"] - m["checkpoint"] >= 0, m
    # It was behind the relay while catching up, one delivery (a block) at a time...
    assert max(m.get("relay_lag", 0) for m in samples) >= 1, samples
    # ... and caught up: everything the relay routed to chainB was delivered.
    final = samples[-1]
    assert final["relay_seq"] == routed == final["stream_seq"] == final["delivered_total"]
    assert 0 < final["chain_head"] <= head
    assert health["relay_lag"] == 0 and health["chain_lag"] == 0


def test_gateway_doc_lists_every_metric() -> None:
    from adapters.gateway.admin import METRICS

    doc = (REPO / "docs" / "gateway.md").read_text()
    for name, (kind, description) in METRICS.items():
        assert f"| `{name}{{chain}}` | {kind} | {description} |" in doc, name
