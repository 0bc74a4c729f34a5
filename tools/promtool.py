"""Run promtool (and amtool) on the rendered rules, the promtool tests and the Alertmanager config.

``python -m tools.promtool [--keep DIR]`` renders the rules with a test
runbook base URL into a temporary folder, copies the promtool test files from
``monitoring/tests/`` next to them, adds to every expected alert the
``runbook_url`` its rule must carry (the one pattern), then runs
``promtool check rules`` and ``promtool test rules``. Exit status non-zero on any
failure. The test suite does the same (tests/test_monitoring_promtool.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from blueprint.monitoring.facts import Facts
from blueprint.monitoring.rules import render, runbook_url, write
from blueprint.paths import MONITORING_DIR

TESTS_DIR = MONITORING_DIR / "tests"
TEST_RUNBOOK_BASE = "https://runbooks.example.test"
"""The runbook base URL the rules are rendered with for promtool tests."""


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(
            f"{name} not found on PATH; install the Debian packages with `make system-deps` "
            "(prometheus provides promtool, prometheus-alertmanager provides amtool)"
        )
    return path


def with_runbook_urls(doc: dict[str, Any], base_url: str = TEST_RUNBOOK_BASE) -> dict[str, Any]:
    """A promtool test document whose expected alerts also expect their runbook_url."""
    for test in doc.get("tests", []):
        for case in test.get("alert_rule_test", []):
            for expected in case.get("exp_alerts") or []:
                annotations = expected.setdefault("exp_annotations", {})
                annotations.setdefault("runbook_url", runbook_url(base_url, case["alertname"]))
    return doc


def prepare(directory: Path, tests_dir: Path = TESTS_DIR) -> tuple[list[Path], list[Path]]:
    """Rendered rule files and prepared test files in ``directory``."""
    rules = write(render(TEST_RUNBOOK_BASE, Facts()), directory)
    tests = []
    for path in sorted(tests_dir.glob("*.yaml")):
        doc = with_runbook_urls(yaml.safe_load(path.read_text()))
        target = directory / f"test_{path.name}"
        target.write_text(yaml.safe_dump(doc, sort_keys=False, width=200))
        tests.append(target)
    return rules, tests


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def check_rules(directory: Path, rules: list[Path]) -> subprocess.CompletedProcess[str]:
    return run([tool("promtool"), "check", "rules", *[p.name for p in rules]], directory)


def test_rules(directory: Path, tests: list[Path]) -> subprocess.CompletedProcess[str]:
    return run([tool("promtool"), "test", "rules", *[p.name for p in tests]], directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="render into this folder and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        rules, tests = prepare(directory)
        status = 0
        for result in (check_rules(directory, rules), test_rules(directory, tests)):
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            status = status or result.returncode
        return status


if __name__ == "__main__":
    sys.exit(main())
