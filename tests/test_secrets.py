"""Secrets stay secret end to end: set with `pulumi config set --secret`, read with
Pulumi's secret API, never decrypted offline, `[secret]` in every plan and output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blueprint.config import ConfigError, load_stack_file
from tests.conftest import REPO
from tools.preview.mocks import OFFLINE_PASSWORD
from tools.preview.recorder import SECRET, offline_placeholder
from tools.preview.run import preview_stacks

CIPHERTEXT = "v1:Zm9vYmFyYmF6cXV4:ZG9udC1sZWFrLXRoaXMtY2lwaGVydGV4dA=="


def _stacks(tmp_path: Path, **config: object) -> Path:
    folder = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", folder, ignore=shutil.ignore_patterns("*.py", "*.json"))
    path = folder / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"].update(config)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def _with_import(doc_serving: dict[str, object]) -> dict[str, object]:
    return {**doc_serving, "hubImport": {"enabled": True}}


def test_a_secret_set_with_pulumi_stays_secret_in_the_plan(tmp_path: Path) -> None:
    base = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    folder = _stacks(
        tmp_path,
        **{
            "llm-inference:serving": _with_import(base["llm-inference:serving"]),
            "llm-inference:hubToken": {"secure": CIPHERTEXT},
        },
    )
    (result,) = preview_stacks(["dev"], stack_dir=folder)
    assert result.plan is not None, result.error
    text = result.plan.dumps()
    # Never decrypted, never shown: neither the ciphertext nor the placeholder appears.
    assert CIPHERTEXT not in text
    assert offline_placeholder("llm-inference:hubToken") not in text
    (secret,) = [
        r for r in result.plan.by_type("kubernetes:core/v1:Secret") if "import" in r["name"]
    ]
    assert secret["inputs"]["stringData"] == SECRET
    (job,) = result.plan.by_type("kubernetes:batch/v1:Job")
    pod = job["inputs"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["initContainers"][0]["env"]}
    assert "valueFrom" in env["HF_TOKEN"]  # from the Kubernetes Secret, not a literal


def test_a_gated_import_without_a_token_is_refused(tmp_path: Path) -> None:
    base = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
    folder = _stacks(
        tmp_path, **{"llm-inference:serving": _with_import(base["llm-inference:serving"])}
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "dev",
            "--stack-dir",
            str(folder),
            "--out",
            str(tmp_path / "plan"),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pulumi config set --secret llm-inference:hubToken" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_non_secret_key_set_as_a_secret_is_refused(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, **{"llm-inference:team": {"secure": CIPHERTEXT}})
    with pytest.raises(ConfigError) as info:
        load_stack_file(folder / "Pulumi.dev.yaml")
    assert "llm-inference:team: is encrypted (pulumi config set --secret)" in str(info.value)
    assert CIPHERTEXT not in str(info.value)


def test_committed_plans_hold_no_secret_value() -> None:
    for golden in sorted((REPO / "tests" / "golden").glob("*.json")):
        doc = json.loads(golden.read_text())
        assert "1b47061264138c4ac30d75fd1eb44270" not in golden.read_text()  # rpc secret sig
        assert "offline-placeholder" not in json.dumps(doc)


def test_a_secret_key_set_in_plain_text_is_refused(tmp_path: Path) -> None:
    folder = _stacks(tmp_path, **{"llm-inference:alertSlackWebhookUrl": "https://example.com/x"})
    with pytest.raises(ConfigError) as info:
        load_stack_file(folder / "Pulumi.dev.yaml")
    text = str(info.value)
    assert "llm-inference:alertSlackWebhookUrl: is a secret but is written in clear text" in text
    assert "pulumi config set --secret llm-inference:alertSlackWebhookUrl" in text
    assert "https://example.com/x" not in text  # the message never repeats the value


def test_receiver_secrets_stay_secret_and_the_grafana_password_is_never_in_a_plan(
    tmp_path: Path,
) -> None:
    folder = _stacks(tmp_path)
    prod = folder / "Pulumi.prod.yaml"
    doc = yaml.safe_load(prod.read_text())
    doc["config"]["llm-inference:alertSlackWebhookUrl"] = {"secure": CIPHERTEXT}
    prod.write_text(yaml.safe_dump(doc, sort_keys=False))
    (result,) = preview_stacks(["prod"], stack_dir=folder)
    assert result.plan is not None, result.error
    # Set ones are encrypted, the others get placeholders: both reach the program as secrets.
    assert result.placeholders == (
        "llm-inference:alertPagerdutyRoutingKey",
        "llm-inference:alertSmtpPassword",
    )
    text = result.plan.dumps()
    assert CIPHERTEXT not in text
    assert "offline-placeholder" not in text
    assert OFFLINE_PASSWORD not in text
    secrets = {
        r["name"]: r["inputs"]["stringData"]
        for r in result.plan.by_type("kubernetes:core/v1:Secret")
        if r["name"].endswith(("-alertmanager-config", "-grafana-admin"))
    }
    assert len(secrets) == 4  # two clusters
    assert set(secrets.values()) == {SECRET}
    for kps in result.plan.by_type("kubernetes:helm.sh/v3:Release"):
        values = json.dumps(kps["inputs"].get("values"))
        assert "adminPassword" not in values
        assert '"config"' not in json.dumps(kps["inputs"].get("values", {}).get("alertmanager"))


def test_a_missing_receiver_secret_stops_the_preview_with_the_key_and_command(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "staging",
            "--require-secrets",
            "--out",
            str(tmp_path / "plan"),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "stacks/Pulumi.staging.yaml" in out
    for key in ("alertSmtpPassword", "alertSlackWebhookUrl"):
        assert f"pulumi config set --secret llm-inference:{key} <value>" in out
    assert "Traceback" not in out
