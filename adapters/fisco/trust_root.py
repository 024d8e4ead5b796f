"""A FISCO chain's trust root: crypto mode, group, chain ID, sealer lists by height.

The registration form (what ``chain.register`` takes, validated by
:func:`parse_trust_root`)::

    {"mode": "secp256k1" | "sm",
     "group_id": 1,
     "chain_id": 1,
     "sealers": [{"from_height": 0,    "nodes": ["<128 hex>", ...]},
                 {"from_height": 1200, "nodes": ["<128 hex>", ...]}]}

* ``mode``: ``secp256k1`` (keccak-256, ECDSA) or ``sm`` (国密: SM3, SM2) — per chain.
* ``group_id``: the FISCO group (``GROUP_ID``, 1..32767); ``chain_id``: the chain's
  ``chain.id`` (``int64`` ≥ 0, ``GlobalConfigureInitializer``).
* ``sealers``: the sealer list in force from each height on, heights strictly
  increasing. Each list holds 1..128 distinct node IDs — the sealers' public keys
  ``x‖y`` (64 bytes, 128 hex digits, ``0x`` optional, stored lowercase without it, as
  ``getSealerList`` writes them), each a point of the mode's curve — in ascending
  order, the order FISCO indexes seals in (``ConsensusEngineBase`` sorts its sealer
  list). The first list may start above 0: a trust root read from a live node
  (``getSealerList`` at ``getBlockNumber``) knows nothing of older sealers, and blocks
  below it cannot be proven (``HEIGHT_BEFORE_TRUST_ROOT``).

A block at height ``h`` is checked against the last list whose ``from_height ≤ h``;
its header's ``sealerList`` must be that list, and a quorum of it must have signed.

Addresses on a 国密 chain are SM3-derived (``toAddress`` = ``right160(crypto::Hash(pub))``,
contract addresses ``right160(crypto::Hash(rlp(sender, nonce)))`` in
``libdevcrypto/Common.cpp`` / ``libexecutive/Executive.cpp``), but still 20 bytes shown as
0x + 40 hex digits: the broker and services are spelled as on an EVM chain, lowercase
(no checksum is checked: an EIP-55 checksum is keccak-based and means nothing on a 国密
chain). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from coincurve import PublicKey

from adapters.fisco.hashing import CryptoMode, HashFn, hash_fn_for
from adapters.fisco.pbft import compute_pbft_quorum
from adapters.fisco.proof import MAX_GROUP_ID
from adapters.fisco.smcrypto import is_sm2_point
from relay.crypto import ZERO_ADDRESS, address_defect, keccak
from relay.errors import Code, RelayError
from relay.ibtp.codec import canonical_packb
from relay.validation.base import Registration

MODES: tuple[CryptoMode, ...] = ("secp256k1", "sm")
TRUST_ROOT_KEYS = frozenset({"mode", "group_id", "chain_id", "sealers"})
LIST_KEYS = frozenset({"from_height", "nodes"})
MAX_SEALERS = 128
MAX_SEALER_LISTS = 256
MAX_HEIGHT = 2**63 - 1
MAX_CHAIN_ID = 2**63 - 1
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class SealerList:
    """The sealers in force from ``from_height`` on, in the chain's (ascending) order."""

    from_height: int
    nodes: tuple[bytes, ...]
    quorum: int


@dataclass(frozen=True, slots=True)
class FiscoTrustRoot:
    """A parsed FISCO trust root; ``identity`` (a hash of the canonical form) keys the
    verifier's seal memo."""

    mode: CryptoMode
    group_id: int
    chain_id: int
    sealer_lists: tuple[SealerList, ...]
    identity: bytes

    @property
    def hash_fn(self) -> HashFn:
        return hash_fn_for(self.mode)

    def sealers_at(self, height: int) -> SealerList | None:
        """The list in force at ``height`` (None below the first ``from_height``)."""
        for entry in reversed(self.sealer_lists):
            if entry.from_height <= height:
                return entry
        return None

    def to_dict(self) -> dict[str, Any]:
        """The canonical registration form (what :func:`parse_trust_root` takes)."""
        return {
            "mode": self.mode,
            "group_id": self.group_id,
            "chain_id": self.chain_id,
            "sealers": [
                {"from_height": s.from_height, "nodes": [n.hex() for n in s.nodes]}
                for s in self.sealer_lists
            ],
        }


def _bad(why: str) -> NoReturn:
    raise RelayError(Code.BAD_TRUST_ROOT, f"FISCO trust root: {why}")


def _is_int(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _node_id(text: object, mode: CryptoMode, where: str) -> bytes:
    if not isinstance(text, str):
        _bad(f"{where} must be a hex string (the node ID, 128 hex digits)")
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if len(digits) != 128 or not set(digits) <= _HEX:
        _bad(
            f"{where} ({text[:20]!r}…) is not a node ID: 128 hex digits (the 64-byte public "
            "key x‖y, as getSealerList answers it)"
        )
    node = bytes.fromhex(digits)
    if mode == "secp256k1":
        try:
            PublicKey(b"\x04" + node)
        except Exception:
            _bad(
                f"{where} is not a point of secp256k1: check it is the node's secp256k1 ID "
                "(a 国密 chain's SM2 IDs need mode 'sm')"
            )
    elif not is_sm2_point(node):
        _bad(
            f"{where} is not a point of the SM2 curve: check it is the node's 国密 ID (a "
            "standard chain's secp256k1 IDs need mode 'secp256k1')"
        )
    return node


def parse_trust_root(raw: Any) -> FiscoTrustRoot:
    """Validate a trust root (the form of the module docstring); ``RelayError(BAD_TRUST_ROOT)``
    naming what is wrong."""
    if isinstance(raw, FiscoTrustRoot):
        raw = raw.to_dict()
    if not isinstance(raw, dict):
        _bad("must be a map {mode, group_id, chain_id, sealers}")
    keys = set(raw)
    if keys != TRUST_ROOT_KEYS:
        missing = sorted(TRUST_ROOT_KEYS - keys)
        extra = sorted(str(k) for k in keys - TRUST_ROOT_KEYS)
        _bad(f"keys must be exactly {sorted(TRUST_ROOT_KEYS)}; missing {missing}, extra {extra}")
    mode = raw["mode"]
    if mode not in MODES:
        _bad(f"mode must be 'secp256k1' (standard build) or 'sm' (国密 build), not {mode!r:.40}")
    group_id = raw["group_id"]
    if not _is_int(group_id, 1, MAX_GROUP_ID):
        _bad(f"group_id must be an integer from 1 to {MAX_GROUP_ID} (a group of getGroupList)")
    chain_id = raw["chain_id"]
    if not _is_int(chain_id, 0, MAX_CHAIN_ID):
        _bad("chain_id must be an integer from 0 to 2**63-1 (the node's chain.id)")
    lists = raw["sealers"]
    if not isinstance(lists, list | tuple) or not 1 <= len(lists) <= MAX_SEALER_LISTS:
        _bad(
            f"sealers must be a list of 1 to {MAX_SEALER_LISTS} entries "
            '{"from_height": h, "nodes": [...]}, heights increasing'
        )
    parsed: list[SealerList] = []
    for k, entry in enumerate(lists):
        where = f"sealers[{k}]"
        if not isinstance(entry, dict) or set(entry) != LIST_KEYS:
            _bad(f'{where} must be a map with exactly "from_height" and "nodes"')
        height = entry["from_height"]
        if not _is_int(height, 0, MAX_HEIGHT):
            _bad(f"{where}.from_height must be an integer from 0 to 2**63-1 (a block number)")
        if parsed and height <= parsed[-1].from_height:
            _bad(
                f"{where}.from_height {height} does not follow {parsed[-1].from_height}: heights "
                "must strictly increase, one list per sealer change"
            )
        nodes = entry["nodes"]
        if not isinstance(nodes, list | tuple) or not 1 <= len(nodes) <= MAX_SEALERS:
            _bad(f"{where}.nodes must be a list of 1 to {MAX_SEALERS} node IDs")
        ids = tuple(_node_id(n, mode, f"{where}.nodes[{i}]") for i, n in enumerate(nodes))
        if len(set(ids)) != len(ids):
            _bad(f"{where}.nodes repeats a node ID: each sealer once")
        if list(ids) != sorted(ids):
            _bad(
                f"{where}.nodes must be in ascending order: FISCO indexes seals into its "
                "sorted sealer list (ConsensusEngineBase sorts it); sort the IDs"
            )
        parsed.append(SealerList(height, ids, compute_pbft_quorum(len(ids))))
    canonical = FiscoTrustRoot(mode, group_id, chain_id, tuple(parsed), b"").to_dict()
    return FiscoTrustRoot(
        mode=mode,
        group_id=group_id,
        chain_id=chain_id,
        sealer_lists=tuple(parsed),
        identity=keccak(b"relayhub.fisco-trust-root.v1" + canonical_packb(canonical)),
    )


def _address(text: object, what: str, code: Code) -> str:
    why = address_defect(text)
    if why is not None:
        raise RelayError(
            code,
            f"FISCO {what}: {why}; it is the 0x address of a contract on the chain "
            "(0x + exactly 40 hex digits)",
        )
    assert isinstance(text, str)
    return text.lower()


def check_registration(trust_root: Any, broker: str) -> Registration:
    """The registration hook: the parsed trust root and the broker as stored, lowercase
    (the spelling in the broker's logs is the 20 emitter bytes)."""
    parsed = parse_trust_root(trust_root)
    address = _address(broker, "broker", Code.BAD_TRUST_ROOT)
    if address == ZERO_ADDRESS:
        raise RelayError(
            Code.BAD_TRUST_ROOT,
            "FISCO broker: the zero address holds no contract and emits no logs; give the "
            "address the broker contract was deployed at",
        )
    return Registration(parsed, address)


def canonical_service(service: str) -> str:
    """A FISCO service is a contract's 0x address; the broker emits it lowercase."""
    return _address(service, "service", Code.BAD_SERVICE_ID)


__all__ = [
    "FiscoTrustRoot",
    "SealerList",
    "canonical_service",
    "check_registration",
    "parse_trust_root",
]
