"""``relayhub gateway start --config gateway.toml``: run one gateway until stopped."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

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
    """Run until SIGINT / SIGTERM, which stop it cleanly at any point (also while it
    waits for the relay or the chain to come up)."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signal, signals, nursery.cancel_scope, config)
            await _serve(config)
            nursery.cancel_scope.cancel()
    print(f"relayhub gateway: {config.chain_id} stopped", flush=True)


async def _stop_on_signal(signals: Any, scope: trio.CancelScope, config: GatewayConfig) -> None:
    async for signum in signals:
        print(
            f"relayhub gateway: {config.chain_id}: {signal.Signals(signum).name}, stopping",
            flush=True,
        )
        scope.cancel()
        return


async def _serve(config: GatewayConfig) -> None:
    adapter = AdapterRegistry.from_entry_points().create(
        config.chain_type, {**config.chain, "id": config.chain_id}
    )
    account = read_key_file(config.key)
    async with (
        AsyncRelayClient(config.relay, account=account) as client,
        open_gateway(config, adapter, client) as gw,
    ):
        print(
            f"relayhub gateway: {config.chain_id} ({config.chain_type}) running: relay "
            f"{config.relay}, checkpoint {gw.state.checkpoint}, stream seq {gw.state.seq}"
            + (f", admin http://{config.admin}" if config.admin else "")
            + " (Ctrl-C to stop)",
            flush=True,
        )
        await trio.sleep_forever()


def relay_error_in(exc: BaseException) -> RelayError | None:
    """The RelayError that ended a run, also from inside trio's exception groups."""
    if isinstance(exc, RelayError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = relay_error_in(inner)
            if found is not None:
                return found
    return None


DESCRIPTION = """\
Run a gateway: it watches one app chain's broker and submits its interchain messages,
with proofs, to the relay; and it delivers what the relay routes to the chain.
docs/gateway.md describes gateway.toml."""


def build_parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="relayhub gateway",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="cmd", metavar="ACTION", required=True)
    start = sub.add_parser(
        "start",
        help="run a gateway until Ctrl-C / SIGTERM",
        description="Check the chain against its registration on the relay, then run.",
    )
    start.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    add_verbosity_flags(start)
    parked = sub.add_parser(
        "parked", help="list what the gateway set aside", description=parked_main.__doc__
    )
    parked.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    parked.add_argument("--json", action="store_true", help="one JSON document on stdout")
    retry = sub.add_parser(
        "retry", help="send set-aside items again", description=parked_main.__doc__
    )
    retry.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="retry every set-aside item")
    which.add_argument("--key", help="the item's key, as `parked` lists it (d:SEQ, s:...)")
    return top


def cli(argv: list[str]) -> int:
    """``relayhub gateway start|parked|retry --config FILE`` (the ``relayhub.commands``
    entry point)."""
    args = build_parser().parse_args(argv)
    if args.cmd == "start":
        return start(args)
    return parked_main(args)


def parked_main(args: argparse.Namespace) -> int:
    """List set-aside items, or ask the (running or next) gateway to retry them. Reads
    and writes ``data_dir/parked.sqlite3`` directly, so it works whether or not the
    gateway is running."""
    command = args.cmd
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


def start(args: argparse.Namespace) -> int:
    try:
        config = GatewayConfig.load(args.config)
        setup_logging(config.log_level, config.log_format, verbose=args.verbose, quiet=args.quiet)
        trio.run(run_gateway, config)
    except KeyboardInterrupt:  # before the signal handlers were installed
        print("relayhub gateway: interrupted", file=sys.stderr)
        return 130
    except ConfigError as exc:
        for line in exc.problems:
            print(f"error [{exc.code}]: {line}", file=sys.stderr)
        return 2
    except (RelayError, OSError, BaseExceptionGroup) as exc:
        err = relay_error_in(exc)
        if err is None:
            os_error = exc.subgroup(OSError) if isinstance(exc, BaseExceptionGroup) else exc
            if os_error is None:
                raise
            while isinstance(os_error, BaseExceptionGroup):
                os_error = os_error.exceptions[0]
            err = RelayError(Code.CONFIG, f"gateway for {args.config}: {os_error}")
        print(f"error [{err.code}]: {err.message}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``relayhub gateway start`` with its arguments (kept for ``python -m``)."""
    return cli(["start", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
