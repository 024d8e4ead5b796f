"""Hyperledger's official Node client, ``@hyperledger/fabric-gateway`` (pinned in
package-lock.json), against the Fabric dev chain run as its own process
(``python -m appchains.fabric``): it evaluates, submits and waits for commit status,
reads chaincode events, and gets the chaincode's refusal in Fabric's error details —
the dev chain speaks Fabric's Gateway protocol as a real peer does.

The tier needs node and the npm packages (``npm ci``; ``make test`` runs it): without
them it is skipped, and under ``CI=true`` it fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.fabric.proposal import INTERCHAIN_EVENT, InterchainEvent, decode_event

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("node") / "gateway_client.cjs"
GATEWAY_PACKAGE = REPO / "node_modules" / "@hyperledger" / "fabric-gateway" / "package.json"
RELAY_VALIDATOR = "0x" + "11" * 20
OTHER = "hub0:chainB:0x" + "bb" * 20

pytestmark = pytest.mark.timeout(180)


def require_node_client() -> None:
    if shutil.which("node") and GATEWAY_PACKAGE.exists():
        return
    message = (
        "node or @hyperledger/fabric-gateway is missing: run `npm ci` (`make test` does "
        "it through the node_modules/.installed stamp)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " — the real Fabric client tier must run in CI")
    pytest.skip(message)


def account(msp_id: str, cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return "0x" + hashlib.sha256(msp_id.encode() + b"\x00" + der).digest()[12:].hex()


def run_plan(plan: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    path.write_text(json.dumps(plan))
    out = subprocess.run(
        ["node", str(SCRIPT), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_official_node_client_drives_the_dev_chain(tmp_path: Path) -> None:
    require_node_client()
    cmd = [sys.executable, "-m", "appchains.fabric", "--data-dir", str(tmp_path / "chain")]
    cmd += ["--seed", "node-client", "--batch-timeout", "50ms"]
    cmd += ["--relay-validators", RELAY_VALIDATOR, "--chain-name", "chainF"]
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else ""
        info = json.loads(line)
        assert info["chaincodes"] == ["asset", "broker", "dataswap"]
        network = json.loads(Path(info["network"]).read_text())
        org = network["orgs"][0]
        base = tmp_path / "chain"
        cert = base / org["client"]["cert"]
        me = account(org["msp_id"], cert.read_bytes())
        plan = {
            "endpoint": info["peers"][0],
            "mspId": org["msp_id"],
            "certPath": str(cert),
            "keyPath": str(base / org["client"]["key"]),
            "channel": network["channel"],
            "steps": [
                # a query: what the asset chaincode holds for this client at genesis
                {"op": "evaluate", "chaincode": "asset", "fn": "balanceOf", "args": [me]},
                # a transaction through the broker, to a service: endorse, submit, commit
                {
                    "op": "submit",
                    "chaincode": "broker",
                    "fn": "invokeService",
                    "args": ["dataswap", "set", "colour", "teal"],
                },
                {"op": "evaluate", "chaincode": "dataswap", "fn": "valueOf", "args": ["colour"]},
                # an interchain call in the client's own name: one InterchainEvent
                {
                    "op": "submit",
                    "chaincode": "broker",
                    "fn": "emitInterchain",
                    "args": [OTHER, "ping", '["00ff"]', "7"],
                },
                # a chaincode that says no: Fabric's error details carry its message
                {
                    "op": "submit",
                    "chaincode": "broker",
                    "fn": "invokeService",
                    "args": ["asset", "transfer", OTHER, me, "5", "0"],
                },
                {"op": "events", "chaincode": "broker", "startBlock": 0, "count": 1},
            ],
        }
        results = run_plan(plan, tmp_path / "plan.json")
        balance, stored, read, emitted, refused, events = results
        assert "events" in events, events

        assert bytes.fromhex(balance["result"]) == b"1000000000", balance
        assert stored["code"] == 0 and stored["successful"] is True, stored
        assert stored["blockNumber"] >= 1
        assert json.loads(bytes.fromhex(read["result"])) == {
            "known": True,
            "value": b"teal".hex(),
        }
        assert emitted["successful"] is True and bytes.fromhex(emitted["result"]) == b"1"
        assert emitted["blockNumber"] > stored["blockNumber"]
        assert "error" in refused and refused.get("code") is not None, refused
        assert any(
            "asset: destination is not a counterpart" in d["message"]
            for d in refused.get("details", [])
        ), refused

        # The broker's events, as the client read them: dataswap's set emits nothing
        # through the broker, so the first broker event is the interchain request.
        got = events["events"]
        assert got and got[0]["transactionId"] == emitted["transactionId"]
        assert got[0]["blockNumber"] == emitted["blockNumber"]
        assert got[0]["eventName"] == INTERCHAIN_EVENT
        event = decode_event(INTERCHAIN_EVENT, got[0]["payload"].encode())
        assert isinstance(event, InterchainEvent)
        assert (event.from_, event.to, event.index, event.func, event.args, event.timeout) == (
            f"hub0:chainF:{me}",
            OTHER,
            1,
            "ping",
            (b"\x00\xff",),
            7,
        )
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()
