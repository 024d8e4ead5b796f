"""The system under test, as ``[topology]`` describes it, and its endpoints as plain data.

* ``embedded`` — the harness starts the relay, the EVM dev chains and their gateways
  (:mod:`benchmarks.harness.procs`: each its own OS process, so CPU and memory are
  per process and the load generator does not share their GIL; or
  :mod:`benchmarks.harness.topology` in this process with ``processes = false``);
* ``endpoints`` — a running deployment: the relay's URL, optionally the chains' RPC
  URLs and an admin key;
* ``none`` — nothing (CPU-bound workloads such as proof verification).

Workers in other processes and on other hosts get the topology as
:func:`endpoints_of`'s plain dict (JSON/msgpack-able); :func:`chain_setups`
turns it back into :class:`~benchmarks.harness.topology.ChainSetup` objects.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench.config import TopologySection
from benchmarks.harness.topology import HUB_ID, ChainSetup, Topology
from relay.crypto import Account, read_key_file
from relay.errors import Code, RelayError


@dataclass
class System:
    """A running system under test: what workloads and the resource sampler need."""

    endpoints: dict[str, Any]
    #: Process name -> pid of every relay, chain and gateway process (embedded).
    pids: dict[str, int] = field(default_factory=dict)
    #: Prometheus ``/metrics`` URLs, by name.
    metrics: dict[str, str] = field(default_factory=dict)
    topology: Topology | None = None


def endpoints_of(topo: Topology) -> dict[str, Any]:
    """The topology as plain data: relay URL, hub, admin key, and per chain its family,
    RPC URL, broker, services, trust root, funded user keys (in the family's own form:
    its service driver reads them) and gateway key (0x hex)."""
    return {
        "relay": topo.relay_url,
        "hub_id": HUB_ID,
        "admin_key": "0x" + topo.admin.key.secret.hex(),
        "chains": {
            name: {
                "family": c.family,
                "rpc": c.rpc_url,
                "registration": c.registration,
                "adapter_config": {
                    k: v for k, v in c.adapter_config.items() if isinstance(v, str | int | bool)
                },
                "services": c.services,
                "gateway_key": "0x" + c.gateway_key.key.secret.hex(),
                "user_keys": list(c.user_keys),
            }
            for name, c in topo.chains.items()
        },
    }


def chain_setups(endpoints: dict[str, Any]) -> dict[str, ChainSetup]:
    """The chains of :func:`endpoints_of`'s dict as ChainSetups (no gateway objects)."""
    out = {}
    for name, c in endpoints.get("chains", {}).items():
        out[name] = ChainSetup(
            name=name,
            family=c["family"],
            rpc_url=c["rpc"],
            registration=dict(c["registration"]),
            adapter_config=dict(c["adapter_config"]),
            services=dict(c["services"]),
            gateway_key=Account.from_key(bytes.fromhex(c["gateway_key"][2:])),
            user_keys=list(c["user_keys"]),
        )
    return out


def topology_of(endpoints: dict[str, Any]) -> Topology:
    """A :class:`Topology` (for its workload helpers) over ``endpoints``."""
    admin = Account.from_key(bytes.fromhex(endpoints["admin_key"][2:]))
    return Topology(Path("."), endpoints["relay"], admin, chain_setups(endpoints))


@asynccontextmanager
async def open_system(t: TopologySection, workdir: Path) -> AsyncIterator[System]:
    if t.mode == "none":
        yield System({"chains": {}})
        return
    if t.mode == "endpoints":
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                r = await client.get(f"{t.relay.rstrip('/')}/v1/status")
                r.raise_for_status()
                hub_id = str(r.json()["hub_id"])
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                raise RelayError(
                    Code.CONFIG,
                    f"topology.relay {t.relay}: no relay status there ({exc!r}); start the "
                    "relay or fix the URL",
                ) from None
        eps: dict[str, Any] = {
            "relay": t.relay.rstrip("/"),
            "hub_id": hub_id,
            "chains": {n: {"rpc": u} for n, u in t.chain_rpc.items()},
        }
        if t.admin_key is not None:
            eps["admin_key"] = "0x" + read_key_file(t.admin_key).key.secret.hex()
        metrics = {"relay": f"{t.relay.rstrip('/')}/metrics"}
        metrics.update({f"extra{i}": u for i, u in enumerate(t.metrics)})
        yield System(eps, metrics=metrics)
        return
    if t.processes:
        from benchmarks.harness.procs import open_proc_topology

        async with open_proc_topology(
            workdir,
            chains=tuple(t.chains),
            accounts=t.accounts,
            timeout_blocks=t.timeout_blocks,
            block_interval=t.block_interval,
            gateway_options={"admin": "auto"},  # each gateway's /metrics
            families=dict(t.families),
        ) as pt:
            assert pt.topo is not None
            pids = {n: p.popen.pid for n, p in pt.procs.items() if p.popen is not None}
            metrics = {"relay": f"{pt.relay_url}/metrics"}
            metrics.update({f"gateway-{n}": f"{u}/metrics" for n, u in pt.gateway_admin.items()})
            metrics.update({f"extra{i}": u for i, u in enumerate(t.metrics)})
            yield System(endpoints_of(pt.topo), pids, metrics, pt.topo)
        return
    from benchmarks.harness.topology import open_topology

    async with open_topology(
        workdir,
        chains=tuple(t.chains),
        block_interval=t.block_interval,
        default_timeout_blocks=t.timeout_blocks,
        families=dict(t.families),
    ) as topo:
        metrics = {"relay": f"{topo.relay_url}/metrics"}
        yield System(endpoints_of(topo), {"harness": os.getpid()}, metrics, topo)
