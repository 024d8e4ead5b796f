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
# ...adapter-specific keys (rpc, broker, ...)
```
Durations are strings with a unit: ``ms``, ``s``, ``m``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.errors import Code, RelayError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$")


def parse_duration(value: Any) -> float:
    """'200ms' -> 0.2, '10s' -> 10.0, '2m' -> 120.0; plain numbers are seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise RelayError(Code.CONFIG, f"duration {value!r}: use a number with ms, s or m")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n


def _admin_address(value: Any) -> str | None:
    if value is None:
        return None
    host, sep, port = str(value).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise RelayError(
            Code.CONFIG, f'[gateway] admin {value!r}: use "host:port", e.g. "127.0.0.1:8720"'
        )
    return f"{host}:{int(port)}"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    relay: str
    key: Path
    data_dir: Path
    chain_type: str
    chain_id: str
    chain: dict[str, Any] = field(default_factory=dict)
    poll_interval: float = 0.2
    batch: int = 500
    max_backoff: float = 5.0
    #: Attempts at a delivery the chain refuses (or a submission the relay refuses for
    #: a reason that may pass) before it is set aside.
    max_attempts: int = 8
    #: ``"host:port"`` of the admin endpoint (health, metrics, set-aside items), or None.
    admin: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], base: Path = Path(".")) -> GatewayConfig:
        gw, chain = d.get("gateway"), d.get("chain")
        if not isinstance(gw, dict) or not isinstance(chain, dict):
            raise RelayError(Code.CONFIG, "gateway config needs a [gateway] and a [chain] table")
        for k in ("relay", "key", "data_dir"):
            if k not in gw:
                raise RelayError(Code.CONFIG, f"[gateway] needs {k!r}")
        for k in ("type", "id"):
            if k not in chain:
                raise RelayError(Code.CONFIG, f"[chain] needs {k!r}")
        relay = str(gw["relay"])
        if not relay.startswith(("http://", "https://")):
            raise RelayError(
                Code.CONFIG,
                f"[gateway] relay = {relay!r}: write the URL with its scheme, "
                'e.g. "http://127.0.0.1:8710"',
            )
        batch = int(gw.get("batch", 500))
        if not 1 <= batch <= 4096:
            raise RelayError(Code.CONFIG, "[gateway] batch must be 1..4096")
        max_attempts = gw.get("max_attempts", 8)
        if type(max_attempts) is not int or not 1 <= max_attempts <= 1000:
            raise RelayError(Code.CONFIG, "[gateway] max_attempts must be an integer 1..1000")
        return cls(
            relay=relay,
            key=(base / str(gw["key"])).resolve(),
            data_dir=(base / str(gw["data_dir"])).resolve(),
            chain_type=str(chain["type"]),
            chain_id=str(chain["id"]),
            chain={k: v for k, v in chain.items() if k not in ("type",)},
            poll_interval=parse_duration(gw.get("poll_interval", "200ms")),
            batch=batch,
            max_backoff=parse_duration(gw.get("max_backoff", "5s")),
            max_attempts=max_attempts,
            admin=_admin_address(gw.get("admin")),
        )

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RelayError(Code.CONFIG, f"cannot read gateway config {path}: {exc}") from None
        return cls.from_dict(data, path.parent)
