"""``python -m appchains.evm.devchain``: run a dev chain until interrupted.

Prints one JSON line on stdout once the server listens (url, chain info and, for
derived keys, the dev account and relay keys), then logs to stderr. SIGINT and
SIGTERM stop it cleanly; ``kill -9`` loses only blocks not yet committed.

Settings come from flags. A TOML file is read outside the app chain, by relayhub's
config loader: ``python -m benchmarks.harness.devchain_config --config FILE`` (the
same flags override the file), which also logs in relayhub's shared format. Run
alone, this module logs in the same text format through the standard library.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import trio

from appchains.evm.devchain.config import ConfigError, DevchainConfig, config_from_mapping

#: The text log format of every relayhub process (relay/logs.py TEXT_FORMAT; a test
#: keeps the two equal), for a dev chain run without relayhub.
LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m appchains.evm.devchain", description=__doc__.split("\n")[0]
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
    p.add_argument(
        "--block-interval", type=float, metavar="SECONDS", help="least time between blocks"
    )
    p.add_argument(
        "--empty-block-interval",
        type=float,
        metavar="SECONDS",
        help="an empty block after this idle time (0 = never)",
    )
    p.add_argument("--relay-validators", help="comma-separated relay validator addresses")
    p.add_argument("--relay-threshold", type=int, help="relay signatures the broker needs")
    p.add_argument("--accounts", type=int, help="number of funded dev accounts (default 10)")
    p.add_argument(
        "--service-owner",
        help="address that owns the example services (sets AssetTransfer's counterparts; "
        "default dev account 0)",
    )
    p.add_argument(
        "--log-level", type=str.lower, help="debug, info, warning or error (default info)"
    )
    return p


def config_from_args(
    args: argparse.Namespace, base: DevchainConfig | None = None
) -> DevchainConfig:
    """``base`` (default: the defaults on port 8545) with the flags given applied."""
    base = base if base is not None else DevchainConfig(port=8545)
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
        "log_level",
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


def stdlib_logging(level: str, fmt: str) -> None:
    """relayhub's log line format with the standard library (an app chain imports
    nothing of the relay; tests keep the two formats equal)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def main(
    argv: list[str] | None = None,
    *,
    base: DevchainConfig | None = None,
    setup_logging: Callable[[str, str], Any] | None = None,
) -> int:
    """Run a dev chain from flags over ``base``; ``setup_logging(level, format)`` is
    relayhub's when a relayhub command starts it (the standard library's otherwise)."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args, base)
    except ConfigError as exc:
        print(f"error [6006]: {exc}", file=sys.stderr)
        return 2
    (setup_logging or stdlib_logging)(config.log_level, config.log_format)
    try:
        trio.run(run, config)
    except ConfigError as exc:
        print(f"error [6006]: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
