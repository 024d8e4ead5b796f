"""Docs as tests: the Python in README.md's "Using it" section and in docs/sdk.md runs,
as written, against ``relayhub up`` — each page's fenced ``python`` blocks in order,
as one script, in a fresh interpreter whose working directory holds ``dev/`` (the
``relayhub up --dir dev`` the pages start from)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from upfix import UpProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def python_blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text())


@pytest.fixture(scope="module")
def up_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cwd = tmp_path_factory.mktemp("docs")
    up = UpProcess(cwd / "dev", cwd=cwd)
    try:
        up.start()
        yield cwd
    finally:
        code = up.interrupt()
    assert code == 0, up.stderr


def run_page(cwd: Path, page: Path) -> str:
    blocks = python_blocks(page)
    script = cwd / f"{page.stem}_blocks.py"
    script.write_text("\n\n".join(blocks))
    got = subprocess.run(
        [sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert got.returncode == 0, f"{page.name}'s code failed:\n{got.stdout}\n{got.stderr}"
    return got.stdout


def test_pages_have_code() -> None:
    assert len(python_blocks(ROOT / "README.md")) == 1
    assert len(python_blocks(ROOT / "docs" / "sdk.md")) >= 6


def test_readme_sdk_snippet_runs(up_dir: Path) -> None:
    out = run_page(up_dir, ROOT / "README.md")
    assert out.strip() == "b'hello from chainB'"


def test_sdk_guide_runs(up_dir: Path) -> None:
    out = run_page(up_dir, ROOT / "docs" / "sdk.md")
    assert "dataswap: unknown key" in out and "does not allow calls from" in out
    assert "SUCCESS True [('BEGIN'" in out and out.strip().endswith("b'hello from chainB'")
