"""``relayhub``: set up and run a relay, and talk to one (docs/operations.md, "CLI").

Every read command prints a table for people and, with ``--json``, one JSON
document for machines (byte strings as 0x-hex). A refusal or failure prints
``error [code]: message`` on stderr and exits 2; ``relay verify`` exits 1 when the
ledger is inconsistent.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, entry_points
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import httpx
import trio
from rich.console import Console
from rich.table import Table

from relay.config import (
    CONFIG_KIND_GROUP,
    ConfigError,
    ConfigKind,
    RelayFile,
    RelaySection,
    config_docs,
    detect_kind,
    load_relay_file,
    read_toml,
    toml_template,
)
from relay.crypto import Account, read_key_file, write_key_file
from relay.errors import Code, RelayError
from relay.genesis import Genesis
from relay.logs import add_verbosity_flags
from relay.refusals import describe_refusal
from relay.sdk import RelayClient

DEFAULT_RELAY = "http://127.0.0.1:8710"
RELAY_ENV = "RELAYHUB_URL"
CONFIG_FILE = "relay.toml"
GENESIS_FILE = "genesis.json"
NODE_KEY = "keys/node.key"
ADMIN_KEY = "keys/admin.key"
DATA_DIR = "data"
LEDGER_FILE = "ledger.sqlite3"


# --- relay.toml (schema and loader: relay/config.py) --------------------------------

RELAY_TOML = (
    "# relayhub relay configuration: `relayhub relay start --dir <this directory>`\n"
    '# every key: docs/operations.md, "Configuration"\n' + toml_template(RelayFile)
)


def load_relay_config(directory: Path) -> RelaySection:
    path = directory / CONFIG_FILE
    if not path.exists():
        raise RelayError(
            Code.CONFIG,
            f"{path} not found; create the directory with `relayhub relay init --dir {directory}`",
        )
    return load_relay_file(path)


# --- output -----------------------------------------------------------------------


def to_jsonable(v: Any) -> Any:
    """Plain JSON values: bytes as 0x-hex, dataclasses as maps, enums as numbers."""
    if isinstance(v, bytes | bytearray):
        return "0x" + bytes(v).hex()
    if isinstance(v, enum.Enum):
        return v.value
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: to_jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, RelayError):
        return v.to_dict()
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [to_jsonable(x) for x in v]
    return v


def _cell(v: Any) -> str:
    v = to_jsonable(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return ", ".join(v)
    return json.dumps(v, separators=(", ", ": "))


_HEX = frozenset("0123456789abcdefABCDEF")
#: Fields whose values are the destination's result bytes (shown decoded if printable).
_RESULT_FIELDS = frozenset({"result", "results"})


def with_0x(value: str) -> str:
    """A 32-byte hash as ``0x`` + 64 hex digits, however the API spelled it."""
    if len(value) == 64 and set(value) <= _HEX:
        return "0x" + value
    return value


def _decoded(value: Any) -> Any:
    """``0x…`` bytes as ``0x… ("text")`` when they are printable UTF-8."""
    if isinstance(value, list):
        return [_decoded(x) for x in value]
    if not (isinstance(value, str) and value.startswith("0x") and len(value) > 2):
        return value
    try:
        text = bytes.fromhex(value[2:]).decode("utf-8")
    except ValueError:
        return value
    return f"{value} ({text!r})" if text.isprintable() else value


def _when(ms: int) -> str:
    when = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return f"{ms} ({when.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} UTC)"


def display_value(key: str, value: Any) -> Any:
    """A value as a person reads it: hashes with 0x, results decoded, times readable."""
    value = to_jsonable(value)
    if isinstance(value, str):
        value = with_0x(value)
    if key in _RESULT_FIELDS:
        return _decoded(value)
    if key.endswith("timestamp_ms") and type(value) is int:
        return _when(value)
    return value


class Output:
    """Tables for a terminal; the same, unwrapped and untruncated, as plain text when
    stdout is a pipe or a file (so hex values stay whole); or JSON (``--json``)."""

    def __init__(self, as_json: bool, plain: bool | None = None) -> None:
        self.as_json = as_json
        self.plain = (not sys.stdout.isatty()) if plain is None else plain
        self.console = Console(markup=False, highlight=False, soft_wrap=False)

    def json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(to_jsonable(value), indent=2) + "\n")
        sys.stdout.flush()

    def record(self, title: str, value: dict[str, Any]) -> None:
        """One record: JSON, or a two-column table."""
        if self.as_json:
            self.json(value)
            return
        cells = [(str(k), _cell(display_value(str(k), v))) for k, v in value.items()]
        if self.plain:
            width = max((len(k) for k, _ in cells), default=0)
            lines = [title] + [f"  {k.ljust(width)}  {v}" for k, v in cells]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            return
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for k, v in cells:
            table.add_row(k, v)
        self.console.print(table)

    def rows(self, title: str, items: list[dict[str, Any]], columns: Sequence[str]) -> None:
        if self.as_json:
            self.json(items)
            return
        body = [[_cell(display_value(c, item.get(c, ""))) for c in columns] for item in items]
        if self.plain:
            lines = [title, "\t".join(columns), *("\t".join(r) for r in body)]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            return
        table = Table(title=title, title_justify="left")
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in body:
            table.add_row(*r)
        self.console.print(table)

    def line(self, text: str) -> None:
        if self.plain:
            print(text, flush=True)
        else:
            self.console.print(text)


# --- helpers ----------------------------------------------------------------------


def _load_key(path: str) -> Account:
    p = Path(path)
    try:
        return read_key_file(p)
    except FileNotFoundError:
        raise RelayError(
            Code.CONFIG, f"key file {p} not found; create one with `relayhub keys new --out {p}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise RelayError(Code.CONFIG, f"cannot read key file {p}: {exc}") from None


def _json_arg(text: str, name: str) -> Any:
    """A JSON value given inline or as ``@file``."""
    source = text
    if text.startswith("@"):
        try:
            source = Path(text[1:]).read_text()
        except OSError as exc:
            raise RelayError(Code.BAD_REQUEST, f"{name}: cannot read {text[1:]}: {exc}") from None
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise RelayError(Code.BAD_REQUEST, f"{name} is not valid JSON ({exc})") from None


def _client(args: argparse.Namespace, account: Account | None = None) -> RelayClient:
    return RelayClient(check_relay_url(args.relay), account, transport=args.transport)


def check_relay_url(url: str, what: str = "--relay") -> str:
    """``url`` if it is an ``http(s)://host[:port]`` URL; else a 6006 naming the fix."""
    try:
        parsed = httpx.URL(url)
        ok = parsed.scheme in ("http", "https") and bool(parsed.host)
    except (httpx.InvalidURL, TypeError, ValueError):
        ok = False
    if not ok:
        raise RelayError(
            Code.CONFIG,
            f"{what} {url!r} is not a relay URL; write it with its scheme, e.g. {DEFAULT_RELAY}",
        )
    return url


def check_port_free(host: str, port: int, what: str) -> None:
    """Refuse to start when ``host:port`` is taken, with a message instead of a traceback
    from deep inside the server (port 0, any free port, always passes)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise RelayError(
                Code.CONFIG,
                f"cannot serve {what} on {host}:{port}: {exc.strerror or exc}; stop what uses "
                "it or choose another --port",
            ) from None


def _tx_summary(result: Any) -> dict[str, Any]:
    return {"tx": with_0x(result.tx), "height": result.height, "results": result.results}


# --- relay ------------------------------------------------------------------------


def write_relay_dir(d: Path, genesis: Genesis, admin: Account, node: Account) -> None:
    """Lay out relay directory ``d`` (it exists): ``keys/node.key`` and ``keys/admin.key``
    (0600, in a 0700 folder), ``relay.toml`` with the defaults, then ``genesis.json``
    last, so a directory with a genesis is complete."""
    write_key_file(d / NODE_KEY, node)
    write_key_file(d / ADMIN_KEY, admin)
    (d / NODE_KEY).parent.chmod(0o700)
    (d / CONFIG_FILE).write_text(RELAY_TOML)
    genesis.dump(d / GENESIS_FILE)


def cmd_relay_init(args: argparse.Namespace, out: Output) -> int:
    d = Path(args.dir)
    if d.exists() and not d.is_dir():
        raise RelayError(Code.CONFIG, f"{d} exists and is not a directory")
    if d.exists() and any(d.iterdir()) and not args.force:
        raise RelayError(
            Code.CONFIG,
            f"{d} is not empty; choose another --dir, or pass --force to replace its keys, "
            "genesis and ledger",
        )
    admin, node = Account.create(), Account.create()
    genesis = Genesis.from_dict(
        Genesis(
            hub_id=args.hub_id,
            admins=(admin.address,),
            validators=(node.address,),
            validator_threshold=1,
            default_timeout_blocks=args.default_timeout_blocks,
        ).to_dict()
    )
    d.mkdir(parents=True, exist_ok=True)
    if (d / DATA_DIR).exists():
        shutil.rmtree(d / DATA_DIR)  # --force: the old ledger belongs to the old genesis
    write_relay_dir(d, genesis, admin, node)
    info = {
        "dir": str(d),
        "hub_id": genesis.hub_id,
        "admin": admin.address,
        "validator": node.address,
        "genesis": str(d / GENESIS_FILE),
        "node_key": str(d / NODE_KEY),
        "admin_key": str(d / ADMIN_KEY),
        "config": str(d / CONFIG_FILE),
    }
    out.record("relay initialised", info)
    if not out.as_json:
        out.line(f"next: relayhub relay start --dir {d}")
    return 0


def node_config_of(cfg: RelaySection, genesis: Genesis, key: Account) -> Any:
    """The NodeConfig of a ``[relay]`` table: every NodeConfig setting is a key of it."""
    from relay.node import NodeConfig

    settings = {f.name for f in dataclasses.fields(NodeConfig)} - {"data_dir", "genesis", "key"}
    return NodeConfig(
        data_dir=cfg.data_dir,
        genesis=genesis,
        key=key,
        **{name: getattr(cfg, name) for name in settings},
    )


async def _serve_relay(cfg: RelaySection, genesis: Genesis, key: Account) -> None:
    from relay.api.server import serve_api
    from relay.node import open_node

    node_cfg = node_config_of(cfg, genesis, key)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_node(node_cfg) as node, trio.open_nursery() as nursery:
            url = await nursery.start(serve_api, node, cfg.host, cfg.port)
            print(
                f"relayhub: hub {genesis.hub_id} at height {node.head_height}, "
                f"serving {url} (Ctrl-C to stop)",
                flush=True,
            )
            async for signum in signals:
                print(f"relayhub: {signal.Signals(signum).name}, stopping", flush=True)
                nursery.cancel_scope.cancel()
                break
    print("relayhub: stopped", flush=True)


def cmd_relay_start(args: argparse.Namespace, out: Output) -> int:
    cfg = load_relay_config(Path(args.dir))
    if args.host is not None or args.port is not None:
        cfg = dataclasses.replace(
            cfg,
            host=cfg.host if args.host is None else args.host,
            port=cfg.port if args.port is None else args.port,
        )
    from relay.logs import setup_logging

    setup_logging(cfg.log_level, cfg.log_format, verbose=args.verbose, quiet=args.quiet)
    genesis = Genesis.load(cfg.genesis)
    key = _load_key(str(cfg.key))
    if key.address not in genesis.validators:
        raise RelayError(
            Code.CONFIG,
            f"node key {cfg.key} ({key.address}) is not a validator in {cfg.genesis}; "
            "its blocks and relay proofs would not verify",
        )
    check_port_free(cfg.host, cfg.port, "the relay API")
    try:
        trio.run(_serve_relay, cfg, genesis, key)
    except (OSError, BaseExceptionGroup) as exc:  # the port was taken since the check
        cause = exc.subgroup(OSError) if isinstance(exc, BaseExceptionGroup) else exc
        if cause is None:
            raise
        raise RelayError(
            Code.CONFIG, f"cannot serve the relay API on {cfg.host}:{cfg.port}: {cause}"
        ) from None
    return 0


def cmd_relay_verify(args: argparse.Namespace, out: Output) -> int:
    cfg = load_relay_config(Path(args.dir))
    genesis = Genesis.load(cfg.genesis)
    ledger = cfg.data_dir / LEDGER_FILE
    if not ledger.exists():
        raise RelayError(
            Code.CONFIG, f"no ledger at {ledger}; start the relay once (`relayhub relay start`)"
        )
    from relay.ledger.verify import verify_ledger

    report = verify_ledger(ledger, genesis, replay=args.replay)
    doc = report.to_dict() if hasattr(report, "to_dict") else to_jsonable(report)
    if out.as_json:
        out.json(doc)
    else:
        out.record("ledger verification", doc)
        if report.ok:
            out.line(f"ok: {report.blocks} blocks verified")
        else:
            err = report.first_error or {}
            out.line(f"FAILED at height {err.get('height')}: {err.get('what')}")
    return 0 if report.ok else 1


def cmd_relay_status(args: argparse.Namespace, out: Output) -> int:
    with _client(args) as c:
        out.record(f"relay {args.relay}", c.status())
    return 0


# --- appchain / service -----------------------------------------------------------


def cmd_appchain_register(args: argparse.Namespace, out: Output) -> int:
    account = _load_key(args.key)
    trust_root = _json_arg(args.trust_root, "--trust-root")
    with _client(args, account) as c:
        r = c.register_chain(
            args.id,
            args.family,
            trust_root,
            args.broker,
            gateways=args.gateway or None,
            name=args.name,
            desc=args.desc,
        )
    out.record(f"chain {args.id} registered (PENDING until an admin approves)", _tx_summary(r))
    return 0


def _cmd_decide(approve: bool) -> Callable[[argparse.Namespace, Output], int]:
    def run(args: argparse.Namespace, out: Output) -> int:
        account = _load_key(args.key)
        with _client(args, account) as c:
            r = c.approve_chain(args.id) if approve else c.reject_chain(args.id)
        out.record(f"chain {args.id} {'approved' if approve else 'rejected'}", _tx_summary(r))
        return 0

    return run


def cmd_appchain_withdraw(args: argparse.Namespace, out: Output) -> int:
    account = _load_key(args.key)
    with _client(args, account) as c:
        r = c.withdraw_chain(args.id)
    out.record(f"chain {args.id} withdrawn (its ID is free again)", _tx_summary(r))
    return 0


def cmd_appchain_list(args: argparse.Namespace, out: Output) -> int:
    with _client(args) as c:
        chains = c.chains()
    out.rows(
        "app chains",
        chains,
        ["id", "family", "status", "broker", "gateways", "name", "registered_at"],
    )
    return 0


#: Entry points deriving a family's trust root from its chain's API: ``derive(endpoint,
#: mode, notaries, threshold) -> dict`` (adapters.evm.trust_root for ``evm``).
TRUST_ROOT_GROUP = "relayhub.trust_roots"


def cmd_appchain_trust_root(args: argparse.Namespace, out: Output) -> int:
    """The trust root JSON for ``appchain register --trust-root``, read from the chain."""
    derivers = {ep.name: ep for ep in entry_points(group=TRUST_ROOT_GROUP)}
    ep = derivers.get(args.family)
    if ep is None:
        raise RelayError(
            Code.CONFIG,
            f"no trust-root reader for family {args.family!r} (installed: "
            f"{', '.join(sorted(derivers)) or 'none'}); write its trust root by hand "
            "(docs/operations.md)",
        )
    root = ep.load()(args.rpc, args.mode, args.notary, args.threshold)
    out.json(root)
    return 0


def cmd_appchain_show(args: argparse.Namespace, out: Output) -> int:
    with _client(args) as c:
        out.record(f"chain {args.chain_id}", c.chain(args.chain_id))
    return 0


def cmd_service_register(args: argparse.Namespace, out: Output) -> int:
    account = _load_key(args.key)
    with _client(args, account) as c:
        r = c.register_service(
            args.service,
            chain=args.chain,
            allow=args.allow,
            deny=args.deny,
            name=args.name,
        )
    out.record(f"service {r.results[0] if r.results else args.service} registered", _tx_summary(r))
    return 0


def cmd_service_show(args: argparse.Namespace, out: Output) -> int:
    with _client(args) as c:
        out.record(f"service {args.service_id}", c.service(args.service_id))
    return 0


# --- tx / block / keys --------------------------------------------------------------


def cmd_tx_status(args: argparse.Namespace, out: Output) -> int:
    with _client(args) as c:
        if args.wait is not None:
            st = c.wait_final(args.ibtp_id, timeout=args.wait)
        else:
            st = c.ibtp_status(args.ibtp_id)
    doc = to_jsonable(st)
    if out.as_json:  # the API's record: history as [status, height] pairs
        out.json(doc)
        return 0
    history = [{"status": int(s), "status_name": s.name, "height": h} for s, h in st.history]
    shown = {k: v for k, v in doc.items() if k not in ("history", "last_refusal")}
    if st.last_refusal is not None:
        shown["last refusal"] = describe_refusal(st.last_refusal)
    out.record(f"IBTP {st.id}", shown)
    out.rows("history", history, ["height", "status", "status_name"])
    return 0


def cmd_block_show(args: argparse.Namespace, out: Output) -> int:
    ref: int | str = "latest" if args.ref == "latest" else _height(args.ref)
    with _client(args) as c:
        blk = c.block(ref, txs=args.txs)
    if out.as_json:
        out.json(blk)
        return 0
    out.record(f"block {blk.get('height')}", {k: v for k, v in blk.items() if k != "txs"})
    if args.txs:
        out.rows("transactions", blk.get("txs", []), ["hash", "sender", "nonce", "kind", "results"])
    return 0


def _height(text: str) -> int:
    if not text.isdigit():
        raise RelayError(Code.BAD_REQUEST, f"block reference {text!r}: a height or 'latest'")
    return int(text)


def cmd_keys_new(args: argparse.Namespace, out: Output) -> int:
    path = Path(args.out)
    if path.exists() and not args.force:
        raise RelayError(
            Code.CONFIG, f"{path} exists; pass --force to overwrite it (the old key is lost)"
        )
    account = Account.create()
    write_key_file(path, account)
    out.record("new key", {"address": account.address, "file": str(path)})
    return 0


def config_kinds() -> dict[str, ConfigKind]:
    """The kinds of config file, from the ``relayhub.config`` entry points (relay,
    gateway, devchain, ...), so the relay names no other package."""
    kinds: dict[str, ConfigKind] = {}
    for ep in entry_points(group=CONFIG_KIND_GROUP):
        kind = ep.load()
        kinds[kind.name] = kind
    return kinds


def cmd_config_check(args: argparse.Namespace, out: Output) -> int:
    """Load FILE as its kind would be loaded at start: ``ok: FILE (kind)``, or one
    ``error [6006]: ...`` line per problem and exit 2."""
    path = Path(args.file)
    kinds = config_kinds()
    try:
        if args.kind is not None:
            if args.kind not in kinds:
                raise ConfigError([f"--kind {args.kind!r}: one of {', '.join(sorted(kinds))}"])
            kind = kinds[args.kind]
        else:
            found = detect_kind(read_toml(path), kinds)
            if found is None:
                tables = ", ".join(f"[{k.section}]" for k in kinds.values())
                raise ConfigError(
                    [f"{path}: cannot tell the kind of file (it needs one of {tables}); "
                     "pass --kind"]
                )  # fmt: skip
            kind = found
        kind.load(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error [{exc.code}]: {problem}", file=sys.stderr)
        return 2
    print(f"ok: {path} ({kind.name})")
    return 0


def cmd_config_docs(args: argparse.Namespace, out: Output) -> int:
    """Every key of every kind of file, as the Markdown tables of docs/operations.md."""
    sys.stdout.write(config_docs(config_kinds()))
    return 0


#: Commands provided by other packages (the demo, gateways, benchmarks) through entry
#: points, so the relay never imports app chains or adapters by name.
PLUGIN_GROUP = "relayhub.commands"
PLUGIN_HELP = {
    "demo": "run the embedded demo: relay, EVM chains, gateways and four interchain calls",
    "up": "start the demo topology and keep it running; prints the endpoints",
    "gateway": "run a gateway: `relayhub gateway start --config gateway.toml`",
    "devchain": "run an EVM dev chain for a relay: `relayhub devchain start --relay-dir D`",
    "bench": "benchmarks: `relayhub bench run CONFIG.toml`, `bench compare A.json B.json`, "
    "`bench list`, `bench worker --listen HOST:PORT`",
}


def plugin_commands() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}


def run_plugin(name: str, argv: list[str]) -> int:
    ep = plugin_commands().get(name)
    if ep is None:
        raise RelayError(
            Code.CONFIG, f"command {name!r} is not installed (install the relayhub package whole)"
        )
    result = ep.load()(argv)
    return result if isinstance(result, int) else 0


# --- argument parsing -------------------------------------------------------------


def _add_relay_url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--relay",
        default=os.environ.get(RELAY_ENV, DEFAULT_RELAY),
        metavar="URL",
        help=f"relay API URL (default ${RELAY_ENV} or {DEFAULT_RELAY})",
    )


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in its help line, where it has a default worth naming."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)".strip()


def _add_version(parser: argparse.ArgumentParser) -> None:
    try:
        installed = package_version("relayhub")
    except PackageNotFoundError:
        installed = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"relayhub {installed}")


def _add_trust_root_command(sub: Any, command: Any) -> None:
    p = command(
        sub,
        "trust-root",
        cmd_appchain_trust_root,
        "print a chain's trust root (JSON for appchain register --trust-root), read from its node",
    )
    p.add_argument("--rpc", required=True, metavar="URL", help="the chain's JSON-RPC URL")
    p.add_argument("--family", default="evm", help="chain family")
    p.add_argument(
        "--mode",
        default="seal",
        choices=("seal", "notary"),
        help="seal: the chain's own validators (read from the node); notary: --notary keys",
    )
    p.add_argument(
        "--notary",
        action="append",
        default=[],
        metavar="ADDR",
        help="notary address, with --mode notary (repeatable)",
    )
    p.add_argument(
        "--threshold", type=int, default=None, help="signatures needed (default: the chain's / all)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relayhub", description="Run a relayhub relay and talk to one."
    )
    _add_version(parser)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")

    def command(
        sub: Any, name: str, func: Callable[[argparse.Namespace, Output], int], help: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help, description=help, formatter_class=HelpFormatter
        )
        p.set_defaults(func=func)
        return p

    # relay
    relay = groups.add_parser("relay", help="create, run and check a relay node")
    rs = relay.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(rs, "init", cmd_relay_init, "create a relay directory: genesis, keys, relay.toml")
    p.add_argument("--dir", required=True, help="the relay directory to create")
    p.add_argument("--hub-id", default="hub0", help="the hub's ID, in every service ID")
    p.add_argument(
        "--default-timeout-blocks",
        type=int,
        default=200,
        help="relay blocks before an unanswered interchain call rolls back",
    )
    p.add_argument("--force", action="store_true", help="replace an existing directory's contents")
    _add_json(p)
    p = command(
        rs, "start", cmd_relay_start, "run the relay node and its API until Ctrl-C / SIGTERM"
    )
    p.add_argument("--dir", required=True)
    p.add_argument("--host", default=None, help="override relay.toml host")
    p.add_argument("--port", type=int, default=None, help="override relay.toml port (0 = any)")
    add_verbosity_flags(p)
    p = command(rs, "verify", cmd_relay_verify, "re-check the ledger of a (stopped) relay")
    p.add_argument("--dir", required=True)
    p.add_argument("--replay", action="store_true", help="also re-execute every block")
    _add_json(p)
    p = command(rs, "status", cmd_relay_status, "show a running relay's status")
    _add_relay_url(p)
    _add_json(p)

    # config
    config = groups.add_parser("config", help="check config files")
    cs = config.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(cs, "check", cmd_config_check, "check a relay, gateway or dev-chain config file")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kind", default=None, help="relay, gateway or devchain (default: by sections)")
    command(cs, "docs", cmd_config_docs, "print every key of every kind of file (Markdown)")

    # appchain
    appchain = groups.add_parser("appchain", help="register and inspect app chains")
    acs = appchain.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(acs, "register", cmd_appchain_register, "register an app chain (stays PENDING)")
    _add_relay_url(p)
    p.add_argument("--key", required=True, help="key file of the registrar (default gateway)")
    p.add_argument("--id", required=True)
    p.add_argument("--family", required=True, help="chain family, e.g. notary or evm")
    p.add_argument("--trust-root", required=True, help="JSON, or @FILE holding JSON")
    p.add_argument("--broker", required=True, help="the chain's broker address or name")
    p.add_argument(
        "--gateway",
        action="append",
        default=[],
        metavar="ADDR",
        help="gateway address allowed to submit for the chain (repeatable)",
    )
    p.add_argument("--name", default="")
    p.add_argument("--desc", default="")
    _add_json(p)
    for name, approve in (("approve", True), ("reject", False)):
        p = command(acs, name, _cmd_decide(approve), f"{name} a PENDING chain (hub admin key)")
        _add_relay_url(p)
        p.add_argument("--key", required=True, help="a hub admin's key file")
        p.add_argument("--id", required=True)
        _add_json(p)
    p = command(acs, "withdraw", cmd_appchain_withdraw, "withdraw your own PENDING registration")
    _add_relay_url(p)
    p.add_argument("--key", required=True, help="key file of the chain's registrar")
    p.add_argument("--id", required=True)
    _add_json(p)
    p = command(acs, "list", cmd_appchain_list, "list app chains")
    _add_relay_url(p)
    _add_json(p)
    _add_trust_root_command(acs, command)
    p = command(acs, "show", cmd_appchain_show, "show one app chain")
    p.add_argument("chain_id", metavar="ID")
    _add_relay_url(p)
    _add_json(p)

    # service
    service = groups.add_parser("service", help="register and inspect services")
    ss = service.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(ss, "register", cmd_service_register, "register a service of an active chain")
    _add_relay_url(p)
    p.add_argument(
        "--key", required=True, help="key file of a gateway (or the registrar) of the chain"
    )
    p.add_argument(
        "--service", required=True, help="full ID hub:chain:service, or a bare ID with --chain"
    )
    p.add_argument("--chain", default=None)
    p.add_argument("--allow", action="append", default=[], metavar="FULL_ID")
    p.add_argument("--deny", action="append", default=[], metavar="FULL_ID")
    p.add_argument("--name", default="")
    _add_json(p)
    p = command(ss, "show", cmd_service_show, "show a service and its counters")
    p.add_argument("service_id", metavar="FULL_ID")
    _add_relay_url(p)
    _add_json(p)

    # tx
    tx = groups.add_parser("tx", help="interchain transactions")
    ts = tx.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(ts, "status", cmd_tx_status, "status and history of an interchain transaction")
    p.add_argument("ibtp_id", metavar="IBTP_ID", help="from~to~index")
    p.add_argument(
        "--wait",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait up to SECONDS for a final status (SUCCESS/FAILURE/ROLLBACK)",
    )
    _add_relay_url(p)
    _add_json(p)

    # block
    block = groups.add_parser("block", help="committed blocks")
    bs = block.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(bs, "show", cmd_block_show, "show a block")
    p.add_argument("ref", metavar="HEIGHT|latest")
    p.add_argument("--txs", action="store_true", help="include the transactions")
    _add_relay_url(p)
    _add_json(p)

    # keys
    keys = groups.add_parser("keys", help="secp256k1 key files")
    ks = keys.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    p = command(ks, "new", cmd_keys_new, "create a key file (0600) and print its address")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true")
    _add_json(p)

    # commands from other packages; their arguments are theirs (see run_plugin)
    for name in sorted(plugin_commands()):
        groups.add_parser(name, help=PLUGIN_HELP.get(name, "provided by an installed package"))
    return parser


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """The ``relayhub`` console script. ``transport`` replaces the network (tests)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in plugin_commands():  # everything after the name is the plugin's
        try:
            return run_plugin(argv[0], argv[1:])
        except RelayError as exc:
            print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    args.transport = transport
    out = Output(getattr(args, "json", False))
    try:
        return int(func(args, out))
    except RelayError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
