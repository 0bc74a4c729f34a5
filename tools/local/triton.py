"""The real Triton Inference Server 2.51 (from nvidia-pytriton) on ``model_repo/``.

A small API that ``make local``, the tests, the benchmarks and the monitoring
stack's fault drill share::

    with LocalTriton(TritonSettings()) as triton:   # start() + wait_ready()
        triton.ports.http, triton.ports.grpc, triton.ports.metrics
        triton.readiness()                           # {"text_embedding": True, ...}
        triton.load("text_embedding", config=...)    # EXPLICIT model control
    # stop(): SIGTERM, then SIGKILL after exit_timeout_s + grace

How it runs (checked on this machine; shared/DESIGN.md): the server binary and its
libraries come from the installed ``pytriton`` package; the Python backend stub
for this interpreter is copied into a backend folder this module owns under
``work_dir`` (site-packages is never edited); the venv's ``bin/`` goes first on
``PATH`` so the stub's model processes import the venv's NumPy; it binds to loopback
on free ports (or the ones given); strict model config (no auto-complete) and
EXPLICIT model control, loading the CPU models (or the ones given).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from blueprint.modelrepo.repo import cpu_models, facts
from blueprint.paths import BUILD_DIR, MODEL_REPO
from blueprint.triton import LIVE_PATH


class TritonError(RuntimeError):
    """The server could not start, or a model could not load; carries the log tail."""


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


@dataclass(frozen=True)
class TritonSettings:
    """Everything the launcher needs; defaults come from the environment (TRITON_*)."""

    repo: Path = field(default_factory=lambda: Path(os.environ.get("MODEL_REPO", MODEL_REPO)))
    models: tuple[str, ...] = ()
    """Models to load at start; empty means every CPU model of the repository."""
    load_at_start: bool = True
    """False starts with no model loaded (load them later with ``load``)."""
    host: str = field(default_factory=lambda: os.environ.get("TRITON_HOST", "127.0.0.1"))
    http_port: int = field(default_factory=lambda: int(os.environ.get("TRITON_HTTP_PORT", "0")))
    grpc_port: int = field(default_factory=lambda: int(os.environ.get("TRITON_GRPC_PORT", "0")))
    metrics_port: int = field(
        default_factory=lambda: int(os.environ.get("TRITON_METRICS_PORT", "0"))
    )
    """0 picks a free port."""
    exit_timeout_s: int = field(
        default_factory=lambda: int(os.environ.get("TRITON_EXIT_TIMEOUT_S", "10"))
    )
    ready_timeout_s: float = field(
        default_factory=lambda: float(os.environ.get("TRITON_READY_TIMEOUT_S", "180"))
    )
    work_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("TRITON_WORK_DIR", BUILD_DIR / "local" / "triton")
        )
    )
    log_verbose: int = 0
    cpu_threads: int = field(
        default_factory=lambda: int(os.environ.get("TRITON_MODEL_THREADS", "1"))
    )
    """BLAS threads per model instance: on a small machine, scale with instances
    (instance_group count), not threads, or the threads fight over the cores."""
    extra_args: tuple[str, ...] = ()
    admin_headers: Mapping[str, str] = field(default_factory=dict)
    """Headers for the repository API when extra_args restrict it (--http-restricted-api)."""
    env: Mapping[str, str] = field(default_factory=dict)


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pytriton_home() -> Path:
    """The tritonserver folder (binary, backends, stubs): TRITON_HOME, else pytriton's."""
    if os.environ.get("TRITON_HOME"):
        return Path(os.environ["TRITON_HOME"])
    import pytriton  # noqa: PLC0415 (its package __init__ is heavy; only the path is needed)

    return Path(pytriton.__file__).resolve().parent / "tritonserver"


def local_models(repo: Path = MODEL_REPO) -> list[str]:
    """The models the local Triton serves: those that need no GPU and whose backend the
    bundled server ships (the Python backend: pytriton carries no other)."""
    shipped = {p.name for p in (pytriton_home() / "backends").iterdir() if p.is_dir()}
    return [m for m in cpu_models(repo) if facts(m, repo).backend in shipped]


def _libs_dir() -> Path:
    if os.environ.get("TRITON_LIBS"):
        return Path(os.environ["TRITON_LIBS"])
    return pytriton_home().parents[1] / "nvidia_pytriton.libs"


def prepare_backends(work_dir: Path, python_version: str | None = None) -> Path:
    """A backend folder of our own: pytriton's Python backend plus this interpreter's stub.

    The path returned is absolute: Triton runs with ``work_dir`` as its working
    directory, where a relative ``--backend-directory`` would point elsewhere.
    """
    work_dir = work_dir.resolve()
    home = pytriton_home()
    version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = home / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonError(f"no Python backend stub for Python {version} in {stub.parent.parent}")
    target = work_dir / "backends" / "python"
    target.mkdir(parents=True, exist_ok=True)
    for item in (home / "backends" / "python").iterdir():
        if item.is_file():
            dest = target / item.name
            if not dest.exists() or dest.stat().st_size != item.stat().st_size:
                shutil.copy2(item, dest)
    dest_stub = target / "triton_python_backend_stub"
    if not dest_stub.exists() or dest_stub.stat().st_size != stub.stat().st_size:
        shutil.copy2(stub, dest_stub)
        dest_stub.chmod(0o755)
    return work_dir / "backends"


def server_env(settings: TritonSettings) -> dict[str, str]:
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    libs = [str(_libs_dir())]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [*libs, *([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else [])]
    )
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(settings.cpu_threads)
    env["HF_HUB_OFFLINE"] = "1"
    env.update(settings.env)
    return env


class LocalTriton:
    """One tritonserver process; see the module docstring for the API."""

    def __init__(self, settings: TritonSettings | None = None) -> None:
        self.settings = settings or TritonSettings()
        self.process: subprocess.Popen[bytes] | None = None
        self._ports: Ports | None = None
        self.log_path = self.settings.work_dir / "tritonserver.log"
        self._log_file: Any = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def ports(self) -> Ports:
        if self._ports is None:
            raise TritonError("Triton is not started")
        return self._ports

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.host}:{self.ports.http}"

    @property
    def grpc_url(self) -> str:
        return f"{self.settings.host}:{self.ports.grpc}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.settings.host}:{self.ports.metrics}/metrics"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def models_to_load(self) -> list[str]:
        if not self.settings.load_at_start:
            return []
        return list(self.settings.models) or local_models(self.settings.repo)

    def command(self) -> list[str]:
        s = self.settings
        ports = self.ports
        backends = prepare_backends(s.work_dir)
        args = [
            str(pytriton_home() / "bin" / "tritonserver"),
            f"--model-repository={s.repo.resolve()}",
            f"--backend-directory={backends}",
            "--model-control-mode=explicit",
            "--strict-model-config=true",
            "--disable-auto-complete-config",
            f"--http-address={s.host}",
            f"--http-port={ports.http}",
            f"--grpc-address={s.host}",
            f"--grpc-port={ports.grpc}",
            "--allow-metrics=true",
            "--allow-cpu-metrics=true",
            f"--metrics-address={s.host}",
            f"--metrics-port={ports.metrics}",
            f"--exit-timeout-secs={s.exit_timeout_s}",
            f"--log-verbose={s.log_verbose}",
            "--log-format=ISO8601",
            # Latency quantiles per model, which the alert rules and dashboards read.
            "--metrics-config=summary_latencies=true",
        ]
        args += [f"--load-model={m}" for m in self.models_to_load()]
        return [*args, *s.extra_args]

    def start(self) -> LocalTriton:
        if self.process is not None and self.process.poll() is None:
            return self
        s = self.settings
        s.work_dir.mkdir(parents=True, exist_ok=True)
        self._ports = Ports(
            http=s.http_port or free_port(s.host),
            grpc=s.grpc_port or free_port(s.host),
            metrics=s.metrics_port or free_port(s.host),
        )
        if len({self._ports.http, self._ports.grpc, self._ports.metrics}) != 3:
            raise TritonError(f"HTTP, gRPC and metrics ports must differ: {self._ports}")
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=server_env(s),
            cwd=s.work_dir,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, not the server
        )
        return self

    def wait_ready(self, timeout_s: float | None = None) -> dict[str, bool]:
        """Wait for the server and every model given at start to be READY."""
        deadline = time.monotonic() + (timeout_s or self.settings.ready_timeout_s)
        wanted = self.models_to_load()
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise TritonError(f"tritonserver exited early:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.http_url}{LIVE_PATH}", timeout=2).ok:
                    ready = self.readiness()
                    if all(ready.get(m) for m in wanted):
                        return ready
                    failed = self.failed_models()
                    if failed:
                        raise TritonError(f"models failed to load: {failed}\n{self.log_tail()}")
            time.sleep(0.5)
        raise TritonError(f"not ready after the timeout: {self.readiness()}\n{self.log_tail()}")

    def stop(self, timeout_s: float | None = None) -> int | None:
        """SIGTERM; SIGKILL if still alive after exit_timeout_s + 10 s. Returns the exit code."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s or self.settings.exit_timeout_s + 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return proc.returncode

    def __enter__(self) -> LocalTriton:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- model control and state -------------------------------------------

    def repository_index(self) -> list[dict[str, Any]]:
        r = requests.post(
            f"{self.http_url}/v2/repository/index",
            json={},
            headers=dict(self.settings.admin_headers),
            timeout=10,
        )
        r.raise_for_status()
        index: list[dict[str, Any]] = r.json()
        return index

    def readiness(self) -> dict[str, bool]:
        """Model name -> READY, for every model the repository index lists."""
        try:
            return {m["name"]: m.get("state") == "READY" for m in self.repository_index()}
        except requests.RequestException:
            return {}

    def failed_models(self) -> dict[str, str]:
        wanted = set(self.models_to_load())
        try:
            index = self.repository_index()
        except requests.RequestException:
            return {}
        return {
            m["name"]: m.get("reason", "")
            for m in index
            if m["name"] in wanted and m.get("state") == "UNAVAILABLE" and m.get("reason")
        }

    def load(self, model: str, config: Mapping[str, Any] | None = None) -> None:
        """Load (or reload) a model, optionally with a whole JSON config override."""
        body: dict[str, Any] = {}
        if config is not None:
            body = {"parameters": {"config": json.dumps(config)}}
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        r = requests.post(
            f"{self.http_url}/v2/repository/models/{model}/load",
            json=body,
            headers=dict(self.settings.admin_headers),
            timeout=300,
        )
        if not r.ok:
            # The API's answer is terse; the server log says why.
            time.sleep(0.2)
            with self.log_path.open("rb") as f:
                f.seek(offset)
                why = f.read().decode(errors="replace").strip()
            raise TritonError(f"load {model}: {r.status_code} {r.text}\n{why}")

    def unload(self, model: str) -> None:
        r = requests.post(
            f"{self.http_url}/v2/repository/models/{model}/unload",
            json={},
            headers=dict(self.settings.admin_headers),
            timeout=60,
        )
        if not r.ok:
            raise TritonError(f"unload {model}: {r.status_code} {r.text}")

    def statistics(self, model: str) -> dict[str, Any]:
        r = requests.get(f"{self.http_url}/v2/models/{model}/stats", timeout=10)
        r.raise_for_status()
        stats: dict[str, Any] = r.json()["model_stats"][0]
        return stats

    def metrics(self) -> str:
        r = requests.get(self.metrics_url, timeout=10)
        r.raise_for_status()
        return r.text

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def log_lines(self) -> Iterator[str]:
        with contextlib.suppress(OSError):
            yield from self.log_path.read_text(errors="replace").splitlines()


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])
