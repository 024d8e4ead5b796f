"""EVM dev chain: an Ethereum-compatible PoA chain with the relayhub broker built in.

Pure core (no trio, sockets or clock): :mod:`.header`, :mod:`.receipts`,
:mod:`.bloom`, :mod:`.transactions`, :mod:`.state`, :mod:`.native`, :mod:`.broker`,
:mod:`.services`, :mod:`.chain`, :mod:`.seals`, :mod:`.genesis`, :mod:`.config`,
:mod:`.rpc`. I/O shell: :mod:`.store` (SQLite), :mod:`.node` (producer,
:func:`open_devchain`), :mod:`.server` (hypercorn), ``python -m appchains.evm.devchain``.

It stands in for a foreign chain, so it imports neither ``relay`` nor ``adapters``.
The shell names below load lazily, so importing a core module never loads trio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appchains.evm.devchain.config import ConfigError, DevchainConfig
from appchains.evm.devchain.seals import SEAL_DOMAIN, compute_seal_digest, verify_seals

if TYPE_CHECKING:
    from appchains.evm.devchain.node import DevchainHandle, DevchainNode, open_devchain

__all__ = [
    "SEAL_DOMAIN",
    "ConfigError",
    "DevchainConfig",
    "DevchainHandle",
    "DevchainNode",
    "compute_seal_digest",
    "open_devchain",
    "verify_seals",
]

_LAZY = {"DevchainHandle", "DevchainNode", "open_devchain"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from appchains.evm.devchain import node

        return getattr(node, name)
    raise AttributeError(name)
