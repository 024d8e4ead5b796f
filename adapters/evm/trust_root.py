"""An EVM chain's trust root, read from its JSON-RPC (``relayhub appchain trust-root``).

* mode ``seal``: the chain seals its blocks itself; its validators and threshold come
  from ``relayhub_getValidators`` (the dev chain serves it) and the EIP-155 chain ID
  from ``eth_chainId``.
* mode ``notary``: the chain does not seal (ganache, a plain dev node); the relay
  trusts M-of-N notary keys instead. The node gives only the chain ID; the notaries'
  addresses (``--notary``, the keys the gateway's ``notary_keys`` hold) and the
  threshold are the operator's choice.

The result is checked by :class:`adapters.evm.verifier.EvmVerifier` before it is
returned, so what is printed is what ``appchain register --trust-root`` accepts.
Registered as the ``evm`` entry point of ``relayhub.trust_roots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

from adapters.evm.rpc import EthRpc, RpcError, hex_to_int
from adapters.evm.verifier import EvmVerifier
from relay.errors import Code, RelayError

#: JSON-RPC "method not found".
_NO_METHOD = -32601


async def _read(rpc_url: str, seal: bool) -> tuple[int, dict[str, Any] | None]:
    rpc = EthRpc(rpc_url, timeout=10.0)
    try:
        chain_id = hex_to_int(await rpc.call("eth_chainId"))
        if not seal:
            return chain_id, None
        try:
            got = await rpc.call("relayhub_getValidators")
        except RpcError as exc:
            if exc.details.get("rpc_code") != _NO_METHOD:
                raise
            raise RelayError(
                Code.CONFIG,
                f"{rpc_url} has no relayhub_getValidators: it does not seal blocks the relay "
                "can check. Register it in notary mode: --mode notary --notary ADDR "
                "[--notary ADDR ...] [--threshold M], where each ADDR is a notary key the "
                "chain's gateway signs with (its [chain] notary_keys)",
            ) from None
        return chain_id, got
    finally:
        await rpc.aclose()


def derive_trust_root(
    rpc_url: str, mode: str = "seal", notaries: Sequence[str] = (), threshold: int | None = None
) -> dict[str, Any]:
    """``{"evm_chain_id", "mode", "validators", "threshold"}`` for the chain at ``rpc_url``."""
    if mode not in ("seal", "notary"):
        raise RelayError(Code.CONFIG, f"--mode {mode!r}: an EVM trust root is 'seal' or 'notary'")
    if mode == "seal" and notaries:
        raise RelayError(Code.CONFIG, "--notary goes with --mode notary")
    if mode == "notary" and not notaries:
        raise RelayError(
            Code.CONFIG,
            "--mode notary needs the notaries' addresses: --notary ADDR (repeatable), the keys "
            "the gateway's [chain] notary_keys hold (`relayhub keys new` prints an address)",
        )
    try:
        chain_id, got = trio.run(_read, rpc_url, mode == "seal")
    except RpcError as exc:
        raise RelayError(exc.code, f"{rpc_url}: {exc.message}") from None
    if got is None:
        validators = [str(a).lower() for a in notaries]
        m = len(validators) if threshold is None else threshold
    else:
        if not isinstance(got, dict):
            raise RelayError(Code.BAD_REQUEST, f"{rpc_url}: relayhub_getValidators: not a map")
        validators = [str(a).lower() for a in got.get("validators", [])]
        m = int(got.get("threshold", 0)) if threshold is None else threshold
    root = {"evm_chain_id": chain_id, "mode": mode, "validators": validators, "threshold": m}
    EvmVerifier().parse_trust_root(root)  # 3007 naming what is wrong, before anyone uses it
    return root
