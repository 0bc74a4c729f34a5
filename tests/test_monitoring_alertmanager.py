"""Alertmanager configuration: amtool check-config, routing cases (the tree, and each shipped
stack's configuration with its receivers), inhibitions on a real server."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from blueprint.config import StackConfig
from blueprint.monitoring import alertmanager as am
from blueprint.monitoring import rules as alert_rules
from blueprint.schema import PagingConfig, PagingKind
from tests.conftest import STACKS
from tools.alertmanager import check_stack, render_stack, stack_cases
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


# ---------------------------------------------------------------------------
# Each shipped stack's configuration: the tree of alertmanager.yaml plus its receivers.

STACK_CASES = stack_cases()


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_has_route_cases(stack: str) -> None:
    assert len(STACK_CASES.get(stack, [])) >= 5, f"stack_cases.yaml has no cases for {stack}"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_config_passes_amtool_and_routes_each_alert_to_its_receivers(
    stack: str, tmp_path: Path
) -> None:
    path = render_stack(stack, tmp_path)
    failures = check_stack(path, stack, STACK_CASES[stack])
    assert failures == [], "\n".join(f.what for f in failures)


def test_a_wrong_integration_in_a_case_fails(tmp_path: Path) -> None:
    path = render_stack("dev", tmp_path)
    case = {
        "labels": {"alertname": "TritonDown", "severity": "critical", "team": "serving"},
        "receivers": ["serving-pager"],
        "via": ["email", "pagerduty"],  # dev does not page
    }
    (failure,) = check_stack(path, "dev", [case])
    assert "serving-pager delivers through ['email']" in failure.what


@pytest.mark.parametrize("stack", STACKS)
def test_stack_config_keeps_the_files_tree_and_inhibitions(
    stack: str, configs: dict[str, StackConfig]
) -> None:
    mon = configs[stack].monitoring
    assert mon is not None
    base = am.load()
    config = am.for_stack(base, mon, am.placeholder_secrets(mon))
    assert config["route"] == base["route"]
    assert config["inhibit_rules"] == base["inhibit_rules"]
    assert am.receiver_names(config) == am.receiver_names(base)


def test_every_receiver_of_the_file_says_its_channels() -> None:
    assert set(am.CHANNELS) == set(am.receiver_names(am.load()))


def test_secrets_go_where_alertmanager_reads_them(configs: dict[str, StackConfig]) -> None:
    mon = configs["prod"].monitoring
    assert mon is not None
    secrets = {key: f"value-of-{key}" for key in am.required_secrets(mon)}
    config = am.for_stack(am.load(), mon, secrets)
    assert config["global"]["smtp_auth_password"] == f"value-of-{am.SMTP_PASSWORD}"
    assert config["global"]["smtp_smarthost"] == mon.smtp.smarthost  # type: ignore[union-attr]
    (pager,) = [r for r in config["receivers"] if r["name"] == "serving-pager"]
    assert pager["pagerduty_configs"] == [
        {"routing_key": f"value-of-{am.PAGERDUTY_KEY}", "send_resolved": True}
    ]
    assert pager["email_configs"] == [{"to": ", ".join(mon.alert_emails), "send_resolved": True}]
    (ticket,) = [r for r in config["receivers"] if r["name"] == "serving-ticket"]
    assert ticket["slack_configs"][0]["api_url"] == f"value-of-{am.SLACK_URL}"
    assert ticket["slack_configs"][0]["channel"] == mon.chat.channel  # type: ignore[union-attr]


def test_a_missing_receiver_secret_names_the_key_and_the_command(
    configs: dict[str, StackConfig],
) -> None:
    mon = configs["staging"].monitoring
    assert mon is not None
    secrets = am.placeholder_secrets(mon)
    del secrets[am.SLACK_URL]
    with pytest.raises(am.MissingSecret) as info:
        am.for_stack(am.load(), mon, secrets)
    assert "monitoring.chat needs the stack secret llm-inference:alertSlackWebhookUrl" in str(
        info.value
    )
    assert "pulumi config set --secret llm-inference:alertSlackWebhookUrl" in str(info.value)


def test_a_webhook_pager_and_a_relay_without_auth(configs: dict[str, StackConfig]) -> None:
    mon = configs["prod"].monitoring
    assert mon is not None
    assert mon.smtp is not None
    mon = mon.model_copy(
        update={
            "paging": PagingConfig(kind=PagingKind.WEBHOOK),
            "smtp": mon.smtp.model_copy(update={"username": None}),
        }
    )
    assert set(am.required_secrets(mon)) == {am.PAGING_URL, am.SLACK_URL}
    config = am.for_stack(am.load(), mon, am.placeholder_secrets(mon))
    assert "smtp_auth_password" not in config["global"]
    assert am.integrations(config, "platform-pager") == ["email", "webhook"]
