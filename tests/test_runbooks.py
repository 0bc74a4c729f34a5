"""Runbooks: exactly one per alert, one alert per runbook, the five sections, real metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.catalog import (
    check_expression,
    load_catalog,
    names_in_text,
    unknown_names,
)
from blueprint.paths import RUNBOOKS_DIR
from components.aws.sagemaker import ALARMS as SAGEMAKER_ALARMS

SECTIONS = ["Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation"]
RUNBOOKS = sorted(p for p in RUNBOOKS_DIR.glob("*.md") if p.name != "README.md")


def test_every_alert_has_exactly_one_runbook_and_every_runbook_an_alert() -> None:
    alerts = set(alert_rules.alert_names())
    runbooks = [p.stem for p in RUNBOOKS]
    assert len(runbooks) == len(set(runbooks))
    assert sorted(alerts - set(runbooks)) == [], "alerts without a runbook"
    assert sorted(set(runbooks) - alerts) == [], "runbooks without an alert"
    # Case matters for URLs: no runbook may differ from its alert only in case.
    lowered = {r.lower() for r in runbooks}
    assert len(lowered) == len(runbooks)


@pytest.mark.parametrize("path", RUNBOOKS, ids=[p.stem for p in RUNBOOKS])
def test_runbook_has_title_and_sections_in_order(path: Path) -> None:
    text = path.read_text()
    assert text.startswith(f"# {path.stem}\n"), "the title must be the alert's name"
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == SECTIONS
    for section, body in zip(SECTIONS, re.split(r"^## .+$", text, flags=re.M)[1:], strict=True):
        assert len(body.strip()) > 40, f"section {section} is empty"


@pytest.mark.parametrize("path", RUNBOOKS, ids=[p.stem for p in RUNBOOKS])
def test_runbook_diagnosis_has_commands_to_paste(path: Path) -> None:
    diagnosis = path.read_text().split("## Diagnosis", 1)[1].split("## Mitigation", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", diagnosis, re.S)
    kinds = {kind for kind, _ in blocks}
    assert "promql" in kinds, "Diagnosis needs the PromQL to run"
    assert "sh" in kinds, "Diagnosis needs shell commands (kubectl, curl, aws)"


@pytest.mark.parametrize("path", RUNBOOKS, ids=[p.stem for p in RUNBOOKS])
def test_runbook_cites_only_metrics_that_exist(path: Path) -> None:
    text = path.read_text()
    catalog = load_catalog()
    recorded = {name: frozenset() for name in alert_rules.recorded_series()}
    problems = []
    for expr in re.findall(r"```promql\n(.*?)```", text, re.S):
        for line in expr.strip().splitlines():
            # Placeholders such as "<model>" are strings; the query must still parse.
            problems += [str(p) for p in check_expression(line, path.name, catalog, recorded)]
    problems += [
        f"{path.name}: {n} in the text"
        for n in unknown_names(names_in_text(text), catalog, recorded)
    ]
    assert problems == []


def test_every_cloudwatch_alarm_has_its_runbook_and_its_prometheus_twin() -> None:
    """The SageMaker endpoints' CloudWatch alarms link runbooks/<kind>.md too."""
    for kind in SAGEMAKER_ALARMS:
        assert (RUNBOOKS_DIR / f"{kind}.md").exists(), kind
        assert kind in alert_rules.alert_names(), f"{kind}: no Prometheus alert of that name"


def test_runbook_links_resolve() -> None:
    for path in [*RUNBOOKS, RUNBOOKS_DIR / "README.md"]:
        for target in re.findall(r"\]\(([A-Za-z]+\.md)\)", path.read_text()):
            assert (RUNBOOKS_DIR / target).exists(), f"{path.name} links to missing {target}"


def test_index_lists_every_alert_once_with_its_severities() -> None:
    index = (RUNBOOKS_DIR / "README.md").read_text()
    rows = re.findall(r"^\| \[(\w+)\]\((\w+)\.md\) \| ([a-z /]+) \| (\w+) \|", index, re.M)
    assert sorted(r[0] for r in rows) == alert_rules.alert_names()
    severities: dict[str, set[str]] = {}
    teams: dict[str, str] = {}
    for alert in alert_rules.alerts():
        severities.setdefault(alert.name, set()).add(alert.labels["severity"])
        teams[alert.name] = alert.labels["team"]
    for name, link, severity, team in rows:
        assert link == name
        assert set(severity.split(" / ")) == severities[name]
        assert team == teams[name]


def test_the_metric_check_would_catch_a_made_up_name() -> None:
    catalog = load_catalog()
    assert unknown_names({"nv_inference_latency_p99"}, catalog, {}) == ["nv_inference_latency_p99"]
    # vLLM names in prose are checked too; a histogram may be named by its family.
    text = "the histogram vllm:time_to_first_token_seconds, not vllm:time_to_first_token_p99"
    assert names_in_text(text) == {
        "vllm:time_to_first_token_seconds",
        "vllm:time_to_first_token_p99",
    }
    assert unknown_names(names_in_text(text), catalog, {}) == ["vllm:time_to_first_token_p99"]
    assert names_in_text("curl -s localhost:8000/metrics | grep '^vllm:'; vllm:*") == set()
