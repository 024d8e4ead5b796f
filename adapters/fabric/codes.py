"""Error codes of the Fabric family's proofs (the 53xx range of ``docs/protocol.md``).

Every way a Fabric proof (docs/fabric.md §3.3) can be wrong has a code of its own, so
the tampered-proof corpus in ``tests/vectors/fabric/`` pins each refusal exactly.
Codes are stable; new ones are only added. The table, in the order the verifier
checks, with what to do next, is in docs/fabric.md ("The verifier").

Kept apart from :mod:`adapters.fabric.errors`, which the dev chain shares and which
must import nothing of the relay: this module is the relay side. Pure.
"""

from __future__ import annotations

from enum import IntEnum

from relay.errors import ProofError


class FabricCode(IntEnum):
    #: The proof bytes are not the canonical msgpack array of docs/fabric.md §3.3,
    #: or exceed its limits (endorsement counts, sizes).
    PROOF_MALFORMED = 5301
    #: The proof's version field is not one this verifier knows.
    PROOF_VERSION = 5302
    #: The chain's registration is unusable: trust root not parsed by this family,
    #: or a broker other than the trust root's chaincode (an operator problem).
    BAD_REGISTRATION = 5303
    #: The IBTP's emitting side (``from``; ``to`` for RECEIPT_SUCCESS/FAILURE) is not
    #: a service of the chain whose proof this is.
    CHAIN_MISMATCH = 5304
    #: The attestation proposal, response or an attestor's endorsement is not the
    #: canonical protobuf message (or lacks a part: response, chaincode ID).
    ATTESTATION_MALFORMED = 5305
    #: The attestation is not a ``qscc`` ``GetBlockByNumber(channel, n)`` query
    #: (other chaincode, function or arguments), or its answer is not qscc's.
    ATTESTATION_WRONG_QUERY = 5306
    #: The attestation queries another channel than the registered one.
    ATTESTATION_WRONG_CHANNEL = 5307
    #: The response's proposal_hash is not the hash of the attestation proposal.
    ATTESTATION_HASH_MISMATCH = 5308
    #: qscc's response status is not 200.
    ATTESTATION_STATUS = 5309
    #: An identity (attestor, orderer, creator, endorser) is not a SerializedIdentity
    #: holding exactly one PEM certificate.
    IDENTITY_MALFORMED = 5310
    #: An identity names an MSP that is not registered.
    IDENTITY_UNKNOWN_MSP = 5311
    #: A certificate not issued by its MSP's registered CA (issuer or CA signature).
    CERT_WRONG_CA = 5312
    #: A certificate (or its CA) outside its validity period at the transaction's time.
    CERT_EXPIRED = 5313
    #: A self-signed certificate used as an identity.
    CERT_SELF_SIGNED = 5314
    #: A certificate that cannot be a member: a CA certificate, a key not on P-256, or
    #: not exactly one NodeOU.
    CERT_NOT_MEMBER = 5315
    #: A signature that is not DER (r, s) with r, s in [1, n-1].
    SIGNATURE_MALFORMED = 5316
    #: A signature with a high S (above n/2): Fabric requires low S.
    SIGNATURE_HIGH_S = 5317
    #: A signature that does not verify over the bytes it must cover.
    SIGNATURE_INVALID = 5318
    #: An attestor whose NodeOU is not ``peer``.
    ATTESTOR_NOT_PEER = 5319
    #: The same identity twice among the attestors or among the endorsers.
    DUPLICATE_SIGNER = 5320
    #: The attestors do not satisfy the registered attestation policy.
    ATTESTATION_POLICY_NOT_MET = 5321
    #: qscc's payload is not a ``common.Block`` with a header, data and the metadata
    #: the proof needs (SIGNATURES, a TRANSACTIONS_FILTER byte per transaction).
    BLOCK_MALFORMED = 5322
    #: The block's number is not the one the attestation queried.
    BLOCK_NUMBER_MISMATCH = 5323
    #: A block signature whose creator is not a registered orderer identity.
    ORDERER_UNKNOWN = 5324
    #: Fewer distinct registered orderers signed the block header than the threshold.
    ORDERER_BELOW_THRESHOLD = 5325
    #: The header's data_hash is not SHA-256 of the block's data.
    DATA_HASH_MISMATCH = 5326
    #: tx_index is past the block's last transaction.
    TX_INDEX_OUT_OF_RANGE = 5327
    #: The transaction is not a canonical Envelope / Payload / Transaction with one
    #: action whose parts decode.
    TX_MALFORMED = 5328
    #: The transaction's header type is not ENDORSER_TRANSACTION.
    TX_NOT_ENDORSER = 5329
    #: The transaction is on another channel than the registered one.
    TX_WRONG_CHANNEL = 5330
    #: The transaction's tx_id is not hex(SHA-256(nonce ‖ creator)), or its event
    #: carries another tx_id.
    TX_ID_MISMATCH = 5331
    #: TRANSACTIONS_FILTER marks the transaction other than VALID at commit.
    TX_INVALID = 5332
    #: The action's proposal_hash is not GetProposalHash2 of the transaction's own
    #: header and chaincode proposal payload.
    PROPOSAL_HASH_MISMATCH = 5333
    #: The endorsements do not satisfy the registered endorsement policy.
    ENDORSEMENT_POLICY_NOT_MET = 5334
    #: The transaction invokes, or its action is of, another chaincode than the broker.
    WRONG_CHAINCODE = 5335
    #: The broker chaincode's response status is not 200.
    CHAINCODE_STATUS = 5336
    #: The action has no event, or its payload is not a broker event's canonical JSON.
    EVENT_MALFORMED = 5337
    #: The broker's event is not the kind the IBTP's type needs.
    EVENT_WRONG_KIND = 5338
    #: A field of the broker's event differs from the IBTP (details name the field).
    EVENT_FIELD_MISMATCH = 5339


class FabricProofError(ProofError):
    """A Fabric proof refused: ``code`` is a :class:`FabricCode`, kept as ``fabric_code``."""

    def __init__(self, code: FabricCode, message: str, **details: object) -> None:
        super().__init__(code, message, **details)
        self.fabric_code = code
