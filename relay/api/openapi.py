"""OpenAPI 3.1 description of the relay's HTTP API (docs/api.md is the prose)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "integer", "description": "stable error code (docs/protocol.md §6)"},
        "message": {"type": "string", "description": "what happened and what to do next"},
        "details": {
            "type": "object",
            "description": "machine-readable context; always present, possibly empty",
        },
    },
}


def _get(summary: str, params: list[dict[str, Any]] | None = None, ok: str = "the record") -> Any:
    return {
        "get": {
            "summary": summary,
            "parameters": params or [],
            "responses": {
                "200": {
                    "description": ok,
                    "content": {"application/json": {}, "application/msgpack": {}},
                },
                "4XX": {
                    "description": "refusal",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    }


def _path(name: str, desc: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": desc,
    }


def _query(name: str, desc: str, typ: str = "integer") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": typ},
        "description": desc,
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "relayhub relay API", "version": "1"},
    "paths": {
        "/v1/txs": {
            "post": {
                "summary": "Submit signed transactions (msgpack array of tx bytes, or JSON {txs: [0x-hex]})",
                "parameters": [
                    _query(
                        "wait", "'commit' to answer once the transactions are committed", "string"
                    )
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["txs"],
                                "properties": {
                                    "txs": {
                                        "type": "array",
                                        "maxItems": 1000,
                                        "items": {"type": "string", "pattern": "^0x[0-9a-fA-F]*$"},
                                    }
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "200": {"description": "every transaction admitted"},
                    "207": {"description": "some transactions admitted; see results"},
                    "4XX": {
                        "description": "refused",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                    "503": {"description": "mempool full; retry after Retry-After seconds"},
                },
            }
        },
        "/v1/status": _get("Hub identity, head and mempool"),
        "/v1/blocks/{ref}": _get(
            "A block by height or 'latest'",
            [_path("ref", "height or 'latest'"), _query("txs", "1 to include transactions")],
        ),
        "/v1/txs/{hash}": _get(
            "A committed transaction and its receipt", [_path("hash", "hex tx hash")]
        ),
        "/v1/ibtps/{ibtp_id}": _get(
            "Status and history of an interchain transaction, and the relay's last admission "
            "refusal of it (last_refusal; in the 404's details.last_refusal when unrecorded)",
            [_path("ibtp_id", "from~to~index")],
        ),
        "/v1/accounts/{address}": _get(
            "Last used nonce of an account", [_path("address", "0x address")]
        ),
        "/v1/chains": _get("All app chains", ok="list of chains"),
        "/v1/chains/{chain_id}": _get("One app chain", [_path("chain_id", "chain ID")]),
        "/v1/chains/{chain_id}/pairs": _get(
            "Counters of every pair with an end on the chain",
            [_path("chain_id", "chain ID")],
            ok="list of {from, to, interchain, receipt}",
        ),
        "/v1/services/{service_id}": _get(
            "A service and its counters", [_path("service_id", "hubID:chainID:serviceID")]
        ),
        "/v1/pairs/{src}/{dst}": _get(
            "Counters of one service pair",
            [_path("src", "full service ID"), _path("dst", "full service ID")],
        ),
        "/v1/outbound/{chain}": _get(
            "IBTPs routed to a chain, with relay proofs",
            [
                _path("chain", "chain ID"),
                _query("from_seq", "first sequence number"),
                _query("limit", "at most 500"),
            ],
        ),
        "/healthz": _get("Liveness", ok="{ok, height}"),
        "/openapi.json": _get("This document", ok="OpenAPI 3.1"),
        "/metrics": _get("Prometheus metrics", ok="text exposition format"),
    },
    "components": {"schemas": {"Error": _ERROR}},
}
