"""Reusable benchmark workloads: keys, genesis, chain registration and notarized IBTPs.

Everything here is deterministic (keys derive from a seed) and pure apart from
the optional process pool that pre-generates IBTPs, so a benchmark can build its
workload *before* it starts timing and another benchmark (or the future
``relayhub bench run``) can reuse the same functions.

The ingest workload has two notary chains, ``A`` and ``B``, and ``streams``
independent senders. Stream ``k`` has its own gateway key and its own service
pair, so its transactions carry consecutive nonces and its IBTPs consecutive
indices, and streams can be in flight at the same time without refusing each
other (NONCE_GAP / INDEX_GAP). Even streams send ``A:svc<k> -> B:svc<k>``, odd
streams ``B:svc<k> -> A:svc<k>``: both chains submit and both receive.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import msgpack

from relay.crypto import Account, keccak
from relay.genesis import Genesis
from relay.ibtp import IBTP, Payload, compute_ibtp_hash, compute_notary_digest, encode_ibtp
from relay.ledger.types import Transaction, encode_tx, sign_tx

HUB_ID = "benchhub"
CHAINS = ("A", "B")
#: A chain may list at most 16 gateways (docs/protocol.md §4), so 16 streams per chain.
MAX_STREAMS = 32
#: Far enough that no IBTP of a benchmark run times out: the ingest benchmark
#: measures admission and commit, not the timeout sweep.
BENCH_TIMEOUT_BLOCKS = 10_000_000


def derive_account(seed: str, label: str) -> Account:
    """A deterministic key pair: keccak(seed / label) as the secret."""
    return Account.from_key(keccak(f"{seed}/{label}".encode()))


@dataclass(frozen=True)
class BenchKeys:
    admin: Account
    validator: Account
    #: Registrar of each chain (registers the chain and its services).
    operators: dict[str, Account]
    #: Notary keys of each chain.
    notaries: dict[str, tuple[Account, ...]]
    #: One gateway key per stream.
    gateways: tuple[Account, ...]


def make_keys(streams: int, notaries: int = 1, seed: str = "relayhub-bench") -> BenchKeys:
    if not 1 <= streams <= MAX_STREAMS:
        raise ValueError(f"1-{MAX_STREAMS} streams (16 gateways per chain)")
    if not 1 <= notaries <= 64:
        raise ValueError("1-64 notaries per chain")
    return BenchKeys(
        admin=derive_account(seed, "admin"),
        validator=derive_account(seed, "validator"),
        operators={c: derive_account(seed, f"operator-{c}") for c in CHAINS},
        notaries={
            c: tuple(derive_account(seed, f"notary-{c}-{i}") for i in range(notaries))
            for c in CHAINS
        },
        gateways=tuple(derive_account(seed, f"gateway-{k}") for k in range(streams)),
    )


def make_genesis(
    keys: BenchKeys, hub_id: str = HUB_ID, timeout_blocks: int = BENCH_TIMEOUT_BLOCKS
) -> Genesis:
    return Genesis(
        hub_id=hub_id,
        admins=(keys.admin.address,),
        validators=(keys.validator.address,),
        validator_threshold=1,
        default_timeout_blocks=timeout_blocks,
    )


@dataclass(frozen=True)
class Stream:
    """One sender: its gateway key, the chain it submits for and its service pair."""

    k: int
    gateway: Account
    src_chain: str
    dst_chain: str
    src: str
    dst: str


def stream_chain(k: int) -> tuple[str, str]:
    return (CHAINS[0], CHAINS[1]) if k % 2 == 0 else (CHAINS[1], CHAINS[0])


def make_streams(keys: BenchKeys, hub_id: str = HUB_ID) -> list[Stream]:
    out = []
    for k, gw in enumerate(keys.gateways):
        a, b = stream_chain(k)
        out.append(Stream(k, gw, a, b, f"{hub_id}:{a}:svc{k}", f"{hub_id}:{b}:svc{k}"))
    return out


def setup_txs(keys: BenchKeys, hub_id: str = HUB_ID) -> list[Transaction]:
    """Signed transactions that register chains A and B (family ``notary``, threshold =
    all their notary keys), approve them and register every stream's two services.
    Submit them in order, one per block or all at once."""
    txs: list[Transaction] = []
    nonce: dict[str, int] = {}

    def tx(acct: Account, kind: str, body: object) -> None:
        n = nonce.get(acct.address, 0) + 1
        nonce[acct.address] = n
        txs.append(sign_tx(acct, hub_id, n, kind, body))

    for c in CHAINS:
        gws = [g.address for k, g in enumerate(keys.gateways) if stream_chain(k)[0] == c]
        notaries = keys.notaries[c]
        tx(
            keys.operators[c],
            "chain.register",
            {
                "id": c,
                "family": "notary",
                "trust_root": {"keys": [n.address for n in notaries], "threshold": len(notaries)},
                "broker": f"broker-{c}",
                "gateways": gws or [keys.operators[c].address],
                "name": f"bench chain {c}",
                "desc": "notary-proved benchmark chain",
            },
        )
    for c in CHAINS:
        tx(keys.admin, "chain.approve", {"id": c})
    for s in make_streams(keys, hub_id):
        for sid, chain in ((s.src, s.src_chain), (s.dst, s.dst_chain)):
            tx(keys.operators[chain], "service.register", {"service": sid})
    return txs


# --- notarized IBTPs -----------------------------------------------------------


def make_ibtp(src: str, dst: str, index: int, notaries: Sequence[Account]) -> bytes:
    """The canonical bytes of one INTERCHAIN IBTP ``src -> dst`` #``index`` with a notary
    proof signed by ``notaries``. The payload differs per index (a transfer of
    ``index`` units to a per-index account), as real traffic would."""
    payload = Payload(
        func="transfer",
        args=(keccak(b"to/%d" % index)[:20], index.to_bytes(32, "big")),
        encrypted=False,
    )
    ibtp = IBTP(src=src, dst=dst, index=index, payload=payload)
    digest = compute_notary_digest(compute_ibtp_hash(ibtp))
    proof = msgpack.packb([n.sign(digest) for n in notaries], use_bin_type=True)
    return encode_ibtp(IBTP(src=src, dst=dst, index=index, payload=payload, proof=proof))


@dataclass(frozen=True)
class TxJob:
    """Build one ``ibtp`` transaction: IBTPs ``first .. first+count-1`` of a stream."""

    hub_id: str
    gateway_secret: bytes
    notary_secrets: tuple[bytes, ...]
    src: str
    dst: str
    nonce: int
    first: int
    count: int


def build_ibtp_tx(job: TxJob) -> bytes:
    """The canonical bytes of the signed ``ibtp`` transaction ``job`` describes."""
    gw = Account.from_key(job.gateway_secret)
    notaries = [Account.from_key(s) for s in job.notary_secrets]
    body = [
        make_ibtp(job.src, job.dst, i, notaries) for i in range(job.first, job.first + job.count)
    ]
    return encode_tx(sign_tx(gw, job.hub_id, job.nonce, "ibtp", body))


def stream_jobs(keys: BenchKeys, stream: Stream, ibtps: int, batch: int) -> list[TxJob]:
    """The transactions stream ``stream`` sends: ``ibtps`` IBTPs, ``batch`` per tx."""
    jobs = []
    nonce, first = 0, 1
    notaries = tuple(n.key.secret for n in keys.notaries[stream.src_chain])
    while first <= ibtps:
        count = min(batch, ibtps - first + 1)
        nonce += 1
        jobs.append(
            TxJob(
                HUB_ID,
                stream.gateway.key.secret,
                notaries,
                stream.src,
                stream.dst,
                nonce,
                first,
                count,
            )
        )
        first += count
    return jobs


def split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass
class IngestWorkload:
    keys: BenchKeys
    genesis: Genesis
    streams: list[Stream]
    setup: list[Transaction]
    #: Per stream, its encoded ``ibtp`` transactions in nonce order.
    txs: list[list[bytes]]
    #: Per stream, the number of IBTPs in each of its transactions.
    tx_ibtps: list[list[int]]

    @property
    def total_ibtps(self) -> int:
        return sum(sum(c) for c in self.tx_ibtps)

    def requests(self, stream: int, txs_per_request: int) -> Iterator[tuple[list[bytes], int]]:
        """(transactions, IBTP count) of each request of ``stream``, in order."""
        txs, counts = self.txs[stream], self.tx_ibtps[stream]
        for i in range(0, len(txs), txs_per_request):
            yield txs[i : i + txs_per_request], sum(counts[i : i + txs_per_request])


def build_ingest_workload(
    ibtps: int,
    streams: int,
    batch: int,
    notaries: int = 1,
    processes: int | None = None,
) -> IngestWorkload:
    """Keys, genesis, setup transactions and every stream's signed ``ibtp``
    transactions (``ibtps`` IBTPs in all, split evenly over the streams).
    Transactions are built on a process pool of ``processes`` workers (default: one
    per CPU; 1 builds in this process)."""
    if not 1 <= batch <= 4096:
        raise ValueError("an ibtp transaction carries 1-4096 IBTPs")
    keys = make_keys(streams, notaries)
    genesis = make_genesis(keys)
    all_streams = make_streams(keys)
    per_stream = split_evenly(ibtps, streams)
    jobs = [stream_jobs(keys, s, n, batch) for s, n in zip(all_streams, per_stream, strict=True)]
    flat = [j for js in jobs for j in js]
    procs = processes or multiprocessing.cpu_count()
    if procs > 1 and len(flat) > 1:
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            built = pool.map(build_ibtp_tx, flat, chunksize=max(1, len(flat) // (procs * 8)))
    else:
        built = [build_ibtp_tx(j) for j in flat]
    txs: list[list[bytes]] = []
    pos = 0
    for js in jobs:
        txs.append(built[pos : pos + len(js)])
        pos += len(js)
    return IngestWorkload(
        keys=keys,
        genesis=genesis,
        streams=all_streams,
        setup=setup_txs(keys),
        txs=txs,
        tx_ibtps=[[j.count for j in js] for js in jobs],
    )
