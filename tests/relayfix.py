"""Shared builders for the relay core tests: a hub genesis, a notary "world" of app
chains, notarized IBTPs with per-pair index tracking, nonce-tracking signers, a pure
executor harness, and a node + API server run on a background thread.

Every key is derived from a label (``keccak("relayfix:" + label)``), so two runs (or a
test and a relay subprocess) build the same world and the same genesis.

The world: chains ``A``, ``B``, ``C`` (family ``notary``, 2-of-3 notaries each), one
gateway key per chain, and on every chain the services

* ``svc``     the default for IBTP builders,
* ``free``    a second plain service (a caller outside ``picky``'s allow list),
* ``picky``   allows only calls from ``<hub>:A:svc``,
* ``grumpy``  denies calls from ``<hub>:A:svc``.

Every service takes its calls in index order (docs/protocol.md §3).
"""

from __future__ import annotations

import copy
import dataclasses
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import trio

from adapters.notary.verifier import NotaryVerifier, notarize
from relay.crypto import Account, keccak
from relay.errors import RelayError
from relay.executor import Executor
from relay.genesis import Genesis
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash, encode_ibtp
from relay.ledger.state import Layer, MemoryReader, StateView
from relay.ledger.types import Transaction, TxReceipt, encode_tx, sign_tx
from relay.node import Node, NodeConfig, open_node
from relay.validation.registry import VerifierRegistry

HUB = "testhub"
CHAINS = ("A", "B", "C")
SERVICES: dict[str, dict[str, Any]] = {
    "svc": {},
    "free": {},
    "picky": {"allow": [f"{HUB}:A:svc"]},
    "grumpy": {"deny": [f"{HUB}:A:svc"]},
}
NOTARIES_PER_CHAIN = 3
NOTARY_THRESHOLD = 2
#: Bound for anything that waits on a node (blocks commit in milliseconds).
DEADLINE = 20.0


def account(label: str) -> Account:
    """The deterministic test account named ``label``."""
    return Account.from_key(keccak(b"relayfix:" + label.encode()))


def notary_registry() -> VerifierRegistry:
    """Only the notary family: the core tests do not depend on other adapters."""
    return VerifierRegistry({"notary": NotaryVerifier()})


def sid(chain: str, service: str = "svc", hub: str = HUB) -> str:
    return f"{hub}:{chain}:{service}"


class Signer:
    """An account that signs relay transactions with consecutive nonces.

    ``tx`` uses (consumes) the next nonce; ``probe`` signs with the next nonce (or a
    given one) without consuming it, for a transaction the test expects refused."""

    def __init__(self, acct: Account, hub: str = HUB, nonce: int = 0) -> None:
        self.account = acct
        self.hub = hub
        self.nonce = nonce

    @property
    def address(self) -> str:
        return self.account.address

    def tx(self, kind: str, body: Any) -> Transaction:
        self.nonce += 1
        return sign_tx(self.account, self.hub, self.nonce, kind, body)

    def probe(
        self, kind: str, body: Any, *, nonce: int | None = None, hub: str | None = None
    ) -> Transaction:
        return sign_tx(
            self.account, hub or self.hub, self.nonce + 1 if nonce is None else nonce, kind, body
        )


@dataclass
class ChainKeys:
    id: str
    gateway: Signer
    notaries: tuple[Account, ...]
    threshold: int = NOTARY_THRESHOLD

    @property
    def broker(self) -> str:
        return "0x" + keccak(b"broker:" + self.id.encode())[-20:].hex()

    def trust_root(self) -> dict[str, Any]:
        return {"keys": [n.address for n in self.notaries], "threshold": self.threshold}


@dataclass
class World:
    """A hub with notary chains; builds signed transactions and notarized IBTPs."""

    hub: str = HUB
    chain_ids: Sequence[str] = CHAINS
    default_timeout_blocks: int = 200
    admin: Signer = field(init=False)
    validator: Account = field(init=False)
    outsider: Signer = field(init=False)
    chains: dict[str, ChainKeys] = field(init=False)
    #: Last index issued per (from, to) pair.
    issued: dict[tuple[str, str], int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.admin = Signer(account("admin"), self.hub)
        self.validator = account("validator")
        self.outsider = Signer(account("outsider"), self.hub)
        self.chains = {
            c: ChainKeys(
                c,
                Signer(account(f"gateway-{c}"), self.hub),
                tuple(account(f"notary-{c}-{i}") for i in range(NOTARIES_PER_CHAIN)),
            )
            for c in self.chain_ids
        }

    @property
    def genesis(self) -> Genesis:
        return Genesis(
            hub_id=self.hub,
            admins=(self.admin.account.address,),
            validators=(self.validator.address,),
            validator_threshold=1,
            default_timeout_blocks=self.default_timeout_blocks,
        )

    def gateway(self, chain: str) -> Signer:
        return self.chains[chain].gateway

    def signers(self) -> list[Signer]:
        return [self.admin, self.outsider, *(c.gateway for c in self.chains.values())]

    # --- registry transactions -------------------------------------------------

    def register_body(self, chain: str, **over: Any) -> dict[str, Any]:
        c = self.chains[chain]
        body: dict[str, Any] = {
            "id": chain,
            "family": "notary",
            "trust_root": c.trust_root(),
            "broker": c.broker,
            "gateways": [c.gateway.address],
            "name": f"chain {chain}",
            "desc": "relayfix notary chain",
        }
        body.update(over)
        return body

    def register_tx(self, chain: str, **over: Any) -> Transaction:
        return self.gateway(chain).tx("chain.register", self.register_body(chain, **over))

    def approve_tx(self, chain: str) -> Transaction:
        return self.admin.tx("chain.approve", {"id": chain})

    def service_body(self, chain: str, service: str) -> dict[str, Any]:
        return {"service": sid(chain, service, self.hub), **SERVICES[service]}

    def service_tx(self, chain: str, service: str) -> Transaction:
        return self.gateway(chain).tx("service.register", self.service_body(chain, service))

    def setup_txs(self) -> list[Transaction]:
        """Register and approve every chain, then register every service on it."""
        txs = [self.register_tx(c) for c in self.chain_ids]
        txs += [self.approve_tx(c) for c in self.chain_ids]
        txs += [self.service_tx(c, s) for c in self.chain_ids for s in SERVICES]
        return txs

    # --- IBTPs -------------------------------------------------------------------

    def next_index(self, src: str, dst: str) -> int:
        """Issue the next index of the pair (from, to)."""
        n = self.issued.get((src, dst), 0) + 1
        self.issued[(src, dst)] = n
        return n

    def prove(self, ibtp: IBTP, chain: str, notaries: Sequence[Account] | None = None) -> IBTP:
        """``ibtp`` with a notary proof by ``chain``'s notaries (the threshold by default)."""
        c = self.chains[chain]
        signers = list(notaries) if notaries is not None else list(c.notaries[: c.threshold])
        return replace_ibtp(ibtp, proof=notarize(compute_ibtp_hash(ibtp), signers))

    def interchain(
        self,
        src_chain: str,
        dst_chain: str,
        *,
        src_svc: str = "svc",
        dst_svc: str = "svc",
        index: int | None = None,
        timeout: int = 0,
        func: str = "transfer",
        args: Sequence[bytes] = (b"alice", b"bob", b"\x01"),
        extra: bytes = b"",
        prove: bool = True,
    ) -> IBTP:
        """A notarized INTERCHAIN request; ``index`` defaults to the pair's next one."""
        src, dst = sid(src_chain, src_svc, self.hub), sid(dst_chain, dst_svc, self.hub)
        if index is None:
            index = self.next_index(src, dst)
        ibtp = IBTP(
            src, dst, index, IBTPType.INTERCHAIN, timeout, Payload(func, tuple(args)), b"", extra
        )
        return self.prove(ibtp, src_chain) if prove else ibtp

    def receipt(
        self, request: IBTP, typ: IBTPType = IBTPType.RECEIPT_SUCCESS, result: bytes = b"ok"
    ) -> IBTP:
        """The destination's notarized receipt for ``request``."""
        ibtp = IBTP(request.src, request.dst, request.index, typ, 0, Payload("", (result,)))
        return self.prove(ibtp, chain_of(request.dst))

    def rollback_ack(self, request: IBTP) -> IBTP:
        """The source's notarized RECEIPT_ROLLBACK (rollback acknowledgement)."""
        ibtp = IBTP(request.src, request.dst, request.index, IBTPType.RECEIPT_ROLLBACK, 0)
        return self.prove(ibtp, chain_of(request.src))

    def dst_ack(self, request: IBTP) -> IBTP:
        """The destination's notarized RECEIPT_ROLLBACK: its broker consumed the index
        without running it (submitted by the destination's gateway)."""
        ibtp = IBTP(request.src, request.dst, request.index, IBTPType.RECEIPT_ROLLBACK, 0)
        return self.prove(ibtp, chain_of(request.dst))

    def ibtp_tx(self, ibtps: Iterable[IBTP], chain: str | None = None) -> Transaction:
        """An ``ibtp`` transaction by the submitting chain's gateway (of the first IBTP
        unless ``chain`` is given)."""
        items = list(ibtps)
        return self.gateway(chain or submitter_chain(items[0])).tx(
            "ibtp", [encode_ibtp(i) for i in items]
        )

    def ibtp_probe(self, ibtps: Iterable[IBTP], chain: str | None = None) -> Transaction:
        """Like :meth:`ibtp_tx` but without consuming the gateway's nonce."""
        items = list(ibtps)
        return self.gateway(chain or submitter_chain(items[0])).probe(
            "ibtp", [encode_ibtp(i) for i in items]
        )


def replace_ibtp(ibtp: IBTP, **changes: Any) -> IBTP:
    """A copy of ``ibtp`` with fields changed (the proof is kept as is)."""
    return dataclasses.replace(ibtp, **changes)


def chain_of(service_id: str) -> str:
    return service_id.split(":")[1]


def submitter_chain(ibtp: IBTP) -> str:
    """The chain whose gateway submits ``ibtp`` (protocol.md §4); a RECEIPT_ROLLBACK is
    taken as the source's acknowledgement (pass ``chain`` for the destination's)."""
    if ibtp.type in (IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE):
        return chain_of(ibtp.dst)
    return chain_of(ibtp.src)


def pack_txs(txs: Iterable[Transaction]) -> bytes:
    """A msgpack ``POST /v1/txs`` body."""
    return msgpack.packb([encode_tx(t) for t in txs], use_bin_type=True)


def json_txs(txs: Iterable[Transaction]) -> dict[str, Any]:
    """A JSON ``POST /v1/txs`` body."""
    return {"txs": ["0x" + encode_tx(t).hex() for t in txs]}


# --- the pure executor harness ---------------------------------------------------


class Harness:
    """The executor on ``StateView(MemoryReader(), [Layer()])``, driven the way the node
    drives it: each transaction in a child layer merged on success, dropped on refusal;
    ``next_block`` commits the block's layer and runs ``begin_block`` for the next."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.executor = Executor(world.genesis, notary_registry())
        self.reader = MemoryReader()
        self.layer = Layer()
        self.view = StateView(self.reader, [self.layer])
        self.height = 1
        self.executor.begin_block(self.view, self.height)
        self.tx_index = 0

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Deep copies of the committed data and the block layer's writes."""
        return copy.deepcopy(self.reader.data), copy.deepcopy(self.layer.writes)

    def apply(self, tx: Transaction) -> TxReceipt:
        child, layer = self.view.child()
        receipt = self.executor.apply_tx(child, tx, self.height, self.tx_index)
        self.view.merge(layer)
        self.tx_index += 1
        return receipt

    def results(self, tx: Transaction) -> list[Any]:
        return list(self.apply(tx).results)

    def refuse(self, tx: Transaction, code: int) -> RelayError:
        """Apply ``tx``, expect RelayError ``code``, and check that no state changed
        (values compared deeply, so an in-place mutation shows up too)."""
        before = self.snapshot()
        child, _layer = self.view.child()
        try:
            self.executor.apply_tx(child, tx, self.height, self.tx_index)
        except RelayError as exc:
            assert exc.code == code, f"expected {code}, got {exc.code}: {exc.message}"
            assert self.snapshot() == before, "a refused transaction changed the state"
            return exc
        raise AssertionError(f"transaction was applied; expected refusal {code}")

    def next_block(self) -> int:
        """Commit the current block and open the next; returns how many timed out."""
        self.reader.apply(self.layer.writes)
        self.layer = Layer()
        self.view = StateView(self.reader, [self.layer])
        self.height += 1
        self.tx_index = 0
        return self.executor.begin_block(self.view, self.height)

    def advance_to(self, height: int) -> None:
        while self.height < height:
            self.next_block()

    def get(self, key: str, default: Any = None) -> Any:
        return self.view.get(key, default)

    def setup(self) -> None:
        for tx in self.world.setup_txs():
            self.apply(tx)


# --- node helpers ------------------------------------------------------------------


def node_config(data_dir: Path, world: World, **over: Any) -> NodeConfig:
    kw: dict[str, Any] = {
        "data_dir": data_dir,
        "genesis": world.genesis,
        "key": world.validator,
        "batch_time": 0.01,
        "idle_block_interval": 0.05,
    }
    kw.update(over)
    return NodeConfig(**kw)


async def submit_ok(node: Node, txs: Sequence[Transaction]) -> list[dict[str, Any]]:
    """Submit with ``wait_commit`` and require every transaction admitted."""
    with trio.fail_after(DEADLINE):
        results = await node.submit(list(txs), wait_commit=True)
    bad = [r for r in results if not r["ok"]]
    assert not bad, bad
    return results


@dataclass
class ServerThread:
    """A node and its API served by a trio loop on a background thread."""

    url: str
    node: Node


@contextmanager
def serve_in_thread(config: NodeConfig, verifiers: VerifierRegistry) -> Iterator[ServerThread]:
    """Run a node and its API on a background thread, for synchronous clients (hypothesis
    drives sync test functions; pytest-trio would start a node per example)."""
    from relay.api.server import serve_api  # only the API tests pay for starlette

    ready: queue.Queue[Any] = queue.Queue()

    async def main() -> None:
        stop = trio.Event()
        try:
            async with open_node(config, verifiers) as node, trio.open_nursery() as nursery:
                url = await nursery.start(serve_api, node, "127.0.0.1", 0)
                ready.put((url, node, trio.lowlevel.current_trio_token(), stop))
                await stop.wait()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            ready.put(exc)
            raise

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    got = ready.get(timeout=DEADLINE)
    if isinstance(got, BaseException):
        raise got
    url, node, token, stop = got
    try:
        yield ServerThread(url, node)
    finally:
        trio.from_thread.run_sync(stop.set, trio_token=token)
        thread.join(DEADLINE)
        assert not thread.is_alive(), "the server thread did not stop"


def response_body(r: Any) -> Any:
    """An API answer (httpx.Response) as Python values, by its content type."""
    if r.headers.get("content-type", "").startswith("application/msgpack"):
        return msgpack.unpackb(r.content, raw=False)
    return r.json()


def assert_refusal(r: Any, code: int) -> dict[str, Any]:
    """A coded refusal as docs/api.md promises: the code, its HTTP status, a message
    and a details object."""
    from relay.errors import http_status

    doc = response_body(r)
    assert doc["code"] == code, doc
    assert r.status_code == http_status(code), (r.status_code, doc)
    assert isinstance(doc["message"], str) and doc["message"]
    assert isinstance(doc["details"], dict), doc
    return dict(doc)
