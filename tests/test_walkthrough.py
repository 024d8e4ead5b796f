"""docs/operations.md's walk-through, performed literally.

The fenced ``sh`` blocks of the section "Walk-through: a relay and two EVM chains"
are split into commands exactly as written (continuation lines joined, heredocs kept
whole) and each is run by bash in one empty directory, with ``.venv/bin`` first on the
PATH. A command marked ``# in another terminal`` is started in the background, as the
doc says, and the next command waits for its ``(Ctrl-C to stop)`` line; at the end
each is stopped with SIGINT (Ctrl-C), and must exit 0 without a traceback. Nothing is
substituted: the walk-through uses fixed loopback ports, which are checked to be free
first (walk-throughs of several checkouts on one machine take turns on a lock file).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "operations.md"
SECTION = "## Walk-through: a relay and two EVM chains"
BACKGROUND = "# in another terminal"
READY = "(Ctrl-C to stop)"
PORTS = (8710, 8545, 8546)
LOCK = Path("/tmp/relayhub-walkthrough.lock")
COMMAND_TIMEOUT = 120.0
READY_TIMEOUT = 60.0

pytestmark = pytest.mark.slow


def walkthrough_commands(text: str) -> list[tuple[str, bool]]:
    """``(command, background)`` for every command of the section's ``sh`` blocks."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    commands: list[tuple[str, bool]] = []
    for block in re.findall(r"^```(?:sh|console)\n(.*?)^```$", section, re.M | re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            while line.endswith("\\") and i < len(lines):
                line = line[:-1] + lines[i]
                i += 1
            heredoc = re.search(r"<<'?(\w+)'?", line)
            if heredoc:
                body = []
                while i < len(lines) and lines[i] != heredoc.group(1):
                    body.append(lines[i])
                    i += 1
                i += 1
                line = "\n".join([line, *body, heredoc.group(1)])
            background = line.rstrip().endswith(BACKGROUND)
            commands.append((line, background))
    return commands


def test_the_walkthrough_parses_into_the_documented_steps() -> None:
    commands = walkthrough_commands(DOC.read_text())
    background = [c for c, bg in commands if bg]
    assert len(background) == 5  # relay, two chains, two gateways
    kinds = [c.split()[1] for c in background]
    assert kinds == ["relay", "devchain", "devchain", "gateway", "gateway"]
    assert any(c.startswith("python - <<'EOF'") and c.endswith("EOF") for c, _ in commands)
    assert commands[-1][0].startswith("relayhub tx status")


@pytest.fixture
def turn() -> Iterator[None]:
    """One walk-through at a time on this machine, on free ports."""
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for port in PORTS:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    pytest.fail(f"port {port} is in use: the walk-through needs it free")
        yield


class Background:
    """A command left running, its output collected by reader threads."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.command = command
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self.readers:
            t.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if any(READY in line for line in self.out):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(
            f"{self.command!r} did not get ready (exit {self.proc.poll()}):\n"
            f"{''.join(self.out)}\n{''.join(self.err)}"
        )

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, then its exit status and output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for t in self.readers:
            t.join(timeout=5)
        return code, "".join(self.out), "".join(self.err)


def test_operations_walkthrough_runs_as_written(tmp_path: Path, turn: None) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    env.pop("RELAYHUB_URL", None)
    running: list[Background] = []
    outputs: list[str] = []
    try:
        for command, background in walkthrough_commands(DOC.read_text()):
            if background:
                running.append(Background(command, tmp_path, env))
                running[-1].wait_ready()
                continue
            done = subprocess.run(
                ["bash", "-e", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
            assert done.returncode == 0, f"{command!r} failed:\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, done.stderr
            outputs.append(done.stdout)
    finally:
        stopped = [(bg.command, *bg.stop()) for bg in reversed(running)]
    assert "hello from chainB" in outputs[-2]
    assert "SUCCESS" in outputs[-1]
    for command, code, out, err in stopped:
        assert code == 0 and "Traceback" not in err, f"{command!r} exited {code}:\n{out}\n{err}"
        assert "stopped" in out, out
