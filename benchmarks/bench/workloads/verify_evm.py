"""EVM proofs verified by ``EvmVerifier`` in this process (no network): the workload of
``benchmarks/verify_evm.py`` on the harness.

``before_run`` builds ``blocks`` blocks of ``receipts`` typed receipts, each proven
(London headers with real receiptsRoots, seals by 3 of 4 validators); transaction
``i`` verifies every proof of block ``i mod blocks`` (units: its receipts), with a
fresh verifier at each pass over the blocks, so seals are recovered once per header
(cold memo), as the original did. ``run`` is a plain function: the verification
runs on the load loop, one block at a time (a closed loop of one user).

The **floor** (``reference``): keccak of every proof node, one seal-set recovery per
header amortised over its block, and the eth-abi decode of the event data, on the
same proofs (best of 3). ``floor_ratio`` = proofs/s ÷ floor proofs/s (= floor time ÷
verifier time; 1.0 at the floor). ``benchmarks/verify_evm.py`` reported the
inverse before the harness; RESULTS.md's older rows say so.
"""

from __future__ import annotations

from typing import Any

from adapters.evm.verifier import EvmVerifier
from benchmarks.bench.workload import BenchContext
from benchmarks.verify_evm import make_workload, run_floor


def _workload(ctx: BenchContext) -> Any:
    return make_workload(int(ctx.params.get("blocks", 10)), int(ctx.params.get("receipts", 200)))


def before_run(ctx: BenchContext) -> None:
    w = _workload(ctx)
    per = w.receipts_per_block
    ctx.state.update(
        w=w,
        blocks=[w.ibtps[b * per : (b + 1) * per] for b in range(w.blocks)],
        verifier=EvmVerifier(),
    )


def run(ctx: BenchContext, i: int) -> int:
    s = ctx.state
    b = i % len(s["blocks"])
    if b == 0:
        s["verifier"] = EvmVerifier()  # a cold memo each pass
    verify, vctx = s["verifier"].verify, s["w"].ctx
    for ibtp, ibtp_hash in s["blocks"][b]:
        verify(vctx, ibtp, ibtp_hash)
    return len(s["blocks"][b])


def reference(ctx: BenchContext) -> dict[str, Any]:
    w = _workload(ctx)
    best = min(run_floor(w) for _ in range(3))
    n = len(w.ibtps)
    return {
        "per_s": round(n / best, 1),
        "what": "EVM proof floor, one core: node keccaks, a seal set per header, event ABI "
        "decode (best of 3)",
        "floor_us_per_proof": round(best / n * 1e6, 2),
    }
