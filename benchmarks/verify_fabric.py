"""Fabric proofs verified per second by ``FabricVerifier``, next to the P-256 floor.

Workload: a channel of 3 orgs with the policy ``OutOf(2, Org1.peer, Org2.peer,
Org3.peer)`` for endorsement and attestation, 1 orderer. ``blocks`` blocks of ``txs``
broker transactions, each endorsed by 2 peers of different orgs and signed by its
client; each block signed by the orderer and attested (qscc ``GetBlockByNumber``) by
2 peers. Every transaction of every block is proven (docs/fabric.md §3.3), so each
proof carries its whole block.

The **floor** is the signature work no Fabric verifier can skip: a proof needs
``SIGS_PER_PROOF`` = 6 P-256 verifications (2 attestors, 1 orderer, 1 creator,
2 endorsers), each over its real message (the attestors' covers the whole block).
``floor_ratio`` = floor time / verifier time (1.0 = the verifier does nothing but
those verifications; higher is better). The floor's cost of one verification is
measured on the workload's own signatures (the mean over all of them, median over
repetitions). Every repetition uses a fresh verifier (its certificate-chain memo
cold); signatures are never memoised.

    .venv/bin/python benchmarks/verify_fabric.py [--quick] [--blocks N] [--txs N] [--reps N]
    .venv/bin/python benchmarks/verify_fabric.py --sweep    # proof size and cost by block size

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_response_pb2, transaction_pb2

from adapters.fabric.endorsement import endorse, endorsed_bytes
from adapters.fabric.identity import deserialize_identity
from adapters.fabric.proof import (
    block_data_hash,
    block_header_bytes,
    build_attestation_proposal,
    build_attestation_response,
    build_proof,
    orderer_signed_bytes,
)
from adapters.fabric.proposal import (
    INTERCHAIN_EVENT,
    InterchainEvent,
    build_proposal,
    build_proposal_response_payload,
    encode_event,
)
from adapters.fabric.verifier import FabricVerifier
from appchains.fabric.ca import SigningIdentity, create_org_ca, issue, key_from_seed
from relay.ibtp import IBTP, IBTPType, Payload, compute_ibtp_hash, compute_payload_hash
from relay.validation.base import ChainContext

NOW = 1_767_225_600
T_TX = NOW + 3600
CHANNEL = "benchchannel"
POLICY = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
SIGS_PER_PROOF = 6  # 2 attestors + 1 orderer + 1 creator + 2 endorsers
HUB, CHAIN = "hub1", "fabbench"
_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True)
class FabricWorkload:
    ctx: ChainContext
    ibtps: list[tuple[IBTP, bytes]]
    #: Every signature check the proofs need: (public key, message, DER signature).
    signatures: list[tuple[ec.EllipticCurvePublicKey, bytes, bytes]]
    blocks: int
    txs: int
    proof_bytes: int  #: median proof size


def _member(ca: Any, name: str, ou: str) -> SigningIdentity:
    full = f"{name}.{ca.domain}"
    return issue(ca, full, ou, key=key_from_seed("bench " + full), now=NOW - 86400)


def make_workload(blocks: int, txs: int) -> FabricWorkload:
    cas = [
        create_org_ca(
            f"Org{i}MSP", f"org{i}.bench", key=key_from_seed(f"bench ca{i}"), now=NOW - 86400
        )
        for i in (1, 2, 3)
    ]
    oca = create_org_ca("OrdererMSP", "bench", key=key_from_seed("bench oca"), now=NOW - 86400)
    peers = [_member(ca, "peer0", "peer") for ca in cas]
    client = _member(cas[0], "User1", "client")
    orderer = _member(oca, "orderer0", "orderer")

    def pem(c: Any) -> str:
        return c.certificate.public_bytes(serialization.Encoding.PEM).decode()

    root = {
        "channel": CHANNEL,
        "chaincode": "broker",
        "orgs": {c.msp_id: pem(c) for c in (*cas, oca)},
        "endorsement_policy": POLICY,
        "orderers": [{"mspid": "OrdererMSP", "cert": pem(orderer)}],
    }
    verifier = FabricVerifier()
    ctx = ChainContext(HUB, CHAIN, "fabric", "broker", verifier.parse_trust_root(root))
    all_cas = {c.msp_id: c.certificate for c in (*cas, oca)}

    def key_of(serialized: bytes) -> ec.EllipticCurvePublicKey:
        return deserialize_identity(serialized, all_cas, T_TX).public_key

    src, dst = f"{HUB}:{CHAIN}:asset", f"{HUB}:ethdev:0x{'ab' * 20}"
    ibtps: list[tuple[IBTP, bytes]] = []
    sigs: list[tuple[ec.EllipticCurvePublicKey, bytes, bytes]] = []
    sizes = []
    index = 0
    for b in range(blocks):
        envelopes, block_ibtps, tx_sigs = [], [], []
        for t in range(txs):
            index += 1
            ibtp = IBTP(
                src,
                dst,
                index,
                IBTPType.INTERCHAIN,
                0,
                Payload("transfer", (b"a", b"b", b"%d" % index)),
            )
            p = ibtp.payload
            event = encode_event(
                InterchainEvent(src, dst, index, p.func, p.args, False, 0, compute_payload_hash(p))
            )
            nonce = hashlib.sha256(b"bench nonce %d" % index).digest()[:24]
            proposal = build_proposal(
                CHANNEL, [b"invokeService", b"asset"], client.serialized, nonce, T_TX
            )
            prp = build_proposal_response_payload(proposal, INTERCHAIN_EVENT, event)
            endorsers = (peers[t % 3], peers[(t + 1) % 3])
            ends = [endorse(prp, e.serialized, e.sign) for e in endorsers]
            header = common_pb2.Header.FromString(proposal.header)
            cap = transaction_pb2.ChaincodeActionPayload(
                chaincode_proposal_payload=proposal.payload,
                action=transaction_pb2.ChaincodeEndorsedAction(
                    proposal_response_payload=prp, endorsements=ends
                ),
            )
            tx = transaction_pb2.Transaction(
                actions=[
                    transaction_pb2.TransactionAction(
                        header=header.signature_header, payload=cap.SerializeToString()
                    )
                ]
            )
            body = common_pb2.Payload(
                header=header, data=tx.SerializeToString()
            ).SerializeToString()
            signature = client.sign(body)
            envelopes.append(
                common_pb2.Envelope(payload=body, signature=signature).SerializeToString()
            )
            block_ibtps.append(ibtp)
            tx_sigs.append(
                [(key_of(client.serialized), body, signature)]
                + [(key_of(e.endorser), endorsed_bytes(prp, e.endorser), e.signature) for e in ends]
            )
        number = 10 + b
        data_hash = block_data_hash(envelopes)
        previous = hashlib.sha256(b"bench block %d" % (number - 1)).digest()
        value = common_pb2.OrdererBlockMetadata(
            last_config=common_pb2.LastConfig(index=0)
        ).SerializeToString()
        shdr = common_pb2.SignatureHeader(
            creator=orderer.serialized, nonce=b"n%d" % number
        ).SerializeToString()
        signed = orderer_signed_bytes(value, shdr, block_header_bytes(number, previous, data_hash))
        osig = orderer.sign(signed)
        block = common_pb2.Block(
            header=common_pb2.BlockHeader(
                number=number, previous_hash=previous, data_hash=data_hash
            ),
            data=common_pb2.BlockData(data=envelopes),
            metadata=common_pb2.BlockMetadata(
                metadata=[
                    common_pb2.Metadata(
                        value=value,
                        signatures=[
                            common_pb2.MetadataSignature(signature_header=shdr, signature=osig)
                        ],
                    ).SerializeToString(),
                    b"",
                    bytes(len(envelopes)),
                    b"",
                    b"",
                ]
            ),
        ).SerializeToString()
        query = build_attestation_proposal(
            CHANNEL, number, client.serialized, b"q%d" % number, T_TX + 60
        )
        response = build_attestation_response(query, block)
        attestations: list[proposal_response_pb2.Endorsement] = [
            endorse(response, a.serialized, a.sign) for a in peers[:2]
        ]
        att_sigs = [
            (key_of(a.endorser), endorsed_bytes(response, a.endorser), a.signature)
            for a in attestations
        ]
        for i, ibtp in enumerate(block_ibtps):
            proof = build_proof(query, response, attestations, i)
            sizes.append(len(proof))
            full = IBTP(
                ibtp.src, ibtp.dst, ibtp.index, ibtp.type, ibtp.timeout, ibtp.payload, proof
            )
            ibtps.append((full, compute_ibtp_hash(full)))
            sigs += [*att_sigs, (key_of(orderer.serialized), signed, osig), *tx_sigs[i]]
    assert len(sigs) == SIGS_PER_PROOF * len(ibtps)
    return FabricWorkload(ctx, ibtps, sigs, blocks, txs, int(statistics.median(sizes)))


def run_verify(workload: FabricWorkload) -> float:
    """Seconds to verify every IBTP of the workload with a fresh verifier."""
    verify = FabricVerifier().verify
    ctx = workload.ctx
    start = time.perf_counter()
    for ibtp, ibtp_hash in workload.ibtps:
        verify(ctx, ibtp, ibtp_hash)
    return time.perf_counter() - start


def run_signatures(workload: FabricWorkload) -> float:
    """Seconds per P-256 verification, over the workload's own signatures."""
    start = time.perf_counter()
    for key, message, sig in workload.signatures:
        key.verify(sig, message, _ECDSA)
    return (time.perf_counter() - start) / len(workload.signatures)


def measure(workload: FabricWorkload, reps: int) -> dict[str, Any]:
    n = len(workload.ibtps)
    run_verify(workload)  # warm-up
    verify_times, sig_times = [], []
    for _ in range(reps):  # interleaved, so drift hits both alike
        verify_times.append(run_verify(workload))
        sig_times.append(run_signatures(workload))
    verify_s = statistics.median(verify_times)
    one_sig = statistics.median(sig_times)
    floor_s = SIGS_PER_PROOF * one_sig * n
    return {
        "bench": "verify_fabric",
        "proofs_per_s": round(n / verify_s, 1),
        "us_per_proof": round(verify_s / n * 1e6, 1),
        "floor_us_per_proof": round(floor_s / n * 1e6, 1),
        "p256_verify_us": round(one_sig * 1e6, 1),
        "sigs_per_proof": SIGS_PER_PROOF,
        "floor_ratio": round(floor_s / verify_s, 2),
        "proof_bytes": workload.proof_bytes,
        "proofs": n,
        "blocks": workload.blocks,
        "txs_per_block": workload.txs,
        "reps": reps,
    }


def sweep(reps: int) -> list[dict[str, Any]]:
    """Proof size and verification cost by block size (transactions per block)."""
    rows = []
    for txs in (1, 10, 30):
        r = measure(make_workload(max(1, 30 // txs), txs), reps)
        rows.append(
            {k: r[k] for k in ("txs_per_block", "proof_bytes", "us_per_proof", "floor_ratio")}
        )
        print(
            f"  {txs:3d} txs/block: proof {r['proof_bytes']} B, {r['us_per_proof']} us, "
            f"ratio {r['floor_ratio']}"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Fabric proofs verified per second")
    parser.add_argument("--quick", action="store_true", help="small run, well under a minute")
    parser.add_argument("--blocks", type=int, help="blocks (default 20, quick 5)")
    parser.add_argument("--txs", type=int, default=10, help="broker transactions per block")
    parser.add_argument("--reps", type=int, help="repetitions, median taken (default 7, quick 3)")
    parser.add_argument("--sweep", action="store_true", help="also 1, 10 and 30 txs per block")
    args = parser.parse_args(argv)
    blocks = args.blocks or (5 if args.quick else 20)
    reps = args.reps or (3 if args.quick else 7)
    t0 = time.perf_counter()
    workload = make_workload(blocks, args.txs)
    print(f"workload: {blocks} blocks x {args.txs} txs in {time.perf_counter() - t0:.1f}s")
    result = measure(workload, reps)
    result["quick"] = bool(args.quick)
    print(
        f"verifier {result['proofs_per_s']:.0f} proofs/s ({result['us_per_proof']} us each); "
        f"floor {result['floor_us_per_proof']} us "
        f"({SIGS_PER_PROOF} x {result['p256_verify_us']} us); "
        f"floor_ratio {result['floor_ratio']}; proof {result['proof_bytes']} bytes"
    )
    if args.sweep:
        result["sweep"] = sweep(reps)
    print(json.dumps(result, sort_keys=False))
    return result


if __name__ == "__main__":
    main()
