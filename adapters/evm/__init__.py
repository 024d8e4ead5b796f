"""The EVM chain family: proof format, relay-side verifier, gateway-side proof builder.

* :mod:`adapters.evm.proof` — the proof a gateway attaches to an IBTP from an EVM
  chain (header, seals, receipt, Merkle-Patricia nodes), its canonical codec, the
  raw-node MPT walk and the receipts-trie builder. Pure.
* :mod:`adapters.evm.verifier` — :class:`~adapters.evm.verifier.EvmVerifier`, the
  ``relayhub.verifiers`` entry point for family ``"evm"``. Pure.
* :mod:`adapters.evm.errors` — the 52xx error codes.

Specified in ``docs/evm.md``, section "EVM proofs and verifier".
"""
