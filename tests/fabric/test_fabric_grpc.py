"""The Fabric dev chain's gRPC services through a real grpc channel to 127.0.0.1,
with Hyperledger's own stubs (fabric_protos.*_pb2_grpc)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import (
    events_pb2_grpc,
    peer_pb2_grpc,
    proposal_pb2,
    transaction_pb2,
)
from netfix import CHANNEL, CLIENT, SETUP, Client, open_network

from adapters.fabric.endorsement import verify_endorsement
from appchains.fabric.block import verify_block
from appchains.fabric.network import FabricNetwork
from appchains.fabric.server import PeerServers, serve_peers
from appchains.fabric.transaction import sign_envelope

Code = transaction_pb2.TxValidationCode
DEADLINE = 20.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def chain() -> Iterator[tuple[FabricNetwork, PeerServers]]:
    net = open_network(max_message_count=10, batch_timeout=0.1)
    net.start()
    servers = serve_peers(net, "127.0.0.1", [0, 0, 0], workers=4)
    try:
        yield net, servers
    finally:
        servers.stop(0)
        net.stop()


@pytest.fixture
def gateway(chain: tuple[FabricNetwork, PeerServers]) -> Iterator[gateway_pb2_grpc.GatewayStub]:
    with grpc.insecure_channel(chain[1].endpoints[0]) as channel:
        yield gateway_pb2_grpc.GatewayStub(channel)


def tx_id_of(proposal: proposal_pb2.Proposal) -> str:
    header = common_pb2.Header.FromString(proposal.header)
    return common_pb2.ChannelHeader.FromString(header.channel_header).tx_id


def endorse(
    gw: gateway_pb2_grpc.GatewayStub, *args: str, orgs: tuple[str, ...] = (), cc: str = "kv"
) -> tuple[str, common_pb2.Envelope]:
    proposal, signed = CLIENT.propose(cc, *args)
    tx_id = tx_id_of(proposal)
    response = gw.Endorse(
        gateway_pb2.EndorseRequest(
            transaction_id=tx_id,
            channel_id=CHANNEL,
            proposed_transaction=signed,
            endorsing_organizations=list(orgs),
        ),
        timeout=DEADLINE,
    )
    assert not response.prepared_transaction.signature  # unsigned: the client signs
    return tx_id, sign_envelope(response.prepared_transaction, CLIENT.identity.sign)


def submit(gw: gateway_pb2_grpc.GatewayStub, tx_id: str, env: common_pb2.Envelope) -> None:
    gw.Submit(
        gateway_pb2.SubmitRequest(
            transaction_id=tx_id, channel_id=CHANNEL, prepared_transaction=env
        ),
        timeout=DEADLINE,
    )


def commit_status(
    gw: gateway_pb2_grpc.GatewayStub, tx_id: str, client: Client = CLIENT
) -> gateway_pb2.CommitStatusResponse:
    request = gateway_pb2.CommitStatusRequest(
        transaction_id=tx_id, channel_id=CHANNEL, identity=client.identity.serialized
    ).SerializeToString()
    return gw.CommitStatus(
        gateway_pb2.SignedCommitStatusRequest(
            request=request, signature=CLIENT.identity.sign(request)
        ),
        timeout=DEADLINE,
    )


def evaluate(gw: gateway_pb2_grpc.GatewayStub, *args: str, cc: str = "kv") -> bytes:
    proposal, signed = CLIENT.propose(cc, *args)
    response = gw.Evaluate(
        gateway_pb2.EvaluateRequest(
            transaction_id=tx_id_of(proposal), channel_id=CHANNEL, proposed_transaction=signed
        ),
        timeout=DEADLINE,
    )
    assert response.result.status == 200
    return bytes(response.result.payload)


def test_endorse_submit_commit_status_evaluate(gateway: gateway_pb2_grpc.GatewayStub) -> None:
    tx_id, env = endorse(gateway, "put", "alice", "10")
    payload = common_pb2.Payload.FromString(env.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    endorsers = {
        verify_endorsement(
            cap.action.proposal_response_payload, e, SETUP.cas, int(time.time())
        ).msp_id
        for e in cap.action.endorsements
    }
    assert endorsers == {"Org1MSP", "Org2MSP"}  # the local org first, then by org order
    submit(gateway, tx_id, env)
    status = commit_status(gateway, tx_id)
    assert status.result == Code.VALID and status.block_number == 1
    assert evaluate(gateway, "get", "alice") == b"10"


def test_mvcc_conflict_and_chaincode_events(gateway: gateway_pb2_grpc.GatewayStub) -> None:
    tx0, env = endorse(gateway, "put", "alice", "10")
    submit(gateway, tx0, env)
    assert commit_status(gateway, tx0).result == Code.VALID
    tx1, first = endorse(gateway, "transfer", "alice", "bob", "3")
    tx2, second = endorse(gateway, "transfer", "alice", "carol", "4")
    submit(gateway, tx1, first)
    submit(gateway, tx2, second)
    assert commit_status(gateway, tx1).result == Code.VALID
    assert commit_status(gateway, tx2).result == Code.MVCC_READ_CONFLICT
    assert evaluate(gateway, "get", "alice") == b"7"
    assert evaluate(gateway, "get", "carol") == b""

    def events(**start: object) -> list[tuple[str, str]]:
        request = gateway_pb2.ChaincodeEventsRequest(
            channel_id=CHANNEL, chaincode_id="kv", identity=CLIENT.identity.serialized, **start
        ).SerializeToString()
        stream = gateway.ChaincodeEvents(
            gateway_pb2.SignedChaincodeEventsRequest(
                request=request, signature=CLIENT.identity.sign(request)
            ),
            timeout=DEADLINE,
        )
        seen: list[tuple[str, str]] = []
        for response in stream:
            seen += [(e.tx_id, e.event_name) for e in response.events]
            if seen[-1][0] == tx1:
                stream.cancel()
                break
        return seen

    everything = events(
        start_position=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=0))
    )
    assert everything == [(tx0, "Put"), (tx1, "Transfer")]  # tx2's event is not emitted
    assert events(after_transaction_id=tx0) == [(tx1, "Transfer")]


def test_endorsing_organizations_and_policy_failure(gateway: gateway_pb2_grpc.GatewayStub) -> None:
    tx_id, env = endorse(gateway, "put", "k", "v", orgs=("Org3MSP",))
    submit(gateway, tx_id, env)
    assert commit_status(gateway, tx_id).result == Code.ENDORSEMENT_POLICY_FAILURE
    tx_id, env = endorse(gateway, "put", "k", "v", orgs=("Org3MSP",), cc="kv1")
    submit(gateway, tx_id, env)
    assert commit_status(gateway, tx_id).result == Code.ENDORSEMENT_POLICY_FAILURE
    tx_id, env = endorse(gateway, "put", "k", "v", cc="kv1")  # OR('Org1MSP.peer'): one
    submit(gateway, tx_id, env)
    assert commit_status(gateway, tx_id).result == Code.VALID


def test_refusals(gateway: gateway_pb2_grpc.GatewayStub) -> None:
    _, signed = CLIENT.propose("kv", "fail", "nope")
    with pytest.raises(grpc.RpcError) as info:
        gateway.Evaluate(
            gateway_pb2.EvaluateRequest(channel_id=CHANNEL, proposed_transaction=signed),
            timeout=DEADLINE,
        )
    assert info.value.code() == grpc.StatusCode.ABORTED
    assert "chaincode response 500, nope" in (info.value.details() or "")
    with pytest.raises(grpc.RpcError) as info:
        endorse(gateway, "fail", "nope")
    assert info.value.code() == grpc.StatusCode.ABORTED
    tx_id, env = endorse(gateway, "put", "a", "1")
    with pytest.raises(grpc.RpcError) as info:
        submit(gateway, tx_id, common_pb2.Envelope(payload=env.payload))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    forged = sign_envelope(common_pb2.Envelope(payload=env.payload), SETUP.orgs[1].client.sign)
    with pytest.raises(grpc.RpcError) as info:
        submit(gateway, tx_id, forged)
    assert info.value.code() == grpc.StatusCode.ABORTED
    assert "FORBIDDEN" in (info.value.details() or "")
    with pytest.raises(grpc.RpcError) as info:
        commit_status(gateway, tx_id, client=Client(SETUP.orgs[1].client))  # signed by another
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as info:  # never submitted: waits until the deadline
        request = gateway_pb2.CommitStatusRequest(
            transaction_id=tx_id, channel_id=CHANNEL, identity=CLIENT.identity.serialized
        ).SerializeToString()
        gateway.CommitStatus(
            gateway_pb2.SignedCommitStatusRequest(
                request=request, signature=CLIENT.identity.sign(request)
            ),
            timeout=1.0,
        )
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_endorser_and_deliver(chain: tuple[FabricNetwork, PeerServers]) -> None:
    net, servers = chain
    with grpc.insecure_channel(servers.endpoints[2]) as channel:
        endorser = peer_pb2_grpc.EndorserStub(channel)
        deliver = events_pb2_grpc.DeliverStub(channel)
        gw = gateway_pb2_grpc.GatewayStub(channel)
        tx_id, env = endorse(gw, "put", "x", "1")
        submit(gw, tx_id, env)
        assert commit_status(gw, tx_id).block_number == 1
        _, signed = CLIENT.propose("qscc", "GetBlockByNumber", CHANNEL, "1")
        response = endorser.ProcessProposal(signed, timeout=DEADLINE)
        assert response.response.status == 200
        endorsement = verify_endorsement(
            response.payload, response.endorsement, SETUP.cas, int(time.time())
        )
        assert endorsement.msp_id == "Org3MSP"
        block = common_pb2.Block.FromString(response.response.payload)
        verify_block(block, net.store.block_hash(0), SETUP.orderer_cas, int(time.time()))

        def seek(
            start: ab_pb2.SeekPosition, stop: ab_pb2.SeekPosition, sign: bool = True
        ) -> common_pb2.Envelope:
            chdr = common_pb2.ChannelHeader(
                type=common_pb2.HeaderType.DELIVER_SEEK_INFO, channel_id=CHANNEL
            )
            shdr = common_pb2.SignatureHeader(
                creator=CLIENT.identity.serialized, nonce=secrets.token_bytes(24)
            )
            payload = common_pb2.Payload(
                header=common_pb2.Header(
                    channel_header=chdr.SerializeToString(),
                    signature_header=shdr.SerializeToString(),
                ),
                data=ab_pb2.SeekInfo(
                    start=start, stop=stop, behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY
                ).SerializeToString(),
            ).SerializeToString()
            return common_pb2.Envelope(
                payload=payload, signature=CLIENT.identity.sign(payload) if sign else b""
            )

        oldest = ab_pb2.SeekPosition(oldest=ab_pb2.SeekOldest())
        newest = ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
        responses = list(deliver.Deliver(iter([seek(oldest, newest)]), timeout=DEADLINE))
        assert [r.WhichOneof("Type") for r in responses] == ["block", "block", "status"]
        assert responses[1].block == block and responses[2].status == common_pb2.Status.SUCCESS
        filtered = list(deliver.DeliverFiltered(iter([seek(newest, newest)]), timeout=DEADLINE))
        ftx = filtered[0].filtered_block.filtered_transactions[0]
        assert ftx.txid == tx_id and ftx.tx_validation_code == Code.VALID
        event = ftx.transaction_actions.chaincode_actions[0].chaincode_event
        assert event.event_name == "Put" and event.payload == b""
        refused = list(deliver.Deliver(iter([seek(oldest, newest, sign=False)]), timeout=DEADLINE))
        assert [r.status for r in refused] == [common_pb2.Status.FORBIDDEN]
        # BLOCK_UNTIL_READY: the next block arrives on the open stream
        nxt = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=2))
        stream = deliver.Deliver(iter([seek(nxt, nxt)]), timeout=DEADLINE)
        tx_id, env = endorse(gw, "put", "y", "2")
        submit(gw, tx_id, env)
        first = next(stream)
        assert first.block.header.number == 2
        assert next(stream).status == common_pb2.Status.SUCCESS
        stream.cancel()
