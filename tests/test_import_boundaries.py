"""Import boundaries.

* The pure core (``relay.ibtp.*``, ``relay.crypto``, ``relay.merkle``, ``relay.errors``)
  does no I/O: importing it loads no trio, httpx, sqlite3, and no relay module imports
  ``socket``.
* App-chain code (``appchains/``) is what a chain runs; it never imports the relay
  (``relay``) nor the relay-side adapters (``adapters``).
* Every pure module — the core above, the executor, the interchain machine, the
  ledger's state and types, validation, each family's proof and verifier modules,
  the gateway's plan — loads no trio, httpx, sqlite3 and imports no sockets, files
  (os, io, pathlib, ``open``) or clock (time, datetime) itself.
* Every direction of ARCHITECTURE.md: ``relay`` imports neither ``adapters``,
  ``appchains`` nor ``benchmarks``; ``adapters`` never import ``appchains``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

CORE_MODULES = [
    "relay.errors",
    "relay.crypto",
    "relay.merkle",
    "relay.config",  # the config loader: reading the file is its only I/O
    "relay.logs",
    "relay.ibtp",
    *sorted(
        f"relay.ibtp.{p.stem}"
        for p in (REPO / "relay" / "ibtp").glob("*.py")
        if p.stem != "__init__"
    ),
]

#: Top-level packages the core must never load, directly or through a dependency.
FORBIDDEN_ANYWHERE = ("trio", "httpx", "httpcore", "anyio", "sqlite3", "_sqlite3")
#: Modules no core module may import itself. ``socket`` is in the standard library and
#: is loaded indirectly by importlib.metadata -> email.utils (pulled in by eth-hash /
#: eth-typing), so for it the check is on who imports it, not on whether it is loaded.
FORBIDDEN_DIRECT = ("socket", "_socket", "ssl", "asyncio", "selectors", *FORBIDDEN_ANYWHERE)

# Runs in a fresh interpreter: records, for every import of a watched module, the
# module whose code asked for it, then imports the core and reports sys.modules.
PROBE = textwrap.dedent(
    """
    import json, sys

    WATCHED = set(json.loads(sys.argv[1]))
    TARGETS = json.loads(sys.argv[2])
    importers = {}

    class Recorder:
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in WATCHED:
                frame = sys._getframe(1)
                while frame and (
                    frame.f_code.co_filename.startswith("<frozen importlib")
                    or frame.f_globals.get("__name__") == __name__
                ):
                    frame = frame.f_back
                who = frame.f_globals.get("__name__", "?") if frame else "?"
                importers.setdefault(name, set()).add(who)
            return None

    sys.meta_path.insert(0, Recorder())
    for target in TARGETS:
        __import__(target)
    print(json.dumps({
        "modules": sorted(sys.modules),
        "importers": {k: sorted(v) for k, v in importers.items()},
    }))
    """
)


def run_probe(targets: list[str], watched: tuple[str, ...]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(watched)), json.dumps(targets)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


#: Pure modules beyond the core: no I/O library, and no files or clock either.
PURE_MODULES = [
    "relay.executor",
    "relay.interchain",
    "relay.interchain.machine",
    "relay.ledger.state",
    "relay.ledger.types",
    "relay.validation",
    "relay.validation.base",
    "relay.validation.registry",
    "adapters.gateway.plan",
    # the Fabric protocol core shared with the Fabric app chain ("now" is a parameter)
    *(
        f"adapters.fabric.{m}"
        for m in ("signature", "identity", "policy", "endorsement", "proposal")
    ),
    *sorted(
        f"adapters.{p.parent.name}.{p.stem}"
        for pattern in ("*/proof.py", "*/verifier.py", "*/errors.py", "*/mpt.py")
        for p in (REPO / "adapters").glob(pattern)
    ),
    # The FISCO family's formats (header, receipt, Merkle tree, quorum) and crypto.
    *sorted(
        f"adapters.fisco.{p.stem}"
        for p in (REPO / "adapters" / "fisco").glob("*.py")
        if p.stem not in ("__init__", "errors")
    ),
]
#: What a pure module may not import itself: I/O, files, processes and the clock.
PURE_FORBIDDEN_DIRECT = (
    *FORBIDDEN_DIRECT,
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "subprocess",
    "time",
    "datetime",
)


def module_path(module: str) -> Path:
    base = REPO.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def test_pure_module_list_is_complete() -> None:
    for family in ("evm", "notary"):
        assert f"adapters.{family}.verifier" in PURE_MODULES
    assert "adapters.evm.proof" in PURE_MODULES and "adapters.evm.errors" in PURE_MODULES
    for module in PURE_MODULES:
        assert module_path(module).exists(), module


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_loads_no_io_library(module: str) -> None:
    report = run_probe([module], FORBIDDEN_DIRECT)
    loaded = {m.partition(".")[0] for m in report["modules"]}
    assert not loaded & set(FORBIDDEN_ANYWHERE), (
        f"importing {module} loads {sorted(loaded & set(FORBIDDEN_ANYWHERE))}"
    )
    ours = ("relay", "adapters", "appchains")
    offenders = {
        name: [w for w in whos if w.partition(".")[0] in ours]
        for name, whos in report["importers"].items()
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"pure modules import I/O modules directly: {offenders}"


def opens_files(source: str) -> list[int]:
    """Lines that call the builtin ``open`` (or ``io.open`` / ``os.open``)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "open")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "open")
        )
    ]


def pure_violations(source: str, package: str) -> list[str]:
    bad = [
        f"{line} imports {module}"
        for module, line in imported_modules(source, package)
        if module.partition(".")[0] in PURE_FORBIDDEN_DIRECT
    ]
    return bad + [f"{line} calls open()" for line in opens_files(source)]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_source_has_no_io_files_or_clock(module: str) -> None:
    path = module_path(module)
    bad = pure_violations(path.read_text(encoding="utf-8"), package_of(path))
    assert not bad, f"{path.relative_to(REPO)}: " + "; ".join(bad)


def test_pure_scan_catches_files_and_clock() -> None:
    source = textwrap.dedent(
        """
        import time
        from pathlib import Path
        from datetime import datetime

        def f():
            import os
            with open("x") as fh:
                return fh, Path, datetime, os.getpid()
        """
    )
    assert pure_violations(source, "relay") == [
        "2 imports time",
        "3 imports pathlib",
        "4 imports datetime",
        "7 imports os",
        "8 calls open()",
    ]


def test_core_module_list_is_complete() -> None:
    assert "relay.ibtp.codec" in CORE_MODULES
    assert "relay.ibtp.digest" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_loads_no_io_library(module: str) -> None:
    report = run_probe([module], FORBIDDEN_DIRECT)
    loaded = {m.partition(".")[0] for m in report["modules"]}
    assert not loaded & set(FORBIDDEN_ANYWHERE), (
        f"importing {module} loads {sorted(loaded & set(FORBIDDEN_ANYWHERE))}"
    )
    importers: dict[str, list[str]] = report["importers"]
    offenders = {
        name: [who for who in whos if who == "relay" or who.startswith("relay.")]
        for name, whos in importers.items()
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"relay core modules import I/O modules directly: {offenders}"


def test_probe_detects_a_direct_import(tmp_path: Path) -> None:
    # The probe itself must be able to see a relay-style module importing socket.
    pkg = tmp_path / "relay_probe_selftest"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import socket\n")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r}); exec({PROBE!r})",
            json.dumps(["socket", "_socket"]),
            json.dumps(["relay_probe_selftest"]),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    importers = json.loads(out.stdout)["importers"]
    assert "relay_probe_selftest" in importers.get("socket", [])


def test_core_source_has_no_io_imports() -> None:
    # A static check as well: catches imports inside functions that the probe never runs.
    names = ("errors", "crypto", "merkle", "config", "logs")
    files = [REPO / "relay" / f"{name}.py" for name in names]
    files += sorted((REPO / "relay" / "ibtp").glob("*.py"))
    bad = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in files
        for module, line in file_imports(path)
        if module.partition(".")[0] in FORBIDDEN_DIRECT
    ]
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------------------
# appchains/ never imports relay or adapters

APPCHAIN_FORBIDDEN = ("relay", "adapters")
#: The family protocol modules an app chain may share with its adapter: pure, and
#: importing nothing of the relay (so an app chain never depends on the relay, even
#: through them). The Fabric dev chain's MSP, policy and commit checks are these.
SHARED_WITH_APPCHAINS = frozenset(
    f"adapters.fabric.{m}"
    for m in ("errors", "signature", "identity", "policy", "endorsement", "proposal")
)


def imported_modules(source: str, package: str) -> list[tuple[str, int]]:
    """Absolute module names imported by ``source`` (statically), with line numbers.

    Covers ``import x``, ``from x import y``, relative imports resolved against
    ``package`` (the package the file belongs to), and ``importlib.import_module("x")``
    / ``__import__("x")`` with a literal name.
    """
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: max(0, len(parts) - (node.level - 1))]
                module = ".".join([*parts, *([module] if module else [])])
            if module:
                found.append((module, node.lineno))
            else:  # `from .. import x` above the top level: x is a top-level module
                found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((first.value, node.lineno))
    return found


def file_imports(path: Path) -> list[tuple[str, int]]:
    return imported_modules(path.read_text(encoding="utf-8"), package_of(path))


def package_of(path: Path) -> str:
    """The package a source file belongs to (``appchains/x/y.py`` -> ``appchains.x``)."""
    return ".".join(path.resolve().relative_to(REPO).parts[:-1])


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def forbidden_for_appchains(imports: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [
        (m, line)
        for m, line in imports
        if m.partition(".")[0] in APPCHAIN_FORBIDDEN and m not in SHARED_WITH_APPCHAINS
    ]


def test_shared_protocol_modules_import_nothing_of_ours_but_each_other() -> None:
    bad = []
    for module in sorted(SHARED_WITH_APPCHAINS):
        path = REPO / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{module} is listed as shared but does not exist"
        bad += [
            f"{path.relative_to(REPO)}:{line} imports {imported}"
            for imported, line in file_imports(path)
            if imported.partition(".")[0] in ("relay", "adapters", "appchains", "benchmarks")
            and imported not in SHARED_WITH_APPCHAINS
            and imported != "adapters.fabric"
        ]
    assert not bad, "a module shared with app chains must stand alone:\n" + "\n".join(bad)


def test_appchains_never_import_relay_or_adapters() -> None:
    files = sorted((REPO / "appchains").rglob("*.py"))
    assert files, "appchains/ has no Python files"
    bad = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in files
        for module, line in forbidden_for_appchains(file_imports(path))
    ]
    assert not bad, "app-chain code must not depend on the relay:\n" + "\n".join(bad)


def test_appchain_scan_catches_every_import_form() -> None:
    source = textwrap.dedent(
        """
        import json
        import relay
        import relay.ibtp as ibtp
        from adapters.notary import verifier
        from relay.crypto import keccak
        from . import sibling
        from .. import relay as up
        from ..adapters import evm
        import importlib

        def lazy():
            from relay import errors
            importlib.import_module("adapters.evm")
            __import__("relay.merkle")
            importlib.import_module("json")
        """
    )
    # As a module directly in appchains/: `..` climbs above the top-level package.
    found = forbidden_for_appchains(imported_modules(source, "appchains"))
    assert sorted(m for m, _ in found) == [
        "adapters",
        "adapters.evm",
        "adapters.notary",
        "relay",
        "relay",
        "relay",
        "relay.crypto",
        "relay.ibtp",
        "relay.merkle",
    ]
    # One level deeper, the same relative imports stay inside appchains.
    nested = imported_modules(source, "appchains.chain_a")
    assert ("appchains.chain_a", 7) in nested
    assert ("appchains", 8) in nested
    assert ("appchains.adapters", 9) in nested


def test_package_of() -> None:
    assert package_of(REPO / "appchains" / "x" / "y.py") == "appchains.x"
    assert package_of(REPO / "appchains" / "__init__.py") == "appchains"


# ---------------------------------------------------------------------------
# Every direction: relay -> nothing of ours but itself; adapters -> no appchains

DIRECTIONS = {
    "relay": ("adapters", "appchains", "benchmarks"),
    "adapters": ("appchains",),
    "appchains": ("relay", "adapters"),
}


def forbidden_imports(top: str, imports: list[tuple[str, int]]) -> list[tuple[str, int]]:
    banned = DIRECTIONS[top]
    allowed = SHARED_WITH_APPCHAINS if top == "appchains" else frozenset()
    return [(m, line) for m, line in imports if m.partition(".")[0] in banned and m not in allowed]


@pytest.mark.parametrize("top", sorted(DIRECTIONS))
def test_import_directions(top: str) -> None:
    files = sorted((REPO / top).rglob("*.py"))
    assert files, f"{top}/ has no Python files"
    bad = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in files
        for module, line in forbidden_imports(top, file_imports(path))
    ]
    assert not bad, f"{top}/ must not import {DIRECTIONS[top]}:\n" + "\n".join(bad)


def test_direction_scan_catches_each_direction() -> None:
    source = textwrap.dedent(
        """
        import relay.ibtp
        from adapters.base import Adapter
        from benchmarks.harness import topology
        import importlib

        def lazy():
            importlib.import_module("appchains.evm.devchain")
        """
    )
    found = imported_modules(source, "relay.node")
    assert sorted(m for m, _ in forbidden_imports("relay", found)) == [
        "adapters.base",
        "appchains.evm.devchain",
        "benchmarks.harness",
    ]
    assert [m for m, _ in forbidden_imports("adapters", found)] == ["appchains.evm.devchain"]
    assert sorted(m for m, _ in forbidden_imports("appchains", found)) == [
        "adapters.base",
        "relay.ibtp",
    ]
