"""Process helpers shared by the local Prometheus and Alertmanager launchers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests


class LaunchError(RuntimeError):
    """A server did not start or did not become ready; carries its log's tail."""


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def binary(name: str, env_var: str) -> str:
    """The binary ``name`` (or ``$env_var``), or a clear error saying how to install it."""
    chosen = os.environ.get(env_var, name)
    path = shutil.which(chosen)
    if path is None:
        raise LaunchError(
            f"{chosen} not found on PATH (set {env_var} to its path, or install the Debian "
            "packages with `make system-deps`: prometheus, prometheus-alertmanager)"
        )
    return path


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Server:
    """A child process with a log file, a readiness URL and a clean stop."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, ready_url: str) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.ready_url = ready_url
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise LaunchError(
                    f"{self.name} exited during start-up; log {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.ready_url, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise LaunchError(
            f"{self.name} not ready at {self.ready_url} after {timeout_s:.0f} s; "
            f"log {self.log_path}:\n" + log_tail(self.log_path)
        )

    def stop(self, timeout_s: float = 10) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
