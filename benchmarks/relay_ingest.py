"""relay_ingest: committed IBTP/s of the relay fed notary-proved IBTPs through its API.

A thin wrapper over the harness, kept for its name and ``--quick``:

    .venv/bin/python benchmarks/relay_ingest.py [--quick] [--out DIR]
    # = relayhub bench run benchmarks/configs/relay-ingest-notary.toml [--quick]

The workload, the relay topology and the crypto floor are described in
``benchmarks/bench/workloads/relay_ingest.py`` and ``benchmarks/bench/floors.py``.
``floor_ratio`` = IBTP/s ÷ floor IBTP/s = floor time ÷ actual time per IBTP (one
definition for every benchmark). The last line printed is one JSON object of the
headline figures (``ibtp_per_s``, ``floor_per_s``, ``floor_ratio``, latency ...).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench.cli import script_main

ALIASES = {"ibtp_per_s": "confirmed_units_per_s", "floor_per_s": "reference_per_s"}


def main(argv: list[str] | None = None) -> int:
    return script_main("relay-ingest-notary.toml", "relay_ingest", ALIASES, argv)


if __name__ == "__main__":
    sys.exit(main())
