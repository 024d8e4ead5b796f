"""``relayhub gateway start --config gateway.toml``: run one gateway until stopped."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

import trio

from adapters.base import AdapterRegistry
from adapters.gateway.config import GatewayConfig
from adapters.gateway.parked import ParkedStore
from adapters.gateway.runtime import open_gateway
from relay.config import ConfigError
from relay.crypto import read_key_file
from relay.errors import Code, RelayError
from relay.logs import add_verbosity_flags, setup_logging
from relay.sdk.aio import AsyncRelayClient

log = logging.getLogger("relayhub.gateway")


async def run_gateway(config: GatewayConfig) -> None:
    adapter = AdapterRegistry.from_entry_points().create(
        config.chain_type, {**config.chain, "id": config.chain_id}
    )
    account = read_key_file(config.key)
    async with (
        AsyncRelayClient(config.relay, account=account) as client,
        open_gateway(config, adapter, client) as gw,
    ):
        log.info(
            "gateway for %s (%s) running: relay %s, checkpoint %d, stream seq %d",
            config.chain_id,
            config.chain_type,
            config.relay,
            gw.state.checkpoint,
            gw.state.seq,
        )
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                log.info("gateway for %s stopping", config.chain_id)
                return


USAGE = """usage: relayhub gateway start  --config gateway.toml [-v|-q]
       relayhub gateway parked --config gateway.toml [--json]
       relayhub gateway retry  --config gateway.toml (--all | --key KEY)"""


def cli(argv: list[str]) -> int:
    """``relayhub gateway start|parked|retry --config FILE`` (the ``relayhub.commands``
    entry point)."""
    if not argv or argv[0] not in ("start", "parked", "retry"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "start":
        return main(argv[1:])
    return parked_main(argv[0], argv[1:])


def parked_main(command: str, argv: list[str]) -> int:
    """List set-aside items, or ask the (running or next) gateway to retry them. Reads
    and writes ``data_dir/parked.sqlite3`` directly, so it works whether or not the
    gateway is running."""
    p = argparse.ArgumentParser(prog=f"relayhub gateway {command}")
    p.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    if command == "parked":
        p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    else:
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="retry every set-aside item")
        which.add_argument("--key", help="the item's key, as `parked` lists it (d:SEQ, s:...)")
    args = p.parse_args(argv)
    try:
        config = GatewayConfig.load(args.config)
    except RelayError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    store = ParkedStore(config.data_dir / "parked.sqlite3")
    try:
        if command == "retry":
            marked = store.request_retry(None if args.all else args.key)
            if not marked:
                print(f"error [{Code.NOT_FOUND}]: no set-aside item {args.key!r}", file=sys.stderr)
                return 2
            print(f"{marked} item(s) marked; the gateway sends them again within seconds")
            return 0
        items = store.items()
        if args.json:
            print(json.dumps({"items": [i.to_json() for i in items]}, indent=2))
            return 0
        if not items:
            print(f"nothing set aside for chain {config.chain_id}")
            return 0
        for i in items:
            behind = f" (behind {i.blocked_by})" if i.blocked_by else ""
            print(f"{i.key}  {i.direction}  {i.ibtp_id}  {i.type.name}  x{i.attempts}{behind}")
            print(f"    {i.reason}")
        return 0
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="relayhub gateway start")
    p.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    add_verbosity_flags(p)
    args = p.parse_args(argv)
    try:
        config = GatewayConfig.load(args.config)
        setup_logging(config.log_level, config.log_format, verbose=args.verbose, quiet=args.quiet)
        trio.run(run_gateway, config)
    except RelayError as exc:
        for line in exc.problems if isinstance(exc, ConfigError) else [exc.message]:
            print(f"error [{exc.code}]: {line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
