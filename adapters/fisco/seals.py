"""PBFT seals of FISCO BCOS 2.x: did a quorum of registered sealers sign a block hash?

Read in FISCO-BCOS (``FISCO-BCOS/FISCO-BCOS``, 2.x):

* ``libethcore/Block.h``: a block carries ``m_sigList``, a
  ``std::vector<std::pair<u256, Signature>>`` (RLP field 3 of the block, beside the
  header, so the header hash covers no seal): pairs of the sealer's index in the
  sealer list and its signature over the block (header) hash.
* ``libconsensus/ConsensusEngineBase.cpp`` ``checkSigList``: refuses a list shorter
  than ``minValidNodes()`` (:func:`adapters.fisco.pbft.compute_pbft_quorum`), then
  for each pair looks the node ID up by index (``getNodeIDByIndex``; out of range
  is a refusal) and checks ``verify(nodeId, signature, blockHash)``.
  ``libconsensus/pbft/PBFTEngine.cpp`` ``checkSign`` checks PBFT messages the same
  way (``Verify(node_id, SignatureFromBytes(sig), block_hash)``).
* secp256k1 mode, ``libdevcrypto/ECDSASignature.cpp``: ``asBytes`` is ``r‖s‖v``,
  65 bytes, ``v`` the raw recovery id **0 or 1** (the 27 base, ``VBase``, is only
  added in the RLP ``encode`` and by ``ecRecover``); ``ecdsaSign`` normalises to
  low ``s`` (flipping ``v``); ``isValid`` demands ``v <= 1``, ``0 < r, s < n`` and
  ``s <= n/2``; ``ecdsaVerify(p, sig, hash)`` is ``p == ecdsaRecover(sig, hash)``,
  the recovered uncompressed key without its ``04`` byte — the 64-byte node ID.
* 国密 mode, ``libdevcrypto/SM2Signature.cpp``: ``asBytes`` is ``r‖s‖v``, 128 bytes,
  ``v`` the signer's 64-byte public key (``sm2Sign`` puts ``_keyPair.pub()``);
  ``sm2Verify(p, sig, hash)`` verifies with the given node ID; ``isValid`` wants
  ``0 < r, s < n``. The SM2 details (user ID, ``Z``) are in
  :mod:`adapters.fisco.smcrypto`.

Where the relay is stricter than the node, on purpose:

* It counts **distinct** sealers. ``checkSigList`` compares ``sigList.size()`` with
  the quorum, so a list repeating one sealer's seal would pass the node's check; a
  relay taking seals from a gateway must not (``SEAL_DUPLICATE_SEALER``).
* ``ecdsaVerify`` goes through ``ecdsaRecover``, which accepts ``v`` up to 3 and a
  high ``s``; the relay takes only what ``ecdsaSign`` emits (``v`` 0/1, low ``s``),
  so one seal has one encoding.
* In 国密 mode ``sm2Verify`` uses the node ID and ignores the carried key; the relay
  also requires the carried key to be the indexed sealer's, so the key in a seal
  never names someone else.

The sealer list that counts is the **trust root's** (registered with the chain),
never the header's ``sealerList``: a forged header can list any keys. Indexes in
the seal list are indexes into the registered list, which must therefore be the
list in force at that block, in the chain's order. (When the chain changes its
sealers, registering the new list is the trust root's business, not this module's.)

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from coincurve import PublicKey

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import CryptoMode
from adapters.fisco.header import NODE_ID_SIZE
from adapters.fisco.pbft import compute_pbft_quorum
from adapters.fisco.smcrypto import SM2_N, verify_fisco_sm2_signature
from relay.crypto import SECP256K1_N
from relay.errors import ProofError

SECP_SEAL_SIZE = 65
SM2_SEAL_SIZE = 128
#: ``(sealer index, signature bytes)``, as in ``Block::sigList``.
Seal = tuple[int, bytes]


def _seal_error(code: FiscoCode, i: int, message: str, **details: object) -> ProofError:
    return ProofError(code, f"seal {i}: {message}", seal_index=i, **details)


def _check_sealers(sealers: Sequence[bytes]) -> tuple[bytes, ...]:
    out = tuple(bytes(s) for s in sealers)
    if not out:
        raise ValueError("a FISCO trust root registers at least one sealer")
    if any(len(s) != NODE_ID_SIZE for s in out):
        raise ValueError("a sealer node ID is 64 bytes (public key x‖y, no 04)")
    if len(set(out)) != len(out):
        raise ValueError("the registered sealer list repeats a node ID")
    return out


def _secp_signer(i: int, header_hash: bytes, sig: bytes) -> bytes:
    """The 64-byte node ID a well-formed secp256k1 seal recovers to."""
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    v = sig[64]
    defects = []
    if not 0 < r < SECP256K1_N:
        defects.append("r is not in 1..n-1")
    if not 0 < s <= SECP256K1_N // 2:
        defects.append("s is not in 1..n/2 (FISCO's ecdsaSign emits low s only)")
    if v not in (0, 1):
        hint = " (27/28 is the RLP/ecRecover form; the seal carries 0/1)" if v in (27, 28) else ""
        defects.append(f"v = {v}, must be 0 or 1{hint}")
    if defects:
        raise _seal_error(FiscoCode.SEAL_MALFORMED, i, "; ".join(defects))
    try:
        pub = PublicKey.from_signature_and_message(sig, header_hash, hasher=None)
    except Exception:
        raise _seal_error(
            FiscoCode.SEAL_SIGNATURE_INVALID, i, "the secp256k1 signature recovers to no key"
        ) from None
    return bytes(pub.format(compressed=False)[1:])


def _sm2_signer(i: int, header_hash: bytes, sig: bytes, registered: Collection[bytes]) -> bytes:
    """The carried key of a well-formed SM2 seal, verified when it is a registered sealer's.

    An unregistered carried key is refused as such by the caller, verified or not."""
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not (0 < r < SM2_N and 0 < s < SM2_N):
        raise _seal_error(FiscoCode.SEAL_MALFORMED, i, "SM2 r and s must be in 1..n-1")
    pub = sig[64:]
    if pub in registered and verify_fisco_sm2_signature(sig, header_hash) is None:
        raise _seal_error(
            FiscoCode.SEAL_SIGNATURE_INVALID,
            i,
            "the SM2 signature does not verify under the registered key it carries "
            "(a seal over another block hash, or changed r/s)",
        )
    return pub


def verify_sealed_header(
    header_hash: bytes, sig_list: Sequence[Seal], sealers: Sequence[bytes], mode: CryptoMode
) -> int:
    """The number of distinct registered sealers whose seals over ``header_hash`` verify.

    ``sealers`` is the trust root's sealer list (64-byte node IDs, in the chain's
    order); each seal's index points into it. Every seal is checked, also past the
    quorum: a list that reaches it carries only valid seals of registered sealers.
    Raises :class:`ProofError` with a 54xx code (``SEAL_MALFORMED``,
    ``SEAL_WRONG_MODE``, ``SEAL_INDEX_OUT_OF_RANGE``, ``SEAL_SIGNATURE_INVALID``,
    ``SEAL_SIGNER_MISMATCH``, ``SEAL_UNREGISTERED_SIGNER``, then
    ``SEAL_DUPLICATE_SEALER`` / ``SEAL_BELOW_QUORUM``); ``ValueError`` for the
    caller's own inputs (hash not 32 bytes, bad sealer list, unknown mode).
    """
    if len(header_hash) != 32:
        raise ValueError(f"a FISCO block hash is 32 bytes, got {len(header_hash)}")
    if mode not in ("secp256k1", "sm"):
        raise ValueError(f"unknown FISCO crypto mode {mode!r}: use 'secp256k1' or 'sm'")
    registered = _check_sealers(sealers)
    position = {node_id: k for k, node_id in enumerate(registered)}
    own_size, other_size = (
        (SECP_SEAL_SIZE, SM2_SEAL_SIZE) if mode == "secp256k1" else (SM2_SEAL_SIZE, SECP_SEAL_SIZE)
    )
    signed: set[int] = set()
    for i, seal in enumerate(sig_list):
        if not (isinstance(seal, tuple | list) and len(seal) == 2):
            raise _seal_error(FiscoCode.SEAL_MALFORMED, i, "a seal is a (sealer index, bytes) pair")
        index, sig = seal
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise _seal_error(
                FiscoCode.SEAL_MALFORMED, i, f"the sealer index {index!r} is not an integer >= 0"
            )
        if not isinstance(sig, bytes | bytearray):
            raise _seal_error(FiscoCode.SEAL_MALFORMED, i, "the signature is not bytes")
        sig = bytes(sig)
        if len(sig) == other_size:
            other = "SM2 (128-byte r‖s‖pub)" if mode == "secp256k1" else "secp256k1 (65-byte r‖s‖v)"
            raise _seal_error(
                FiscoCode.SEAL_WRONG_MODE,
                i,
                f"a {other} signature on a chain registered in {mode} mode",
                mode=mode,
            )
        if len(sig) != own_size:
            raise _seal_error(
                FiscoCode.SEAL_MALFORMED,
                i,
                f"a {mode} seal is {own_size} bytes, this one is {len(sig)}",
            )
        if index >= len(registered):
            raise _seal_error(
                FiscoCode.SEAL_INDEX_OUT_OF_RANGE,
                i,
                f"sealer index {index}, but {len(registered)} sealers are registered",
                sealer_index=index,
            )
        expected = registered[index]
        if mode == "secp256k1":
            signer = _secp_signer(i, header_hash, sig)
        else:
            signer = _sm2_signer(i, header_hash, sig, position)
        if signer != expected:
            if signer in position:
                raise _seal_error(
                    FiscoCode.SEAL_SIGNER_MISMATCH,
                    i,
                    f"signed by registered sealer {position[signer]}, not by sealer {index}",
                    sealer_index=index,
                    signer_index=position[signer],
                )
            raise _seal_error(
                FiscoCode.SEAL_UNREGISTERED_SIGNER,
                i,
                f"signed by {signer.hex()[:16]}…, which is not a registered sealer"
                + (" (or a seal over another block hash)" if mode == "secp256k1" else ""),
                sealer_index=index,
                signer="0x" + signer.hex(),
            )
        signed.add(index)
    quorum = compute_pbft_quorum(len(registered))
    if len(signed) < quorum:
        code = (
            FiscoCode.SEAL_DUPLICATE_SEALER
            if len(sig_list) >= quorum
            else FiscoCode.SEAL_BELOW_QUORUM
        )
        raise ProofError(
            code,
            f"{len(signed)} distinct registered sealers signed ({len(sig_list)} seals); "
            f"{len(registered)} sealers need {quorum}"
            + ("; a sealer counts once" if code == FiscoCode.SEAL_DUPLICATE_SEALER else ""),
            signed=len(signed),
            seals=len(sig_list),
            quorum=quorum,
        )
    return len(signed)
