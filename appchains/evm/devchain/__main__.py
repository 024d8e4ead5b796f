"""``python -m appchains.evm.devchain``: run a dev chain until interrupted.

Prints one JSON line on stdout once the server listens (url, chain info and, for
derived keys, the dev account and relay keys), then logs to stderr. SIGINT and
SIGTERM stop it cleanly; ``kill -9`` loses only blocks not yet committed.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from appchains.evm.devchain.config import (
    ConfigError,
    DevchainConfig,
    config_from_mapping,
    load_config,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m appchains.evm.devchain", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--config", type=Path, help="TOML file (fields of DevchainConfig); flags override it"
    )
    p.add_argument(
        "--port", type=int, help="JSON-RPC port on 127.0.0.1 (0 = any free port; default 8545)"
    )
    p.add_argument(
        "--data-dir", help="directory for the SQLite store (default: in memory, lost on exit)"
    )
    p.add_argument("--chain-id", type=int, help="EVM chain ID (default 1337)")
    p.add_argument("--chain-name", help="relayhub chain ID string of this chain (default evm1)")
    p.add_argument("--hub-id", help="relayhub hub ID the broker belongs to (default hub0)")
    p.add_argument("--validators", type=int, help="number of PoA validators (default 4)")
    p.add_argument("--threshold", type=int, help="seals needed per block (default 3)")
    p.add_argument("--sealers", type=int, help="validators that seal each block (default all)")
    p.add_argument("--seed", help="derive every key from this seed (deterministic chain)")
    p.add_argument("--block-interval", help="minimum time between blocks, e.g. 0.1 or 100ms")
    p.add_argument("--empty-block-interval", help="empty block after this idle time (0 = never)")
    p.add_argument("--relay-validators", help="comma-separated relay validator addresses")
    p.add_argument("--relay-threshold", type=int, help="relay signatures the broker needs")
    p.add_argument("--accounts", type=int, help="number of funded dev accounts (default 10)")
    p.add_argument(
        "--service-owner",
        help="address that owns the example services (sets AssetTransfer's counterparts; "
        "default dev account 0)",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return p


def config_from_args(args: argparse.Namespace) -> DevchainConfig:
    defaults = DevchainConfig(port=8545)
    base = load_config(args.config, defaults) if args.config else defaults
    overrides: dict[str, Any] = {}
    for name in (
        "port",
        "data_dir",
        "chain_id",
        "chain_name",
        "hub_id",
        "validators",
        "threshold",
        "sealers",
        "seed",
        "block_interval",
        "empty_block_interval",
        "relay_validators",
        "relay_threshold",
        "accounts",
        "service_owner",
    ):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    return config_from_mapping(overrides, base).check()


async def run(config: DevchainConfig) -> None:
    from appchains.evm.devchain.node import open_devchain

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with open_devchain(config) as chain:
            setup = chain.setup
            info: dict[str, Any] = {"url": chain.url, **chain.node.chain_info(), "seed": setup.seed}
            info["dataDir"] = str(config.data_dir) if config.data_dir else None
            info["accountKeys"] = ["0x" + k.secret.hex() for k in setup.account_keys]
            info["relayKeys"] = ["0x" + k.secret.hex() for k in setup.relay_keys]
            info["head"] = chain.node.head_number()
            print(json.dumps(info), flush=True)
            logging.getLogger("relayhub.devchain").info(
                "dev chain %s (chain id %d) at %s, head %d",
                config.chain_name,
                config.chain_id,
                chain.url,
                chain.node.head_number(),
            )
            async for _ in signals:
                break


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error [6006]: {exc}", file=sys.stderr)
        return 2
    try:
        trio.run(run, config)
    except ConfigError as exc:
        print(f"error [6006]: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
