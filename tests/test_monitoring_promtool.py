"""promtool on the rendered rules: `check rules` clean, `test rules` passing, every alert tested."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.config import StackConfig
from blueprint.monitoring import rules as alert_rules
from blueprint.monitoring.facts import Facts
from blueprint.monitoring.objectives import objectives_for
from tools import promtool

NEVER_QUIET = {"Watchdog": "always firing by design"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[Path]]:
    directory = tmp_path_factory.mktemp("promtool")
    rules, tests = promtool.prepare(directory)
    return directory, rules, tests


def test_promtool_check_rules_is_clean(prepared: tuple[Path, list[Path], list[Path]]) -> None:
    directory, rules, _ = prepared
    result = promtool.check_rules(directory, rules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rules)


def test_promtool_checks_the_facts_of_a_real_stack(
    configs: dict[str, StackConfig], tmp_path: Path
) -> None:
    cfg = configs["prod"]
    deployments = {
        name: (list(d.repo_models), d.variant)
        for name, d in cfg.models.items()
        if d.cluster == "core-aws"
    }
    facts = Facts(
        objectives=objectives_for(deployments),
        pool_on_demand_floors={"heavy-h100": 1},
        cluster_budget_monthly_usd=1000.0,
    )
    paths = alert_rules.write(alert_rules.render("https://x", facts), tmp_path)
    result = promtool.check_rules(tmp_path, paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules_pass(prepared: tuple[Path, list[Path], list[Path]]) -> None:
    directory, _, tests = prepared
    result = promtool.test_rules(directory, tests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_promtool_fails_a_wrong_expectation(
    prepared: tuple[Path, list[Path], list[Path]], tmp_path: Path
) -> None:
    """The harness really compares: a changed summary must fail."""
    _directory, rules, _ = prepared
    doc = promtool.with_runbook_urls(yaml.safe_load((promtool.TESTS_DIR / "meta.yaml").read_text()))
    doc["tests"][0]["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"]["summary"] = "x"
    for rule in rules:
        (tmp_path / rule.name).write_text(rule.read_text())
    (tmp_path / "test_broken.yaml").write_text(yaml.safe_dump(doc))
    result = promtool.test_rules(tmp_path, [tmp_path / "test_broken.yaml"])
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def _cases() -> tuple[dict[str, int], dict[str, int]]:
    firing: dict[str, int] = defaultdict(int)
    quiet: dict[str, int] = defaultdict(int)
    for path in sorted(promtool.TESTS_DIR.glob("*.yaml")):
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    firing[case["alertname"]] += 1
                else:
                    quiet[case["alertname"]] += 1
    return firing, quiet


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing, quiet = _cases()
    names = alert_rules.alert_names()
    assert [n for n in names if not firing[n]] == []
    assert [n for n in names if not quiet[n] and n not in NEVER_QUIET] == []
    assert set(firing) | set(quiet) <= set(names), "a test names an alert no rule defines"


def test_every_severity_of_a_multi_rule_alert_fires_in_a_test() -> None:
    """GpuXidError has a critical and a warning rule; both must be seen firing."""
    seen: dict[str, set[str]] = defaultdict(set)
    for path in sorted(promtool.TESTS_DIR.glob("*.yaml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    seen[case["alertname"]].add(alert["exp_labels"]["severity"])
    for alert in alert_rules.alerts():
        assert alert.labels["severity"] in seen[alert.name], alert.name
