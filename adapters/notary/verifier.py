"""The notary family: M-of-N registered secp256k1 keys vouch for each IBTP.

For chains that cannot produce their own proofs (a dev node without seals). The
mode is explicit in the chain's registration: family ``notary``, trust root
``{"keys": [address, ...], "threshold": m}``. The proof is a msgpack array of
65-byte signatures over ``keccak256("relayhub.notary.v1" ‖ ibtpHash)``; every one
must be well-formed and by a registered key, and at least ``m`` distinct keys must
have signed. The broker and service names of a notary chain are free-form names of
``[A-Za-z0-9_.-]{1,128}`` (the chain proves nothing about them); a name that is an
address (0x + 40 hex digits) is spelled lowercase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack
from coincurve import PublicKey

from relay.crypto import (
    SECP256K1_N,
    ZERO_ADDRESS,
    Account,
    Address,
    address_from_pubkey,
    lower_if_address,
    normalize_address,
    recover_address,
)
from relay.errors import Code, ProofError, RelayError
from relay.ibtp import IBTP, compute_notary_digest
from relay.ibtp.ids import is_valid_service_part
from relay.validation.base import ChainContext, Registration

MAX_NOTARIES = 64


@dataclass(frozen=True, slots=True)
class NotaryTrustRoot:
    keys: frozenset[Address]
    threshold: int


class NotaryVerifier:
    family: ClassVar[str] = "notary"

    #: At most this many public keys are remembered (only registered notary keys are).
    MAX_MEMO_KEYS = 4096

    def __init__(self) -> None:
        # Compressed public key -> address of registered notary keys seen in valid
        # signatures: a notary signs every IBTP of its chain, so this saves the keccak
        # of its key on every signature. Depends only on the key: pure memoisation.
        self._addresses: dict[bytes, Address] = {}

    def parse_trust_root(self, raw: Any) -> NotaryTrustRoot:
        if not isinstance(raw, dict) or set(raw) != {"keys", "threshold"}:
            raise RelayError(
                Code.BAD_TRUST_ROOT, 'notary trust root is {"keys": [address, ...], "threshold": m}'
            )
        keys, m = raw["keys"], raw["threshold"]
        if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_NOTARIES:
            raise RelayError(
                Code.BAD_TRUST_ROOT, f"notary keys: a list of 1-{MAX_NOTARIES} addresses"
            )
        try:
            addrs = [normalize_address(k) for k in keys]
        except RelayError as exc:
            raise RelayError(Code.BAD_TRUST_ROOT, f"notary keys: {exc.message}") from None
        if ZERO_ADDRESS in addrs:
            raise RelayError(
                Code.BAD_TRUST_ROOT,
                f"notary keys: key {addrs.index(ZERO_ADDRESS)} is the zero address, which no "
                "private key signs for: register the notaries' real addresses",
            )
        if len(set(addrs)) != len(addrs):
            raise RelayError(Code.BAD_TRUST_ROOT, "notary keys must be distinct")
        if type(m) is not int or not 1 <= m <= len(addrs):
            raise RelayError(Code.BAD_TRUST_ROOT, f"notary threshold must be 1..{len(addrs)}")
        return NotaryTrustRoot(frozenset(addrs), m)

    def check_registration(self, trust_root: Any, broker: str) -> Registration:
        parsed = self.parse_trust_root(trust_root)
        if not is_valid_service_part(broker):
            raise RelayError(
                Code.BAD_TRUST_ROOT,
                f"notary broker {broker[:60]!r}: a broker name is 1-128 characters of "
                "A-Z a-z 0-9 _ . - (an address is 0x + 40 hex digits)",
            )
        return Registration(parsed, lower_if_address(broker))

    def canonical_service(self, service: str) -> str:
        return lower_if_address(service)

    def verify(self, ctx: ChainContext, ibtp: IBTP, ibtp_hash: bytes) -> None:
        root: NotaryTrustRoot = ctx.trust_root
        try:
            sigs = msgpack.unpackb(ibtp.proof, raw=False)
        except Exception:
            raise ProofError(Code.PROOF_MALFORMED, "notary proof is not a msgpack array") from None
        if not isinstance(sigs, list) or not all(isinstance(s, bytes) for s in sigs):
            raise ProofError(Code.PROOF_MALFORMED, "notary proof is an array of 65-byte signatures")
        if len(sigs) > MAX_NOTARIES:
            raise ProofError(Code.PROOF_MALFORMED, f"at most {MAX_NOTARIES} notary signatures")
        digest = compute_notary_digest(ibtp_hash)
        # Every signature is checked, also past the threshold: a proof carries only
        # well-formed signatures of registered keys (one signer counts once).
        signers: set[Address] = set()
        for i, s in enumerate(sigs):
            try:
                who = self._recover(digest, s, root)
            except RelayError as exc:
                raise ProofError(
                    Code.NOTARY_BAD_SIGNATURE,
                    f"notary signature {i} is malformed: {exc.message.removeprefix('signature: ')}"
                    "; send only 65-byte r‖s‖v signatures (low s, v 27/28) over the notary digest",
                    signature_index=i,
                ) from None
            if who not in root.keys:
                raise ProofError(
                    Code.NOTARY_UNKNOWN_SIGNER,
                    f"notary signature {i} is by {who}, which is not a registered notary key of "
                    f"chain {ctx.chain_id} (a signature over another digest recovers to a random "
                    "address): send only registered notaries' signatures",
                    signature_index=i,
                    signer=who,
                )
            signers.add(who)
        if len(signers) < root.threshold:
            raise ProofError(
                Code.NOTARY_BELOW_THRESHOLD,
                f"{len(signers)} distinct notary signatures; chain {ctx.chain_id} "
                f"needs {root.threshold}",
            )

    def _recover(self, digest: bytes, sig: bytes, root: NotaryTrustRoot) -> Address:
        """``recover_address(digest, sig)``, with the address of each registered key
        memoised. Every input it does not take as well-formed goes to
        ``recover_address``, which raises exactly as it always does."""
        if len(sig) != 65 or sig[64] not in (27, 28):
            return recover_address(digest, sig)
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
        if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
            return recover_address(digest, sig)
        try:
            pub = PublicKey.from_signature_and_message(
                sig[:64] + bytes([sig[64] - 27]), digest, hasher=None
            )
        except Exception:
            return recover_address(digest, sig)
        compressed = pub.format()
        who = self._addresses.get(compressed)
        if who is None:
            who = address_from_pubkey(pub)
            if who in root.keys and len(self._addresses) < self.MAX_MEMO_KEYS:
                self._addresses[compressed] = who
        return who


def notarize(ibtp_hash: bytes, notaries: list[Account]) -> bytes:
    """Build a notary proof: each account signs the notary digest of ``ibtp_hash``."""
    digest = compute_notary_digest(ibtp_hash)
    return msgpack.packb([a.sign(digest) for a in notaries], use_bin_type=True)
