"""Workload modules shipped with the harness (``[workload] module = ...``, docs/bench.md)."""
