"""SQLite ledger store (the I/O edge of the ledger).

One SQLite file in WAL mode. A block, its transactions and receipts, its state
changes and the relay proofs it produced are written in **one** SQLite
transaction, so after ``kill -9`` at any moment the store holds exactly the
blocks that committed and nothing half-written. ``synchronous=NORMAL`` (the
default durability ``"normal"``) survives a process crash; ``"full"`` also
survives power loss at some throughput cost.

Two connections: a reader used by the event loop (queries, state reads) and a
writer used by the committer thread. WAL lets the reader see the last committed
snapshot while a commit is in progress.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack

from relay.errors import Code, StorageError
from relay.ledger.types import Block, BlockHeader, Transaction, TxReceipt, decode_tx, encode_tx

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    header BLOB NOT NULL,
    signatures BLOB NOT NULL,
    diff BLOB NOT NULL,
    tx_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
    hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    raw BLOB NOT NULL,
    receipt BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS txs_by_height ON txs (height, idx);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS relay_sigs (
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sigs BLOB NOT NULL,
    PRIMARY KEY (chain, seq)
) WITHOUT ROWID;
"""

_PREFIX_END = "\U0010ffff"


def _pack(v: Any) -> bytes:
    return msgpack.packb(v, use_bin_type=True)


def _unpack(b: bytes) -> Any:
    return msgpack.unpackb(b, raw=False)


class Store:
    def __init__(self, path: Path, durability: str = "normal") -> None:
        if durability not in ("normal", "full"):
            raise StorageError(Code.CONFIG, "durability must be 'normal' or 'full'")
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        sync = "NORMAL" if durability == "normal" else "FULL"
        self._writer = self._connect(sync)
        self._writer.executescript(SCHEMA)
        self._reader = self._connect(sync)
        self._write_lock = threading.Lock()

    def _connect(self, sync: str) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={sync}")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA cache_size=-65536")
        except sqlite3.Error as exc:
            raise StorageError(Code.STORAGE, f"cannot open ledger {self.path}: {exc}") from None
        return conn

    def close(self) -> None:
        self._reader.close()
        self._writer.close()

    # --- meta -----------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self._reader.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else _unpack(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self._write_lock:
            self._writer.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, _pack(value))
            )

    # --- state (StateReader) --------------------------------------------------

    def get_committed(self, key: str) -> Any:
        row = self._reader.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return None if row is None else _unpack(row[0])

    def scan_committed(self, prefix: str) -> Iterator[tuple[str, Any]]:
        rows = self._reader.execute(
            "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix + _PREFIX_END),
        ).fetchall()
        return ((k, _unpack(v)) for k, v in rows)

    # --- blocks ---------------------------------------------------------------

    def commit_block(
        self,
        block: Block,
        diff: bytes,
        writes: dict[str, Any],
        relay_sigs: list[tuple[str, int, list[bytes]]],
        *,
        rows: list[tuple[str, bytes | None]] | None = None,
        receipts: list[bytes] | None = None,
    ) -> None:
        """Write one block and everything it changed, atomically.

        ``rows`` (from ``encode_state_diff_rows``) and ``receipts`` (each receipt's
        ``encode()``) may be passed when the caller already encoded them."""
        h = block.header
        if receipts is None:
            receipts = [r.encode() for r in block.receipts]
        if rows is None:
            ups = [(k, _pack(v)) for k, v in writes.items() if v is not None]
            dels = [(k,) for k, v in writes.items() if v is None]
        else:
            ups = [(k, vb) for k, vb in rows if vb is not None]
            dels = [(k,) for k, vb in rows if vb is None]
        with self._write_lock:
            c = self._writer
            try:
                c.execute("BEGIN IMMEDIATE")
                c.execute(
                    "INSERT INTO blocks(height, hash, header, signatures, diff, tx_count) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        h.height,
                        block.hash,
                        h.encode(),
                        _pack(list(block.signatures)),
                        diff,
                        len(block.txs),
                    ),
                )
                c.executemany(
                    "INSERT INTO txs(hash, height, idx, raw, receipt) VALUES (?, ?, ?, ?, ?)",
                    [
                        (tx.hash, h.height, i, encode_tx(tx), r)
                        for i, (tx, r) in enumerate(zip(block.txs, receipts, strict=True))
                    ],
                )
                if ups:
                    c.executemany("INSERT OR REPLACE INTO state(key, value) VALUES (?, ?)", ups)
                if dels:
                    c.executemany("DELETE FROM state WHERE key=?", dels)
                if relay_sigs:
                    c.executemany(
                        "INSERT OR REPLACE INTO relay_sigs(chain, seq, sigs) VALUES (?, ?, ?)",
                        [(ch, seq, _pack(sigs)) for ch, seq, sigs in relay_sigs],
                    )
                c.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('head', ?)",
                    (_pack([h.height, block.hash, h.state_root]),),
                )
                c.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    c.execute("ROLLBACK")
                raise StorageError(
                    Code.STORAGE, f"block {h.height} did not commit: {exc}"
                ) from None

    def head(self) -> tuple[int, bytes, bytes] | None:
        """(height, hash, state_root) of the last committed block, or None before genesis."""
        v = self.get_meta("head")
        return None if v is None else (v[0], v[1], v[2])

    def _block_from_row(self, row: tuple[Any, ...], with_txs: bool) -> Block:
        height, bhash, header, sigs, _diff, _n = row
        txs: tuple[Transaction, ...] = ()
        receipts: tuple[TxReceipt, ...] = ()
        if with_txs:
            rows = self._reader.execute(
                "SELECT raw, receipt FROM txs WHERE height=? ORDER BY idx", (height,)
            ).fetchall()
            txs = tuple(decode_tx(raw) for raw, _ in rows)
            receipts = tuple(TxReceipt.decode(r) for _, r in rows)
        return Block(BlockHeader.decode(header), bhash, tuple(_unpack(sigs)), txs, receipts)

    def get_block(self, height: int, with_txs: bool = False) -> Block | None:
        row = self._reader.execute(
            "SELECT height, hash, header, signatures, diff, tx_count FROM blocks WHERE height=?",
            (height,),
        ).fetchone()
        return None if row is None else self._block_from_row(row, with_txs)

    def get_tx(self, tx_hash: bytes) -> tuple[Transaction, TxReceipt] | None:
        row = self._reader.execute(
            "SELECT raw, receipt FROM txs WHERE hash=?", (tx_hash,)
        ).fetchone()
        return None if row is None else (decode_tx(row[0]), TxReceipt.decode(row[1]))

    def has_tx(self, tx_hash: bytes) -> bool:
        return (
            self._reader.execute("SELECT 1 FROM txs WHERE hash=?", (tx_hash,)).fetchone()
            is not None
        )

    def iter_blocks(self) -> Iterator[tuple[Block, bytes]]:
        """Every block in height order with its txs, receipts and diff (for verify)."""
        cur = self._connect("NORMAL")
        try:
            for row in cur.execute(
                "SELECT height, hash, header, signatures, diff, tx_count "
                "FROM blocks ORDER BY height"
            ):
                height, bhash, header, sigs, diff, _n = row
                rows = cur.execute(
                    "SELECT raw, receipt FROM txs WHERE height=? ORDER BY idx", (height,)
                ).fetchall()
                block = Block(
                    BlockHeader.decode(header),
                    bhash,
                    tuple(_unpack(sigs)),
                    tuple(decode_tx(raw) for raw, _ in rows),
                    tuple(TxReceipt.decode(r) for _, r in rows),
                )
                yield block, bytes(diff)
        finally:
            cur.close()

    def iter_state(self) -> Iterator[tuple[str, Any]]:
        cur = self._connect("NORMAL")
        try:
            for k, v in cur.execute("SELECT key, value FROM state ORDER BY key"):
                yield k, _unpack(v)
        finally:
            cur.close()

    def relay_sigs(self, chain: str, seq_from: int, limit: int) -> dict[int, list[bytes]]:
        rows = self._reader.execute(
            "SELECT seq, sigs FROM relay_sigs WHERE chain=? AND seq>=? ORDER BY seq LIMIT ?",
            (chain, seq_from, limit),
        ).fetchall()
        return {seq: _unpack(s) for seq, s in rows}
