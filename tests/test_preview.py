"""The offline preview: the plan format, golden snapshots, determinism, and timings kept out."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from blueprint import outputs as out
from tests.conftest import REPO, STACKS
from tools.preview.recorder import Plan

GOLDEN = Path(__file__).parent / "golden"


def test_every_stack_has_a_golden_snapshot() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_plan_matches_golden_snapshot(plans: dict[str, Plan], stack: str) -> None:
    """Every infrastructure change shows up as a reviewable diff of these files.

    After a deliberate change, ``make golden`` rewrites them; review the diff.
    """
    want = (GOLDEN / f"{stack}.json").read_text()
    got = plans[stack].dumps()
    if got != want:
        diff = "".join(
            list(
                difflib.unified_diff(
                    want.splitlines(keepends=True),
                    got.splitlines(keepends=True),
                    f"tests/golden/{stack}.json",
                    "this run",
                    n=2,
                )
            )[:80]
        )
        pytest.fail(f"plan of {stack} differs from its golden snapshot (make golden):\n{diff}")


@pytest.mark.parametrize("stack", STACKS)
def test_plan_has_the_documented_format(plans: dict[str, Plan], stack: str) -> None:
    doc = json.loads(plans[stack].dumps())
    assert doc["stack"] == stack
    assert doc["resources"], "a stack with no resources"
    urns = {r["urn"] for r in doc["resources"]}
    assert len(urns) == len(doc["resources"]), "duplicate URNs"
    for res in doc["resources"]:
        assert {"urn", "type", "name", "parent", "custom", "inputs"} <= set(res)
        assert isinstance(res["custom"], bool)
        assert isinstance(res["inputs"], dict)
        assert res["urn"].endswith(f"::{res['name']}")
        assert res["parent"] is None or res["parent"].startswith(f"urn:pulumi:{stack}::")


def test_components_parent_their_children(plans: dict[str, Plan]) -> None:
    """Every cloud resource sits under a component or is a provider (parent=self)."""
    for plan in plans.values():
        components = {r["urn"] for r in plan.resources if not r["custom"]}
        for res in plan.custom:
            if (
                res["type"].startswith("pulumi:providers:")
                or res["type"] == "pulumi:pulumi:StackReference"
            ):
                continue
            assert res["parent"] in components, (
                f"{plan.stack}: {res['urn']} has no component parent"
            )


def test_edge_reads_the_core_through_a_stack_reference(plans: dict[str, Plan]) -> None:
    edge = plans["edge"]
    (ref,) = edge.by_type("pulumi:pulumi:StackReference")
    assert ref["inputs"]["name"] == "example-org/llm-inference/prod"
    assert edge.outputs[out.CORE_STACK] == "example-org/llm-inference/prod"


def test_stack_outputs_use_the_named_constants(plans: dict[str, Plan]) -> None:
    names = {v for k, v in vars(out).items() if k.isupper()}
    for plan in plans.values():
        assert set(plan.outputs) <= names, set(plan.outputs) - names
        assert plan.outputs[out.ENVIRONMENT] in {"dev", "staging", "prod", "edge"}


def test_two_runs_give_identical_plans(tmp_path: Path) -> None:
    """A deterministic program: two fresh processes write byte-identical plans."""
    runs = []
    for i in range(2):
        target = tmp_path / f"run{i}"
        env = {**os.environ, "PYTHONHASHSEED": str(i + 1)}
        subprocess.run(
            [sys.executable, "-m", "tools.preview", "--quiet", "--out", str(target)],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        runs.append({p.name: p.read_bytes() for p in sorted(target.glob("*.json"))})
    assert sorted(runs[0]) == [f"{s}.json" for s in STACKS]
    assert runs[0] == runs[1]


def test_preview_cli_writes_one_stack(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.preview", "dev", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "== stack dev:" in proc.stdout
    assert "resource type" in proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["dev.json"]


def test_unknown_stack_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tools.preview", "qa", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "no stack file for qa" in proc.stderr
    assert "known stacks: dev, edge, prod, staging" in proc.stderr
