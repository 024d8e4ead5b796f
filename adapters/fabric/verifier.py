"""Relay-side verifier of Fabric proofs (entry point ``relayhub.verifiers: fabric``).

A proof (:mod:`adapters.fabric.proof`, docs/fabric.md §3.3) shows that the registered
channel committed, VALID, the broker transaction that emitted the IBTP. Checked in
this order (codes in :class:`adapters.fabric.codes.FabricCode`):

1. the IBTP's emitting side is a service of the chain in ``ctx`` (5304);
2. the proof decodes (5301, 5302);
3. the attestation is a qscc ``GetBlockByNumber(channel, n)`` on the registered
   channel (5305-5307) answered with its proposal hash (5308), status 200 (5309),
   a ``common.Block`` (5322) numbered ``n`` (5323); ``tx_index`` is in it (5327) and
   ``data[tx_index]`` an endorser transaction (5328, 5329), whose channel header
   timestamp is "now" for every certificate below;
4. the attestors are distinct (5320) valid (5310-5315) *peer* (5319) identities whose
   signatures over ``response ‖ endorser`` verify (5316-5318) and who meet the
   attestation policy (5321);
5. at least ``orderer_threshold`` distinct registered orderers signed the header
   (5324, 5325; identity and signature codes as above);
6. the header's ``data_hash`` is the hash of the block's data (5326);
7. the transaction is on the registered channel (5330), invokes the broker (5335),
   its tx_id is ``hex(SHA-256(nonce ‖ creator))`` (5331), its creator is a valid
   member whose signature over the payload verifies, and ``TRANSACTIONS_FILTER``
   marks it VALID (5332);
8. its action's proposal hash is ``GetProposalHash2`` of its own header and
   chaincode proposal payload (5333); the endorsements are distinct valid members'
   signatures meeting the endorsement policy (5320, 5334);
9. the action is the broker's (5335) with status 200 (5336), its one event decodes
   (5337), carries this transaction's tx_id (5331), is the kind the IBTP's type needs
   (5338) and its fields are the IBTP's (5339).

Certificate chains are validated once per (serialized identity, CA) and memoised
with their validity window; the window is checked against every proof's time, and
no signature check is ever memoised. The memo is bounded and never changes an
outcome, only its cost. Pure: no I/O, no clock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from fabric_protos.common import policies_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import transaction_pb2
from google.protobuf.message import DecodeError

from relay.ibtp import IBTP, IBTPType, compute_payload_hash
from relay.validation.base import ChainContext, Registration, emitter_mismatch

from . import signature
from .codes import FabricCode, FabricProofError
from .endorsement import endorsed_bytes
from .errors import BrokerEventError, IdentityError, SignatureError
from .identity import Identity, MSPRole, deserialize_identity
from .policy import evaluate_policy
from .proof import (
    CALLBACK_EVENT,
    BrokerEvent,
    CallbackEvent,
    ParsedBlock,
    ParsedTransaction,
    block_data_hash,
    decode_broker_event,
    decode_fabric_proof,
    orderer_signed_bytes,
    parse_action,
    parse_attestation,
    parse_block,
    parse_endorsement,
    parse_transaction,
    proposal_hash2,
)
from .proposal import INTERCHAIN_EVENT, RECEIPT_EVENT, STATUS_OK, InterchainEvent, compute_tx_id
from .trust_root import FabricTrustRoot, canonical_service, check_broker, parse_trust_root

#: Validated certificate chains kept per verifier.
DEFAULT_CERT_MEMO_SIZE = 4096

_VALID = transaction_pb2.TxValidationCode.VALID
#: Receipts are emitted by the destination chain; requests and rollbacks by the source.
#: The broker event that proves each IBTP type.
EVENT_FOR_TYPE: dict[IBTPType, str] = {
    IBTPType.INTERCHAIN: INTERCHAIN_EVENT,
    IBTPType.RECEIPT_SUCCESS: RECEIPT_EVENT,
    IBTPType.RECEIPT_FAILURE: RECEIPT_EVENT,
    IBTPType.RECEIPT_ROLLBACK: CALLBACK_EVENT,
}


@dataclass(frozen=True, slots=True)
class _Chain:
    """A validated (identity, CA) pair: valid at any ``now`` in ``[start, end]``."""

    identity: Identity
    key: ec.EllipticCurvePublicKey
    start: int
    end: int


class FabricVerifier:
    """Verifies that a Fabric channel's broker emitted an IBTP (see module docstring)."""

    family: ClassVar[str] = "fabric"

    def __init__(self, cert_memo_size: int = DEFAULT_CERT_MEMO_SIZE) -> None:
        if cert_memo_size < 0:
            raise ValueError("cert_memo_size must be >= 0")
        self._memo_size = cert_memo_size
        self._memo: OrderedDict[tuple[bytes, bytes], _Chain] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ registration

    def parse_trust_root(self, raw: Any) -> FabricTrustRoot:
        """Validate the trust root of docs/fabric.md "Trust root" (BAD_TRUST_ROOT)."""
        return parse_trust_root(raw)

    def check_registration(self, trust_root: Any, broker: str) -> Registration:
        """The trust root, and the broker: the trust root's chaincode name, as spelled there."""
        root = parse_trust_root(trust_root)
        return Registration(root, check_broker(root, broker))

    def canonical_service(self, service: str) -> str:
        return canonical_service(service)

    # ------------------------------------------------------------------ verify

    def verify(self, ctx: ChainContext, ibtp: IBTP, ibtp_hash: bytes) -> None:
        """Check that ``ibtp.proof`` proves the broker of ``ctx`` emitted ``ibtp``."""
        tr = ctx.trust_root
        if type(tr) is not FabricTrustRoot:
            _fail(
                FabricCode.BAD_REGISTRATION,
                "the chain's trust root was not parsed by the fabric verifier; re-register it",
            )
        if ctx.broker != tr.chaincode:
            _fail(
                FabricCode.BAD_REGISTRATION,
                f"the registered broker {str(ctx.broker)[:60]!r} is not the trust root's "
                f"chaincode {tr.chaincode!r}; re-register the chain",
            )
        # 1. the emitting side
        mismatch = emitter_mismatch(ctx, ibtp)
        if mismatch is not None:
            _fail(FabricCode.CHAIN_MISMATCH, mismatch)
        # 2. the proof
        proof = decode_fabric_proof(ibtp.proof)
        # 3. the attestation, the block, the transaction's time
        att = parse_attestation(proof.attestation_proposal, proof.attestation_response)
        if att.channel_id != tr.channel:
            _fail(
                FabricCode.ATTESTATION_WRONG_CHANNEL,
                f"the attestation queries channel {att.channel_id[:60]!r}, not the registered "
                f"{tr.channel!r}",
            )
        attestations = [parse_endorsement(e, i) for i, e in enumerate(proof.endorsements)]
        if att.status != STATUS_OK:
            _fail(
                FabricCode.ATTESTATION_STATUS,
                f"qscc answered status {att.status} ({att.message[:200]!r}), not 200: the "
                "peers did not return the block",
            )
        block = parse_block(att.block)
        if block.number != att.block_number:
            _fail(
                FabricCode.BLOCK_NUMBER_MISMATCH,
                f"the attested block is number {block.number}, the query asked for "
                f"{att.block_number}",
            )
        if proof.tx_index >= len(block.data):
            _fail(
                FabricCode.TX_INDEX_OUT_OF_RANGE,
                f"tx_index {proof.tx_index} is past the last transaction of block "
                f"{block.number} ({len(block.data)} transactions)",
            )
        tx = parse_transaction(block.data[proof.tx_index])
        now = tx.timestamp
        # 4. the attestors
        attestors = [
            self._signer(
                tr,
                e.endorser,
                endorsed_bytes(proof.attestation_response, e.endorser),
                e.signature,
                now,
                f"attestor {i}",
            )
            for i, e in enumerate(attestations)
        ]
        for i, who in enumerate(attestors):
            if who.role != MSPRole.PEER:
                _fail(
                    FabricCode.ATTESTOR_NOT_PEER,
                    f"attestor {i} ({who.msp_id}) is a {MSPRole.MSPRoleType.Name(who.role)}, "
                    "not a peer: only peers answer for their ledger",
                )
        _distinct(attestors, "attestors")
        _policy(
            tr.attestation_envelope,
            attestors,
            FabricCode.ATTESTATION_POLICY_NOT_MET,
            f"the attestation policy {tr.attestation_policy}",
        )
        # 5. the orderers
        self._check_orderers(tr, block, now)
        # 6. the data hash
        if block_data_hash(block.data) != block.data_hash:
            _fail(
                FabricCode.DATA_HASH_MISMATCH,
                f"block {block.number}'s data does not hash to its header's data_hash: the "
                "transactions are not the ones the orderer signed",
            )
        # 7. the transaction
        self._check_transaction(tr, block, proof.tx_index, tx, now)
        # 8. the endorsements
        action = parse_action(tx.proposal_response_payload)
        if action.proposal_hash != proposal_hash2(
            tx.channel_header, tx.signature_header, tx.chaincode_proposal_payload
        ):
            _fail(
                FabricCode.PROPOSAL_HASH_MISMATCH,
                "the endorsed response's proposal_hash is not GetProposalHash2 of the "
                "transaction's own header and chaincode proposal payload: the endorsements are "
                "for another proposal",
            )
        if not tx.endorsements:
            _fail(FabricCode.ENDORSEMENT_POLICY_NOT_MET, "the transaction carries no endorsement")
        endorsers = [
            self._signer(
                tr,
                e.endorser,
                endorsed_bytes(tx.proposal_response_payload, e.endorser),
                e.signature,
                now,
                f"endorser {i}",
            )
            for i, e in enumerate(tx.endorsements)
        ]
        _distinct(endorsers, "endorsers")
        _policy(
            tr.endorsement_envelope,
            endorsers,
            FabricCode.ENDORSEMENT_POLICY_NOT_MET,
            f"the endorsement policy {tr.endorsement_policy}",
        )
        # 9. the broker's event
        if action.chaincode != tr.chaincode:
            _fail(
                FabricCode.WRONG_CHAINCODE,
                f"the endorsed action is of chaincode {action.chaincode[:60]!r}, not the "
                f"broker {tr.chaincode!r}",
            )
        if action.status != STATUS_OK:
            _fail(
                FabricCode.CHAINCODE_STATUS,
                f"the broker answered status {action.status} ({action.message[:200]!r}), not "
                "200: a failed invocation emits no IBTP",
            )
        event = action.event
        if event is None:
            _fail(FabricCode.EVENT_MALFORMED, "the broker's action carries no chaincode event")
        if event.chaincode_id != tr.chaincode:
            _fail(
                FabricCode.WRONG_CHAINCODE,
                f"the event is of chaincode {event.chaincode_id[:60]!r}, not {tr.chaincode!r}",
            )
        if event.tx_id != tx.tx_id:
            _fail(
                FabricCode.TX_ID_MISMATCH,
                f"the event carries tx_id {event.tx_id[:80]!r}, the transaction is {tx.tx_id}",
            )
        want = EVENT_FOR_TYPE[ibtp.type]
        if event.event_name != want:
            _fail(
                FabricCode.EVENT_WRONG_KIND,
                f"the broker's event is {event.event_name[:60]!r}; an IBTP of type "
                f"{ibtp.type.name} is proven by its {want}",
            )
        try:
            fields = decode_broker_event(event.event_name, event.payload)
        except BrokerEventError as exc:
            _fail(FabricCode.EVENT_MALFORMED, f"the broker's {want} does not decode: {exc}")
        check_event_fields(ibtp, fields)

    # ------------------------------------------------------------------ parts

    def _check_orderers(self, tr: FabricTrustRoot, block: ParsedBlock, now: int) -> None:
        header = block.header_bytes
        signers: set[tuple[str, bytes]] = set()
        for i, sig in enumerate(block.signatures):
            what = f"block signature {i}"
            chain = self._chain(tr.cas, tr.ca_ders, sig.creator, now, what)
            who = (chain.identity.msp_id, chain.identity.fingerprint)
            if who not in tr.orderer_ids:
                _fail(
                    FabricCode.ORDERER_UNKNOWN,
                    f"{what} is by {_describe(sig.creator)}, which is not a registered orderer "
                    f"of channel {tr.channel!r}",
                    signature_index=i,
                )
            message = orderer_signed_bytes(block.signatures_value, sig.signature_header, header)
            try:
                signature.verify(chain.key, message, sig.signature)
            except SignatureError:
                _signature_failure(sig.signature, what)
            signers.add(who)
        if len(signers) < tr.orderer_threshold:
            _fail(
                FabricCode.ORDERER_BELOW_THRESHOLD,
                f"block {block.number} is signed by {len(signers)} distinct registered "
                f"orderer(s); the trust root needs {tr.orderer_threshold}",
                distinct=len(signers),
                threshold=tr.orderer_threshold,
            )

    def _check_transaction(
        self,
        tr: FabricTrustRoot,
        block: ParsedBlock,
        tx_index: int,
        tx: ParsedTransaction,
        now: int,
    ) -> None:
        if tx.channel_id != tr.channel:
            _fail(
                FabricCode.TX_WRONG_CHANNEL,
                f"transaction {tx_index} is on channel {tx.channel_id[:60]!r}, not the "
                f"registered {tr.channel!r}",
            )
        if tx.chaincode != tr.chaincode:
            _fail(
                FabricCode.WRONG_CHAINCODE,
                f"transaction {tx_index} invokes chaincode {tx.chaincode[:60]!r}, not the "
                f"broker {tr.chaincode!r}",
            )
        if tx.tx_id != compute_tx_id(tx.nonce, tx.creator):
            _fail(
                FabricCode.TX_ID_MISMATCH,
                f"transaction {tx_index}'s tx_id is not hex(SHA-256(nonce ‖ creator))",
            )
        self._signer(tr, tx.creator, tx.payload, tx.signature, now, "the transaction's creator")
        code = block.transactions_filter[tx_index]
        if code != _VALID:
            try:
                name = transaction_pb2.TxValidationCode.Name(code)
            except ValueError:
                name = f"code {code}"
            _fail(
                FabricCode.TX_INVALID,
                f"transaction {tx_index} of block {block.number} was committed {name}, not "
                "VALID: its chaincode event never happened",
                validation_code=code,
            )

    def _signer(
        self,
        tr: FabricTrustRoot,
        serialized: bytes,
        message: bytes,
        sig: bytes,
        now: int,
        what: str,
    ) -> Identity:
        """The validated identity of ``serialized`` once its signature over ``message``
        verifies (identity and signature codes)."""
        chain = self._chain(tr.cas, tr.ca_ders, serialized, now, what)
        try:
            signature.verify(chain.key, message, sig)
        except SignatureError:
            _signature_failure(sig, what)
        return chain.identity

    def _chain(
        self,
        cas: Mapping[str, x509.Certificate],
        cas_der: Mapping[str, bytes],
        serialized: bytes,
        now: int,
        what: str,
    ) -> _Chain:
        try:
            sid = identities_pb2.SerializedIdentity.FromString(serialized)
        except DecodeError:
            _fail(
                FabricCode.IDENTITY_MALFORMED, f"{what}: the identity is not a SerializedIdentity"
            )
        ca = cas.get(sid.mspid)
        if ca is None:
            _fail(
                FabricCode.IDENTITY_UNKNOWN_MSP,
                f"{what}: MSP {sid.mspid[:60]!r} is not registered (registered: {sorted(cas)})",
            )
        key = (serialized, cas_der[sid.mspid])
        entry = None
        if self._memo_size:
            with self._lock:
                entry = self._memo.get(key)
                if entry is not None:
                    self._memo.move_to_end(key)
        if entry is None:
            try:
                identity = deserialize_identity(serialized, cas, now)
            except IdentityError as exc:
                _identity_failure(sid.id_bytes, ca, now, what, exc)
            cert = identity.certificate
            entry = _Chain(
                identity,
                identity.public_key,
                max(_start(cert), _start(ca)),
                min(_end(cert), _end(ca)),
            )
            if self._memo_size:
                with self._lock:
                    self._memo[key] = entry
                    while len(self._memo) > self._memo_size:
                        self._memo.popitem(last=False)
        elif not entry.start <= now <= entry.end:
            _fail(
                FabricCode.CERT_EXPIRED,
                f"{what}: the certificate or its CA is not valid at {now} (valid "
                f"{entry.start} to {entry.end})",
            )
        return entry

    def clear_memo(self) -> None:
        with self._lock:
            self._memo.clear()


# --------------------------------------------------------------------------- binding


def check_event_fields(ibtp: IBTP, event: BrokerEvent) -> None:
    """The broker event's fields equal the IBTP's (EVENT_FIELD_MISMATCH names the field),
    as the EVM verifier binds its logs:

    * every event: ``from``, ``to``, ``index``;
    * InterchainEvent: ``func``, ``args``, ``encrypted``, ``timeout``,
      ``payloadHash == compute_payload_hash(ibtp.payload)``, and an empty ``extra``;
    * ReceiptEvent: ``typ == ibtp.type``, payload ``("", [result], false)``, ``payloadHash``;
    * CallbackEvent: ``typ == 3`` and an empty IBTP payload.
    """
    _same("from", event.from_, ibtp.src)
    _same("to", event.to, ibtp.dst)
    _same("index", event.index, ibtp.index)
    payload = ibtp.payload
    if isinstance(event, InterchainEvent):
        _same("func", event.func, payload.func)
        _same("args", event.args, payload.args)
        _same("encrypted", event.encrypted, payload.encrypted)
        _same("timeout", event.timeout, ibtp.timeout)
        _same("payloadHash", event.payload_hash, compute_payload_hash(payload))
        _same("extra", b"", ibtp.extra)
    elif isinstance(event, CallbackEvent):
        _same("typ", event.typ, int(IBTPType.RECEIPT_ROLLBACK))
        _same("payload.func", "", payload.func)
        _same("payload.args", (), payload.args)
        _same("payload.encrypted", False, payload.encrypted)
    else:
        _same("typ", event.typ, int(ibtp.type))
        _same("payload.func", "", payload.func)
        _same("payload.args", (event.result,), payload.args)
        _same("payload.encrypted", False, payload.encrypted)
        _same("payloadHash", event.payload_hash, compute_payload_hash(payload))


def _same(name: str, emitted: Any, claimed: Any) -> None:
    if emitted != claimed or type(emitted) is not type(claimed):
        _fail(
            FabricCode.EVENT_FIELD_MISMATCH,
            f"the broker's event gives {name} = {_short(emitted)} but the IBTP has "
            f"{_short(claimed)}: the IBTP must carry exactly what the broker emitted",
            field=name,
        )


def _short(value: Any) -> str:
    text = "0x" + value.hex() if isinstance(value, bytes) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# --------------------------------------------------------------------------- helpers


def _fail(code: FabricCode, message: str, **details: object) -> NoReturn:
    raise FabricProofError(code, message, **details)


def _start(cert: x509.Certificate) -> int:
    return int(cert.not_valid_before_utc.timestamp())


def _end(cert: x509.Certificate) -> int:
    return int(cert.not_valid_after_utc.timestamp())


def _describe(serialized: bytes) -> str:
    try:
        sid = identities_pb2.SerializedIdentity.FromString(serialized)
    except DecodeError:
        return "an identity that does not decode"
    try:
        cert = x509.load_pem_x509_certificate(sid.id_bytes)
        return f"{sid.mspid[:60]!r} {cert.subject.rfc4514_string()[:120]!r}"
    except ValueError:
        return f"an identity of {sid.mspid[:60]!r}"


def _distinct(identities: Sequence[Identity], what: str) -> None:
    seen: set[tuple[str, bytes]] = set()
    for i, who in enumerate(identities):
        key = (who.msp_id, who.fingerprint)
        if key in seen:
            _fail(
                FabricCode.DUPLICATE_SIGNER,
                f"{what}: signer {i} ({who.msp_id}) appears twice; each counts once, send "
                "distinct signers",
            )
        seen.add(key)


def _policy(
    envelope: policies_pb2.SignaturePolicyEnvelope,
    signers: Sequence[Identity],
    code: FabricCode,
    what: str,
) -> None:
    if not evaluate_policy(envelope, signers):
        orgs = [f"{s.msp_id}.{MSPRole.MSPRoleType.Name(s.role).lower()}" for s in signers]
        _fail(code, f"the signers {orgs} do not satisfy {what}")


def _signature_failure(sig: bytes, what: str) -> NoReturn:
    """Which way a signature that did not verify is wrong."""
    try:
        r, s = decode_dss_signature(sig)
    except ValueError:
        _fail(FabricCode.SIGNATURE_MALFORMED, f"{what}: the signature is not DER (r, s)")
    if not 0 < r < signature.P256_ORDER or not 0 < s < signature.P256_ORDER:
        _fail(FabricCode.SIGNATURE_MALFORMED, f"{what}: the signature's r or s is outside [1, n-1]")
    if not signature.is_low_s(s):
        _fail(
            FabricCode.SIGNATURE_HIGH_S,
            f"{what}: the signature has a high S (above n/2); Fabric requires low S",
        )
    _fail(
        FabricCode.SIGNATURE_INVALID,
        f"{what}: the signature does not verify over the bytes it must cover",
    )


def _identity_failure(
    pem: bytes, ca: x509.Certificate, now: int, what: str, exc: IdentityError
) -> NoReturn:
    """Which way an identity ``deserialize_identity`` refused is wrong: the refusal is
    the shared MSP code's (``exc``); this only picks its code, checking in this order."""
    if pem.count(b"-----BEGIN CERTIFICATE-----") != 1:
        _fail(
            FabricCode.IDENTITY_MALFORMED, f"{what}: id_bytes must hold exactly one PEM certificate"
        )
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        _fail(FabricCode.IDENTITY_MALFORMED, f"{what}: id_bytes is not a PEM certificate")
    try:  # cryptography decodes lazily: every part the checks below read
        key = cert.public_key()
        is_ca = _is_ca(cert)
        _ = (cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc)
        cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    except ValueError as err:
        _fail(FabricCode.IDENTITY_MALFORMED, f"{what}: the certificate does not decode: {err}")
    if cert.issuer == cert.subject:
        _fail(FabricCode.CERT_SELF_SIGNED, f"{what}: a self-signed certificate is not an identity")
    if cert.issuer != ca.subject:
        _fail(
            FabricCode.CERT_WRONG_CA,
            f"{what}: the certificate is issued by {cert.issuer.rfc4514_string()[:120]!r}, not "
            "by its MSP's registered CA",
        )
    if is_ca or not (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        _fail(FabricCode.CERT_NOT_MEMBER, f"{what}: {exc}")
    if not max(_start(cert), _start(ca)) <= now <= min(_end(cert), _end(ca)):
        _fail(FabricCode.CERT_EXPIRED, f"{what}: {exc}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        _fail(FabricCode.CERT_WRONG_CA, f"{what}: the CA's signature on the certificate fails")
    _fail(FabricCode.CERT_NOT_MEMBER, f"{what}: {exc}")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
