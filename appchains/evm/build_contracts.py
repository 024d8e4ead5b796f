"""Compile the Solidity broker and example services with the pinned solcjs.

Writes one artifact per contract or interface to ``appchains/evm/artifacts/<Name>.json``
(ABI, creation and runtime bytecode, compiler version and settings) with sorted keys
and fixed formatting, so running it twice gives the same bytes. ``make contracts``
runs it; ``--check`` compiles and fails if the artifacts in the tree are stale.

The compiler is the npm ``solc`` package pinned in ``package-lock.json`` (install it
with ``npm ci``). Usage::

    python -m appchains.evm.build_contracts [--check] [--node PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CONTRACTS_DIR = HERE / "contracts"
ARTIFACTS_DIR = HERE / "artifacts"
SOLC_PACKAGE = REPO_ROOT / "node_modules" / "solc"
COMPILE_SCRIPT = HERE / "solc_compile.cjs"

#: Fixed compiler settings. ``paris`` keeps the bytecode free of PUSH0 so it runs on
#: any post-merge EVM (ganache 7 defaults to shanghai, which is a superset).
#: The IR pipeline is needed for the broker's many calldata arguments (stack depth).
SETTINGS: dict[str, Any] = {
    "evmVersion": "paris",
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "metadata": {"bytecodeHash": "ipfs"},
}


class BuildError(RuntimeError):
    pass


def standard_json_input(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, Any]:
    sources = {
        path.name: {"content": path.read_text(encoding="utf-8")}
        for path in sorted(contracts_dir.glob("*.sol"))
    }
    if not sources:
        raise BuildError(f"no .sol files in {contracts_dir}")
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            **SETTINGS,
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def run_solcjs(std_in: dict[str, Any], node: str = "node") -> dict[str, Any]:
    """Run the pinned solcjs (through ``solc_compile.cjs``) on a standard-JSON input."""
    if not (SOLC_PACKAGE / "package.json").exists():
        raise BuildError(f"{SOLC_PACKAGE} is missing: run `npm ci` at the repository root")
    node_path = shutil.which(node)
    if node_path is None:
        raise BuildError(f"{node!r} is not on PATH: install Node.js 18 or later")
    with tempfile.TemporaryDirectory(prefix="relayhub-solc-") as tmp:
        in_path = Path(tmp) / "input.json"
        out_path = Path(tmp) / "output.json"
        in_path.write_text(json.dumps(std_in), encoding="utf-8")
        proc = subprocess.run(
            [node_path, str(COMPILE_SCRIPT), str(in_path), str(out_path)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0 or not out_path.exists():
            raise BuildError(f"solcjs failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
        output: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8"))
    return output


def compile_contracts(node: str = "node") -> dict[str, str]:
    """Compile every contract; returns ``{file name: file text}`` of the artifacts."""
    output = run_solcjs(standard_json_input(), node)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise BuildError("\n".join(e.get("formattedMessage", str(e)) for e in errors))
    for w in output.get("errors", []):
        if w.get("severity") != "error":
            print(w.get("formattedMessage", str(w)).rstrip(), file=sys.stderr)

    version = output["solcVersion"]
    artifacts: dict[str, str] = {}
    for source_name, contracts in sorted(output.get("contracts", {}).items()):
        for name, data in sorted(contracts.items()):
            if f"{name}.json" in artifacts:
                raise BuildError(f"two contracts are named {name}")
            artifact = {
                "contractName": name,
                "sourceName": source_name,
                "compiler": {"name": "solcjs", "version": version},
                "settings": SETTINGS,
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
            artifacts[f"{name}.json"] = json.dumps(artifact, indent=2, sort_keys=True) + "\n"
    return artifacts


def stale_artifacts(artifacts: dict[str, str], out_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Names of artifact files that differ from ``artifacts`` (missing, changed or extra)."""
    existing = {p.name for p in out_dir.glob("*.json")} if out_dir.exists() else set()
    stale = [
        name
        for name, text in sorted(artifacts.items())
        if name not in existing or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    stale += sorted(existing - set(artifacts))
    return stale


def write_artifacts(artifacts: dict[str, str], out_dir: Path = ARTIFACTS_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in sorted({p.name for p in out_dir.glob("*.json")} - set(artifacts)):
        (out_dir / stale).unlink()
    for name, text in sorted(artifacts.items()):
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if artifacts are stale")
    parser.add_argument("--node", default="node", help="Node.js executable (default: node)")
    args = parser.parse_args(argv)
    try:
        artifacts = compile_contracts(args.node)
    except BuildError as exc:
        print(f"build_contracts: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_artifacts(artifacts)
        if stale:
            print(
                "build_contracts: stale artifacts: " + ", ".join(stale) + " (run `make contracts`)",
                file=sys.stderr,
            )
            return 1
        print(f"build_contracts: {len(artifacts)} artifacts up to date")
        return 0
    write_artifacts(artifacts)
    print(f"build_contracts: wrote {len(artifacts)} artifacts to {ARTIFACTS_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
