"""Configuration of a Fabric dev chain: a typed dataclass with defaults and checks (pure).

Also the schema of its TOML file's ``[fabric]`` table (``python -m appchains.fabric
--config FILE``; flags override it)::

    [fabric]
    chain_name = "fabric1"
    hub_id = "hub0"
    channel = "mychannel"
    orgs = 2
    seed = "demo"
    ports = [7051, 8051]
    max_message_count = 10
    batch_timeout = "500ms"
    relay_validators = ["0x..."]
    relay_threshold = 1
    chaincodes = ["appchains.fabric.chaincode.broker:definitions"]
    data_dir = "var/fabric1"

``chaincodes`` lists chaincode providers (``module:attribute``, see
``appchains.fabric.registry``); the default is the broker set (``broker``, ``asset``,
``dataswap``: ``appchains.fabric.chaincode.definitions:broker_set``), which needs the
relay validators its broker trusts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_CHANNEL = re.compile(r"[a-z][a-z0-9.\-]{0,248}")  # Fabric's channel name rule
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m)")


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the field."""


def _doc(default: Any, doc: str, **meta: Any) -> Any:
    return field(default=default, metadata={"doc": doc, **meta})


@dataclass(frozen=True, slots=True)
class FabricConfig:
    chain_name: str = _doc("fabric1", "this chain's ID on the relay")
    hub_id: str = _doc("hub0", "hub ID of the relay the broker belongs to")
    channel: str = _doc("mychannel", "the channel's name")
    orgs: int = _doc(2, "application orgs, one endorsing peer each")
    seed: str | None = _doc(
        None, "derive every key from this seed (unset: a random seed kept in the data dir)"
    )
    host: str = _doc("127.0.0.1", "gRPC address (loopback only: no TLS, no auth)")
    ports: tuple[int, ...] = _doc((), "gRPC port per peer, in org order (unset: any free ports)")
    max_message_count: int = _doc(10, "transactions per block at most")
    batch_timeout: float = _doc(0.5, "a block at most this long after its first tx", duration=True)
    relay_validators: tuple[str, ...] = _doc((), "relay validator addresses the broker trusts")
    relay_threshold: int = _doc(1, "relay signatures the broker needs")
    chaincodes: tuple[str, ...] = _doc(
        ("appchains.fabric.chaincode.definitions:broker_set",),
        "chaincode providers, 'module:attribute' (default: the broker set: broker, asset, "
        "dataswap; it needs relay_validators)",
    )
    genesis_timestamp: int = _doc(0, "the config block's timestamp (0: now)")
    data_dir: Path | None = _doc(None, "directory of the SQLite ledger and crypto material")
    log_level: str = _doc("info", "debug, info, warning or error")

    def check(self) -> FabricConfig:
        for name in ("chain_name", "hub_id"):
            if not _SEGMENT.fullmatch(getattr(self, name)):
                raise ConfigError(f"{name} must match [A-Za-z0-9_.-]{{1,64}}")
        if not _CHANNEL.fullmatch(self.channel):
            raise ConfigError("channel must match [a-z][a-z0-9.-]{0,248}")
        if not 1 <= self.orgs <= 16:
            raise ConfigError("orgs must be 1-16")
        if self.ports and len(self.ports) != self.orgs:
            raise ConfigError(f"ports: one per org ({self.orgs}), or none for any free ports")
        if any(not 0 <= p < 65536 for p in self.ports):
            raise ConfigError("ports must be 0-65535")
        nonzero = [p for p in self.ports if p]
        if len(set(nonzero)) != len(nonzero):
            raise ConfigError("ports has duplicates")
        if self.host not in LOOPBACK_HOSTS:
            raise ConfigError(f"host must be a loopback address {LOOPBACK_HOSTS}; no TLS, no auth")
        if not 1 <= self.max_message_count <= 10_000:
            raise ConfigError("max_message_count must be 1-10000")
        if not 0 < self.batch_timeout <= 3600:
            raise ConfigError("batch_timeout must be > 0 and at most an hour")
        count = max(1, len(self.relay_validators))
        if not 1 <= self.relay_threshold <= count:
            raise ConfigError("need 1 <= relay_threshold <= number of relay validators")
        for spec in self.chaincodes:
            module, _, attr = spec.partition(":")
            if not module or not attr:
                raise ConfigError(f"chaincodes: {spec!r} is not 'module:attribute'")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError('log_level must be "debug", "info", "warning" or "error"')
        return self


def parse_duration(value: Any, key: str) -> float:
    """Seconds from a number or a string "250ms", "2s", "1m"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.fullmatch(value.strip())
        if m:
            return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(2)]
    raise ConfigError(f'{key} = {value!r}: write a duration such as "500ms" or "2s"')


def _list(value: Any, key: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(value)
    raise ConfigError(f"{key} = {value!r}: write a list")


def config_from_mapping(data: Mapping[str, Any], base: FabricConfig | None = None) -> FabricConfig:
    """Overlay ``data`` (a TOML table or parsed flags) on ``base``; unknown keys are an
    error. Lists may be comma-separated strings (flags); durations strings or seconds."""
    specs = {f.name: f for f in fields(FabricConfig)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        spec = specs.get(key)
        if spec is None:
            raise ConfigError(f"unknown config key {key!r}")
        default = spec.default
        if spec.metadata.get("duration"):
            value = parse_duration(value, key)
        elif key == "ports":
            items = _list(value, key)
            try:
                value = tuple(int(p) for p in items)
            except ValueError:
                raise ConfigError(f"ports = {value!r}: write port numbers") from None
        elif key in ("relay_validators", "chaincodes"):
            value = tuple(str(v) for v in _list(value, key))
        elif key == "data_dir":
            value = None if value in (None, "") else Path(value)
        elif key == "seed":
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"seed = {value!r}: write a string")
        elif isinstance(default, int) and (type(value) is not int):
            raise ConfigError(f"{key} = {value!r}: write a whole number")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{key} = {value!r}: write a string")
        changes[key] = value
    return replace(base or FabricConfig(), **changes)
