"""``python -m appchains.fabric``: run a Fabric dev chain until interrupted.

Prints one JSON line on stdout once every peer listens (channel, MSP IDs, peer
endpoints, the data dir's ``crypto/network.json``), then logs to stderr. SIGINT and
SIGTERM stop it cleanly; ``kill -9`` loses only transactions not yet in a committed
block (clients resubmit them). Settings: ``--config FILE`` (a TOML ``[fabric]``
table, appchains.fabric.config), then the flags over it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from appchains.devchain_cli import (
    CONFIG_CODE,
    Flags,
    config_layers,
    stdlib_logging,
)
from appchains.devchain_cli import build_parser as build_flag_parser
from appchains.fabric.config import ConfigError, FabricConfig, config_from_mapping

#: The text log format of every relayhub process (relay/logs.py TEXT_FORMAT).
#: The relay's CONFIG error code (docs/protocol.md §6).

FLAGS: Flags = {
    "chain_name": ("--chain-name", str, "relayhub chain ID of this chain (default fabric1)"),
    "hub_id": ("--hub-id", str, "relayhub hub ID the broker belongs to (default hub0)"),
    "channel": ("--channel", str, "channel name (default mychannel)"),
    "orgs": ("--orgs", int, "application orgs, one peer each (default 2)"),
    "seed": ("--seed", str, "derive every key from this seed (deterministic chain)"),
    "ports": ("--ports", str, "comma-separated gRPC port per peer (default: any free)"),
    "max_message_count": ("--batch-size", int, "transactions per block at most (default 10)"),
    "batch_timeout": ("--batch-timeout", str, 'a block this long after its first tx ("500ms")'),
    "relay_validators": ("--relay-validators", str, "comma-separated relay validator addresses"),
    "relay_threshold": ("--relay-threshold", int, "relay signatures the broker needs"),
    "chaincodes": ("--chaincodes", str, "comma-separated chaincode providers module:attribute"),
    "data_dir": ("--data-dir", str, "directory for the ledger and crypto/ (default: memory)"),
    "log_level": ("--log-level", str.lower, "debug, info, warning or error (default info)"),
}


def build_parser() -> argparse.ArgumentParser:
    return build_flag_parser(
        "python -m appchains.fabric", (__doc__ or "").split("\n")[0], "fabric", FLAGS
    )


def load_config(args: argparse.Namespace) -> FabricConfig:
    table, flags = config_layers(args, "fabric", FLAGS, ConfigError)
    base = FabricConfig() if table is None else config_from_mapping(table, FabricConfig())
    return config_from_mapping(flags, base).check()


def main(argv: list[str] | None = None) -> int:
    from appchains.fabric.node import open_fabric_chain
    from appchains.fabric.store import StoreError

    args = build_parser().parse_args(argv)
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"error [{CONFIG_CODE}]: {exc}", file=sys.stderr)
        return 2
    stdlib_logging(config.log_level)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with open_fabric_chain(config) as chain:
            info = {
                "chain": config.chain_name,
                "channel": chain.setup.channel_id,
                "orgs": list(chain.setup.msp_ids),
                "peers": chain.endpoints,
                "chaincodes": chain.net.registry.names(),
                "height": chain.net.store.height(),
                "dataDir": str(config.data_dir) if config.data_dir else None,
                "network": str(chain.network_file) if chain.network_file else None,
            }
            print(json.dumps(info), flush=True)
            while not stop.wait(1.0):
                pass
    except (ConfigError, StoreError, OSError, ValueError) as exc:
        print(f"error [{CONFIG_CODE}]: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
