"""A three-org dev network in memory and a client of it, for the Fabric chain tests."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2
from kvcc import definitions

from adapters.fabric.proposal import build_proposal
from appchains.fabric.ca import SigningIdentity
from appchains.fabric.network import FabricNetwork
from appchains.fabric.orgs import NetworkSetup, make_setup
from appchains.fabric.registry import ChaincodeContext, ChaincodeRegistry
from appchains.fabric.store import LedgerStore
from appchains.fabric.transaction import prepare_transaction, sign_envelope, sign_proposal

SEED = "fabric-chain-tests"
SETUP = make_setup(SEED, 3)
CHANNEL = SETUP.channel_id


def registry(setup: NetworkSetup = SETUP) -> ChaincodeRegistry:
    context = ChaincodeContext(setup.channel_id, "hub0", "fabric1", setup.msp_ids)
    return ChaincodeRegistry(definitions(context), setup.msp_ids)


def open_network(
    store: LedgerStore | None = None, *, max_message_count: int = 10, batch_timeout: float = 0.2
) -> FabricNetwork:
    return FabricNetwork.open(
        SETUP,
        registry(),
        store or LedgerStore(None),
        max_message_count=max_message_count,
        batch_timeout=batch_timeout,
        genesis_timestamp=1_767_225_600,
    )


class Client:
    """A client identity proposing to and submitting on the channel."""

    def __init__(self, identity: SigningIdentity, channel: str = CHANNEL) -> None:
        self.identity = identity
        self.channel = channel

    def propose(
        self, chaincode: str, *args: str, nonce: bytes | None = None
    ) -> tuple[proposal_pb2.Proposal, proposal_pb2.SignedProposal]:
        proposal = build_proposal(
            self.channel,
            [a.encode() for a in args],
            self.identity.serialized,
            nonce if nonce is not None else secrets.token_bytes(24),
            int(time.time()),
            chaincode=chaincode,
        )
        return proposal, sign_proposal(proposal, self.identity.sign)

    def transaction(
        self,
        proposal: proposal_pb2.Proposal,
        responses: Sequence[proposal_response_pb2.ProposalResponse],
    ) -> common_pb2.Envelope:
        return sign_envelope(prepare_transaction(proposal, responses), self.identity.sign)


CLIENT = Client(SETUP.orgs[0].client)


def endorsed(
    net: FabricNetwork, chaincode: str, *args: str, peers: Sequence[int] = (0, 1)
) -> tuple[str, common_pb2.Envelope]:
    """A transaction endorsed by ``peers`` and signed by the client: (tx ID, envelope)."""
    proposal, signed = CLIENT.propose(chaincode, *args)
    responses = [net.process_proposal(p, signed) for p in peers]
    for r in responses:
        assert r.response.status == 200, r.response.message
    tx_id = common_pb2.ChannelHeader.FromString(
        common_pb2.Header.FromString(proposal.header).channel_header
    ).tx_id
    return tx_id, CLIENT.transaction(proposal, responses)
