"""The HyperBench-style harness: topologies, workloads and the demo.

* :mod:`benchmarks.harness.topology` — relay + EVM dev chains + gateways in one process;
* :mod:`benchmarks.harness.procs` — the same as separate OS processes (kill -9 tests,
  the end-to-end benchmark);
* :mod:`benchmarks.harness.workloads` — relay-ingest workload (notary chains, IBTPs);
* :mod:`benchmarks.harness.e2e_workloads` — interchain transfer workload, rate control;
* :mod:`benchmarks.harness.demo` — ``relayhub demo`` and ``relayhub up``.

The benchmark scripts themselves are ``benchmarks/*.py``; each takes ``--quick`` and
prints one JSON object of its headline figures as its last line.
"""
