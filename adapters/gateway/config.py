"""Gateway configuration: one TOML file, ``[gateway]`` plus one ``[chain]`` table.

```toml
[gateway]
relay = "http://127.0.0.1:8710"   # relay API
key = "keys/gateway.key"          # the gateway's relay account (0600), registered for the chain
data_dir = "var/gateway-A"        # checkpoint and stream position
poll_interval = "200ms"
batch = 500                       # IBTPs per relay transaction

[chain]
type = "evm"                      # picks the adapter
id = "chainA"                     # the chain's ID on the relay
# ...adapter-specific keys (rpc, broker, ...): the adapter's ``config_schema``
```
Loaded through :mod:`relay.config` (typed schemas, durations with a unit, unknown
keys refused, every error naming file and key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from relay.config import (
    LOG_FORMATS,
    LOG_LEVELS,
    ConfigError,
    ConfigKind,
    check_host_port,
    check_http_url,
    check_positive,
    default_of,
    load_mapping,
    read_toml,
    resolve_paths,
    setting,
)

ADAPTER_GROUP = "relayhub.adapters"


@dataclass(frozen=True, slots=True)
class GatewaySection:
    """``[gateway]``: the chain-agnostic runtime."""

    relay: str = setting(doc="relay API URL", check=check_http_url)
    key: Path = setting(doc="the gateway's relay account key file (0600), registered for the chain")
    data_dir: Path = setting(doc="checkpoint, stream position and set-aside items")
    poll_interval: float = setting(
        0.2, "pause between chain polls once caught up", duration=True, check=check_positive
    )
    batch: int = setting(500, "IBTPs per relay transaction and per delivery round", min=1, max=4096)
    max_backoff: float = setting(
        5.0, "longest wait between retries", duration=True, check=check_positive
    )
    max_attempts: int = setting(
        8, "tries at a refused delivery / submission before it is set aside", min=1, max=1000
    )
    admin: str | None = setting(
        None, '"host:port" of the admin endpoint (/healthz, /metrics, /v1/parked)',
        check=check_host_port,
    )  # fmt: skip
    log_level: str = setting("info", "least severe log records written", choices=LOG_LEVELS)
    log_format: str = setting(
        "text", '"text" lines or "json" lines, on stderr', choices=LOG_FORMATS
    )


@dataclass(frozen=True, slots=True)
class ChainSection:
    """``[chain]``: the keys every adapter has; the rest are the adapter's own."""

    type: str = setting(doc='chain family: picks the adapter (e.g. "evm")')
    id: str = setting(doc="the chain's ID on the relay")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    relay: str
    key: Path
    data_dir: Path
    chain_type: str
    chain_id: str
    #: The ``[chain]`` table (without ``type``), relative key files made absolute; the
    #: adapter's factory reads it with its ``config_schema``.
    chain: dict[str, Any] = field(default_factory=dict)
    poll_interval: float = default_of(GatewaySection, "poll_interval")
    batch: int = default_of(GatewaySection, "batch")
    max_backoff: float = default_of(GatewaySection, "max_backoff")
    #: Attempts at a delivery the chain refuses (or a submission the relay refuses for
    #: a reason that may pass) before it is set aside.
    max_attempts: int = default_of(GatewaySection, "max_attempts")
    #: ``"host:port"`` of the admin endpoint (health, metrics, set-aside items), or None.
    admin: str | None = default_of(GatewaySection, "admin")
    log_level: str = default_of(GatewaySection, "log_level")
    log_format: str = default_of(GatewaySection, "log_format")

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: Path = Path("."), file: str = "") -> GatewayConfig:
        problems: list[str] = []
        where = f"{file}: " if file else ""
        for name in ("gateway", "chain"):
            if not isinstance(d.get(name), dict):
                problems.append(f"{where}{name}: required (a table)")
        for name in d:
            if name not in ("gateway", "chain"):
                problems.append(f"{where}{name}: unknown key (known: gateway, chain)")
        if problems:
            raise ConfigError(problems)
        gw = _collect(problems, GatewaySection, d["gateway"], "gateway", file, base.resolve())
        raw = dict(d["chain"])
        head = _collect(
            problems, ChainSection, {k: raw.get(k) for k in ("type", "id") if k in raw},
            "chain", file, None,
        )  # fmt: skip
        chain = {k: v for k, v in raw.items() if k != "type"}
        if head is not None:
            schema = adapter_schema(head.type)
            if schema is None:
                problems.append(
                    f"{where}chain.type: no adapter for chain type {head.type!r} "
                    f"(installed: {', '.join(sorted(_adapters())) or 'none'})"
                )
            else:
                _collect(problems, schema, chain, "chain", file, None)
                chain = resolve_paths(schema, chain, base.resolve())
        if problems or gw is None or head is None:
            raise ConfigError(problems)
        return cls(
            relay=gw.relay,
            key=gw.key,
            data_dir=gw.data_dir,
            chain_type=head.type,
            chain_id=head.id,
            chain=chain,
            poll_interval=gw.poll_interval,
            batch=gw.batch,
            max_backoff=gw.max_backoff,
            max_attempts=gw.max_attempts,
            admin=gw.admin,
            log_level=gw.log_level,
            log_format=gw.log_format,
        )

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        return cls.from_dict(read_toml(path), path.parent, str(path))


def _collect(
    problems: list[str], schema: type, data: Any, key: str, file: str, base: Path | None
) -> Any:
    try:
        return load_mapping(schema, data, key=key, file=file, base=base)
    except ConfigError as exc:
        problems += exc.problems
        return None


def _adapters() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ADAPTER_GROUP)}


def adapter_schema(chain_type: str) -> type | None:
    """The ``[chain]`` schema (``config_schema``) of the installed adapter for
    ``chain_type``, or None when there is none."""
    ep = _adapters().get(chain_type)
    if ep is None:
        return None
    schema = getattr(ep.load(), "config_schema", None)
    return schema if isinstance(schema, type) else None


def _schemas() -> tuple[tuple[str, str, type], ...]:
    out: list[tuple[str, str, type]] = [
        ("`[gateway]`", "gateway.", GatewaySection),
        ("`[chain]`, every adapter", "chain.", ChainSection),
    ]
    for name in sorted(_adapters()):
        schema = adapter_schema(name)
        if schema is not None:
            out.append((f'`[chain]` with `type = "{name}"`', "chain.", schema))
    return tuple(out)


GATEWAY_KIND = ConfigKind("gateway", "gateway", GatewayConfig.load, _schemas)
