"""Triton serving wired onto the clusters by the composition root.

``stacks/__main__.py`` keeps ``SERVE_ON_CLUSTERS`` off until the monitoring section
(ServiceMonitor + PrometheusRule per cluster) lands, because the triton-monitored
policy refuses Triton on an unmonitored cluster. This test runs the program with it
on: every deployment of the stack gets its TritonServing on its cluster, reading its
cloud's model store through IRSA or Workload Identity, every manifest passes the
official schemas, and the only mandatory policy verdicts left are triton-monitored.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from blueprint.preview.recorder import PROGRAM, Plan
from blueprint.preview.run import preview_stacks
from policies.config import for_environment
from policies.engine import evaluate


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    source = PROGRAM.read_text()
    assert "SERVE_ON_CLUSTERS = False" in source
    program = tmp_path_factory.mktemp("wired") / "__main__.py"
    program.write_text(source.replace("SERVE_ON_CLUSTERS = False", "SERVE_ON_CLUSTERS = True"))
    (result,) = preview_stacks(["prod"], program=program)
    assert result.plan is not None, result.error
    return result.plan


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
        if r["inputs"]["metadata"].get("namespace") == "inference"
    }
    script = deployments["prod-chat-llm"]["inputs"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ][-1]
    assert "--model-config-name=h100-mig-3g.40gb" in script
    assert "--model-repository=s3://" in script
    gcp = deployments["prod-chat-llm-gcp"]["inputs"]["spec"]["template"]["spec"]["containers"][0]
    assert "--model-repository=gs://" in gcp["command"][-1]
    assert gcp["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_service_accounts_read_the_store_without_keys(prod: Plan) -> None:
    accounts = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"].get("annotations", {})
        for r in prod.by_type("kubernetes:core/v1:ServiceAccount")
        if r["inputs"]["metadata"].get("namespace") == "inference"
    }
    assert "eks.amazonaws.com/role-arn" in accounts["embed-guard"]
    assert "iam.gke.io/gcp-service-account" in accounts["chat-llm-gcp"]
    roles = [r["name"] for r in prod.by_type("aws:iam/role:Role") if "-reader-" in r["name"]]
    assert sorted(roles) == [
        "prod-models-aws-reader-chat-llm",
        "prod-models-aws-reader-chat-llm-long",
        "prod-models-aws-reader-embed-guard",
    ]


def test_wired_manifests_pass_the_official_schemas(prod: Plan) -> None:
    checked = 0
    for r in prod.custom:
        inputs = r["inputs"]
        if (
            r["type"].startswith("kubernetes:")
            and "apiVersion" in inputs
            and (
                inputs.get("metadata", {}).get("namespace") == "inference"
                or inputs.get("metadata", {}).get("name") == "inference"
            )
        ):
            kubernetes_validate.validate(inputs, "1.33.0", strict=True)
            checked += 1
    assert checked >= 4 * 4 + 1


def test_only_the_monitoring_policy_is_left(prod: Plan) -> None:
    report = evaluate(prod.to_json(), for_environment("prod"), "prod")
    assert {v.policy for v in report.mandatory} == {"triton-monitored"}


def test_program_keeps_serving_off_until_monitoring_is_wired() -> None:
    assert "SERVE_ON_CLUSTERS = False" in Path(PROGRAM).read_text()
