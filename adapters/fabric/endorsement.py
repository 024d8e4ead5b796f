"""Endorsements: a peer's signature over a proposal response payload, and their checks.

Fabric's endorser signs ``proposal_response_payload ‖ endorser`` — the payload bytes
followed by the endorser's ``SerializedIdentity`` bytes — and returns
``peer.Endorsement(endorser, signature)``; the validator rebuilds the same signed
data (``SignedData{Data: append(prp, endorser...), Identity: endorser}``). Pure:
``now`` (Unix seconds) is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography import x509
from fabric_protos.common import policies_pb2
from fabric_protos.peer import proposal_response_pb2

from . import signature
from .errors import EndorsementError, FabricError
from .identity import Identity, deserialize_identity
from .policy import evaluate_policy

Endorsement = proposal_response_pb2.Endorsement


def endorsed_bytes(payload: bytes, endorser: bytes) -> bytes:
    """What an endorsement's signature covers."""
    return payload + endorser


def endorse(
    payload: bytes, serialized_identity: bytes, sign: signature.Signer
) -> proposal_response_pb2.Endorsement:
    """The endorsement of ``payload`` by the identity whose key ``sign`` signs with."""
    return Endorsement(
        endorser=serialized_identity,
        signature=sign(endorsed_bytes(payload, serialized_identity)),
    )


def verify_endorsement(
    payload: bytes,
    endorsement: proposal_response_pb2.Endorsement,
    cas: Mapping[str, x509.Certificate],
    now: int,
) -> Identity:
    """The endorser's identity, if its certificate chains to its MSP's CA and it signed."""
    try:
        identity = deserialize_identity(endorsement.endorser, cas, now)
        signature.verify(
            identity.public_key,
            endorsed_bytes(payload, endorsement.endorser),
            endorsement.signature,
        )
    except FabricError as exc:
        raise EndorsementError(f"endorsement refused: {exc}") from None
    return identity


def verify_endorsements(
    payload: bytes,
    endorsements: Sequence[proposal_response_pb2.Endorsement],
    cas: Mapping[str, x509.Certificate],
    envelope: policies_pb2.SignaturePolicyEnvelope,
    now: int,
) -> list[Identity]:
    """Every endorsement verified, and the endorsers satisfying the policy.

    Stricter than Fabric, which skips an endorsement that does not verify and judges
    the policy on the rest: here any bad endorsement refuses the whole set (a proof
    carrying one is malformed).
    """
    identities = []
    for i, endorsement in enumerate(endorsements):
        try:
            identities.append(verify_endorsement(payload, endorsement, cas, now))
        except EndorsementError as exc:
            raise EndorsementError(f"endorsement {i}: {exc}") from None
    if not evaluate_policy(envelope, identities):
        orgs = sorted({i.msp_id for i in identities})
        raise EndorsementError(f"the endorsements (by {orgs}) do not satisfy the policy")
    return identities
