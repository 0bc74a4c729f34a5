"""End to end: the offline preview refuses a stack changed to break a policy, with the
policy's fix in its output, and passes the committed stacks.

Each case runs ``python -m tools.preview`` (what ``make preview`` runs) in a
subprocess, on a copy of the stack files or on the real program followed by a few
lines that add an offending resource.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

PROGRAM = REPO / "stacks" / "__main__.py"

BREAKS = {
    "public-bucket": (
        "private-buckets",
        "BucketPublicAccessBlock is not set",
        """
bucket = aws.s3.Bucket("e2e-public", acl="public-read", tags={"Name": "e2e"},
                       opts=pulumi.ResourceOptions(provider=aws_provider))
""",
    ),
    "gpu-pool-without-ceiling": (
        "gpu-pool-ceiling",
        "Fix: set nodes.max of the pool",
        """
k8s.apiextensions.CustomResource(
    "e2e-gpu", api_version="karpenter.sh/v1", kind="NodePool",
    metadata={"name": "e2e-gpu"},
    spec={"template": {"spec": {
        "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                          "values": ["g6.xlarge", "g6.2xlarge"]}],
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]}}})
""",
    ),
    "untagged-resource": (
        "cost-allocation-tags",
        "missing cost-allocation tags environment, cost-center, team",
        """
bare = aws.Provider("e2e-bare", region="us-east-1")
aws.sns.Topic("e2e-untagged", opts=pulumi.ResourceOptions(provider=bare))
""",
    ),
    "latest-image": (
        "pinned-images",
        "uses the moving tag :latest",
        """
k8s.apps.v1.Deployment(
    "e2e-latest",
    metadata={"name": "e2e-latest", "namespace": "serving"},
    spec={"selector": {"matchLabels": {"app": "e2e"}},
          "template": {"metadata": {"labels": {"app": "e2e"}},
                       "spec": {"containers": [{"name": "x", "image": "nginx:latest"}]}}})
""",
    ),
}

PREAMBLE = """
import runpy
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

runpy.run_path({program!r}, run_name="__main__")
aws_provider = aws.Provider("e2e", region="us-east-1", default_tags={{"tags": {{
    "environment": "dev", "cost-center": "ml-platform-dev", "team": "ml-platform"}}}})
"""


def preview(tmp: Path, stack: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            stack,
            "--quiet",
            "--out",
            str(tmp / "plan"),
            *extra,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def broken_preview(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """dev with every breakage at once: one preview run (they are slow on a busy machine)."""
    tmp = tmp_path_factory.mktemp("broken")
    program = tmp / "program.py"
    program.write_text(
        PREAMBLE.format(program=str(PROGRAM)) + "".join(s for _p, _f, s in BREAKS.values())
    )
    return preview(tmp, "dev", "--program", str(program))


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_a_program_change_that_breaks_a_policy_is_refused(
    broken_preview: subprocess.CompletedProcess[str], case: str
) -> None:
    policy, fix, _snippet = BREAKS[case]
    result = broken_preview
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if f"[mandatory] {policy}:" in line]
    assert lines, result.stdout[-3000:]
    assert any(fix in line and "Fix:" in line for line in lines), lines


def test_a_stack_without_a_budget_is_refused(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO / "stacks", stacks)
    doc = yaml.safe_load((stacks / "Pulumi.dev.yaml").read_text())
    del doc["config"]["llm-inference:budget"]
    (stacks / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    result = preview(tmp_path, "dev", "--stack-dir", str(stacks))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[mandatory] budget-per-stack: stack (aws): aws:budgets/budget:Budget is not set" in (
        result.stdout
    )
    assert "Fix: set the stack's budget section" in result.stdout


def test_a_bad_policy_configuration_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "environments.yaml"
    bad.write_text("environments:\n  prod:\n    no-such-policy: mandatory\n")
    result = preview(tmp_path, "dev", "--policy-config", str(bad))
    assert result.returncode == 2
    assert "environments.prod.no-such-policy: is not a policy of the pack" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_preview_passes_a_committed_stack_and_prints_cost_and_verdicts(tmp_path: Path) -> None:
    result = subprocess.run(
        # --no-print-directory: under `make test` MAKELEVEL is set, and a nested make
        # would end its output with "Leaving directory".
        ["make", "--no-print-directory", "preview", "STACK=dev", f"BUILD={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "monthly cost: floor $" in result.stdout
    assert "policies (dev): " in result.stdout
    assert "0 mandatory violations" in result.stdout
    final = result.stdout.splitlines()[-1]
    assert final.startswith("1 stack: "), final
    assert ", 0 mandatory violations, " in final
