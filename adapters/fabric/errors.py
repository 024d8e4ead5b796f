"""The Fabric core's exceptions: one tree, each saying what was wrong."""

from __future__ import annotations


class FabricError(ValueError):
    """Base of everything the Fabric core refuses."""


class PolicySyntaxError(FabricError):
    """A policy string that is not Fabric's policy language; says where and why."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.text = text
        self.position = position
        super().__init__(f"{message} at position {position} of policy {text!r}")


class PolicyError(FabricError):
    """A compiled policy envelope this evaluator cannot use (version, index, principal)."""


class SignatureError(FabricError):
    """A signature that is malformed, high-S, or does not verify."""


class IdentityError(FabricError):
    """A serialized identity or certificate that is not a valid member of a known MSP."""


class EndorsementError(FabricError):
    """An endorsement whose endorser or signature does not verify."""


class ProposalError(FabricError):
    """A proposal or proposal response payload that is not the broker's well-formed message:
    malformed or non-canonical protobuf, a missing part, the wrong header type or chaincode.
    """


class ChaincodeStatusError(ProposalError):
    """A proposal response whose chaincode response status is not 200 (OK)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.chaincode_message = message
        super().__init__(f"chaincode response status {status} (not 200): {message!r}")


class BrokerEventError(FabricError):
    """A broker chaincode event payload that is not the canonical encoding of its fields."""
