"""The same call sequence on the native dev chain and on ganache gives the same results.

docs/broker.md promises that the Solidity broker (`appchains/evm/contracts`, run
here on ganache) and the dev chain's native broker behave identically. This test
runs one scripted sequence — transfers both ways, a mint above the cap (typ 2),
the DataSwap round trip, deliveries with relay signatures, receipts and rollbacks
on both sides, and refusals (wrong index, too few / foreign / malformed
signatures, receipt rules, broker-only service hooks, an unknown selector) — on
two environments:

* **solidity**: two broker deployments (``chainA``, ``chainB``) with their
  services on the session's ganache;
* **native**: two in-process dev chains (``open_devchain``) whose genesis puts
  the native contracts at the addresses ganache gave the Solidity ones, so full
  service IDs, events and return data are byte-comparable without normalising.

One dev-chain seed gives the sender key on every chain: on ganache it is funded,
deploys everything (so it holds the initial token supply) and sends every
transaction, exactly as dev account 0 does on the dev chains.

Every step records: success or revert (with the raw revert data, and the
``Error(string)`` reason), the return data of the ``eth_call``, the mined
status where a refused transaction is also mined, and every log (address,
topics, data) the transaction emitted. Views (counters, messages, balances,
locks, fetched values) are snapshot at checkpoints. Any difference fails with
a per-step diff; each step's expected outcome is also checked, so two equally
wrong implementations do not pass.
"""

from __future__ import annotations

import difflib
import pprint
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import trio
from eth_abi import encode as abi_encode

from appchains.evm.devchain import DevchainConfig, open_devchain
from appchains.evm.devchain.genesis import derive_key
from appchains.evm.ganache import DEFAULT_KEYS
from appchains.evm.rpc import (
    Contract,
    JsonRpc,
    RpcError,
    address_of,
    call,
    decode_revert_reason,
    send_transaction,
)
from relay.crypto import SECP256K1_N, Account
from relay.ibtp import IBTP, IBTPType, TxStatus

from .support import (
    ARTIFACTS,
    CHAIN_A,
    CHAIN_B,
    HUB,
    INITIAL_SUPPLY,
    MINT_CAP,
    RELAY_THRESHOLD,
    RELAY_VALIDATORS,
    TEST_DEADLINE,
    Relay,
    Side,
    deploy_side,
    full_id,
    mint_args,
    receipt_ibtp,
    request_ibtp,
)

SEED = "relayhub-equivalence"
RECIPIENT = "0x" + "11" * 20
ZERO = "0x" + "00" * 20
#: Gas of every transaction: ample for any step, and no eth_estimateGas round (ganache
#: takes ~0.1 s for one; a refused call could not be estimated at all).
GAS = 2_000_000
OUTSIDER = Account.from_key("ab" * 32)

#: Marks a step that must succeed.
OK = None


@dataclass
class Step:
    """What one step did on one chain; ``record`` is what is compared."""

    name: str
    expect: str | None  # OK, or the revert reason the step must give
    record: dict[str, Any]
    logs: list[dict[str, Any]] = field(default_factory=list)


def _log_record(log: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": str(log["address"]).lower(),
        "topics": [str(t).lower() for t in log["topics"]],
        "data": str(log["data"]).lower(),
    }


def _describe(log: dict[str, Any]) -> str:
    """A readable form of a log, for diffs (the raw fields are compared as well)."""
    for artifact in ARTIFACTS.values():
        try:
            event = artifact.decode_log(log)
        except Exception:  # a log another ABI decodes differently
            continue
        if event is not None:
            args = {
                k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in event.args.items()
            }
            return f"{artifact.name}.{event.name}{args}"
    return "unknown log"


class Env:
    """One environment (native or solidity): the two chains and the script's trace."""

    def __init__(self, name: str, key: bytes, a: Side, b: Side) -> None:
        self.name = name
        self.key = key
        self.sender = address_of(key)
        self.a = a
        self.b = b
        self.relay = Relay(RELAY_VALIDATORS, RELAY_THRESHOLD)
        self.trace: list[Step] = []

    # -- recording -------------------------------------------------------------

    async def tx(
        self,
        name: str,
        contract: Contract,
        function: str,
        *args: Any,
        expect: str | None = OK,
        mine: bool = False,
        data: bytes | None = None,
        caller: str | None = None,
    ) -> Step:
        """eth_call, then send: a success is mined (its logs recorded); a revert is
        recorded, and also mined (status and logs recorded) when ``mine`` is set.
        ``caller`` makes the eth_call from another (unfunded) account; it is never sent."""
        calldata = contract.artifact.encode_call(function, *args) if data is None else data
        record: dict[str, Any] = {}
        try:
            returned = await call(
                contract.rpc, contract.address, calldata, sender=caller or self.sender
            )
            record.update(ok=True, returned="0x" + returned.hex())
        except RpcError as exc:
            if "revert" not in exc.message.lower():
                raise
            revert = exc.revert_data or b""
            record.update(ok=False, revert="0x" + revert.hex(), reason=decode_revert_reason(revert))
        step = Step(name, expect, record)
        if caller is not None:
            assert not record["ok"] and not mine, f"{name}: a call from {caller} is never sent"
        elif record["ok"] or mine:
            receipt = await send_transaction(
                contract.rpc,
                self.key,
                to=contract.address,
                data=calldata,
                gas=GAS,
                check=False,
            )
            step.logs = list(receipt["logs"])
            record["status"] = int(receipt["status"], 16)
            record["logs"] = [_log_record(log) for log in step.logs]
            record["events"] = [_describe(log) for log in step.logs]
        self.trace.append(step)
        return step

    async def views(self, label: str) -> None:
        """Snapshot the views of both chains (raw return data of each eth_call)."""
        a, b = self.a, self.b
        eoa = full_id(CHAIN_A, self.sender)
        # pair name -> (from, to, the side that holds its out messages, its receipts)
        pairs = {
            "asset A->B": (a.asset_id, b.asset_id, a, b),
            "asset B->A": (b.asset_id, a.asset_id, b, a),
            "data A->B": (a.data_id, b.data_id, a, b),
            "eoa A->B": (eoa, b.asset_id, a, b),
            "eoa A->nocode B": (eoa, full_id(CHAIN_B, "0x" + "de" * 20), a, b),
        }
        queries: list[tuple[str, Contract, str, tuple[Any, ...]]] = []
        for side in (a, b):
            c = side.chain
            queries += [
                (f"{c} relayValidators", side.broker, "relayValidators", ()),
                (f"{c} totalSupply", side.asset, "totalSupply", ()),
                (f"{c} totalLocked", side.asset, "totalLocked", ()),
                (f"{c} mintCap", side.asset, "mintCap", ()),
                (f"{c} asset.broker", side.asset, "broker", ()),
                (f"{c} data.broker", side.data, "broker", ()),
                (f"{c} asset.owner", side.asset, "owner", ()),
                (f"{c} balanceOf sender", side.asset, "balanceOf", (self.sender,)),
                (f"{c} balanceOf recipient", side.asset, "balanceOf", (RECIPIENT,)),
                (f"{c} valueOf color", side.data, "valueOf", ("color",)),
            ]
            for service in (a.asset_id, b.asset_id, eoa, a.data_id):
                queries.append(
                    (f"{c} isCounterpart {service}", side.asset, "isCounterpart", (service,))
                )
            for pair, (src, dst, _, _) in pairs.items():
                for counter in ("outCounter", "inCounter", "callbackCounter"):
                    queries.append((f"{c} {counter} {pair}", side.broker, counter, (src, dst)))
        for pair, (src, dst, source, destination) in pairs.items():
            # Index 6 is never used: the empty answer of an unknown index.
            for index in (1, 2, 3, 4, 6):
                args = (src, dst, index)
                queries.append((f"outMessage {pair} #{index}", source.broker, "outMessage", args))
                queries.append(
                    (f"receiptMessage {pair} #{index}", destination.broker, "receiptMessage", args)
                )
        for index in range(1, 6):
            queries.append(
                (f"A lockOf B #{index}", a.asset, "lockOf", (b.asset_id, index)),
            )
            queries.append((f"B lockOf A #{index}", b.asset, "lockOf", (a.asset_id, index)))
        for key in ("color", "missing"):
            queries.append((f"A fetched {key}", a.data, "fetched", (b.data_id, key)))
        record: dict[str, Any] = {}
        for name, contract, function, args in queries:
            data = contract.artifact.encode_call(function, *args)
            try:
                record[name] = "0x" + (await call(contract.rpc, contract.address, data)).hex()
            except RpcError as exc:
                record[name] = f"revert 0x{(exc.revert_data or b'').hex()}"
        self.trace.append(Step(f"views: {label}", OK, {"ok": True, "views": record}))

    # -- relay + gateway steps -------------------------------------------------

    def event(self, step: Step, name: str, index: int = 0) -> dict[str, Any]:
        """The ``index``-th broker event ``name`` a mined step emitted (decoded)."""
        broker = ARTIFACTS["Broker"]
        found = [e for e in (broker.decode_log(log) for log in step.logs) if e and e.name == name]
        assert len(found) > index, f"{self.name}: step {step.name!r} emitted no {name}"
        return dict(found[index].args)

    async def invoke_interchain(
        self,
        name: str,
        side: Side,
        ibtp: IBTP,
        *,
        sigs: Sequence[bytes] | None = None,
        index: int | None = None,
        to: str | None = None,
        expect: str | None = OK,
        mine: bool = False,
    ) -> Step:
        signatures = list(
            self.relay.sign(ibtp, TxStatus.BEGIN, target=side.chain) if sigs is None else sigs
        )
        return await self.tx(
            name,
            side.broker,
            "invokeInterchain",
            ibtp.src,
            ibtp.dst if to is None else to,
            ibtp.index if index is None else index,
            ibtp.payload.func,
            list(ibtp.payload.args),
            signatures,
            expect=expect,
            mine=mine,
        )

    async def invoke_receipt(
        self,
        name: str,
        side: Side,
        src: str,
        dst: str,
        index: int,
        typ: int,
        result: bytes,
        status: int,
        *,
        sign_as: tuple[int, int] | None = None,
        expect: str | None = OK,
        mine: bool = False,
    ) -> Step:
        """invokeReceipt; the relay signs (typ, status) or, for refusals, ``sign_as``."""
        sign_typ, sign_status = (typ, status) if sign_as is None else sign_as
        ibtp = receipt_ibtp(src, dst, index, IBTPType(sign_typ), result)
        sigs = self.relay.sign(ibtp, sign_status, target=side.chain)
        return await self.tx(
            name,
            side.broker,
            "invokeReceipt",
            src,
            dst,
            index,
            typ,
            result,
            status,
            sigs,
            expect=expect,
            mine=mine,
        )


async def script(e: Env) -> None:
    """The call sequence; every environment runs exactly this."""
    a, b = e.a, e.b
    A, B = a.asset_id, b.asset_id
    v0, v1, v2 = RELAY_VALIDATORS
    BEGIN_FAILURE, BEGIN_ROLLBACK = int(TxStatus.BEGIN_FAILURE), int(TxStatus.BEGIN_ROLLBACK)
    await e.views("genesis")

    # The owner (the deployer, dev account 0) pairs the two AssetTransfers.
    await e.tx(
        "transfer before B is a counterpart",
        a.asset,
        "transfer",
        B,
        RECIPIENT,
        300,
        0,
        expect="asset: destination is not a counterpart",
        mine=True,
    )
    await e.tx(
        "setCounterpart by an outsider",
        a.asset,
        "setCounterpart",
        B,
        True,
        expect="asset: only the owner",
        caller=OUTSIDER.address,
    )
    await e.tx("A registers B", a.asset, "setCounterpart", B, True)
    await e.tx("B registers A", b.asset, "setCounterpart", A, True)
    await e.tx("A registers B's DataSwap", a.asset, "setCounterpart", b.data_id, True)
    await e.tx("A drops B's DataSwap", a.asset, "setCounterpart", b.data_id, False)
    await e.tx(
        "transfer to a service that is not a counterpart",
        a.asset,
        "transfer",
        b.data_id,
        RECIPIENT,
        300,
        0,
        expect="asset: destination is not a counterpart",
    )
    await e.views("after pairing")

    # Outbound transfers A -> B and the transfers the service refuses.
    t = [
        await e.tx("transfer 300", a.asset, "transfer", B, RECIPIENT, 300, 0),
        await e.tx("transfer above B's cap", a.asset, "transfer", B, RECIPIENT, MINT_CAP + 1, 0),
        await e.tx("transfer 40 (times out)", a.asset, "transfer", B, RECIPIENT, 40, 7),
        await e.tx("transfer 20 (undone later)", a.asset, "transfer", B, RECIPIENT, 20, 0),
    ]
    await e.tx(
        "transfer zero",
        a.asset,
        "transfer",
        B,
        RECIPIENT,
        0,
        0,
        expect="asset: zero amount",
        mine=True,
    )
    await e.tx(
        "transfer above balance",
        a.asset,
        "transfer",
        B,
        RECIPIENT,
        INITIAL_SUPPLY,
        0,
        expect="asset: insufficient balance",
    )
    req = [request_ibtp(e.event(s, "InterchainEvent")) for s in t]
    await e.views("after transfers")

    # Inbound on B: refusals first.
    await e.invoke_interchain(
        "request #2 before #1", b, req[1], expect="broker: index out of order"
    )
    below = "broker: relay signatures below threshold"
    sig = e.relay.sign(req[0], TxStatus.BEGIN, signers=[v0, v1, v2])
    await e.invoke_interchain("one signature", b, req[0], sigs=sig[:1], expect=below, mine=True)
    await e.invoke_interchain("a signer twice", b, req[0], sigs=[sig[0], sig[0]], expect=below)
    await e.invoke_interchain("no signatures", b, req[0], sigs=[], expect=below)
    outsider = e.relay.sign(req[0], TxStatus.BEGIN, signers=[OUTSIDER])
    await e.invoke_interchain(
        "quorum plus an outsider",
        b,
        req[0],
        sigs=[*sig[:2], *outsider],
        expect="broker: unregistered relay signer",
    )
    await e.invoke_interchain(
        "signed for another hub",
        b,
        req[0],
        sigs=e.relay.sign(req[0], TxStatus.BEGIN, hub="hub2"),
        expect="broker: unregistered relay signer",
    )
    malformed = "broker: malformed relay signature"
    await e.invoke_interchain(
        "short signature", b, req[0], sigs=[sig[0][:64], sig[1]], expect=malformed
    )
    bad_v = sig[0][:64] + bytes([29])
    await e.invoke_interchain("v = 29", b, req[0], sigs=[bad_v, sig[1]], expect=malformed)
    s = int.from_bytes(sig[0][32:64], "big")
    high_s = sig[0][:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[0][64]])
    await e.invoke_interchain("high s", b, req[0], sigs=[high_s, sig[1]], expect=malformed)
    await e.invoke_interchain(
        "to on another chain",
        b,
        req[0],
        to=full_id("chainC", b.asset.address),
        expect="broker: to is not a local service",
    )
    await e.invoke_interchain(
        "to in upper case",
        b,
        req[0],
        to=f"{HUB}:{CHAIN_B}:0x{b.asset.address[2:].upper()}",
        expect="broker: to is not a local service",
    )

    # Inbound on B: executions, a failing call, timeouts before and after execution.
    r1 = await e.invoke_interchain("deliver #1 (mint 300)", b, req[0], sigs=[sig[2], sig[1]])
    await e.invoke_interchain("deliver #1 again", b, req[0], expect="broker: index out of order")
    r2 = await e.invoke_interchain("deliver #2 (above cap)", b, req[1])
    rollback = (A, B, 3, int(IBTPType.RECEIPT_ROLLBACK), b"")
    await e.invoke_receipt("rollback #3 at B before delivery", b, *rollback, BEGIN_ROLLBACK)
    await e.invoke_receipt(
        "rollback #3 at B again",
        b,
        *rollback,
        BEGIN_ROLLBACK,
        expect="broker: receipt already processed",
    )
    # The notice consumed index 3: its request is no longer next.
    await e.invoke_interchain(
        "deliver #3 (consumed by its rollback)", b, req[2], expect="broker: index out of order"
    )
    r4 = await e.invoke_interchain("deliver #4 (mint 20)", b, req[3])
    # A notice for an executed index is taken and changes nothing (no undo, no event).
    await e.invoke_receipt("notice #4 at B after execution", b, A, B, 4, 3, b"", BEGIN_ROLLBACK)
    await e.invoke_receipt("notice #4 at B again", b, A, B, 4, 3, b"", BEGIN_ROLLBACK)
    await e.invoke_receipt("notice at B for index 6, ahead of 5", b, A, B, 6, 3, b"", BEGIN_FAILURE)
    await e.views("after a notice ahead of the counter")
    await e.invoke_receipt(
        "notice at B for index 5 (moves past 5 and 6)", b, A, B, 5, 3, b"", BEGIN_ROLLBACK
    )
    await e.views("after inbound on B")

    # Receipts back at A.
    results = [e.event(r, "ReceiptEvent") for r in (r1, r2, r4)]
    ok1 = (A, B, 1, 1, results[0]["result"])
    await e.invoke_receipt("receipt #1 success at A", a, *ok1, int(TxStatus.SUCCESS))
    await e.invoke_receipt(
        "receipt #1 again",
        a,
        *ok1,
        int(TxStatus.SUCCESS),
        expect="broker: receipt already processed",
    )
    await e.invoke_receipt(
        "receipt #2 failure at A", a, A, B, 2, 2, results[1]["result"], int(TxStatus.FAILURE)
    )
    await e.invoke_receipt("rollback #3 at A", a, A, B, 3, 3, b"", BEGIN_ROLLBACK)
    await e.invoke_receipt(
        "late receipt #4 success at A", a, A, B, 4, 1, results[2]["result"], int(TxStatus.SUCCESS)
    )
    await e.invoke_receipt(
        "receipt for an index never sent",
        a,
        A,
        B,
        9,
        1,
        b"x",
        1,
        expect="broker: unknown index",
        mine=True,
    )
    await e.invoke_receipt(
        "receipt for index 0", a, A, B, 0, 1, b"x", 1, expect="broker: unknown index"
    )
    await e.invoke_receipt(
        "receipt type 4", a, A, B, 1, 4, b"", 1, sign_as=(1, 1), expect="broker: bad receipt type"
    )
    await e.invoke_receipt(
        "success with status FAILURE",
        a,
        A,
        B,
        1,
        1,
        b"",
        2,
        expect="broker: status does not match type",
    )
    await e.invoke_receipt(
        "rollback with a result",
        a,
        A,
        B,
        1,
        3,
        b"x",
        BEGIN_ROLLBACK,
        sign_as=(1, BEGIN_ROLLBACK),
        expect="broker: rollback carries no result",
    )
    await e.invoke_receipt(
        "neither side local",
        a,
        B,
        B,
        1,
        1,
        b"",
        1,
        expect="broker: neither side is local",
    )
    await e.invoke_receipt(
        "receipt signed with the wrong status",
        a,
        A,
        B,
        3,
        3,
        b"",
        BEGIN_ROLLBACK,
        sign_as=(3, BEGIN_FAILURE),
        expect="broker: unregistered relay signer",
    )
    await e.views("after receipts at A")

    # DataSwap: a set, a get that finds the key and one that does not.
    D_A, D_B = a.data_id, b.data_id
    await e.tx("set color at B", b.data, "set", "color", b"blue")
    gets = [
        await e.tx("get color from B", a.data, "get", D_B, "color", 0),
        await e.tx("get missing from B", a.data, "get", D_B, "missing", 3),
    ]
    answers = []
    for i, g in enumerate(gets):
        answers.append(
            await e.invoke_interchain(
                f"deliver get #{i + 1}", b, request_ibtp(e.event(g, "InterchainEvent"))
            )
        )
    for i, answer in enumerate(answers):
        receipt = e.event(answer, "ReceiptEvent")
        status = int(TxStatus.SUCCESS) if receipt["typ"] == 1 else int(TxStatus.FAILURE)
        await e.invoke_receipt(
            f"answer to get #{i + 1} at A",
            a,
            D_A,
            D_B,
            i + 1,
            receipt["typ"],
            receipt["result"],
            status,
        )

    # Requests emitted directly by an account. A hostile mint first: the account is no
    # counterpart of B's AssetTransfer, which refuses it (FAILURE, nothing minted).
    eoa = full_id(CHAIN_A, e.sender)
    nocode = full_id(CHAIN_B, "0x" + "de" * 20)
    hostile = await e.tx(
        "emit: hostile mint", a.broker, "emitInterchain", B, "mint", [mint_args(RECIPIENT, 999)], 0
    )
    request = request_ibtp(e.event(hostile, "InterchainEvent"))
    done = await e.invoke_interchain("deliver: hostile mint", b, request)
    receipt = e.event(done, "ReceiptEvent")
    assert (receipt["typ"], receipt["result"]) == (2, b"asset: source is not a counterpart")
    await e.invoke_receipt(
        "receipt at A: hostile mint",
        a,
        eoa,
        B,
        request.index,
        2,
        receipt["result"],
        int(TxStatus.FAILURE),
    )
    await e.views("after a hostile mint")
    # Then, with the account registered for a while, odd payloads reach the checks
    # behind the caller's; and a target without code.
    await e.tx("B registers the account (payload tests)", b.asset, "setCounterpart", eoa, True)
    direct = [
        ("unknown function", B, "burn", [mint_args(RECIPIENT, 1)]),
        ("undecodable args", B, "mint", [b"\x01\x02"]),
        ("two args", B, "mint", [b"", b""]),
        ("mint to zero", B, "mint", [mint_args(ZERO, 5)]),
        ("no service code", nocode, "mint", [mint_args(RECIPIENT, 5)]),
    ]
    for what, to, func, args in direct:
        emitted = await e.tx(f"emit: {what}", a.broker, "emitInterchain", to, func, args, 0)
        request = request_ibtp(e.event(emitted, "InterchainEvent"))
        done = await e.invoke_interchain(f"deliver: {what}", b, request)
        receipt = e.event(done, "ReceiptEvent")
        await e.invoke_receipt(
            f"receipt at A: {what}",
            a,
            eoa,
            to,
            request.index,
            receipt["typ"],
            receipt["result"],
            int(TxStatus.FAILURE) if receipt["typ"] == 2 else int(TxStatus.SUCCESS),
        )
    await e.tx("B drops the account", b.asset, "setCounterpart", eoa, False)

    # Service hooks are the broker's only; unknown selectors revert without data.
    await e.tx(
        "onInterchain from an account",
        b.asset,
        "onInterchain",
        A,
        1,
        "mint",
        [mint_args(RECIPIENT, 1)],
        expect="asset: only the broker",
    )
    await e.tx(
        "onCallback from an account",
        a.data,
        "onCallback",
        D_B,
        1,
        True,
        b"",
        expect="dataswap: only the broker",
    )
    await e.tx(
        "onRollback from an account", a.asset, "onRollback", B, 1, expect="asset: only the broker"
    )
    await e.tx(
        "unknown selector on the broker",
        a.broker,
        "outCounter",
        expect="",
        data=bytes.fromhex("deadbeef") + abi_encode(["uint256"], [1]),
    )

    # The other direction: B -> A, executed at A, acknowledged at B.
    back = await e.tx("transfer 7 B -> A", b.asset, "transfer", A, RECIPIENT, 7, 0)
    back_req = request_ibtp(e.event(back, "InterchainEvent"))
    done = await e.invoke_interchain("deliver B -> A #1", a, back_req)
    result = e.event(done, "ReceiptEvent")["result"]
    await e.invoke_receipt("receipt B -> A #1 at B", b, B, A, 1, 1, result, int(TxStatus.SUCCESS))
    await e.views("final")


def _readable(step: Step) -> str:
    return pprint.pformat({"step": step.name, **step.record}, width=100, sort_dicts=False)


def compare(native: list[Step], solidity: list[Step]) -> list[str]:
    """One diff per step that differs (and a note if the traces have different lengths)."""
    problems = []
    for n, s in zip(native, solidity, strict=False):
        if (n.name, n.record) != (s.name, s.record):
            diff = difflib.unified_diff(
                _readable(s).splitlines(),
                _readable(n).splitlines(),
                "solidity (ganache)",
                "native (dev chain)",
                lineterm="",
            )
            problems.append(f"step {s.name!r} differs:\n" + "\n".join(diff))
    if len(native) != len(solidity):
        problems.append(f"native ran {len(native)} steps, solidity {len(solidity)}")
    return problems


def check_expectations(env: Env) -> list[str]:
    problems = []
    for step in env.trace:
        rec = step.record
        if step.expect is OK:
            if not rec["ok"] or rec.get("status", 1) != 1:
                problems.append(f"{env.name}: {step.name!r} should succeed: {rec}")
        elif rec["ok"] or (rec["reason"] or "") != step.expect:
            problems.append(f"{env.name}: {step.name!r} should revert {step.expect!r}: {rec}")
        elif "status" in rec and (rec["status"] != 0 or rec["logs"]):
            problems.append(f"{env.name}: mined refusal {step.name!r} changed something: {rec}")
    return problems


async def _run(env: Env) -> None:
    try:
        await script(env)
    except Exception as exc:  # the trace so far is still compared, and the error shown
        env.trace.append(Step("script aborted", OK, {"ok": False, "error": repr(exc)}))


async def _deploy_solidity(rpc: JsonRpc, funder: bytes, key: bytes) -> tuple[Side, Side]:
    await send_transaction(rpc, funder, to=address_of(key), value=10**22)
    validators = [v.address for v in RELAY_VALIDATORS]
    a = await deploy_side(rpc, key, CHAIN_A, validators, RELAY_THRESHOLD)
    b = await deploy_side(rpc, key, CHAIN_B, validators, RELAY_THRESHOLD)
    return a, b


def _native_config(side: Side) -> DevchainConfig:
    return DevchainConfig(
        seed=SEED,
        chain_id=1337,
        hub_id=HUB,
        chain_name=side.chain,
        accounts=1,  # one holder of the whole initial supply, as ganache's deployer
        token_balance=INITIAL_SUPPLY,
        mint_cap=MINT_CAP,
        relay_validators=tuple(v.address for v in RELAY_VALIDATORS),
        relay_threshold=RELAY_THRESHOLD,
        broker_address=side.broker.address,
        asset_transfer_address=side.asset.address,
        data_swap_address=side.data.address,
        block_interval=0.005,
        empty_block_interval=0,
    )


def _bind(rpc: JsonRpc, side: Side) -> Side:
    def bound(c: Contract) -> Contract:
        return Contract(rpc, c.artifact, c.address)

    return Side(side.chain, bound(side.broker), bound(side.asset), bound(side.data))


async def test_native_and_solidity_brokers_agree(rpc: JsonRpc) -> None:
    key = derive_key(SEED, "account", 0).secret
    with trio.fail_after(TEST_DEADLINE):
        sol_a, sol_b = await _deploy_solidity(rpc, DEFAULT_KEYS[0], key)
        solidity = Env("solidity", key, sol_a, sol_b)
        async with (
            open_devchain(_native_config(sol_a)) as chain_a,
            open_devchain(_native_config(sol_b)) as chain_b,
            JsonRpc(chain_a.url) as rpc_a,
            JsonRpc(chain_b.url) as rpc_b,
        ):
            assert chain_a.accounts[0].secret == key
            native = Env("native", key, _bind(rpc_a, sol_a), _bind(rpc_b, sol_b))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_run, native)
                nursery.start_soon(_run, solidity)

    problems = compare(native.trace, solidity.trace)
    assert not problems, "native and Solidity brokers diverge:\n\n" + "\n\n".join(problems)
    expectations = check_expectations(solidity) + check_expectations(native)
    assert not expectations, "\n".join(expectations)
    assert len(solidity.trace) == len(native.trace) > 70
