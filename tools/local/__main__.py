"""``make local``: the local serving stack in the foreground; Ctrl-C stops it cleanly.

    python -m tools.local [--models text_embedding,prompt_guard] [--http-port N]
                              [--grpc-port N] [--metrics-port N] [--exit-timeout S]
                              [--no-observability]

The real Triton on model_repo/, then the monitoring section's Prometheus (scraping it,
with the production alert rules), Alertmanager and webhook recorder
(tools/local/observability.py); stopped in reverse order.

Ports default to free ones (or TRITON_HTTP_PORT, TRITON_GRPC_PORT,
TRITON_METRICS_PORT); the model repository to ``model_repo/`` (or MODEL_REPO).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

from blueprint.modelrepo.repo import latency_budgets
from tools.local._proc import LaunchError
from tools.local.observability import Observability
from tools.local.triton import LocalTriton, TritonError, TritonSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make local", description=__doc__.splitlines()[0])
    p.add_argument("--models", default="", help="comma-separated; default: every CPU model")
    p.add_argument("--repo", type=Path, default=None)
    p.add_argument("--http-port", type=int, default=None)
    p.add_argument("--grpc-port", type=int, default=None)
    p.add_argument("--metrics-port", type=int, default=None)
    p.add_argument("--exit-timeout", type=int, default=None, help="seconds (Triton's own)")
    p.add_argument(
        "--no-observability", action="store_true", help="Triton only (no Prometheus/Alertmanager)"
    )
    return p


def settings_from(args: argparse.Namespace) -> TritonSettings:
    s = TritonSettings()
    changes: dict[str, object] = {}
    if args.models:
        changes["models"] = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if args.repo is not None:
        changes["repo"] = args.repo
    for key in ("http_port", "grpc_port", "metrics_port"):
        value = getattr(args, key)
        if value is not None:
            if not 0 <= value <= 65535:
                raise SystemExit(f"make local: --{key.replace('_', '-')}: {value} is not a port")
            changes[key] = value
    if args.exit_timeout is not None:
        changes["exit_timeout_s"] = args.exit_timeout
    return replace(s, **changes)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings_from(args)
    if not settings.repo.is_dir():
        print(f"make local: {settings.repo}: no such model repository", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    triton = LocalTriton(settings)
    print(f"starting Triton on {settings.repo} (log: {triton.log_path})", flush=True)
    try:
        triton.start()
        ready = triton.wait_ready()
    except TritonError as exc:
        triton.stop()
        print(f"make local: Triton did not come up: {exc}", file=sys.stderr)
        return 1
    budgets = latency_budgets(settings.repo)
    print(f"Triton {triton.http_url} (HTTP), {triton.grpc_url} (gRPC), {triton.metrics_url}")
    print(f"{'model':<18} {'state':<12} p99 budget")
    for name in sorted(ready):
        state = "READY" if ready[name] else "not loaded"
        budget = budgets.get(name)
        print(f"{name:<18} {state:<12} {f'{budget:g} ms' if budget else '-'}")
    observability = None
    if not args.no_observability:
        try:
            observability = Observability.start(
                triton_targets=(f"{settings.host}:{triton.ports.metrics}",),
                models=tuple(sorted(m for m, ok in ready.items() if ok)),
            )
        except (LaunchError, OSError) as exc:
            triton.stop()
            print(f"make local: Prometheus/Alertmanager did not start: {exc}", file=sys.stderr)
            return 1
        print(
            f"Prometheus {observability.prometheus.url}, Alertmanager "
            f"{observability.alertmanager.url}, webhook {observability.webhook.url}"
        )
    print("Ctrl-C stops it.", flush=True)
    code: int | None = 0
    while not stop.wait(1.0):
        if triton.process is not None and triton.process.poll() is not None:
            print(f"Triton exited ({triton.process.returncode}):\n{triton.log_tail()}")
            code = None
            break
    if observability is not None:
        observability.stop()
    if code is None:
        return 1
    print("stopping Triton ...", flush=True)
    code = triton.stop()
    print(f"Triton stopped (exit status {code}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
