"""The notary family: M-of-N registered secp256k1 keys vouch for each IBTP.

For chains that cannot produce their own proofs (a dev node without seals). The
mode is explicit in the chain's registration: family ``notary``, trust root
``{"keys": [address, ...], "threshold": m}``. The proof is a msgpack array of
65-byte signatures over ``keccak256("relayhub.notary.v1" ‖ ibtpHash)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack

from relay.crypto import Account, Address, normalize_address, recover_address
from relay.errors import Code, ProofError, RelayError
from relay.ibtp import IBTP, compute_notary_digest
from relay.validation.base import ChainContext

MAX_NOTARIES = 64


@dataclass(frozen=True, slots=True)
class NotaryTrustRoot:
    keys: frozenset[Address]
    threshold: int


class NotaryVerifier:
    family: ClassVar[str] = "notary"

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
        if len(set(addrs)) != len(addrs):
            raise RelayError(Code.BAD_TRUST_ROOT, "notary keys must be distinct")
        if type(m) is not int or not 1 <= m <= len(addrs):
            raise RelayError(Code.BAD_TRUST_ROOT, f"notary threshold must be 1..{len(addrs)}")
        return NotaryTrustRoot(frozenset(addrs), m)

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
        signers: set[Address] = set()
        for s in sigs:
            try:
                who = recover_address(digest, s)
            except RelayError:
                raise ProofError(
                    Code.NOTARY_BAD_SIGNATURE,
                    "a notary signature is malformed (65 bytes r‖s‖v, low s)",
                ) from None
            if who not in root.keys:
                raise ProofError(
                    Code.NOTARY_UNKNOWN_SIGNER,
                    f"notary signature by {who}, which is not a registered notary key of "
                    f"chain {ctx.chain_id}",
                )
            signers.add(who)
            if len(signers) >= root.threshold:
                return
        raise ProofError(
            Code.NOTARY_BELOW_THRESHOLD,
            f"{len(signers)} distinct notary signatures; chain {ctx.chain_id} "
            f"needs {root.threshold}",
        )


def notarize(ibtp_hash: bytes, notaries: list[Account]) -> bytes:
    """Build a notary proof: each account signs the notary digest of ``ibtp_hash``."""
    digest = compute_notary_digest(ibtp_hash)
    return msgpack.packb([a.sign(digest) for a in notaries], use_bin_type=True)
