"""The local Prometheus and Alertmanager: real binaries on loopback with the production rules.

Until the local Triton is wired in (tests/test_monitoring_drill.py), the scrape target of
job "triton" is a loopback port: first nothing listens there (Triton "down"), then a
second real Prometheus serves its own /metrics there (the target is "up" again). The
alert must fire in Prometheus, reach Alertmanager and the webhook, and resolve.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from blueprint.monitoring import rules as alert_rules
from tools.local._proc import LaunchError, free_port
from tools.local.observability import Observability
from tools.local.prometheus import LocalPrometheus, PrometheusSettings

pytestmark = pytest.mark.slow

BOUND_S = 60
"""How long an alert may take to go from the fault to the webhook, drill timings."""


def test_prometheus_loads_the_production_rules(tmp_path: Path) -> None:
    settings = PrometheusSettings(models=("text_embedding",), work_dir=tmp_path / "p")
    with LocalPrometheus(settings) as prom:
        groups = {g["name"]: g for g in prom.rule_groups()}
        rendered = alert_rules.render(settings.runbook_base_url, alert_rules.Facts())
        expected = {g["name"] for doc in rendered.values() for g in doc["groups"]}
        assert set(groups) == expected
        alerting = [r for g in groups.values() for r in g["rules"] if r["type"] == "alerting"]
        assert {r["name"] for r in alerting} == set(alert_rules.alert_names())
        for rule in alerting:
            assert rule["annotations"]["runbook_url"].endswith(f"/runbooks/{rule['name']}.md")
        # The production rendering keeps the rules' own `for`.
        down = next(r for r in alerting if r["name"] == "TritonDown")
        assert down["duration"] == 120
        # It scrapes itself: Prometheus's own metrics arrive.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not prom.query('up{job="prometheus"} == 1'):
            time.sleep(0.5)
        assert prom.query('up{job="prometheus"} == 1')
        up, total = prom.targets_up()
        assert 1 <= up <= total == len(prom.query("up"))
        # The always-firing Watchdog: what the demo's report counts as firing.
        while time.monotonic() < deadline and "Watchdog" not in prom.firing():
            time.sleep(0.5)
        firing = prom.firing()
        assert "Watchdog" in firing
        assert firing == sorted(set(firing))
        # The facts of the local deployment are loaded.
        (fact,) = prom.query('llm_inference:model_latency_budget_seconds{model="text_embedding"}')
        assert fact["metric"]["deployment"] == "local"
        assert float(fact["value"][1]) == 0.25
    config = yaml.safe_load((tmp_path / "p" / "prometheus.yml").read_text())
    assert config["global"]["external_labels"] == {"cluster": "local"}


def test_unknown_model_is_refused_with_the_config_named(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"model_repo/nope/config\.pbtxt: no such model config"):
        LocalPrometheus(PrometheusSettings(models=("nope",), work_dir=tmp_path)).write_config()


def test_down_target_fires_reaches_the_webhook_and_resolves(tmp_path: Path) -> None:
    port = free_port()
    with Observability.start(
        triton_targets=(f"127.0.0.1:{port}",),
        models=(),
        work_dir=tmp_path / "obs",
        drill=True,
        scrape_interval="1s",
        evaluation_interval="1s",
    ) as stack:
        started = time.monotonic()
        firing = stack.prometheus.wait_for_alert("TritonDown", timeout_s=BOUND_S)
        assert firing is not None, "TritonDown did not fire in Prometheus"
        assert firing["labels"]["instance"] == f"127.0.0.1:{port}"
        paged = stack.webhook.wait_for(
            lambda n: "TritonDown" in n.alertnames() and n.status == "firing",
            BOUND_S - (time.monotonic() - started),
        )
        assert paged is not None, "TritonDown did not reach the webhook"
        assert paged.receiver == "serving-pager"
        (alert,) = [a for a in paged.payload["alerts"] if a["labels"]["alertname"] == "TritonDown"]
        assert alert["labels"]["cluster"] == "local"
        assert alert["annotations"]["runbook_url"].endswith("/runbooks/TritonDown.md")
        print(f"\nTritonDown: fault to webhook {time.monotonic() - started:.1f} s")
        heartbeat = stack.webhook.wait_for(lambda n: n.receiver == "heartbeat", 30)
        assert heartbeat is not None
        assert heartbeat.alertnames() == {"Watchdog"}

        # Something real answers on the port now: the target is up, the alert resolves.
        with LocalPrometheus(
            PrometheusSettings(port=port, models=(), work_dir=tmp_path / "stand-in")
        ):
            recovered = time.monotonic()
            assert stack.prometheus.wait_until_gone("TritonDown", timeout_s=BOUND_S)
            deadline = time.monotonic() + BOUND_S
            while time.monotonic() < deadline and any(
                a["labels"]["alertname"] == "TritonDown" for a in stack.alertmanager.alerts()
            ):
                time.sleep(0.5)
            assert not any(
                a["labels"]["alertname"] == "TritonDown" for a in stack.alertmanager.alerts()
            )
            resolved = stack.webhook.wait_for(
                lambda n: "TritonDown" in n.alertnames() and n.status == "resolved", BOUND_S
            )
            assert resolved is not None, "no resolved notification"
            took = time.monotonic() - recovered
            print(f"TritonDown: recovery to resolved notification {took:.1f} s")


def test_cli_refuses_bad_input_without_a_traceback(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tools.local.observability", *args],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip

    bad_port = run("--prometheus-port", "70000")
    assert bad_port.returncode == 2
    assert "--prometheus-port: 70000 is not a port" in bad_port.stderr
    unknown = run("--models", "nope", "--work-dir", str(tmp_path))
    assert unknown.returncode == 1
    assert "model_repo/nope/config.pbtxt: no such model config" in unknown.stderr
    assert "Traceback" not in bad_port.stderr + unknown.stderr
