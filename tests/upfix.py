"""``relayhub up`` as a user runs it: a subprocess whose stdout carries one JSON document.

:class:`UpProcess` starts ``relayhub up --dir D --port P`` (P a free loopback port),
reads the document from stdout (with a deadline) and stops it with SIGINT, returning
the exit status and what it wrote to stderr. Used by tests/test_up.py and the docs
tests (tests/test_docs.py), which run README.md's and docs/sdk.md's code against it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

RELAYHUB = [sys.executable, "-m", "relay.cli"]
START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class UpProcess:
    def __init__(self, workdir: Path, port: int | None = None, cwd: Path | None = None) -> None:
        self.workdir = workdir
        self.port = free_port() if port is None else port
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._threads: list[threading.Thread] = []

    def _pump(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def start(self) -> dict[str, Any]:
        """Start it; return the JSON document from stdout once it is complete."""
        self.proc = subprocess.Popen(
            [*RELAYHUB, "up", "--dir", str(self.workdir), "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=self.cwd,
            env={**os.environ, "COLUMNS": "200"},
        )
        for stream, into in ((self.proc.stdout, self._stdout), (self.proc.stderr, self._stderr)):
            t = threading.Thread(target=self._pump, args=(stream, into), daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = "".join(self._stdout)
            if text.rstrip().endswith("}"):
                try:
                    doc: dict[str, Any] = json.loads(text)
                    return doc
                except json.JSONDecodeError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.kill()
        raise AssertionError(
            f"relayhub up gave no JSON document (exit {self.proc.returncode}):\n"
            f"stdout: {''.join(self._stdout)[-2000:]}\nstderr: {''.join(self._stderr)[-4000:]}"
        )

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT, then wait for it to exit; its exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            msg = f"relayhub up did not stop on SIGINT:\n{self.stderr[-4000:]}"
            raise AssertionError(msg) from None
        for t in self._threads:
            t.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def relayhub(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RELAYHUB, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
