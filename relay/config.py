"""One typed config layer for every relayhub TOML file (pure: reading the file is the only I/O).

Each section of a file is a frozen dataclass whose fields carry their default and
their meaning (:func:`setting`); a file is a dataclass whose fields are its
sections. :func:`load_file` reads a TOML file and builds the typed value, or raises
:class:`ConfigError` listing *every* problem, each naming the file, the dotted key
(``gateway.poll_interval``) and the expected form. The same rules hold everywhere:

* durations are strings with a unit — ``"200ms"``, ``"10s"``, ``"2m"``; a bare
  number is refused (is ``5`` seconds or milliseconds?);
* unknown keys are an error, never a silent default;
* paths are relative to the file's directory;
* defaults live only in the schema (docs/operations.md, "Configuration", is
  generated from it: :func:`markdown_table`).

The relay's schema is here (:class:`RelayFile`); the gateway's is in
``adapters/gateway/config.py``, each adapter's ``[chain]`` keys next to the adapter,
and the dev chain's is its own ``DevchainConfig`` (app chains import nothing of the
relay; ``benchmarks/harness/devchain_config.py`` loads it through this module).
``relayhub config check FILE`` finds the kinds of file through the
``relayhub.config`` entry points (:class:`ConfigKind`).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from relay.errors import Code, RelayError

T = TypeVar("T")

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
DURATION_FORM = 'a duration string with a unit ("200ms", "10s", "2m")'


class ConfigError(RelayError):
    """A config file (or value) that cannot work: one line per problem in ``problems``,
    each ``FILE: dotted.key: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(Code.CONFIG, "; ".join(problems))
        self.problems = problems


def setting(
    default: Any = MISSING,
    doc: str = "",
    *,
    duration: bool = False,
    choices: tuple[str, ...] | None = None,
    min: int | float | None = None,
    max: int | float | None = None,
    check: Callable[[Any], str | None] | None = None,
    key_file: bool = False,
) -> Any:
    """A schema field: its default (none: required), its meaning for the docs, and the
    rules its value obeys. ``check(value)`` returns what is wrong, or None.
    ``key_file``: a string naming a key file relative to the config file, or an inline
    ``0x`` key (:func:`resolve_paths` makes the file name absolute)."""
    meta = {
        "doc": doc,
        "duration": duration,
        "choices": choices,
        "min": min,
        "max": max,
        "check": check,
        "key_file": key_file,
    }
    return field(default=default, metadata=meta)


def parse_duration(value: Any, key: str = "duration") -> float:
    """Seconds from ``"200ms"``, ``"10s"``, ``"2m"``; anything else (a bare number
    too) raises ConfigError naming ``key``."""
    if isinstance(value, str):
        m = _DURATION.fullmatch(value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2)]
    raise ConfigError([f"{key}: expected {DURATION_FORM}, got {value!r}"])


def format_duration(seconds: float) -> str:
    """The shortest exact string :func:`parse_duration` reads back as ``seconds``."""
    ms = round(seconds * 1000, 6)
    if ms % 60_000 == 0 and ms:
        return f"{int(ms // 60_000)}m"
    if ms % 1000 == 0:
        return f"{int(ms // 1000)}s"
    return f"{ms:g}ms"


# --- the loader ---------------------------------------------------------------------


def _hints(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


def schema_fields(schema: type) -> list[dataclasses.Field[Any]]:
    """The fields a file may set (``metadata={"config": False}`` ones are code-only)."""
    return [f for f in dataclasses.fields(schema) if f.init and f.metadata.get("config", True)]


def _optional(tp: Any) -> tuple[Any, bool]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def type_name(tp: Any, meta: Mapping[str, Any]) -> str:
    """The kind of value a key takes, in a word or two (the docs' "type" column)."""
    tp, _ = _optional(tp)
    if meta.get("duration"):
        return "duration"
    if meta.get("choices"):
        return " \\| ".join(f'`"{c}"`' for c in meta["choices"])
    if (dataclasses.is_dataclass(tp) and isinstance(tp, type)) or typing.get_origin(tp) is dict:
        return "table"
    if typing.get_origin(tp) is tuple:
        return f"list of {_NAMES.get(typing.get_args(tp)[0], 'value')}s"
    return _NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def expected(tp: Any, meta: Mapping[str, Any]) -> str:
    """The expected form of a value, in words (for errors)."""
    tp, _ = _optional(tp)
    if meta.get("duration"):
        return DURATION_FORM
    if meta.get("choices"):
        return "one of " + ", ".join(f'"{c}"' for c in meta["choices"])
    name = type_name(tp, meta)
    return ("an " if name[0] in "aeiou" else "a ") + name


_NAMES = {str: "string", int: "integer", bool: "boolean", float: "number", Path: "path"}


def _convert(
    tp: Any, meta: Mapping[str, Any], value: Any, key: str, base: Path | None, out: list[str]
) -> Any:
    """``value`` as ``tp``, or ``MISSING`` after appending the problem to ``out``."""
    tp, _ = _optional(tp)
    bad = f"{key}: expected {expected(tp, meta)}, got {value!r}"
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            out.append(bad)
            return MISSING
        return _build(tp, value, key, base, out)
    if meta.get("duration"):
        if isinstance(value, str) and _DURATION.fullmatch(value):
            result: Any = parse_duration(value, key)
        else:
            out.append(bad)
            return MISSING
    elif tp is bool:
        if not isinstance(value, bool):
            out.append(bad)
            return MISSING
        result = value
    elif tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(bad)
            return MISSING
        result = value
    elif tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            out.append(bad)
            return MISSING
        result = float(value)
    elif tp is str:
        if not isinstance(value, str):
            out.append(bad)
            return MISSING
        result = value
    elif tp is Path:
        if not isinstance(value, str) or not value:
            out.append(bad)
            return MISSING
        result = Path(value) if base is None else base / value
    elif typing.get_origin(tp) is tuple:
        (item,) = typing.get_args(tp)[:1]
        if not isinstance(value, list):
            out.append(bad)
            return MISSING
        items = []
        for i, v in enumerate(value):
            converted = _convert(item, {}, v, f"{key}[{i}]", base, out)
            if converted is MISSING:
                return MISSING
            items.append(converted)
        result = tuple(items)
    elif typing.get_origin(tp) is dict or tp is dict:
        if not isinstance(value, dict):
            out.append(bad)
            return MISSING
        result = dict(value)
    else:  # a schema type this loader does not know: a bug in the schema
        raise TypeError(f"{key}: unsupported config type {tp!r}")
    choices = meta.get("choices")
    if choices and result not in choices:
        out.append(bad)
        return MISSING
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and result < lo) or (hi is not None and result > hi):
        span = (
            f"{lo}..{hi}"
            if lo is not None and hi is not None
            else (f">= {lo}" if lo is not None else f"<= {hi}")
        )
        out.append(f"{key}: expected {expected(tp, meta)} {span}, got {value!r}")
        return MISSING
    check = meta.get("check")
    if check is not None:
        problem = check(result)
        if problem:
            out.append(f"{key}: {problem}, got {value!r}")
            return MISSING
    return result


def _resolve_default(tp: Any, f: dataclasses.Field[Any], base: Path | None) -> Any:
    if f.default is not MISSING:
        v = f.default
        if isinstance(v, Path) and base is not None:
            return base / v
        return v
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _build(
    schema: type[T], data: Mapping[str, Any], key: str, base: Path | None, out: list[str]
) -> T:
    hints = _hints(schema)
    fields_ = {f.name: f for f in schema_fields(schema)}
    prefix = f"{key}." if key else ""
    for k in data:
        if k not in fields_:
            known = ", ".join(fields_)
            out.append(f"{prefix}{k}: unknown key (known: {known})")
    values: dict[str, Any] = {}
    failed = False
    for name, f in fields_.items():
        tp = hints[name]
        if name in data:
            v = _convert(tp, f.metadata, data[name], prefix + name, base, out)
        else:
            inner, _ = _optional(tp)
            if (
                dataclasses.is_dataclass(inner)
                and f.default is MISSING
                and f.default_factory is MISSING
            ):
                v = _build(inner, {}, prefix + name, base, out)  # type: ignore[arg-type]
            else:
                v = _resolve_default(tp, f, base)
                if v is MISSING:
                    out.append(f"{prefix}{name}: required ({expected(tp, f.metadata)})")
        if v is MISSING:
            failed = True
        else:
            values[name] = v
    if failed:
        return MISSING  # type: ignore[return-value]
    return schema(**values)


def load_mapping(
    schema: type[T],
    data: Mapping[str, Any],
    *,
    key: str = "",
    file: str = "",
    base: Path | None = None,
) -> T:
    """Build ``schema`` from a parsed TOML table (``key``: its dotted path, for errors;
    ``file``: where it came from; ``base``: what relative paths are relative to)."""
    out: list[str] = []
    value = _build(schema, data, key, base, out)
    if out:
        raise ConfigError([f"{file}: {p}" if file else p for p in out])
    return value


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML document of ``path`` (the one piece of I/O here)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def load_file(schema: type[T], path: Path) -> T:
    """Read ``path`` and build ``schema`` from it (paths relative to its directory)."""
    return load_mapping(schema, read_toml(path), file=str(path), base=path.parent)


def default_of(schema: type, name: str) -> Any:
    """The schema's default for ``name`` (for code that mirrors a schema's fields)."""
    f = {f.name: f for f in dataclasses.fields(schema)}[name]
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise KeyError(f"{schema.__name__}.{name} has no default")


def resolve_paths(schema: type, data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``data`` (a raw table of ``schema``) with its relative file names made absolute
    against ``base``: ``Path`` fields, and ``key_file`` strings that are not ``0x`` keys."""
    hints = _hints(schema)
    out = dict(data)
    for f in schema_fields(schema):
        if f.name not in out:
            continue
        tp, _ = _optional(hints[f.name])

        def fix(v: Any) -> Any:
            if isinstance(v, str) and v and not v.startswith("0x"):
                return str(base / v)
            return v

        if tp is Path or f.metadata.get("key_file"):
            v = out[f.name]
            out[f.name] = [fix(x) for x in v] if isinstance(v, list) else fix(v)
    return out


# --- docs -------------------------------------------------------------------------------


def _default_text(tp: Any, f: dataclasses.Field[Any]) -> str:
    if f.default is MISSING and f.default_factory is MISSING:
        return "required"
    v = _resolve_default(tp, f, None)
    if v is None:
        return "unset"
    if f.metadata.get("duration"):
        return f'`"{format_duration(v)}"`'
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, str | Path):
        return f'`"{v}"`'
    if isinstance(v, tuple):
        return "`[]`" if not v else f"`{list(v)}`"
    if isinstance(v, dict):
        return "`{}`"
    return f"`{v}`"


def schema_rows(schema: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted key, expected form, default, meaning)`` of every key a file may set."""
    rows: list[tuple[str, str, str, str]] = []
    hints = _hints(schema)
    for f in schema_fields(schema):
        tp, _ = _optional(hints[f.name])
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            rows += schema_rows(tp, key + ".")
            continue
        rows.append(
            (key, type_name(tp, f.metadata), _default_text(tp, f), f.metadata.get("doc", ""))
        )
    return rows


def markdown_table(schema: type, prefix: str = "") -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, form, default, doc in schema_rows(schema, prefix):
        lines.append(f"| `{key}` | {form} | {default} | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


DOCS_BEGIN = "<!-- generated by `relayhub config docs`: begin -->"
DOCS_END = "<!-- generated by `relayhub config docs`: end -->"


def config_docs(kinds: Mapping[str, ConfigKind]) -> str:
    """The key tables of every kind of file (docs/operations.md, "Configuration"),
    between :data:`DOCS_BEGIN` and :data:`DOCS_END`."""
    parts = [DOCS_BEGIN, ""]
    for name in sorted(kinds):
        for title, prefix, schema in kinds[name].schemas():
            parts += [f"**{name}** file, {title}:", "", markdown_table(schema, prefix)]
    parts.append(DOCS_END)
    return "\n".join(parts) + "\n"


def toml_template(schema: type) -> str:
    """A TOML file setting every key of ``schema`` to its default, with its meaning as
    a comment (what ``relayhub relay init`` writes)."""
    lines: list[str] = []
    hints = _hints(schema)
    for section in schema_fields(schema):
        lines.append(f"[{section.name}]")
        inner, _ = _optional(hints[section.name])
        inner_hints = _hints(inner)
        for f in schema_fields(inner):
            v = _resolve_default(inner_hints[f.name], f, None)
            if v is MISSING or v is None:
                continue
            if f.metadata.get("duration"):
                text = f'"{format_duration(v)}"'
            elif isinstance(v, bool):
                text = str(v).lower()
            elif isinstance(v, str | Path):
                text = f'"{v}"'
            else:
                text = repr(v)
            assignment = f"{f.name} = {text}"
            lines.append(f"{assignment:<32} # {f.metadata.get('doc', '')}".rstrip())
        lines.append("")
    return "\n".join(lines)


# --- the kinds of file `relayhub config check` knows ---------------------------------


@dataclass(frozen=True, slots=True)
class ConfigKind:
    """One kind of config file: its name, the top-level table that identifies it, how to
    load (and check) a file of it, and ``schemas()``: its tables for the docs, each
    ``(title, key prefix, schema)``."""

    name: str
    section: str
    load: Callable[[Path], Any]
    schemas: Callable[[], tuple[tuple[str, str, type], ...]]


CONFIG_KIND_GROUP = "relayhub.config"


def detect_kind(doc: Mapping[str, Any], kinds: Mapping[str, ConfigKind]) -> ConfigKind | None:
    """The one kind whose identifying table ``doc`` has, or None."""
    found = [k for k in kinds.values() if isinstance(doc.get(k.section), dict)]
    return found[0] if len(found) == 1 else None


# --- the relay's file -------------------------------------------------------------------


def check_positive(value: float) -> str | None:
    """None for a value > 0, else what is wrong (a ``check=`` for :func:`setting`)."""
    return None if value > 0 else "expected more than zero"


def check_http_url(value: str) -> str | None:
    """None for an ``http://`` or ``https://`` URL, else what is wrong."""
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        return 'expected a URL with its scheme, e.g. "http://127.0.0.1:8710"'
    return None


def check_host_port(value: str) -> str | None:
    """None for a ``"host:port"`` string, else what is wrong (a ``check=`` for :func:`setting`)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return 'expected "host:port", e.g. "127.0.0.1:8720"'
    return None


@dataclass(frozen=True, slots=True)
class RelaySection:
    """``[relay]`` of ``relay.toml``: the node, its API, its logs."""

    genesis: Path = setting(Path("genesis.json"), "the genesis file (hub ID, admins, validators)")
    key: Path = setting(Path("keys/node.key"), "this node's validator key file (mode 0600)")
    data_dir: Path = setting(Path("data"), "directory of the ledger (SQLite)")
    host: str = setting("127.0.0.1", "address the API listens on")
    port: int = setting(8710, "API port (0: any free port)", min=0, max=65535)
    batch_time: float = setting(
        0.03,
        "a block is sealed this long after its first transaction",
        duration=True,
        check=check_positive,
    )
    max_block_txs: int = setting(
        1000, "a block is sealed as soon as it holds this many transactions", min=1
    )
    max_block_ibtps: int = setting(
        4000, "a block is sealed as soon as it carries this many IBTPs", min=1
    )
    max_sealed_blocks: int = setting(
        4, "sealed blocks waiting for the disk; beyond, submissions get 503 (6001)", min=1
    )
    idle_block_interval: float = setting(
        1.0,
        "while interchain timeouts are open, a block at least this often",
        duration=True,
        check=check_positive,
    )
    durability: str = setting(
        "normal",
        '"normal" survives a crash; "full" also power loss (slower)',
        choices=("normal", "full"),
    )
    relay_signer: str = setting(
        "process",
        'where relay proofs are signed: "process" (a worker process for large blocks) or "thread"',
        choices=("process", "thread"),
    )
    log_level: str = setting("info", "least severe log records written", choices=LOG_LEVELS)
    log_format: str = setting(
        "text", '"text" lines or "json" lines, on stderr', choices=LOG_FORMATS
    )
    block_log_interval: float = setting(
        1.0,
        "at most one committed-blocks summary line this often",
        duration=True,
        check=check_positive,
    )


@dataclass(frozen=True, slots=True)
class RelayFile:
    relay: RelaySection = field(default_factory=RelaySection)


#: The relay's defaults, for code that builds a node without a file.
RELAY_DEFAULTS = RelaySection()


def load_relay_file(path: Path) -> RelaySection:
    """``relay.toml`` (its ``[relay]`` table is required)."""
    doc = read_toml(path)
    if not isinstance(doc.get("relay"), dict):
        raise ConfigError([f"{path}: relay: required (a table)"])
    return load_mapping(RelayFile, doc, file=str(path), base=path.parent).relay


RELAY_KIND = ConfigKind(
    "relay", "relay", load_relay_file, lambda: (("`[relay]`", "relay.", RelaySection),)
)
