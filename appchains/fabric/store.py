"""The Fabric dev chain's ledger in one SQLite file (synchronous I/O, thread-safe).

Blocks (the whole ``common.Block`` with its transactions filter), the transaction
index (tx ID → block, position, validation code; the first occurrence of an ID), the
world state (namespace, key → value and version) and the chaincode events of VALID
transactions. One SQLite transaction per block: a process killed at any moment
(``kill -9``) reopens at its last committed block with exactly that block's state.
WAL journal with ``synchronous=NORMAL``: a committed block survives a process crash;
only an OS crash or power loss can drop the latest ones. Without a data directory the
store lives in memory.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2

from appchains.fabric.block import header_hash
from appchains.fabric.commit import CommitResult
from appchains.fabric.ledger import TxLocation
from appchains.fabric.simulation import Version, VersionedValue

DB_NAME = "fabric.sqlite3"
SCHEMA_VERSION = b"1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, block BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    tx_id TEXT PRIMARY KEY, number INTEGER NOT NULL, idx INTEGER NOT NULL,
    code INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    block_num INTEGER NOT NULL, tx_num INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    number INTEGER NOT NULL, idx INTEGER NOT NULL, chaincode TEXT NOT NULL,
    tx_id TEXT NOT NULL, name TEXT NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (number, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_chaincode ON events (chaincode, number);
"""


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class StoredEvent:
    block_number: int
    tx_index: int
    chaincode: str
    tx_id: str
    name: str
    payload: bytes


class LedgerStore:
    """A :class:`~appchains.fabric.ledger.LedgerReader` that also commits blocks."""

    def __init__(self, data_dir: Path | None) -> None:
        #: Held while a block commits; hold it to read a consistent snapshot.
        self.lock = threading.RLock()
        if data_dir is None:
            self.path: Path | None = None
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.path = data_dir / DB_NAME
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        version = self.get_meta("schema")
        if version is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"unsupported store schema {version!r}; use a fresh data dir")
        row = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
        self._height = 0 if row[0] is None else int(row[0]) + 1

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- meta
    def get_meta(self, key: str) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- writes
    def commit_block(self, block: common_pb2.Block, result: CommitResult) -> None:
        """Write a validated block (its transactions filter set), its index entries, its
        state updates and its events in one SQLite transaction."""
        number = block.header.number
        with self.lock:
            if number != self._height:
                raise StoreError(f"block {number} committed at height {self._height}")
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO blocks (number, hash, block) VALUES (?, ?, ?)",
                    (number, header_hash(block.header), block.SerializeToString()),
                )
                db.executemany(
                    "INSERT OR IGNORE INTO txs (tx_id, number, idx, code) VALUES (?, ?, ?, ?)",
                    [
                        (tx_id, number, i, code)
                        for i, (tx_id, code) in enumerate(
                            zip(result.tx_ids, result.codes, strict=True)
                        )
                        if tx_id
                    ],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO state (namespace, key, value, block_num, tx_num)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (ns, key, value, v.block_num, v.tx_num)
                        for (ns, key), (value, v) in result.updates.items()
                        if value is not None
                    ],
                )
                db.executemany(
                    "DELETE FROM state WHERE namespace = ? AND key = ?",
                    [
                        (ns, key)
                        for (ns, key), (value, _) in result.updates.items()
                        if value is None
                    ],
                )
                db.executemany(
                    "INSERT INTO events (number, idx, chaincode, tx_id, name, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            number,
                            e.tx_index,
                            e.event.chaincode_id,
                            e.event.tx_id,
                            e.event.event_name,
                            e.event.payload,
                        )
                        for e in result.events
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._height = number + 1

    # -- LedgerReader
    def height(self) -> int:
        return self._height

    def get_block(self, number: int) -> common_pb2.Block | None:
        with self.lock:
            row = self.db.execute("SELECT block FROM blocks WHERE number = ?", (number,)).fetchone()
        return None if row is None else common_pb2.Block.FromString(bytes(row[0]))

    def block_hash(self, number: int) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT hash FROM blocks WHERE number = ?", (number,)).fetchone()
        return None if row is None else bytes(row[0])

    def find_block(self, block_hash: bytes) -> int | None:
        with self.lock:
            row = self.db.execute(
                "SELECT number FROM blocks WHERE hash = ?", (block_hash,)
            ).fetchone()
        return None if row is None else int(row[0])

    def find_tx(self, tx_id: str) -> TxLocation | None:
        with self.lock:
            row = self.db.execute(
                "SELECT number, idx, code FROM txs WHERE tx_id = ?", (tx_id,)
            ).fetchone()
        return None if row is None else TxLocation(int(row[0]), int(row[1]), int(row[2]))

    def get_state(self, namespace: str, key: str) -> VersionedValue | None:
        with self.lock:
            row = self.db.execute(
                "SELECT value, block_num, tx_num FROM state WHERE namespace = ? AND key = ?",
                (namespace, key),
            ).fetchone()
        if row is None:
            return None
        return VersionedValue(bytes(row[0]), Version(int(row[1]), int(row[2])))

    # -- other reads
    def state(self, namespace: str) -> dict[str, VersionedValue]:
        """Every key of a namespace (for tests and tools)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT key, value, block_num, tx_num FROM state WHERE namespace = ? ORDER BY key",
                (namespace,),
            ).fetchall()
        return {str(k): VersionedValue(bytes(v), Version(int(b), int(t))) for k, v, b, t in rows}

    def events(self, chaincode: str, from_block: int, limit: int) -> list[StoredEvent]:
        """Events of ``chaincode`` from block ``from_block`` on, oldest first, at most
        ``limit`` (more only to finish the last block)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT number, idx, chaincode, tx_id, name, payload FROM events"
                " WHERE chaincode = ? AND number >= ? ORDER BY number, idx LIMIT ?",
                (chaincode, from_block, limit),
            ).fetchall()
            if len(rows) == limit:
                last = int(rows[-1][0])
                rows += self.db.execute(
                    "SELECT number, idx, chaincode, tx_id, name, payload FROM events"
                    " WHERE chaincode = ? AND number = ? AND idx > ? ORDER BY idx",
                    (chaincode, last, int(rows[-1][1])),
                ).fetchall()
        return [
            StoredEvent(int(n), int(i), str(c), str(t), str(name), bytes(p))
            for n, i, c, t, name, p in rows
        ]
