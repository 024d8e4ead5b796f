"""What the runnable dev chains' command lines share (``python -m appchains.fabric``,
``python -m appchains.fisco``): flags over a TOML file's table over the defaults, the
log format, the error code of a bad configuration."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s"
#: relay.errors.Code.CONFIG (app chains import nothing of the relay).
CONFIG_CODE = 6006

#: config field -> (flag, parser, help)
Flags = dict[str, tuple[str, Callable[[str], Any], str]]


def build_parser(prog: str, description: str, table: str, flags: Flags) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument(
        "--config", type=Path, metavar="FILE", help=f"a TOML file with a [{table}] table"
    )
    for name, (flag, kind, text) in flags.items():
        p.add_argument(flag, dest=name, type=kind, help=text)
    return p


def config_layers(
    args: argparse.Namespace, table: str, flags: Flags, error: type[Exception]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The ``[table]`` of ``--config`` (None without one) and the flags given, the later
    over the former; ``error`` for a file that cannot be read or is no table."""
    found: dict[str, Any] | None = None
    if args.config is not None:
        try:
            loaded = tomllib.loads(args.config.read_text(encoding="utf-8")).get(table, {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise error(f"--config {args.config}: {exc}") from None
        if not isinstance(loaded, dict):
            raise error(f"--config {args.config}: [{table}] must be a table")
        found = loaded
    given = {name: getattr(args, name) for name in flags if getattr(args, name) is not None}
    return found, given


def stdlib_logging(level: str) -> None:
    """Logs to stderr, UTC timestamps with milliseconds."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
