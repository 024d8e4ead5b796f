"""``[chain]`` keys of a FISCO gateway (``type = "fisco"``): the adapter's config schema."""

from __future__ import annotations

from dataclasses import dataclass

from relay.config import setting


@dataclass(frozen=True, slots=True)
class FiscoChainSection:
    id: str = setting(doc="the chain's ID on the relay")
    rpc: str = setting(doc="the node's JSON-RPC URL (FISCO BCOS 2.x, [rpc] jsonrpc_listen_port)")
    broker: str = setting(doc="the broker contract's address")
    key: str = setting(
        doc="key file (relative to this file) or 0x-hex private key of the account that "
        "sends broker transactions (a secp256k1 or SM2 scalar, by mode)",
        key_file=True,
    )
    group_id: int = setting(1, "the group the broker is deployed in", min=1, max=32767)
    mode: str = setting(
        "secp256k1",
        'the chain\'s crypto: "secp256k1" (keccak-256) or "sm" (国密 SM2/SM3)',
        choices=("secp256k1", "sm"),
    )
    max_blocks_per_poll: int = setting(200, "chain blocks read per poll", min=1)
    gas: int = setting(30_000_000, "gas of a broker transaction", min=21_000)
    block_limit_margin: int = setting(
        500, "blockLimit = head + this (FISCO refuses more than 1000)", min=1, max=1000
    )
    receipt_timeout: float = setting(
        30.0, "wait this long for a broker transaction's receipt", duration=True
    )
