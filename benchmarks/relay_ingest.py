"""relay_ingest: committed IBTP/s of a solo relay fed notary-proved IBTPs through its API.

What runs where:

* This process pre-generates the workload **before** any timing (benchmarks.harness.workloads:
  two notary chains A and B, ``--concurrency`` streams, each with its own gateway
  key and service pair; ``--ibtps`` notarized INTERCHAIN IBTPs batched ``--batch``
  per signed ``ibtp`` transaction), on a process pool.
* The relay (solo node + HTTP API) runs in a child process
  (``python -m benchmarks.relay_ingest --serve DIR``) on 127.0.0.1 with a fresh
  temporary data dir.
* The client sends msgpack ``POST /v1/txs?wait=commit`` bodies of
  ``--txs-per-request`` transactions, one request in flight per stream, so
  ``--concurrency`` requests in flight. A request's IBTPs count as committed when
  its response arrives (the node answers once their block is durable).

Reported: committed IBTP/s over the whole run, the rate of each tenth of the run
(the first and last tenths must stay within 10%: cost must not grow with the
ledger), the relay's CPU time per IBTP in each tenth (its process, threads and
signer child: the same check, but hardly moved by other load on the machine), and
the **crypto floor** measured in the same run, i.e. the IBTP/s one core reaches
doing only the signature work the relay does per IBTP (each part the best of 3
passes over 2,000 of the run's own IBTPs, before and after the run; the mean of
the two is reported):

    per IBTP = m x recover_address(notary digest, notary sig)    (m = --notaries)
             + recover_address(tx hash, tx sig) / IBTPs per tx
             + sign(relay-proof digest)                            (1 relay validator)

``recover_address`` is coincurve's recovery plus the keccak of the public key that
gives the address compared with the registered keys; the digests themselves are
computed beforehand and not counted. At the end every IBTP is checked committed
(each pair's interchain counter, and the last IBTP of each stream in BEGIN) and
``relay.ledger.verify.verify_ledger`` re-checks the ledger (timed, not counted).
Workload choices: the genesis timeout is 10,000,000 blocks so no IBTP of the run
times out (this measures admission and commit, not the timeout sweep); payloads
differ per IBTP, so nothing is served from a cache.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from benchmarks.harness.workloads import IngestWorkload, build_ingest_workload
from relay.crypto import Account, read_key_file, recover_address, write_key_file
from relay.genesis import Genesis
from relay.ibtp import TxStatus, compute_ibtp_hash, compute_notary_digest, decode_ibtp
from relay.ibtp.digest import compute_signed_digest
from relay.ledger.types import decode_tx, encode_tx

MSGPACK = "application/msgpack"
QUICK_IBTPS = 20_000
FULL_IBTPS = 200_000


# --- the relay process -----------------------------------------------------------


def serve(data_dir: Path, args: argparse.Namespace) -> None:
    """Child process: run a solo node and its API until SIGTERM/SIGINT, print the URL."""
    import trio

    from relay.api.server import serve_api
    from relay.node import NodeConfig, open_node

    genesis = Genesis.load(data_dir / "genesis.json")
    key = read_key_file(data_dir / "validator.key")
    extra: dict[str, Any] = {}
    if args.block_ibtps:
        extra["max_block_ibtps"] = args.block_ibtps
    if args.block_txs:
        extra["max_block_txs"] = args.block_txs
    if args.batch_time is not None:
        extra["batch_time"] = args.batch_time
    if args.max_sealed:
        extra["max_sealed_blocks"] = args.max_sealed
    config = NodeConfig(data_dir=data_dir / "ledger", genesis=genesis, key=key, **extra)

    async def run() -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with open_node(config) as node, trio.open_nursery() as nursery:
                url = await nursery.start(serve_api, node, "127.0.0.1", 0)
                print(f"LISTENING {url}", flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()

    trio.run(run)


@dataclass
class RelayProcess:
    proc: subprocess.Popen[str]
    url: str
    data_dir: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_relay(
    data_dir: Path, genesis: Genesis, key: Account, args: argparse.Namespace
) -> RelayProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    genesis.dump(data_dir / "genesis.json")
    write_key_file(data_dir / "validator.key", key)
    cmd = [sys.executable, "-m", "benchmarks.relay_ingest", "--serve", str(data_dir)]
    for opt in ("block_ibtps", "block_txs", "batch_time", "max_sealed"):
        v = getattr(args, opt)
        if v is not None:
            cmd += [f"--{opt.replace('_', '-')}", str(v)]
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    log = (data_dir / "relay.log").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=repo)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise RuntimeError(f"relay did not start: {(data_dir / 'relay.log').read_text()[-2000:]}")
    return RelayProcess(proc, line.split()[1].strip(), data_dir)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far (Linux /proc) of process ``pid``, all its threads,
    and its live child processes (the relay's signer worker)."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            pids += [int(c) for c in (task / "children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# --- the crypto floor ------------------------------------------------------------


@dataclass
class Floor:
    per_ibtp_s: float
    notary_s: float
    tx_s: float
    sign_s: float
    sample_ibtps: int

    @property
    def per_s(self) -> float:
        return 1.0 / self.per_ibtp_s


def measure_floor(w: IngestWorkload, sample: int = 2000, repeat: int = 3) -> Floor:
    """Time the signature work alone on a sample of the workload's own IBTPs (one core);
    each part is the best of ``repeat`` passes (the floor is the least it can cost)."""
    txs = []
    n = 0
    for k in range(len(w.txs)):
        for raw in w.txs[k]:
            txs.append(decode_tx(raw))
            n += len(txs[-1].body)
            if n >= sample:
                break
        if n >= sample:
            break
    tx_checks = [(tx.hash, tx.sig) for tx in txs]
    notary_checks: list[tuple[bytes, bytes]] = []
    relay_digests: list[bytes] = []
    hub = w.genesis.hub_id
    for tx in txs:
        for raw in tx.body:
            ibtp = decode_ibtp(raw)
            nd = compute_notary_digest(compute_ibtp_hash(ibtp))
            notary_checks += [(nd, s) for s in msgpack.unpackb(ibtp.proof)]
            relay_digests.append(
                compute_signed_digest(hub, ibtp.dst.split(":")[1], ibtp, TxStatus.BEGIN)
            )
    ibtps = len(relay_digests)
    validator = w.keys.validator
    best = [float("inf")] * 3
    for _ in range(repeat):
        t0 = time.perf_counter()
        for d, s in notary_checks:
            recover_address(d, s)
        t1 = time.perf_counter()
        for d, s in tx_checks:
            recover_address(d, s)
        t2 = time.perf_counter()
        for d in relay_digests:
            validator.sign(d)
        t3 = time.perf_counter()
        best = [min(b, x) for b, x in zip(best, (t1 - t0, t2 - t1, t3 - t2), strict=True)]
    notary, txc, sign = (x / ibtps for x in best)
    return Floor(notary + txc + sign, notary, txc, sign, ibtps)


# --- the client ------------------------------------------------------------------


@dataclass
class RunResult:
    ibtps: int
    seconds: float
    ibtp_per_s: float
    tenths: list[float]
    #: Relay CPU microseconds per IBTP in each tenth.
    tenths_cpu_us: list[float]
    events: int
    retries: int
    #: From the first stream's last response to the last stream's: the end of the run
    #: has fewer requests in flight for this long.
    drain_s: float
    height: int
    #: CPU time (all threads) per IBTP during the timed phase: relay process, client.
    relay_cpu_us: float = 0.0
    client_cpu_us: float = 0.0
    verify_s: float = 0.0
    verify_ok: bool = False
    verify_note: str = ""
    floor_before: Floor | None = None
    floor_after: Floor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def floor_per_s(self) -> float:
        fs = [f.per_s for f in (self.floor_before, self.floor_after) if f is not None]
        return statistics.fmean(fs) if fs else 0.0


def progress_times(events: list[tuple[float, float, int]], marks: list[float]) -> list[float]:
    """When the committed count reached each of ``marks`` (ascending).

    Each response ``(sent, answered, n)`` says its ``n`` IBTPs committed while the
    request was in flight; they are spread evenly over that interval, so the
    committed count is a piecewise-linear function of time and each mark's
    crossing time is exact within it (not rounded to whole responses)."""
    points = sorted({t for ts, te, _ in events for t in (ts, te)})

    def committed(t: float) -> float:
        c = 0.0
        for ts, te, n in events:
            if t >= te:
                c += n
            elif t > ts:
                c += n * (t - ts) / (te - ts)
        return c

    out: list[float] = []
    prev_t, prev_c = points[0], 0.0
    mi = 0
    for t in points[1:]:
        c = committed(t)
        while mi < len(marks) and c >= marks[mi]:
            frac = (marks[mi] - prev_c) / (c - prev_c) if c > prev_c else 1.0
            out.append(prev_t + frac * (t - prev_t))
            mi += 1
        prev_t, prev_c = t, c
    return out


def tenth_times(events: list[tuple[float, float, int]], total: int, t0: float) -> list[float]:
    """Start and end time of each tenth of the run (by IBTPs committed): 11 times."""
    tenth = total / 10
    marks = [tenth * i for i in range(1, 10)] + [total - 1e-6]
    return [t0, *progress_times(events, marks)]


def tenth_rates(times: list[float], total: int) -> list[float]:
    """IBTP/s of each tenth from ``tenth_times``."""
    return [total / 10 / max(b - a, 1e-9) for a, b in itertools.pairwise(times)]


def tenth_cpu(times: list[float], samples: list[tuple[float, float]], total: int) -> list[float]:
    """Relay CPU microseconds per IBTP in each tenth, from (time, CPU seconds) samples
    interpolated at the tenth boundaries: unlike IBTP/s it is hardly moved by other
    load on the machine, so it shows whether the cost per IBTP grows with the ledger."""
    samples = sorted(samples)

    def cpu_at(t: float) -> float:
        i = bisect.bisect_left(samples, (t, -math.inf))
        if i == 0:
            return samples[0][1]
        if i == len(samples):
            return samples[-1][1]
        (ta, ca), (tb, cb) = samples[i - 1], samples[i]
        return ca + (cb - ca) * (t - ta) / (tb - ta) if tb > ta else cb

    cpus = [cpu_at(t) for t in times]
    return [(b - a) / (total / 10) * 1e6 for a, b in itertools.pairwise(cpus)]


async def _post(client: Any, url: str, body: bytes) -> tuple[int, Any]:
    r = await client.post(
        url, content=body, headers={"content-type": MSGPACK, "accept": MSGPACK}, timeout=600
    )
    return r.status_code, msgpack.unpackb(r.content, raw=False)


async def submit_all(
    client: Any, base: str, txs: list[bytes], counter: list[int]
) -> list[dict[str, Any]]:
    """POST ``txs`` with wait=commit, resending what MEMPOOL_FULL refused; every tx must
    end admitted. Returns the per-tx results in order."""
    import trio

    url = f"{base}/v1/txs?wait=commit"
    done: list[dict[str, Any]] = []
    while txs:
        status, doc = await _post(client, url, msgpack.packb(txs, use_bin_type=True))
        results = doc.get("results", [])
        ok = 0
        for r in results:
            if not r.get("ok"):
                break
            ok += 1
        done += results[:ok]
        if ok == len(txs):
            return done
        bad = results[ok] if ok < len(results) else doc
        if bad.get("code") != 6001:
            raise RuntimeError(f"relay refused a transaction (HTTP {status}): {bad}")
        counter[0] += 1
        txs = txs[ok:]
        await trio.sleep(0.01)
    return done


async def run_client(
    w: IngestWorkload, base: str, args: argparse.Namespace, relay_pid: int
) -> RunResult:
    import httpx
    import trio

    limits = httpx.Limits(max_connections=len(w.streams) + 2, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits) as client:
        # Setup (not timed): register and approve chains, register services.
        await submit_all(client, base, [encode_tx(tx) for tx in w.setup], [0])

        events: list[tuple[float, float, int]] = []
        retries = [0]
        cpu0, client0 = cpu_seconds(relay_pid), time.process_time()
        t0 = time.perf_counter()
        cpu_samples = [(t0, cpu0)]
        finished: list[float] = []

        async def stream(k: int) -> None:
            for txs, n in w.requests(k, args.txs_per_request):
                sent = time.perf_counter()
                results = await submit_all(client, base, txs, retries)
                for r in results:
                    for item in r["results"]:
                        if item[1] != TxStatus.BEGIN or item[2]:
                            raise RuntimeError(f"unexpected IBTP outcome {item}")
                now = time.perf_counter()
                events.append((sent, now, n))
                cpu_samples.append((now, cpu_seconds(relay_pid)))
            finished.append(time.perf_counter())

        async with trio.open_nursery() as nursery:
            for k in range(len(w.streams)):
                nursery.start_soon(stream, k)
        seconds = time.perf_counter() - t0
        relay_cpu = cpu_seconds(relay_pid) - cpu0
        client_cpu = time.process_time() - client0
        total = sum(n for _, _, n in events)
        times = tenth_times(events, total, t0)

        # Every IBTP committed: each pair's counter, the last IBTP of each stream.
        for k, s in enumerate(w.streams):
            expect = sum(w.tx_ibtps[k])
            r = await client.get(f"{base}/v1/pairs/{s.src}/{s.dst}", headers={"accept": MSGPACK})
            pair = msgpack.unpackb(r.content, raw=False)
            if pair["interchain"] != expect:
                raise RuntimeError(f"pair {s.src} -> {s.dst}: counter {pair} != {expect}")
            if expect:
                r = await client.get(
                    f"{base}/v1/ibtps/{s.src}~{s.dst}~{expect}", headers={"accept": MSGPACK}
                )
                rec = msgpack.unpackb(r.content, raw=False)
                if rec.get("status") != TxStatus.BEGIN:
                    raise RuntimeError(f"IBTP {s.src}~{s.dst}~{expect} is {rec}")
        r = await client.get(f"{base}/v1/status", headers={"accept": MSGPACK})
        height = msgpack.unpackb(r.content, raw=False)["height"]
    return RunResult(
        ibtps=total,
        seconds=seconds,
        ibtp_per_s=total / seconds,
        tenths=tenth_rates(times, total),
        tenths_cpu_us=tenth_cpu(times, cpu_samples, total),
        events=len(events),
        retries=retries[0],
        drain_s=max(finished) - min(finished),
        height=height,
        relay_cpu_us=relay_cpu / max(total, 1) * 1e6,
        client_cpu_us=client_cpu / max(total, 1) * 1e6,
    )


def one_run(w: IngestWorkload, args: argparse.Namespace, run_no: int) -> RunResult:
    import trio

    from relay.ledger.verify import verify_ledger

    tmp = Path(tempfile.mkdtemp(prefix="relay_ingest-", dir=args.tmp_dir))
    try:
        floor_before = measure_floor(w)
        relay = start_relay(tmp, w.genesis, w.keys.validator, args)
        print(f"  run {run_no}: relay pid {relay.proc.pid} at {relay.url}, data {tmp}", flush=True)
        try:
            res = trio.run(run_client, w, relay.url, args, relay.proc.pid)
        finally:
            relay.stop()
        res.floor_before = floor_before
        res.floor_after = measure_floor(w)
        if args.no_verify:
            res.verify_note = "skipped"
        else:
            t = time.perf_counter()
            rep = verify_ledger(tmp / "ledger" / "ledger.sqlite3", w.genesis)
            res.verify_s = time.perf_counter() - t
            res.verify_ok = rep.ok
            res.verify_note = json.dumps(rep.to_dict())
            if not rep.ok:
                raise RuntimeError(f"verify_ledger failed: {rep.to_dict()}")
        return res
    finally:
        if args.keep:
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --- main ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ibtps", type=int, default=None, help=f"IBTPs in all (default {FULL_IBTPS})")
    p.add_argument("--batch", type=int, default=500, help="IBTPs per ibtp transaction")
    p.add_argument("--txs-per-request", type=int, default=2, help="transactions per POST")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (streams)")
    p.add_argument("--notaries", type=int, default=1, help="notary signatures per IBTP (m of m)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_IBTPS} IBTPs, repeat 3")
    p.add_argument("--repeat", type=int, default=None, help="runs (median); 3 quick, 1 full")
    p.add_argument("--processes", type=int, default=None, help="pre-generation workers")
    p.add_argument("--no-verify", action="store_true", help="skip verify_ledger at the end")
    p.add_argument("--keep", action="store_true", help="keep the data dirs")
    p.add_argument("--tmp-dir", default=None, help="where the temporary data dirs go")
    # node options (passed to the relay process; default: NodeConfig's defaults)
    p.add_argument("--block-ibtps", type=int, default=None, help="node max_block_ibtps")
    p.add_argument("--block-txs", type=int, default=None, help="node max_block_txs")
    p.add_argument("--batch-time", type=float, default=None, help="node batch_time (s)")
    p.add_argument("--max-sealed", type=int, default=None, help="node max_sealed_blocks")
    p.add_argument("--serve", metavar="DIR", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.ibtps is None:
        args.ibtps = QUICK_IBTPS if args.quick else FULL_IBTPS
    if args.repeat is None:
        args.repeat = 3 if args.quick else 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(Path(args.serve), args)
        return 0
    print(
        f"relay_ingest: {args.ibtps} IBTPs, {args.batch}/tx, {args.txs_per_request} tx/request, "
        f"{args.concurrency} in flight, {args.notaries} notary sig(s)/IBTP, "
        f"{args.repeat} run(s), {os.cpu_count()} CPUs",
        flush=True,
    )
    t = time.perf_counter()
    w = build_ingest_workload(
        args.ibtps, args.concurrency, args.batch, args.notaries, args.processes
    )
    print(
        f"  pre-generated {w.total_ibtps} IBTPs in "
        f"{sum(len(x) for x in w.txs)} txs in {time.perf_counter() - t:.1f} s (not timed)",
        flush=True,
    )
    runs = []
    for i in range(args.repeat):
        res = one_run(w, args, i + 1)
        runs.append(res)
        fb, fa = res.floor_before, res.floor_after
        assert fb is not None and fa is not None
        print(
            f"  run {i + 1}: {res.ibtps} IBTPs in {res.seconds:.2f} s = {res.ibtp_per_s:,.0f} "
            f"IBTP/s; height {res.height}; {res.events} responses, {res.retries} retries, "
            f"streams' ends {res.drain_s:.2f} s apart; "
            f"CPU per IBTP: relay {res.relay_cpu_us:.0f} us, client {res.client_cpu_us:.0f} us\n"
            f"    tenths IBTP/s: {' '.join(f'{x:,.0f}' for x in res.tenths)}\n"
            f"    tenths relay CPU us/IBTP: {' '.join(f'{x:.0f}' for x in res.tenths_cpu_us)}\n"
            f"    crypto floor: {fb.per_s:,.0f} / {fa.per_s:,.0f} IBTP/s (before / after) = "
            f"{fb.notary_s * 1e6:.0f} us notary + {fb.tx_s * 1e6:.1f} us tx sig + "
            f"{fb.sign_s * 1e6:.0f} us relay-proof sign per IBTP (before)\n"
            f"    verify_ledger: {res.verify_s:.1f} s (not counted) {res.verify_note}",
            flush=True,
        )
    med = statistics.median
    ibtp_per_s = med(r.ibtp_per_s for r in runs)
    floor = med(r.floor_per_s for r in runs)
    first = med(r.tenths[0] for r in runs)
    last = med(r.tenths[-1] for r in runs)
    tail = med(r.tenths[-1] / r.tenths[0] for r in runs)
    summary = {
        "bench": "relay_ingest",
        "ibtp_per_s": round(ibtp_per_s, 1),
        "floor_per_s": round(floor, 1),
        "floor_ratio": round(med(r.ibtp_per_s / r.floor_per_s for r in runs), 3),
        "first_tenth_per_s": round(first, 1),
        "last_tenth_per_s": round(last, 1),
        "tail_ratio": round(tail, 3),
        "ibtps": args.ibtps,
    }
    print(
        f"median of {len(runs)}: {ibtp_per_s:,.0f} committed IBTP/s "
        f"(target >= 3,000: {'met' if ibtp_per_s >= 3000 else 'NOT met'}); crypto floor "
        f"{floor:,.0f} IBTP/s, ratio {summary['floor_ratio']}; first/last tenth "
        f"{first:,.0f} / {last:,.0f} IBTP/s, tail ratio {tail:.3f} "
        f"(target >= 0.9: {'met' if tail >= 0.9 else 'NOT met'})"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
