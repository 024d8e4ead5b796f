"""The interface every chain family's relay-side verifier implements.

A verifier is found by family name through the ``relayhub.verifiers`` entry point
group (see :mod:`relay.validation.registry`); the relay never imports an adapter
package by name. Verifiers are pure: no I/O, no clock. They may memoise work that
depends only on their inputs (for example a header whose seals were already
checked under the same trust root).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from relay.ibtp import IBTP, IBTPType


@dataclass(frozen=True, slots=True)
class ChainContext:
    """What a verifier knows about the chain that submitted an IBTP."""

    hub_id: str
    chain_id: str
    family: str
    #: The broker's address (EVM, FISCO) or chaincode name (Fabric) as registered.
    broker: str
    #: The family's parsed trust root (what ``parse_trust_root`` returned).
    trust_root: Any
    #: Relay height from which this trust root is in force.
    trust_root_height: int = 0


@dataclass(frozen=True, slots=True)
class Registration:
    """What a family's registration hook made of a ``chain.register`` body."""

    #: The parsed trust root (as :meth:`Verifier.parse_trust_root` returns it).
    trust_root: Any
    #: The broker in the family's canonical spelling, as the relay stores it: a
    #: lowercase 0x address (EVM, FISCO), a chaincode name (Fabric).
    broker: str


@runtime_checkable
class Verifier(Protocol):
    #: Family name, e.g. ``"notary"``, ``"evm"``, ``"fabric"``, ``"fisco"``.
    family: ClassVar[str]

    def parse_trust_root(self, raw: Any) -> Any:
        """Validate a trust root as given at registration (a msgpack-able value) and
        return the parsed form passed back in :attr:`ChainContext.trust_root`.
        Raise ``RelayError(Code.BAD_TRUST_ROOT, ...)`` saying what is wrong."""
        ...

    def check_registration(self, trust_root: Any, broker: str) -> Registration:
        """The registration hook: validate a ``chain.register``'s trust root and broker
        (a 1-128 character string) before anything is stored, and return the parsed
        root with the broker's canonical spelling. Raise ``RelayError(BAD_TRUST_ROOT)``
        with a message that names what is wrong: a chain registered with a root or a
        broker no proof could ever satisfy would refuse every IBTP later."""
        ...

    def canonical_service(self, service: str) -> str:
        """The canonical spelling of ``service``, the third part of a full service ID
        ``hubID:chainID:serviceID`` on a chain of this family (it already matches
        ``[A-Za-z0-9_.-]{1,128}``): the spelling the family's broker emits, so that
        IDs stored in the relay (services, allow and deny lists) compare equal to the
        ones in proven IBTPs. Raise ``RelayError(BAD_SERVICE_ID)`` if no service of
        this family can have that name. Pure and deterministic."""
        ...

    def verify(self, ctx: ChainContext, ibtp: IBTP, ibtp_hash: bytes) -> None:
        """Check ``ibtp.proof`` proves that the chain of ``ctx`` emitted ``ibtp``.
        Return on success; raise :class:`relay.errors.ProofError` with the family's
        own 5xxx code for every way a proof can be wrong."""
        ...


#: IBTP types the destination's broker emits (its receipt); a RECEIPT_ROLLBACK either
#: end's (the source's rollback, the destination's acknowledgement); the others the
#: source's.
DESTINATION_EMITTED = frozenset({IBTPType.RECEIPT_SUCCESS, IBTPType.RECEIPT_FAILURE})


def emitter_mismatch(ctx: ChainContext, ibtp: IBTP) -> str | None:
    """Why the chain of ``ctx`` cannot be the one that emitted ``ibtp`` (every family's
    first check, with its own CHAIN_MISMATCH code), or None: a request is emitted by the
    chain of its ``from``, a receipt by the chain of its ``to``, a RECEIPT_ROLLBACK by
    either (docs/protocol.md §3)."""
    prefix = f"{ctx.hub_id}:{ctx.chain_id}:"
    here = f"{ctx.hub_id}:{ctx.chain_id}"
    if ibtp.type == IBTPType.RECEIPT_ROLLBACK:
        if ibtp.src.startswith(prefix) or ibtp.dst.startswith(prefix):
            return None
        return (
            f"a RECEIPT_ROLLBACK is emitted by the chain of its 'from' or its 'to' service "
            f"({ibtp.src[:200]}, {ibtp.dst[:200]}), not by {here}, whose proof this is"
        )
    side = "to" if ibtp.type in DESTINATION_EMITTED else "from"
    emitter = ibtp.dst if side == "to" else ibtp.src
    if emitter.startswith(prefix):
        return None
    return (
        f"an IBTP of type {ibtp.type.name} is emitted by the chain of its {side!r} service "
        f"({emitter[:200]}), not by {here}, whose proof this is"
    )
