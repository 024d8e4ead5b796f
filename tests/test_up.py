"""``relayhub up`` is a development environment a new user can act in: one JSON document
on stdout (prose on stderr) with keys and the relay directory, the documented port
option, a resumable ``--dir``, and a clean Ctrl-C (also for ``relayhub demo``)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from eth_abi import encode
from eth_account import Account as EthAccount
from upfix import RELAYHUB, UpProcess, relayhub

from adapters.evm.client import EvmCaller
from adapters.fabric.client import ClientIdentity, account_address
from relay.sdk import InterchainFailed, InterchainRolledBack, RelayClient

pytestmark = pytest.mark.slow


def _greet(env: dict, key: object) -> tuple[str, bytes]:
    a, b = env["chains"]["chainA"], env["chains"]["chainB"]
    caller = EvmCaller(a["rpc"], key, a["broker"], hub_id=env["hub"], chain_id="chainA")
    with RelayClient(env["relay"]) as relay:
        got = relay.call(
            caller.service_id,
            b["data_swap"],
            "get",
            [encode(["string"], [env["greeting_key"]])],
            via=caller,
            timeout=60,
        )
    return got.ibtp_id, got.result


def _rpc(url: str, method: str, *params: object) -> object:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    return answer.json()["result"]


def test_up_is_a_dev_environment_that_resumes(tmp_path: Path) -> None:
    d = tmp_path / "dev"
    up = UpProcess(d)
    try:
        env = up.start()
        # stdout is exactly the document; the same document is in DIR/up.json.
        assert json.loads(up.stdout) == env == json.loads((d / "up.json").read_text())
        assert env["relay"] == f"http://127.0.0.1:{up.port}" and env["hub"] == "hub0"
        assert "Ctrl-C" in up.stderr
        assert {c["family"] for c in env["chains"].values()} == {"evm", "fabric", "fisco"}
        for chain in env["chains"].values():
            assert len(chain["accounts"]) >= 3
            for acct in chain["accounts"]:
                if chain["family"] in ("evm", "fisco"):  # secp256k1: an Ethereum address
                    signer = EthAccount.from_key(acct["private_key"]).address.lower()
                else:  # a Fabric client identity: its account is derived from it
                    signer = account_address(
                        ClientIdentity.from_pem(
                            acct["msp_id"], acct["cert"].encode(), acct["key"].encode()
                        )
                    )
                assert signer == acct["address"]
        # A web3 user's LocalAccount from the printed key acts through the SDK.
        key = EthAccount.from_key(env["chains"]["chainA"]["accounts"][2]["private_key"])
        first_id, value = _greet(env, key)
        assert value == b"hello from chainB" and first_id.endswith("~1")
        # The gateways delivered on chainB from their own account: every printed account
        # but the services' owner (account 0) is unused there.
        b = env["chains"]["chainB"]
        for acct in b["accounts"][1:]:
            assert _rpc(b["rpc"], "eth_getTransactionCount", acct["address"], "latest") == "0x0"
        # A user account may not mint through chainB's AssetTransfer: the relay's allow
        # list keeps it to its counterparts; nothing is minted.
        a = env["chains"]["chainA"]
        caller = EvmCaller(a["rpc"], key, a["broker"], "hub0", "chainA")
        mint = [encode(["address", "uint256"], [key.address, 5])]
        refused = pytest.raises((InterchainFailed, InterchainRolledBack))
        with RelayClient(env["relay"]) as relay, refused:
            relay.call(caller.service_id, b["asset_transfer"], "mint", mint, via=caller)
        # The relay directory is real: verify reads it, the admin key approves chains.
        rdir = Path(env["relay_dir"])
        assert (rdir / "genesis.json").exists() and Path(
            env["admin_key"]
        ) == rdir / "keys/admin.key"
        verify = relayhub("relay", "verify", "--dir", str(rdir), "--json")
        assert verify.returncode == 0 and json.loads(verify.stdout)["ok"], verify.stderr
        gw_key = tmp_path / "gw.key"
        made = relayhub("keys", "new", "--out", str(gw_key), "--json")
        gw = json.loads(made.stdout)["address"]
        trust = json.dumps({"keys": [gw], "threshold": 1})
        url = ["--relay", env["relay"]]
        reg = relayhub(
            "appchain",
            "register",
            *url,
            "--key",
            str(gw_key),
            "--id",
            "chainX",
            "--family",
            "notary",
            "--trust-root",
            trust,
            "--broker",
            "bx",
        )
        assert reg.returncode == 0, reg.stderr
        ok = relayhub("appchain", "approve", *url, "--key", env["admin_key"], "--id", "chainX")
        assert ok.returncode == 0, ok.stderr
        shown = relayhub("appchain", "show", "chainX", *url, "--json")
        assert json.loads(shown.stdout)["status"] == "ACTIVE"
    finally:
        code = up.interrupt()
    assert code == 0, up.stderr
    assert "Traceback" not in up.stderr and up.stderr.strip().endswith("stopped"), up.stderr
    assert relayhub("relay", "verify", "--dir", str(d / "relay"), "--replay").returncode == 0

    # Started again on the same directory: resumed, same hub and keys, calls go on.
    again = UpProcess(d)
    try:
        env2 = again.start()
        assert (
            env2["admin"] == env["admin"]
            and env2["chains"]["chainA"]["accounts"] == env["chains"]["chainA"]["accounts"]
        )
        second_id, value = _greet(env2, env2["chains"]["chainA"]["accounts"][2]["private_key"])
        assert value == b"hello from chainB" and second_id.endswith("~2")
    finally:
        code = again.interrupt()
    assert code == 0 and "Traceback" not in again.stderr, again.stderr


def test_up_refuses_a_dir_of_another_hub_in_one_line(tmp_path: Path) -> None:
    assert (
        relayhub("relay", "init", "--dir", str(tmp_path / "relay"), "--hub-id", "hubZ").returncode
        == 0
    )
    got = relayhub("up", "--dir", str(tmp_path), "--port", "0")
    assert got.returncode == 2 and got.stdout == ""
    errors = [ln for ln in got.stderr.splitlines() if ln.startswith("error [")]
    assert len(errors) == 1 and errors[0].startswith("error [6006]: ") and "hubZ" in errors[0]
    assert got.stderr.strip().endswith(errors[0]) and "Traceback" not in got.stderr


def test_up_documents_port_8710_by_default() -> None:
    got = relayhub("up", "--help")
    assert got.returncode == 0 and "--port" in got.stdout and "8710" in got.stdout


def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*RELAYHUB, "demo", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline and "1. asset transfer" not in seen:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    assert "1. asset transfer" in seen, seen
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
