"""requirements.lock covers pyproject.toml and is what this environment runs.

`make install` installs the lock with --require-hashes; `make lock` (tools/lock.py)
regenerates it. These checks fail when pyproject gains or changes a dependency
and the lock was not regenerated, or when the venv is not the locked one.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+) \\\n    --hash=sha256:([0-9a-f]{64})$", re.M)


def locked() -> dict[str, Version]:
    text = (ROOT / "requirements.lock").read_text()
    pins = {canonicalize_name(n): Version(v) for n, v, _ in PIN.findall(text)}
    entries = [ln for ln in text.splitlines() if ln and not ln.startswith(("#", "    "))]
    assert len(entries) == len(pins), "every lock entry is name==version with one sha256 hash"
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in reqs]


def test_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = locked()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {req.name}=={pins[name]}, outside {req.specifier}; "
            "run `make lock`"
        )


def test_environment_runs_the_locked_versions() -> None:
    for name, want in locked().items():
        try:
            have = Version(version(name))
        except PackageNotFoundError:
            raise AssertionError(
                f"{name} is locked but not installed; run `make install`"
            ) from None
        assert have == want, f"{name} {have} installed, {want} locked; run `make install`"
