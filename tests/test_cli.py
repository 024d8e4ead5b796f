"""The ``relayhub`` CLI, run in-process through ``main([...])``: relay directories,
key files, ``--json`` output of every read command against a live relay, error exit
codes, and ``relay start`` as a real process stopped by SIGTERM, then verified."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from relayfix import DEADLINE, HUB, World, node_config, notary_registry, serve_in_thread

from relay import cli
from relay.cli import load_relay_config, main
from relay.config import parse_duration
from relay.crypto import read_key_file, write_key_file
from relay.errors import RelayError
from relay.genesis import Genesis
from relay.ibtp import TxStatus
from relay.sdk import RelayClient

REPO = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str, **kw: Any) -> tuple[int, str, str]:
    code = main(list(argv), **kw)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- relay init / keys ---------------------------------------------------------------


def test_init_creates_genesis_keys_and_config(tmp_path: Path, capsys: Any) -> None:
    d = tmp_path / "relay"
    info = run_json(capsys, "relay", "init", "--dir", str(d), "--hub-id", "hubX",
                    "--default-timeout-blocks", "50")  # fmt: skip
    assert mode(d / "keys" / "node.key") == 0o600
    assert mode(d / "keys" / "admin.key") == 0o600
    genesis = Genesis.load(d / "genesis.json")
    assert genesis.hub_id == "hubX" and genesis.default_timeout_blocks == 50
    assert genesis.admins == (info["admin"],) and genesis.validators == (info["validator"],)
    assert genesis.validator_threshold == 1
    assert read_key_file(d / "keys" / "node.key").address == info["validator"]
    assert read_key_file(d / "keys" / "admin.key").address == info["admin"]
    cfg = load_relay_config(d)
    assert (cfg.host, cfg.port, cfg.durability) == ("127.0.0.1", 8710, "normal")
    assert (cfg.batch_time, cfg.idle_block_interval, cfg.max_block_txs) == (0.03, 1.0, 1000)
    assert cfg.data_dir == d / "data" and cfg.key == d / "keys" / "node.key"


def test_init_refuses_an_existing_dir_without_force(tmp_path: Path, capsys: Any) -> None:
    d = tmp_path / "relay"
    first = run_json(capsys, "relay", "init", "--dir", str(d))
    (d / "data").mkdir()
    (d / "data" / "ledger.sqlite3").write_bytes(b"old")
    code, out, err = run(capsys, "relay", "init", "--dir", str(d))
    assert code == 2 and out == ""
    assert err.startswith("error [6006]: ") and "--force" in err
    assert read_key_file(d / "keys" / "admin.key").address == first["admin"]
    second = run_json(capsys, "relay", "init", "--dir", str(d), "--force")
    assert second["admin"] != first["admin"]
    assert not (d / "data").exists()  # the old ledger belonged to the old genesis


def test_init_refuses_a_bad_hub_id(tmp_path: Path, capsys: Any) -> None:
    code, _, err = run(capsys, "relay", "init", "--dir", str(tmp_path / "r"), "--hub-id", "a:b")
    assert code == 2 and err.startswith("error [6006]: genesis hub_id")


def test_keys_new_writes_a_private_key_file(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "k" / "gw.key"
    info = run_json(capsys, "keys", "new", "--out", str(path))
    assert mode(path) == 0o600
    assert read_key_file(path).address == info["address"]
    code, _, err = run(capsys, "keys", "new", "--out", str(path))
    assert code == 2 and err.startswith("error [6006]: ") and "exists" in err
    assert (
        run_json(capsys, "keys", "new", "--out", str(path), "--force")["address"] != info["address"]
    )


def test_relay_toml_is_checked(tmp_path: Path, capsys: Any) -> None:
    run_json(capsys, "relay", "init", "--dir", str(tmp_path))
    toml = tmp_path / "relay.toml"
    toml.write_text(toml.read_text().replace('batch_time = "30ms"', 'batch_time = "soon"'))
    with pytest.raises(RelayError, match="batch_time"):
        load_relay_config(tmp_path)
    toml.write_text("[relay]\nportt = 1\n")
    with pytest.raises(RelayError, match=r"relay\.portt: unknown key"):
        load_relay_config(tmp_path)
    code, _, err = run(capsys, "relay", "start", "--dir", str(tmp_path / "nope"))
    assert code == 2 and "relayhub relay init" in err


@pytest.mark.parametrize(
    ("text", "seconds"), [("30ms", 0.03), ("1s", 1.0), ("1.5s", 1.5), ("2m", 120.0)]
)
def test_parse_duration(text: Any, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("value", [30, 0.5, "30", "-1s", "nans", True])
def test_parse_duration_wants_a_value_with_a_unit(value: Any) -> None:
    # "0ms" is a duration; keys that must be positive say so themselves (test_config).
    with pytest.raises(RelayError, match=r"\] x"):
        parse_duration(value, "x")


def test_a_key_file_others_can_read_is_refused(tmp_path: Path, capsys: Any) -> None:
    key = tmp_path / "gw.key"
    run_json(capsys, "keys", "new", "--out", str(key))
    key.chmod(0o644)
    code, _, err = run(capsys, "appchain", "approve", "--key", str(key), "--id", "A",
                       "--relay", "http://127.0.0.1:1")  # fmt: skip
    assert code == 2 and err.startswith("error [6006]: ") and "chmod 600" in err


# --- errors --------------------------------------------------------------------------


def test_an_unreachable_relay_exits_2(capsys: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run(capsys, "appchain", "list", "--relay", f"http://127.0.0.1:{port}")
    assert (code, out) == (2, "")
    assert err.startswith("error [7001]: GET ") and "relayhub relay start" in err


def test_a_refusal_exits_2_with_its_code(capsys: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"code": 3001, "message": "chain 'X' is not registered", "details": {}}
        )

    code, out, err = run(
        capsys, "appchain", "show", "X", "--relay", "http://relay.test",
        transport=httpx.MockTransport(handler),
    )  # fmt: skip
    assert (code, out, err) == (2, "", "error [3001]: chain 'X' is not registered\n")


def test_bad_arguments(tmp_path: Path, capsys: Any) -> None:
    key = tmp_path / "gw.key"
    run_json(capsys, "keys", "new", "--out", str(key))
    base = ["appchain", "register", "--key", str(key), "--id", "A", "--family", "notary",
            "--broker", "0xb", "--relay", "http://127.0.0.1:1"]  # fmt: skip
    code, _, err = run(capsys, *base, "--trust-root", "{not json")
    assert code == 2 and err.startswith("error [1009]: --trust-root is not valid JSON")
    code, _, err = run(capsys, *base, "--trust-root", f"@{tmp_path / 'missing.json'}")
    assert code == 2 and err.startswith("error [1009]: --trust-root: cannot read")
    code, _, err = run(capsys, "appchain", "approve", "--key", str(tmp_path / "no.key"),
                       "--id", "A")  # fmt: skip
    assert code == 2 and "relayhub keys new" in err
    code, _, err = run(capsys, "block", "show", "tip", "--relay", "http://127.0.0.1:1")
    assert code == 2 and err.startswith("error [1009]: block reference 'tip'")
    with pytest.raises(SystemExit) as info:
        main(["appchain", "register", "--id", "A"])  # argparse: missing options
    assert info.value.code == 2
    assert main([]) == 2


def test_plugin_commands_get_their_own_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    class FakeEntryPoint:
        name = "demo"

        def load(self) -> Any:
            def demo_main(argv: list[str]) -> int:
                seen.append(argv)
                return 0

            return demo_main

    monkeypatch.setattr(cli, "plugin_commands", lambda: {"demo": FakeEntryPoint()})
    assert main(["demo"]) == 0
    assert main(["demo", "--quick", "x"]) == 0
    assert seen == [[], ["--quick", "x"]]


def test_installed_plugins_are_the_demo_topology_and_gateway() -> None:
    names = set(cli.plugin_commands())
    assert {"demo", "up", "gateway"} <= names


# --- read and write commands against a live relay ------------------------------------


def test_commands_against_a_live_relay(tmp_path: Path, capsys: Any) -> None:
    world = World()
    a, b = world.chains["A"], world.chains["B"]
    keys = {}
    for name, acct in (("a", a.gateway.account), ("b", b.gateway.account),
                       ("admin", world.admin.account)):  # fmt: skip
        keys[name] = str(tmp_path / f"{name}.key")
        write_key_file(Path(keys[name]), acct)
    (tmp_path / "root-b.json").write_text(json.dumps(b.trust_root()))
    with serve_in_thread(node_config(tmp_path / "data", world), notary_registry()) as srv:
        relay = ["--relay", srv.url]
        reg = run_json(capsys, "appchain", "register", *relay, "--key", keys["a"], "--id", "A",
                       "--family", "notary", "--trust-root", json.dumps(a.trust_root()),
                       "--broker", a.broker, "--name", "chain A", "--desc", "first")  # fmt: skip
        assert reg["results"] == ["A", "PENDING"] and reg["height"] >= 1
        run_json(capsys, "appchain", "register", *relay, "--key", keys["b"], "--id", "B",
                 "--family", "notary", "--trust-root", f"@{tmp_path / 'root-b.json'}",
                 "--broker", b.broker, "--gateway", b.gateway.address)  # fmt: skip
        code, _, err = run(capsys, "appchain", "approve", *relay, "--key", keys["a"], "--id", "A")
        assert code == 2 and err.startswith("error [2005]: ")
        ok = run_json(capsys, "appchain", "approve", *relay, "--key", keys["admin"], "--id", "A")
        assert ok["results"] == ["A", "ACTIVE"]
        assert run_json(capsys, "appchain", "approve", *relay, "--key", keys["admin"],
                        "--id", "B")["results"] == ["B", "ACTIVE"]  # fmt: skip
        svc = run_json(capsys, "service", "register", *relay, "--key", keys["b"],
                       "--chain", "B", "--service", "svc",
                       "--allow", f"{HUB}:A:svc")  # fmt: skip
        assert svc["results"] == [f"{HUB}:B:svc", "ACTIVE"]

        chains = run_json(capsys, "appchain", "list", *relay)
        assert [(c["id"], c["status"]) for c in chains] == [("A", "ACTIVE"), ("B", "ACTIVE")]
        shown = run_json(capsys, "appchain", "show", "A", *relay)
        assert (shown["name"], shown["desc"], shown["family"]) == ("chain A", "first", "notary")
        assert shown["history"] == [["PENDING", 1], ["ACTIVE", 3]]
        service = run_json(capsys, "service", "show", f"{HUB}:B:svc", *relay)
        assert service["allow"] == [f"{HUB}:A:svc"] and "ordered" not in service

        # an interchain round trip through the SDK, then the CLI reads it
        req = world.interchain("A", "B")
        with RelayClient(srv.url, a.gateway.account) as ca:
            ca.submit_ibtps([req], wait_commit=True)
        code, _, err = run(capsys, "tx", "status", req.id, "--wait", "0.2", *relay)
        assert code == 2 and err.startswith("error [7002]: ") and "BEGIN" in err
        with RelayClient(srv.url, b.gateway.account) as cb:
            cb.submit_ibtps([world.receipt(req)])
        st = run_json(capsys, "tx", "status", req.id, "--wait", "10", *relay)
        assert (st["status"], st["status_name"], st["final"]) == (1, "SUCCESS", True)
        assert [TxStatus(s).name for s, _ in st["history"]] == ["BEGIN", "SUCCESS"]
        with RelayClient(srv.url) as plain:  # --json is the API's record
            api = plain._run(plain._get(f"/v1/ibtps/{req.id}"))
        assert {k: st[k] for k in api} == cli.to_jsonable(api)
        assert st["hash"].startswith("0x") and len(st["hash"]) == 66

        latest = run_json(capsys, "block", "show", "latest", "--txs", *relay)
        assert latest["txs"][0]["kind"] == "ibtp"
        assert latest["hash"].startswith("0x") and latest["signatures"][0].startswith("0x")
        assert run_json(capsys, "block", "show", "1", *relay)["height"] == 1
        code, _, err = run(capsys, "block", "show", "999", *relay)
        assert code == 2 and err.startswith("error [6002]: ")
        status = run_json(capsys, "relay", "status", *relay)
        assert status["hub_id"] == HUB and status["height"] == latest["height"]

        # the tables for people render too
        for argv in (["appchain", "list"], ["appchain", "show", "A"], ["tx", "status", req.id],
                     ["block", "show", "latest", "--txs"], ["relay", "status"],
                     ["service", "show", f"{HUB}:B:svc"]):  # fmt: skip
            code, out, err = run(capsys, *argv, *relay)
            assert code == 0 and err == "" and out.strip()
        code, out, _ = run(capsys, "tx", "status", req.id, *relay)
        assert "SUCCESS" in out and "history" in out


# --- relay start as a process, relay verify --------------------------------------------


async def test_relay_start_serves_until_sigterm_then_verifies(tmp_path: Path) -> None:
    d = tmp_path / "relay"
    assert main(["relay", "init", "--dir", str(d), "--json"]) == 0
    with trio.fail_after(DEADLINE):
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "relay.cli", "relay", "start", "--dir", str(d), "--port", "0"],
            stdout=-1,
            cwd=REPO,
        )
        try:
            assert proc.stdout is not None
            seen = b""
            while b"serving http://" not in seen or not seen.endswith(b"\n"):
                chunk = await proc.stdout.receive_some()
                assert chunk, f"relay exited early: {seen!r}"
                seen += chunk
            url = seen.decode().split("serving ")[1].split()[0]
            admin = str(d / "keys" / "admin.key")
            root = json.dumps({"keys": [read_key_file(Path(admin)).address], "threshold": 1})
            argv = ["appchain", "register", "--relay", url, "--key", admin, "--id", "A",
                    "--family", "notary", "--trust-root", root, "--broker", "0xb"]  # fmt: skip
            assert await trio.to_thread.run_sync(main, argv) == 0
            argv = ["appchain", "approve", "--relay", url, "--key", admin, "--id", "A"]
            assert await trio.to_thread.run_sync(main, argv) == 0
            proc.send_signal(signal.SIGTERM)
            assert await proc.wait() == 0
            rest = b""
            while chunk := await proc.stdout.receive_some():
                rest += chunk
            assert b"SIGTERM, stopping" in rest and b"stopped" in rest
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    code, out = await trio.to_thread.run_sync(_verify, d)
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True and report["blocks"] >= 2 and report["first_error"] is None

    # a tampered block is found: exit 1
    with sqlite3.connect(d / "data" / "ledger.sqlite3") as db:
        db.execute("UPDATE blocks SET signatures = ? WHERE height = 1", (b"\x90",))
    code, out = await trio.to_thread.run_sync(_verify, d)
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False and report["first_error"]["height"] == 1


def _verify(d: Path) -> tuple[int, str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["relay", "verify", "--dir", str(d), "--json", "--replay"])
    return code, buf.getvalue()


def test_verify_needs_a_ledger(tmp_path: Path, capsys: Any) -> None:
    run_json(capsys, "relay", "init", "--dir", str(tmp_path))
    code, _, err = run(capsys, "relay", "verify", "--dir", str(tmp_path))
    assert code == 2 and err.startswith("error [6006]: no ledger")


def test_tx_status_table_shows_history(capsys: Any) -> None:
    ibtp_id = f"{HUB}:A:svc~{HUB}:B:svc~1"
    record = {"id": ibtp_id, "status": 2, "status_name": "FAILURE", "final": True,
              "hash": "0x" + "33" * 32, "timeout": 9, "history": [[0, 3], [2, 5]]}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=record)

    mock = httpx.MockTransport(handler)
    code, out, _ = run(capsys, "tx", "status", ibtp_id, "--relay", "http://r.test", transport=mock)
    assert code == 0 and "FAILURE" in out and "BEGIN" in out
    doc = run_json_mock(capsys, mock, "tx", "status", ibtp_id, "--relay", "http://r.test")
    assert doc["status"] == int(TxStatus.FAILURE) and doc["hash"] == record["hash"]
    assert {k: doc[k] for k in record} == record  # --json is the API's record
    assert "history" in out and "status_name" in out  # the table spells the history out


def run_json_mock(capsys: Any, transport: httpx.MockTransport, *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json", transport=transport)
    assert code == 0, err
    return json.loads(out)


# --- output for people and for pipes ------------------------------------------------------


def test_version_and_option_defaults(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("relayhub 0.")
    with pytest.raises(SystemExit):
        main(["relay", "init", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: hub0)" in text and "(default: 200)" in text


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["gateway", "--help"], ["start", "parked", "retry", "gateway.toml"]),
        (["gateway", "start", "--help"], ["--config", "--verbose"]),
        (["devchain", "start", "--help"], ["--relay-dir", "--keys-dir", "--config"]),
        (["appchain", "trust-root", "--help"], ["--rpc", "--mode", "(default: seal)"]),
    ],
)
def test_plugin_and_new_commands_have_real_help(argv: list[str], words: list[str]) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "relayhub"), *argv], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for word in words:
        assert word in text, (word, text)


def test_plain_output_keeps_hex_whole_and_reads_values(capsys: Any) -> None:
    long_hex = "0x" + "ab" * 100
    cli.Output(False, plain=True).record(
        "one record",
        {
            "tx": "cd" * 32,  # the API spells transaction hashes without 0x
            "proof": long_hex,
            "results": ["0x" + b"hello".hex(), "0x00ff"],
            "timestamp_ms": 1764601200123,
        },
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "one record"
    assert any(line.split() == ["tx", "0x" + "cd" * 32] for line in lines)
    assert any(line.split() == ["proof", long_hex] for line in lines)  # one line, whole
    assert "0x68656c6c6f ('hello'), 0x00ff" in out  # decoded only when printable
    assert "1764601200123 (2025-12-01 15:00:00.123 UTC)" in out
    cli.Output(False, plain=True).rows("rows", [{"hash": "ef" * 32, "n": 1}], ["hash", "n"])
    assert capsys.readouterr().out.splitlines() == ["rows", "hash\tn", f"0x{'ef' * 32}\t1"]


def test_write_commands_print_the_hash_with_0x() -> None:
    result = type("R", (), {"tx": "12" * 32, "height": 4, "results": []})()
    assert cli._tx_summary(result)["tx"] == "0x" + "12" * 32
