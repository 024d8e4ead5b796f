"""The FISCO BCOS family (in progress).

* :mod:`adapters.fisco.smcrypto` — the national-crypto (国密) primitives of FISCO's
  国密 build: SM3, and SM2 signatures with a user ID, in FISCO's 128-byte
  ``r‖s‖pub`` form. Pure.
"""
