"""Settings of the FISCO BCOS-like dev chain (pure): :class:`FiscoConfig`.

A table ``[fisco]`` in a TOML file (``python -m appchains.fisco --config``) or flags
give these keys; :func:`config_from_mapping` reads either, :meth:`FiscoConfig.check`
names the first bad one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_BROKER = "0x0000000000000000000000000000000000001000"
DEFAULT_ASSET_TRANSFER = "0x0000000000000000000000000000000000001001"
DEFAULT_DATA_SWAP = "0x0000000000000000000000000000000000001002"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
MODES = ("secp256k1", "sm")
_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the field."""


def _doc(default: Any, doc: str, **meta: Any) -> Any:
    return field(default=default, metadata={"doc": doc, **meta})


@dataclass(frozen=True, slots=True)
class FiscoConfig:
    # identity (FISCO's config.ini chain.id, group.N.genesis)
    chain_name: str = _doc("fisco1", "this chain's ID on the relay")
    hub_id: str = _doc("hub0", "hub ID of the relay the broker belongs to")
    chain_id: int = _doc(1, "FISCO chain.id (int64 >= 0), checked in every transaction")
    group_id: int = _doc(1, "the group this node runs (1..32767)")
    mode: str = _doc("secp256k1", 'crypto: "secp256k1" (keccak) or "sm" (国密 SM2/SM3)')
    # PBFT
    sealers: int = _doc(4, "PBFT sealers of the group (f = (n-1)//3)")
    seed: str | None = _doc(None, "derive every key from this seed (a deterministic chain)")
    # genesis
    accounts: int = _doc(10, "dev accounts (FISCO has no native coin: none is funded)")
    token_balance: int = _doc(10**9, "example tokens per dev account")
    mint_cap: int = _doc(10**6, "example token mint cap")
    relay_validators: tuple[str, ...] = _doc((), "relay validator addresses the broker trusts")
    relay_threshold: int = _doc(1, "relay signatures the broker needs")
    broker_address: str = _doc(DEFAULT_BROKER, "address of the broker contract")
    asset_transfer_address: str = _doc(DEFAULT_ASSET_TRANSFER, "address of AssetTransfer")
    data_swap_address: str = _doc(DEFAULT_DATA_SWAP, "address of DataSwap")
    gas_limit: int = _doc(300_000_000, "tx_gas_limit: gas a transaction may use at most")
    # block production (FISCO seals a block only when transactions wait)
    block_interval: float = _doc(0.1, "least time between blocks", duration=True)
    max_block_txs: int = _doc(1_000, "tx_count_limit: transactions per block")
    max_pool_txs: int = _doc(50_000, "transactions waiting in the pool")
    # I/O
    host: str = _doc("127.0.0.1", "JSON-RPC address (loopback only: no auth)")
    port: int = _doc(0, "JSON-RPC port (0: any free port)")
    data_dir: Path | None = field(
        default=None, metadata={"doc": "directory of the SQLite store (unset: in memory)"}
    )
    log_level: str = _doc("info", "debug, info, warning or error")
    time_source: Callable[[], float] = field(
        default=time.time, compare=False, repr=False, metadata={"config": False}
    )

    def check(self) -> FiscoConfig:
        """Return self, or raise :class:`ConfigError` naming the bad field."""
        for name, value in (("chain_name", self.chain_name), ("hub_id", self.hub_id)):
            if not _SEGMENT.fullmatch(value):
                raise ConfigError(f"{name} must be [A-Za-z0-9_.-]{{1,64}}, got {value!r}")
        if not 0 <= self.chain_id < 2**63:
            raise ConfigError("chain_id is an int64 >= 0")
        if not 1 <= self.group_id <= 32767:
            raise ConfigError("group_id must be in 1..32767")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 1 <= self.sealers <= 128:
            raise ConfigError("sealers must be 1..128")
        if not 1 <= self.accounts <= 1000:
            raise ConfigError("accounts must be 1..1000")
        for a in (
            *self.relay_validators,
            self.broker_address,
            self.asset_transfer_address,
            self.data_swap_address,
        ):
            if not _ADDRESS.fullmatch(a):
                raise ConfigError(f"{a!r} is not a 0x address of 40 hex digits")
        if self.relay_validators and not 1 <= self.relay_threshold <= len(self.relay_validators):
            raise ConfigError("relay_threshold must be 1..len(relay_validators)")
        if self.block_interval < 0:
            raise ConfigError("block_interval must be >= 0")
        if self.host not in LOOPBACK_HOSTS:
            raise ConfigError(f"host must be loopback ({', '.join(LOOPBACK_HOSTS)})")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError("log_level must be debug, info, warning or error")
        return self


def _duration(value: Any, key: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s)?\s*", str(value))
    if not m:
        raise ConfigError(f'{key}: {value!r} is not a duration ("100ms", "2s")')
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def config_from_mapping(table: Mapping[str, Any], base: FiscoConfig | None = None) -> FiscoConfig:
    """``base`` with the keys of ``table`` (TOML values or flag strings) set."""
    base = base or FiscoConfig()
    known = {f.name: f for f in fields(FiscoConfig) if f.metadata.get("config", True)}
    changes: dict[str, Any] = {}
    for key, value in table.items():
        f = known.get(key)
        if f is None:
            raise ConfigError(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
        default = getattr(base, key)
        if f.metadata.get("duration"):
            changes[key] = _duration(value, key)
        elif key == "relay_validators":
            items = value.split(",") if isinstance(value, str) else list(value)
            changes[key] = tuple(str(v).strip() for v in items if str(v).strip())
        elif key == "data_dir":
            changes[key] = Path(value) if value else None
        elif key == "seed":
            changes[key] = str(value)
        elif isinstance(default, bool):
            changes[key] = value if isinstance(value, bool) else str(value).lower() == "true"
        elif isinstance(default, int):
            try:
                changes[key] = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{key} must be an integer, got {value!r}") from None
        else:
            changes[key] = str(value)
    return replace(base, **changes)
