"""End-to-end interchain transfers between two EVM dev chains through the relay.

    .venv/bin/python benchmarks/e2e_transfer.py            # full (~70 s on a quiet machine)
    .venv/bin/python benchmarks/e2e_transfer.py --quick    # ~20 s

Five OS processes (``benchmarks.harness.procs``): the relay, chainA, chainB and one gateway
per chain; this process is the client. Every user transaction
(``AssetTransfer.transfer`` A → B, spread over many user accounts so their nonce
streams are independent) is signed before its phase's clock starts. A round trip
is complete when chainA's broker emitted the **CallbackEvent** for it (the receipt
was applied on the source chain), seen by polling ``eth_getLogs`` on chainA.

1. **throughput**: offer a fixed count of transfers at once (faster than the
   pipeline absorbs them), wait for every callback; completed/s = count / (last
   callback - first send). Repeated; the median is reported.
2. **latency**: open-loop at half the measured throughput (or ``--rate``):
   transfer ``i`` is due at ``t0 + i / rate``, sent in batches of what is due;
   latency = callback time - *intended* send time (no coordinated omission), into an
   HDR histogram: p50 / p90 / p99 / max.

Per phase it also reports the CPU time each process spent per transfer and how
many cores other processes kept busy meanwhile (``/proc``): on a shared machine a
neighbour's load halves the figures. ``--wait-quiet S`` waits up to S seconds for
the other processes to go idle before each timed phase and repeats runs they
contended (they are listed, but left out of the median when quiet ones exist).

The last line of output is one JSON object. Targets (issue): ≥ 300 completed/s,
p99 ≤ 2 s at half that rate.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio
from hdrh.histogram import HdrHistogram

from adapters.evm.lean_rpc import open_rpc
from adapters.evm.rpc import EthRpc, hex_to_int
from benchmarks.harness.e2e_workloads import (
    CallbackTracker,
    LatencyRun,
    ThroughputRun,
    TransferSigner,
    median,
)
from benchmarks.harness.procs import open_proc_topology

TARGET_PER_S = 300.0
TARGET_P99_MS = 2000.0
#: Other processes' load (cores) above which a run counts as contended (--wait-quiet).
QUIET_CORES = 0.25


def _cpu_line(cpu: dict[str, float], transfers: int, seconds: float) -> str:
    ours = {k: v for k, v in cpu.items() if k != "machine"}
    per = "  ".join(f"{k} {v * 1000 / max(transfers, 1):.2f}" for k, v in ours.items())
    total = sum(ours.values())
    others = cpu.get("machine", 0.0) - total
    return (
        f"{per}  | total {total * 1000 / max(transfers, 1):.2f} ms/transfer; "
        f"cores busy: ours {total / seconds:.2f}, other processes {max(others, 0) / seconds:.2f}"
    )


def _load(cpu: dict[str, float], seconds: float) -> dict[str, float]:
    ours = sum(v for k, v in cpu.items() if k != "machine")
    return {
        "ours_cores": round(ours / seconds, 2),
        "others_cores": round(max(cpu.get("machine", 0.0) - ours, 0.0) / seconds, 2),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="e2e-transfer-"))
    started = time.monotonic()
    try:
        async with open_proc_topology(
            workdir,
            accounts=args.users + 1,
            timeout_blocks=100_000,
            block_interval=args.block_interval,
        ) as pt:
            topo = pt.topo
            assert topo is not None
            a, b = topo.chains["chainA"], topo.chains["chainB"]
            pids = {name: p.popen.pid for name, p in pt.procs.items() if p.popen is not None}
            pids["client"] = os.getpid()
            pids["machine"] = 0  # all cores: shows how busy the machine was besides us
            rpc = open_rpc(a.rpc_url, timeout=60.0)
            try:
                gas_price = hex_to_int(await rpc.call("eth_gasPrice"))
                signer = TransferSigner(a, b, a.users[: args.users], gas_price=gas_price)
                await signer.sync_nonces(rpc)
                tracker = CallbackTracker(
                    rpc, a.broker, a.service_id(a.asset), b.service_id(b.asset)
                )
                await tracker.start_at_head()
                async with trio.open_nursery() as nursery:
                    await nursery.start(tracker.serve, args.poll)
                    result = await _phases(args, rpc, tracker, signer, pids)
                    nursery.cancel_scope.cancel()
            finally:
                await rpc.aclose()
    finally:
        if args.keep:
            print(f"workdir kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


async def _phases(
    args: argparse.Namespace,
    rpc: EthRpc,
    tracker: CallbackTracker,
    signer: TransferSigner,
    pids: dict[str, int],
) -> dict[str, Any]:
    from benchmarks.harness.e2e_workloads import run_latency, run_throughput, wait_quiet

    # Warm-up: every process has connections open and its code paths hot.
    warm = signer.sign(args.warmup)
    run = await run_throughput(rpc, tracker, warm, deadline_s=60)
    if run.missing:
        raise RuntimeError(f"warm-up: {run.missing} of {len(warm)} transfers never completed")
    print(f"warm-up: {len(warm)} transfers in {run.seconds:.2f}s", file=sys.stderr)

    # With --wait-quiet, a run during which other processes kept more than QUIET_CORES
    # busy is repeated (up to 3x the repeats) and left out of the median when enough
    # quiet runs exist: the figures are about this pipeline on 2 cores, not a share.
    def contended(cpu: dict[str, float], seconds: float) -> bool:
        return args.wait_quiet > 0 and _load(cpu, seconds)["others_cores"] > QUIET_CORES

    runs: list[ThroughputRun] = []
    attempts = args.repeats * (3 if args.wait_quiet > 0 else 1)
    while len(runs) < attempts:
        if sum(not contended(r.cpu_s, r.seconds) for r in runs) >= args.repeats:
            break
        txs = signer.sign(args.count)
        await wait_quiet(pids, args.wait_quiet, threshold=QUIET_CORES)
        r = await run_throughput(rpc, tracker, txs, deadline_s=args.deadline, pids=pids)
        runs.append(r)
        print(
            f"throughput run {len(runs)}: {r.transfers} transfers, "
            f"completed {r.completed_per_s:.1f}/s (steady {r.steady_per_s:.1f}/s) in "
            f"{r.seconds:.2f}s, offered {r.offered_per_s:.0f}/s, missing {r.missing}, "
            f"failed {r.failed}{' [contended]' if contended(r.cpu_s, r.seconds) else ''}\n"
            f"  CPU ms per transfer: {_cpu_line(r.cpu_s, r.transfers, r.seconds)}",
            file=sys.stderr,
        )
    counted = [r for r in runs if not contended(r.cpu_s, r.seconds)] or runs
    throughput = median([r.completed_per_s for r in counted])
    rate = args.rate or throughput / 2
    lat: LatencyRun | None = None
    for _ in range(3 if args.wait_quiet > 0 else 1):
        txs = signer.sign(max(1, int(rate * args.duration)))
        await wait_quiet(pids, args.wait_quiet, threshold=QUIET_CORES)
        lat = await run_latency(
            rpc, tracker, txs, rate, tick=args.tick, drain_s=args.deadline, pids=pids
        )
        if not contended(lat.cpu_s, lat.seconds):
            break
        print("latency run contended: repeating it", file=sys.stderr)
    assert lat is not None
    hist = HdrHistogram(1, 600_000_000, 3)  # microseconds, 1 µs .. 10 min
    for s in lat.latencies_s:
        hist.record_value(max(1, int(s * 1e6)))
    pct = {p: hist.get_value_at_percentile(p) / 1000 for p in (50, 90, 99, 100)}
    print(
        f"latency at {rate:.1f}/s: {lat.transfers} transfers, p50 {pct[50]:.0f} ms, "
        f"p90 {pct[90]:.0f} ms, p99 {pct[99]:.0f} ms, max {pct[100]:.0f} ms, "
        f"missing {lat.missing}, failed {lat.failed}, sender lag max "
        f"{lat.max_send_lag_s * 1000:.0f} ms\n"
        f"  CPU ms per transfer: {_cpu_line(lat.cpu_s, lat.transfers, lat.seconds)}",
        file=sys.stderr,
    )
    return {
        "bench": "e2e_transfer",
        "mode": "quick" if args.quick else "full",
        "completion": "chainA broker CallbackEvent (eth_getLogs)",
        "completed_per_s": round(throughput, 1),
        "completed_per_s_runs": [round(r.completed_per_s, 1) for r in runs],
        "steady_per_s_runs": [round(r.steady_per_s, 1) for r in runs],
        "runs_counted": [i for i, r in enumerate(runs) if any(r is c for c in counted)],
        "throughput_transfers": args.count,
        "rate_for_latency": round(rate, 1),
        "p50_ms": round(pct[50], 1),
        "p90_ms": round(pct[90], 1),
        "p99_ms": round(pct[99], 1),
        "max_ms": round(pct[100], 1),
        "transfers": lat.transfers,
        "missing": lat.missing + sum(r.missing for r in runs),
        "failed": lat.failed + sum(r.failed for r in runs),
        "users": args.users,
        "cpu_ms_per_transfer": {
            k: round(v * 1000 / max(lat.transfers, 1), 2)
            for k, v in lat.cpu_s.items()
            if k != "machine"
        },
        "cpu_ms_per_transfer_throughput": {
            k: round(v * 1000 / max(counted[-1].transfers, 1), 2)
            for k, v in counted[-1].cpu_s.items()
            if k != "machine"
        },
        "load_throughput": [_load(r.cpu_s, r.seconds) for r in runs],
        "load_latency": _load(lat.cpu_s, lat.seconds),
        "targets_met": throughput >= TARGET_PER_S and pct[99] <= TARGET_P99_MS,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts: whole run under a minute")
    p.add_argument("--count", type=int, help="transfers per throughput repeat")
    p.add_argument("--repeats", type=int, help="throughput repeats (median reported)")
    p.add_argument("--duration", type=float, help="seconds of open-loop load")
    p.add_argument("--rate", type=float, default=0.0, help="latency-phase rate (default: half)")
    p.add_argument("--users", type=int, default=128, help="user accounts on chainA")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--poll", type=float, default=0.02, help="callback poll interval (s)")
    p.add_argument("--tick", type=float, default=0.02, help="min spacing of send batches (s)")
    p.add_argument("--block-interval", type=float, default=0.05)
    p.add_argument("--deadline", type=float, default=120.0, help="max wait for callbacks (s)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed phase wait up to S seconds for other processes to leave "
        "the cores idle, and repeat runs they contended (the figures are only comparable "
        "on a quiet machine)",
    )
    args = p.parse_args(argv)
    quick = {"count": 1500, "repeats": 2, "duration": 6.0}
    full = {"count": 3000, "repeats": 3, "duration": 30.0}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.count > 1024 * args.users:
        p.error("count must be at most 1024 per user (the dev chain's nonce gap)")
    result = trio.run(bench, args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
