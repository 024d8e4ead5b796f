"""Layered key-value state: the view block execution reads and writes.

State is a flat map from string keys to msgpack-able values (treated as
immutable: writers replace values, never mutate them). Reads fall through the
layers, newest first, then to the committed store. Execution of one transaction
writes into a child layer that is merged into its parent on success and dropped
on failure, so a refused transaction leaves the state exactly as it was.

Keys (docs/ledger.md lists them): ``acct/<addr>``, ``chain/<id>``, ``svc/<full id>``,
``pair/<from>~<to>``, ``tx/<ibtp id>``, ``timeout/<height:016x>/<ibtp id>``,
``outseq/<chain>``, ``out/<chain>/<seq:016x>``, ``meta/<name>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

#: Sentinel for "deleted in this layer".
_DELETED = None
_MISSING: Any = object()


class StateReader(Protocol):
    def get_committed(self, key: str) -> Any: ...

    def scan_committed(self, prefix: str) -> Iterator[tuple[str, Any]]: ...


class Layer:
    """One layer of writes. ``None`` marks a deletion."""

    __slots__ = ("writes",)

    def __init__(self) -> None:
        self.writes: dict[str, Any] = {}


class StateView:
    """Reads through ``layers`` (last = newest) then ``base``; writes go to the newest layer."""

    __slots__ = ("_base", "_layers", "_top")

    def __init__(self, base: StateReader, layers: list[Layer]) -> None:
        self._base = base
        self._layers = layers
        self._top = layers[-1]

    def get(self, key: str, default: Any = None) -> Any:
        for layer in reversed(self._layers):
            v = layer.writes.get(key, _MISSING)
            if v is not _MISSING:
                return default if v is _DELETED else v
        v = self._base.get_committed(key)
        return default if v is None else v

    def set(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError("store None with delete()")
        self._top.writes[key] = value

    def delete(self, key: str) -> None:
        self._top.writes[key] = _DELETED

    def scan(self, prefix: str) -> list[tuple[str, Any]]:
        """All live (key, value) pairs under ``prefix``, sorted by key."""
        merged: dict[str, Any] = dict(self._base.scan_committed(prefix))
        for layer in self._layers:
            for k, v in layer.writes.items():
                if k.startswith(prefix):
                    merged[k] = v
        return sorted((k, v) for k, v in merged.items() if v is not _DELETED)

    def child(self) -> tuple[StateView, Layer]:
        layer = Layer()
        return StateView(self._base, [*self._layers, layer]), layer

    def merge(self, layer: Layer) -> None:
        """Fold a child's writes into this view's top layer (the child succeeded)."""
        self._top.writes.update(layer.writes)


class MemoryReader:
    """A committed store held in a dict: for tests and pure replays."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = dict(data or {})

    def get_committed(self, key: str) -> Any:
        return self.data.get(key)

    def scan_committed(self, prefix: str) -> Iterator[tuple[str, Any]]:
        return iter(sorted((k, v) for k, v in self.data.items() if k.startswith(prefix)))

    def apply(self, writes: dict[str, Any]) -> None:
        for k, v in writes.items():
            if v is None:
                self.data.pop(k, None)
            else:
                self.data[k] = v
