"""The HTML report, opened in headless Chromium (Debian's ``chromium``): its plots
are in the DOM as SVG and render as coloured pixels in a screenshot.

Without chromium the test is skipped, except under CI=true, where it fails (CI
must never pass by silently not looking at the report); ``make test`` installs
it with apt-get when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from benchfix import write_config
from PIL import Image

from benchmarks.bench.cli import command

PLOTS = ("plot-throughput", "plot-latency", "plot-cdf", "plot-cpu", "plot-rss")
#: The line colours of the throughput plot (confirmed) and of p50 / first series.
GREEN, BLUE = (0x2C, 0xA0, 0x2C), (0x1F, 0x77, 0xB4)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed: `apt-get install -y chromium` (make test does it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " — the report's browser check must run in CI")
    pytest.skip(message)


def count_near(pixels: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> int:
    """Pixels within ``tol`` of ``colour`` in every channel."""
    diff = np.abs(pixels.astype(np.int16) - np.array(colour, dtype=np.int16))
    return int(np.all(diff <= tol, axis=-1).sum())


def test_report_renders_its_plots_in_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = chromium()
    cfg = write_config(tmp_path, "report", run='duration = "2s"\nwarmup = "500ms"\ndrain = "1s"')
    assert command(["run", str(cfg), "--out", str(tmp_path), "--no-live"]) == 0
    capsys.readouterr()
    page = tmp_path / "report.html"
    text = page.read_text()
    # Self-contained: nothing to fetch (XML namespace names are not fetched), no script.
    for ref in ('src="', 'href="http', "<link", "<script", "url(http"):
        assert ref not in text, ref
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    flags += ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for plot in PLOTS:
        start = dom.index(f'id="{plot}"')
        assert "<svg" in dom[start : start + 400] and "<path" in dom[start : start + 20000], plot
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *flags, "--window-size=1000,4000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    img = Image.open(shot).convert("RGB")
    assert img.size == (1000, 4000)
    pixels = np.asarray(img)
    white = int(np.all(pixels == 255, axis=-1).sum())
    assert white < 0.97 * pixels.shape[0] * pixels.shape[1], "the page rendered (nearly) blank"
    assert count_near(pixels, GREEN) > 300, "no confirmed-throughput line"
    assert count_near(pixels, BLUE) > 300, "no latency / CDF line"
