"""The real Prometheus (Debian's prometheus 2.42) on loopback, with the production rules.

It loads the same rule files the clusters get (rendered by
``blueprint.monitoring.rules`` with the local stack's facts: deployment ``local``,
the Triton models it serves and the LLM variant vLLM serves), scrapes itself, the
given Triton metrics addresses (job ``triton``) and vLLM servers (job ``vllm``),
both with the label ``deployment="local"``, and sends alerts to the given
Alertmanager::

    with LocalPrometheus(PrometheusSettings(triton_targets=("127.0.0.1:8002",),
                                            models=("text_embedding",),
                                            alertmanager=am.url)) as prom:
        prom.query('up{job="triton"}'), prom.alerts()

Settings come from flags or the environment: ``LOCAL_TRITON_METRICS``,
``LOCAL_LLM_METRICS``, ``LOCAL_PROMETHEUS_PORT``,
``LOCAL_PROMETHEUS_HOST``, ``LOCAL_PROMETHEUS_SCRAPE_INTERVAL``,
``LOCAL_PROMETHEUS_EVAL_INTERVAL``, ``LOCAL_RUNBOOK_BASE_URL``, ``PROMETHEUS_BIN``.

``drill=True`` renders the rules with the drill's shortened ``for``
(``blueprint.monitoring.rules.DRILL_FOR``; the rendered files say so in their first
line). The production rule files are never changed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from blueprint.modelrepo.llm import MANIFEST, LlmManifestError, is_llm, load_llm
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.facts import Facts
from blueprint.monitoring.objectives import llm_objectives_for, objectives_for
from blueprint.paths import BUILD_DIR, RUNBOOKS_DIR
from tools.local._proc import LaunchError, Server, binary, free_port

DRILL_RESEND_DELAY = "5s"
"""``--rules.alert.resend-delay`` in the drill (Prometheus' default, 1m, is kept otherwise):
alerts that fire before Prometheus has found its Alertmanager are sent again sooner."""

LOCAL_DEPLOYMENT = "local"
"""The ``deployment`` label of the local Triton's series (a cluster's is the deployment's name)."""


def _env_targets(var: str) -> tuple[str, ...]:
    raw = os.environ.get(var, "")
    return tuple(t.strip() for t in raw.split(",") if t.strip())


@dataclass(frozen=True)
class PrometheusSettings:
    triton_targets: tuple[str, ...] = field(
        default_factory=lambda: _env_targets("LOCAL_TRITON_METRICS")
    )
    """``host:port`` of Triton metrics endpoints (LOCAL_TRITON_METRICS, comma-separated)."""
    models: tuple[str, ...] = ()
    """Models the local Triton serves: their objectives become the facts."""
    llm_targets: tuple[str, ...] = field(default_factory=lambda: _env_targets("LOCAL_LLM_METRICS"))
    """``host:port`` of vLLM servers (LOCAL_LLM_METRICS, comma-separated; ``/metrics``)."""
    llm_models: tuple[str, ...] = ()
    """LLMs (``model_repo/<model>/llm.yaml``) vLLM serves: their objectives become facts."""
    llm_variant: str | None = None
    """The manifests' variant vLLM serves (None: each manifest's default)."""
    alertmanager: str | None = None
    """Alertmanager base URL (``http://127.0.0.1:9093``); None sends alerts nowhere."""
    host: str = field(default_factory=lambda: os.environ.get("LOCAL_PROMETHEUS_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("LOCAL_PROMETHEUS_PORT", "0")))
    """0 picks a free port."""
    scrape_interval: str = field(
        default_factory=lambda: os.environ.get("LOCAL_PROMETHEUS_SCRAPE_INTERVAL", "5s")
    )
    evaluation_interval: str = field(
        default_factory=lambda: os.environ.get("LOCAL_PROMETHEUS_EVAL_INTERVAL", "5s")
    )
    runbook_base_url: str = field(
        default_factory=lambda: os.environ.get("LOCAL_RUNBOOK_BASE_URL", RUNBOOKS_DIR.as_uri())
    )
    work_dir: Path = BUILD_DIR / "local" / "prometheus"
    drill: bool = False
    ready_timeout_s: float = 60


def scrape_config(settings: PrometheusSettings, self_address: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.evaluation_interval,
            "external_labels": {"cluster": "local"},
        },
        "rule_files": ["rules/*.yaml"],
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [self_address]}]},
            {
                "job_name": "triton",
                "static_configs": [
                    {
                        "targets": list(settings.triton_targets),
                        "labels": {"deployment": LOCAL_DEPLOYMENT},
                    }
                ],
            },
        ],
    }
    if settings.llm_targets:
        config["scrape_configs"].append(
            {
                "job_name": "vllm",
                "static_configs": [
                    {
                        "targets": list(settings.llm_targets),
                        "labels": {"deployment": LOCAL_DEPLOYMENT},
                    }
                ],
            }
        )
    if settings.alertmanager:
        address = settings.alertmanager.split("://", 1)[-1].rstrip("/")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [address]}]}]}
    return config


def _check_llm(model: str, variant: str | None) -> None:
    """An LLM of the facts must have a manifest with that variant (not be skipped silently)."""
    where = f"model_repo/{model}/{MANIFEST}"
    if not is_llm(model):
        raise LaunchError(f"{where}: no such LLM manifest")
    try:
        manifest = load_llm(model)
    except LlmManifestError as exc:
        raise LaunchError(str(exc)) from None
    if variant is not None and variant not in manifest.variants:
        raise LaunchError(
            f"{where}: no variant {variant!r}; known: {', '.join(sorted(manifest.variants))}"
        )


class LocalPrometheus:
    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self.port = settings.port or free_port(settings.host)
        work = settings.work_dir
        self.config_path = work / "prometheus.yml"
        self.rules_dir = work / "rules"
        self._server = Server(
            "prometheus",
            [
                binary("prometheus", "PROMETHEUS_BIN"),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address={settings.host}:{self.port}",
                "--storage.tsdb.retention.time=2d",
                "--log.level=info",
                *([f"--rules.alert.resend-delay={DRILL_RESEND_DELAY}"] if settings.drill else []),
            ],
            work / "prometheus.log",
            f"http://{settings.host}:{self.port}/-/ready",
        )

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def write_config(self) -> Path:
        s = self.settings
        for llm in s.llm_models:
            _check_llm(llm, s.llm_variant)
        try:
            objectives = objectives_for({LOCAL_DEPLOYMENT: (list(s.models), None)})
            llm_objectives = llm_objectives_for(
                {LOCAL_DEPLOYMENT: (list(s.llm_models), s.llm_variant)}
            )
        except KeyError as exc:
            raise LaunchError(str(exc.args[0])) from None
        rendered = alert_rules.render(
            s.runbook_base_url,
            Facts(objectives=objectives, llm_objectives=llm_objectives),
            for_overrides=alert_rules.DRILL_FOR if s.drill else None,
        )
        if self.rules_dir.exists():
            shutil.rmtree(self.rules_dir)
        alert_rules.write(rendered, self.rules_dir, drill=s.drill)
        config = scrape_config(s, f"{s.host}:{self.port}")
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.config_path

    def start(self) -> LocalPrometheus:
        self.write_config()
        self._server.start()
        self._server.wait_ready(self.settings.ready_timeout_s)
        return self

    def stop(self) -> None:
        self._server.stop()

    # -- the HTTP API -------------------------------------------------------

    def query(self, expr: str) -> list[dict[str, Any]]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (``labels``, ``state``, ``activeAt``, ...)."""
        r = requests.get(f"{self.url}/api/v1/alerts", timeout=10)
        r.raise_for_status()
        alerts: list[dict[str, Any]] = r.json()["data"]["alerts"]
        return alerts

    def targets_up(self) -> tuple[int, int]:
        """(targets up, targets) by the ``up`` series."""
        targets = self.query("up")
        return sum(1 for t in targets if t["value"][1] == "1"), len(targets)

    def firing(self) -> list[str]:
        """The names of the alerts firing now, sorted, each once."""
        return sorted({a["labels"]["alertname"] for a in self.alerts() if a["state"] == "firing"})

    def rule_groups(self) -> list[dict[str, Any]]:
        r = requests.get(f"{self.url}/api/v1/rules", timeout=10)
        r.raise_for_status()
        groups: list[dict[str, Any]] = r.json()["data"]["groups"]
        return groups

    def wait_for_alert(
        self,
        alertname: str,
        state: str = "firing",
        timeout_s: float = 120,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> dict[str, Any] | None:
        """The alert once it is in ``state``, or None after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for alert in self.alerts():
                if (
                    alert["labels"].get("alertname") == alertname
                    and alert["state"] == state
                    and where(alert)
                ):
                    return alert
            time.sleep(0.5)
        return None

    def wait_until_gone(self, alertname: str, timeout_s: float = 120) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not any(a["labels"].get("alertname") == alertname for a in self.alerts()):
                return True
            time.sleep(0.5)
        return False

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
