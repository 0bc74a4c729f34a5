"""checkov's Kubernetes checks on the rendered plans (tools/checkov_k8s.py): the manifests,
the skip list's triage, and, where `make checkov` has installed checkov, a real run on
the committed plans with no open finding and no stale skip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, STACKS
from tools.checkov_k8s import (
    SKIPS,
    Finding,
    Skip,
    findings_of,
    lock_lines,
    main,
    manifests,
    triage,
    write_manifests,
)
from tools.preview.recorder import Plan

GOLDEN = REPO / "tests" / "golden"
CHECKOV = REPO / "build" / "checkov-venv" / "bin" / "checkov"


def golden(stack: str) -> Plan:
    doc = json.loads((GOLDEN / f"{stack}.json").read_text())
    return Plan(doc["stack"], doc["project"], doc["resources"], doc.get("outputs", {}))


def test_manifests_are_the_plain_kubernetes_objects_as_pulumi_sends_them(tmp_path: Path) -> None:
    plan = golden("prod")
    objects = manifests(plan)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "Namespace", "PrometheusRule"} <= kinds
    assert "Release" not in kinds, "Helm releases are values, not manifests"
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["apiVersion"] == "apps/v1"
    sc = deployment["spec"]["template"]["spec"]["securityContext"]
    assert sc["runAsUser"] == 1000
    assert isinstance(sc["runAsUser"], int)
    path = write_manifests({"prod": plan}, tmp_path)["prod"]
    assert list(yaml.safe_load_all(path.read_text())) == objects


def test_every_skip_names_a_check_a_resource_and_why() -> None:
    for skip in SKIPS:
        assert re.fullmatch(r"CKV2?_K8S_\d+", skip.check), skip
        assert re.fullmatch(r"[A-Z][A-Za-z]+\.[a-z0-9*-]+\.?[^\s]*", skip.resource), skip
        assert skip.kind in {"false-positive", "pending"}, skip
        assert len(skip.why) >= 60, f"{skip.check} {skip.resource}: say why"
    keys = [(s.check, s.resource) for s in SKIPS]
    assert len(keys) == len(set(keys)), "duplicate skips"


def test_triage_keeps_unskipped_findings_and_reports_stale_skips() -> None:
    skips = (
        Skip("CKV_K8S_11", "Deployment.llm-serving.*", "false-positive", "x" * 60),
        Skip("CKV_K8S_99", "Deployment.gone.*", "pending", "y" * 60),
    )
    failed = [
        {
            "check_id": "CKV_K8S_11",
            "check_name": "CPU limits",
            "file_path": "/prod.yaml",
            "resource": "Deployment.llm-serving.chat-llm",
        },
        {
            "check_id": "CKV_K8S_11",
            "check_name": "CPU limits",
            "file_path": "/prod.yaml",
            "resource": "Deployment.kube-system.other",
        },
        {
            "check_id": "CKV_K8S_20",
            "check_name": "escalation",
            "file_path": "/dev.yaml",
            "resource": "Deployment.llm-serving.chat-llm",
        },
    ]
    findings = findings_of(failed)
    open_, stale = triage(findings, skips)
    assert open_ == [
        Finding("dev", "CKV_K8S_20", "escalation", "Deployment.llm-serving.chat-llm"),
        Finding("prod", "CKV_K8S_11", "CPU limits", "Deployment.kube-system.other"),
    ]
    assert [s.check for s in stale] == ["CKV_K8S_99"]


def test_the_lock_writes_one_hashed_pin_per_package() -> None:
    report = {
        "install": [
            {
                "metadata": {"name": "checkov", "version": "3.3.30"},
                "download_info": {"archive_info": {"hashes": {"sha256": "ab" * 32}}},
            },
            {
                "metadata": {"name": "Boto3", "version": "1.35.49"},
                "download_info": {"archive_info": {"hashes": {"sha256": "cd" * 32}}},
            },
        ]
    }
    assert lock_lines(report) == [
        f"Boto3==1.35.49 --hash=sha256:{'cd' * 32}",
        f"checkov==3.3.30 --hash=sha256:{'ab' * 32}",
    ]
    pins = [
        line
        for line in (REPO / "requirements-checkov.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert any(p.startswith("checkov==3.3.30 ") for p in pins)
    assert all(re.fullmatch(r"\S+==\S+ --hash=sha256:[0-9a-f]{64}", p) for p in pins), pins


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov is not installed: run `make checkov`")
def test_checkov_finds_nothing_open_and_no_skip_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [*STACKS, "--plans", str(GOLDEN), "--checkov", str(CHECKOV), "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert ", 0 open, 0 stale skips" in out, out
