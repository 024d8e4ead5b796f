"""The topology as separate OS processes, so that any part can be ``kill -9``-ed.

Same wiring as :mod:`benchmarks.harness.topology`, but the relay (``relayhub relay start``),
each dev chain (``python -m appchains.evm.devchain``, ``python -m appchains.fabric``
for the chains ``families`` names ``fabric``, ``python -m appchains.fisco`` for
``fisco`` ones) and each gateway
(``python -m adapters.gateway.main``) run as their own process with their own data
directory, logging to ``workdir/logs``. Used by the crash tests and by the
end-to-end benchmark (where separate processes use both cores).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import trio

from appchains.evm.devchain.config import (
    DEFAULT_ASSET_TRANSFER,
    DEFAULT_BROKER,
    DEFAULT_DATA_SWAP,
    DevchainConfig,
)
from appchains.evm.devchain.crypto import address_hex, address_of_key
from appchains.evm.devchain.genesis import make_setup
from appchains.evm.devchain.harness import adapter_config, registration
from appchains.fabric.harness import describe_material
from appchains.fisco.chain import make_setup as make_fisco_setup
from appchains.fisco.harness import describe_chain as describe_fisco_chain
from appchains.fisco.harness import dev_config as fisco_dev_config
from benchmarks.harness.topology import (
    HUB_ID,
    ChainSetup,
    Topology,
    derive_key,
    pair_asset_transfers,
    register_chain,
)
from relay.crypto import Account, read_key_file, write_key_file

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.popen = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        out.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(timeout=15)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class ProcTopology:
    def __init__(
        self,
        workdir: Path,
        chains: Sequence[str] = ("chainA", "chainB"),
        *,
        seed: str = "relayhub-procs",
        block_interval: float = 0.05,
        accounts: int = 10,
        timeout_blocks: int = 400,
        registered: Sequence[str] | None = None,
        gateway_options: dict[str, str | int] | None = None,
        chain_options: dict[str, dict[str, str | int]] | None = None,
        families: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.names = list(chains)
        #: Each chain's family (``evm`` unless named): ``fabric`` chains run
        #: ``python -m appchains.fabric``.
        self.families = {n: (families or {}).get(n, "evm") for n in self.names}
        #: The gRPC ports of each Fabric chain's peers (kept across restarts).
        self.fabric_ports: dict[str, list[int]] = {}
        #: The JSON-RPC port of each FISCO chain (kept across restarts).
        self.fisco_ports: dict[str, int] = {}
        #: Chains registered on the relay (with a gateway) at start; the others run but
        #: join later with :meth:`register_late`.
        self.registered = list(chains if registered is None else registered)
        #: Extra ``[gateway]`` keys for every gateway (``max_attempts``, ``admin``...).
        self.gateway_options = dict(gateway_options or {})
        #: Extra ``[chain]`` keys of one chain's gateway (e.g. ``{"chainB": {"gas": ...}}``).
        self.chain_options = {k: dict(v) for k, v in (chain_options or {}).items()}
        #: Admin endpoint URL of each gateway, when ``admin`` ports are given out.
        self.gateway_admin: dict[str, str] = {}
        self.seed = seed
        self.block_interval = block_interval
        self.accounts = accounts  # funded dev accounts per chain; the last is the gateway's
        self.timeout_blocks = timeout_blocks  # the relay's default_timeout_blocks
        self.procs: dict[str, Proc] = {}
        self.relay_port = free_port()
        self.relay_url = f"http://127.0.0.1:{self.relay_port}"
        self.topo: Topology | None = None

    # --- processes ------------------------------------------------------------

    def _relay_proc(self) -> Proc:
        d = self.workdir / "relay"
        return Proc(
            "relay",
            [
                PY,
                "-m",
                "relay.cli",
                "relay",
                "start",
                "--dir",
                str(d),
                "--port",
                str(self.relay_port),
            ],
            self.workdir / "logs" / "relay.log",
        )

    def _chain_proc(self, name: str, n: int, port: int, relay_validator: str) -> Proc:
        argv = [
            PY,
            "-m",
            "appchains.evm.devchain",
            "--port",
            str(port),
            "--data-dir",
            str(self.workdir / name),
            "--chain-id",
            str(1000 + n),
            "--chain-name",
            name,
            "--hub-id",
            HUB_ID,
            "--seed",
            f"{self.seed}-{name}",
            "--block-interval",
            str(self.block_interval),
            "--empty-block-interval",
            "1",
            "--relay-validators",
            relay_validator,
            "--relay-threshold",
            "1",
            "--accounts",
            str(self.accounts),
            "--log-level",
            "WARNING",
        ]
        return Proc(name, argv, self.workdir / "logs" / f"{name}.log")

    def _fabric_proc(self, name: str, ports: list[int], relay_validator: str) -> Proc:
        argv = [PY, "-m", "appchains.fabric", "--data-dir", str(self.workdir / name)]
        argv += ["--seed", f"{self.seed}-{name}", "--chain-name", name, "--hub-id", HUB_ID]
        argv += ["--relay-validators", relay_validator, "--relay-threshold", "1"]
        argv += ["--batch-timeout", f"{int(self.block_interval * 1000)}ms"]
        argv += ["--ports", ",".join(map(str, ports)), "--log-level", "warning"]
        return Proc(name, argv, self.workdir / "logs" / f"{name}.log")

    def _fisco_proc(self, name: str, port: int, relay_validator: str) -> Proc:
        argv = [PY, "-m", "appchains.fisco", "--data-dir", str(self.workdir / name)]
        argv += ["--seed", f"{self.seed}-{name}", "--chain-name", name, "--hub-id", HUB_ID]
        argv += ["--relay-validators", relay_validator, "--relay-threshold", "1"]
        argv += ["--block-interval", f"{int(self.block_interval * 1000)}ms"]
        argv += ["--port", str(port), "--log-level", "warning"]
        return Proc(name, argv, self.workdir / "logs" / f"{name}.log")

    async def _start_fisco(self, name: str, validator: str) -> ChainSetup:
        port = self.fisco_ports.setdefault(name, free_port())
        self.procs[name] = self._fisco_proc(name, port, validator)
        self.procs[name].start()
        url = f"http://127.0.0.1:{port}"
        await wait_http(url)
        config = fisco_dev_config(
            name=name,
            seed=self.seed,
            hub_id=HUB_ID,
            relay_validators=(validator,),
            relay_threshold=1,
            block_interval=self.block_interval,
            data_dir=None,
            port=port,
        )
        dev = describe_fisco_chain(name, url, make_fisco_setup(config, config.seed or ""))
        return ChainSetup.from_dev_chain(
            dev, Account.from_key(derive_key(self.seed, f"gateway-{name}"))
        )

    def _gateway_chain_table(self, c: ChainSetup, d: Path) -> str:
        """The gateway file's ``[chain]`` table for chain ``c``."""
        if c.family == "fisco":
            table = {k: v for k, v in c.adapter_config.items() if k != "group_id"}
            return (
                "[chain]\n"
                + _toml_lines({k: str(v) for k, v in table.items()})
                + f'group_id = {int(c.adapter_config["group_id"])}\nreceipt_timeout = "5s"\n'
            )
        if c.family == "fabric":
            table = dict(c.adapter_config)
            peers = ", ".join(f'"{p}"' for p in table.pop("peers"))
            return (
                "[chain]\n"
                + _toml_lines({k: str(v) for k, v in table.items()})
                + f'peers = [{peers}]\ncommit_timeout = "10s"\n'
            )
        write_key_file(d / "evm.key", Account.from_key(c.adapter_config["key"]))
        return (
            "[chain]\n"
            f'type = "evm"\nid = "{c.name}"\nrpc = "{c.rpc_url}"\nbroker = "{c.broker}"\n'
            f'key = "{d / "evm.key"}"\nseal_mode = "seal"\nreceipt_timeout = "5s"\n'
        )

    def _gateway_proc(self, c: ChainSetup) -> Proc:
        d = self.workdir / f"gateway-{c.name}"
        d.mkdir(parents=True, exist_ok=True)
        write_key_file(d / "relay.key", c.gateway_key)
        options = dict(self.gateway_options)
        if options.get("admin") == "auto":
            options["admin"] = f"127.0.0.1:{free_port()}"
        if "admin" in options:
            self.gateway_admin[c.name] = f"http://{options['admin']}"
        extra = _toml_lines(options)
        chain_extra = _toml_lines(self.chain_options.get(c.name, {}))
        (d / "gateway.toml").write_text(
            "[gateway]\n"
            f'relay = "{self.relay_url}"\nkey = "relay.key"\ndata_dir = "state"\n'
            f'poll_interval = "50ms"\n{extra}\n'
            f"{self._gateway_chain_table(c, d)}{chain_extra}"
        )
        return Proc(
            f"gateway-{c.name}",
            [PY, "-m", "adapters.gateway.main", "--config", str(d / "gateway.toml"), "-v"],
            self.workdir / "logs" / f"gateway-{c.name}.log",
        )

    async def start(self) -> Topology:
        rdir = self.workdir / "relay"
        subprocess.run(
            [
                PY,
                "-m",
                "relay.cli",
                "relay",
                "init",
                "--dir",
                str(rdir),
                "--hub-id",
                HUB_ID,
                "--default-timeout-blocks",
                str(self.timeout_blocks),
            ],
            check=True,
            capture_output=True,
        )
        genesis = json.loads((rdir / "genesis.json").read_text())
        validator = genesis["validators"][0]
        admin = read_key_file(rdir / "keys" / "admin.key")
        self.procs["relay"] = self._relay_proc()
        self.procs["relay"].start()
        await wait_http(f"{self.relay_url}/healthz")
        setups: dict[str, ChainSetup] = {}
        for n, name in enumerate(self.names):
            if self.families[name] == "fabric":
                setups[name] = await self._start_fabric(name, validator)
                continue
            if self.families[name] == "fisco":
                setups[name] = await self._start_fisco(name, validator)
                continue
            port = free_port()
            self.procs[name] = self._chain_proc(name, n, port, validator)
            self.procs[name].start()
            url = f"http://127.0.0.1:{port}"
            await wait_http(url, rpc=True, chain_id=1000 + n)
            setup = make_setup(
                DevchainConfig(
                    chain_id=1000 + n,
                    chain_name=name,
                    hub_id=HUB_ID,
                    seed=f"{self.seed}-{name}",
                    relay_validators=(validator,),
                    accounts=self.accounts,
                ),
                f"{self.seed}-{name}",
            )
            keys = ["0x" + k.secret.hex() for k in setup.account_keys]
            validators = [address_hex(address_of_key(k)) for k in setup.validator_keys]
            setups[name] = ChainSetup(
                name=name,
                family="evm",
                rpc_url=url,
                registration=registration(
                    1000 + n, validators, setup.config.threshold, DEFAULT_BROKER
                ),
                adapter_config=adapter_config(name, url, DEFAULT_BROKER, keys[-1]),
                services={
                    "asset": DEFAULT_ASSET_TRANSFER.lower(),
                    "data_swap": DEFAULT_DATA_SWAP.lower(),
                },
                gateway_key=Account.from_key(derive_key(self.seed, f"gateway-{name}")),
                user_keys=keys[:-1],
            )
        self.topo = Topology(self.workdir, self.relay_url, admin, setups)
        for name in self.registered:
            c = setups[name]
            await register_chain(self.topo, c, [o for o in setups.values() if o is not c])
        await pair_asset_transfers(self.topo)
        for name in self.registered:
            self._start_gateway(setups[name])
        return self.topo

    async def _start_fabric(self, name: str, validator: str) -> ChainSetup:
        ports = self.fabric_ports.setdefault(name, [free_port(), free_port()])
        self.procs[name] = self._fabric_proc(name, ports, validator)
        self.procs[name].start()
        await wait_tcp([f"127.0.0.1:{p}" for p in ports])
        # The chain writes its crypto material once its ports are bound (the material
        # names them), network.json last.
        await wait_file(self.workdir / name / "crypto" / "network.json")
        dev = describe_material(name, self.workdir / name)
        return ChainSetup.from_dev_chain(
            dev, Account.from_key(derive_key(self.seed, f"gateway-{name}"))
        )

    def _start_gateway(self, c: ChainSetup) -> None:
        self.procs[f"gateway-{c.name}"] = self._gateway_proc(c)
        self.procs[f"gateway-{c.name}"].start()

    async def register_late(self, name: str) -> None:
        """Register a chain that has been running unregistered, and start its gateway
        (which reads the chain's relay queue from the start)."""
        assert self.topo is not None and name not in self.registered
        c = self.topo.chains[name]
        await register_chain(self.topo, c, [o for o in self.topo.chains.values() if o is not c])
        self.registered.append(name)
        self._start_gateway(c)

    def kill(self, name: str) -> None:
        """``kill -9`` one process."""
        self.procs[name].kill(signal.SIGKILL)

    async def restart(self, name: str) -> None:
        p = self.procs[name]
        p.kill(signal.SIGKILL)
        p.start()
        if name == "relay":
            await wait_http(f"{self.relay_url}/healthz")
        elif name in self.fabric_ports:
            await wait_tcp([f"127.0.0.1:{p}" for p in self.fabric_ports[name]])
        elif name in self.fisco_ports:
            await wait_http(f"http://127.0.0.1:{self.fisco_ports[name]}")
        elif name in self.names:
            assert self.topo is not None
            await wait_http(self.topo.chains[name].rpc_url, rpc=True)

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.kill(signal.SIGTERM) if p.alive else None
        for p in self.procs.values():
            p.kill(signal.SIGKILL)

    def logs(self, name: str, tail: int = 40) -> str:
        lines = self.procs[name].log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:])


def _toml_lines(options: dict[str, str | int]) -> str:
    return "".join(
        f"{k} = {v}\n" if isinstance(v, int) else f'{k} = "{v}"\n' for k, v in options.items()
    )


async def wait_http(
    url: str, *, rpc: bool = False, chain_id: int | None = None, timeout: float = 30.0
) -> None:
    """Wait until ``url`` answers (a JSON-RPC ``eth_chainId`` when ``rpc``). With
    ``chain_id``, the answer must be that chain: another process on the port (a
    port race) is an error, not a success."""
    with trio.fail_after(timeout):
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                try:
                    if rpc:
                        r = await client.post(
                            url,
                            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                        )
                    else:
                        r = await client.get(url)
                    if r.status_code == 200:
                        if chain_id is not None and int(r.json()["result"], 16) != chain_id:
                            raise RuntimeError(f"{url} is another chain: a port collision")
                        return
                except httpx.HTTPError:
                    pass
                await trio.sleep(0.1)


async def wait_file(path: Path, timeout: float = 30.0) -> None:
    """Wait until ``path`` exists (written whole: the writers rename it into place)."""
    with trio.fail_after(timeout):
        while not path.exists():
            await trio.sleep(0.05)


async def wait_tcp(endpoints: Sequence[str], timeout: float = 30.0) -> None:
    """Wait until every ``host:port`` accepts a connection (a Fabric peer's gRPC port
    opens once its ledger is open)."""
    with trio.fail_after(timeout):
        for endpoint in endpoints:
            host, _, port = endpoint.rpartition(":")
            while True:
                try:
                    stream = await trio.open_tcp_stream(host, int(port))
                except OSError:
                    await trio.sleep(0.1)
                    continue
                await stream.aclose()
                break


@asynccontextmanager
async def open_proc_topology(workdir: Path, **kw: object) -> AsyncIterator[ProcTopology]:
    pt = ProcTopology(workdir, **kw)  # type: ignore[arg-type]
    try:
        await pt.start()
        yield pt
    finally:
        if pt.topo is not None:
            await pt.topo.aclose()
        pt.stop()
