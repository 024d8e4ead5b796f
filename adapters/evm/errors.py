"""Error codes of the EVM family's proofs (the 52xx range of ``docs/protocol.md``).

Every way an EVM proof can be wrong has a code of its own, so the tampered-proof
corpus in ``tests/vectors/evm/`` can pin each refusal exactly. Codes are stable;
new ones are only added. The table with what to do next is in ``docs/evm.md``
("EVM proofs and verifier").
"""

from __future__ import annotations

from enum import IntEnum

from relay.errors import ProofError


class EvmCode(IntEnum):
    #: The proof bytes are not the canonical msgpack array of docs/evm.md.
    PROOF_MALFORMED = 5201
    #: The proof's version field is not one this verifier knows.
    PROOF_VERSION = 5202
    #: The chain's registration is unusable: trust root not parsed by this
    #: family, or the broker is not a 0x address (an operator problem).
    BAD_REGISTRATION = 5203
    #: keccak256(header_rlp) is not the block hash the seals are over.
    HEADER_HASH_MISMATCH = 5204
    #: The header is not an RLP list of byte strings with a 32-byte receiptsRoot.
    HEADER_MALFORMED = 5205
    #: A seal is not 65 bytes r‖s‖v (v 27/28, low s) or recovers to no key.
    SEAL_MALFORMED = 5206
    #: A seal recovers to an address that is not in the trust root.
    SEAL_UNKNOWN_SIGNER = 5207
    #: Fewer distinct registered signers than the threshold.
    SEALS_BELOW_THRESHOLD = 5208
    #: The first proof node does not hash to the header's receiptsRoot.
    MPT_ROOT_MISMATCH = 5209
    #: A later proof node does not hash to the reference its parent holds.
    MPT_NODE_MISMATCH = 5210
    #: The path continues to a node the proof does not carry.
    MPT_PROOF_TRUNCATED = 5211
    #: Nodes are left over once the walk has reached the value.
    MPT_EXTRA_NODES = 5212
    #: A node is not valid RLP, not a 2- or 17-item list, or has a bad path.
    MPT_NODE_MALFORMED = 5213
    #: The nodes prove that the trie holds no value at the key.
    MPT_KEY_ABSENT = 5214
    #: The value the trie holds at rlp(tx_index) is not the receipt carried.
    RECEIPT_NOT_PROVEN = 5215
    #: The receipt does not decode (type byte, RLP, field shapes).
    RECEIPT_MALFORMED = 5216
    #: The receipt's status is failure (geth b"", ganache b"\\x00").
    RECEIPT_FAILED = 5217
    #: log_index is past the receipt's last log.
    LOG_INDEX_OUT_OF_RANGE = 5218
    #: The log was emitted by an address other than the registered broker.
    LOG_WRONG_EMITTER = 5219
    #: The log's topics are not exactly [topic0 of the event for the IBTP type].
    LOG_WRONG_EVENT = 5220
    #: The log data does not ABI-decode as the event's fields.
    LOG_MALFORMED = 5221
    #: A decoded log field differs from the IBTP (details name the field).
    LOG_FIELD_MISMATCH = 5222
    #: The IBTP's emitting side (``from`` for INTERCHAIN and RECEIPT_ROLLBACK,
    #: ``to`` for RECEIPT_SUCCESS/FAILURE) is not the chain whose proof this is.
    CHAIN_MISMATCH = 5223


class MptProofError(ProofError):
    """A Merkle-Patricia proof that does not prove ``key`` under ``root``.

    Carries the ``root`` and ``key`` walked and, when a hash was missing or did
    not match, ``node_hash`` (the reference the parent held) — also in
    :attr:`details` as hex for the API.
    """

    def __init__(
        self,
        code: EvmCode,
        message: str,
        *,
        root: bytes,
        key: bytes,
        node_hash: bytes | None = None,
        node_index: int | None = None,
    ) -> None:
        details: dict[str, object] = {"root": "0x" + root.hex(), "key": "0x" + key.hex()}
        if node_hash is not None:
            details["node_hash"] = "0x" + node_hash.hex()
        if node_index is not None:
            details["node_index"] = node_index
        super().__init__(code, message, **details)
        self.root = root
        self.key = key
        self.node_hash = node_hash
        self.node_index = node_index
