"""End-to-end interchain transfers between two EVM dev chains through the relay.

A thin wrapper over the harness, kept for its name and ``--quick``:

    .venv/bin/python benchmarks/e2e_transfer.py [--quick] [--out DIR]
    # = relayhub bench run benchmarks/configs/e2e-evm-transfer.toml [--quick]

Five OS processes (relay, chainA, chainB, a gateway each) and a load-generator
process; a transfer is complete when chainA's broker emitted its CallbackEvent
(``benchmarks/bench/workloads/e2e_transfer.py``). Open loop at a fixed rate,
latency from the intended send time into HDR histograms; the reference is local
transfers on the same dev chain, measured in the same run (``floor_ratio``). The
last line printed is one JSON object (``completed_per_s``, ``p50_ms`` ... ``max_ms``).
The reusable pieces (signer, callback tracker) stay in
``benchmarks/harness/e2e_workloads.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench.cli import script_main

ALIASES = {"completed_per_s": "confirmed_tps", "reference_local_per_s": "reference_per_s"}


def main(argv: list[str] | None = None) -> int:
    return script_main("e2e-evm-transfer.toml", "e2e_transfer", ALIASES, argv)


if __name__ == "__main__":
    sys.exit(main())
