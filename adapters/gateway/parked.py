"""What a gateway set aside, persisted: ``data_dir/parked.sqlite3`` (I/O shell).

Two kinds of item (docs/gateway.md, "Set aside"):

* a **delivery** (relay → chain) the chain kept refusing: the stream entry as the
  relay sent it (IBTP without proof, status, relay signatures), keyed ``d:<seq>``;
* a **submission** (chain → relay) the relay kept refusing: the IBTP with its proof,
  keyed ``s:<ibtp id>:<type>``.

Each item has the last refusal's reason, the attempts made, and, for an item set
aside only because an earlier one of the same ordered pair was (``blocked_by``), that
item's key. An operator lists them (``relayhub gateway parked``) and asks for a retry
(``relayhub gateway retry``); a running gateway picks the request up within a couple
of seconds. The file is SQLite in WAL mode, so the CLI reads it while the gateway
writes, and an item survives ``kill -9``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from relay.ibtp import IBTP, IBTPType

DELIVER, SUBMIT = "deliver", "submit"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parked (
    key TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ibtp_id TEXT NOT NULL,
    type INTEGER NOT NULL,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status INTEGER NOT NULL,
    ibtp BLOB NOT NULL,
    sigs BLOB NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    parked_at REAL NOT NULL,
    blocked_by TEXT NOT NULL,
    retry INTEGER NOT NULL DEFAULT 0
)
"""
_COLUMNS = (
    "key, direction, seq, ibtp_id, type, src, dst, idx, status, ibtp, sigs, reason, "
    "attempts, parked_at, blocked_by, retry"
)


@dataclass(frozen=True, slots=True)
class ParkedItem:
    key: str
    direction: str
    seq: int  # stream position of a delivery; 0 for a submission
    ibtp_id: str
    type: IBTPType
    src: str
    dst: str
    index: int
    status: int  # the status a delivery's relay proof announces; 0 for a submission
    ibtp: bytes  # canonical bytes (a submission's with its proof)
    sigs: tuple[bytes, ...]
    reason: str
    attempts: int
    parked_at: float
    blocked_by: str = ""
    retry: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "direction": self.direction,
            "seq": self.seq,
            "ibtp_id": self.ibtp_id,
            "type": self.type.name,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "parked_at": self.parked_at,
            "blocked_by": self.blocked_by,
            "retry_requested": self.retry,
        }


def delivery_key(seq: int) -> str:
    return f"d:{seq}"


def submission_key(ibtp: IBTP) -> str:
    return f"s:{ibtp.id}:{int(ibtp.type)}"


def ordered_pair(ibtp: IBTP) -> tuple[str, str] | None:
    """The pair whose index order a message takes part in: requests of one pair are
    executed (and admitted) strictly in index order; receipts and rollbacks are not."""
    return (ibtp.src, ibtp.dst) if ibtp.type == IBTPType.INTERCHAIN else None


class ParkedStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.execute("CREATE INDEX IF NOT EXISTS parked_retry ON parked (retry, direction)")
        # (direction, src, dst) -> lowest parked request index of that pair, so that
        # a later request of the pair is set aside behind it instead of being tried.
        self._heads: dict[tuple[str, str, str], tuple[int, str]] = {}
        for item in self.items():
            self._note_head(item)

    def close(self) -> None:
        self._db.close()

    def _note_head(self, item: ParkedItem) -> None:
        if item.type != IBTPType.INTERCHAIN:
            return
        k = (item.direction, item.src, item.dst)
        head = self._heads.get(k)
        if head is None or item.index < head[0]:
            self._heads[k] = (item.index, item.key)

    def _rebuild_heads(self) -> None:
        self._heads.clear()
        for item in self.items():
            self._note_head(item)

    def blocker(self, direction: str, ibtp: IBTP) -> str | None:
        """The key of a parked request that ``ibtp`` must wait behind, or None."""
        pair = ordered_pair(ibtp)
        if pair is None:
            return None
        head = self._heads.get((direction, *pair))
        if head is None or head[0] >= ibtp.index:
            return None
        return head[1]

    def add(self, item: ParkedItem) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO parked ({_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.key,
                item.direction,
                item.seq,
                item.ibtp_id,
                int(item.type),
                item.src,
                item.dst,
                item.index,
                item.status,
                item.ibtp,
                msgpack.packb(list(item.sigs), use_bin_type=True),
                item.reason[:2000],
                item.attempts,
                item.parked_at,
                item.blocked_by,
                int(item.retry),
            ),
        )
        self._note_head(item)

    def remove(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        self._db.executemany("DELETE FROM parked WHERE key = ?", [(k,) for k in keys])
        self._rebuild_heads()

    def items(self, direction: str | None = None) -> list[ParkedItem]:
        """Every parked item, deliveries by stream position, then submissions by pair
        and index (the order a retry must follow)."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM parked ORDER BY direction, seq, src, dst, idx, type"
        ).fetchall()
        out = [_item(r) for r in rows]
        return out if direction is None else [i for i in out if i.direction == direction]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM parked").fetchone()[0])

    def request_retry(self, key: str | None = None) -> int:
        """Mark one item (or all, ``key=None``) for a retry; returns how many were marked.
        An item retried also retries the items blocked behind it, in order."""
        if key is None:
            cur = self._db.execute("UPDATE parked SET retry = 1")
        else:
            cur = self._db.execute(
                "UPDATE parked SET retry = 1 WHERE key = ? OR blocked_by = ?", (key, key)
            )
        return int(cur.rowcount)

    def take_retries(self, direction: str) -> list[ParkedItem]:
        """The items an operator asked to retry (in retry order), cleared of the flag. Reads
        only flagged rows (an index on ``retry``), so a large store costs nothing here."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM parked WHERE retry = 1 AND direction = ? "
            "ORDER BY seq, src, dst, idx, type",
            (direction,),
        ).fetchall()
        items = [_item(r) for r in rows]
        if items:
            self._db.executemany(
                "UPDATE parked SET retry = 0 WHERE key = ?", [(i.key,) for i in items]
            )
        return items


def _item(row: tuple[Any, ...]) -> ParkedItem:
    (key, direction, seq, ibtp_id, typ, src, dst, idx, status, ibtp, sigs, reason) = row[:12]
    attempts, parked_at, blocked_by, retry = row[12:]
    return ParkedItem(
        key=str(key),
        direction=str(direction),
        seq=int(seq),
        ibtp_id=str(ibtp_id),
        type=IBTPType(int(typ)),
        src=str(src),
        dst=str(dst),
        index=int(idx),
        status=int(status),
        ibtp=bytes(ibtp),
        sigs=tuple(msgpack.unpackb(bytes(sigs), raw=False)),
        reason=str(reason),
        attempts=int(attempts),
        parked_at=float(parked_at),
        blocked_by=str(blocked_by),
        retry=bool(retry),
    )


def now() -> float:
    """Wall-clock time of a parking, for operators (never used in a decision)."""
    return time.time()
