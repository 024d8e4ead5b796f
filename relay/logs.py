"""One log setup for every relayhub process (relay, gateway, dev chain, harness).

Records go to stderr, one per line, in one of two formats:

* ``text``: ``2026-12-01T15:02:52.123Z INFO    relayhub.relay: message``
  (UTC, millisecond precision, level padded to 7, logger name);
* ``json``: one JSON object per line, ``{"ts", "level", "logger", "msg"}`` plus any
  ``extra={...}`` fields of the record and ``"exc"`` for a traceback.

The level comes from the config file's ``log_level`` and is moved by ``-v`` (one
step more verbose each) and ``-q`` (one step quieter each).

Also the bounded committed-blocks log of the relay (:class:`BlockLog`): at most one
line per interval, summarising what was committed since the last line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

from relay.config import LOG_FORMATS, LOG_LEVELS

#: Time, level, logger, message (the text format; the dev chain's fallback mirrors it).
TEXT_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, DATE_FORMAT)
        self.converter = _utc


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.converter = _utc

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self.formatTime(record, DATE_FORMAT) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _STANDARD and not k.startswith("_"):
                doc[k] = v
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def level_number(level: str, verbose: int = 0, quiet: int = 0) -> int:
    """``log_level`` moved ``verbose`` steps towards debug and ``quiet`` towards error."""
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"log level {level!r}: one of {', '.join(LOG_LEVELS)}")
    i = LOG_LEVELS.index(level.lower()) - verbose + quiet
    return getattr(logging, LOG_LEVELS[min(max(i, 0), len(LOG_LEVELS) - 1)].upper())


def setup_logging(
    level: str = "info",
    fmt: str = "text",
    *,
    verbose: int = 0,
    quiet: int = 0,
    stream: IO[str] | None = None,
) -> int:
    """Send every record at or above the level to ``stream`` (stderr) in ``fmt``;
    replaces any earlier setup. Returns the level (a ``logging`` number)."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r}: one of {', '.join(LOG_FORMATS)}")
    number = level_number(level, verbose, quiet)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    # Client libraries log every request at INFO: only with debug.
    for noisy in ("httpx", "httpcore", "hypercorn.access", "trio-websocket"):
        logging.getLogger(noisy).setLevel(max(number, logging.WARNING))
    return number


def add_verbosity_flags(parser: Any) -> None:
    """``-v`` / ``-q`` (repeatable) on an argparse parser: ``args.verbose``, ``args.quiet``."""
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeatable)"
    )
    parser.add_argument(
        "-q", "--quiet", action="count", default=0, help="less log output (repeatable)"
    )


@dataclass
class BlockLog:
    """Committed blocks, summarised: :meth:`add` each block, :meth:`take` a line at most
    once per ``interval`` (the caller's clock; None when nothing was committed)."""

    interval: float = 1.0
    blocks: int = 0
    txs: int = 0
    ibtps: int = 0
    routed: int = 0
    height: int = 0
    _last: float | None = None

    def add(self, height: int, txs: int, ibtps: int, routed: int) -> None:
        self.blocks += 1
        self.txs += txs
        self.ibtps += ibtps
        self.routed += routed
        self.height = height

    def take(self, now: float) -> dict[str, int] | None:
        """The summary since the last one (``blocks, height, txs, ibtps, routed``), or
        None when nothing was committed or the last one is less than ``interval`` old."""
        if not self.blocks or (self._last is not None and now - self._last < self.interval):
            return None
        summary = {
            "blocks": self.blocks,
            "height": self.height,
            "txs": self.txs,
            "ibtps": self.ibtps,
            "routed": self.routed,
        }
        self._last = now
        self.blocks = self.txs = self.ibtps = self.routed = 0
        return summary


def describe_blocks(summary: dict[str, int]) -> str:
    n = summary["blocks"]
    return (
        f"committed {n} block{'s' if n != 1 else ''} up to height {summary['height']}: "
        f"{summary['txs']} txs, {summary['ibtps']} IBTPs in, {summary['routed']} routed"
    )
