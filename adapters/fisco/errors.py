"""Error codes of the FISCO family's formats and proofs (the 54xx range).

Every way a FISCO header, receipt, Merkle path, seal list or whole proof can be
wrong has a code of its own, so a tampered-proof corpus can pin each refusal
exactly. Codes are stable;
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
    #: A seal is not a well-formed signature of the chain's mode: secp256k1
    #: ``r‖s‖v`` is 65 bytes, ``r`` in 1..n-1, ``s`` in 1..n/2 (low s), ``v`` 0 or 1;
    #: SM2 ``r‖s‖pub`` is 128 bytes, ``r`` and ``s`` in 1..n-1; the sealer index is
    #: a non-negative integer.
    SEAL_MALFORMED = 5411
    #: A seal of the other crypto mode: a 128-byte SM2 signature on a secp256k1
    #: chain, or a 65-byte secp256k1 signature on a 国密 chain.
    SEAL_WRONG_MODE = 5412
    #: A seal's sealer index is not an index into the registered sealer list.
    SEAL_INDEX_OUT_OF_RANGE = 5413
    #: The seal does not verify: a secp256k1 signature that recovers to no key, or
    #: an SM2 signature that does not verify under the indexed sealer's key it
    #: carries (a seal over another hash, or a changed ``r``/``s``).
    SEAL_SIGNATURE_INVALID = 5414
    #: The seal is by another registered sealer than the one its index names.
    SEAL_SIGNER_MISMATCH = 5415
    #: The seal is by a key that is not a registered sealer (in secp256k1 mode also
    #: a seal over another hash: it recovers to an unrelated key).
    SEAL_UNREGISTERED_SIGNER = 5416
    #: Enough seals, but only when one sealer is counted more than once: the
    #: distinct sealers are below the quorum.
    SEAL_DUPLICATE_SEALER = 5417
    #: Fewer distinct registered sealers signed than the PBFT quorum.
    SEAL_BELOW_QUORUM = 5418
    #: The proof bytes are not the canonical msgpack array of version 1
    #: (``adapters.fisco.proof``): wrong shape or types, a bound exceeded, trailing or
    #: non-canonical bytes.
    PROOF_MALFORMED = 5419
    #: The proof's version is not one this verifier knows.
    PROOF_VERSION = 5420
    #: The chain's registration is unusable: its trust root was not parsed by the
    #: fisco verifier, or the broker is not a 0x address (an operator problem).
    BAD_REGISTRATION = 5421
    #: The IBTP's emitting side (``from`` for INTERCHAIN and RECEIPT_ROLLBACK, ``to``
    #: for RECEIPT_SUCCESS/FAILURE) is not the chain whose proof this is.
    CHAIN_MISMATCH = 5422
    #: The proof is for another group than the one registered.
    WRONG_GROUP = 5423
    #: The block is below the first height the trust root registers sealers for.
    HEIGHT_BEFORE_TRUST_ROOT = 5424
    #: The header's ``sealerList`` is not the registered sealer list in force at its
    #: height (PBFT's ``checkSealerList``): the chain changed sealers the trust root
    #: does not know of, or the block was sealed by a set no longer (or not yet) in force.
    SEALER_LIST_MISMATCH = 5425
    #: The receipt's status is not 0: the transaction failed and emitted nothing.
    RECEIPT_FAILED = 5426
    #: ``log_index`` is past the receipt's last log.
    LOG_INDEX_OUT_OF_RANGE = 5427
    #: The log was emitted by another address than the registered broker.
    LOG_WRONG_EMITTER = 5428
    #: The log's topics are not exactly ``[Hash(signature)]`` of the broker event the
    #: IBTP's type needs.
    LOG_WRONG_EVENT = 5429
    #: The log data is not the ABI encoding of the event's fields (or not the
    #: canonical one a Solidity broker emits).
    LOG_MALFORMED = 5430
    #: A field of the broker's event differs from the IBTP's (details name it).
    LOG_FIELD_MISMATCH = 5431
