"""User errors end in one ``error [code]: message`` line on stderr and exit 2, never a
traceback (docs/operations.md, "CLI"); a gateway checks its chain against the relay
before it runs (docs/gateway.md, "Preflight"). Every case runs ``relayhub`` as a
process, as an operator would."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RELAYHUB = str(Path(sys.executable).parent / "relayhub")
BROKER = "0x0000000000000000000000000000000000001000"
TIMEOUT = 90.0
ERROR_LINE = re.compile(r"^error \[(\d{4})\]: \S.*\n$")


def relayhub(*argv: str, cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RELAYHUB, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def assert_user_error(done: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """Exit 2; stderr is exactly one ``error [code]: message`` line naming the fragments."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    m = ERROR_LINE.match(done.stderr)
    assert m, repr(done.stderr)
    assert int(m.group(1)) == code, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, (fragment, done.stderr)
    return done.stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


# --- no tracebacks ---------------------------------------------------------------------


def test_relay_on_a_busy_port(tmp_path: Path, busy_port: int) -> None:
    relayhub("relay", "init", "--dir", "hub0", cwd=tmp_path).check_returncode()
    done = relayhub("relay", "start", "--dir", "hub0", "--port", str(busy_port), cwd=tmp_path)
    assert_user_error(done, 6006, f"127.0.0.1:{busy_port}", "in use", "--port")


def test_devchain_on_a_busy_port(tmp_path: Path, busy_port: int) -> None:
    done = relayhub("devchain", "start", "--port", str(busy_port), cwd=tmp_path)
    assert_user_error(done, 6006, f"127.0.0.1:{busy_port}", "in use")


def test_a_relay_url_without_a_scheme(tmp_path: Path) -> None:
    done = relayhub("relay", "status", "--relay", "127.0.0.1:8710", cwd=tmp_path)
    assert_user_error(done, 6006, "'127.0.0.1:8710'", "http://127.0.0.1:8710")


def test_a_gateway_relay_url_without_a_scheme(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text(
        '[gateway]\nrelay = "127.0.0.1:8710"\nkey = "k"\ndata_dir = "d"\n'
        '[chain]\ntype = "evm"\nid = "chainA"\nrpc = "http://127.0.0.1:1"\n'
        f'broker = "{BROKER}"\nkey = "k"\n'
    )
    done = relayhub("gateway", "start", "--config", str(cfg), cwd=tmp_path)
    assert_user_error(done, 6006, "gateway.relay", "'127.0.0.1:8710'", "http://")


@pytest.mark.parametrize(
    ("line", "value", "fragments"),
    [
        ("port = 8710", 'port = "eighty"', ("relay.port", "'eighty'", "integer")),
        ('batch_time = "30ms"', "batch_time = 30", ("relay.batch_time", "got 30", "unit")),
        (
            'idle_block_interval = "1s"',
            'idle_block_interval = "1"',
            ("relay.idle_block_interval", "unit"),
        ),
    ],
)
def test_relay_toml_values_are_named(
    tmp_path: Path, line: str, value: str, fragments: tuple[str, ...]
) -> None:
    relayhub("relay", "init", "--dir", "hub0", cwd=tmp_path).check_returncode()
    toml = tmp_path / "hub0" / "relay.toml"
    assert line in toml.read_text()
    toml.write_text(toml.read_text().replace(line, value))
    done = relayhub("relay", "start", "--dir", "hub0", cwd=tmp_path)
    assert_user_error(done, 6006, "relay.toml", *fragments)


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('chain_id = "x"', "devchain.chain_id"),
        ("hub_id = 7", "devchain.hub_id"),
        ("port = 1.5", "devchain.port"),
    ],
)
def test_devchain_config_values_are_named(tmp_path: Path, toml: str, fragment: str) -> None:
    (tmp_path / "dev.toml").write_text("[devchain]\n" + toml + "\n")
    done = relayhub("devchain", "start", "--config", "dev.toml", cwd=tmp_path)
    assert_user_error(done, 6006, fragment)


def test_devchain_relay_dir_without_genesis(tmp_path: Path) -> None:
    done = relayhub("devchain", "start", "--relay-dir", "nowhere", "--port", "0", cwd=tmp_path)
    assert_user_error(done, 6006, "nowhere", "relayhub relay init")


def test_ctrl_c_while_a_gateway_waits_for_its_relay(tmp_path: Path) -> None:
    relayhub("keys", "new", "--out", "gw.key", cwd=tmp_path).check_returncode()
    relayhub("keys", "new", "--out", "evm.key", cwd=tmp_path).check_returncode()
    (tmp_path / "gw.toml").write_text(
        '[gateway]\nrelay = "http://127.0.0.1:1"\nkey = "gw.key"\ndata_dir = "gw"\n'
        '[chain]\ntype = "evm"\nid = "chainA"\nrpc = "http://127.0.0.1:1"\n'
        f'broker = "{BROKER}"\nkey = "evm.key"\n'
    )
    proc = subprocess.Popen(
        [RELAYHUB, "gateway", "start", "--config", "gw.toml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)  # it is retrying by now (a warning a try)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in err and "cannot start yet" in err
    assert out.splitlines()[-1] == "relayhub gateway: chainA stopped"


# --- gateway preflight -----------------------------------------------------------------


class Running:
    """A ``relayhub`` server process; ``first`` is its first stdout line."""

    def __init__(self, *argv: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [RELAYHUB, *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.monotonic() + 60
        while not self.lines and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        assert self.lines, f"{argv} did not start (exit {self.proc.poll()})"
        self.first = self.lines[0]

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class Hub:
    dir: Path
    relay: str
    good_rpc: str  # a dev chain made for this hub (--relay-dir), registered as chainA
    foreign_rpc: str  # a dev chain of another hub ID and relay validators

    def gateway(self, name: str, chain: str, rpc: str, key: str, evm_key: str) -> Path:
        path = self.dir / f"{name}.toml"
        path.write_text(
            f'[gateway]\nrelay = "{self.relay}"\nkey = "{key}"\ndata_dir = "{name}"\n'
            f'[chain]\ntype = "evm"\nid = "{chain}"\nrpc = "{rpc}"\nbroker = "{BROKER}"\n'
            f'key = "{evm_key}"\n'
        )
        return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    d = tmp_path_factory.mktemp("preflight")
    relayhub("relay", "init", "--dir", "hub0", cwd=d).check_returncode()
    servers = []
    try:
        relay = Running("relay", "start", "--dir", "hub0", "--port", "0", cwd=d)
        servers.append(relay)
        url = re.search(r"serving (http://\S+)", relay.first)
        assert url, relay.first
        good = Running("devchain", "start", "--relay-dir", "hub0", "--chain-name", "chainA",
                       "--port", "0", "--seed", "good", "--keys-dir", "good-keys", "--json",
                       "--log-level", "WARNING", cwd=d)  # fmt: skip
        servers.append(good)
        foreign = Running("devchain", "start", "--hub-id", "other", "--chain-name", "chainA",
                          "--port", "0", "--seed", "foreign", "--json", "--log-level",
                          "WARNING", cwd=d)  # fmt: skip
        servers.append(foreign)
        good_rpc, foreign_rpc = json.loads(good.first)["url"], json.loads(foreign.first)["url"]
        env_relay = ("--relay", url.group(1))
        for key in ("gw.key", "stranger.key", "unfunded.key"):
            relayhub("keys", "new", "--out", key, cwd=d).check_returncode()
        root = relayhub("appchain", "trust-root", "--rpc", good_rpc, cwd=d)
        assert root.returncode == 0, root.stderr
        (d / "root.json").write_text(root.stdout)
        for chain in ("chainA", "chainP"):
            done = relayhub("appchain", "register", *env_relay, "--key", "gw.key", "--id", chain,
                            "--family", "evm", "--trust-root", "@root.json", "--broker", BROKER,
                            cwd=d)  # fmt: skip
            assert done.returncode == 0, done.stderr
        done = relayhub("appchain", "approve", *env_relay, "--key", "hub0/keys/admin.key",
                        "--id", "chainA", cwd=d)  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield Hub(d, url.group(1), good_rpc, foreign_rpc)
    finally:
        for s in reversed(servers):
            s.stop()


@pytest.mark.parametrize(
    ("chain", "rpc", "key", "evm_key", "fragments"),
    [
        ("chainZ", "good", "gw.key", "good-keys/account-1.key", ["chainZ is not registered"]),
        ("chainP", "good", "gw.key", "good-keys/account-1.key", ["chainP is PENDING", "approve"]),
        ("chainA", "good", "stranger.key", "good-keys/account-1.key", ["is not a gateway"]),
        ("chainA", "good", "gw.key", "unfunded.key", ["has no funds"]),
        (
            "chainA",
            "foreign",
            "gw.key",
            "good-keys/account-1.key",
            ["not deployed for hub 'hub0'", "relay proofs against"],
        ),
    ],
)
def test_gateway_preflight_refuses_a_misconfigured_gateway(
    hub: Hub, chain: str, rpc: str, key: str, evm_key: str, fragments: list[str]
) -> None:
    url = hub.good_rpc if rpc == "good" else hub.foreign_rpc
    name = f"gw-{chain}-{rpc}-{Path(key).stem}-{Path(evm_key).stem}"
    cfg = hub.gateway(name, chain, url, key, evm_key)
    done = relayhub("gateway", "start", "--config", str(cfg), cwd=hub.dir)
    assert done.stdout == ""  # never "running"
    assert_user_error(done, 6006, *fragments)


def test_a_gateway_that_passes_preflight_says_it_runs(hub: Hub) -> None:
    cfg = hub.gateway("gw-ok", "chainA", hub.good_rpc, "gw.key", "good-keys/account-1.key")
    gw = Running("gateway", "start", "--config", str(cfg), cwd=hub.dir)
    try:
        assert gw.first.startswith("relayhub gateway: chainA (evm) running: relay ")
    finally:
        gw.stop()
    assert gw.proc.returncode == 0
    assert gw.lines[-1] == "relayhub gateway: chainA stopped\n"
