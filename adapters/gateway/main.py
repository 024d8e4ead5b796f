"""``relayhub gateway start --config gateway.toml``: run one gateway until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import trio

from adapters.base import AdapterRegistry
from adapters.gateway.config import GatewayConfig
from adapters.gateway.runtime import open_gateway
from relay.crypto import read_key_file
from relay.errors import RelayError
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


def cli(argv: list[str]) -> int:
    """``relayhub gateway start --config FILE`` (the ``relayhub.commands`` entry point)."""
    if not argv or argv[0] != "start":
        print("usage: relayhub gateway start --config gateway.toml [-v]", file=sys.stderr)
        return 2
    return main(argv[1:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="relayhub gateway start")
    p.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        trio.run(run_gateway, GatewayConfig.load(args.config))
    except RelayError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
