"""The Fabric broker and asset chaincodes against the EVM native broker and AssetTransfer:
the same deliveries give the same receipt types and result bytes on both."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devchain"))

from devchain_helpers import (
    RECEIPT_TYPES,
    CoreChain,
    calldata,
    interchain_call,
)
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from test_fabric_chaincode import (
    ALICE,
    ASSET,
    DATASWAP,
    HOSTILE,
    MINT_CAP,
    OTHER,
    add_counterparts,
    event,
    interchain,
    make_world,
    mint_arg,
)

DELIVERIES: list[tuple[str, str, list[bytes]]] = [
    ("asset", "mint", [mint_arg(amount=300)]),
    ("asset", "mint", [mint_arg(amount=MINT_CAP + 1)]),
    ("asset", "mint", [mint_arg(recipient="0x" + "00" * 20)]),
    ("asset", "burn", [mint_arg()]),
    ("asset", "mint", [mint_arg(), mint_arg()]),
    ("asset", "mint", []),
    ("asset", "mint", [b"\x01\x02"]),
    ("asset", "mint", [mint_arg(amount=MINT_CAP)]),
    ("dataswap", "get", [abi_encode(["string"], ["nothing"])]),
    ("dataswap", "get", [abi_encode(["string"], ["color"])]),
    ("dataswap", "put", [b""]),
]


def test_same_deliveries_same_receipts() -> None:
    evm = CoreChain()
    assert evm.send(evm.asset, calldata("setCounterpart(string,bool)", OTHER, True)).receipt.status
    assert evm.send(evm.dataswap, calldata("set(string,bytes)", "color", b"blue")).receipt.status
    fabric = make_world()
    add_counterparts(fabric, OTHER)
    assert fabric.invoke("dataswap", "set", "color", b"blue", creator=ALICE).ok
    targets = {
        "asset": (evm.full_id(evm.asset), ASSET),
        "dataswap": (evm.full_id(evm.dataswap), DATASWAP),
    }
    indices = {"asset": 0, "dataswap": 0}
    results: set[tuple[int, bytes]] = set()
    deliveries = [(OTHER, *d) for d in DELIVERIES] + [(HOSTILE, "asset", "mint", [mint_arg()])]
    for src, service, func, args in deliveries:
        evm_id, fabric_id = targets[service]
        index = 1 if src == HOSTILE else indices[service] + 1
        indices[service] = index if src == OTHER else indices[service]
        log = evm.send(evm.broker, interchain_call(src, evm_id, index, func, args))
        _s, _d, _i, evm_typ, evm_result, _h = abi_decode(RECEIPT_TYPES, log.receipt.logs[-1].data)
        ev = event(interchain(fabric, src, fabric_id, index, func, args))
        assert (ev.typ, ev.result) == (evm_typ, evm_result), (src, service, func, args)
        results.add((ev.typ, ev.result))
    assert indices == {"asset": 8, "dataswap": 3}
    assert (1, b"blue") in results and (2, b"") in results
    assert (2, b"asset: source is not a counterpart") in results and len(results) == 11
