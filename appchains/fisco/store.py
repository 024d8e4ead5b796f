"""SQLite persistence of the FISCO BCOS-like chain (synchronous I/O, no trio).

One SQLite transaction per block writes the block (header RLP, hash, signature list),
its transactions (with their nonces: FISCO refuses a nonce it has seen), its receipts
and the state it changed; so a process killed at any moment (``kill -9``) restarts at
its last committed block with that block's state. WAL journal, ``synchronous=NORMAL``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import rlp

from adapters.fisco.transaction import FiscoTransaction
from appchains.evm.devchain.state import AccountState, WorldState
from appchains.fisco.chain import ExecutedBlock, Header, Receipt, decode_header, decode_receipt

DB_NAME = "fisco.sqlite3"
SCHEMA_VERSION = b"1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
    header BLOB NOT NULL, sigs BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash BLOB PRIMARY KEY, number INTEGER NOT NULL, idx INTEGER NOT NULL,
    raw BLOB NOT NULL, sender BLOB NOT NULL, nonce BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS txs_position ON txs (number, idx);
CREATE INDEX IF NOT EXISTS txs_nonce ON txs (nonce);
CREATE TABLE IF NOT EXISTS receipts (
    number INTEGER NOT NULL, idx INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (number, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts (
    address BLOB PRIMARY KEY, nonce INTEGER NOT NULL, balance BLOB NOT NULL, code BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storage (
    address BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (address, key)) WITHOUT ROWID;
"""


class StoreError(RuntimeError):
    pass


def _nonce_key(nonce: int) -> bytes:
    return nonce.to_bytes(32, "big")


class FiscoStore:
    def __init__(self, data_dir: Path | None) -> None:
        if data_dir is None:
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(
                data_dir / DB_NAME, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        version = self.get_meta("schema")
        if version is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"unsupported store schema {version!r}; use a fresh data dir")

    def close(self) -> None:
        self.db.close()

    def get_meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def commit(self, executed: ExecutedBlock) -> None:
        """Write a block, its transactions, receipts and state changes in one transaction."""
        block = executed.block
        number = block.number
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO blocks (number, hash, header, sigs) VALUES (?, ?, ?, ?)",
                (number, block.hash, block.header.encode(), rlp.encode(list(block.sig_list))),
            )
            db.executemany(
                "INSERT INTO txs (hash, number, idx, raw, sender, nonce) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (tx.hash, number, i, tx.raw, tx.sender, _nonce_key(tx.nonce))
                    for i, tx in enumerate(block.transactions)
                ],
            )
            db.executemany(
                "INSERT INTO receipts (number, idx, body) VALUES (?, ?, ?)",
                [(number, i, r.encode()) for i, r in enumerate(block.receipts)],
            )
            diff = executed.diff
            db.executemany(
                "INSERT OR REPLACE INTO accounts (address, nonce, balance, code)"
                " VALUES (?, ?, ?, ?)",
                [
                    (a, s.nonce, s.balance.to_bytes(32, "big"), s.code)
                    for a, s in diff.accounts.items()
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO storage (address, key, value) VALUES (?, ?, ?)",
                [(a, k, v) for (a, k), v in diff.storage.items() if v],
            )
            db.executemany(
                "DELETE FROM storage WHERE address = ? AND key = ?",
                [(a, k) for (a, k), v in diff.storage.items() if not v],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reads
    def head_number(self) -> int | None:
        row = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
        return None if row[0] is None else int(row[0])

    def load_world(self, root: bytes) -> WorldState:
        world = WorldState(root=root)
        for address, nonce, balance, code in self.db.execute(
            "SELECT address, nonce, balance, code FROM accounts"
        ):
            world.accounts[bytes(address)] = AccountState(
                nonce, int.from_bytes(balance, "big"), bytes(code)
            )
        for address, key, value in self.db.execute("SELECT address, key, value FROM storage"):
            world.storage.setdefault(bytes(address), {})[bytes(key)] = bytes(value)
        return world

    def block_number_of(self, block_hash: bytes) -> int | None:
        row = self.db.execute("SELECT number FROM blocks WHERE hash = ?", (block_hash,)).fetchone()
        return None if row is None else int(row[0])

    def get_header(self, number: int) -> tuple[Header, bytes, tuple[tuple[int, bytes], ...]] | None:
        row = self.db.execute(
            "SELECT header, hash, sigs FROM blocks WHERE number = ?", (number,)
        ).fetchone()
        if row is None:
            return None
        sigs = tuple((int.from_bytes(i, "big"), s) for i, s in rlp.decode(bytes(row[2])))
        return decode_header(bytes(row[0])), bytes(row[1]), sigs

    def get_transactions(self, number: int) -> list[tuple[bytes, bytes, bytes]]:
        """``(hash, raw, sender)`` of block ``number``'s transactions, in order."""
        return [
            (bytes(h), bytes(raw), bytes(s))
            for h, raw, s in self.db.execute(
                "SELECT hash, raw, sender FROM txs WHERE number = ? ORDER BY idx", (number,)
            )
        ]

    def get_receipts(self, number: int) -> list[Receipt]:
        return [
            decode_receipt(bytes(body))
            for (body,) in self.db.execute(
                "SELECT body FROM receipts WHERE number = ? ORDER BY idx", (number,)
            )
        ]

    def find_transaction(self, tx_hash: bytes) -> tuple[int, int] | None:
        row = self.db.execute("SELECT number, idx FROM txs WHERE hash = ?", (tx_hash,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def nonce_used(self, nonce: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM txs WHERE nonce = ? LIMIT 1", (_nonce_key(nonce),)
        ).fetchone()
        return row is not None

    def count_transactions(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM txs").fetchone()[0])


__all__ = ["DB_NAME", "FiscoStore", "FiscoTransaction", "StoreError"]
