"""Verifier registry: chain families found through the ``relayhub.verifiers`` entry points.

A new family is a package that declares, in its own ``pyproject.toml``::

    [project.entry-points."relayhub.verifiers"]
    myfamily = "mypkg.verifier:MyVerifier"

The relay imports no adapter by name. An unknown family is refused at
registration with UNKNOWN_FAMILY.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from relay.errors import Code, RelayError
from relay.validation.base import Verifier

ENTRY_POINT_GROUP = "relayhub.verifiers"


class VerifierRegistry:
    def __init__(self, verifiers: dict[str, Verifier] | None = None) -> None:
        self._verifiers: dict[str, Verifier] = dict(verifiers or {})

    @classmethod
    def from_entry_points(cls) -> VerifierRegistry:
        found: dict[str, Verifier] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            factory: Any = ep.load()
            verifier = factory()
            if not isinstance(verifier, Verifier):
                raise RelayError(
                    Code.CONFIG,
                    f"entry point {ep.name} = {ep.value} does not implement the Verifier protocol",
                )
            if verifier.family != ep.name:
                raise RelayError(
                    Code.CONFIG,
                    f"entry point {ep.name} names a verifier for family {verifier.family!r}",
                )
            found[ep.name] = verifier
        return cls(found)

    @property
    def families(self) -> list[str]:
        return sorted(self._verifiers)

    def get(self, family: str) -> Verifier:
        v = self._verifiers.get(family)
        if v is None:
            raise RelayError(
                Code.UNKNOWN_FAMILY,
                f"no verifier for chain family {family!r} (installed: {', '.join(self.families)}); "
                "install the adapter package that provides it",
            )
        return v
