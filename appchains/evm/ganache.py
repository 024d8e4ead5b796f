"""Run ganache 7 (the npm package pinned in package-lock.json) as a real EVM peer for tests.

* :func:`open_ganache` — async (trio) context manager: starts ganache on
  127.0.0.1 at a free port with deterministic funded accounts, waits until its
  JSON-RPC answers, yields the URL and stops the process on exit.
* :func:`launch_ganache` — the same as a plain context manager (subprocess and
  blocking polling), for session-wide pytest fixtures that outlive one trio run.

Accounts are :data:`DEFAULT_KEYS` (keccak of fixed seeds) unless given; each starts
with :data:`DEFAULT_BALANCE` wei. Ganache listens on loopback only.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import trio
from eth_hash.auto import keccak

REPO_ROOT = Path(__file__).resolve().parents[2]
GANACHE_BIN = REPO_ROOT / "node_modules" / ".bin" / "ganache"
HOST = "127.0.0.1"

#: Ten deterministic private keys: keccak256("relayhub.ganache.account.<i>").
DEFAULT_KEYS: tuple[bytes, ...] = tuple(
    keccak(f"relayhub.ganache.account.{i}".encode()) for i in range(10)
)
DEFAULT_BALANCE = 10**24  # one million ether, in wei
DEFAULT_CHAIN_ID = 1337


class GanacheError(RuntimeError):
    pass


def ganache_available(binary: Path = GANACHE_BIN) -> bool:
    """Whether the pinned ganache is installed (``npm ci``) and Node.js is on PATH."""
    return binary.exists() and shutil.which("node") is not None


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def ganache_command(
    port: int,
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    keys: Sequence[bytes] = DEFAULT_KEYS,
    balance: int = DEFAULT_BALANCE,
    binary: Path = GANACHE_BIN,
    extra_args: Sequence[str] = (),
) -> list[str]:
    cmd = [
        str(binary),
        "--server.host",
        HOST,
        "--server.port",
        str(port),
        "--server.ws",
        "false",
        "--chain.chainId",
        str(chain_id),
        "--miner.instamine",
        "eager",
        "--logging.quiet",
    ]
    for key in keys:
        if len(key) != 32:
            raise ValueError("ganache account keys are 32 bytes")
        cmd += ["--wallet.accounts", f"0x{key.hex()},{balance}"]
    cmd += list(extra_args)
    return cmd


def _rpc_request() -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}


def _answers(response: httpx.Response, chain_id: int) -> bool:
    try:
        return int(response.json()["result"], 16) == chain_id
    except (ValueError, KeyError, TypeError):
        return False


def _log_tail(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]


@contextlib.asynccontextmanager
async def open_ganache(
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    keys: Sequence[bytes] = DEFAULT_KEYS,
    balance: int = DEFAULT_BALANCE,
    startup_timeout: float = 30.0,
    binary: Path = GANACHE_BIN,
    extra_args: Sequence[str] = (),
) -> AsyncIterator[str]:
    """Start ganache on loopback; yield its JSON-RPC URL; stop it on exit."""
    if not ganache_available(binary):
        raise GanacheError(f"{binary} is missing or node is not on PATH: run `npm ci`")
    last_error = ""
    for _attempt in range(3):  # another process may take the port between probe and bind
        port = free_port()
        url = f"http://{HOST}:{port}"
        cmd = ganache_command(
            port,
            chain_id=chain_id,
            keys=keys,
            balance=balance,
            binary=binary,
            extra_args=extra_args,
        )
        with tempfile.TemporaryFile() as log:
            process = await trio.lowlevel.open_process(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                ready = False
                async with httpx.AsyncClient(timeout=2.0) as client:
                    with trio.move_on_after(startup_timeout):
                        while process.returncode is None:
                            with contextlib.suppress(httpx.HTTPError):
                                response = await client.post(url, json=_rpc_request())
                                if _answers(response, chain_id):
                                    ready = True
                                    break
                            await trio.sleep(0.05)
                if ready:
                    yield url
                    return
                last_error = _log_tail(log)
                if process.returncode is None:
                    raise GanacheError(
                        f"ganache did not answer within {startup_timeout}s:\n{last_error}"
                    )
            finally:
                with trio.CancelScope(shield=True):
                    await _stop_async(process)
    raise GanacheError(f"ganache failed to start:\n{last_error}")


async def _stop_async(process: trio.Process) -> None:
    if process.returncode is None:
        process.terminate()
        with trio.move_on_after(10):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


class GanacheProcess:
    """A running ganache started by :func:`launch_ganache`."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, chain_id: int) -> None:
        self.process = process
        self.url = url
        self.chain_id = chain_id

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def launch_ganache(
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    keys: Sequence[bytes] = DEFAULT_KEYS,
    balance: int = DEFAULT_BALANCE,
    startup_timeout: float = 30.0,
    binary: Path = GANACHE_BIN,
    extra_args: Sequence[str] = (),
) -> Iterator[GanacheProcess]:
    """Blocking twin of :func:`open_ganache`; yields a :class:`GanacheProcess`."""
    if not ganache_available(binary):
        raise GanacheError(f"{binary} is missing or node is not on PATH: run `npm ci`")
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        url = f"http://{HOST}:{port}"
        cmd = ganache_command(
            port,
            chain_id=chain_id,
            keys=keys,
            balance=balance,
            binary=binary,
            extra_args=extra_args,
        )
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
            node = GanacheProcess(process, url, chain_id)
            try:
                deadline = time.monotonic() + startup_timeout
                ready = False
                with httpx.Client(timeout=2.0) as client:
                    while process.poll() is None and time.monotonic() < deadline:
                        with contextlib.suppress(httpx.HTTPError):
                            if _answers(client.post(url, json=_rpc_request()), chain_id):
                                ready = True
                                break
                        time.sleep(0.05)
                if ready:
                    yield node
                    return
                last_error = _log_tail(log)
                if process.poll() is None:
                    raise GanacheError(
                        f"ganache did not answer within {startup_timeout}s:\n{last_error}"
                    )
            finally:
                node.stop()
    raise GanacheError(f"ganache failed to start:\n{last_error}")
