"""``make local``: the local serving stack in the foreground; Ctrl-C stops it cleanly.

    python -m tools.local [--models text_embedding,prompt_guard] [--http-port N]
                              [--grpc-port N] [--metrics-port N] [--exit-timeout S]
                              [--no-llm] [--llm-port N] [--llm-variant NAME]
                              [--no-observability]

The real Triton on model_repo/ and, beside it, the LLM tier: vLLM's OpenAI-compatible
server for chat_llm (tools/llm/server.py, the manifest's variant, ``cpu`` by
default); then the monitoring section's Prometheus (scraping both, with the
production alert rules and both tiers' SLO facts), Alertmanager and webhook recorder
(tools/local/observability.py); stopped in reverse order. ``--no-llm``: Triton only.

Ports default to free ones (or TRITON_HTTP_PORT, TRITON_GRPC_PORT,
TRITON_METRICS_PORT, LLM_PORT); the model repository to ``model_repo/`` (or
MODEL_REPO). vLLM takes about 4 GB of memory; it is not started when less than
LLM_MIN_FREE_GIB (5) is available.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

from blueprint.modelrepo.repo import latency_budgets
from tools.llm.server import LocalVllm, VllmError, VllmSettings, check_memory
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
    p.add_argument("--no-observability", action="store_true", help="no Prometheus/Alertmanager")
    p.add_argument("--no-llm", action="store_true", help="Triton only (no vLLM)")
    p.add_argument("--llm-port", type=int, default=None, help="vLLM's port (or LLM_PORT)")
    p.add_argument(
        "--llm-variant", default=None, help="chat_llm's variant (or LLM_VARIANT; default: cpu)"
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


def llm_settings_from(args: argparse.Namespace) -> VllmSettings:
    s = VllmSettings()
    changes: dict[str, object] = {}
    if args.llm_port is not None:
        if not 0 <= args.llm_port <= 65535:
            raise SystemExit(f"make local: --llm-port: {args.llm_port} is not a port")
        changes["port"] = args.llm_port
    if args.llm_variant:
        changes["variant"] = args.llm_variant
    return replace(s, **changes)  # type: ignore[arg-type]


def _print_llm(llm: LocalVllm) -> None:
    assert llm.ready_s is not None
    print(
        f"vLLM {llm.served_model_name} (variant {llm.variant_name}) ready in "
        f"{llm.ready_s:.0f} s; OpenAI base URL {llm.openai_url} (model "
        f'"{llm.served_model_name}"), metrics {llm.metrics_url}'
    )
    print(
        f"  try: curl -s {llm.openai_url}/chat/completions -H 'Content-Type: application/json' "
        f"""-d '{{"model": "{llm.served_model_name}", "messages": [{{"role": "user", """
        """"content": "What is the capital of France?"}]}'"""
    )


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0911, PLR0912, PLR0915 (one script)
    args = _parser().parse_args(argv)
    settings = settings_from(args)
    if not settings.repo.is_dir():
        print(f"make local: {settings.repo}: no such model repository", file=sys.stderr)
        return 2
    llm: LocalVllm | None = None
    if not args.no_llm:
        try:
            llm = LocalVllm(llm_settings_from(args))
        except VllmError as exc:
            print(f"make local: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    triton = LocalTriton(settings)
    with contextlib.ExitStack() as running:
        print(f"starting Triton on {settings.repo} (log: {triton.log_path})", flush=True)
        try:
            triton.start()
        finally:
            running.callback(_stop_triton, triton)
        if llm is not None:
            # vLLM compiles for half a minute or more: it boots while Triton loads.
            try:
                check_memory()
                print(
                    f"starting vLLM for {llm.served_model_name} (variant {llm.variant_name}; "
                    f"log: {llm.log_path})",
                    flush=True,
                )
                llm.start()
            except VllmError as exc:
                print(
                    f"make local: vLLM did not start: {exc} (--no-llm: Triton only)",
                    file=sys.stderr,
                )
                return 1
            finally:
                running.callback(_stop_llm, llm)
        try:
            ready = triton.wait_ready()
        except TritonError as exc:
            print(f"make local: Triton did not come up: {exc}", file=sys.stderr)
            return 1
        budgets = latency_budgets(settings.repo)
        print(f"Triton {triton.http_url} (HTTP), {triton.grpc_url} (gRPC), {triton.metrics_url}")
        print(f"{'model':<18} {'state':<12} p99 budget")
        for name in sorted(ready):
            state = "READY" if ready[name] else "not loaded"
            budget = budgets.get(name)
            print(f"{name:<18} {state:<12} {f'{budget:g} ms' if budget else '-'}")
        if llm is not None:
            try:
                llm.wait_ready(cancel=stop)
            except VllmError as exc:
                if stop.is_set():
                    return 0
                print(f"make local: vLLM did not come up: {exc}", file=sys.stderr)
                return 1
            _print_llm(llm)
        if not args.no_observability:
            try:
                observability = Observability.start(
                    triton_targets=(f"{settings.host}:{triton.ports.metrics}",),
                    models=tuple(sorted(m for m, ok in ready.items() if ok)),
                    llm_targets=(llm.metrics_target,) if llm else (),
                    llm_models=(llm.settings.model,) if llm else (),
                    llm_variant=llm.variant_name if llm else None,
                )
            except (LaunchError, OSError) as exc:
                print(f"make local: Prometheus/Alertmanager did not start: {exc}", file=sys.stderr)
                return 1
            running.callback(observability.stop)
            print(
                f"Prometheus {observability.prometheus.url}, Alertmanager "
                f"{observability.alertmanager.url}, webhook {observability.webhook.url}"
            )
        print("Ctrl-C stops it.", flush=True)
        while not stop.wait(1.0):
            if triton.process is not None and triton.process.poll() is not None:
                print(f"Triton exited ({triton.process.returncode}):\n{triton.log_tail()}")
                return 1
            if llm is not None and not llm.running():
                print(f"vLLM exited; its log ({llm.log_path}):\n{llm.log_tail()}")
                return 1
    return 0


def _stop_triton(triton: LocalTriton) -> None:
    if triton.process is None:
        return
    print("stopping Triton ...", flush=True)
    code = triton.stop()
    print(f"Triton stopped (exit status {code}).")


def _stop_llm(llm: LocalVllm) -> None:
    if llm.process is None:
        return
    print("stopping vLLM (its whole process group) ...", flush=True)
    code = llm.stop()
    print(f"vLLM stopped (exit status {code}).")


if __name__ == "__main__":
    sys.exit(main())
