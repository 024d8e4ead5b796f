"""Full service IDs ``hubID:chainID:serviceID`` and IBTP IDs, strictly parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from relay.errors import Code, EncodingError

_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_SERVICE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
#: Separator between the parts of an IBTP ID; never valid inside a service ID.
IBTP_ID_SEP = "~"


@dataclass(frozen=True, slots=True)
class ServiceID:
    """A full service ID: the hub, the app chain on it, and the service on that chain."""

    hub: str
    chain: str
    service: str

    def __str__(self) -> str:
        return f"{self.hub}:{self.chain}:{self.service}"

    @property
    def chain_key(self) -> str:
        """``hubID:chainID`` — the chain part, used to route."""
        return f"{self.hub}:{self.chain}"


def parse_service_id(text: object) -> ServiceID:
    """Parse ``hubID:chainID:serviceID`` or raise ``BAD_SERVICE_ID``.

    Hub and chain IDs are 1-64 characters of ``[A-Za-z0-9_.-]``; a service ID is
    1-128 of the same set (an EVM address ``0x...`` or a chaincode name fits).
    """
    if not isinstance(text, str):
        raise EncodingError(Code.BAD_SERVICE_ID, "a service ID must be a string")
    parts = text.split(":")
    if len(parts) != 3:
        raise EncodingError(
            Code.BAD_SERVICE_ID,
            f"service ID {text[:200]!r} must have exactly three parts hubID:chainID:serviceID",
        )
    hub, chain, service = parts
    if not _SEGMENT.fullmatch(hub) or not _SEGMENT.fullmatch(chain):
        raise EncodingError(
            Code.BAD_SERVICE_ID,
            f"service ID {text[:200]!r}: hub and chain IDs are 1-64 chars of A-Z a-z 0-9 _ . -",
        )
    if not _SERVICE.fullmatch(service):
        raise EncodingError(
            Code.BAD_SERVICE_ID,
            f"service ID {text[:200]!r}: the service part is 1-128 chars of A-Z a-z 0-9 _ . -",
        )
    return ServiceID(hub, chain, service)


def is_valid_chain_id(text: object) -> bool:
    return isinstance(text, str) and _SEGMENT.fullmatch(text) is not None


def is_valid_service_part(text: object) -> bool:
    """Whether ``text`` can be the third part of a full service ID."""
    return isinstance(text, str) and _SERVICE.fullmatch(text) is not None


def compute_ibtp_id(src: str, dst: str, index: int) -> str:
    """The IBTP ID ``from~to~index`` shared by a request and its receipts."""
    return f"{src}{IBTP_ID_SEP}{dst}{IBTP_ID_SEP}{index}"


_INDEX = re.compile(r"[1-9][0-9]{0,19}")


def parse_ibtp_id(text: str) -> tuple[str, str, int]:
    """Parse ``from~to~index``; the index is written in decimal without leading zeros
    and is 1..2**64-1, so every IBTP has exactly one ID spelling."""
    parts = text.split(IBTP_ID_SEP)
    if len(parts) != 3 or not _INDEX.fullmatch(parts[2]) or int(parts[2]) >= 2**64:
        raise EncodingError(
            Code.BAD_REQUEST,
            f"IBTP ID {text[:300]!r} is not from~to~index (index 1..2^64-1, no leading zeros)",
        )
    parse_service_id(parts[0])
    parse_service_id(parts[1])
    return parts[0], parts[1], int(parts[2])
