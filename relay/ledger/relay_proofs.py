"""Relay proofs: the signed digest relay validators sign for each routed IBTP, and the
signer that makes a block's proofs, in a worker process when the block is large.

Kept apart from ``relay.node`` so the signer process imports little (no trio, no
eth-abi): it starts in ~0.2 s, where importing relay.node takes ~0.5 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import msgpack

from relay.crypto import Account, keccak
from relay.errors import Code, RelayError

log = logging.getLogger("relayhub.relay_proofs")

#: ``keccak256("relayhub.relay-proof.v2")`` (docs/protocol.md §2.2), the same value as
#: ``relay.ibtp.digest.RELAY_PROOF_DOMAIN``; computed here so the signer process does
#: not import eth-abi.
RELAY_PROOF_DOMAIN = keccak(b"relayhub.relay-proof.v2")

# The committer signs one relay proof per routed IBTP. ``compute_signed_digest``
# (relay.ibtp.digest) is the reference: it decodes through eth-abi, which validates
# and dispatches per value and costs ~250 us an IBTP, as much as the rest of a
# block's finalisation together. The outbound entry was encoded by the executor from
# an IBTP it had validated, so the committer unpacks it without re-validating and
# lays out the same ABI words directly. ``verify_ledger`` re-checks every relay
# proof against the reference digest, so the two cannot drift unnoticed.

_U256_0 = bytes(32)
_U256_1 = (1).to_bytes(32, "big")


def _abi_dynamic(data: bytes) -> bytes:
    """ABI tail of a ``bytes`` / ``string`` value: length word, data zero-padded to 32."""
    return len(data).to_bytes(32, "big") + data + bytes(-len(data) % 32)


def _abi_payload_hash(func: str, args: list[bytes], encrypted: bool) -> bytes:
    """keccak256(abi.encode(string func, bytes[] args, bool encrypted))."""
    f = _abi_dynamic(func.encode())
    items = [_abi_dynamic(a) for a in args]
    offsets, pos = [], 32 * len(items)
    for it in items:
        offsets.append(pos.to_bytes(32, "big"))
        pos += len(it)
    return keccak(
        b"".join(
            (
                (96).to_bytes(32, "big"),
                (96 + len(f)).to_bytes(32, "big"),
                _U256_1 if encrypted else _U256_0,
                f,
                len(items).to_bytes(32, "big"),
                *offsets,
                *items,
            )
        )
    )


def compute_relay_digest_of(
    hub_abi: bytes, target_chain: str, unproven_ibtp: bytes, status: int
) -> bytes:
    """``compute_signed_digest(hub, target_chain, ibtp, status)`` for the canonical bytes of
    an IBTP the executor encoded (so already validated); ``hub_abi`` is
    ``_abi_dynamic(hub id)``."""
    _v, src, dst, index, typ, _timeout, (func, args, enc), _proof, _extra = msgpack.unpackb(
        unproven_ibtp, raw=False
    )
    c = _abi_dynamic(target_chain.encode())
    s, d = _abi_dynamic(src.encode()), _abi_dynamic(dst.encode())
    # Head: 9 words; the tails of hubId, targetChainId, from and to follow in that order.
    o_hub = 9 * 32
    o_chain = o_hub + len(hub_abi)
    o_src = o_chain + len(c)
    o_dst = o_src + len(s)
    return keccak(
        b"".join(
            (
                RELAY_PROOF_DOMAIN,
                o_hub.to_bytes(32, "big"),
                o_chain.to_bytes(32, "big"),
                o_src.to_bytes(32, "big"),
                o_dst.to_bytes(32, "big"),
                index.to_bytes(32, "big"),
                typ.to_bytes(32, "big"),
                _abi_payload_hash(func, args, enc),
                status.to_bytes(32, "big"),
                hub_abi,
                c,
                s,
                d,
            )
        )
    )


def sign_relay_proofs(
    key: Account, hub_abi: bytes, entries: list[tuple[str, bytes, int]]
) -> list[bytes]:
    """One relay-validator signature per (target chain, unproven IBTP bytes, status) entry."""
    return [
        key.sign(compute_relay_digest_of(hub_abi, chain, ibtp, status))
        for chain, ibtp, status in entries
    ]


def _signer_worker_main() -> None:
    """The relay-proof signer process (started by :class:`RelayProofSigner`).

    msgpack over stdin/stdout: first ``[secret, hub_id]`` in, ``"ready"`` out; then
    per request ``[id, [[chain, ibtp, status], ...]]`` in, ``[id, [signature, ...]]`` out.
    Exits when stdin closes (the node closed it, or died)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the node decides when it stops
    out = sys.stdout.buffer
    requests = _read_messages(sys.stdin.buffer)
    secret, hub_id = next(requests)
    key, hub_abi = Account.from_key(secret), _abi_dynamic(hub_id.encode())
    out.write(msgpack.packb("ready"))
    out.flush()
    for rid, entries in requests:
        sigs = sign_relay_proofs(
            key, hub_abi, [(str(c), bytes(i), int(st)) for c, i, st in entries]
        )
        out.write(msgpack.packb([rid, sigs], use_bin_type=True))
        out.flush()


def _read_messages(stream: Any) -> Iterator[Any]:
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)
    while True:
        data = stream.read1(1 << 20)
        if not data:
            return
        unpacker.feed(data)
        yield from unpacker


class _Reader:
    """msgpack messages from a pipe, each wait bounded (the worker's stdout)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30)

    def next(self, timeout: float) -> Any:
        """The next message; None at end of input; TimeoutError when none came in
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return next(self.unpacker)
            except StopIteration:
                pass
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError(f"no answer from the signer process in {timeout:.1f}s")
            data = os.read(self.fd, 1 << 20)
            if not data:
                return None
            self.unpacker.feed(data)


def _write_all(fd: int, data: bytes, timeout: float) -> None:
    """Write ``data`` to a non-blocking pipe, or TimeoutError if the reader stops taking
    it for ``timeout`` seconds (a worker that hangs never blocks the committer)."""
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    while view:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            raise TimeoutError(f"the signer process took no input for {timeout:.1f}s")
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue


class RelayProofSigner:
    """Signs a block's relay proofs, in a worker process when the block is large.

    Each routed IBTP costs a signed digest and a signature (~60 us, mostly Python).
    In the committer thread that Python holds the GIL the event loop needs for
    admission; in a worker process it runs on another core while the committer
    builds the block. The worker (``python -c ...``, so nothing of the node's main
    module is re-run) is started on the first block that routes ``PROCESS_MIN``
    IBTPs; until it says it is ready, and for small blocks, signing stays in the
    thread. If it cannot start or dies, signing falls back to the thread for good.
    Signatures are deterministic (RFC 6979): where they are made changes nothing
    in the ledger."""

    PROCESS_MIN = 256
    #: The longest the committer waits on the worker for one request (writing it,
    #: reading its answer, or its first "ready"): past it the worker is given up and
    #: the block is signed in the thread. A worker that hangs — stopped, starved,
    #: wedged — costs one block this long, never the relay's liveness.
    WAIT = 10.0

    def __init__(self, key: Account, hub_id: str, mode: str = "process") -> None:
        if mode not in ("process", "thread"):
            raise RelayError(Code.CONFIG, "relay_signer must be 'process' or 'thread'")
        self._key = key
        self._hub_id = hub_id
        self._hub_abi = _abi_dynamic(hub_id.encode())
        self._use_process = mode == "process"
        self._proc: subprocess.Popen[bytes] | None = None
        self._responses: _Reader | None = None
        self._ready = False
        self._last_id = 0
        #: Id of the request whose answer is still to be read (one at a time).
        self._outstanding: int | None = None
        self._lock = threading.Lock()

    def _worker(self) -> subprocess.Popen[bytes] | None:
        """The ready worker process, or None (not wanted, starting, or failed)."""
        if not self._use_process:
            return None
        if self._proc is None:
            root = str(Path(__file__).resolve().parents[2])
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            }
            try:
                self._proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "from relay.ledger.relay_proofs import _signer_worker_main as m; m()",
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
                assert self._proc.stdin is not None and self._proc.stdout is not None
                os.set_blocking(self._proc.stdin.fileno(), False)
                _write_all(
                    self._proc.stdin.fileno(),
                    msgpack.packb([self._key.key.secret, self._hub_id], use_bin_type=True),
                    self.WAIT,
                )
                self._responses = _Reader(self._proc.stdout.fileno())
            except (OSError, TimeoutError) as exc:
                self._give_up(exc)
            return None
        if not self._ready:
            assert self._proc.stdout is not None and self._responses is not None
            if not select.select([self._proc.stdout], [], [], 0)[0]:
                return None  # still starting: this block is signed in the thread
            try:
                ready = self._responses.next(self.WAIT)
            except (OSError, ValueError, TimeoutError) as exc:
                self._give_up(exc)
                return None
            if ready != "ready":
                self._give_up(EOFError("the signer process did not start"))
                return None
            self._ready = True
        return self._proc

    def submit(self, entries: list[tuple[str, bytes, int]]) -> Callable[[], list[bytes]]:
        """Start signing ``entries``; the returned function gives the signatures (call
        it before the next ``submit``)."""
        with self._lock:
            if self._outstanding is not None:  # an answer was never read: out of step
                self._give_up(RuntimeError("relay-proof request left unanswered"))
            proc = self._worker() if len(entries) >= self.PROCESS_MIN else None
            if proc is not None:
                assert proc.stdin is not None
                self._last_id += 1
                try:
                    _write_all(
                        proc.stdin.fileno(),
                        msgpack.packb([self._last_id, entries], use_bin_type=True),
                        self.WAIT,
                    )
                except (OSError, TimeoutError) as exc:
                    self._give_up(exc)
                else:
                    self._outstanding = self._last_id
                    return partial(self._result, self._last_id, entries)
        sigs = sign_relay_proofs(self._key, self._hub_abi, entries)
        return lambda: sigs

    def _result(self, rid: int, entries: list[tuple[str, bytes, int]]) -> list[bytes]:
        with self._lock:
            if self._outstanding == rid and self._responses is not None:
                self._outstanding = None
                err: BaseException = EOFError("the signer process exited")
                try:
                    answer = self._responses.next(self.WAIT)
                except (OSError, ValueError, TimeoutError) as exc:
                    # ValueError: msgpack refused the stream; TimeoutError: it hangs
                    answer, err = None, exc
                if (
                    isinstance(answer, list)
                    and len(answer) == 2
                    and answer[0] == rid
                    and isinstance(answer[1], list)
                    and len(answer[1]) == len(entries)
                ):
                    return answer[1]
                self._give_up(err)
        return sign_relay_proofs(self._key, self._hub_abi, entries)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("relay-proof signer process failed (%r); signing in-thread from now on", exc)
        self._use_process = False
        # A worker that stopped answering will not read its end of input either.
        self._stop(hung=isinstance(exc, TimeoutError))

    def _stop(self, hung: bool = False) -> None:
        proc, self._proc, self._responses, self._ready = self._proc, None, None, False
        self._outstanding = None
        if proc is None:
            return
        if hung:
            proc.kill()
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()  # the worker exits on end of input
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._use_process = False
            self._stop()
