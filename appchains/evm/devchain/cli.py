"""``relayhub devchain start``: run an EVM dev chain for a relay (docs/operations.md).

The ``relayhub.commands`` entry point ``devchain``. ``--relay-dir`` reads the relay
directory's ``genesis.json`` (plain JSON: this module imports nothing of the relay)
and takes from it the hub ID, the relay validators and their threshold, which the
broker needs to check relay proofs. ``--keys-dir`` writes the dev accounts' private
keys as key files (0600), so a gateway and a user each get an account of their own.

Errors print ``error [6006]: message`` on stderr and exit 2 (the relay's CONFIG code,
docs/protocol.md §6); Ctrl-C and SIGTERM stop the chain cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from appchains.evm.devchain.__main__ import build_parser as build_flags
from appchains.evm.devchain.__main__ import config_from_args, stdlib_logging
from appchains.evm.devchain.config import ConfigError, DevchainConfig
from appchains.evm.devchain.crypto import address_hex, address_of_key

#: The relay's CONFIG error code (docs/protocol.md §6), used for every refusal here.
CONFIG_CODE = 6006

DESCRIPTION = """\
Run a PoA-sealed EVM dev chain on 127.0.0.1 with the relayhub broker, AssetTransfer and
DataSwap deployed natively at fixed addresses. It serves Ethereum JSON-RPC plus
relayhub_getValidators / relayhub_getBlockSeals / relayhub_getChainInfo, which
`relayhub appchain trust-root --rpc URL` reads."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written; each option's default, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    flags = build_flags()
    top = argparse.ArgumentParser(
        prog="relayhub devchain",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    sub = top.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    start = sub.add_parser(
        "start",
        help="run a dev chain until Ctrl-C / SIGTERM",
        description=DESCRIPTION,
        parents=[flags],
        add_help=False,
        formatter_class=HelpFormatter,
    )
    start.add_argument(
        "--relay-dir",
        type=Path,
        help="a relay directory (relayhub relay init): hub ID, relay validators and "
        "threshold come from its genesis.json",
    )
    start.add_argument(
        "--keys-dir",
        type=Path,
        help="write the dev accounts' keys here as account-<i>.key (0600), for gateways "
        "and users; each account is for one user only",
    )
    start.add_argument("--json", action="store_true", help="print the start line as JSON")
    start.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file with a [devchain] table (every key: docs/operations.md, "
        '"Configuration"); flags override it. Read by `relayhub devchain`, outside '
        "the app chain",
    )
    return top


def apply_relay_genesis(config: DevchainConfig, relay_dir: Path) -> DevchainConfig:
    """``config`` with the hub ID, relay validators and threshold of ``relay_dir``."""
    path = relay_dir / "genesis.json"
    try:
        genesis = json.loads(path.read_text(encoding="utf-8"))
        hub_id = genesis["hub_id"]
        validators = tuple(str(v) for v in genesis["validators"])
        threshold = genesis.get("validator_threshold", 1)
    except FileNotFoundError:
        raise ConfigError(
            f"--relay-dir {relay_dir}: no genesis.json; create the relay directory with "
            f"`relayhub relay init --dir {relay_dir}`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--relay-dir {relay_dir}: cannot read {path}: {exc}") from None
    return replace(
        config, hub_id=str(hub_id), relay_validators=validators, relay_threshold=threshold
    )


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve JSON-RPC on {host}:{port}: {exc.strerror or exc}; stop what "
                "uses it or choose another --port"
            ) from None


def write_account_keys(config: DevchainConfig, keys_dir: Path) -> list[dict[str, str]]:
    """Key files of the dev accounts (the relay's key-file format: hex, mode 0600)."""
    from appchains.evm.devchain.genesis import make_setup

    setup = make_setup(config, config.seed or "")
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    written = []
    for i, key in enumerate(setup.account_keys):
        path = keys_dir / f"account-{i}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, ("0x" + key.secret.hex() + "\n").encode())
        finally:
            os.close(fd)
        path.chmod(0o600)
        written.append({"file": str(path), "address": address_hex(address_of_key(key))})
    return written


async def serve(config: DevchainConfig, as_json: bool, keys: list[dict[str, str]]) -> None:
    from appchains.evm.devchain.node import open_devchain

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with open_devchain(config) as chain:
            info: dict[str, Any] = {"url": chain.url, **chain.node.chain_info()}
            info["head"] = chain.node.head_number()
            info["accounts"] = keys
            if as_json:
                print(json.dumps(info), flush=True)
            else:
                print(
                    f"relayhub devchain: {config.hub_id}:{config.chain_name} (EVM chain id "
                    f"{config.chain_id}) at {chain.url}, broker {info['broker']}, head "
                    f"{info['head']} (Ctrl-C to stop)",
                    flush=True,
                )
            async for signum in signals:
                print(f"relayhub devchain: {signal.Signals(signum).name}, stopping", flush=True)
                break
    print("relayhub devchain: stopped", flush=True)


def start(args: argparse.Namespace, base: DevchainConfig | None = None) -> int:
    config = config_from_args(args, base)
    if args.relay_dir is not None:
        if args.hub_id is not None or args.relay_validators is not None:
            raise ConfigError("--relay-dir gives the hub ID and relay validators; drop --hub-id "
                              "and --relay-validators")  # fmt: skip
        config = apply_relay_genesis(config, args.relay_dir).check()
    if config.seed is None and args.keys_dir is not None:
        raise ConfigError("--keys-dir needs --seed (the keys are derived from the seed)")
    check_port_free(config.host, config.port)
    keys = write_account_keys(config, args.keys_dir) if args.keys_dir is not None else []
    try:
        trio.run(serve, config, args.json, keys)
    except (OSError, BaseExceptionGroup) as exc:  # the port was taken since the check
        cause = exc.subgroup(OSError) if isinstance(exc, BaseExceptionGroup) else exc
        if cause is None:
            raise
        where = f"{config.host}:{config.port}"
        raise ConfigError(f"cannot serve JSON-RPC on {where}: {cause}") from None
    return 0


def cli(
    argv: list[str],
    *,
    base: DevchainConfig | None = None,
    setup_logging: Callable[[str, str], Any] | None = None,
) -> int:
    """``relayhub devchain start [flags]`` over ``base`` (a config file's values, read by
    the command outside the app chain); ``setup_logging(level, format)`` is relayhub's
    when given (the standard library's, in the same format, otherwise)."""
    args = build_parser().parse_args(argv)
    level = args.log_level or (base.log_level if base is not None else "info")
    fmt = base.log_format if base is not None else "text"
    (setup_logging or stdlib_logging)(level, fmt)
    try:
        return start(args, base)
    except ConfigError as exc:
        print(f"error [{CONFIG_CODE}]: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the signal handlers were installed
        print("relayhub devchain: interrupted", file=sys.stderr)
        return 130
