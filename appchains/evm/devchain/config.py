"""Configuration of a dev chain: a plain typed dataclass with defaults and checks (pure).

:class:`DevchainConfig` is also the schema of a dev chain's TOML file: each field's
``metadata`` holds its meaning (``doc``) and, for durations, ``"duration": True``
(the file says ``"100ms"``, the field holds seconds). The file is read outside the
app chain, by relayhub's typed config loader (``relay/config.py``, through
``benchmarks.harness.devchain_config.load_devchain_config``): an app chain imports
nothing of the relay::

    [devchain]
    chain_id = 1337
    chain_name = "evm1"
    hub_id = "hub0"
    validators = 4
    threshold = 3
    block_interval = "100ms"
    relay_validators = ["0x..."]
    data_dir = "var/evm1"
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from appchains.evm.devchain.crypto import parse_address

DEFAULT_BROKER = "0x0000000000000000000000000000000000001000"
DEFAULT_ASSET_TRANSFER = "0x0000000000000000000000000000000000001001"
DEFAULT_DATA_SWAP = "0x0000000000000000000000000000000000001002"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the field."""


def _doc(default: Any, doc: str, **meta: Any) -> Any:
    return field(default=default, metadata={"doc": doc, **meta})


@dataclass(frozen=True, slots=True)
class DevchainConfig:
    # identity
    chain_id: int = _doc(1337, "EVM chain ID")
    chain_name: str = _doc("evm1", "this chain's ID on the relay")
    hub_id: str = _doc("hub0", "hub ID of the relay the broker belongs to")
    # proof of authority
    validators: int = _doc(4, "PoA validators")
    threshold: int = _doc(3, "seals a block needs")
    sealers: int = _doc(0, "validators that seal each block (0: all)")
    seed: str | None = _doc(None, "derive every key from this seed (a deterministic chain)")
    # genesis
    accounts: int = _doc(10, "funded dev accounts")
    account_balance: int = _doc(10**24, "wei per dev account")
    token_balance: int = _doc(10**9, "example tokens per dev account")
    mint_cap: int = _doc(10**6, "example token mint cap")
    relay_validators: tuple[str, ...] = _doc(
        (), "relay validator addresses the broker trusts (none: derived dev keys)"
    )
    relay_threshold: int = _doc(1, "relay signatures the broker needs")
    relay_dev_keys: int = _doc(1, "derived relay keys when relay_validators is empty")
    broker_address: str = _doc(DEFAULT_BROKER, "address of the broker contract")
    asset_transfer_address: str = _doc(DEFAULT_ASSET_TRANSFER, "address of AssetTransfer")
    data_swap_address: str = _doc(DEFAULT_DATA_SWAP, "address of DataSwap")
    service_owner: str = _doc(
        "",
        "owner of the example services (sets AssetTransfer's counterparts); empty: dev account 0",
    )
    gas_limit: int = _doc(30_000_000, "block gas limit")
    base_fee: int = _doc(1_000_000_000, "base fee per gas (wei)")
    genesis_timestamp: int = _doc(0, "genesis block timestamp (0: now)")
    # block production
    block_interval: float = _doc(0.1, "least time between blocks", duration=True)
    empty_block_interval: float = _doc(
        5.0, "an empty block after this long idle (0s: never)", duration=True
    )
    max_block_txs: int = _doc(2_000, "transactions per block")
    max_pool_txs: int = _doc(50_000, "transactions waiting in the pool")
    # I/O
    host: str = _doc("127.0.0.1", "JSON-RPC address (loopback only: no auth)")
    port: int = _doc(0, "JSON-RPC port (0: any free port)")
    data_dir: Path | None = _doc(None, "directory of the SQLite store (unset: in memory)")
    log_level: str = _doc(
        "info", "least severe log records written", choices=("debug", "info", "warning", "error")
    )
    log_format: str = _doc(
        "text", '"text" lines or "json" lines, on stderr', choices=("text", "json")
    )
    time_source: Callable[[], float] = field(
        default=time.time, compare=False, repr=False, metadata={"config": False}
    )

    def check(self) -> DevchainConfig:
        """Return self, or raise :class:`ConfigError` naming the bad field."""
        if not 1 <= self.chain_id < 2**63:
            raise ConfigError("chain_id must be a positive integer")
        for name in ("chain_name", "hub_id"):
            if not _SEGMENT.fullmatch(getattr(self, name)):
                raise ConfigError(f"{name} must match [A-Za-z0-9_.-]{{1,64}}")
        if not 1 <= self.threshold <= self.validators <= 64:
            raise ConfigError("need 1 <= threshold <= validators <= 64")
        if self.sealers and not self.threshold <= self.sealers <= self.validators:
            raise ConfigError("sealers must be between threshold and validators (or 0 for all)")
        relay_count = len(self.relay_validators) or self.relay_dev_keys
        if not 1 <= self.relay_threshold <= relay_count <= 256:
            raise ConfigError("need 1 <= relay_threshold <= number of relay validators <= 256")
        for name in ("broker_address", "asset_transfer_address", "data_swap_address"):
            _address(getattr(self, name), name)
        for text in self.relay_validators:
            _address(text, "relay_validators")
        if self.service_owner:
            _address(self.service_owner, "service_owner")
        elif self.accounts < 1:
            raise ConfigError("service_owner is required when accounts = 0 (no dev account 0)")
        if len({a.lower() for a in self.relay_validators}) != len(self.relay_validators):
            raise ConfigError("relay_validators has duplicates")
        if self.block_interval <= 0 or self.empty_block_interval < 0:
            raise ConfigError("block_interval must be > 0 and empty_block_interval >= 0")
        if self.host not in LOOPBACK_HOSTS:
            raise ConfigError(
                f"host must be a loopback address {LOOPBACK_HOSTS}; the dev chain has no auth"
            )
        if not 0 <= self.port < 65536:
            raise ConfigError("port must be 0-65535")
        if self.gas_limit < 21_000 or self.base_fee < 0 or self.accounts < 0:
            raise ConfigError("gas_limit >= 21000, base_fee >= 0, accounts >= 0")
        if self.max_block_txs < 1 or self.max_pool_txs < 1:
            raise ConfigError("max_block_txs and max_pool_txs must be >= 1")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError('log_level must be "debug", "info", "warning" or "error"')
        if self.log_format not in ("text", "json"):
            raise ConfigError('log_format must be "text" or "json"')
        return self


def _address(text: str, name: str) -> bytes:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def config_from_mapping(
    data: Mapping[str, Any], base: DevchainConfig | None = None
) -> DevchainConfig:
    """Overlay ``data`` (typed values, e.g. parsed flags) on ``base``; unknown keys are
    an error. ``relay_validators`` may be a comma-separated string (a flag)."""
    defaults = {f.name: f.default for f in fields(DevchainConfig)}
    known = set(defaults) - {"time_source"}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"unknown config key {key!r}")
        if key == "relay_validators":
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            value = tuple(str(v).strip() for v in value)
        elif key == "data_dir":
            value = None if value in (None, "") else Path(value)
        else:
            _check_type(key, value, defaults[key])
        changes[key] = value
    return replace(base or DevchainConfig(), **changes)


def _check_type(key: str, value: Any, default: Any) -> None:
    """A whole number where the default is one, text where it is text."""
    if isinstance(default, bool) and type(value) is not bool:
        raise ConfigError(f"{key} = {value!r}: write true or false")
    if isinstance(default, int) and not isinstance(default, bool) and type(value) is not int:
        raise ConfigError(f"{key} = {value!r}: write a whole number")
    if isinstance(default, float) and not isinstance(value, int | float):
        raise ConfigError(f"{key} = {value!r}: write a number of seconds")
    if isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{key} = {value!r}: write a string")
