"""SQLite persistence of a dev chain (synchronous I/O, no trio).

One SQLite transaction per block writes the block (header and seals), its
transactions, receipts and logs, and the state it changed, so a process killed
at any moment (``kill -9``) restarts at its last committed block with the state
of that block. WAL journal with ``synchronous=NORMAL``: a committed block survives
a process crash; only an OS crash or power loss can drop the latest ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import rlp

from appchains.evm.devchain.chain import (
    ExecutedBlock,
    LogEntry,
    StoredBlock,
    TxReceipt,
    compute_block_size,
)
from appchains.evm.devchain.header import Header, decode_header, encode_header
from appchains.evm.devchain.receipts import Log, decode_receipt, encode_receipt
from appchains.evm.devchain.rlpcodec import encode as rlp_encode
from appchains.evm.devchain.state import AccountState, WorldState
from appchains.evm.devchain.transactions import Transaction, parse_transaction

DB_NAME = "devchain.sqlite3"
SCHEMA_VERSION = b"2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
    header BLOB NOT NULL, seals BLOB NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash BLOB PRIMARY KEY, number INTEGER NOT NULL, idx INTEGER NOT NULL,
    raw BLOB NOT NULL, sender BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS txs_position ON txs (number, idx);
CREATE TABLE IF NOT EXISTS receipts (
    number INTEGER NOT NULL, idx INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (number, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_index INTEGER NOT NULL,
    tx_hash BLOB NOT NULL, address BLOB NOT NULL, topics BLOB NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (number, log_index)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS logs_address ON logs (address, number);
CREATE TABLE IF NOT EXISTS accounts (
    address BLOB PRIMARY KEY, nonce INTEGER NOT NULL, balance BLOB NOT NULL, code BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storage (
    address BLOB NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (address, key)) WITHOUT ROWID;
"""


class StoreError(RuntimeError):
    pass


def _encode_tx_receipt(r: TxReceipt) -> bytes:
    return rlp_encode(
        [
            encode_receipt(r.receipt),
            r.tx_hash,
            r.sender,
            r.to or b"",
            r.gas_used,
            r.effective_gas_price,
            r.first_log_index,
        ]
    )


def _decode_tx_receipt(body: bytes, tx_index: int) -> TxReceipt:
    raw, tx_hash, sender, to, gas_used, price, first_log = rlp.decode(body)
    return TxReceipt(
        receipt=decode_receipt(raw),
        tx_hash=tx_hash,
        tx_index=tx_index,
        sender=sender,
        to=to or None,
        gas_used=int.from_bytes(gas_used, "big"),
        effective_gas_price=int.from_bytes(price, "big"),
        first_log_index=int.from_bytes(first_log, "big"),
    )


class ChainStore:
    """Blocks, receipts, logs and state in one SQLite file (or in memory)."""

    def __init__(self, data_dir: Path | None) -> None:
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

    def close(self) -> None:
        self.db.close()

    # -- meta
    def get_meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- writes
    def commit(self, executed: ExecutedBlock, seals: Sequence[bytes]) -> None:
        """Write a block, its receipts and its state changes in one transaction."""
        block = executed.block
        number = block.header.number
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO blocks (number, hash, header, seals, size) VALUES (?, ?, ?, ?, ?)",
                (
                    number,
                    block.hash,
                    encode_header(block.header),
                    rlp_encode(list(seals)),
                    compute_block_size(block.header, [tx.raw for tx in block.transactions]),
                ),
            )
            db.executemany(
                "INSERT INTO txs (hash, number, idx, raw, sender) VALUES (?, ?, ?, ?, ?)",
                [
                    (tx.hash, number, i, tx.raw, tx.sender)
                    for i, tx in enumerate(block.transactions)
                ],
            )
            db.executemany(
                "INSERT INTO receipts (number, idx, body) VALUES (?, ?, ?)",
                [(number, r.tx_index, _encode_tx_receipt(r)) for r in executed.receipts],
            )
            log_rows = []
            log_index = 0
            for r in executed.receipts:
                for log in r.receipt.logs:
                    log_rows.append(
                        (
                            number,
                            log_index,
                            r.tx_index,
                            r.tx_hash,
                            log.address,
                            b"".join(log.topics),
                            log.data,
                        )
                    )
                    log_index += 1
            db.executemany(
                "INSERT INTO logs (number, log_index, tx_index, tx_hash, address, topics, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                log_rows,
            )
            diff = executed.diff
            db.executemany(
                "INSERT OR REPLACE INTO accounts (address, nonce, balance, code)"
                " VALUES (?, ?, ?, ?)",
                [(a, s.nonce, _uint(s.balance), s.code) for a, s in diff.accounts.items()],
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

    def get_header(self, number: int) -> tuple[Header, bytes, tuple[bytes, ...]] | None:
        """Header, hash and seals of block ``number``."""
        row = self.db.execute(
            "SELECT header, hash, seals FROM blocks WHERE number = ?", (number,)
        ).fetchone()
        if row is None:
            return None
        return decode_header(bytes(row[0])), bytes(row[1]), tuple(rlp.decode(bytes(row[2])))

    def get_block(self, number: int, full: bool = False) -> StoredBlock | None:
        """Block ``number``; its transactions decoded only when ``full``."""
        row = self.db.execute(
            "SELECT header, hash, seals, size FROM blocks WHERE number = ?", (number,)
        ).fetchone()
        if row is None:
            return None
        header, block_hash = decode_header(bytes(row[0])), bytes(row[1])
        seals, size = tuple(rlp.decode(bytes(row[2]))), int(row[3])
        if full:
            rows = self.db.execute(
                "SELECT raw, sender FROM txs WHERE number = ? ORDER BY idx", (number,)
            ).fetchall()
            txs = tuple(parse_transaction(bytes(raw), bytes(sender)) for raw, sender in rows)
            hashes = tuple(tx.hash for tx in txs)
        else:
            txs = ()
            hashes = tuple(
                bytes(h)
                for (h,) in self.db.execute(
                    "SELECT hash FROM txs WHERE number = ? ORDER BY idx", (number,)
                )
            )
        return StoredBlock(header, block_hash, seals, hashes, txs, size)

    def get_receipts(self, number: int) -> tuple[TxReceipt, ...]:
        rows = self.db.execute(
            "SELECT idx, body FROM receipts WHERE number = ? ORDER BY idx", (number,)
        )
        return tuple(_decode_tx_receipt(bytes(body), int(idx)) for idx, body in rows)

    def get_receipt(self, number: int, index: int) -> TxReceipt | None:
        row = self.db.execute(
            "SELECT body FROM receipts WHERE number = ? AND idx = ?", (number, index)
        ).fetchone()
        return None if row is None else _decode_tx_receipt(bytes(row[0]), index)

    def get_transaction(self, tx_hash: bytes) -> tuple[Transaction, int, int] | None:
        """A mined transaction with its block number and index."""
        row = self.db.execute(
            "SELECT raw, sender, number, idx FROM txs WHERE hash = ?", (tx_hash,)
        ).fetchone()
        if row is None:
            return None
        return parse_transaction(bytes(row[0]), bytes(row[1])), int(row[2]), int(row[3])

    def find_transaction(self, tx_hash: bytes) -> tuple[int, int] | None:
        row = self.db.execute("SELECT number, idx FROM txs WHERE hash = ?", (tx_hash,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: Sequence[bytes],
        topics: Sequence[Sequence[bytes] | None],
        limit: int,
    ) -> list[LogEntry]:
        """Logs in ``[from_block, to_block]``, at most ``limit`` + 1.

        ``addresses``: any of them (empty = any); ``topics[i]``: the i-th topic is
        one of these (``None`` or empty = anything), as ``eth_getLogs`` filters.
        """
        sql = (
            "SELECT l.number, l.log_index, l.tx_index, l.tx_hash, l.address, l.topics, l.data,"
            " b.hash FROM logs l JOIN blocks b ON b.number = l.number"
            " WHERE l.number BETWEEN ? AND ?"
        )
        params: list[object] = [from_block, to_block]
        if addresses:
            sql += f" AND l.address IN ({','.join('?' * len(addresses))})"
            params.extend(addresses)
        for position, choices in enumerate(topics):
            if choices:
                marks = ",".join("?" * len(choices))
                sql += f" AND substr(l.topics, {32 * position + 1}, 32) IN ({marks})"
                params.extend(choices)
        sql += " ORDER BY l.number, l.log_index LIMIT ?"
        params.append(limit + 1)
        out = []
        for (
            number,
            log_index,
            tx_index,
            tx_hash,
            address,
            joined,
            data,
            block_hash,
        ) in self.db.execute(sql, params):
            joined = bytes(joined)
            log = Log(
                bytes(address),
                tuple(joined[i : i + 32] for i in range(0, len(joined), 32)),
                bytes(data),
            )
            out.append(
                LogEntry(
                    log,
                    int(number),
                    bytes(block_hash),
                    int(log_index),
                    int(tx_index),
                    bytes(tx_hash),
                )
            )
        return out


def _uint(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
