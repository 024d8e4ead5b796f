"""Workload modules: the hooks a benchmark runs, in the spirit of HyperBench's scripts.

A workload is a Python module (``[workload] module = "pkg.mod"``) with:

* ``run(ctx, i)`` — **required**: one transaction, number ``i`` (unique over the
  run, all workers together). ``async def`` or plain ``def`` (a plain one runs on
  the load loop itself: keep it for CPU-bound work such as proof verification).
  It returns the units the transaction carried (``None``: 1; e.g. the IBTPs of
  one request), or raises: :class:`Failed` (or any exception with a ``code``) is
  counted under its code, any other exception under its class name;
* ``before_run(ctx)`` / ``after_run(ctx)`` — optional, once per load-generator
  worker before its first and after its last phase (connections, pre-signing);
* ``prepare(ctx)`` — optional, once in the coordinator after the topology is up and
  before any worker starts (registrations); a dict it returns is merged into
  ``ctx.shared``, which every worker then gets;
* ``reference(ctx)`` — optional, in the coordinator before and after the load: the
  floor or reference figures measured in the same run, a dict with ``per_s`` (the
  reference's units per second) and ``what`` (what it is). ``floor_ratio`` =
  reference time per unit ÷ actual time per unit = confirmed units/s ÷ ``per_s``
  (1.0: at the floor); the mean of the before and after measurements is used.

Each hook may be sync or async. ``ctx`` is a :class:`BenchContext`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from relay.errors import Code, RelayError


class Failed(Exception):
    """A transaction that failed with ``code`` (counted under it)."""

    def __init__(self, code: str | int, message: str = "") -> None:
        super().__init__(message or str(code))
        self.code = code


@dataclass
class BenchContext:
    """What a workload's hooks receive.

    ``params`` is the config's ``[workload.params]``; ``endpoints`` the topology as
    plain data (relay URL, chains' RPC URLs, brokers, services, funded keys: see
    :func:`benchmarks.bench.topo.endpoints_of`); ``shared`` what ``prepare``
    returned; ``worker``/``workers`` this load generator's number and their count
    (``-1`` in the coordinator); ``state`` is the workload's own, per worker."""

    params: dict[str, Any]
    endpoints: dict[str, Any]
    worker: int = 0
    workers: int = 1
    quick: bool = False
    shared: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    #: The in-process topology object, when the topology runs in this process.
    topology: Any = None


@dataclass(frozen=True)
class Workload:
    name: str
    module: ModuleType

    def hook(self, name: str) -> Callable[..., Any] | None:
        fn = getattr(self.module, name, None)
        return fn if callable(fn) else None

    async def call(self, name: str, ctx: BenchContext) -> Any:
        fn = self.hook(name)
        if fn is None:
            return None
        result = fn(ctx)
        if inspect.isawaitable(result):
            result = await result
        return result

    def target(self, ctx: BenchContext) -> Callable[[int], Awaitable[int]]:
        """``run(ctx, i)`` as the runner's ``async target(i) -> units``."""
        run = self.hook("run")
        assert run is not None
        if inspect.iscoroutinefunction(run):

            async def async_target(i: int) -> int:
                units = await run(ctx, i)
                return 1 if units is None else int(units)

            return async_target

        async def sync_target(i: int) -> int:
            units = run(ctx, i)
            return 1 if units is None else int(units)

        return sync_target


def load_workload(module: str) -> Workload:
    """Import workload ``module``; a 6006 naming the fix if it cannot be used."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise RelayError(
            Code.CONFIG,
            f"workload module {module!r} cannot be imported ({exc}); give a module path "
            "importable from the working directory, e.g. benchmarks.bench.workloads.synthetic",
        ) from None
    if not callable(getattr(mod, "run", None)):
        raise RelayError(Code.CONFIG, f"workload module {module!r} has no run(ctx, i) function")
    return Workload(module, mod)
