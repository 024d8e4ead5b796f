"""``python -m appchains.fabric`` as a real process, and the harness hook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import transaction_pb2

from adapters.fabric.derive import derive_trust_root
from adapters.fabric.proposal import build_proposal
from adapters.fabric.trust_root import parse_trust_root
from adapters.fabric.verifier import FabricVerifier
from appchains.fabric.ca import SigningIdentity
from appchains.fabric.config import ConfigError, FabricConfig, config_from_mapping
from appchains.fabric.harness import FabricDevchains
from appchains.fabric.transaction import sign_envelope, sign_proposal

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
Code = transaction_pb2.TxValidationCode


def client_from_material(network_file: Path) -> tuple[dict, SigningIdentity]:  # type: ignore[type-arg]
    info = json.loads(network_file.read_text())
    root = network_file.parent.parent
    org = info["orgs"][0]
    cert = x509.load_pem_x509_certificate((root / org["client"]["cert"]).read_bytes())
    key = serialization.load_pem_private_key((root / org["client"]["key"]).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return info, SigningIdentity(org["msp_id"], key, cert)


def put_through_gateway(endpoint: str, channel: str, client: SigningIdentity) -> tuple[int, int]:
    proposal = build_proposal(
        channel, [b"put", b"k", b"v"], client.serialized, os.urandom(24), int(time.time()), "kv"
    )
    signed = sign_proposal(proposal, client.sign)
    header = common_pb2.Header.FromString(proposal.header)
    tx_id = common_pb2.ChannelHeader.FromString(header.channel_header).tx_id
    with grpc.insecure_channel(endpoint) as ch:
        gw = gateway_pb2_grpc.GatewayStub(ch)
        prepared = gw.Endorse(
            gateway_pb2.EndorseRequest(channel_id=channel, proposed_transaction=signed), timeout=20
        ).prepared_transaction
        gw.Submit(
            gateway_pb2.SubmitRequest(
                channel_id=channel, prepared_transaction=sign_envelope(prepared, client.sign)
            ),
            timeout=20,
        )
        request = gateway_pb2.CommitStatusRequest(
            transaction_id=tx_id, channel_id=channel, identity=client.serialized
        ).SerializeToString()
        status = gw.CommitStatus(
            gateway_pb2.SignedCommitStatusRequest(request=request, signature=client.sign(request)),
            timeout=20,
        )
    return status.result, status.block_number


@pytest.mark.timeout(120)
def test_the_process_serves_writes_material_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "chain.toml").write_text(
        '[fabric]\norgs = 3\nseed = "proc"\nbatch_timeout = "100ms"\n'
        'chaincodes = ["kvcc:definitions"]\n'
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)])}
    cmd = [sys.executable, "-m", "appchains.fabric", "--config", str(tmp_path / "chain.toml")]
    cmd += ["--data-dir", str(tmp_path / "data"), "--batch-size", "5"]
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else ""
        info = json.loads(line)
        assert info["orgs"] == ["Org1MSP", "Org2MSP", "Org3MSP"] and len(info["peers"]) == 3
        assert info["chaincodes"] == ["kv", "kv1"] and info["height"] == 1
        network, client = client_from_material(Path(info["network"]))
        assert network["channel"] == "mychannel"
        assert [o["peer"]["endpoint"] for o in network["orgs"]] == info["peers"]
        assert {c["name"]: c["policy"] for c in network["chaincodes"]}["kv1"] == (
            "AND('Org1MSP.peer')"  # the canonical spelling of OR of one
        )
        key_file = tmp_path / "data" / network["orgs"][0]["client"]["key"]
        assert key_file.stat().st_mode & 0o077 == 0
        code, block = put_through_gateway(info["peers"][1], "mychannel", client)
        assert (code, block) == (Code.VALID, 1)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()


def test_config_refusals() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        config_from_mapping({"nope": 1})
    with pytest.raises(ConfigError, match="ports"):
        config_from_mapping({"ports": "1,2,3"}).check()
    with pytest.raises(ConfigError, match="loopback"):
        FabricConfig(host="0.0.0.0").check()
    with pytest.raises(ConfigError, match="duration"):
        config_from_mapping({"batch_timeout": "soon"})
    assert config_from_mapping({"batch_timeout": "250ms"}).batch_timeout == 0.25
    assert config_from_mapping({"ports": "7051,8051"}).check().ports == (7051, 8051)


@pytest.mark.timeout(120)
async def test_harness_hook_runs_a_chain_and_reports_it(tmp_path: Path) -> None:
    hook = FabricDevchains(chaincodes=["kvcc:definitions"])
    with trio.fail_after(60):
        async with hook.open_dev_chain(
            name="chainF",
            index=1,
            seed="topo",
            hub_id="hub0",
            relay_validators=["0x" + "11" * 20],
            relay_threshold=1,
            block_interval=0.1,
            data_dir=tmp_path / "chainF",
        ) as dev:
            assert dev.rpc_url.startswith("grpc://127.0.0.1:")
            assert dev.registration["family"] == "fabric"
            root = dev.registration["trust_root"]
            assert sorted(root["orgs"]) == ["OrdererMSP", "Org1MSP", "Org2MSP"]
            assert root["endorsement_policy"] == "AND('Org1MSP.peer', 'Org2MSP.peer')"
            # The relay's registration hook takes it as it is.
            reg = FabricVerifier().check_registration(root, dev.registration["broker"])
            assert reg.broker == "broker"
            # The trust-root material the chain wrote gives the same trust root.
            crypto = tmp_path / "chainF" / "crypto"
            assert derive_trust_root(str(crypto)) == parse_trust_root(root).to_dict()
            config = dev.adapter_config
            assert config["type"] == "fabric" and config["id"] == "chainF"
            assert Path(config["cert"]).is_file() and Path(config["key"]).is_file()
            assert config["gateway"] == dev.rpc_url.removeprefix("grpc://")
            assert [p.partition("@")[0] for p in config["peers"]] == ["Org1MSP", "Org2MSP"]
            assert dev.services == {} and len(dev.user_keys) == 6
            _, client = client_from_material(crypto / "network.json")
            endpoint = config["gateway"]
            code, _ = await trio.to_thread.run_sync(
                put_through_gateway, endpoint, config["channel"], client
            )
            assert code == Code.VALID
