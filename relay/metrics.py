"""Every metric the relay exports, named and described in one place.

Served as Prometheus text at ``/metrics``. Names follow Prometheus conventions
(``relayhub_`` prefix, ``_total`` for counters, base units).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# The *_created series only add noise to a relay's exposition.
disable_created_metrics()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.txs_accepted = Counter(
            "relayhub_txs_accepted_total",
            "Transactions admitted into a block, by kind",
            ["kind"],
            registry=r,
        )
        self.txs_refused = Counter(
            "relayhub_txs_refused_total",
            "Transactions refused at admission, by error code",
            ["code"],
            registry=r,
        )
        self.ibtps = Counter(
            "relayhub_ibtps_total",
            "IBTPs admitted, by outcome: new, or a no-op (an idempotent duplicate, or a "
            "destination's rollback acknowledgement that changes nothing)",
            ["outcome"],
            registry=r,
        )
        self.timeouts = Counter(
            "relayhub_timeouts_total",
            "Interchain transactions moved to BEGIN_ROLLBACK by timeout (the destination is "
            "asked to give them up; the source waits for its answer)",
            registry=r,
        )
        self.blocks = Counter("relayhub_blocks_committed_total", "Blocks committed", registry=r)
        self.height = Gauge(
            "relayhub_block_height", "Height of the last committed block", registry=r
        )
        self.mempool_txs = Gauge(
            "relayhub_mempool_txs", "Admitted transactions not yet committed", registry=r
        )
        self.commit_seconds = Histogram(
            "relayhub_block_commit_seconds",
            "Time to finalise and write one block (roots, signatures, SQLite)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.block_txs = Histogram(
            "relayhub_block_txs",
            "Transactions per committed block",
            buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
        self.outbound = Counter(
            "relayhub_outbound_total", "IBTPs routed to a chain with a relay proof", registry=r
        )
        self.stream_clients = Gauge(
            "relayhub_stream_clients", "Gateways connected to the outbound stream", registry=r
        )
        self.http_requests = Counter(
            "relayhub_http_requests_total",
            "HTTP requests served, by route and status",
            ["route", "status"],
            registry=r,
        )
