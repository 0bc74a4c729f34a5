"""Alertmanager configuration: amtool check-config, routing cases, inhibitions on a real server."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from blueprint.monitoring import alertmanager as am
from blueprint.monitoring import rules as alert_rules
from tools.local.alertmanager import AlertmanagerSettings, LocalAlertmanager, drill_config
from tools.local.webhook import WebhookRecorder
from tools.promtool import tool


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("amtool"), *args], capture_output=True, text=True, check=False)


def write(config: dict[str, Any], tmp_path: Path, name: str = "am.yml") -> Path:
    path = tmp_path / name
    path.write_text(am.dump(config))
    return path


def routes(config_path: Path, labels: dict[str, str]) -> list[str]:
    result = amtool(
        "config", "routes", "test", f"--config.file={config_path}",
        *[f"{k}={v}" for k, v in labels.items()],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.split()[0].split(","))


@pytest.mark.parametrize(
    "config",
    [
        am.load(),
        am.with_webhooks(am.load(), "http://127.0.0.1:9999"),
        drill_config(am.load()),
        am.with_receivers(
            am.load(),
            {
                # The README's example, as a fork fills it in.
                "serving-pager": {
                    "pagerduty_configs": [{"routing_key_file": "/etc/alertmanager/secrets/pd/key"}]
                },
                "serving-ticket": {
                    "slack_configs": [{"api_url_file": "/etc/slack/url", "channel": "#llm-serving"}]
                },
                "heartbeat": {
                    "webhook_configs": [{"url": "https://hc-ping.com/uuid", "send_resolved": False}]
                },
            },
        ),
    ],
    ids=["template", "local-webhooks", "drill", "filled-in"],
)
def test_amtool_check_config(config: dict[str, Any], tmp_path: Path) -> None:
    result = amtool("check-config", str(write(config, tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("case", am.route_cases(), ids=lambda c: "-".join(c["labels"].values()))
def test_route_cases(case: dict[str, Any], tmp_path: Path) -> None:
    path = write(am.load(), tmp_path)
    verify = amtool(
        "config", "routes", "test", f"--config.file={path}",
        f"--verify.receivers={','.join(case['receivers'])}",
        *[f"{k}={v}" for k, v in case["labels"].items()],
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_amtool_verify_fails_on_a_wrong_receiver(tmp_path: Path) -> None:
    path = write(am.load(), tmp_path)
    result = amtool(
        "config", "routes", "test", f"--config.file={path}", "--verify.receivers=finops",
        "alertname=TritonDown", "severity=critical", "team=serving",
    )  # fmt: skip
    assert result.returncode != 0


def test_every_alert_reaches_a_receiver(tmp_path: Path) -> None:
    path = write(am.load(), tmp_path)
    for alert in alert_rules.alerts():
        labels = {"alertname": alert.name, **alert.labels}
        receivers = routes(path, labels)
        assert "unrouted" not in receivers, (alert.name, receivers)
        if alert.name == "Watchdog":
            assert receivers == ["heartbeat"]
        elif alert.labels["severity"] == "critical" and alert.labels["team"] != "finops":
            assert receivers == [f"{alert.labels['team']}-pager"], alert.name


def test_receiver_overrides_name_real_receivers_and_integrations() -> None:
    with pytest.raises(am.ReceiverError, match="receiver 'pager' is not in"):
        am.with_receivers(am.load(), {"pager": {"webhook_configs": [{"url": "http://x"}]}})
    with pytest.raises(am.ReceiverError, match="unknown integration"):
        am.with_receivers(am.load(), {"finops": {"carrier_pigeon_configs": []}})
    filled = am.with_receivers(am.load(), {"finops": {"email_configs": [{"to": "f@example.com"}]}})
    (finops,) = [r for r in filled["receivers"] if r["name"] == "finops"]
    assert finops["email_configs"] == [{"to": "f@example.com"}]
    assert "email_configs" not in next(r for r in am.load()["receivers"] if r["name"] == "finops")


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, "team": "serving", **labels},
        "annotations": {"summary": name},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


@pytest.mark.slow
def test_inhibitions_on_a_real_alertmanager(tmp_path: Path) -> None:
    with (
        WebhookRecorder() as hook,
        LocalAlertmanager(
            AlertmanagerSettings(webhook_url=hook.url, work_dir=tmp_path / "am", drill=True)
        ) as alertmanager,
    ):
        key = {"model": "chat_llm", "deployment": "chat-llm", "cluster": "prod-core-aws"}
        # vLLM series name the model by model_name: the LLM tier's pair is keyed by it.
        llm = {"model_name": "chat_llm", "deployment": "chat-llm", "cluster": "prod-core-aws"}
        alertmanager.post_alerts(
            [
                _alert("GpuXidError", "critical", gpu="0"),
                _alert("GpuXidError", "warning", gpu="1"),
                _alert("ModelErrorBudgetBurnFast", "critical", **key),
                _alert("ModelErrorBudgetBurnSlow", "warning", **key),
                _alert("ModelErrorBudgetBurnSlow", "warning", **{**key, "model": "other"}),
                _alert("LlmTtftBudgetBurnFast", "critical", **llm),
                _alert("LlmTtftBudgetBurnSlow", "warning", **llm),
                _alert("LlmTtftBudgetBurnSlow", "warning", **{**llm, "deployment": "chat-llm-gcp"}),
            ]
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            alerts = alertmanager.alerts()
            if len(alerts) == 8:
                break
            time.sleep(0.2)
        state = {
            (
                a["labels"]["alertname"],
                a["labels"]["severity"],
                a["labels"].get("model"),
                a["labels"].get("deployment"),
            ): a["status"]["inhibitedBy"]
            for a in alerts
        }
        assert state[("GpuXidError", "warning", None, None)], "critical XID inhibits the warning"
        assert not state[("GpuXidError", "critical", None, None)]
        slow = ("ModelErrorBudgetBurnSlow", "warning")
        assert state[(*slow, "chat_llm", "chat-llm")], "fast burn inhibits slow"
        assert not state[(*slow, "other", "chat-llm")], "other model is not"
        llm_slow = ("LlmTtftBudgetBurnSlow", "warning", None)
        assert state[(*llm_slow, "chat-llm")], "the LLM's fast TTFT burn inhibits its slow one"
        assert not state[(*llm_slow, "chat-llm-gcp")], "another LLM deployment is not"
        delivered = hook.wait_for(lambda n: "ModelErrorBudgetBurnSlow" in n.alertnames(), 15)
        assert delivered is not None
        assert delivered.receiver == "serving-ticket"
        models = {a["labels"].get("model") for a in delivered.payload["alerts"]}
        assert models == {"other"}
        delivered = hook.wait_for(lambda n: "LlmTtftBudgetBurnSlow" in n.alertnames(), 15)
        assert delivered is not None
        assert delivered.receiver == "serving-ticket"
        deployments = {a["labels"]["deployment"] for a in delivered.payload["alerts"]}
        assert deployments == {"chat-llm-gcp"}
