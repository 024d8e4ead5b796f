"""The two digests of an IBTP.

* The **IBTP hash** names a message in storage and APIs: keccak-256 of the
  canonical msgpack bytes with the proof field empty (a message keeps its hash
  when its proof is re-fetched; a notary signature inside the proof can cover it).
* The **signed digest** is what relay validators sign for the chain an IBTP is
  routed to. It is recomputable on-chain from the fields a broker executes::

      payloadHash  = keccak256(abi.encode(string func, bytes[] args, bool encrypted))
      signedDigest = keccak256(abi.encode(bytes32 RELAY_PROOF_DOMAIN, string hubId,
                         string targetChainId, string from, string to, uint64 index,
                         uint8 ibtpType, bytes32 payloadHash, uint8 status))

  where ``RELAY_PROOF_DOMAIN = keccak256("relayhub.relay-proof.v2")``. The target
  chain is the chain whose broker the proof is for, so a proof routed to one chain
  (the source's rollback notice, say) cannot be replayed at another (the
  destination). A Solidity broker checks it with ``abi.encode`` + ``keccak256`` +
  ``ecrecover``, its own chain ID as the target.
"""

from __future__ import annotations

from eth_abi import encode as abi_encode

from relay.crypto import keccak
from relay.ibtp.codec import encode_ibtp_unproven
from relay.ibtp.message import IBTP, Payload, TxStatus

#: Version 2 of the relay-proof digest: v1 named no target chain.
RELAY_PROOF_VERSION = 2
RELAY_PROOF_DOMAIN = keccak(b"relayhub.relay-proof.v2")
NOTARY_DOMAIN = b"relayhub.notary.v1"

_PAYLOAD_TYPES = ("string", "bytes[]", "bool")
_DIGEST_TYPES = (
    "bytes32",
    "string",
    "string",
    "string",
    "string",
    "uint64",
    "uint8",
    "bytes32",
    "uint8",
)


def compute_ibtp_hash(ibtp: IBTP) -> bytes:
    return keccak(encode_ibtp_unproven(ibtp))


def compute_payload_hash(payload: Payload) -> bytes:
    return keccak(abi_encode(_PAYLOAD_TYPES, (payload.func, list(payload.args), payload.encrypted)))


def compute_signed_digest(
    hub_id: str, target_chain: str, ibtp: IBTP, status: TxStatus | int
) -> bytes:
    """The digest relay validators sign when they route ``ibtp`` (announcing ``status``)
    to the broker of ``target_chain``."""
    return keccak(
        abi_encode(
            _DIGEST_TYPES,
            (
                RELAY_PROOF_DOMAIN,
                hub_id,
                target_chain,
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
