"""Triton serving wired onto the clusters by the composition root: every deployment
of the stack gets its TritonServing on its cluster, reading its cloud's model store
through IRSA or Workload Identity, every manifest passes the official schemas, and
the policy pack (triton-model-control, triton-monitored, min-replicas, ...) has no
mandatory verdict on it."""

from __future__ import annotations

import kubernetes_validate
import pytest

from composition.serving import SERVING_NAMESPACE
from policies.config import for_environment
from policies.engine import evaluate
from tools.preview.recorder import Plan


@pytest.fixture(scope="module")
def prod(plans: dict[str, Plan]) -> Plan:
    return plans["prod"]


def test_every_model_deployment_is_served_on_its_cluster(prod: Plan) -> None:
    servings = {r["name"] for r in prod.by_type("llm-inference:k8s:TritonServing")}
    assert servings == {
        "prod-chat-llm",
        "prod-chat-llm-long",
        "prod-chat-llm-gcp",
        "prod-embed-guard",
    }
    deployments = {
        r["inputs"]["metadata"]["name"]: r
        for r in prod.by_type("kubernetes:apps/v1:Deployment")
        if r["inputs"]["metadata"].get("namespace") == SERVING_NAMESPACE
    }
    script = deployments["chat-llm"]["inputs"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ][-1]
    assert "--model-config-name=h100-mig-3g.40gb" in script
    assert "--model-repository=s3://" in script
    gcp = deployments["chat-llm-gcp"]["inputs"]["spec"]["template"]["spec"]["containers"][0]
    assert "--model-repository=gs://" in gcp["command"][-1]
    assert gcp["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_service_accounts_read_the_store_without_keys(prod: Plan) -> None:
    accounts = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"].get("annotations", {})
        for r in prod.by_type("kubernetes:core/v1:ServiceAccount")
        if r["inputs"]["metadata"].get("namespace") == SERVING_NAMESPACE
    }
    assert "eks.amazonaws.com/role-arn" in accounts["embed-guard"]
    assert "iam.gke.io/gcp-service-account" in accounts["chat-llm-gcp"]
    roles = [r["name"] for r in prod.by_type("aws:iam/role:Role") if "-reader-" in r["name"]]
    assert sorted(roles) == [  # one IRSA role per deployment on EKS
        "prod-models-aws-reader-chat-llm",
        "prod-models-aws-reader-chat-llm-long",
        "prod-models-aws-reader-embed-guard",
    ]


def test_wired_manifests_pass_the_official_schemas(prod: Plan) -> None:
    checked = 0
    for r in prod.custom:
        parent = r["parent"] or ""
        if ":TritonServing::" in parent or ":ServingNamespace::" in parent:
            kubernetes_validate.validate(r["inputs"], "1.33.0", strict=True)
            checked += 1
    assert checked == 4 * 5 - 1 + 2  # 4 deployments x 5 kinds (chat-llm-long: no HPA), 2 namespaces


def test_no_mandatory_policy_verdict(prod: Plan) -> None:
    report = evaluate(prod.to_json(), for_environment("prod"), "prod")
    assert report.mandatory == []
