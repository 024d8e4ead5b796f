"""Error codes of the FISCO family's formats and proofs (the 54xx range).

Every way a FISCO header, receipt or Merkle proof can be wrong has a code of its
own, so a tampered-proof corpus can pin each refusal exactly. Codes are stable;
new ones are only added. The table with what to do next is in ``docs/fisco.md``
("Error codes").
"""

from __future__ import annotations

from enum import IntEnum


class FiscoCode(IntEnum):
    #: The header bytes are not the RLP list of 13 fields of ``BlockHeader::encode``
    #: with their types (32-byte hashes, 256-byte bloom, canonical integers in
    #: range, a list of extraData byte strings, a list of 64-byte sealer IDs).
    HEADER_MALFORMED = 5401
    #: Hash(header RLP) is not the block hash the proof claims.
    HEADER_HASH_MISMATCH = 5402
    #: The receipt is not the 7-field (or, from 2.8.0, 8-field) RLP list of
    #: ``TransactionReceipt::streamRLP`` with its field types.
    RECEIPT_MALFORMED = 5403
    #: The Merkle proof is not a list of levels, each ``left``/``right`` lists of
    #: siblings: at most 15 siblings a level, level-0 siblings ``rlp(index) ‖ hash``,
    #: higher siblings one hash each.
    MERKLE_PROOF_MALFORMED = 5404
    #: The proof's last level is not the root level (``left`` and ``right`` both
    #: empty): a level is missing at the top.
    MERKLE_ROOT_LEVEL_MISSING = 5405
    #: An empty level sits below the root level above the top group: the proof
    #: has a level too many.
    MERKLE_EXTRA_LEVEL = 5406
    #: The level-0 siblings are not the consecutive leaves of one 16-leaf group
    #: (their ``rlp(index)`` prefixes are out of order or misaligned).
    MERKLE_SIBLING_ORDER = 5407
    #: The position the proof proves is not the index the item claims.
    MERKLE_INDEX_MISMATCH = 5408
    #: The item's hash is a level-0 sibling's: it is in the tree, at another index.
    MERKLE_ITEM_AT_OTHER_INDEX = 5409
    #: Folding the proof from the item does not end at the expected root.
    MERKLE_ROOT_MISMATCH = 5410
