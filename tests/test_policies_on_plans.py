"""The policies bite on the committed stacks' real resources: each mutation of the
prod plan below (a property of a resource the components create, changed the way a
careless edit would) must produce the policy's violation. Together with the
committed stacks passing, this shows the policies read the real types and inputs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies.config import load
from policies.engine import evaluate
from tools.preview.recorder import Plan

Mutation = Callable[[list[dict[str, Any]]], None]


def first(resources: list[dict[str, Any]], rtype: str) -> dict[str, Any]:
    return next(r for r in resources if r["type"] == rtype)


def _no_limits(rs: list[dict[str, Any]]) -> None:
    pools = [r for r in rs if r["type"] == "kubernetes:karpenter.sh/v1:NodePool"]
    gpu = next(p for p in pools if "nvidia.com/gpu" in p["inputs"]["spec"].get("limits", {}))
    del gpu["inputs"]["spec"]["limits"]


def _imdsv1(rs: list[dict[str, Any]]) -> None:
    nc = first(rs, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    nc["inputs"]["spec"]["metadataOptions"]["httpTokens"] = "optional"


def _public_api(rs: list[dict[str, Any]]) -> None:
    first(rs, "aws:eks/cluster:Cluster")["inputs"]["vpcConfig"]["endpointPublicAccess"] = True


def _no_secure_boot(rs: list[dict[str, Any]]) -> None:
    pool = next(
        r for r in rs if r["type"] == "gcp:container/nodePool:NodePool" and "gpu" in r["name"]
    )
    pool["inputs"]["nodeConfig"]["shieldedInstanceConfig"] = {"enableSecureBoot": False}


def _untainted(rs: list[dict[str, Any]]) -> None:
    pools = [r for r in rs if r["type"] == "kubernetes:karpenter.sh/v1:NodePool"]
    gpu = next(p for p in pools if "nvidia.com/gpu" in p["inputs"]["spec"].get("limits", {}))
    gpu["inputs"]["spec"]["template"]["spec"]["taints"] = []


def _no_oidc(rs: list[dict[str, Any]]) -> None:
    """Neither workload identity: no IRSA provider, no Pod Identity agent add-on."""
    rs.remove(first(rs, "aws:iam/openIdConnectProvider:OpenIdConnectProvider"))
    for r in [r for r in rs if r["type"] == "aws:eks/addon:Addon"]:
        if r["inputs"]["addonName"] == "eks-pod-identity-agent":
            rs.remove(r)


def _forever_logs(rs: list[dict[str, Any]]) -> None:
    first(rs, "aws:cloudwatch/logGroup:LogGroup")["inputs"].pop("retentionInDays", None)


def _no_budget(rs: list[dict[str, Any]]) -> None:
    rs.remove(first(rs, "aws:budgets/budget:Budget"))


def _huge_pool(rs: list[dict[str, Any]]) -> None:
    pools = [r for r in rs if r["type"] == "kubernetes:karpenter.sh/v1:NodePool"]
    gpu = next(p for p in pools if "nvidia.com/gpu" in p["inputs"]["spec"].get("limits", {}))
    gpu["inputs"]["spec"]["limits"]["nvidia.com/gpu"] = "4000"


MUTATIONS: dict[str, tuple[Mutation, str, str]] = {
    "karpenter-without-limits": (_no_limits, "gpu-pool-ceiling", "spec.limits"),
    "imdsv1-on-nodeclass": (_imdsv1, "imdsv2-required", 'httpTokens = "optional"'),
    "public-eks-endpoint": (_public_api, "private-cluster-endpoint", "endpointPublicAccess"),
    "gke-without-secure-boot": (_no_secure_boot, "shielded-nodes", "enableSecureBoot"),
    "untainted-gpu-nodepool": (_untainted, "gpu-pool-taints", "taints"),
    "eks-without-oidc": (_no_oidc, "workload-identity", "eks-pod-identity-agent"),
    "logs-kept-forever": (_forever_logs, "log-retention", "retentionInDays"),
    "no-aws-budget": (_no_budget, "budget-per-stack", "aws:budgets/budget:Budget is not set"),
    "gpu-limit-4000": (_huge_pool, "budget-covers-ceiling", "at its ceiling"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_mutated_prod_plan_is_refused(plans: dict[str, Plan], name: str) -> None:
    mutate, policy, fragment = MUTATIONS[name]
    doc = copy.deepcopy(plans["prod"].to_json())
    mutate(doc["resources"])
    report = evaluate(doc, load()["prod"], "prod")
    hits = [v.message for v in report.mandatory if v.policy == policy]
    assert hits, f"{policy} did not fire: {[v.policy for v in report.verdicts]}"
    assert any(fragment in m for m in hits), hits
