"""A Fabric client for the gateway side: a signing identity, and gRPC to peers.

It speaks what a real Fabric peer serves (Fabric 2.4+), with Hyperledger's own
protobuf bindings and grpcio:

* ``gateway.Gateway`` — ``Evaluate`` (a query on one peer), ``Endorse`` (the peer's
  gateway gathers endorsements and returns the prepared transaction), ``Submit`` (to
  the orderer) and ``CommitStatus`` (waits for the commit's validation code);
* ``protos.Endorser`` — ``ProcessProposal`` on one peer, for the ``qscc`` block
  attestations of docs/fabric.md §3.3 (what ``peer chaincode query -n qscc`` sends).

grpcio's blocking stubs run in trio worker threads, each call with a deadline. A
peer that does not answer (``UNAVAILABLE``, ``DEADLINE_EXCEEDED``) is
``UPSTREAM_UNAVAILABLE`` (6007); any other gRPC error is the chain's own answer,
``CHAIN_RPC_ERROR`` (8002) with the gRPC status and the gateway's error details —
both chain-side codes, retried by the gateway runtime.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import (
    chaincode_event_pb2,
    peer_pb2_grpc,
    proposal_pb2,
    proposal_response_pb2,
)

from adapters.fabric import signature
from adapters.fabric.identity import account_of_certificate, serialize_identity
from adapters.fabric.proof import parse_transaction
from adapters.fabric.proposal import build_proposal, compute_tx_id, decode_event
from relay.errors import Code, RelayError

T = TypeVar("T")

#: Deadline of one gRPC call, unless the caller gives one.
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class ClientIdentity:
    """A Fabric client identity: its MSP ID, X.509 certificate and P-256 key."""

    msp_id: str
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def from_pem(cls, msp_id: str, cert_pem: bytes, key_pem: bytes) -> ClientIdentity:
        try:
            certificate = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as exc:
            raise RelayError(Code.CONFIG, f"Fabric identity of {msp_id}: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise RelayError(Code.CONFIG, f"Fabric identity of {msp_id}: the key is not P-256")
        public = certificate.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey) or (
            public.public_numbers() != key.public_key().public_numbers()
        ):
            raise RelayError(
                Code.CONFIG,
                f"Fabric identity of {msp_id}: the key is not the certificate's "
                "(give the key file issued with this certificate)",
            )
        return cls(msp_id, certificate, key)

    @classmethod
    def from_files(cls, msp_id: str, cert_path: Path, key_path: Path) -> ClientIdentity:
        try:
            cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
        except OSError as exc:
            raise RelayError(
                Code.CONFIG, f"Fabric identity of {msp_id}: cannot read {exc.filename}"
            ) from None
        return cls.from_pem(msp_id, cert_pem, key_pem)

    @property
    def serialized(self) -> bytes:
        """The ``msp.SerializedIdentity`` bytes (the creator of what it signs)."""
        return serialize_identity(self.msp_id, self.certificate)

    def sign(self, message: bytes) -> bytes:
        """A low-S DER ECDSA signature over SHA-256(message), as Fabric's BCCSP."""
        return signature.sign(self.key, message)


def signed_proposal(
    identity: ClientIdentity,
    channel: str,
    chaincode: str,
    args: Sequence[bytes],
    *,
    timestamp: int | None = None,
    nonce: bytes | None = None,
) -> tuple[str, proposal_pb2.SignedProposal]:
    """A proposal invoking ``chaincode`` with ``args``, signed by ``identity``, and its
    transaction ID."""
    creator = identity.serialized
    nonce = os.urandom(24) if nonce is None else nonce
    proposal = build_proposal(
        channel,
        args,
        creator,
        nonce,
        int(time.time()) if timestamp is None else timestamp,
        chaincode=chaincode,
    )
    return compute_tx_id(nonce, creator), sign_proposal(identity, proposal.SerializeToString())


def sign_proposal(identity: ClientIdentity, proposal: bytes) -> proposal_pb2.SignedProposal:
    """A serialized ``peer.Proposal`` signed by ``identity``."""
    return proposal_pb2.SignedProposal(proposal_bytes=proposal, signature=identity.sign(proposal))


def sign_envelope(identity: ClientIdentity, envelope: common_pb2.Envelope) -> common_pb2.Envelope:
    """The prepared transaction signed by the client (Fabric signs the payload bytes)."""
    return common_pb2.Envelope(payload=envelope.payload, signature=identity.sign(envelope.payload))


def _grpc_error(exc: grpc.RpcError, endpoint: str, method: str) -> RelayError:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    message = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return RelayError(
            Code.UPSTREAM_UNAVAILABLE,
            f"Fabric peer {endpoint} did not answer {method} ({code.name}: {message}); "
            "check that it runs and the endpoint is right",
            endpoint=endpoint,
        )
    return RelayError(
        Code.CHAIN_RPC_ERROR,
        f"Fabric peer {endpoint} answered {method} with {code.name if code else 'an error'}: "
        f"{message}",
        endpoint=endpoint,
        method=method,
        rpc_code=code.name if code else None,
        rpc_message=message,
        data=_error_details(exc),
    )


def _error_details(exc: grpc.RpcError) -> list[dict[str, str]]:
    """The Fabric gateway's ``ErrorDetail`` list, from the rich status in the trailers
    (``grpc-status-details-bin``: a ``google.rpc.Status`` whose details are
    ``gateway.ErrorDetail``)."""
    if not isinstance(exc, grpc.Call):
        return []
    from google.rpc import status_pb2  # part of the protobuf runtime the bindings need

    for key, value in exc.trailing_metadata() or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:  # a peer's malformed trailer: no details, not a crash
            return []
        out = []
        for any_detail in status.details:
            detail = gateway_pb2.ErrorDetail()
            if any_detail.Unpack(detail):
                out.append(
                    {"address": detail.address, "msp_id": detail.msp_id, "message": detail.message}
                )
        return out
    return []


class PeerClient:
    """gRPC to one peer's Gateway and Endorser services (loopback or TLS-less dev)."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._channel = grpc.insecure_channel(
            endpoint, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        )
        self._gateway = gateway_pb2_grpc.GatewayStub(self._channel)
        self._endorser = peer_pb2_grpc.EndorserStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    async def _call(self, method: str, fn: Callable[..., T], request: Any, timeout: float) -> T:
        def run() -> T:
            try:
                return fn(request, timeout=timeout)
            except grpc.RpcError as exc:
                raise _grpc_error(exc, self.endpoint, method) from None

        return await trio.to_thread.run_sync(run, abandon_on_cancel=True)

    async def process_proposal(
        self, signed: proposal_pb2.SignedProposal
    ) -> proposal_response_pb2.ProposalResponse:
        """``protos.Endorser/ProcessProposal``: this peer's endorsed response."""
        return await self._call(
            "ProcessProposal", self._endorser.ProcessProposal, signed, self.timeout
        )

    async def evaluate(
        self, channel: str, tx_id: str, signed: proposal_pb2.SignedProposal
    ) -> proposal_response_pb2.Response:
        """``gateway.Gateway/Evaluate``: the chaincode's response on one peer."""
        request = gateway_pb2.EvaluateRequest(
            transaction_id=tx_id, channel_id=channel, proposed_transaction=signed
        )
        reply = await self._call("Evaluate", self._gateway.Evaluate, request, self.timeout)
        return reply.result

    async def endorse(
        self,
        channel: str,
        tx_id: str,
        signed: proposal_pb2.SignedProposal,
        endorsing_organizations: Sequence[str] = (),
    ) -> common_pb2.Envelope:
        """``gateway.Gateway/Endorse``: the prepared (unsigned) transaction."""
        request = gateway_pb2.EndorseRequest(
            transaction_id=tx_id,
            channel_id=channel,
            proposed_transaction=signed,
            endorsing_organizations=list(endorsing_organizations),
        )
        reply = await self._call("Endorse", self._gateway.Endorse, request, self.timeout)
        return reply.prepared_transaction

    async def submit(self, channel: str, tx_id: str, envelope: common_pb2.Envelope) -> None:
        """``gateway.Gateway/Submit``: the signed transaction to the orderer."""
        request = gateway_pb2.SubmitRequest(
            transaction_id=tx_id, channel_id=channel, prepared_transaction=envelope
        )
        await self._call("Submit", self._gateway.Submit, request, self.timeout)

    async def commit_status(
        self, identity: ClientIdentity, channel: str, tx_id: str, timeout: float
    ) -> tuple[int, int]:
        """``gateway.Gateway/CommitStatus``: the transaction's validation code
        (``peer.TxValidationCode``) and block number, once committed."""
        raw = gateway_pb2.CommitStatusRequest(
            transaction_id=tx_id, channel_id=channel, identity=identity.serialized
        ).SerializeToString()
        request = gateway_pb2.SignedCommitStatusRequest(request=raw, signature=identity.sign(raw))
        reply = await self._call("CommitStatus", self._gateway.CommitStatus, request, timeout)
        return int(reply.result), int(reply.block_number)


@dataclass(frozen=True)
class Submitted:
    """A transaction after its commit: its ID, the chaincode's answer and event as the
    endorsers simulated them, and the commit's verdict (``peer.TxValidationCode``, 0 =
    VALID) with its block."""

    tx_id: str
    result: bytes
    event: tuple[str, bytes] | None
    code: int
    block: int

    @property
    def valid(self) -> bool:
        return self.code == 0


def prepared_outcome(envelope: common_pb2.Envelope) -> tuple[bytes, tuple[str, bytes] | None]:
    """The chaincode's response payload and event in a prepared transaction (what the
    endorsers agreed on)."""
    tx = parse_transaction(envelope.SerializeToString())
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(tx.proposal_response_payload)
    action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    event = None
    if action.events:
        ev = chaincode_event_pb2.ChaincodeEvent.FromString(action.events)
        event = (ev.event_name, bytes(ev.payload))
    return bytes(action.response.payload), event


async def submit_transaction(
    gateway: PeerClient,
    identity: ClientIdentity,
    channel: str,
    chaincode: str,
    args: Sequence[bytes],
    commit_timeout: float,
    endorsing_organizations: Sequence[str] = (),
) -> Submitted:
    """Endorse, sign, submit and wait for the commit, as the Gateway clients'
    ``submitAsync`` + ``getStatus`` do. A chaincode that refuses fails the Endorse call
    (``CHAIN_RPC_ERROR``: :func:`chaincode_refusal` gives its message)."""
    tx_id, signed = signed_proposal(identity, channel, chaincode, args)
    prepared = await gateway.endorse(channel, tx_id, signed, endorsing_organizations)
    result, event = prepared_outcome(prepared)
    await gateway.submit(channel, tx_id, sign_envelope(identity, prepared))
    code, block = await gateway.commit_status(identity, channel, tx_id, commit_timeout)
    return Submitted(tx_id, result, event, code, block)


def chaincode_refusal(exc: RelayError) -> str | None:
    """The chaincode's message when a gateway call failed because the chaincode said
    no (Fabric's gateway: each peer's "chaincode response 500, ..." in the error
    details, or the status message); None when the peer could not be asked at all."""
    if exc.code != Code.CHAIN_RPC_ERROR:
        return None
    details = exc.details or {}
    for d in details.get("data") or []:
        message = str(d.get("message", ""))
        if message:
            return message
    message = str(details.get("rpc_message") or "")
    return message or None


async def evaluate_transaction(
    gateway: PeerClient,
    identity: ClientIdentity,
    channel: str,
    chaincode: str,
    args: Sequence[bytes],
) -> bytes:
    """A query on one peer (``Gateway/Evaluate``): the chaincode's payload; a chaincode
    that answers an error is ``CHAIN_RPC_ERROR`` with its status and message."""
    tx_id, signed = signed_proposal(identity, channel, chaincode, args)
    response = await gateway.evaluate(channel, tx_id, signed)
    if response.status >= 400:
        fn = args[0].decode(errors="replace") if args else ""
        raise RelayError(
            Code.CHAIN_RPC_ERROR,
            f"{chaincode}.{fn} on {channel} answered {response.status}: {response.message}",
            method=f"{chaincode}.{fn}",
            rpc_code=response.status,
            rpc_message=response.message,
        )
    return bytes(response.payload)


class FabricCaller:
    """Source-chain side of ``AsyncRelayClient.call`` on a Fabric chain: a client
    identity emits through the broker (``broker.emitInterchain``), its full service ID
    being ``hub:chain:0x<its account>`` (docs/fabric.md §3.2)."""

    def __init__(
        self,
        endpoint: str,
        identity: ClientIdentity,
        channel: str,
        hub_id: str,
        chain_id: str,
        broker: str = "broker",
        commit_timeout: float = 30.0,
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity
        self.channel = channel
        self.broker = broker
        self.commit_timeout = commit_timeout
        self.service_id = f"{hub_id}:{chain_id}:{account_address(identity)}"

    async def emit(
        self, dst_service: str, func: str, args: list[bytes], timeout: int
    ) -> tuple[str, str, int]:
        gateway = PeerClient(self.endpoint)
        try:
            done = await submit_transaction(
                gateway,
                self.identity,
                self.channel,
                self.broker,
                [
                    b"emitInterchain",
                    dst_service.encode(),
                    func.encode(),
                    encode_bytes_list(args),
                    str(timeout).encode(),
                ],
                self.commit_timeout,
            )
        except RelayError as exc:
            reason = chaincode_refusal(exc)
            if reason is None:
                raise
            raise RelayError(Code.BAD_REQUEST, f"the broker refused the call: {reason}") from None
        finally:
            gateway.close()
        if not done.valid or done.event is None:
            raise RelayError(
                Code.BAD_REQUEST,
                f"the call's transaction {done.tx_id} was invalidated at commit "
                f"(code {done.code}); send it again",
            )
        event = decode_event(*done.event)
        return event.from_, event.to, event.index


def account_address(identity: ClientIdentity) -> str:
    """A client's account on the broker set's chaincodes: ``0x`` + hex of
    SHA-256(mspid ‖ 0x00 ‖ DER certificate)[12:] (docs/fabric.md §3.2)."""
    der = identity.certificate.public_bytes(serialization.Encoding.DER)
    return "0x" + account_of_certificate(identity.msp_id, der).hex()


def encode_bytes_list(items: Sequence[bytes]) -> bytes:
    """A list of byte strings as the broker reads it: canonical JSON of lowercase hex."""
    return json.dumps([bytes(b).hex() for b in items], separators=(",", ":")).encode()
