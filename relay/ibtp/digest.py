"""The two digests of an IBTP.

* The **IBTP hash** names a message in storage and APIs: keccak-256 of the
  canonical msgpack bytes with the proof field empty (a message keeps its hash
  when its proof is re-fetched; a notary signature inside the proof can cover it).
* The **signed digest** is what relay validators sign for a destination chain.
  It is recomputable on-chain from the fields a broker executes::

      payloadHash  = keccak256(abi.encode(string func, bytes[] args, bool encrypted))
      signedDigest = keccak256(abi.encode(bytes32 RELAY_PROOF_DOMAIN, string hubId,
                         string from, string to, uint64 index, uint8 ibtpType,
                         bytes32 payloadHash, uint8 status))

  where ``RELAY_PROOF_DOMAIN = keccak256("relayhub.relay-proof.v1")``. A Solidity
  broker checks it with ``abi.encode`` + ``keccak256`` + ``ecrecover``.
"""

from __future__ import annotations

from eth_abi import encode as abi_encode

from relay.crypto import keccak
from relay.ibtp.codec import encode_ibtp_unproven
from relay.ibtp.message import IBTP, Payload, TxStatus

RELAY_PROOF_DOMAIN = keccak(b"relayhub.relay-proof.v1")
NOTARY_DOMAIN = b"relayhub.notary.v1"

_PAYLOAD_TYPES = ("string", "bytes[]", "bool")
_DIGEST_TYPES = ("bytes32", "string", "string", "string", "uint64", "uint8", "bytes32", "uint8")


def compute_ibtp_hash(ibtp: IBTP) -> bytes:
    return keccak(encode_ibtp_unproven(ibtp))


def compute_payload_hash(payload: Payload) -> bytes:
    return keccak(abi_encode(_PAYLOAD_TYPES, (payload.func, list(payload.args), payload.encrypted)))


def compute_signed_digest(hub_id: str, ibtp: IBTP, status: TxStatus | int) -> bytes:
    """The digest relay validators sign for the destination of ``ibtp``."""
    return keccak(
        abi_encode(
            _DIGEST_TYPES,
            (
                RELAY_PROOF_DOMAIN,
                hub_id,
                ibtp.src,
                ibtp.dst,
                ibtp.index,
                int(ibtp.type),
                compute_payload_hash(ibtp.payload),
                int(TxStatus(status)),
            ),
        )
    )


def compute_notary_digest(ibtp_hash: bytes) -> bytes:
    """What a notary key signs to vouch for an IBTP: keccak256("relayhub.notary.v1" ‖ hash)."""
    return keccak(NOTARY_DOMAIN + ibtp_hash)
