"""Configuration of a dev chain: defaults, TOML loading, checks (pure, no I/O but reading a file).

A TOML file holds the fields of :class:`DevchainConfig` at top level or under a
``[devchain]`` table; durations are seconds as numbers or strings such as
``"100ms"``, ``"5s"``::

    chain_id = 1337
    chain_name = "evm1"
    hub_id = "hub0"
    validators = 4
    threshold = 3
    seed = "demo"
    block_interval = "100ms"
    relay_validators = ["0x..."]
    relay_threshold = 1
    data_dir = "var/evm1"
"""

from __future__ import annotations

import re
import time
import tomllib
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


@dataclass(frozen=True, slots=True)
class DevchainConfig:
    # identity
    chain_id: int = 1337
    chain_name: str = "evm1"
    hub_id: str = "hub0"
    # proof of authority
    validators: int = 4
    threshold: int = 3
    sealers: int = 0  # validators that seal each block; 0 = all
    seed: str | None = None
    # genesis
    accounts: int = 10
    account_balance: int = 10**24
    token_balance: int = 10**9
    mint_cap: int = 10**6
    relay_validators: tuple[str, ...] = ()
    relay_threshold: int = 1
    relay_dev_keys: int = 1  # derived relay keys when relay_validators is empty
    broker_address: str = DEFAULT_BROKER
    asset_transfer_address: str = DEFAULT_ASSET_TRANSFER
    data_swap_address: str = DEFAULT_DATA_SWAP
    # owner of the example services (AssetTransfer's setCounterpart); "" = dev account 0
    service_owner: str = ""
    gas_limit: int = 30_000_000
    base_fee: int = 1_000_000_000
    genesis_timestamp: int = 0
    # block production
    block_interval: float = 0.1
    empty_block_interval: float = 5.0  # 0 = never produce empty blocks
    max_block_txs: int = 2_000
    max_pool_txs: int = 50_000
    # I/O
    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path | None = None
    time_source: Callable[[], float] = field(default=time.time, compare=False, repr=False)

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
        return self


def _address(text: str, name: str) -> bytes:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def parse_duration(value: object, name: str) -> float:
    """Seconds from a number or a string like ``"250ms"``, ``"5s"``, ``"1m"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: not a duration")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m)?\s*", value)
        if match:
            scale = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match.group(2)]
            return float(match.group(1)) * scale
    raise ConfigError(f"{name}: {value!r} is not a duration (e.g. 0.1, '100ms', '5s')")


_DURATIONS = {"block_interval", "empty_block_interval"}


def config_from_mapping(
    data: Mapping[str, Any], base: DevchainConfig | None = None
) -> DevchainConfig:
    """Overlay ``data`` (TOML-like keys) on ``base``; unknown keys are an error."""
    defaults = {f.name: f.default for f in fields(DevchainConfig)}
    known = set(defaults) - {"time_source"}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"unknown config key {key!r}")
        if key in _DURATIONS:
            value = parse_duration(value, key)
        elif key == "relay_validators":
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
    if isinstance(default, int) and (type(value) is not int):
        raise ConfigError(f"{key} = {value!r}: write a whole number")
    if isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{key} = {value!r}: write a string")


def load_config(path: Path, base: DevchainConfig | None = None) -> DevchainConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    section = data.get("devchain", data)
    if not isinstance(section, dict):
        raise ConfigError("[devchain] must be a table")
    return config_from_mapping(section, base)
