"""The local observability stack: webhook recorder, Alertmanager and Prometheus, in the foreground.

    python -m tools.local.observability --triton-metrics 127.0.0.1:8002 \\
        [--models text_embedding,prompt_guard] [--llm-metrics 127.0.0.1:8011] \\
        [--llm-models chat_llm] [--llm-variant cpu] [--prometheus-port N] \\
        [--alertmanager-port N] [--webhook-port N] [--drill] [--work-dir DIR]

Ctrl-C stops all three. Ports default to free ones (or LOCAL_PROMETHEUS_PORT,
LOCAL_ALERTMANAGER_PORT, LOCAL_WEBHOOK_PORT); the Triton address to
LOCAL_TRITON_METRICS, vLLM's to LOCAL_LLM_METRICS. Notifications Alertmanager
delivers are appended to ``<work-dir>/notifications.jsonl``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from blueprint.paths import BUILD_DIR
from tools.local._proc import LaunchError
from tools.local.alertmanager import AlertmanagerSettings, LocalAlertmanager
from tools.local.prometheus import LocalPrometheus, PrometheusSettings
from tools.local.webhook import WebhookRecorder

DEFAULT_WORK_DIR = BUILD_DIR / "local"


@dataclass
class Observability:
    """The three servers, started in dependency order and stopped in reverse."""

    webhook: WebhookRecorder
    alertmanager: LocalAlertmanager
    prometheus: LocalPrometheus

    @classmethod
    def start(
        cls,
        *,
        triton_targets: tuple[str, ...],
        models: tuple[str, ...],
        llm_targets: tuple[str, ...] = (),
        llm_models: tuple[str, ...] = (),
        llm_variant: str | None = None,
        work_dir: Path = DEFAULT_WORK_DIR,
        drill: bool = False,
        prometheus_port: int | None = None,
        alertmanager_port: int | None = None,
        webhook_port: int = 0,
        scrape_interval: str | None = None,
        evaluation_interval: str | None = None,
    ) -> Observability:
        webhook = WebhookRecorder(port=webhook_port, log=work_dir / "notifications.jsonl").start()
        am_kwargs: dict[str, Any] = {
            "webhook_url": webhook.url,
            "work_dir": work_dir / "alertmanager",
        }
        if alertmanager_port is not None:
            am_kwargs["port"] = alertmanager_port
        alertmanager = LocalAlertmanager(AlertmanagerSettings(drill=drill, **am_kwargs))
        try:
            alertmanager.start()
        except BaseException:
            webhook.stop()
            raise
        prom_kwargs: dict[str, Any] = {
            "triton_targets": triton_targets,
            "models": models,
            "llm_targets": llm_targets,
            "llm_models": llm_models,
            "llm_variant": llm_variant,
            "alertmanager": alertmanager.url,
            "work_dir": work_dir / "prometheus",
        }
        if prometheus_port is not None:
            prom_kwargs["port"] = prometheus_port
        if scrape_interval is not None:
            prom_kwargs["scrape_interval"] = scrape_interval
        if evaluation_interval is not None:
            prom_kwargs["evaluation_interval"] = evaluation_interval
        prometheus = LocalPrometheus(PrometheusSettings(drill=drill, **prom_kwargs))
        try:
            prometheus.start()
        except BaseException:
            alertmanager.stop()
            webhook.stop()
            raise
        return cls(webhook, alertmanager, prometheus)

    def stop(self) -> None:
        self.prometheus.stop()
        self.alertmanager.stop()
        self.webhook.stop()

    def __enter__(self) -> Observability:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return port


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="python -m tools.local.observability", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--triton-metrics",
        default=env.get("LOCAL_TRITON_METRICS", ""),
        help="host:port of Triton's metrics endpoint(s), comma-separated",
    )
    p.add_argument("--models", default="", help="models the local Triton serves (SLO facts)")
    p.add_argument(
        "--llm-metrics",
        default=env.get("LOCAL_LLM_METRICS", ""),
        help="host:port of vLLM server(s), comma-separated",
    )
    p.add_argument(
        "--llm-models", default="chat_llm", help="LLMs the vLLM servers serve (SLO facts)"
    )
    p.add_argument("--llm-variant", default=env.get("LLM_VARIANT") or None)
    p.add_argument("--prometheus-port", type=_port, default=None)
    p.add_argument("--alertmanager-port", type=_port, default=None)
    p.add_argument("--webhook-port", type=_port, default=int(env.get("LOCAL_WEBHOOK_PORT", "0")))
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    p.add_argument(
        "--drill", action="store_true", help="shortened `for` and group timers (fault drill only)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    targets = tuple(t.strip() for t in args.triton_metrics.split(",") if t.strip())
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    llm_targets = tuple(t.strip() for t in args.llm_metrics.split(",") if t.strip())
    llm_models = tuple(m.strip() for m in args.llm_models.split(",") if m.strip())
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack = Observability.start(
            triton_targets=targets,
            models=models,
            llm_targets=llm_targets,
            llm_models=llm_models if llm_targets else (),
            llm_variant=args.llm_variant,
            work_dir=args.work_dir,
            drill=args.drill,
            prometheus_port=args.prometheus_port,
            alertmanager_port=args.alertmanager_port,
            webhook_port=args.webhook_port,
        )
    except LaunchError as exc:
        print(f"local observability: {exc}", file=sys.stderr)
        return 1
    with stack:
        print(f"Prometheus   {stack.prometheus.url}  (rules: {stack.prometheus.rules_dir})")
        print(f"Alertmanager {stack.alertmanager.url}")
        print(f"Webhook      {stack.webhook.url}  -> {args.work_dir / 'notifications.jsonl'}")
        print("Ctrl-C stops them.", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
