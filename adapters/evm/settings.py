"""``[chain]`` keys of an EVM gateway (``type = "evm"``): the adapter's config schema."""

from __future__ import annotations

from dataclasses import dataclass

from relay.config import setting


@dataclass(frozen=True, slots=True)
class EvmChainSection:
    id: str = setting(doc="the chain's ID on the relay")
    rpc: str = setting(doc="the chain's JSON-RPC URL")
    broker: str = setting(doc="the broker contract's address")
    key: str = setting(
        doc="key file (relative to this file) or 0x-hex key of the account that sends "
        "broker transactions",
        key_file=True,
    )
    seal_mode: str = setting(
        "seal",
        'proofs carry the chain\'s PoA seals ("seal") or notary signatures ("notary")',
        choices=("seal", "notary"),
    )
    notary_keys: tuple[str, ...] = setting(
        (), 'notary key files or 0x keys (with seal_mode = "notary")', key_file=True
    )
    confirmations: int = setting(0, "blocks behind the head an event must be", min=0)
    max_blocks_per_poll: int = setting(500, "chain blocks read per poll", min=1)
    gas: int = setting(5_000_000, "gas limit of a broker transaction", min=21_000)
    receipt_timeout: float = setting(
        30.0, "wait this long for a broker transaction's receipt", duration=True
    )
