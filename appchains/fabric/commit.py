"""The committer: validate a block's transactions in order, as Fabric's peer does. Pure.

Each transaction gets one ``peer.TxValidationCode``; the first check it fails decides:

1. the envelope is empty: ``NIL_ENVELOPE``;
2. envelope, payload or headers do not decode: ``BAD_PAYLOAD``;
3. the payload has no header: ``BAD_COMMON_HEADER``;
4. the channel header's epoch is not 0: ``BAD_CHANNEL_HEADER``;
5. the channel is another: ``TARGET_CHAIN_NOT_FOUND``;
6. a config transaction after block 0: ``INVALID_CONFIG_TRANSACTION``;
7. a type other than ``ENDORSER_TRANSACTION`` (or ``CONFIG``): ``UNKNOWN_TX_TYPE``;
8. the creator is not a valid member, or did not sign the payload:
   ``BAD_CREATOR_SIGNATURE``;
9. the tx ID is not hex SHA-256(nonce ‖ creator): ``BAD_PROPOSAL_TXID``;
10. the tx ID is committed, or earlier in this block: ``DUPLICATE_TXID``;
11. not one action, its header not the payload's signature header, its proposal hash
    not ``GetProposalHash2`` of header and payload, or the header extension naming
    another chaincode than the action: ``INVALID_ENDORSER_TRANSACTION``;
12. the response payload or its ``ChaincodeAction`` does not decode, or its status is
    400 or more: ``BAD_RESPONSE_PAYLOAD``;
13. the results are not a ``TxReadWriteSet``: ``BAD_RWSET``;
14. the invoked chaincode is not defined: ``INVALID_CHAINCODE``;
15. a namespace written is not a defined chaincode: ``ILLEGAL_WRITESET``;
16. the endorsements do not satisfy the policy of the invoked chaincode and of every
    namespace written: ``ENDORSEMENT_POLICY_FAILURE``;
17. a read's version is not the current one — committed, or written by an earlier
    valid transaction of this block: ``MVCC_READ_CONFLICT``;
18. otherwise ``VALID``.

As Fabric's validator, an endorsement that does not verify is skipped and the policy is
judged on the others (the relay-side proof check is stricter). Only VALID transactions'
writes are applied, at version ``{block number, tx index}``, and only their chaincode
events are emitted. A transaction ID counts as used (so a later one is
``DUPLICATE_TXID``) once a transaction passed checks 1-10 with it — whatever its final
code, as in Fabric, where a client re-proposes an invalidated transaction under a new
ID; a copy failing those checks (a forged signature, say) does not use it up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError

import adapters.fabric.signature as signature
from adapters.fabric.endorsement import endorsed_bytes
from adapters.fabric.errors import FabricError
from adapters.fabric.identity import Identity, deserialize_identity
from adapters.fabric.policy import evaluate_policy
from adapters.fabric.proposal import compute_tx_id
from appchains.fabric.ledger import LedgerReader
from appchains.fabric.registry import ChaincodeRegistry
from appchains.fabric.simulation import ReadWriteSet, Version, parse_rwset

Code = transaction_pb2.TxValidationCode
HeaderType = common_pb2.HeaderType


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """A chaincode event of a VALID transaction."""

    tx_index: int
    event: chaincode_event_pb2.ChaincodeEvent


@dataclass
class CommitResult:
    """The outcome of validating one block."""

    codes: list[int] = field(default_factory=list)
    #: per transaction, its ID if it is to be indexed ("" for one whose ID is not
    #: authenticated: see :data:`UNAUTHENTICATED`)
    tx_ids: list[str] = field(default_factory=list)
    #: (namespace, key) -> (value or None for a delete, version written)
    updates: dict[tuple[str, str], tuple[bytes | None, Version]] = field(default_factory=dict)
    events: list[EmittedEvent] = field(default_factory=list)


#: Codes given before the creator's signature and the tx ID are known good: such a
#: transaction's ID is not indexed (a forged copy must not take a client's tx ID).
UNAUTHENTICATED = frozenset(
    {
        Code.NIL_ENVELOPE,
        Code.BAD_PAYLOAD,
        Code.BAD_COMMON_HEADER,
        Code.BAD_CHANNEL_HEADER,
        Code.TARGET_CHAIN_NOT_FOUND,
        Code.INVALID_CONFIG_TRANSACTION,
        Code.UNKNOWN_TX_TYPE,
        Code.BAD_CREATOR_SIGNATURE,
        Code.BAD_PROPOSAL_TXID,
        Code.DUPLICATE_TXID,
    }
)


class _Invalid(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def proposal_hash2(header: common_pb2.Header, cpp_bytes: bytes) -> bytes:
    """protoutil ``GetProposalHash2``: the committer's proposal hash."""
    return hashlib.sha256(header.channel_header + header.signature_header + cpp_bytes).digest()


class Committer:
    """Validates blocks for one channel."""

    def __init__(
        self,
        channel_id: str,
        cas: Mapping[str, x509.Certificate],
        registry: ChaincodeRegistry,
    ) -> None:
        self.channel_id = channel_id
        self.cas = cas
        self.registry = registry

    def validate_block(
        self, block: common_pb2.Block, ledger: LedgerReader, now: int
    ) -> CommitResult:
        """Validation codes, state updates and events of ``block`` on top of ``ledger``."""
        result = CommitResult()
        seen: set[str] = set()
        identities: dict[bytes, Identity | None] = {}
        number = block.header.number
        for index, data in enumerate(block.data.data):
            try:
                tx_id, writes, event = self._validate(
                    number, data, ledger, seen, result.updates, identities, now
                )
            except _Invalid as invalid:
                result.codes.append(invalid.code)
                authentic = invalid.code not in UNAUTHENTICATED
                result.tx_ids.append(_tx_id_of(data) if authentic else "")
                continue
            result.codes.append(Code.VALID)
            result.tx_ids.append(tx_id)
            version = Version(number, index)
            for ns, kv in writes.writes.items():
                for key, value in kv.items():
                    result.updates[(ns, key)] = (value, version)
            if event is not None:
                result.events.append(EmittedEvent(index, event))
        return result

    def _identity(
        self, serialized: bytes, cache: dict[bytes, Identity | None], now: int
    ) -> Identity | None:
        if serialized not in cache:
            try:
                cache[serialized] = deserialize_identity(serialized, self.cas, now)
            except FabricError:
                cache[serialized] = None
        return cache[serialized]

    def _validate(
        self,
        number: int,
        data: bytes,
        ledger: LedgerReader,
        seen: set[str],
        updates: Mapping[tuple[str, str], tuple[bytes | None, Version]],
        identities: dict[bytes, Identity | None],
        now: int,
    ) -> tuple[str, ReadWriteSet, chaincode_event_pb2.ChaincodeEvent | None]:
        if not data:
            raise _Invalid(Code.NIL_ENVELOPE)
        try:
            env = common_pb2.Envelope.FromString(data)
            payload = common_pb2.Payload.FromString(env.payload)
            chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
            shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
        except DecodeError:
            raise _Invalid(Code.BAD_PAYLOAD) from None
        if not payload.HasField("header") or not payload.header.channel_header:
            raise _Invalid(Code.BAD_COMMON_HEADER)
        if chdr.epoch != 0:
            raise _Invalid(Code.BAD_CHANNEL_HEADER)
        if chdr.channel_id != self.channel_id:
            raise _Invalid(Code.TARGET_CHAIN_NOT_FOUND)
        if chdr.type == HeaderType.CONFIG:
            if number != 0:
                raise _Invalid(Code.INVALID_CONFIG_TRANSACTION)
            return chdr.tx_id, ReadWriteSet(), None
        if chdr.type != HeaderType.ENDORSER_TRANSACTION:
            raise _Invalid(Code.UNKNOWN_TX_TYPE)
        creator = self._identity(shdr.creator, identities, now)
        if creator is None:
            raise _Invalid(Code.BAD_CREATOR_SIGNATURE)
        try:
            signature.verify(creator.public_key, env.payload, env.signature)
        except FabricError:
            raise _Invalid(Code.BAD_CREATOR_SIGNATURE) from None
        if chdr.tx_id != compute_tx_id(shdr.nonce, shdr.creator):
            raise _Invalid(Code.BAD_PROPOSAL_TXID)
        if chdr.tx_id in seen or ledger.find_tx(chdr.tx_id) is not None:
            raise _Invalid(Code.DUPLICATE_TXID)
        seen.add(chdr.tx_id)

        try:
            tx = transaction_pb2.Transaction.FromString(payload.data)
            if len(tx.actions) != 1:
                raise _Invalid(Code.INVALID_ENDORSER_TRANSACTION)
            action = tx.actions[0]
            cap = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
            ext = proposal_pb2.ChaincodeHeaderExtension.FromString(chdr.extension)
        except DecodeError:
            raise _Invalid(Code.INVALID_ENDORSER_TRANSACTION) from None
        if action.header != payload.header.signature_header or not cap.HasField("action"):
            raise _Invalid(Code.INVALID_ENDORSER_TRANSACTION)
        endorsed = cap.action
        prp_bytes = endorsed.proposal_response_payload
        try:
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(prp_bytes)
            cc_action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        except DecodeError:
            raise _Invalid(Code.BAD_RESPONSE_PAYLOAD) from None
        if prp.proposal_hash != proposal_hash2(payload.header, cap.chaincode_proposal_payload):
            raise _Invalid(Code.INVALID_ENDORSER_TRANSACTION)
        chaincode = cc_action.chaincode_id.name
        if not chaincode or ext.chaincode_id.name != chaincode:
            raise _Invalid(Code.INVALID_ENDORSER_TRANSACTION)
        if cc_action.response.status >= 400:
            raise _Invalid(Code.BAD_RESPONSE_PAYLOAD)
        try:
            rwset = parse_rwset(cc_action.results)
            event = (
                chaincode_event_pb2.ChaincodeEvent.FromString(cc_action.events)
                if cc_action.events
                else None
            )
        except DecodeError:
            raise _Invalid(Code.BAD_RWSET) from None

        defined = self.registry.get(chaincode)
        if defined is None:
            raise _Invalid(Code.INVALID_CHAINCODE)
        written = sorted(ns for ns, kv in rwset.writes.items() if kv)
        policies = [defined.envelope]
        for ns in written:
            d = self.registry.get(ns)
            if d is None:
                raise _Invalid(Code.ILLEGAL_WRITESET)
            if ns != chaincode:
                policies.append(d.envelope)
        endorsers = self._endorsers(prp_bytes, endorsed.endorsements, identities, now)
        try:
            if not all(evaluate_policy(p, endorsers) for p in policies):
                raise _Invalid(Code.ENDORSEMENT_POLICY_FAILURE)
        except FabricError:
            raise _Invalid(Code.ENDORSEMENT_POLICY_FAILURE) from None

        for ns, reads in rwset.reads.items():
            for key, version in reads.items():
                if (ns, key) in updates:
                    raise _Invalid(Code.MVCC_READ_CONFLICT)
                committed = ledger.get_state(ns, key)
                current = None if committed is None else committed.version
                if current != version:
                    raise _Invalid(Code.MVCC_READ_CONFLICT)
        if event is not None and not event.event_name:
            event = None
        return chdr.tx_id, rwset, event

    def _endorsers(
        self,
        payload: bytes,
        endorsements: Sequence[proposal_response_pb2.Endorsement],
        cache: dict[bytes, Identity | None],
        now: int,
    ) -> list[Identity]:
        """The endorsers whose endorsement verifies (Fabric skips the others)."""
        out = []
        for e in endorsements:
            identity = self._identity(e.endorser, cache, now)
            if identity is None:
                continue
            try:
                signature.verify(
                    identity.public_key, endorsed_bytes(payload, e.endorser), e.signature
                )
            except FabricError:
                continue
            out.append(identity)
        return out


def _tx_id_of(data: bytes) -> str:
    try:
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(data).payload)
        return common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id
    except DecodeError:
        return ""
