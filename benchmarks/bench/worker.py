"""Load-generator workers: in this process, in child processes, or on other hosts.

Every worker runs the same session: *setup* (import the workload, ``before_run``),
any number of *phases* (one load loop each, its share of the schedule or of the
virtual users, from a start time the coordinator fixes), then *bye*
(``after_run``). A phase's result is its :class:`~benchmarks.bench.stats.Recorder`
as plain data (HDR histograms encoded), which the coordinator merges exactly.

Remote protocol (``relayhub bench worker --listen HOST:PORT``): TCP, one session
per connection, each message a msgpack map behind a 4-byte big-endian length.

=============  =========================================================  ==========
coordinator    fields                                                      worker
=============  =========================================================  ==========
``setup``      module, params, endpoints, shared, worker, workers, quick   ``ready``
``phase``      rate (mode + numbers), shape (Shape's fields), start_wall    ``result``
``bye``                                                                    ``bye``
=============  =========================================================  ==========

A worker answers a message it cannot serve with ``{"type": "error", "message"}``.
``start_wall`` is a Unix time (``time.time()``): workers on other hosts need
synchronised clocks (NTP), as any distributed load generator does. Child processes
on this host are workers too: :class:`ProcessWorkers` starts
``python -m benchmarks.bench.worker --listen 127.0.0.1:0 --once`` and talks the
same protocol to them over loopback. The listener should bind loopback or a
private network: it runs the workload module a coordinator names.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import msgpack
import trio

from benchmarks.bench.rate import FixedLoad, FixedRate, LinearRamp
from benchmarks.bench.runner import Shape, run_closed, run_open
from benchmarks.bench.stats import Recorder
from benchmarks.bench.workload import BenchContext, Workload, load_workload

PY = sys.executable
MAX_FRAME = 256 * 1024 * 1024
_LEN = struct.Struct(">I")


class WorkerError(Exception):
    """A worker refused a message or went away."""


# --- framing -------------------------------------------------------------------------


async def send_msg(stream: trio.abc.Stream, msg: dict[str, Any]) -> None:
    body = msgpack.packb(msg, use_bin_type=True)
    await stream.send_all(_LEN.pack(len(body)) + body)


async def _read_exactly(stream: trio.abc.ReceiveStream, n: int, buf: bytearray) -> bytes:
    while len(buf) < n:
        chunk = await stream.receive_some(max(65536, n - len(buf)))
        if not chunk:
            raise WorkerError("connection closed")
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


class Channel:
    """Length-prefixed msgpack messages over a trio stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buf = bytearray()

    async def send(self, msg: dict[str, Any]) -> None:
        await send_msg(self.stream, msg)

    async def receive(self) -> dict[str, Any]:
        (n,) = _LEN.unpack(await _read_exactly(self.stream, 4, self._buf))
        if n > MAX_FRAME:
            raise WorkerError(f"message of {n} bytes")
        msg = msgpack.unpackb(await _read_exactly(self.stream, n, self._buf), raw=False)
        if not isinstance(msg, dict):
            raise WorkerError("a message is a map")
        return msg

    async def call(self, msg: dict[str, Any], want: str) -> dict[str, Any]:
        await self.send(msg)
        reply = await self.receive()
        if reply.get("type") != want:
            raise WorkerError(str(reply.get("message", reply)))
        return reply


# --- one worker's session (the same code in every kind of worker) --------------------


def rate_spec(mode: str, **numbers: float) -> dict[str, Any]:
    return {"mode": mode, **numbers}


def shape_of(d: dict[str, Any]) -> Shape:
    return Shape(**{f.name: d[f.name] for f in dataclasses.fields(Shape) if f.name in d})


def shape_dict(s: Shape) -> dict[str, Any]:
    return dataclasses.asdict(s)


class Session:
    """A worker's state between ``setup`` and ``bye``."""

    def __init__(self) -> None:
        self.workload: Workload | None = None
        self.ctx: BenchContext | None = None

    async def setup(self, msg: dict[str, Any], topology: Any = None) -> None:
        self.workload = load_workload(msg["module"])
        self.ctx = BenchContext(
            params=dict(msg.get("params") or {}),
            endpoints=dict(msg.get("endpoints") or {}),
            worker=int(msg["worker"]),
            workers=int(msg["workers"]),
            quick=bool(msg.get("quick")),
            shared=dict(msg.get("shared") or {}),
            topology=topology,
        )
        await self.workload.call("before_run", self.ctx)

    async def phase(self, msg: dict[str, Any]) -> Recorder:
        assert self.workload is not None and self.ctx is not None, "phase before setup"
        ctx, rate, shape = self.ctx, msg["rate"], shape_of(msg["shape"])
        start_at = trio.current_time() + (float(msg["start_wall"]) - time.time())
        target = self.workload.target(ctx)
        w, n = ctx.worker, ctx.workers
        if rate["mode"] == "closed":
            load = FixedLoad(int(rate["users"]), float(rate.get("think", 0.0)))
            return await run_closed(target, load, shape, worker=w, workers=n, start_at=start_at)
        if rate["mode"] == "ramp":
            sched: Any = LinearRamp(float(rate["start"]), float(rate["end"]), float(rate["over"]))
        else:
            sched = FixedRate(float(rate["rate"]))
        return await run_open(target, sched, shape, worker=w, workers=n, start_at=start_at)

    async def bye(self) -> None:
        if self.workload is not None and self.ctx is not None:
            await self.workload.call("after_run", self.ctx)
        self.workload = self.ctx = None


async def serve_session(stream: trio.abc.Stream) -> None:
    """One coordinator's session on ``stream``, until ``bye`` or the connection closes."""
    ch = Channel(stream)
    session = Session()
    try:
        while True:
            try:
                msg = await ch.receive()
            except (WorkerError, trio.BrokenResourceError, trio.ClosedResourceError):
                return
            kind = msg.get("type")
            try:
                if kind == "setup":
                    await session.setup(msg)
                    await ch.send({"type": "ready", "pid": os.getpid()})
                elif kind == "phase":
                    rec = await session.phase(msg)
                    await ch.send({"type": "result", "recorder": rec.to_dict()})
                elif kind == "bye":
                    await session.bye()
                    await ch.send({"type": "bye"})
                    return
                else:
                    await ch.send({"type": "error", "message": f"unknown message {kind!r}"})
            except Exception as exc:
                await ch.send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        with trio.CancelScope(shield=True):
            if session.workload is not None:
                with trio.move_on_after(5):
                    await session.bye()
            await stream.aclose()


async def serve_worker(
    host: str,
    port: int,
    *,
    once: bool = False,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` (port 0: any free one) and serve sessions; with
    ``once``, return after the first session ends."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    sockname = listeners[0].socket.getsockname()
    task_status.started((sockname[0], sockname[1]))
    async with trio.open_nursery() as nursery:
        if once:
            stream = await listeners[0].accept()
            for listener in listeners:
                await listener.aclose()
            await serve_session(stream)
            return
        nursery.start_soon(trio.serve_listeners, serve_session, listeners)


# --- the coordinator's side ------------------------------------------------------------


class InProcessWorkers:
    """One worker in the coordinator's own process (``[workers] processes = 0``)."""

    def __init__(self, topology: Any = None) -> None:
        self.session = Session()
        self.topology = topology
        self.pids: dict[str, int] = {}
        self.count = 1

    async def setup(self, msg: dict[str, Any]) -> None:
        await self.session.setup({**msg, "worker": 0, "workers": 1}, self.topology)

    async def phase(self, msg: dict[str, Any]) -> list[Recorder]:
        return [await self.session.phase(msg)]

    async def bye(self) -> None:
        await self.session.bye()

    async def aclose(self) -> None:
        await self.session.bye()


class RemoteWorkers:
    """Workers reached over TCP (remote hosts, or child processes on loopback)."""

    def __init__(self, channels: Sequence[Channel], local: Sequence[bool] = ()) -> None:
        self.channels = list(channels)
        self.count = len(self.channels)
        self.pids: dict[str, int] = {}
        #: Per worker: on this host (its pid means a process here, to sample).
        self.local = list(local) or [True] * self.count

    @classmethod
    async def connect(cls, addresses: Sequence[str]) -> RemoteWorkers:
        chans, local = [], []
        for a in addresses:
            host, _, port = a.rpartition(":")
            chans.append(Channel(await trio.open_tcp_stream(host, int(port))))
            local.append(host in ("127.0.0.1", "localhost", "::1"))
        return cls(chans, local)

    async def _all(self, msgs: Sequence[dict[str, Any]], want: str) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = [{} for _ in self.channels]
        errors: list[str] = []

        async def one(k: int) -> None:
            try:
                replies[k] = await self.channels[k].call(msgs[k], want)
            except (WorkerError, OSError, trio.BrokenResourceError) as exc:
                errors.append(f"worker {k}: {exc}")

        async with trio.open_nursery() as nursery:
            for k in range(len(self.channels)):
                nursery.start_soon(one, k)
        if errors:
            raise WorkerError("; ".join(errors))
        return replies

    async def setup(self, msg: dict[str, Any]) -> None:
        n = len(self.channels)
        replies = await self._all(
            [{**msg, "type": "setup", "worker": k, "workers": n} for k in range(n)], "ready"
        )
        for k, r in enumerate(replies):
            self.pids.setdefault(f"loadgen-{k}", int(r.get("pid", 0)))

    async def phase(self, msg: dict[str, Any]) -> list[Recorder]:
        replies = await self._all([{**msg, "type": "phase"}] * len(self.channels), "result")
        return [Recorder.from_dict(r["recorder"]) for r in replies]

    async def bye(self) -> None:
        await self._all([{"type": "bye"}] * len(self.channels), "bye")

    async def aclose(self) -> None:
        for ch in self.channels:
            with trio.move_on_after(2) as scope:
                scope.shield = True
                await ch.stream.aclose()


class ProcessWorkers(RemoteWorkers):
    """``n`` worker processes on this host, each listening on a loopback port."""

    procs: list[subprocess.Popen[bytes]]

    @classmethod
    async def start(cls, n: int) -> ProcessWorkers:
        procs, addresses = [], []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for _ in range(n):
            p = subprocess.Popen(
                [PY, "-m", "benchmarks.bench.worker", "--listen", "127.0.0.1:0", "--once"],
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=env,
            )
            procs.append(p)
        try:
            for p in procs:
                assert p.stdout is not None
                with trio.fail_after(60):
                    line = (await trio.to_thread.run_sync(p.stdout.readline)).decode()
                if not line.startswith("LISTENING "):
                    raise WorkerError(f"worker process {p.pid} did not start: {line!r}")
                addresses.append(line.split()[1])
            chans = []
            for a in addresses:
                host, _, port = a.rpartition(":")
                chans.append(Channel(await trio.open_tcp_stream(host, int(port))))
        except BaseException:
            for p in procs:
                p.kill()
                p.wait()
            raise
        self = cls(chans)
        self.procs = procs
        self.pids = {f"loadgen-{k}": p.pid for k, p in enumerate(procs)}
        return self

    async def aclose(self) -> None:
        await super().aclose()
        for p in self.procs:
            try:
                await trio.to_thread.run_sync(p.wait, 10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def main(argv: list[str] | None = None) -> int:
    """``relayhub bench worker --listen HOST:PORT [--once]``."""
    p = argparse.ArgumentParser(
        prog="relayhub bench worker", description="serve load-generator sessions over TCP"
    )
    p.add_argument("--listen", default="127.0.0.1:8790", metavar="HOST:PORT")
    p.add_argument("--once", action="store_true", help="exit after one session")
    args = p.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        p.error("--listen HOST:PORT, e.g. 127.0.0.1:8790")

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            serve = functools.partial(serve_worker, host, int(port), once=args.once)
            h, bound = await nursery.start(serve)
            print(f"LISTENING {h}:{bound}", flush=True)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
