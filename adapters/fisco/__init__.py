"""The FISCO BCOS family (in progress).

Pure modules (no I/O, no clock), read from FISCO BCOS 2.x's source (``docs/fisco.md``):

* :mod:`adapters.fisco.smcrypto` — the national-crypto (国密) primitives of FISCO's
  国密 build: SM3, and SM2 signatures with a user ID, in FISCO's 128-byte
  ``r‖s‖pub`` form.
* :mod:`adapters.fisco.hashing` — keccak-256 / SM3 by crypto mode.
* :mod:`adapters.fisco.abi` — function selectors and ``Error(string)`` revert reasons
  by the chain's hash (SM3 in 国密 mode).
* :mod:`adapters.fisco.header` — the 13-field block header, its RLP and hash.
* :mod:`adapters.fisco.receipt` — receipts (7 fields, 8 from 2.8.0) and logs.
* :mod:`adapters.fisco.merkle` — the 16-ary transaction / receipt Merkle tree:
  root, proofs in the node's ``left``/``right`` shape, checks with one code each.
* :mod:`adapters.fisco.inclusion` — a receipt proven under a block's hash.
* :mod:`adapters.fisco.pbft` — the PBFT quorum ``n - (n - 1) // 3``.
* :mod:`adapters.fisco.seals` — a block hash's PBFT seals (secp256k1 or SM2) checked
  against the registered sealers, distinct sealers up to the quorum.
* :mod:`adapters.fisco.errors` — the 54xx codes.
"""
