"""The real Alertmanager (Debian's prometheus-alertmanager 0.25) on loopback.

It runs the blueprint's routing tree (``monitoring/alertmanager/alertmanager.yaml``)
with every receiver pointed at a webhook URL (the local recorder), gossip off
(``--cluster.listen-address=``), and a free port unless one is given::

    with LocalAlertmanager(AlertmanagerSettings(webhook_url=recorder.url)) as am:
        am.url, am.alerts()

Settings come from flags or the environment: ``LOCAL_ALERTMANAGER_PORT``,
``LOCAL_ALERTMANAGER_HOST``, ``ALERTMANAGER_BIN``.

With ``drill=True`` the routes' group timers are shortened (:data:`DRILL_TIMERS`) so
the fault drill sees the firing and the resolved notification in seconds; the
routing and inhibitions are unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from blueprint.monitoring import alertmanager as amconfig
from blueprint.paths import BUILD_DIR
from tools.local._proc import Server, binary, free_port

DRILL_TIMERS: Mapping[str, str] = {"group_wait": "2s", "group_interval": "5s"}
"""Route timers in the drill rendering only (production: 30s / 5m)."""


@dataclass(frozen=True)
class AlertmanagerSettings:
    webhook_url: str
    host: str = field(
        default_factory=lambda: os.environ.get("LOCAL_ALERTMANAGER_HOST", "127.0.0.1")
    )
    port: int = field(default_factory=lambda: int(os.environ.get("LOCAL_ALERTMANAGER_PORT", "0")))
    """0 picks a free port."""
    work_dir: Path = BUILD_DIR / "local" / "alertmanager"
    drill: bool = False
    ready_timeout_s: float = 30


def drill_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with shorter group timers on the root route and every child route."""
    out = dict(config)
    route = dict(out["route"])
    route.update(DRILL_TIMERS)
    route["routes"] = [{**r, **DRILL_TIMERS} for r in route.get("routes", [])]
    out["route"] = route
    return out


class LocalAlertmanager:
    def __init__(self, settings: AlertmanagerSettings) -> None:
        self.settings = settings
        self.port = settings.port or free_port(settings.host)
        self.config_path = settings.work_dir / "alertmanager.yml"
        self._server = Server(
            "alertmanager",
            [
                binary("prometheus-alertmanager", "ALERTMANAGER_BIN"),
                f"--config.file={self.config_path}",
                f"--storage.path={settings.work_dir / 'data'}",
                f"--web.listen-address={settings.host}:{self.port}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
            settings.work_dir / "alertmanager.log",
            f"http://{settings.host}:{self.port}/-/ready",
        )

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def write_config(self) -> Path:
        config = amconfig.with_webhooks(amconfig.load(), self.settings.webhook_url)
        if self.settings.drill:
            config = drill_config(config)
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(amconfig.dump(config))
        return self.config_path

    def start(self) -> LocalAlertmanager:
        self.write_config()
        self._server.start()
        self._server.wait_ready(self.settings.ready_timeout_s)
        return self

    def stop(self) -> None:
        self._server.stop()

    def alerts(self, active: bool = True, inhibited: bool = True) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds now (API v2)."""
        r = requests.get(
            f"{self.url}/api/v2/alerts",
            params={"active": str(active).lower(), "inhibited": str(inhibited).lower()},
            timeout=5,
        )
        r.raise_for_status()
        alerts: list[dict[str, Any]] = r.json()
        return alerts

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        r = requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=5)
        r.raise_for_status()

    def __enter__(self) -> LocalAlertmanager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
