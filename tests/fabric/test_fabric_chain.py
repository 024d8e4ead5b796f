"""The Fabric dev chain's pure core on real protobuf bytes: blocks, simulation,
endorsement, commit validation (MVCC, policies, signatures), qscc, the cutter."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fabric_protos.common import common_pb2, configtx_pb2, ledger_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.msp import msp_config_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from netfix import CHANNEL, CLIENT, SETUP, Client, endorsed, open_network

from adapters.fabric.blocks import block_data_hash, der_integer, der_octet_string, der_sequence
from adapters.fabric.endorsement import verify_endorsement
from adapters.fabric.proposal import parse_proposal_response_payload, proposal_hash
from appchains.fabric.block import (
    BlockError,
    header_bytes,
    header_hash,
    transactions_filter,
    verify_block,
)
from appchains.fabric.orderer import BlockCutter
from appchains.fabric.simulation import Version
from appchains.fabric.transaction import sign_envelope

Code = transaction_pb2.TxValidationCode
NOW = 1_767_225_600


# --- blocks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "s"), [(1, 1), (127, 128), (255, 2**255), (2**256 - 1, 0x80), (2**64, 2**63 - 1)]
)
def test_der_integers_and_sequence_match_cryptography(r: int, s: int) -> None:
    assert der_sequence(der_integer(r), der_integer(s)) == encode_dss_signature(r, s)


def test_block_header_bytes_by_hand() -> None:
    header = common_pb2.BlockHeader(number=0)
    assert header_bytes(header) == bytes.fromhex("300902010004000400")[:0] + bytes(
        [0x30, 0x07, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]
    )
    header = common_pb2.BlockHeader(number=128, previous_hash=b"\x01" * 32, data_hash=b"\x02" * 32)
    expected = (
        bytes([0x30, 0x48, 0x02, 0x02, 0x00, 0x80, 0x04, 0x20])
        + b"\x01" * 32
        + bytes([0x04, 0x20])
        + b"\x02" * 32
    )
    assert header_bytes(header) == expected
    assert header_hash(header) == hashlib.sha256(expected).digest()
    assert der_octet_string(b"x" * 200)[:3] == bytes([0x04, 0x81, 200])
    assert der_integer(2**64 - 1) == bytes([0x02, 0x09, 0x00]) + b"\xff" * 8


def test_genesis_is_a_signed_config_block_naming_the_orgs() -> None:
    net = open_network()
    block = net.store.get_block(0)
    assert block is not None and net.store.height() == 1
    assert block.header.previous_hash == b""
    assert block.header.data_hash == hashlib.sha256(block.data.data[0]).digest()
    (signer,) = verify_block(block, None, SETUP.orderer_cas, NOW)
    assert signer.identity.msp_id == "OrdererMSP" and signer.last_config == 0
    assert transactions_filter(block) == bytes([Code.VALID])
    env = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(env.payload)
    chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    assert chdr.type == common_pb2.HeaderType.CONFIG and chdr.channel_id == CHANNEL
    config = configtx_pb2.ConfigEnvelope.FromString(payload.data).config
    app = config.channel_group.groups["Application"]
    assert sorted(app.groups) == ["Org1MSP", "Org2MSP", "Org3MSP"]
    msp = msp_config_pb2.MSPConfig.FromString(app.groups["Org2MSP"].values["MSP"].value)
    fabric = msp_config_pb2.FabricMSPConfig.FromString(msp.config)
    assert fabric.name == "Org2MSP" and fabric.fabric_node_ous.enable
    assert b"BEGIN CERTIFICATE" in fabric.root_certs[0]
    assert "OrdererMSP" in config.channel_group.groups["Orderer"].groups


def test_verify_block_refuses_tampering() -> None:
    net = open_network()
    block = net.store.get_block(0)
    assert block is not None
    other = common_pb2.Block()
    other.CopyFrom(block)
    other.header.number = 5
    with pytest.raises(BlockError, match="signature"):
        verify_block(other, None, SETUP.orderer_cas, NOW)
    other.CopyFrom(block)
    other.data.data[0] = other.data.data[0] + b"\x00"
    with pytest.raises(BlockError, match="data_hash"):
        verify_block(other, None, SETUP.orderer_cas, NOW)
    with pytest.raises(BlockError, match="previous_hash"):
        verify_block(block, b"\x00" * 32, SETUP.orderer_cas, NOW)
    with pytest.raises(BlockError, match="orderer signature"):
        verify_block(block, None, SETUP.cas, NOW)  # not an orderer org


# --- endorsement --------------------------------------------------------------------


def test_peer_endorses_a_proposal_with_its_read_write_set() -> None:
    net = open_network()
    proposal, signed = CLIENT.propose("kv", "transfer", "a", "b", "0")
    response = net.process_proposal(1, signed)
    assert response.response.status == 200 and response.version == 1
    endorser = verify_endorsement(response.payload, response.endorsement, SETUP.cas, NOW)
    assert endorser.msp_id == "Org2MSP"
    parsed = parse_proposal_response_payload(response.payload)
    assert parsed.proposal_hash == proposal_hash(proposal)
    assert parsed.event.event_name == "Transfer" and parsed.event.payload == b"a>b:0"
    rwset = rwset_pb2.TxReadWriteSet.FromString(parsed.results)
    assert [ns.namespace for ns in rwset.ns_rwset] == ["kv"]
    kv = kv_rwset_pb2.KVRWSet.FromString(rwset.ns_rwset[0].rwset)
    assert [(r.key, r.HasField("version")) for r in kv.reads] == [("a", False), ("b", False)]
    assert [(w.key, w.value) for w in kv.writes] == [("a", b"0"), ("b", b"0")]


def test_refused_proposals_get_status_500_and_no_endorsement() -> None:
    net = open_network()
    _, signed = CLIENT.propose("kv", "fail", "no way")
    r = net.process_proposal(0, signed)
    assert r.response.status == 500 and r.response.message == "no way"
    assert not r.HasField("endorsement") and not r.payload
    bad = proposal_pb2.SignedProposal(proposal_bytes=signed.proposal_bytes, signature=b"\x30\x00")
    assert "creator" in net.process_proposal(0, bad).response.message
    _, other = Client(SETUP.orgs[0].client, channel="otherchannel").propose("kv", "get", "a")
    assert "not found" in net.process_proposal(0, other).response.message
    _, unknown = CLIENT.propose("nosuch", "get", "a")
    assert "nosuch" in net.process_proposal(0, unknown).response.message
    for r in (net.process_proposal(0, bad), net.process_proposal(0, unknown)):
        assert r.response.status == 500 and not r.HasField("endorsement")


# --- commit -------------------------------------------------------------------------


def test_two_transfers_on_the_same_state_the_second_is_an_mvcc_conflict() -> None:
    net = open_network()
    tx0, seed = endorsed(net, "kv", "put", "alice", "10")
    net.order([seed.SerializeToString()])
    tx1, first = endorsed(net, "kv", "transfer", "alice", "bob", "3")
    tx2, second = endorsed(net, "kv", "transfer", "alice", "carol", "4")
    block = net.order([first.SerializeToString(), second.SerializeToString()])
    assert transactions_filter(block) == bytes([Code.VALID, Code.MVCC_READ_CONFLICT])
    state = net.store.state("kv")
    assert {k: v.value for k, v in state.items()} == {"alice": b"7", "bob": b"3"}
    assert state["alice"].version == Version(2, 0)
    events = net.store.events("kv", 0, 100)
    assert [(e.tx_id, e.name) for e in events] == [(tx0, "Put"), (tx1, "Transfer")]
    conflicted = net.store.find_tx(tx2)
    assert conflicted is not None and conflicted.code == Code.MVCC_READ_CONFLICT
    # endorsed on the state before block 2, committed after it: a conflict across blocks
    _, stale = endorsed(net, "kv", "get", "bob")
    _, fresh = endorsed(net, "kv", "put", "bob", "100")
    net.order([fresh.SerializeToString()])
    block = net.order([stale.SerializeToString()])
    assert transactions_filter(block) == bytes([Code.MVCC_READ_CONFLICT])


def test_endorsement_policy_failure_and_a_policy_one_org_meets() -> None:
    net = open_network()
    _, one = endorsed(net, "kv", "put", "k", "v", peers=[0])  # majority of 3 needs 2
    _, two = endorsed(net, "kv", "put", "k2", "v", peers=[0, 2])
    _, org1 = endorsed(net, "kv1", "put", "k", "v", peers=[0])  # OR('Org1MSP.peer')
    _, org2 = endorsed(net, "kv1", "put", "k2", "v", peers=[1])
    block = net.order([e.SerializeToString() for e in (one, two, org1, org2)])
    assert list(transactions_filter(block)) == [
        Code.ENDORSEMENT_POLICY_FAILURE,
        Code.VALID,
        Code.VALID,
        Code.ENDORSEMENT_POLICY_FAILURE,
    ]
    assert set(net.store.state("kv")) == {"k2"} and set(net.store.state("kv1")) == {"k"}


def test_signature_txid_duplicate_and_payload_checks() -> None:
    net = open_network()
    tx, good = endorsed(net, "kv", "put", "a", "1")
    forged = common_pb2.Envelope(payload=good.payload, signature=SETUP.orgs[1].client.sign(b"x"))
    wrong_signer = sign_envelope(
        common_pb2.Envelope(payload=good.payload), SETUP.orgs[1].client.sign
    )
    payload = common_pb2.Payload.FromString(good.payload)
    chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    chdr.tx_id = "00" * 32
    payload.header.channel_header = chdr.SerializeToString()
    bad_txid = sign_envelope(
        common_pb2.Envelope(payload=payload.SerializeToString()), CLIENT.identity.sign
    )
    block = net.order(
        [
            b"\x0a\x03abc\xff",
            forged.SerializeToString(),
            wrong_signer.SerializeToString(),
            bad_txid.SerializeToString(),
            good.SerializeToString(),
            good.SerializeToString(),
            b"",
        ]
    )
    assert list(transactions_filter(block)) == [
        Code.BAD_PAYLOAD,
        Code.BAD_CREATOR_SIGNATURE,
        Code.BAD_CREATOR_SIGNATURE,
        Code.BAD_PROPOSAL_TXID,
        Code.VALID,
        Code.DUPLICATE_TXID,
        Code.NIL_ENVELOPE,
    ]
    again = net.order([good.SerializeToString()])
    assert list(transactions_filter(again)) == [Code.DUPLICATE_TXID]
    location = net.store.find_tx(tx)
    assert location is not None and (location.block_number, location.tx_index) == (1, 4)


def test_a_tampered_response_payload_breaks_the_endorsements() -> None:
    net = open_network()
    proposal, signed = CLIENT.propose("kv", "put", "a", "1")
    responses = [net.process_proposal(p, signed) for p in (0, 1)]
    env = CLIENT.transaction(proposal, responses)
    payload = common_pb2.Payload.FromString(env.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    assert action.results.count(b"\x1a\x011") == 1  # KVWrite.value = "1"
    action.results = action.results.replace(b"\x1a\x011", b"\x1a\x019")
    prp.extension = action.SerializeToString()
    cap.action.proposal_response_payload = prp.SerializeToString()
    tx.actions[0].payload = cap.SerializeToString()
    payload.data = tx.SerializeToString()
    forged = sign_envelope(
        common_pb2.Envelope(payload=payload.SerializeToString()), CLIENT.identity.sign
    )
    block = net.order([forged.SerializeToString()])
    assert list(transactions_filter(block)) == [Code.ENDORSEMENT_POLICY_FAILURE]
    assert net.store.state("kv") == {}


def test_invoke_chaincode_joins_the_callee_namespace_and_its_policy() -> None:
    net = open_network()
    proposal, signed = CLIENT.propose("kv", "call", "kv1", "put", "x", "1")
    response = net.process_proposal(1, signed)
    parsed = parse_proposal_response_payload(response.payload)
    assert parsed.event.event_name == "Called"  # the callee's Put event is dropped
    rwset = rwset_pb2.TxReadWriteSet.FromString(parsed.results)
    assert [ns.namespace for ns in rwset.ns_rwset] == ["kv1"]
    # endorsed by Org2 and Org3: kv's majority holds, kv1's OR('Org1MSP.peer') does not
    env = CLIENT.transaction(proposal, [response, net.process_proposal(2, signed)])
    _, ok = endorsed(net, "kv", "call", "kv1", "put", "y", "2", peers=[0, 1])
    block = net.order([env.SerializeToString(), ok.SerializeToString()])
    assert list(transactions_filter(block)) == [Code.ENDORSEMENT_POLICY_FAILURE, Code.VALID]
    assert set(net.store.state("kv1")) == {"y"} and net.store.state("kv") == {}
    _, caller = CLIENT.propose("kv", "call", "kv1", "caller")
    assert net.process_proposal(0, caller).response.payload == b"kv"
    _, direct = CLIENT.propose("kv1", "caller")
    assert net.process_proposal(0, direct).response.payload == b""


# --- qscc ---------------------------------------------------------------------------


def test_qscc_answers_are_endorsed_ledger_facts() -> None:
    net = open_network()
    tx, env = endorsed(net, "kv", "put", "a", "1")
    net.order([env.SerializeToString()])

    def query(*args: str) -> proposal_response_pb2.ProposalResponse:
        _, signed = CLIENT.propose("qscc", *args)
        return net.process_proposal(2, signed)

    info_response = query("GetChainInfo", CHANNEL)
    assert info_response.response.status == 200
    verify_endorsement(info_response.payload, info_response.endorsement, SETUP.cas, NOW)
    info = ledger_pb2.BlockchainInfo.FromString(info_response.response.payload)
    assert info.height == 2 and info.currentBlockHash == net.store.block_hash(1)
    assert info.previousBlockHash == net.store.block_hash(0)
    r = query("GetBlockByNumber", CHANNEL, "1")
    block = common_pb2.Block.FromString(r.response.payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(r.payload)
    action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    assert action.response.payload == r.response.payload and not action.events
    assert action.chaincode_id.name == "qscc"
    verify_block(block, net.store.block_hash(0), SETUP.orderer_cas, NOW)
    assert transactions_filter(block) == bytes([Code.VALID])
    by_tx = common_pb2.Block.FromString(query("GetBlockByTxID", CHANNEL, tx).response.payload)
    assert by_tx == block
    processed = transaction_pb2.ProcessedTransaction.FromString(
        query("GetTransactionByID", CHANNEL, tx).response.payload
    )
    assert processed.validationCode == Code.VALID
    assert processed.transactionEnvelope.SerializeToString() == block.data.data[0]
    assert query("GetBlockByNumber", CHANNEL, "7").response.status == 500
    assert query("GetBlockByNumber", "otherchannel", "0").response.status == 500
    assert query("NoSuchFunction", CHANNEL).response.status == 500


def test_cutter_cuts_by_count_and_by_timeout() -> None:
    cutter = BlockCutter(max_message_count=3, batch_timeout=2.0)
    assert cutter.ordered(b"a", 10.0) == [] and cutter.deadline() == 12.0
    assert cutter.ordered(b"b", 11.0) == []
    assert cutter.cut_if_due(11.9) is None
    assert cutter.cut_if_due(12.0) == [b"a", b"b"] and cutter.deadline() is None
    assert cutter.ordered(b"c", 20.0) == [] and cutter.ordered(b"d", 20.5) == []
    assert cutter.ordered(b"e", 21.0) == [[b"c", b"d", b"e"]]
    assert cutter.cut_if_due(100.0) is None


def test_data_hash_is_the_hash_of_the_envelopes() -> None:
    assert block_data_hash([b"ab", b"c"]) == hashlib.sha256(b"abc").digest()
