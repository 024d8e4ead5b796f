"""A FISCO receipt proven in a block: header hash, header, receipt, Merkle path.

What the relay will check for every FISCO proof once the block hash is known to
be sealed (``compute_pbft_quorum`` sealers signed it): the header bytes hash to
that block hash (so its ``receiptsRoot`` is the sealed one), and the receipt is
leaf ``index`` of the tree under that root. Pure: no I/O, no clock.
"""

from __future__ import annotations

from adapters.fisco.errors import FiscoCode
from adapters.fisco.hashing import HashFn
from adapters.fisco.header import BlockHeader, decode_header
from adapters.fisco.merkle import MerkleProof, check_indexed_proof
from adapters.fisco.receipt import Receipt, decode_receipt
from relay.errors import ProofError


def check_receipt_inclusion(
    block_hash: bytes,
    header_rlp: bytes,
    index: int,
    receipt_rlp: bytes,
    proof: MerkleProof,
    hash_fn: HashFn,
    *,
    receipt_fields: int | None = None,
) -> tuple[BlockHeader, Receipt]:
    """The decoded header and receipt, or :class:`ProofError` with a 54xx code.

    Order: ``HEADER_HASH_MISMATCH``, ``HEADER_MALFORMED``, ``RECEIPT_MALFORMED``,
    then :func:`adapters.fisco.merkle.check_indexed_proof`'s codes.
    """
    computed = hash_fn(header_rlp)
    if computed != block_hash:
        raise ProofError(
            FiscoCode.HEADER_HASH_MISMATCH,
            "the header does not hash to the sealed block hash; send that block's header",
            block_hash="0x" + block_hash.hex(),
            computed="0x" + computed.hex(),
        )
    header = decode_header(header_rlp)
    receipt = decode_receipt(receipt_rlp, fields=receipt_fields)
    check_indexed_proof(header.receipts_root, index, hash_fn(receipt_rlp), proof, hash_fn)
    return header, receipt
