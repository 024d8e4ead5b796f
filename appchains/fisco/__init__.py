"""The FISCO BCOS-like dev chain (in progress).

* :mod:`appchains.fisco.formats` — what the chain writes: FISCO BCOS 2.x block
  headers, receipts, block hashes and the 16-ary receipt / transaction Merkle
  trees with their JSON-RPC proofs, built the way the node builds them.

This package imports neither ``relay`` nor ``adapters``: it shares only the
third-party libraries (rlp, eth-hash, gmssl-pyx) with the verifier side
(``adapters/fisco/``), and ``tests/test_fisco_formats.py`` checks the two sides
agree byte for byte.
"""
