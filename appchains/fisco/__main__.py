"""``python -m appchains.fisco``: run the FISCO BCOS-like dev chain until interrupted.

Prints one JSON line on stdout once JSON-RPC listens (``url``, group, mode, sealers,
contract addresses, data dir), then logs to stderr. SIGINT and SIGTERM stop it cleanly;
``kill -9`` loses only transactions not yet in a committed block (clients resubmit).
Settings: ``--config FILE`` (a TOML ``[fisco]`` table, :mod:`appchains.fisco.config`),
then the flags over it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from appchains.fisco.config import ConfigError, FiscoConfig, config_from_mapping

LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s"
CONFIG_CODE = 6006

FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "chain_name": ("--chain-name", str, "relayhub chain ID of this chain (default fisco1)"),
    "hub_id": ("--hub-id", str, "relayhub hub ID the broker belongs to (default hub0)"),
    "chain_id": ("--chain-id", int, "FISCO chain.id (default 1)"),
    "group_id": ("--group-id", int, "the group (default 1)"),
    "mode": ("--mode", str, "secp256k1 (default) or sm (国密)"),
    "sealers": ("--sealers", int, "PBFT sealers (default 4)"),
    "seed": ("--seed", str, "derive every key from this seed (deterministic chain)"),
    "accounts": ("--accounts", int, "dev accounts (default 10)"),
    "relay_validators": ("--relay-validators", str, "comma-separated relay validator addresses"),
    "relay_threshold": ("--relay-threshold", int, "relay signatures the broker needs"),
    "block_interval": ("--block-interval", str, 'least time between blocks ("100ms")'),
    "host": ("--host", str, "JSON-RPC address (loopback)"),
    "port": ("--port", int, "JSON-RPC port (default: any free)"),
    "data_dir": ("--data-dir", str, "directory of the SQLite store (default: memory)"),
    "log_level": ("--log-level", str.lower, "debug, info, warning or error (default info)"),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m appchains.fisco", description=__doc__.split("\n")[0]
    )
    p.add_argument("--config", type=Path, metavar="FILE", help="a TOML file with a [fisco] table")
    for name, (flag, kind, text) in FLAGS.items():
        p.add_argument(flag, dest=name, type=kind, help=text)
    return p


def load_config(args: argparse.Namespace) -> FiscoConfig:
    base = FiscoConfig()
    if args.config is not None:
        try:
            table = tomllib.loads(args.config.read_text(encoding="utf-8")).get("fisco", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"--config {args.config}: {exc}") from None
        if not isinstance(table, dict):
            raise ConfigError(f"--config {args.config}: [fisco] must be a table")
        base = config_from_mapping(table, base)
    flags = {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}
    return config_from_mapping(flags, base).check()


async def serve(config: FiscoConfig) -> None:
    from appchains.fisco.node import open_fisco_chain

    async with open_fisco_chain(config) as chain:
        setup = chain.setup
        info = {
            "chain": config.chain_name,
            "url": chain.url,
            "groupId": config.group_id,
            "chainId": config.chain_id,
            "mode": config.mode,
            "sealers": [n.hex() for n in setup.sealer_list],
            "broker": "0x" + setup.broker.hex(),
            "assetTransfer": "0x" + setup.asset_transfer.hex(),
            "dataSwap": "0x" + setup.data_swap.hex(),
            "height": chain.node.head_number(),
            "dataDir": str(config.data_dir) if config.data_dir else None,
        }
        print(json.dumps(info), flush=True)
        with trio.open_signal_receiver(2, 15) as signals:
            async for _ in signals:
                return


def main(argv: list[str] | None = None) -> int:
    from appchains.fisco.store import StoreError

    args = build_parser().parse_args(argv)
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"error [{CONFIG_CODE}]: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=config.log_level.upper(), handlers=[handler], force=True)
    try:
        trio.run(serve, config)
    except (ConfigError, StoreError, OSError, ValueError) as exc:
        print(f"error [{CONFIG_CODE}]: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
