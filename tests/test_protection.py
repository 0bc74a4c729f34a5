"""Prod's stateful resources are protected from deletion, from one switch, and the policy
pack refuses a prod plan where one is not."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from blueprint.config import StackConfig
from blueprint.schema import Environment
from policies.config import for_environment
from policies.engine import evaluate
from policies.protection import PROD_STATEFUL_PROTECTED, STATEFUL
from tests.conftest import REPO
from tests.policy_cases import providers
from tests.policy_cases_hardening import stateful

GOLDEN = REPO / "tests" / "golden"
POLICY = PROD_STATEFUL_PROTECTED.name


def golden(stack: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{stack}.json").read_text())


def stateful_records(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] in STATEFUL and not r.get("read")]


def test_prod_protects_every_cluster_bucket_and_key() -> None:
    records = stateful_records(golden("prod"))
    types = {r["type"] for r in records}
    assert {"aws:eks/cluster:Cluster", "aws:s3/bucket:Bucket", "aws:kms/key:Key"} <= types
    assert {"gcp:container/cluster:Cluster", "gcp:storage/bucket:Bucket"} <= types
    assert [r["name"] for r in records if not r.get("protect")] == []
    (gke,) = [r for r in records if r["type"] == "gcp:container/cluster:Cluster"]
    assert gke["inputs"]["deletionProtection"] is True


def test_dev_is_not_protected_by_default() -> None:
    records = stateful_records(golden("dev"))
    assert records
    assert [r["name"] for r in records if r.get("protect")] == []


@pytest.mark.parametrize(
    ("environment", "switch", "protected"),
    [
        (Environment.PROD, None, True),
        (Environment.PROD, False, False),
        (Environment.DEV, None, False),
        (Environment.DEV, True, True),
    ],
)
def test_one_switch_defaults_to_prod(
    configs: dict[str, StackConfig], environment: Environment, switch: bool | None, protected: bool
) -> None:
    cfg = configs["prod"].model_copy(
        update={"environment": environment, "deletion_protection": switch}
    )
    assert cfg.protects_stateful is protected


def test_prod_plan_passes_and_an_unprotected_key_is_a_mandatory_violation() -> None:
    settings = for_environment("prod")
    plan = golden("prod")
    report = evaluate(plan, settings, "prod", policies=[PROD_STATEFUL_PROTECTED])
    assert report.verdicts == []
    broken = copy.deepcopy(plan)
    (key,) = [r for r in broken["resources"] if r["name"] == "prod-models-aws-key"]
    del key["protect"]
    report = evaluate(broken, settings, "prod", policies=[PROD_STATEFUL_PROTECTED])
    assert [(v.level, v.resource) for v in report.verdicts] == [
        ("mandatory", "prod-models-aws-key")
    ]


def test_the_policy_is_off_outside_prod() -> None:
    for env in ("dev", "staging", "edge"):
        report = evaluate(
            golden(env), for_environment(env), env, policies=[PROD_STATEFUL_PROTECTED]
        )
        assert report.disabled == [POLICY], env
        assert report.verdicts == [], env


def test_gke_deletion_protection_left_to_the_provider_default_is_not_reported() -> None:
    plan = {
        "stack": "test",
        "resources": [*providers(), *stateful(True, gke_deletion_protection=None)],
    }
    report = evaluate(plan, for_environment("prod"), "prod", policies=[PROD_STATEFUL_PROTECTED])
    assert report.verdicts == []
