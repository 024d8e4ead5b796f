"""Helpers of the harness tests: small bench files on the synthetic target."""

from __future__ import annotations

from pathlib import Path


def write_config(tmp: Path, name: str = "t", body: str = "", **sections: str) -> Path:
    """A bench file on the synthetic target; ``sections`` replace whole tables."""
    tables = {
        "workload": 'module = "benchmarks.bench.workloads.synthetic"\nparams = { latency = 0.002 }',
        "rate": 'mode = "fixed"\nrate = 100.0',
        "run": 'duration = "1s"\nwarmup = "200ms"\ndrain = "2s"',
        "report": 'sample_interval = "200ms"',
    }
    tables.update(sections)
    text = f'[bench]\nname = "{name}"\ndescription = "test"\n' + "".join(
        f"\n[{k}]\n{v}\n" for k, v in tables.items()
    )
    path = tmp / f"{name}.toml"
    path.write_text(text + body)
    return path
