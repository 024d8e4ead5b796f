"""The genesis file: the hub's identity, admins and relay validators."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay.crypto import Address, keccak, normalize_address
from relay.errors import Code, RelayError
from relay.ibtp.codec import canonical_packb
from relay.ibtp.ids import is_valid_chain_id


@dataclass(frozen=True, slots=True)
class Genesis:
    hub_id: str
    #: Accounts allowed to approve / reject app-chain registrations.
    admins: tuple[Address, ...]
    #: Relay validators whose signatures form relay proofs and block seals.
    validators: tuple[Address, ...]
    validator_threshold: int = 1
    #: Timeout given to an IBTP whose ``timeout`` field is 0.
    default_timeout_blocks: int = 200

    def to_dict(self) -> dict[str, Any]:
        return {
            "hub_id": self.hub_id,
            "admins": list(self.admins),
            "validators": list(self.validators),
            "validator_threshold": self.validator_threshold,
            "default_timeout_blocks": self.default_timeout_blocks,
        }

    @property
    def hash(self) -> bytes:
        return keccak(b"relayhub.genesis.v1" + canonical_packb(self.to_dict()))

    @classmethod
    def from_dict(cls, d: Any) -> Genesis:
        if not isinstance(d, dict):
            raise RelayError(Code.CONFIG, "genesis must be a JSON object")
        try:
            g = cls(
                hub_id=d["hub_id"],
                admins=tuple(normalize_address(a) for a in d["admins"]),
                validators=tuple(normalize_address(a) for a in d["validators"]),
                validator_threshold=int(d.get("validator_threshold", 1)),
                default_timeout_blocks=int(d.get("default_timeout_blocks", 200)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RelayError(Code.CONFIG, f"genesis: missing or bad field {exc}") from None
        if not is_valid_chain_id(g.hub_id):
            raise RelayError(Code.CONFIG, "genesis hub_id must be 1-64 chars of A-Z a-z 0-9 _ . -")
        if not g.admins or not g.validators:
            raise RelayError(Code.CONFIG, "genesis needs at least one admin and one validator")
        if not 1 <= g.validator_threshold <= len(g.validators):
            raise RelayError(Code.CONFIG, "genesis validator_threshold must be 1..len(validators)")
        if g.default_timeout_blocks < 1:
            raise RelayError(Code.CONFIG, "genesis default_timeout_blocks must be >= 1")
        return g

    @classmethod
    def load(cls, path: Path) -> Genesis:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise RelayError(Code.CONFIG, f"cannot read genesis {path}: {exc}") from None

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
