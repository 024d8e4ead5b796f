"""The chaincodes defined on the channel: name → chaincode, version, endorsement policy.

Fabric keeps chaincode definitions in the ``_lifecycle`` namespace, approved by the
orgs; the dev chain takes them from its configuration instead: a list of *providers*,
each ``"module:attribute"`` naming a callable that takes the :class:`ChaincodeContext`
(channel, hub and chain IDs, the orgs' MSP IDs, the relay validators the broker must
trust) and returns :class:`ChaincodeDefinition`s. So the broker set
(``appchains/fabric/chaincode``) plugs in with one config entry. A definition without
a policy gets the channel's default, Fabric's ``MAJORITY Endorsement``: more than half
of the orgs' peers. Pure except :func:`load_providers` (it imports modules).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from fabric_protos.common import policies_pb2

from adapters.fabric.policy import format_policy, parse_policy, policy_from_string
from appchains.fabric.chaincode.broker import is_account_name
from appchains.fabric.chaincode.stub import Chaincode

#: Names the peer reserves for its system chaincodes.
SYSTEM_CHAINCODES = frozenset({"qscc", "cscc", "lscc", "_lifecycle", "escc", "vscc"})


@dataclass(frozen=True, slots=True)
class ChaincodeContext:
    """What a chaincode provider may need to build its chaincodes."""

    channel_id: str
    hub_id: str
    chain_id: str
    msp_ids: tuple[str, ...]
    relay_validators: tuple[str, ...] = ()
    relay_threshold: int = 1
    #: The network's client identities (``msp.SerializedIdentity`` bytes), in the
    #: order of :attr:`appchains.fabric.orgs.NetworkSetup.users`.
    users: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class ChaincodeDefinition:
    chaincode: Chaincode
    #: Fabric policy language; None: the channel default (majority of the orgs' peers).
    policy: str | None = None
    version: str = "1.0"

    @property
    def name(self) -> str:
        return self.chaincode.name


Provider = Callable[[ChaincodeContext], Iterable[ChaincodeDefinition]]


def majority_policy(msp_ids: Sequence[str]) -> str:
    """Fabric's default ``MAJORITY Endorsement`` as a signature policy over the orgs' peers."""
    principals = ", ".join(f"'{m}.peer'" for m in msp_ids)
    return f"OutOf({len(msp_ids) // 2 + 1}, {principals})"


@dataclass(frozen=True)
class Defined:
    """A chaincode as the channel knows it: the policy parsed and compiled."""

    chaincode: Chaincode
    version: str
    policy: str  #: canonical policy string
    envelope: policies_pb2.SignaturePolicyEnvelope = field(repr=False)


class ChaincodeRegistry:
    """The channel's chaincode definitions."""

    def __init__(self, definitions: Iterable[ChaincodeDefinition], msp_ids: Sequence[str]) -> None:
        self.default_policy = format_policy(parse_policy(majority_policy(msp_ids)))
        self._defined: dict[str, Defined] = {}
        for d in definitions:
            self.define(d)

    def define(self, d: ChaincodeDefinition) -> None:
        name = d.name
        if not name or name in SYSTEM_CHAINCODES:
            raise ValueError(f"chaincode name {name!r} is empty or a system chaincode's")
        if is_account_name(name):
            raise ValueError(
                f"chaincode name {name!r} is a client account's (0x + 40 hex): the broker "
                "takes such a service for a client's own call (docs/fabric.md §3.2)"
            )
        if name in self._defined:
            raise ValueError(f"chaincode {name!r} is defined twice")
        text = format_policy(parse_policy(d.policy or self.default_policy))
        self._defined[name] = Defined(d.chaincode, d.version, text, policy_from_string(text))

    def get(self, name: str) -> Defined | None:
        return self._defined.get(name)

    def chaincodes(self) -> Mapping[str, Chaincode]:
        return {name: d.chaincode for name, d in self._defined.items()}

    def names(self) -> list[str]:
        return sorted(self._defined)


def load_providers(specs: Sequence[str], context: ChaincodeContext) -> list[ChaincodeDefinition]:
    """The definitions of every provider ``"module:attribute"`` in ``specs``, in order."""
    out: list[ChaincodeDefinition] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise ValueError(f"chaincode provider {spec!r} is not 'module:attribute'")
        try:
            provider = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"chaincode provider {spec!r}: {exc}") from None
        for d in provider(context):
            if not isinstance(d, ChaincodeDefinition):
                raise ValueError(f"chaincode provider {spec!r} gave {type(d).__name__}")
            out.append(d)
    return out
