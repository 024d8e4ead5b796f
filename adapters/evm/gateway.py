"""EVM adapter, gateway side: watch the broker, build receipt proofs, execute inbound IBTPs.

Talks to the chain only through Ethereum JSON-RPC (:mod:`adapters.evm.rpc`):

* ``poll`` reads the broker's logs (``eth_getLogs``), and for each block with
  broker events fetches the header (re-encoded from JSON and checked against the
  block hash), all receipts (``eth_getBlockReceipts``, else one
  ``eth_getTransactionReceipt`` per transaction), rebuilds the receipts trie and
  **checks it against ``receiptsRoot`` before submitting anything**, and attaches
  seals: the chain's own (``relayhub_getBlockSeals``, mode ``seal``) or signatures
  by the operator's notary keys over the same seal digest (mode ``notary``, for
  nodes such as ganache that do not seal).
* ``deliver`` sends signed transactions to the broker (``invokeInterchain`` /
  ``invokeReceipt``) pipelined with consecutive nonces, then waits for all
  receipts; a request the broker already executed is skipped (``inCounter``); a
  receipt is checked with ``eth_call`` first unless it comes after everything this
  adapter delivered since it started (one applied anyway reverts and is recognised).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from adapters.base import (
    BrokerCounters,
    Delivery,
    DeliveryOutcome,
    DeliveryRefused,
    PollResult,
    RelayInfo,
)
from adapters.evm.client import EvmSender, selector
from adapters.evm.lean_rpc import open_rpc
from adapters.evm.mpt import build_receipt_proofs, encode_receipt_json
from adapters.evm.proof import (
    CALLBACK_EVENT_TOPIC,
    CALLBACK_EVENT_TYPES,
    INTERCHAIN_EVENT_TOPIC,
    INTERCHAIN_EVENT_TYPES,
    RECEIPT_EVENT_TOPIC,
    RECEIPT_EVENT_TYPES,
    EvmProof,
    encode_evm_proof,
    sign_seal,
)
from adapters.evm.rpc import (
    EthRpc,
    RpcError,
    encode_header_from_json,
    hex_to_bytes,
    hex_to_int,
)
from adapters.evm.settings import EvmChainSection
from relay.config import ConfigError, default_of, load_mapping
from relay.crypto import Account, read_key_file
from relay.errors import Code
from relay.ibtp import IBTP, IBTPType, Payload, TxStatus
from relay.ibtp.ids import parse_service_id

log = logging.getLogger("relayhub.adapters.evm")


SEL_INVOKE_INTERCHAIN = selector("invokeInterchain(string,string,uint64,string,bytes[],bytes[])")
SEL_INVOKE_RECEIPT = selector("invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])")
SEL_OUT_COUNTER = selector("outCounter(string,string)")
SEL_IN_COUNTER = selector("inCounter(string,string)")
SEL_CALLBACK_COUNTER = selector("callbackCounter(string,string)")
SEL_RELAY_VALIDATORS = selector("relayValidators()")
SEL_EMIT_INTERCHAIN = selector("emitInterchain(string,string,bytes[],uint64)")
#: The broker's refusal of a request addressed to its own chain (docs/broker.md).
_LOCAL_REFUSAL = "to is on this chain"

_ALREADY = ("already processed", "index out of order")
#: ABI word of CallbackEvent's typ for a rollback (RECEIPT_ROLLBACK = 3).
_TYP_ROLLBACK_WORD = int(IBTPType.RECEIPT_ROLLBACK).to_bytes(32, "big")
#: Blocks whose headers, seals and receipts are fetched in one batched request.
_BLOCKS_PER_FETCH = 100


@dataclass(frozen=True, slots=True)
class EvmAdapterConfig:
    chain_id: str
    rpc: str
    broker: str
    key: Account
    seal_mode: str = default_of(EvmChainSection, "seal_mode")
    notary_keys: tuple[Account, ...] = ()
    confirmations: int = default_of(EvmChainSection, "confirmations")
    max_blocks_per_poll: int = default_of(EvmChainSection, "max_blocks_per_poll")
    gas: int = default_of(EvmChainSection, "gas")
    receipt_timeout: float = default_of(EvmChainSection, "receipt_timeout")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvmAdapterConfig:
        """From a ``[chain]`` table (:class:`EvmChainSection`; ``type`` may be there). A
        caller building one in code may pass :class:`Account` objects for the keys."""
        table = {k: _key_text(v) for k, v in d.items() if k != "type"}
        if isinstance(table.get("notary_keys"), list | tuple):
            table["notary_keys"] = [_key_text(k) for k in table["notary_keys"]]
        s = load_mapping(EvmChainSection, table, key="chain")
        if s.seal_mode == "notary" and not s.notary_keys:
            raise ConfigError(['chain.notary_keys: required with seal_mode = "notary"'])
        return cls(
            chain_id=s.id,
            rpc=s.rpc,
            broker=s.broker.lower(),
            key=_load_key(s.key),
            seal_mode=s.seal_mode,
            notary_keys=tuple(_load_key(k) for k in s.notary_keys),
            confirmations=s.confirmations,
            max_blocks_per_poll=s.max_blocks_per_poll,
            gas=s.gas,
            receipt_timeout=s.receipt_timeout,
        )


def _key_text(value: Any) -> Any:
    """An Account as the ``0x`` + 64-hex form a key setting also takes."""
    return "0x" + value.secret_hex.removeprefix("0x") if isinstance(value, Account) else value


def _load_key(value: Any) -> Account:
    if isinstance(value, Account):
        return value
    s = str(value)
    if s.startswith("0x") and len(s) == 66:
        return Account.from_key(s)
    return read_key_file(Path(s))


class EvmAdapter:
    type: ClassVar[str] = "evm"
    #: The ``[chain]`` keys of its gateway file (relay.config checks them).
    config_schema: ClassVar[Any] = EvmChainSection

    def __init__(self, config: EvmAdapterConfig, rpc: EthRpc | None = None) -> None:
        self.config = config
        self.rpc = rpc or open_rpc(config.rpc)
        self.sender = EvmSender(self.rpc, config.key, config.gas, config.receipt_timeout)
        self._evm_chain_id = 0
        self._failed_status: bytes | None = None
        self._block_receipts_rpc = True  # until the node says it has no eth_getBlockReceipts
        # Highest stream position delivered without error since the start (None: unknown).
        self._delivered_seq: int | None = None
        # (src, dst, index, kind) -> block number, learnt while polling (for refetch).
        self._seen: dict[tuple[str, str, int, str], int] = {}

    @classmethod
    def from_config(cls, d: dict[str, Any]) -> EvmAdapter:
        return cls(EvmAdapterConfig.from_dict(d))

    @property
    def chain_id(self) -> str:
        return self.config.chain_id

    async def start(self) -> None:
        self._evm_chain_id = hex_to_int(await self.rpc.call("eth_chainId"))
        code = await self.rpc.call("eth_getCode", self.config.broker, "latest")
        if code in (None, "0x", "0x0"):
            log.info(
                "broker %s has no EVM code (native broker or not deployed)", self.config.broker
            )

    async def stop(self) -> None:
        await self.rpc.aclose()

    async def preflight(self, relay: RelayInfo) -> list[str]:
        """The chain and broker are the registered ones (docs/gateway.md, "Preflight"):
        the EVM chain id of the trust root, the broker address, the broker's relay
        validators and threshold, its hub ID and chain ID, and a funded account."""
        problems: list[str] = []
        cfg, chain = self.config, relay.chain
        evm_id = hex_to_int(await self.rpc.call("eth_chainId"))
        root = chain.get("trust_root")
        if isinstance(root, dict) and root.get("evm_chain_id") not in (None, evm_id):
            problems.append(
                f"the node at {cfg.rpc} is EVM chain id {evm_id}, but chain {cfg.chain_id} is "
                f"registered with evm_chain_id {root['evm_chain_id']}: point [chain] rpc at "
                "the registered chain"
            )
        registered = str(chain.get("broker", "")).lower()
        if registered != cfg.broker:
            problems.append(
                f"[chain] broker is {cfg.broker}, but chain {cfg.chain_id} is registered with "
                f"broker {registered}"
            )
        out = await self.rpc.call(
            "eth_call", {"to": cfg.broker, "data": "0x" + SEL_RELAY_VALIDATORS.hex()}, "latest"
        )
        try:
            got, threshold = abi_decode(["address[]", "uint64"], hex_to_bytes(out or "0x"))
        except Exception:
            return [*problems, f"no broker at {cfg.broker} on {cfg.rpc} (relayValidators() failed)"]
        mine = sorted(str(a).lower() for a in got)
        if mine != sorted(relay.validators) or threshold != relay.validator_threshold:
            problems.append(
                f"the broker checks relay proofs against validators {mine} with threshold "
                f"{threshold}, but the relay's are {sorted(relay.validators)} with threshold "
                f"{relay.validator_threshold}: deploy the broker with the relay's genesis "
                "(dev chain: `relayhub devchain start --relay-dir RELAY_DIR`)"
            )
        # The broker refuses a request to a service of its own chain: it recognises
        # hub:chain: as its own prefix exactly when it was deployed for this hub and chain.
        local = f"{relay.hub_id}:{cfg.chain_id}:0x{'0' * 40}"
        probe = SEL_EMIT_INTERCHAIN + abi_encode(
            ["string", "string", "bytes[]", "uint64"], [local, "", [], 0]
        )
        refusal = await self._dry_run(probe)
        text = (
            ""
            if refusal is None
            else f"{refusal.message} {_revert_reason(refusal.details.get('data'))}"
        )
        if _LOCAL_REFUSAL not in text:
            problems.append(
                f"the broker at {cfg.broker} was not deployed for hub {relay.hub_id!r} and chain "
                f"{cfg.chain_id!r} (it takes {local} for a remote service): its relay proofs "
                "and service IDs would not match; deploy it with this hub ID and chain ID "
                "(dev chain: --relay-dir and --chain-name)"
            )
        balance = hex_to_int(await self.rpc.call("eth_getBalance", self.sender.address, "latest"))
        price = hex_to_int(await self.rpc.call("eth_gasPrice"))
        if balance == 0 and price > 0:
            problems.append(
                f"the gateway's EVM account {self.sender.address} ([chain] key) has no funds to "
                "pay for deliveries; fund it (it is the gateway's alone: nothing else may send "
                "from it)"
            )
        return problems

    # --- watch ----------------------------------------------------------------

    async def poll(self, checkpoint: int, limit: int = 1000) -> PollResult:
        head = hex_to_int(await self.rpc.call("eth_blockNumber")) - self.config.confirmations
        if head <= checkpoint:
            return PollResult((), checkpoint, max(head, checkpoint))
        to = min(head, checkpoint + self.config.max_blocks_per_poll)
        # Decide from the logs alone which blocks hold news for the relay (a source-side
        # CallbackEvent of a success or failure is not), and fetch and prove only those.
        by_block = await self._news_by_block(checkpoint + 1, to)
        chosen: dict[int, list[tuple[dict[str, Any], IBTP]]] = {}
        count = 0
        done = to
        for number in sorted(by_block):
            chosen[number] = by_block[number]
            count += len(by_block[number])
            if count >= limit and number < to:
                done = number
                break
        return PollResult(tuple(await self._prove(chosen)), done, head)

    async def _prove(self, by_block: dict[int, list[tuple[dict[str, Any], IBTP]]]) -> list[IBTP]:
        """Attach proofs to the IBTPs of each block, oldest block first. Headers, seals
        and receipts of all the blocks come in two batched requests."""
        out: list[IBTP] = []
        numbers = sorted(by_block)
        for lo in range(0, len(numbers), _BLOCKS_PER_FETCH):
            chunk = numbers[lo : lo + _BLOCKS_PER_FETCH]
            fetched = await self._fetch_blocks(chunk)
            for number, (block, receipts, seals) in zip(chunk, fetched, strict=True):
                out.extend(self._block_ibtps(number, block, receipts, seals, by_block[number]))
        return out

    async def _fetch_blocks(
        self, numbers: list[int]
    ) -> list[tuple[dict[str, Any], list[dict[str, Any]], tuple[bytes, ...]]]:
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBlockByNumber", [hex(n), False]) for n in numbers
        ]
        if self.config.seal_mode != "notary":
            calls += [("relayhub_getBlockSeals", [hex(n)]) for n in numbers]
        got = await self.rpc.batch(calls)
        blocks = got[: len(numbers)]
        for number, block in zip(numbers, blocks, strict=True):
            if block is None:
                raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"block {number} is not available")
        if self.config.seal_mode == "notary":
            seals = [
                tuple(
                    sign_seal(k, self._evm_chain_id, hex_to_bytes(b["hash"]))
                    for k in self.config.notary_keys
                )
                for b in blocks
            ]
        else:
            seals = [tuple(hex_to_bytes(x) for x in (raw or ())) for raw in got[len(numbers) :]]
        receipts = await self._blocks_receipts(blocks)
        return list(zip(blocks, receipts, seals, strict=True))

    def _block_ibtps(
        self,
        number: int,
        block: dict[str, Any],
        receipts: list[dict[str, Any]],
        seals: tuple[bytes, ...],
        found: list[tuple[dict[str, Any], IBTP]],
    ) -> list[IBTP]:
        header_rlp = encode_header_from_json(block)
        block_hash = hex_to_bytes(block["hash"])
        encoded, paths = self._encode_receipts(
            receipts, hex_to_bytes(block["receiptsRoot"]), number
        )
        ibtps = []
        for lg, bare in sorted(found, key=lambda x: hex_to_int(x[0]["logIndex"])):
            tx_index = hex_to_int(lg["transactionIndex"])
            log_index = _position_in_receipt(lg, receipts, tx_index)
            proof = EvmProof(
                block_hash=block_hash,
                header_rlp=header_rlp,
                seals=seals,
                receipt=encoded[tx_index],
                tx_index=tx_index,
                nodes=tuple(paths[tx_index]),
                log_index=log_index,
            )
            ibtp = dataclasses.replace(bare, proof=encode_evm_proof(proof))
            self._seen[(ibtp.src, ibtp.dst, ibtp.index, _kind(ibtp.type))] = number
            ibtps.append(ibtp)
        return ibtps

    async def _blocks_receipts(self, blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Every receipt of each block, in transaction order."""
        if self._block_receipts_rpc:
            try:
                got = await self.rpc.batch(
                    [("eth_getBlockReceipts", [b["number"]]) for b in blocks]
                )
                if all(r is not None for r in got):
                    return [sorted(r, key=lambda x: hex_to_int(x["transactionIndex"])) for r in got]
            except RpcError:
                # ganache has no eth_getBlockReceipts: fetch them one by one from now on
                self._block_receipts_rpc = False
        hashes = [h for b in blocks for h in b["transactions"]]
        flat = await self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        out, pos = [], 0
        for b in blocks:
            out.append(flat[pos : pos + len(b["transactions"])])
            pos += len(b["transactions"])
        return out

    def _encode_receipts(
        self, receipts: list[dict[str, Any]], root: bytes, number: int
    ) -> tuple[list[bytes], list[list[bytes]]]:
        """Encode receipts the way this chain does: a failed status is b"" on geth-like
        chains and 0x00 on ganache; keep whichever reproduces ``receiptsRoot``. Returns
        the encodings and every receipt's proof path (one trie build per choice)."""
        choices = [self._failed_status] if self._failed_status is not None else [b"", b"\x00"]
        for failed in choices:
            enc = [encode_receipt_json(r, failed) for r in receipts]
            got, paths = build_receipt_proofs(enc)
            if got == root:
                if any(hex_to_int(r["status"]) != 1 for r in receipts):
                    self._failed_status = failed
                return enc, paths
        raise RpcError(
            Code.CHAIN_INCONSISTENT,
            f"block {number}: receipts rebuilt from the node do not reproduce receiptsRoot; "
            "not submitting a proof that cannot verify",
        )

    def _ibtp_from_log(self, lg: dict[str, Any], proof: bytes) -> IBTP | None:
        """The IBTP a broker log stands for, or None (not news for the relay, or a log no
        IBTP can carry: a broker other than ours may emit fields a relay never admits;
        such a log is skipped, logged, and the checkpoint moves past it)."""
        try:
            return self._decode_log(lg, proof)
        except Exception as exc:  # undecodable data, invalid UTF-8, bad IDs, out of range
            log.warning(
                "skipping broker log %s of tx %s: no IBTP can carry it (%s: %s)",
                lg.get("logIndex"),
                lg.get("transactionHash"),
                type(exc).__name__,
                str(exc)[:200],
            )
            return None

    def _decode_log(self, lg: dict[str, Any], proof: bytes) -> IBTP | None:
        kind = _EVENT_KINDS.get(hex_to_bytes(lg["topics"][0]))
        if kind is None:
            return None
        return broker_log_ibtp(kind, hex_to_bytes(lg["data"]), self.chain_id, proof)

    # --- execute --------------------------------------------------------------

    async def deliver(self, deliveries: list[Delivery]) -> list[DeliveryOutcome]:
        try:
            outcomes = await self._deliver(deliveries)
        except BaseException:
            self._delivered_seq = None  # a batch may be half applied: check receipts again
            raise
        if deliveries:
            self._delivered_seq = max(self._delivered_seq or 0, max(d.seq for d in deliveries))
        return outcomes

    async def _deliver(self, deliveries: list[Delivery]) -> list[DeliveryOutcome]:
        outcomes: list[DeliveryOutcome | None] = [None] * len(deliveries)
        calls: list[tuple[int, bytes]] = []
        in_counters: dict[tuple[str, str], int] = {}
        for i, d in enumerate(deliveries):
            ib = d.ibtp
            if ib.type == IBTPType.INTERCHAIN:
                key = (ib.src, ib.dst)
                if key not in in_counters:
                    in_counters[key] = await self._view_uint(
                        SEL_IN_COUNTER, ["string", "string"], [ib.src, ib.dst]
                    )
                if ib.index <= in_counters[key]:
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                calls.append((i, self._invoke_interchain_data(d)))
            else:
                # A receipt past the stream position this adapter has delivered is new: it
                # is sent unchecked (an eth_call runs the whole receipt, signature recovery
                # included, and would double the chain's work per receipt). Anything else
                # (the first batch after a start, a batch retried after an error, a repeat)
                # is checked first, so that what the broker has is not sent again. A receipt
                # the broker has all the same reverts and is recognised below.
                data = self._invoke_receipt_data(d)
                fresh = self._delivered_seq is not None and d.seq > self._delivered_seq
                if not fresh and await self._already_applied(data):
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                calls.append((i, data))
        if calls:
            receipts = await self._send_all([data for _, data in calls])
            failed = [(i, data) for (i, data), ok in zip(calls, receipts, strict=True) if not ok]
            for i, _ in calls:
                outcomes[i] = DeliveryOutcome.EXECUTED
            refused: dict[int, str] = {}
            for i, data in failed:
                d = deliveries[i]
                # A reverted delivery is fine only if the broker already has it.
                is_request = d.ibtp.type == IBTPType.INTERCHAIN
                if is_request and (
                    (await self.counters(d.ibtp.src, d.ibtp.dst)).inbound >= d.ibtp.index
                ):
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                revert = await self._dry_run(data)  # one eth_call: done already, or why not
                if not is_request and _is_already_applied(revert):
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                refused[i] = (
                    f"broker reverted delivery #{d.seq} ({d.ibtp.id}, {d.ibtp.type.name}): "
                    f"{_revert_text(revert)}"
                )
            if refused:
                raise DeliveryRefused(refused, len(deliveries))
        return [o if o is not None else DeliveryOutcome.EXECUTED for o in outcomes]

    async def _dry_run(self, data: bytes) -> RpcError | None:
        """``data`` sent to the broker as an ``eth_call`` at the head: its revert, or None."""
        try:
            await self.rpc.call(
                "eth_call",
                {"from": self.sender.address, "to": self.config.broker, "data": "0x" + data.hex()},
                "latest",
            )
        except RpcError as exc:
            return exc
        return None

    def _invoke_interchain_data(self, d: Delivery) -> bytes:
        ib = d.ibtp
        return SEL_INVOKE_INTERCHAIN + abi_encode(
            ["string", "string", "uint64", "string", "bytes[]", "bytes[]"],
            [ib.src, ib.dst, ib.index, ib.payload.func, list(ib.payload.args), list(d.signatures)],
        )

    def _invoke_receipt_data(self, d: Delivery) -> bytes:
        ib = d.ibtp
        result = ib.payload.args[0] if ib.payload.args else b""
        return SEL_INVOKE_RECEIPT + abi_encode(
            ["string", "string", "uint64", "uint8", "bytes", "uint8", "bytes[]"],
            [ib.src, ib.dst, ib.index, int(ib.type), result, int(d.status), list(d.signatures)],
        )

    async def _already_applied(self, data: bytes) -> bool:
        return _is_already_applied(await self._dry_run(data))

    async def _send_all(self, datas: list[bytes]) -> list[bool]:
        outcomes = await self.sender.send_many([(self.config.broker, d) for d in datas])
        return [o.ok for o in outcomes]

    # --- inspect --------------------------------------------------------------

    async def _view_uint(self, selector: bytes, types: list[str], values: list[Any]) -> int:
        data = selector + abi_encode(types, values)
        out = await self.rpc.call(
            "eth_call", {"to": self.config.broker, "data": "0x" + data.hex()}, "latest"
        )
        return int(abi_decode(["uint64"], hex_to_bytes(out))[0])

    async def counters(self, src: str, dst: str) -> BrokerCounters:
        args = (["string", "string"], [src, dst])
        return BrokerCounters(
            out=await self._view_uint(SEL_OUT_COUNTER, *args),
            inbound=await self._view_uint(SEL_IN_COUNTER, *args),
            callback=await self._view_uint(SEL_CALLBACK_COUNTER, *args),
        )

    async def _news_by_block(
        self, lo: int, hi: int
    ) -> dict[int, list[tuple[dict[str, Any], IBTP]]]:
        """The broker's messages for the relay in blocks ``lo..hi``, decoded from the
        logs alone (no proof yet), grouped by block number."""
        logs = await self.rpc.call(
            "eth_getLogs",
            {
                "fromBlock": hex(lo),
                "toBlock": hex(hi),
                "address": self.config.broker,
                "topics": [
                    [
                        "0x" + INTERCHAIN_EVENT_TOPIC.hex(),
                        "0x" + RECEIPT_EVENT_TOPIC.hex(),
                        "0x" + CALLBACK_EVENT_TOPIC.hex(),
                    ]
                ],
            },
        )
        by_block: dict[int, list[tuple[dict[str, Any], IBTP]]] = {}
        for lg in logs or []:
            ibtp = self._ibtp_from_log(lg, b"")
            if ibtp is not None:
                by_block.setdefault(hex_to_int(lg["blockNumber"]), []).append((lg, ibtp))
        return by_block

    async def refetch(
        self, src: str, dst: str, index: int, type: IBTPType | frozenset[IBTPType]
    ) -> IBTP | None:
        wanted = type if isinstance(type, frozenset) else frozenset({type})
        # One slot per kind: a broker emits one request, one receipt (either outcome)
        # and one rollback acknowledgement per index. Find the slot, then the type.
        found: IBTP | None = None
        for kind in sorted({_kind(t) for t in wanted}):
            found = await self._refetch_kind(src, dst, index, kind)
            if found is not None and found.type in wanted:
                return found
        return None

    async def _refetch_kind(self, src: str, dst: str, index: int, kind: str) -> IBTP | None:
        want = (src, dst, index, kind)
        number = self._seen.get(want)
        ranges = [(number, number)] if number is not None else []
        head = hex_to_int(await self.rpc.call("eth_blockNumber"))
        step = 2000
        ranges += [(lo, min(lo + step - 1, head)) for lo in range(head - head % step, -1, -step)]
        for lo, hi in ranges:
            for block, entries in sorted((await self._news_by_block(lo, hi)).items()):
                match = [
                    (lg, i) for lg, i in entries if (i.src, i.dst, i.index, _kind(i.type)) == want
                ]
                if match:  # prove only the block that holds it, only that message
                    (found,) = await self._prove({block: match[:1]})
                    return found
        return None


#: The broker's events by topic0.
_EVENT_KINDS = {
    INTERCHAIN_EVENT_TOPIC: "interchain",
    RECEIPT_EVENT_TOPIC: "receipt",
    CALLBACK_EVENT_TOPIC: "callback",
}


def broker_log_ibtp(kind: str, data: bytes, chain_id: str, proof: bytes) -> IBTP | None:
    """The IBTP a broker log of docs/broker.md stands for, from its ABI data — ``kind``
    ``interchain``, ``receipt`` or ``callback`` (its topic0, whatever hash the chain
    names events with) — or None when it is news for nobody. Every family whose broker
    is the Solidity-ABI one (EVM, FISCO) reads its logs with this."""
    if kind == "interchain":
        src, dst, index, func, args, encrypted, timeout, _ = abi_decode(
            INTERCHAIN_EVENT_TYPES, data
        )
        return IBTP(
            src, dst, index, IBTPType.INTERCHAIN, timeout, Payload(func, tuple(args), encrypted),
            proof,
        )  # fmt: skip
    if kind == "receipt":
        src, dst, index, typ, result, _ = abi_decode(RECEIPT_EVENT_TYPES, data)
        return IBTP(src, dst, index, IBTPType(typ), 0, Payload("", (result,), False), proof)
    if kind != "callback" or data[96:128] != _TYP_ROLLBACK_WORD:
        # Most callbacks are news for nobody (below): `typ` (the fourth head word) is
        # read before paying for a full decode.
        return None
    src, dst, index, typ = abi_decode(CALLBACK_EVENT_TYPES, data)
    # A rollback is news for the relay on either side: at the source it is the
    # acknowledgement that the source rolled back; at the destination, that the broker
    # consumed the index without running it (the relay then tells the source). A
    # source-side success or failure callback is news for nobody.
    if typ == IBTPType.RECEIPT_ROLLBACK and chain_id in (
        parse_service_id(src).chain,
        parse_service_id(dst).chain,
    ):
        return IBTP(src, dst, index, IBTPType.RECEIPT_ROLLBACK, 0, Payload(), proof)
    return None


def _same_log(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["address"].lower() == b["address"].lower()
        and [t.lower() for t in a["topics"]] == [t.lower() for t in b["topics"]]
        and a["data"].lower() == b["data"].lower()
    )


def _position_in_receipt(lg: dict[str, Any], receipts: list[dict[str, Any]], tx_index: int) -> int:
    """Index of log ``lg`` (from eth_getLogs) within its receipt's logs.

    ``eth_getLogs`` numbers logs across the block; receipts do so too on geth and the
    dev chain but from 0 per transaction on ganache. So count the logs of earlier
    receipts, then confirm by content (address, topics, data)."""
    logs = receipts[tx_index]["logs"]
    pos = hex_to_int(lg["logIndex"]) - sum(len(r["logs"]) for r in receipts[:tx_index])
    if 0 <= pos < len(logs) and _same_log(logs[pos], lg):
        return pos
    matches = [i for i, rl in enumerate(logs) if _same_log(rl, lg)]
    if len(matches) != 1:
        raise RpcError(
            Code.CHAIN_INCONSISTENT,
            f"cannot place log {lg['logIndex']} of tx {tx_index} in its receipt "
            f"({len(matches)} candidates); not submitting an unprovable message",
        )
    return matches[0]


def _kind(t: IBTPType) -> str:
    """Receipts of either outcome share one slot: a broker emits one receipt per index."""
    return {IBTPType.INTERCHAIN: "req", IBTPType.RECEIPT_ROLLBACK: "ack"}.get(t, "rcpt")


def _is_already_applied(revert: RpcError | None) -> bool:
    """Whether a dry run's revert says the broker has this delivery already."""
    if revert is None:
        return False
    text = f"{revert.message} {_revert_reason(revert.details.get('data'))}"
    return any(a in text for a in _ALREADY)


def _revert_text(revert: RpcError | None) -> str:
    """The broker's revert reason from a dry run, for the operator."""
    if revert is None:
        return "reverted when mined (it passes eth_call now: it may succeed on a retry)"
    return _revert_reason(revert.details.get("data")) or revert.message


def _revert_reason(data: Any) -> str:
    """Decode Solidity's Error(string) revert data, if that is what ``data`` is."""
    if not isinstance(data, str) or not data.startswith("0x08c379a0"):
        return ""
    try:
        return str(abi_decode(["string"], hex_to_bytes(data)[4:])[0])
    except Exception:
        return ""


__all__ = ["EvmAdapter", "EvmAdapterConfig", "TxStatus"]
