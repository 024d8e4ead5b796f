"""The conformance suite every Adapter must pass (``check_adapter``).

Like trio's ``check_two_way_stream``: one reusable check, run from each adapter's
tests against a live chain of its family. The family provides a
:class:`ConformanceChain` — the adapter, the family's relay-side verifier with a
context for this chain, a relay validator key the chain's broker trusts, and ways
to make the chain's broker emit a request — and the suite drives the adapter
through everything the gateway runtime relies on:

0. the factory: the adapter's class builds an equal adapter from ``adapter_config``
   through :class:`~adapters.base.AdapterRegistry` (``from_config``), and refuses a
   table without the family's keys with CONFIG; that second adapter, which has
   polled nothing, answers every ``refetch`` below from the chain alone;
1. ``start``; ``chain_id``; polling an idle chain yields nothing and a checkpoint;
2. a request emitted on the chain is polled once, as an INTERCHAIN IBTP with the
   right fields, whose proof the family verifier accepts; polling from the returned
   checkpoint does not yield it again; ``counters().out`` counts it;
3. ``refetch`` returns the same message with a proof that verifies; None for an
   index the broker has not used;
4. an inbound request with a relay proof is delivered (EXECUTED), a second delivery
   is ALREADY_DONE, ``counters().inbound`` counts it, and the broker's receipt is
   polled as a RECEIPT_SUCCESS IBTP that verifies; one that fails at the service is
   polled as RECEIPT_FAILURE; ``refetch`` gives each receipt for its own type and for
   :data:`~adapters.base.ANY_RECEIPT`, None for the other outcome and for INTERCHAIN;
5. the relay's receipt for the chain's own request is delivered once (then
   ALREADY_DONE) and ``counters().callback`` counts it;
6. a rollback for another own request is acknowledged: the acknowledgement is polled
   as a RECEIPT_ROLLBACK IBTP that verifies, and ``refetch(RECEIPT_ROLLBACK)`` gives
   it again (None for a request that was not rolled back);
6b. at the destination, a rollback notice for the next inbound index, not run yet, is
   delivered (EXECUTED): ``counters().inbound`` counts it consumed, and the broker's
   acknowledgement is polled as a RECEIPT_ROLLBACK IBTP (``from`` remote, ``to`` local)
   that verifies and refetches; a notice for an index the broker already ran is taken
   (EXECUTED or ALREADY_DONE, never refused, also a second time), changes nothing and
   yields no IBTP, and that index's receipt still refetches;
7. a delivery whose relay proof is signed by an unknown key is refused (raises), and
   changes nothing.

The relay side has its own runner, :func:`check_verifier` (:mod:`adapters.testing.vectors`):
a family's verifier against the family's proof-vector corpus on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.base import ANY_RECEIPT, Adapter, AdapterRegistry, Delivery, DeliveryOutcome
from adapters.testing.vectors import ProofVector, VectorCorpus, VerifierReport, check_verifier
from relay.crypto import Account
from relay.errors import Code, RelayError
from relay.ibtp import IBTP, IBTPType, Payload, TxStatus, compute_ibtp_hash, compute_signed_digest
from relay.validation.base import ChainContext, Verifier


class ConformanceChain(Protocol):
    @property
    def adapter(self) -> Adapter: ...

    @property
    def verifier(self) -> Verifier: ...

    context: ChainContext
    #: The gateway config's ``[chain]`` table (``type``, ``id`` and the family's keys)
    #: for an adapter equal to ``adapter``: what ``from_config`` is given.
    adapter_config: dict[str, Any]
    hub_id: str
    #: Relay validator keys the chain's broker trusts: a quorum, all sign every proof.
    relay_keys: list[Account]
    #: Full ID of a local service that answers ``good_call`` and refuses ``bad_call``.
    local_service: str
    #: Full ID of a service on another chain (the far end of every pair here).
    remote_service: str
    good_call: tuple[str, list[bytes]]
    bad_call: tuple[str, list[bytes]]

    async def emit_request(self, func: str, args: list[bytes]) -> tuple[str, str, int]:
        """Make a local service emit a request to ``remote_service``; return its
        (from, to, index) as the broker numbered it."""
        ...

    async def advance(self) -> None:
        """Let the chain include pending transactions (mine, wait a block)."""
        ...


@dataclass
class ConformanceReport:
    checks: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.checks.append(what)


def _relay_proof(
    chain: ConformanceChain, ibtp: IBTP, status: TxStatus, keys: list[Account] | None = None
) -> Delivery:
    digest = compute_signed_digest(chain.hub_id, chain.context.chain_id, ibtp, status)
    signers = chain.relay_keys if keys is None else keys
    return Delivery(0, ibtp, status, tuple(k.sign(digest) for k in signers))


async def _poll_until(
    chain: ConformanceChain, checkpoint: int, want: int
) -> tuple[list[IBTP], int]:
    got: list[IBTP] = []
    for _ in range(50):
        res = await chain.adapter.poll(checkpoint)
        got.extend(res.ibtps)
        checkpoint = res.checkpoint
        if len(got) >= want:
            return got, checkpoint
        await chain.advance()
    raise AssertionError(f"expected {want} messages from poll, got {len(got)}: {got}")


def _verify(chain: ConformanceChain, ibtp: IBTP) -> None:
    chain.verifier.verify(chain.context, ibtp, compute_ibtp_hash(ibtp))


async def _check_refetch(
    chain: ConformanceChain,
    adapters: tuple[Adapter, ...],
    key: tuple[str, str, int],
    type: IBTPType | frozenset[IBTPType],
    expected: IBTP | None,
) -> None:
    for adapter in adapters:
        got = await adapter.refetch(*key, type)
        if expected is None:
            assert got is None, f"refetch{(*key, type)} gave {got!r}, expected nothing"
            continue
        assert got is not None, f"refetch{(*key, type)} gave nothing, expected {expected.id}"
        assert (got.id, got.type) == (expected.id, expected.type)
        assert compute_ibtp_hash(got) == compute_ibtp_hash(expected)
        _verify(chain, got)


def _check_factory(chain: ConformanceChain) -> Adapter:
    a = chain.adapter
    registry = AdapterRegistry({a.type: type(a)})
    made = registry.create(a.type, dict(chain.adapter_config))
    assert isinstance(made, Adapter) and type(made) is type(a)
    assert made.chain_id == a.chain_id, "from_config built an adapter for another chain"
    bare = {k: v for k, v in chain.adapter_config.items() if k in ("type", "id")}
    try:
        registry.create(a.type, bare)
    except RelayError as exc:
        assert exc.code == Code.CONFIG, f"from_config refused a bare table with {exc.code}"
    else:
        raise AssertionError("from_config accepted a [chain] table with only type and id")
    return made


async def check_adapter(chain: ConformanceChain) -> ConformanceReport:
    """Run the whole suite; raises AssertionError (or the adapter's error) on a failure."""
    rep = ConformanceReport()
    a = chain.adapter
    fresh = _check_factory(chain)
    rep.ok("from_config through the registry")
    both = (a, fresh)
    await a.start()
    await fresh.start()
    try:
        assert a.chain_id == chain.context.chain_id, "chain_id must be the relay chain ID"
        idle = await a.poll(0)
        checkpoint = idle.checkpoint
        assert 0 <= checkpoint <= idle.head
        rep.ok("start, chain_id, poll on a quiet chain")

        # 2. an outbound request
        func, args = chain.good_call
        src, dst, index = await chain.emit_request(func, args)
        (req,), checkpoint = await _poll_until(chain, checkpoint, 1)
        assert (req.src, req.dst, req.index, req.type) == (src, dst, index, IBTPType.INTERCHAIN)
        assert req.payload.func == func and list(req.payload.args) == args
        _verify(chain, req)
        again = await a.poll(checkpoint)
        assert req.id not in {i.id for i in again.ibtps}, "a polled message came back"
        assert (await a.counters(src, dst)).out == index
        rep.ok("request polled once with a verifying proof; out counter")

        # 3. refetch
        await _check_refetch(chain, both, (src, dst, index), IBTPType.INTERCHAIN, req)
        await _check_refetch(chain, both, (src, dst, index + 1000), IBTPType.INTERCHAIN, None)
        rep.ok("refetch")

        # 4. inbound requests, success and failure
        remote, local = chain.remote_service, chain.local_service
        base_in = (await a.counters(remote, local)).inbound
        bad_func, bad_args = chain.bad_call
        good = IBTP(remote, local, base_in + 1, IBTPType.INTERCHAIN, 0, Payload(func, tuple(args)))
        bad = IBTP(
            remote, local, base_in + 2, IBTPType.INTERCHAIN, 0, Payload(bad_func, tuple(bad_args))
        )
        deliveries = [
            _relay_proof(chain, good, TxStatus.BEGIN),
            _relay_proof(chain, bad, TxStatus.BEGIN),
        ]
        assert await a.deliver(deliveries) == [DeliveryOutcome.EXECUTED] * 2
        assert await a.deliver(deliveries) == [DeliveryOutcome.ALREADY_DONE] * 2
        assert (await a.counters(remote, local)).inbound == base_in + 2
        receipts, checkpoint = await _poll_until(chain, checkpoint, 2)
        by_index = {r.index: r for r in receipts if (r.src, r.dst) == (remote, local)}
        assert by_index[good.index].type == IBTPType.RECEIPT_SUCCESS
        assert by_index[bad.index].type == IBTPType.RECEIPT_FAILURE
        for r in by_index.values():
            _verify(chain, r)
        rep.ok("inbound delivery idempotent; receipts polled and verifying")

        # 4b. refetch of receipts: exactly the type asked for, or either with ANY_RECEIPT
        ok_r, failed_r = by_index[good.index], by_index[bad.index]
        for r, other in ((ok_r, IBTPType.RECEIPT_FAILURE), (failed_r, IBTPType.RECEIPT_SUCCESS)):
            key = (remote, local, r.index)
            await _check_refetch(chain, both, key, r.type, r)
            await _check_refetch(chain, both, key, ANY_RECEIPT, r)
            await _check_refetch(chain, both, key, other, None)
            await _check_refetch(chain, both, key, IBTPType.INTERCHAIN, None)
            await _check_refetch(chain, both, key, IBTPType.RECEIPT_ROLLBACK, None)
        await _check_refetch(chain, both, (remote, local, bad.index + 1000), ANY_RECEIPT, None)
        rep.ok("refetch of receipts by outcome")

        # 5. the relay's receipt for our own request
        receipt = IBTP(src, dst, index, IBTPType.RECEIPT_SUCCESS, 0, Payload("", (b"answer",)))
        before = (await a.counters(src, dst)).callback
        assert await a.deliver([_relay_proof(chain, receipt, TxStatus.SUCCESS)]) == [
            DeliveryOutcome.EXECUTED
        ]
        assert await a.deliver([_relay_proof(chain, receipt, TxStatus.SUCCESS)]) == [
            DeliveryOutcome.ALREADY_DONE
        ]
        assert (await a.counters(src, dst)).callback == before + 1
        rep.ok("receipt delivered to the source once")

        # 6. a rollback is acknowledged
        src2, dst2, index2 = await chain.emit_request(func, args)
        _, checkpoint = await _poll_until(chain, checkpoint, 1)
        rollback = IBTP(src2, dst2, index2, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
        assert await a.deliver([_relay_proof(chain, rollback, TxStatus.BEGIN_ROLLBACK)]) == [
            DeliveryOutcome.EXECUTED
        ]
        (ack,), checkpoint = await _poll_until(chain, checkpoint, 1)
        assert (ack.src, ack.dst, ack.index, ack.type) == (
            src2,
            dst2,
            index2,
            IBTPType.RECEIPT_ROLLBACK,
        )
        _verify(chain, ack)
        await _check_refetch(chain, both, (src2, dst2, index2), IBTPType.RECEIPT_ROLLBACK, ack)
        await _check_refetch(chain, both, (src, dst, index), IBTPType.RECEIPT_ROLLBACK, None)
        rep.ok("rollback acknowledged with a verifying proof")

        # 6b. the destination's side of a rollback notice: for an index it has not run,
        # the broker consumes it and acknowledges (the relay then tells the source); for
        # one it ran, nothing changes and nothing is news (its receipt stands).
        skipped = base_in + 3
        notice = IBTP(remote, local, skipped, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
        assert await a.deliver([_relay_proof(chain, notice, TxStatus.BEGIN_ROLLBACK)]) == [
            DeliveryOutcome.EXECUTED
        ]
        assert (await a.counters(remote, local)).inbound == skipped
        (dst_ack,), checkpoint = await _poll_until(chain, checkpoint, 1)
        assert (dst_ack.src, dst_ack.dst, dst_ack.index, dst_ack.type) == (
            remote,
            local,
            skipped,
            IBTPType.RECEIPT_ROLLBACK,
        )
        _verify(chain, dst_ack)
        await _check_refetch(
            chain, both, (remote, local, skipped), IBTPType.RECEIPT_ROLLBACK, dst_ack
        )
        ran = IBTP(remote, local, good.index, IBTPType.RECEIPT_ROLLBACK, 0, Payload())
        for _ in range(2):  # taken, and taken again: never refused
            outcome = await a.deliver([_relay_proof(chain, ran, TxStatus.BEGIN_ROLLBACK)])
            assert outcome[0] in (DeliveryOutcome.EXECUTED, DeliveryOutcome.ALREADY_DONE)
        await chain.advance()
        later = await a.poll(checkpoint)
        assert not [i for i in later.ibtps if i.index == good.index], later.ibtps
        checkpoint = later.checkpoint
        key = (remote, local, good.index)
        await _check_refetch(chain, both, key, IBTPType.RECEIPT_ROLLBACK, None)
        await _check_refetch(chain, both, key, ANY_RECEIPT, ok_r)
        assert (await a.counters(remote, local)).inbound == skipped
        rep.ok("destination notices: acknowledged when unexecuted, taken silently when run")

        # 7. a forged relay proof is refused
        forged = IBTP(
            remote, local, base_in + 4, IBTPType.INTERCHAIN, 0, Payload(func, tuple(args))
        )
        stranger = Account.from_key(b"\x42" * 32)
        refused = False
        try:
            await a.deliver([_relay_proof(chain, forged, TxStatus.BEGIN, [stranger] * 3)])
        except Exception:
            refused = True
        assert refused, "a delivery signed by an unknown relay key was accepted"
        assert (await a.counters(remote, local)).inbound == base_in + 3
        rep.ok("forged relay proof refused")
    finally:
        await fresh.stop()
        await a.stop()
    return rep


__all__ = [
    "ConformanceChain",
    "ConformanceReport",
    "ProofVector",
    "VectorCorpus",
    "VerifierReport",
    "check_adapter",
    "check_verifier",
]
