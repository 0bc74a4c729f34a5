"""Serving wired onto the clusters by the composition: every deployment of the stack
gets Triton (Triton models) or vLLM's OpenAI server (an LLM, llm.yaml) on its cluster,
reading its cloud's model store through IRSA or Workload Identity, every manifest
passes the official schemas, and the policy pack has no mandatory verdict on it."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from blueprint import outputs as out
from blueprint.modelrepo.llm import load_llm, server_args
from components.k8s.llm import MODEL_DIR
from composition.serving import SERVING_NAMESPACE
from policies.config import for_environment
from policies.engine import evaluate
from tools.preview.recorder import Plan


@pytest.fixture(scope="module")
def prod(plans: dict[str, Plan]) -> Plan:
    return plans["prod"]


def _serving_deployments(prod: Plan) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["name"]: r
        for r in prod.by_type("kubernetes:apps/v1:Deployment")
        if r["inputs"]["metadata"].get("namespace") == SERVING_NAMESPACE
    }


def test_every_model_deployment_is_served_on_its_cluster(prod: Plan) -> None:
    tritons = {r["name"] for r in prod.by_type("llm-inference:k8s:TritonServing")}
    llms = {r["name"] for r in prod.by_type("llm-inference:k8s:LlmServing")}
    assert tritons == {"prod-embed-guard"}
    assert llms == {"prod-chat-llm", "prod-chat-llm-long", "prod-chat-llm-gcp"}
    deployments = _serving_deployments(prod)
    script = deployments["embed-guard"]["inputs"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ][-1]
    assert "--model-config-name=gpu" in script
    assert "--model-repository=s3://" in script
    assert "chat_llm" not in script  # the LLM is not a Triton model any more


@pytest.mark.parametrize(
    ("deployment", "variant"),
    [
        ("chat-llm", "h100-mig-3g.40gb"),
        ("chat-llm-long", "h200"),
        ("chat-llm-gcp", "a100-mig-3g.20gb"),
    ],
)
def test_llm_pods_run_the_variants_engine_arguments_on_weights_from_the_bucket(
    prod: Plan, deployment: str, variant: str
) -> None:
    """The same engine arguments the local launcher reads (llm.yaml), and the weights
    copied from the bucket at the hub revision's content-addressed prefix."""
    manifest = load_llm("chat_llm")
    pod = _serving_deployments(prod)[deployment]["inputs"]["spec"]["template"]["spec"]
    (vllm,) = pod["containers"]
    assert vllm["image"].startswith("docker.io/vllm/vllm-openai:v0.32.")
    assert vllm["args"] == [
        *server_args(manifest, variant, MODEL_DIR),
        "--host",
        "0.0.0.0",  # noqa: S104 (inside the pod; the Service fronts it)
        "--port",
        "8000",
    ]
    env = {e["name"]: e.get("value") for e in vllm["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"  # never a hub download at pod start
    assert vllm["readinessProbe"]["httpGet"]["path"] == "/health"
    (copy,) = pod["initContainers"]
    weights = manifest.weights(variant)
    source = (
        f"gs://prod-model-repo/{weights.bucket_prefix}/*"
        if deployment.endswith("gcp")
        else f"s3://prod-model-repo/{weights.bucket_prefix}/"
    )
    assert copy["command"][-2] == source
    assert copy["command"][-1] == f"{MODEL_DIR}/"
    assert "huggingface.co" not in json.dumps(pod)


def test_llm_deployments_scale_on_the_engines_own_signals(prod: Plan) -> None:
    hpas = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]
        for r in prod.by_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    }
    metrics = [m["pods"]["metric"]["name"] for m in hpas["chat-llm"]["metrics"]]
    assert metrics == ["vllm_requests_waiting", "vllm_kv_cache_usage"]
    # max_num_seqs 64 in the h100-mig variant: a quarter of a batch waiting per pod.
    assert hpas["chat-llm"]["metrics"][0]["pods"]["target"]["averageValue"] == "16"
    assert "chat-llm-long" not in hpas  # parked (replicas.min 0): no autoscaler ...
    assert "chat-llm-long" in prod.outputs[out.PARKED_DEPLOYMENTS]  # ... and it says so


def test_service_accounts_read_the_store_without_keys(prod: Plan) -> None:
    accounts = {
        r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"].get("annotations", {})
        for r in prod.by_type("kubernetes:core/v1:ServiceAccount")
        if r["inputs"]["metadata"].get("namespace") == SERVING_NAMESPACE
    }
    assert "eks.amazonaws.com/role-arn" in accounts["embed-guard"]
    assert "eks.amazonaws.com/role-arn" in accounts["chat-llm"]
    assert "iam.gke.io/gcp-service-account" in accounts["chat-llm-gcp"]
    roles = sorted(r["name"] for r in prod.by_type("aws:iam/role:Role") if "-reader-" in r["name"])
    assert roles == [  # one IRSA role per deployment on EKS: the repository or its weights
        "prod-models-aws-reader-embed-guard",
        "prod-models-aws-weights-reader-chat-llm",
        "prod-models-aws-weights-reader-chat-llm-long",
    ]
    (policy,) = [
        r for r in prod.by_type("aws:iam/rolePolicy:RolePolicy")
        if r["name"] == "prod-models-aws-weights-reader-chat-llm"
    ]  # fmt: skip
    doc = json.loads(policy["inputs"]["policy"])
    (read,) = [s for s in doc["Statement"] if s["Sid"] == "ReadWeights"]
    prefix = load_llm("chat_llm").weights("h100-mig-3g.40gb").bucket_prefix
    assert read["Resource"][0].endswith(f"/{prefix}/*")  # its weights, nothing else


def test_wired_manifests_pass_the_official_schemas(prod: Plan) -> None:
    checked = 0
    for r in prod.custom:
        parent = r["parent"] or ""
        if any(
            f":{kind}::" in parent for kind in ("TritonServing", "LlmServing", "ServingNamespace")
        ):
            kubernetes_validate.validate(r["inputs"], "1.33.0", strict=True)
            checked += 1
    # 4 deployments x 5 kinds (chat-llm-long: no HPA), 2 namespaces and their
    # NetworkPolicies: default deny, DNS, cloud egress and the scrapes on both clusters,
    # the gateway's two flows on the AWS cluster only (the entry cluster).
    assert checked == 4 * 5 - 1 + 2 + 2 * 5 + 2


def test_no_mandatory_policy_verdict(prod: Plan) -> None:
    report = evaluate(prod.to_json(), for_environment("prod"), "prod")
    assert report.mandatory == []


def test_llm_deployments_keep_the_identity_of_their_triton_past(prod: Plan) -> None:
    """The chat deployments were TritonServing components (Triton's vLLM backend): the
    alias lets `pulumi up` update their same-named Kubernetes objects in place."""
    for r in prod.by_type("llm-inference:k8s:LlmServing"):
        assert r["aliases"] == ["alias(type=llm-inference:k8s:TritonServing)"], r["name"]
