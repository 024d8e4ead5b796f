"""SM2 signatures verified per second, next to a floor measured in the same run.

Workload: FISCO seals — 32-byte SM3 header hashes signed with SM2 and FISCO's
default user ID ``1234567812345678`` by 4 sealer keys — verified through
``adapters.fisco.smcrypto.sm2_verify`` (``Z`` and ``e = SM3(Z ‖ hash)`` computed for
every signature, as the relay will). Also timed in the same run:

* ``gmssl_pyx_raw``: the library call alone (no range/curve pre-checks, the DER
  signature built beforehand), to show what the wrapper costs;
* ``reference``: the pure-Python ``gmssl`` (``verify_with_sm3``) on a few of the
  same signatures;
* the **floor**: coincurve (libsecp256k1) public-key *recovery* from a 65-byte
  secp256k1 signature over a 32-byte hash — what one seal costs in FISCO's default
  (non-国密) mode and in the EVM family.

``floor_ratio`` = floor time ÷ SM2 verify time, so 1.0 would be "as cheap as a
secp256k1 recovery" and lower is slower. (This is the inverse of
``verify_evm.py``'s ratio, which is verifier ÷ floor.) Each figure is the median
of several repetitions in which the four measurements take turns;
``floor_ratio`` is the median of the per-repetition ratios.

    .venv/bin/python benchmarks/verify_sm2.py [--quick] [--sigs N] [--reps N]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import coincurve
import gmssl_pyx

from adapters.fisco.smcrypto import DEFAULT_ID, encode_der, sm2_keypair, sm2_sign, sm2_verify, sm3

SEALERS = 4


def _interleaved_us(runs: dict[str, Callable[[], int]], reps: int) -> dict[str, list[float]]:
    """µs per item of every ``run()``, ``reps`` times, the runs taking turns in each rep.

    Taking turns spreads a load spike from the other tenants of the machine over all
    the figures instead of one, which keeps the ratios steadier than the absolutes.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            start = time.perf_counter()
            items = run()
            samples[name].append((time.perf_counter() - start) / items * 1e6)
    return samples


def run_benchmark(sigs: int, reps: int, ref_sigs: int) -> dict[str, Any]:
    keys = [sm2_keypair() for _ in range(SEALERS)]
    seals = []
    for i in range(sigs):
        private_key, pub = keys[i % SEALERS]
        header_hash = sm3(b"bench header %d" % i)
        seals.append((pub, header_hash, sm2_sign(private_key, pub, header_hash)))
    der_seals = [(pub, h, encode_der(sig)) for pub, h, sig in seals]

    def ours() -> int:
        for pub, header_hash, sig in seals:
            if not sm2_verify(pub, header_hash, sig):
                raise AssertionError("a valid seal did not verify")
        return len(seals)

    def raw() -> int:
        verify = gmssl_pyx.sm2_verify
        for pub, header_hash, der in der_seals:
            if not verify(pub, header_hash, der, DEFAULT_ID):
                raise AssertionError("a valid seal did not verify")
        return len(der_seals)

    from gmssl import sm2 as ref_sm2  # dev dependency: only the benchmark needs it here

    reference_signers = [
        (ref_sm2.CryptSM2(private_key="", public_key=pub.hex()), h, sig.hex())
        for pub, h, sig in seals[:ref_sigs]
    ]

    def reference() -> int:
        for signer, header_hash, sig_hex in reference_signers:
            if not signer.verify_with_sm3(sig_hex, header_hash):
                raise AssertionError("the reference refused a valid seal")
        return len(reference_signers)

    k1_keys = [coincurve.PrivateKey() for _ in range(SEALERS)]
    k1_seals = []
    for i in range(sigs):
        digest = sm3(b"bench header %d" % i)
        k1_seals.append((k1_keys[i % SEALERS].sign_recoverable(digest, hasher=None), digest))

    def floor() -> int:
        recover = coincurve.PublicKey.from_signature_and_message
        for sig, digest in k1_seals:
            recover(sig, digest, hasher=None)
        return len(k1_seals)

    ours()  # warm up
    samples = _interleaved_us(
        {"sm2": ours, "raw": raw, "reference": reference, "floor": floor}, reps
    )
    figures = {name: statistics.median(values) for name, values in samples.items()}
    ratios = [f / s for f, s in zip(samples["floor"], samples["sm2"], strict=True)]
    return {
        "benchmark": "verify_sm2",
        "library": f"gmssl-pyx {gmssl_pyx.__version__}",
        "sigs": sigs,
        "reps": reps,
        "reference_sigs": ref_sigs,
        "sm2_verifies_per_s": round(1e6 / figures["sm2"]),
        "sm2_us": round(figures["sm2"], 1),
        "gmssl_pyx_raw_us": round(figures["raw"], 1),
        "reference_us": round(figures["reference"], 1),
        "floor_recover_us": round(figures["floor"], 1),
        "floor_ratio": round(statistics.median(ratios), 3),
        "speedup_vs_reference": round(figures["reference"] / figures["sm2"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="SM2 verifies per second")
    parser.add_argument("--quick", action="store_true", help="small run, well under a minute")
    parser.add_argument(
        "--sigs", type=int, help="signatures per repetition (default 500, quick 200)"
    )
    parser.add_argument("--reps", type=int, help="repetitions, median taken (default 15, quick 5)")
    args = parser.parse_args()
    sigs = args.sigs or (200 if args.quick else 500)
    reps = args.reps or (5 if args.quick else 15)
    result = run_benchmark(sigs, reps, ref_sigs=2 if args.quick else 5)
    result["quick"] = bool(args.quick)
    print(
        f"SM2 verify (gmssl-pyx, via smcrypto): {result['sm2_us']} µs "
        f"= {result['sm2_verifies_per_s']}/s; library call alone {result['gmssl_pyx_raw_us']} µs"
    )
    print(
        f"pure-Python gmssl: {result['reference_us']} µs "
        f"({result['speedup_vs_reference']} times slower); "
        f"coincurve secp256k1 recovery (floor): {result['floor_recover_us']} µs; "
        f"floor_ratio (floor ÷ SM2) {result['floor_ratio']}"
    )
    print(json.dumps(result, sort_keys=False))


if __name__ == "__main__":
    main()
