"""The gateway's admin endpoint (I/O shell): health, metrics, set-aside items.

Served only when ``[gateway] admin = "127.0.0.1:PORT"`` is configured, on that
address (loopback unless the operator says otherwise):

* ``GET /healthz`` — ``{"ok": true, "chain": ..., "checkpoint": n, "seq": n,
  "parked": n, "chain_lag": n, "relay_lag": n}`` (lags null until known);
* ``GET /metrics`` — Prometheus text, every gateway metric named and described in
  :data:`METRICS`;
* ``GET /v1/parked`` — the set-aside items (docs/gateway.md, "Set aside");
* ``POST /v1/parked/retry`` — body ``{"key": "d:12"}`` (or ``{}`` for all): ask the
  gateway to send them again; answers ``{"marked": n}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.api.server import serve_asgi

if TYPE_CHECKING:
    from adapters.gateway.runtime import Gateway

#: name -> (kind, description, how to read it off a gateway)
METRICS: dict[str, tuple[str, str]] = {
    "relayhub_gateway_submitted_total": (
        "counter",
        "IBTPs from the chain committed by the relay",
    ),
    "relayhub_gateway_delivered_total": (
        "counter",
        "Relay stream entries applied on the chain (or found already applied)",
    ),
    "relayhub_gateway_resent_total": (
        "counter",
        "IBTPs re-fetched from the chain and submitted again (gaps, recovery)",
    ),
    "relayhub_gateway_dropped_total": (
        "counter",
        "Submissions the relay had already decided (late receipts, duplicates)",
    ),
    "relayhub_gateway_retries_total": (
        "counter",
        "Retries of a refused or failed submission or delivery",
    ),
    "relayhub_gateway_set_aside_total": (
        "counter",
        "Deliveries or submissions set aside after their attempts ran out",
    ),
    "relayhub_gateway_parked": (
        "gauge",
        "Items set aside now, waiting for an operator's retry",
    ),
    "relayhub_gateway_checkpoint": (
        "gauge",
        "Chain position up to which events were submitted",
    ),
    "relayhub_gateway_stream_seq": (
        "gauge",
        "Last relay stream position delivered (or set aside)",
    ),
    "relayhub_gateway_chain_head": (
        "gauge",
        "Chain head at the last poll (less the adapter's confirmations)",
    ),
    "relayhub_gateway_chain_lag": (
        "gauge",
        "Chain head minus checkpoint at the last poll: chain positions not yet submitted",
    ),
    "relayhub_gateway_relay_seq": (
        "gauge",
        "The relay's last outbound stream position for this chain, as last seen",
    ),
    "relayhub_gateway_relay_lag": (
        "gauge",
        "The relay's last outbound position for this chain minus the delivered seq",
    ),
}


def _values(gw: Gateway) -> dict[str, float | None]:
    st = gw.stats
    return {
        "relayhub_gateway_submitted_total": st.submitted,
        "relayhub_gateway_delivered_total": st.delivered,
        "relayhub_gateway_resent_total": st.resent,
        "relayhub_gateway_dropped_total": st.dropped,
        "relayhub_gateway_retries_total": st.retries,
        "relayhub_gateway_set_aside_total": st.set_aside,
        "relayhub_gateway_parked": gw.parked.count(),
        "relayhub_gateway_checkpoint": gw.state.checkpoint,
        "relayhub_gateway_stream_seq": gw.state.seq,
        "relayhub_gateway_chain_head": gw.chain_head,
        "relayhub_gateway_chain_lag": gw.chain_lag,
        "relayhub_gateway_relay_seq": gw.relay_seq,
        "relayhub_gateway_relay_lag": gw.relay_lag,
    }


class _Collector:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def collect(self) -> Iterator[Metric]:
        values = _values(self.gw)
        for name, (kind, doc) in METRICS.items():
            labels = ["chain"]
            if kind == "counter":
                fam: Metric = CounterMetricFamily(name.removesuffix("_total"), doc, labels=labels)
            else:
                fam = GaugeMetricFamily(name, doc, labels=labels)
            value = values[name]
            if value is not None:  # None: not known yet (before the first poll)
                fam.add_metric([self.gw.chain_id], value)  # type: ignore[attr-defined]
            yield fam


def create_admin_app(gw: Gateway) -> Starlette:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(gw))

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "chain": gw.chain_id,
                "checkpoint": gw.state.checkpoint,
                "seq": gw.state.seq,
                "parked": gw.parked.count(),
                "chain_lag": gw.chain_lag,
                "relay_lag": gw.relay_lag,
            }
        )

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def parked(request: Request) -> Response:
        return JSONResponse({"items": [i.to_json() for i in gw.parked.items()]})

    async def retry(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        key = body.get("key") if isinstance(body, dict) else None
        if body is None or (key is not None and not isinstance(key, str)):
            return JSONResponse(
                {"code": 1009, "message": 'send {"key": "d:12"} or {} for every item'},
                status_code=400,
            )
        return JSONResponse({"marked": gw.parked.request_retry(key)})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/v1/parked", parked),
            Route("/v1/parked/retry", retry, methods=["POST"]),
        ]
    )


async def serve_admin(
    gw: Gateway, host: str, port: int, *, task_status: Any = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the admin endpoint until cancelled; ``task_status.started(url)``."""
    await serve_asgi(create_admin_app(gw), host, port, task_status=task_status)
