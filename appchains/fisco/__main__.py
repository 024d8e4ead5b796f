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
import sys

import trio

from appchains.devchain_cli import (
    CONFIG_CODE,
    Flags,
    config_layers,
    stdlib_logging,
)
from appchains.devchain_cli import build_parser as build_flag_parser
from appchains.fisco.config import ConfigError, FiscoConfig, config_from_mapping

FLAGS: Flags = {
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
    return build_flag_parser(
        "python -m appchains.fisco", (__doc__ or "").split("\n")[0], "fisco", FLAGS
    )


def load_config(args: argparse.Namespace) -> FiscoConfig:
    table, flags = config_layers(args, "fisco", FLAGS, ConfigError)
    base = FiscoConfig() if table is None else config_from_mapping(table, FiscoConfig())
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
    stdlib_logging(config.log_level)
    try:
        trio.run(serve, config)
    except (ConfigError, StoreError, OSError, ValueError) as exc:
        print(f"error [{CONFIG_CODE}]: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
