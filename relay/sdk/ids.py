"""Service IDs as the SDK takes them: one spelling per service.

An EVM broker emits the addresses in service IDs in lowercase, and the relay compares
IDs byte for byte, so ``hub0:chainB:0x9FE4…`` (an EIP-55 checksummed address, as
web3 tools print it) would never match the ``hub0:chainB:0x9fe4…`` the broker emitted.
The SDK lowercases such a part wherever it takes a service ID. The rule names no
chain family: only a service part that is ``0x`` + 40 hex digits is changed; every
other spelling (a chaincode name, say) is kept as given, since other families' IDs
may be case-sensitive.
"""

from __future__ import annotations

from relay.crypto import lower_if_address
from relay.ibtp.ids import IBTP_ID_SEP


def canonical_service_id(service_id: str) -> str:
    """``hub:chain:service`` with a ``0x``+40-hex service part in lowercase; any other
    text (including one that is not a full service ID) unchanged."""
    if not isinstance(service_id, str):
        raise TypeError(f"a service ID is a str 'hub:chain:service', not {type(service_id)}")
    parts = service_id.split(":")
    if len(parts) != 3:
        return service_id
    return ":".join([*parts[:2], lower_if_address(parts[2])])


def canonical_ibtp_id(ibtp_id: str) -> str:
    """``from~to~index`` with both service IDs canonical (:func:`canonical_service_id`)."""
    if not isinstance(ibtp_id, str):
        raise TypeError(f"an IBTP ID is a str 'from~to~index', not {type(ibtp_id)}")
    parts = ibtp_id.split(IBTP_ID_SEP)
    if len(parts) != 3:
        return ibtp_id
    return IBTP_ID_SEP.join(
        [canonical_service_id(parts[0]), canonical_service_id(parts[1]), parts[2]]
    )
