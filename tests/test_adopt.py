"""`python -m tools.adopt`: a `pulumi import --file` document from a recorded plan.

The document is only useful if `pulumi import` computes, for each entry, the very URN
the program registers; otherwise the next `pulumi up` replaces what was adopted. The
tests rebuild each URN the way the Pulumi CLI does (pkg/cmd/pulumi/operations/import.go:
parent's qualified type, then type and logical name) and compare it with the plan's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tools.adopt import ROOT_TYPE, AdoptError, import_document, read_plan, real_urn

GOLDEN = REPO / "tests" / "golden"
IDS = {
    "prod-aws-vpc": "vpc-0a1b2c3d4e5f67890",
    "aws:eks/cluster:Cluster::prod-core-aws-cluster": "prod-core-aws-cluster",
    "prod-models-aws-bucket": "acme-prod-models",
    "gcp:container/cluster:Cluster::prod-core-gcp-cluster": (
        "projects/acme-ml/locations/us-central1/clusters/prod-core-gcp-cluster"
    ),
}


def _urns_as_the_cli_computes(document: dict[str, Any], stack: str, project: str) -> list[str]:
    by_name = {r["name"]: r for r in document["resources"]}

    def qualified(spec: dict[str, Any]) -> str:
        if "parent" in spec:
            return f"{qualified(by_name[spec['parent']])}${spec['type']}"
        return str(spec["type"])

    return [
        f"urn:pulumi:{stack}::{project}::{qualified(r)}::{r['logicalName']}"
        for r in document["resources"]
    ]


def test_each_import_entry_gets_the_urn_the_program_registers() -> None:
    entries = read_plan(GOLDEN / "prod.json")
    document, providers = import_document(entries, IDS, "ids.yaml")
    urns = _urns_as_the_cli_computes(document, "prod", "llm-inference")
    plan_urns = {real_urn(e.urn): e for e in entries}
    for urn, spec in zip(urns, document["resources"], strict=True):
        assert urn in plan_urns, urn
        assert plan_urns[urn].type == spec["type"]
    imported = {r["id"] for r in document["resources"] if not r.get("component")}
    assert imported == set(IDS.values())
    # The components on each parent chain come along, without IDs.
    components = [r for r in document["resources"] if r.get("component")]
    assert components
    assert all("id" not in r for r in components)
    assert {r["type"] for r in components} >= {"llm-inference:aws:Network"}
    # Providers: named in the table by their engine URN, and listed to create first.
    assert providers
    assert all(f"{ROOT_TYPE}$" not in urn for urn in document["nameTable"].values())
    assert set(document["nameTable"].values()) == set(providers)
    for spec in document["resources"]:
        if not spec.get("component"):
            assert spec["provider"] in document["nameTable"]


def test_the_command_writes_the_document_and_the_next_steps(tmp_path: Path) -> None:
    ids = tmp_path / "ids.yaml"
    ids.write_text("prod-aws-vpc: vpc-0a1b2c3d4e5f67890\n")
    out = tmp_path / "import.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.adopt",
            "prod",
            "--ids",
            str(ids),
            "--plan",
            str(GOLDEN / "prod.json"),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(out.read_text())
    assert [r["id"] for r in document["resources"] if "id" in r] == ["vpc-0a1b2c3d4e5f67890"]
    assert "pulumi import --file" in proc.stdout
    assert "pulumi up --target 'urn:pulumi:prod::llm-inference::pulumi:providers:aws" in (
        proc.stdout
    )


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ({"prod-aws-vpc": "vpc-xyz"}, "is not an import ID of aws:ec2/vpc:Vpc; it is vpc-"),
        ({"prod-aws-vpcc": "vpc-0a1b2c3d"}, "is no resource of the plan; similar: prod-aws-vpc"),
        ({"prod-aws": "vpc-0a1b2c3d"}, "is a component (llm-inference:aws:Network)"),
        ({"prod-aws-budget-alerts": "arn:aws:sns:x"}, "names 2 resources; write one of"),
        (
            {"gcp:container/cluster:Cluster::prod-core-gcp-cluster": "prod-core-gcp-cluster"},
            "projects/{project}/locations/{location}/clusters/{name}",
        ),
    ],
)
def test_a_wrong_ids_file_is_refused_with_what_is_accepted(
    ids: dict[str, str], expected: str
) -> None:
    with pytest.raises(AdoptError) as caught:
        import_document(read_plan(GOLDEN / "prod.json"), ids, "ids.yaml")
    assert expected in str(caught.value)
    assert "ids.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("ids_text", "plan", "expected"),
    [
        ("prod-aws-vpc: vpc-0a1b2c3d\n", "missing.json", "no recorded plan; run `make preview"),
        ("just text\n", None, "must map plan resource names"),
        ("prod-aws-vpc: 12\n", None, "must be the cloud ID, as text"),
        ("a: &x [*x]\n", None, "ids.yaml"),
    ],
)
def test_user_mistakes_exit_2_without_a_traceback(
    tmp_path: Path, ids_text: str, plan: str | None, expected: str
) -> None:
    ids = tmp_path / "ids.yaml"
    ids.write_text(ids_text)
    plan_path = tmp_path / plan if plan else GOLDEN / "prod.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.adopt",
            "prod",
            "--ids",
            str(ids),
            "--plan",
            str(plan_path),
            "--out",
            str(tmp_path / "out.json"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr
    assert not (tmp_path / "out.json").exists()
