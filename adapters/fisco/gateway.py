"""FISCO adapter, gateway side: follow the broker, prove its logs, execute inbound IBTPs.

Talks to the node only through FISCO BCOS 2.x JSON-RPC (group ID first):

* ``poll`` reads blocks with ``getBlockByNumber`` (batched) and skips every block whose
  ``logsBloom`` cannot hold a log of the broker (FISCO 2.x has no ``getLogs``). For a
  block that may: all its receipts (``getTransactionReceipt``), the broker's logs decoded
  into IBTPs, and for each a proof (:func:`adapters.fisco.proof.build_fisco_proof`): the
  header rebuilt from the block object (:func:`~adapters.fisco.header.header_from_rpc`)
  and **checked against the node's ``hash``**, the ``signatureList`` as the node stores
  it, the committed receipts rebuilt from JSON and **checked against ``receiptsRoot``**
  before anything is submitted (``CHAIN_INCONSISTENT`` otherwise), the Merkle levels.
* ``deliver`` sends signed transactions (``sendRawTransaction``) calling the broker's
  ``invokeInterchain`` / ``invokeReceipt`` (selectors and revert reasons by the chain's
  hash, :mod:`adapters.fisco.abi`); a request the broker has executed is skipped
  (``inCounter``), a receipt is dry-run with ``call`` first unless it comes after
  everything this adapter delivered since it started.
* ``counters`` and ``refetch`` read the broker (``call``) and the blocks again.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
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
from adapters.evm.gateway import broker_log_ibtp
from adapters.evm.lean_rpc import open_rpc
from adapters.evm.rpc import EthRpc, RpcError, hex_to_bytes, hex_to_int
from adapters.fisco.abi import compute_selector, decode_revert_reason
from adapters.fisco.client import FiscoAccount, FiscoSender, fisco_call
from adapters.fisco.events import (
    CALLBACK_SIGNATURE,
    INTERCHAIN_SIGNATURE,
    RECEIPT_SIGNATURE,
)
from adapters.fisco.hashing import CryptoMode, HashFn, hash_fn_for
from adapters.fisco.header import compute_block_hash, encode_header, header_from_rpc
from adapters.fisco.merkle import compute_leaf, compute_merkle_root
from adapters.fisco.proof import build_fisco_proof, encode_fisco_proof
from adapters.fisco.receipt import LogEntry, Receipt, encode_receipt
from adapters.fisco.settings import FiscoChainSection
from relay.config import default_of, load_mapping
from relay.crypto import Account
from relay.errors import Code, RelayError
from relay.ibtp import IBTP, IBTPType

log = logging.getLogger("relayhub.adapters.fisco")

#: The broker functions the adapter calls; their selectors are the chain's hash of these
#: (keccak-256, or SM3 on a 国密 chain: :mod:`adapters.fisco.abi`).
INVOKE_INTERCHAIN = "invokeInterchain(string,string,uint64,string,bytes[],bytes[])"
INVOKE_RECEIPT = "invokeReceipt(string,string,uint64,uint8,bytes,uint8,bytes[])"
OUT_COUNTER = "outCounter(string,string)"
IN_COUNTER = "inCounter(string,string)"
CALLBACK_COUNTER = "callbackCounter(string,string)"
RELAY_VALIDATORS = "relayValidators()"
#: FISCO's RevertInstruction status: the broker reverted (output = revert data).
STATUS_REVERT = 22
_ALREADY = ("already processed", "index out of order")
_TYP_ROLLBACK_WORD = int(IBTPType.RECEIPT_ROLLBACK).to_bytes(32, "big")
_BLOCKS_PER_FETCH = 100
_ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True, slots=True)
class FiscoAdapterConfig:
    chain_id: str
    rpc: str
    broker: str
    key: FiscoAccount
    group_id: int = default_of(FiscoChainSection, "group_id")
    mode: CryptoMode = "secp256k1"
    max_blocks_per_poll: int = default_of(FiscoChainSection, "max_blocks_per_poll")
    gas: int = default_of(FiscoChainSection, "gas")
    block_limit_margin: int = default_of(FiscoChainSection, "block_limit_margin")
    receipt_timeout: float = default_of(FiscoChainSection, "receipt_timeout")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FiscoAdapterConfig:
        """From a ``[chain]`` table (:class:`FiscoChainSection`; ``type`` may be there)."""
        table = {
            k: ("0x" + v.secret_hex.removeprefix("0x") if isinstance(v, Account) else v)
            for k, v in d.items()
            if k != "type"
        }
        s = load_mapping(FiscoChainSection, table, key="chain")
        mode: CryptoMode = "sm" if s.mode == "sm" else "secp256k1"
        return cls(
            chain_id=s.id,
            rpc=s.rpc,
            broker=s.broker.lower(),
            key=FiscoAccount.load(s.key, mode),
            group_id=s.group_id,
            mode=mode,
            max_blocks_per_poll=s.max_blocks_per_poll,
            gas=s.gas,
            block_limit_margin=s.block_limit_margin,
            receipt_timeout=s.receipt_timeout,
        )


def _bloom_may_hold(bloom: bytes, value: bytes, hash_fn: HashFn) -> bool:
    """Whether ``value`` (an address or topic) may be in ``bloom`` (``LogEntry::bloom``)."""
    digest = hash_fn(value)
    bits = int.from_bytes(bloom, "big")
    return all(bits >> (((digest[i] << 8) | digest[i + 1]) & 2047) & 1 for i in (0, 2, 4))


def receipt_from_rpc(r: dict[str, Any]) -> Receipt:
    """The committed receipt of a ``getTransactionReceipt`` answer (7 fields: the node's
    supported_version is below 2.8.0, which added ``remainGas``)."""
    return Receipt(
        state_root=hex_to_bytes(r["root"]),
        gas_used=hex_to_int(r["gasUsed"]),
        contract_address=hex_to_bytes(r.get("contractAddress") or _ZERO_ADDRESS),
        log_bloom=hex_to_bytes(r["logsBloom"]),
        status=hex_to_int(r["status"]),
        output=hex_to_bytes(r.get("output") or "0x"),
        logs=tuple(
            LogEntry(
                hex_to_bytes(x["address"]),
                tuple(hex_to_bytes(t) for t in x["topics"]),
                hex_to_bytes(x["data"]),
            )
            for x in r["logs"]
        ),
    )


def _kind(t: IBTPType) -> str:
    """Receipts of either outcome share one slot: a broker emits one receipt per index."""
    return {IBTPType.INTERCHAIN: "req", IBTPType.RECEIPT_ROLLBACK: "ack"}.get(t, "rcpt")


class FiscoAdapter:
    type: ClassVar[str] = "fisco"
    config_schema: ClassVar[Any] = FiscoChainSection

    def __init__(self, config: FiscoAdapterConfig, rpc: EthRpc | None = None) -> None:
        self.config = config
        self.rpc = rpc or open_rpc(config.rpc)
        self.hash_fn = hash_fn_for(config.mode)
        self.sender = FiscoSender(
            self.rpc,
            config.key,
            config.group_id,
            gas=config.gas,
            block_limit_margin=config.block_limit_margin,
            timeout=config.receipt_timeout,
        )
        self._sel = {
            sig: compute_selector(sig, self.hash_fn)
            for sig in (
                INVOKE_INTERCHAIN,
                INVOKE_RECEIPT,
                OUT_COUNTER,
                IN_COUNTER,
                CALLBACK_COUNTER,
                RELAY_VALIDATORS,
            )
        }
        self._broker_bytes = hex_to_bytes(config.broker)
        self._topics = {
            self.hash_fn(INTERCHAIN_SIGNATURE): "interchain",
            self.hash_fn(RECEIPT_SIGNATURE): "receipt",
            self.hash_fn(CALLBACK_SIGNATURE): "callback",
        }
        self._delivered_seq: int | None = None
        self._seen: dict[tuple[str, str, int, str], int] = {}

    @classmethod
    def from_config(cls, d: dict[str, Any]) -> FiscoAdapter:
        return cls(FiscoAdapterConfig.from_dict(d))

    @property
    def chain_id(self) -> str:
        return self.config.chain_id

    async def start(self) -> None:
        """The node runs the configured group, in the configured crypto mode (a 国密
        build's ``FISCO-BCOS Version`` says ``gm``)."""
        cfg = self.config
        version = await self.rpc.call("getClientVersion")
        groups = await self.rpc.call("getGroupList")
        problems = []
        if cfg.group_id not in [int(g) for g in groups or []]:
            problems.append(f"the node at {cfg.rpc} runs groups {groups}, not {cfg.group_id}")
        is_gm = "gm" in str(version.get("FISCO-BCOS Version", "")).split()
        if is_gm != (cfg.mode == "sm"):
            problems.append(
                f"the node at {cfg.rpc} is a {'国密 (sm)' if is_gm else 'secp256k1'} build, "
                f"but [chain] mode is {cfg.mode!r}"
            )
        if problems:
            raise RelayError(Code.CONFIG, "; ".join(problems))
        await self.sender.chain_id()

    async def stop(self) -> None:
        await self.rpc.aclose()

    async def preflight(self, relay: RelayInfo) -> list[str]:
        """The broker is the registered one and trusts the relay's validators."""
        problems: list[str] = []
        cfg, chain = self.config, relay.chain
        registered = str(chain.get("broker", "")).lower()
        if registered != cfg.broker:
            problems.append(
                f"[chain] broker is {cfg.broker}, but chain {cfg.chain_id} is registered with "
                f"broker {registered}"
            )
        root = chain.get("trust_root")
        if isinstance(root, dict):
            if root.get("group_id") not in (None, cfg.group_id):
                problems.append(
                    f"[chain] group_id is {cfg.group_id}, the trust root's {root['group_id']}"
                )
            if root.get("mode") not in (None, cfg.mode):
                problems.append(f"[chain] mode is {cfg.mode}, the trust root's {root['mode']}")
        status, out = await fisco_call(
            self.rpc, cfg.group_id, self.sender.address, cfg.broker, self._sel[RELAY_VALIDATORS]
        )
        try:
            got, threshold = abi_decode(["address[]", "uint64"], out)
        except Exception:
            return [*problems, f"no broker at {cfg.broker} (relayValidators() status {status})"]
        mine = sorted(str(a).lower() for a in got)
        if mine != sorted(relay.validators) or threshold != relay.validator_threshold:
            problems.append(
                f"the broker checks relay proofs against validators {mine} with threshold "
                f"{threshold}, but the relay's are {sorted(relay.validators)} with threshold "
                f"{relay.validator_threshold}"
            )
        return problems

    # --- watch ----------------------------------------------------------------

    async def poll(self, checkpoint: int, limit: int = 1000) -> PollResult:
        head = hex_to_int(await self.rpc.call("getBlockNumber", self.config.group_id))
        if head <= checkpoint:
            return PollResult((), checkpoint, max(head, checkpoint))
        to = min(head, checkpoint + self.config.max_blocks_per_poll)
        out: list[IBTP] = []
        done = to
        for lo in range(checkpoint + 1, to + 1, _BLOCKS_PER_FETCH):
            hi = min(to, lo + _BLOCKS_PER_FETCH - 1)
            for number, ibtps in await self._news(lo, hi):
                out.extend(ibtps)
                if len(out) >= limit and number < to:
                    return PollResult(tuple(out), number, head)
        return PollResult(tuple(out), done, head)

    async def _news(
        self, lo: int, hi: int, want: tuple[str, str, int, str] | None = None
    ) -> list[tuple[int, list[IBTP]]]:
        """The broker's messages in blocks ``lo..hi`` with their proofs, by block (only
        ``want`` when given)."""
        g = self.config.group_id
        blocks = await self.rpc.batch(
            [("getBlockByNumber", [g, hex(n), False]) for n in range(lo, hi + 1)]
        )
        found: list[tuple[int, list[IBTP]]] = []
        for number, block in zip(range(lo, hi + 1), blocks, strict=True):
            if block is None:
                raise RpcError(Code.UPSTREAM_UNAVAILABLE, f"block {number} is not available")
            if not block["transactions"] or not _bloom_may_hold(
                hex_to_bytes(block["logsBloom"]), self._broker_bytes, self.hash_fn
            ):
                continue
            ibtps = await self._block_ibtps(number, block, want)
            if ibtps:
                found.append((number, ibtps))
        return found

    async def _block_ibtps(
        self, number: int, block: dict[str, Any], want: tuple[str, str, int, str] | None
    ) -> list[IBTP]:
        g = self.config.group_id
        hashes = [t if isinstance(t, str) else t["hash"] for t in block["transactions"]]
        got = await self.rpc.batch([("getTransactionReceipt", [g, h]) for h in hashes])
        if any(r is None for r in got):
            raise RpcError(Code.CHAIN_INCONSISTENT, f"block {number}: a receipt is missing")
        receipts = sorted(got, key=lambda r: hex_to_int(r["transactionIndex"]))
        news: list[tuple[int, int, IBTP]] = []
        for r in receipts:
            for log_index, lg in enumerate(r["logs"]):
                if lg["address"].lower() != self.config.broker or not lg["topics"]:
                    continue
                ibtp = self._ibtp_from_log(lg)
                if ibtp is None:
                    continue
                key = (ibtp.src, ibtp.dst, ibtp.index, _kind(ibtp.type))
                self._seen[key] = number
                if want is None or key == want:
                    news.append((hex_to_int(r["transactionIndex"]), log_index, ibtp))
        if not news:
            return []
        header = header_from_rpc(block)
        header_rlp = encode_header(header)
        if compute_block_hash(header_rlp, self.hash_fn) != hex_to_bytes(block["hash"]):
            raise RpcError(
                Code.CHAIN_INCONSISTENT,
                f"block {number}: the header rebuilt from getBlockByNumber does not hash to "
                "the node's hash; not submitting a proof that cannot verify",
            )
        encoded = [encode_receipt(receipt_from_rpc(r)) for r in receipts]
        leaves = [compute_leaf(i, self.hash_fn(e)) for i, e in enumerate(encoded)]
        if compute_merkle_root(leaves, self.hash_fn) != header.receipts_root:
            raise RpcError(
                Code.CHAIN_INCONSISTENT,
                f"block {number}: receipts rebuilt from the node do not reproduce "
                "receiptsRoot; not submitting a proof that cannot verify",
            )
        sig_list = [
            (hex_to_int(s["index"]), hex_to_bytes(s["signature"]))
            for s in block.get("signatureList") or []
        ]
        out = []
        for tx_index, log_index, bare in news:
            proof = build_fisco_proof(
                group_id=self.config.group_id,
                header=header_rlp,
                sig_list=sig_list,
                receipts=encoded,
                receipt_index=tx_index,
                log_index=log_index,
                hash_fn=self.hash_fn,
            )
            out.append(dataclasses.replace(bare, proof=encode_fisco_proof(proof)))
        return out

    def _ibtp_from_log(self, lg: dict[str, Any]) -> IBTP | None:
        try:
            return self._decode_log(lg)
        except Exception as exc:  # undecodable data, invalid UTF-8, bad IDs, out of range
            log.warning(
                "skipping broker log of tx %s: no IBTP can carry it (%s: %s)",
                lg.get("transactionHash"),
                type(exc).__name__,
                str(exc)[:200],
            )
            return None

    def _decode_log(self, lg: dict[str, Any]) -> IBTP | None:
        kind = self._topics.get(hex_to_bytes(lg["topics"][0]))
        if kind is None:
            return None
        return broker_log_ibtp(kind, hex_to_bytes(lg["data"]), self.chain_id, b"")

    # --- execute --------------------------------------------------------------

    async def deliver(self, deliveries: list[Delivery]) -> list[DeliveryOutcome]:
        try:
            outcomes = await self._deliver(deliveries)
        except BaseException:
            self._delivered_seq = None
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
                    in_counters[key] = await self._view_uint(IN_COUNTER, ib.src, ib.dst)
                if ib.index <= in_counters[key]:
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                calls.append((i, self._invoke_interchain_data(d)))
            else:
                data = self._invoke_receipt_data(d)
                fresh = self._delivered_seq is not None and d.seq > self._delivered_seq
                if not fresh and _is_already_applied(await self._dry_run(data)):
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                calls.append((i, data))
        if calls:
            sent = await self.sender.send_many([(self.config.broker, data) for _, data in calls])
            refused: dict[int, str] = {}
            for (i, data), outcome in zip(calls, sent, strict=True):
                outcomes[i] = DeliveryOutcome.EXECUTED
                if outcome.ok:
                    continue
                d = deliveries[i]
                is_request = d.ibtp.type == IBTPType.INTERCHAIN
                if is_request and (
                    (await self.counters(d.ibtp.src, d.ibtp.dst)).inbound >= d.ibtp.index
                ):
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                reason = await self._dry_run(data)
                if not is_request and _is_already_applied(reason):
                    outcomes[i] = DeliveryOutcome.ALREADY_DONE
                    continue
                output = hex_to_bytes(outcome.receipt.get("output") or "0x")
                refused[i] = (
                    f"broker reverted delivery #{d.seq} ({d.ibtp.id}, {d.ibtp.type.name}): "
                    f"{reason or self._revert_reason(output) or 'reverted when mined'}"
                )
            if refused:
                raise DeliveryRefused(refused, len(deliveries))
        return [o if o is not None else DeliveryOutcome.EXECUTED for o in outcomes]

    async def _dry_run(self, data: bytes) -> str | None:
        """``data`` to the broker as a ``call``: its revert reason, or None if it passes."""
        status, out = await fisco_call(
            self.rpc, self.config.group_id, self.sender.address, self.config.broker, data
        )
        if status == 0:
            return None
        return self._revert_reason(out) or f"status {status}"

    def _revert_reason(self, data: bytes) -> str:
        """Solidity's ``Error(string)`` message of revert data (the chain's selector), else ''."""
        return decode_revert_reason(data, self.hash_fn)

    def _invoke_interchain_data(self, d: Delivery) -> bytes:
        ib = d.ibtp
        return self._sel[INVOKE_INTERCHAIN] + abi_encode(
            ["string", "string", "uint64", "string", "bytes[]", "bytes[]"],
            [ib.src, ib.dst, ib.index, ib.payload.func, list(ib.payload.args), list(d.signatures)],
        )

    def _invoke_receipt_data(self, d: Delivery) -> bytes:
        ib = d.ibtp
        result = ib.payload.args[0] if ib.payload.args else b""
        return self._sel[INVOKE_RECEIPT] + abi_encode(
            ["string", "string", "uint64", "uint8", "bytes", "uint8", "bytes[]"],
            [ib.src, ib.dst, ib.index, int(ib.type), result, int(d.status), list(d.signatures)],
        )

    # --- inspect --------------------------------------------------------------

    async def _view_uint(self, signature: str, src: str, dst: str) -> int:
        data = self._sel[signature] + abi_encode(["string", "string"], [src, dst])
        status, out = await fisco_call(
            self.rpc, self.config.group_id, self.sender.address, self.config.broker, data
        )
        if status != 0:
            raise RpcError(
                Code.CHAIN_RPC_ERROR,
                f"broker view failed with status {status}",
                method="call",
                rpc_code=status,
                rpc_message=self._revert_reason(out),
                data="0x" + out.hex(),
            )
        return int(abi_decode(["uint64"], out)[0])

    async def counters(self, src: str, dst: str) -> BrokerCounters:
        return BrokerCounters(
            out=await self._view_uint(OUT_COUNTER, src, dst),
            inbound=await self._view_uint(IN_COUNTER, src, dst),
            callback=await self._view_uint(CALLBACK_COUNTER, src, dst),
        )

    async def refetch(
        self, src: str, dst: str, index: int, type: IBTPType | frozenset[IBTPType]
    ) -> IBTP | None:
        wanted = type if isinstance(type, frozenset) else frozenset({type})
        for kind in sorted({_kind(t) for t in wanted}):
            found = await self._refetch_kind((src, dst, index, kind))
            if found is not None and found.type in wanted:
                return found
        return None

    async def _refetch_kind(self, want: tuple[str, str, int, str]) -> IBTP | None:
        number = self._seen.get(want)
        head = hex_to_int(await self.rpc.call("getBlockNumber", self.config.group_id))
        ranges = [(number, number)] if number is not None else []
        step = _BLOCKS_PER_FETCH
        ranges += [(max(1, hi - step + 1), hi) for hi in range(head, 0, -step)]
        for lo, hi in ranges:
            for _, ibtps in await self._news(lo, hi, want):
                return ibtps[0]
        return None


def _is_already_applied(reason: str | None) -> bool:
    return reason is not None and any(a in reason for a in _ALREADY)


__all__ = ["FiscoAdapter", "FiscoAdapterConfig", "receipt_from_rpc"]
