"""The one config layer (relay/config.py): typed schemas for the relay's, the gateway's
and the dev chain's files; durations with a unit; errors naming file, dotted key and
expected form; unknown keys refused; defaults in the schema only; ``relayhub config
check``; and docs/operations.md's key tables generated from the schemas."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from adapters.gateway.config import GatewayConfig, GatewaySection
from appchains.evm.devchain.config import DevchainConfig
from benchmarks.harness.devchain_config import load_devchain_config
from relay import cli
from relay.config import (
    DOCS_BEGIN,
    DOCS_END,
    RELAY_DEFAULTS,
    ConfigError,
    RelaySection,
    config_docs,
    format_duration,
    load_relay_file,
    parse_duration,
)
from relay.crypto import Account
from relay.genesis import Genesis
from relay.node import NodeConfig

REPO = Path(__file__).resolve().parents[1]
BROKER = "0x0000000000000000000000000000000000001000"
GATEWAY = f"""\
[gateway]
relay = "http://127.0.0.1:8710"
key = "gw.key"
data_dir = "state"
poll_interval = "50ms"
admin = "127.0.0.1:8720"
log_level = "debug"
log_format = "json"

[chain]
type = "evm"
id = "chainA"
rpc = "http://127.0.0.1:8545"
broker = "{BROKER}"
key = "evm.key"
receipt_timeout = "2m"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def problems(call: Any, *args: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        call(*args)
    assert err.value.code == 6006
    return err.value.problems


# --- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("200ms", 0.2), ("10s", 10.0), ("2m", 120.0), ("1.5s", 1.5), (" 30ms ", 0.03)],
)
def test_durations_have_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text, "k") == pytest.approx(seconds)
    assert parse_duration(format_duration(seconds), "k") == pytest.approx(seconds)


@pytest.mark.parametrize("bad", [5, 0.2, "5", "fast", "-1s", "1h", True, None])
def test_a_duration_without_a_unit_is_refused_naming_key_and_form(bad: Any) -> None:
    (problem,) = problems(parse_duration, bad, "gateway.poll_interval")
    assert problem.startswith("gateway.poll_interval: expected a duration string with a unit")
    assert '"200ms", "10s", "2m"' in problem and repr(bad) in problem


# --- the relay's file ------------------------------------------------------------------


def test_relay_file_every_key_settable(tmp_path: Path) -> None:
    path = write(
        tmp_path / "relay.toml",
        '[relay]\ngenesis = "g.json"\nkey = "k/n.key"\ndata_dir = "/abs/data"\nhost = "0.0.0.0"\n'
        'port = 9000\nbatch_time = "5ms"\nmax_block_txs = 10\nmax_block_ibtps = 20\n'
        'max_sealed_blocks = 2\nidle_block_interval = "2m"\ndurability = "full"\n'
        'relay_signer = "thread"\nlog_level = "warning"\nlog_format = "json"\n'
        'block_log_interval = "10s"\n',
    )
    s = load_relay_file(path)
    assert s.genesis == tmp_path / "g.json" and s.key == tmp_path / "k" / "n.key"
    assert s.data_dir == Path("/abs/data") and (s.host, s.port) == ("0.0.0.0", 9000)
    assert (s.batch_time, s.idle_block_interval, s.block_log_interval) == (0.005, 120.0, 10.0)
    assert (s.max_block_txs, s.max_block_ibtps, s.max_sealed_blocks) == (10, 20, 2)
    assert (s.durability, s.relay_signer, s.log_level, s.log_format) == (
        "full",
        "thread",
        "warning",
        "json",
    )
    # ... and every one the node takes reaches the NodeConfig, relay_signer included.
    account = Account.create()
    genesis = Genesis("hub", (account.address,), (account.address,))
    node_cfg = cli.node_config_of(s, genesis, account)
    assert node_cfg.relay_signer == "thread" and node_cfg.durability == "full"
    assert (node_cfg.batch_time, node_cfg.max_sealed_blocks) == (0.005, 2)
    assert node_cfg.block_log_interval == 10.0 and node_cfg.data_dir == Path("/abs/data")


def test_every_node_setting_is_a_relay_key_with_the_schema_default() -> None:
    settings = [
        f for f in dataclasses.fields(NodeConfig) if f.name not in ("data_dir", "genesis", "key")
    ]
    keys = {f.name for f in dataclasses.fields(RelaySection)}
    assert settings and {f.name for f in settings} <= keys
    for f in settings:  # one place for defaults: the node's are the schema's
        assert f.default == getattr(RELAY_DEFAULTS, f.name), f.name


def test_relay_file_problems_all_named_with_file_key_and_type(tmp_path: Path) -> None:
    path = write(
        tmp_path / "relay.toml",
        '[relay]\nbatch_time = 0.03\nport = "8710"\ndurability = "safe"\nmax_block_txs = 0\n'
        "portt = 1\nrelay_signer = 3\nidle_block_interval = '0s'\n\n[extra]\nx = 1\n",
    )
    found = problems(load_relay_file, path)
    f = str(path)
    expected = [
        f"{f}: relay.batch_time: expected a duration string with a unit",
        f"{f}: extra: unknown key (known: relay)",
        f"{f}: relay.portt: unknown key",
        f"{f}: relay.port: expected an integer, got '8710'",
        f'{f}: relay.durability: expected one of "normal", "full", got \'safe\'',
        f"{f}: relay.max_block_txs: expected an integer >= 1, got 0",
        f'{f}: relay.relay_signer: expected one of "process", "thread", got 3',
        f"{f}: relay.idle_block_interval: expected more than zero, got '0s'",
    ]
    for e in expected:
        assert any(p.startswith(e) for p in found), (e, found)
    assert len(found) == 8, found


def test_relay_file_needs_its_table_and_valid_toml(tmp_path: Path) -> None:
    assert problems(load_relay_file, write(tmp_path / "a.toml", "")) == [
        f"{tmp_path / 'a.toml'}: relay: required (a table)"
    ]
    (p,) = problems(load_relay_file, write(tmp_path / "b.toml", "[relay\n"))
    assert p.startswith(f"{tmp_path / 'b.toml'}: not valid TOML")
    (p,) = problems(load_relay_file, tmp_path / "none.toml")
    assert p == f"{tmp_path / 'none.toml'}: not found"


def test_relay_init_writes_the_schema_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "relay.toml", cli.RELAY_TOML)
    loaded = load_relay_file(path)
    for f in dataclasses.fields(RelaySection):
        want = getattr(RELAY_DEFAULTS, f.name)
        got = getattr(loaded, f.name)
        assert got == (tmp_path / want if isinstance(want, Path) else want), f.name


# --- the gateway's file ---------------------------------------------------------------


def test_gateway_file(tmp_path: Path) -> None:
    cfg = GatewayConfig.load(write(tmp_path / "gw.toml", GATEWAY))
    assert cfg.key == tmp_path / "gw.key" and cfg.data_dir == tmp_path / "state"
    assert (cfg.poll_interval, cfg.admin, cfg.log_level, cfg.log_format) == (
        0.05,
        "127.0.0.1:8720",
        "debug",
        "json",
    )
    assert (cfg.chain_type, cfg.chain_id) == ("evm", "chainA")
    assert cfg.chain["key"] == str(tmp_path / "evm.key") and "type" not in cfg.chain
    # the GatewayConfig defaults are the schema's
    for name in ("poll_interval", "batch", "max_backoff", "max_attempts", "admin", "log_level"):
        assert GatewayConfig.__dataclass_fields__[name].default == (
            GatewaySection.__dataclass_fields__[name].default
        )


def test_gateway_file_problems(tmp_path: Path) -> None:
    text = (
        GATEWAY.replace('poll_interval = "50ms"', "poll_interval = 0.2")
        .replace('admin = "127.0.0.1:8720"', 'admin = "8720"\nbatch = 0\nwho = 1')
        .replace('receipt_timeout = "2m"', 'receipt_timeout = "2m"\nconfirmation = 3\ngas = "x"')
    )
    path = write(tmp_path / "gw.toml", text)
    found = problems(GatewayConfig.load, path)
    f = str(path)
    expected = [
        f"{f}: gateway.poll_interval: expected a duration string with a unit",
        f'{f}: gateway.admin: expected "host:port", e.g. "127.0.0.1:8720", got \'8720\'',
        f"{f}: gateway.batch: expected an integer 1..4096, got 0",
        f"{f}: gateway.who: unknown key",
        f"{f}: chain.confirmation: unknown key",
        f"{f}: chain.gas: expected an integer, got 'x'",
    ]
    for e in expected:
        assert any(p.startswith(e) for p in found), (e, found)
    assert len(found) == len(expected), found


def test_gateway_file_required_keys_and_unknown_chain_type(tmp_path: Path) -> None:
    path = write(tmp_path / "gw.toml", '[gateway]\nrelay = "x"\n\n[chain]\ntype = "nope"\n')
    found = problems(GatewayConfig.load, path)
    f = str(path)
    assert f"{f}: gateway.key: required (a path)" in found
    assert f"{f}: gateway.data_dir: required (a path)" in found
    assert f"{f}: chain.id: required (a string)" in found
    path = write(
        tmp_path / "gw.toml", GATEWAY.replace('type = "evm"', 'type = "nope"')
    )  # fmt: skip
    (p,) = problems(GatewayConfig.load, path)
    assert p.startswith(f"{f}: chain.type: no adapter for chain type 'nope' (installed: evm")


# --- the dev chain's file --------------------------------------------------------------


def test_devchain_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "evm1.toml",
        '[devchain]\nchain_name = "evmZ"\nblock_interval = "250ms"\nempty_block_interval = "0s"\n'
        'data_dir = "var"\nrelay_validators = ["0x' + "11" * 20 + '"]\nlog_format = "json"\n',
    )
    c = load_devchain_config(path)
    assert (c.chain_name, c.block_interval, c.empty_block_interval) == ("evmZ", 0.25, 0.0)
    assert c.data_dir == tmp_path / "var" and c.relay_validators == ("0x" + "11" * 20,)
    assert c.log_format == "json" and c.port == DevchainConfig().port
    bad = write(
        tmp_path / "bad.toml",
        '[devchain]\nblock_interval = 0.1\nvalidators = "4"\ncolour = "red"\n',
    )
    found = problems(load_devchain_config, bad)
    assert [p.split(": ")[1] for p in found] == [
        "devchain.colour",
        "devchain.validators",
        "devchain.block_interval",
    ]
    assert all(p.startswith(f"{bad}: ") for p in found)
    # The dev chain's own checks run too, and name the file.
    (p,) = problems(load_devchain_config, write(bad, "[devchain]\nthreshold = 9\n"))
    assert p == f"{bad}: devchain: need 1 <= threshold <= validators <= 64"


# --- relayhub config check -------------------------------------------------------------


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["config", "check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_config_check_each_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relay = write(tmp_path / "relay.toml", cli.RELAY_TOML)
    gw = write(tmp_path / "gw.toml", GATEWAY)
    dev = write(tmp_path / "dev.toml", '[devchain]\nchain_name = "evm2"\n')
    for path, kind in ((relay, "relay"), (gw, "gateway"), (dev, "devchain")):
        assert check(capsys, str(path)) == (0, f"ok: {path} ({kind})\n", "")
        assert check(capsys, str(path), "--kind", kind)[0] == 0
    code, out, err = check(capsys, str(relay), "--kind", "gateway")
    assert code == 2 and out == "" and f"error [6006]: {relay}: gateway: required" in err


def test_config_check_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "relay.toml", "[relay]\nbatch_time = 1\nport = -1\nnope = 2\n")
    code, out, err = check(capsys, str(path))
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 3
    assert all(line.startswith(f"error [6006]: {path}: relay.") for line in lines)
    unknown = write(tmp_path / "what.toml", "[nothing]\n")
    code, _, err = check(capsys, str(unknown))
    assert code == 2 and "cannot tell the kind of file" in err and "--kind" in err
    code, _, err = check(capsys, str(tmp_path / "missing.toml"))
    assert code == 2 and err == f"error [6006]: {tmp_path / 'missing.toml'}: not found\n"


# --- the docs stay true ---------------------------------------------------------------


def test_operations_doc_lists_every_key_as_the_schemas_say() -> None:
    doc = (REPO / "docs" / "operations.md").read_text()
    assert DOCS_BEGIN in doc and DOCS_END in doc
    shown = doc[doc.index(DOCS_BEGIN) : doc.index(DOCS_END) + len(DOCS_END)] + "\n"
    assert shown == config_docs(cli.config_kinds()), (
        "docs/operations.md is stale: paste `relayhub config docs` between the markers"
    )
    for key in ("relay.relay_signer", "gateway.poll_interval", "chain.receipt_timeout"):
        assert f"`{key}`" in shown
    assert "`devchain.block_interval`" in shown
