"""Managed endpoints in the previewed plans: SageMaker Serverless and Vertex AI, under mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blueprint.config import StackConfig
from blueprint.config.rules.serverless import repo_model_gpu_reason
from components.aws.sagemaker import SCALABLE_DIMENSION, ecr_repository_arn, execution_policy
from tools.preview.recorder import Plan


def one(plan: Plan, type_: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in plan.by_type(type_) if name is None or r["name"] == name]
    assert len(found) == 1, (type_, name, [r["name"] for r in found])
    return found[0]


def test_prod_guardrail_is_serverless_with_a_warm_floor(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    sm = configs["prod"].serverless["guardrail"].sagemaker
    assert sm is not None
    config = one(plans["prod"], "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    (variant,) = config["inputs"]["productionVariants"]
    assert variant["serverlessConfig"] == {
        "memorySizeInMb": sm.memory_mb,
        "maxConcurrency": sm.max_concurrency,
        "provisionedConcurrency": sm.provisioned_concurrency,
    }
    assert "instanceType" not in variant, "serverless variants have no instance type"
    endpoint = one(plans["prod"], "aws:sagemaker/endpoint:Endpoint")
    assert endpoint["inputs"]["name"] == "prod-guardrail"


def test_the_endpoint_config_and_its_artifact_share_the_model_stores_key(
    plans: dict[str, Plan],
) -> None:
    """SageMaker's copy of the endpoint (KmsKeyId) and the artifact it loads (SSE-KMS) are
    under one customer-managed key, the one the execution role may decrypt."""
    plan = plans["prod"]
    config = one(plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    (key,) = [
        k
        for k in plan.by_type("aws:kms/key:Key")
        if k["urn"].split("::")[-1] == "prod-models-aws-key"
    ]
    key_arn = config["inputs"]["kmsKeyArn"]
    assert key_arn.startswith("arn:aws:kms:us-east-1:123456789012:key/")
    artifact_objects = [
        o
        for o in plan.by_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if str(o["inputs"].get("key", "")).startswith("sagemaker/")
    ]
    assert artifact_objects
    assert {o["inputs"]["kmsKeyId"] for o in artifact_objects} == {key_arn}
    role_policy = one(plan, "aws:iam/rolePolicy:RolePolicy", "prod-guardrail-execution")
    assert key_arn in role_policy["inputs"]["policy"]
    assert key["inputs"]["enableKeyRotation"] is True


def test_known_peaks_raise_provisioned_concurrency_on_schedule(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    target = one(plan, "aws:appautoscaling/target:Target")
    assert target["inputs"]["scalableDimension"] == SCALABLE_DIMENSION
    assert target["inputs"]["resourceId"] == "endpoint/prod-guardrail/variant/AllTraffic"
    assert target["inputs"]["minCapacity"] == 4
    actions = {
        a["inputs"]["name"]: a["inputs"]
        for a in plan.by_type("aws:appautoscaling/scheduledAction:ScheduledAction")
    }
    start = actions["prod-guardrail-business-hours-start"]
    end = actions["prod-guardrail-business-hours-end"]
    assert start["schedule"] == "cron(0 8 ? * MON-FRI *)"
    assert start["timezone"] == "America/New_York"
    assert start["scalableTargetAction"] == {"minCapacity": 20, "maxCapacity": 20}
    assert end["scalableTargetAction"] == {"minCapacity": 4, "maxCapacity": 4}
    assert start["scalableDimension"] == SCALABLE_DIMENSION


def test_alarms_cover_cold_starts_errors_and_saturation_with_runbooks(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    monitoring = configs["prod"].monitoring
    assert monitoring is not None
    alarms = {
        a["inputs"]["name"]: a["inputs"]
        for a in plans["prod"].by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a["name"].startswith("prod-guardrail")
    }
    cold = alarms["prod-guardrail-ServerlessColdStartsHigh"]
    assert cold["metricName"] == "ModelSetupTime"
    assert cold["threshold"] == 10_000_000  # 10 s in microseconds
    saturated = alarms["prod-guardrail-ServerlessEndpointThrottling"]
    assert saturated["metricName"] == "ServerlessConcurrentExecutionsUtilization"
    assert 0 < saturated["threshold"] <= 1
    errors = alarms["prod-guardrail-ServerlessEndpointErrors"]
    assert {q["id"] for q in errors["metricQueries"]} == {"errors", "invocations", "rate"}
    for name, alarm in alarms.items():
        kind = name.removeprefix("prod-guardrail-")
        assert f"{monitoring.runbook_base_url}/{kind}.md" in alarm["alarmDescription"]
        assert alarm["alarmActions"], f"{name} notifies no one"
    topic_subs = [
        s
        for s in plans["prod"].by_type("aws:sns/topicSubscription:TopicSubscription")
        if s["name"].startswith("prod-guardrail-alarms")
    ]
    assert {s["inputs"]["endpoint"] for s in topic_subs} == set(monitoring.alert_emails)


def test_endpoint_logs_have_a_retention(plans: dict[str, Plan]) -> None:
    group = one(plans["prod"], "aws:cloudwatch/logGroup:LogGroup", "prod-guardrail-logs")
    assert group["inputs"]["name"] == "/aws/sagemaker/Endpoints/prod-guardrail"
    assert group["inputs"]["retentionInDays"] == 30


def test_execution_role_is_least_privilege(plans: dict[str, Plan]) -> None:
    policies = {
        p["name"]: json.loads(p["inputs"]["policy"])
        for p in plans["prod"].by_type("aws:iam/rolePolicy:RolePolicy")
        if p["name"].startswith("prod-guardrail")
    }
    execution = policies["prod-guardrail-execution"]["Statement"]
    by_sid = {s["Sid"]: s for s in execution}
    assert by_sid["ReadModelArtifact"]["Action"] == ["s3:GetObject"]
    (artifact,) = by_sid["ReadModelArtifact"]["Resource"]
    assert artifact.startswith("arn:aws:s3:::prod-model-repo/sagemaker/prompt_guard/")
    assert artifact.endswith("/model.tar.gz")
    for statement in execution:
        assert all("*" not in action for action in statement["Action"]), statement
        if statement["Resource"] == ["*"]:
            # Only the two actions IAM cannot scope to a resource.
            assert statement["Action"] in (
                ["ecr:GetAuthorizationToken"],
                ["cloudwatch:PutMetricData"],
            )


def test_gateway_invokes_sagemaker_with_a_role_for_its_proxy_only(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    (role,) = [
        r for r in plan.by_type("aws:iam/role:Role") if r["name"] == "prod-gateway-invoker-role"
    ]
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = trust["Condition"]["StringEquals"]
    assert "system:serviceaccount:llm-gateway:sagemaker-sigv4" in conditions.values()
    (policy,) = [
        json.loads(p["inputs"]["policy"])
        for p in plan.by_type("aws:iam/rolePolicy:RolePolicy")
        if p["name"] == "prod-gateway-invoker-invoke"
    ]
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["sagemaker:InvokeEndpoint"]
    (arn,) = statement["Resource"]
    assert arn.startswith("arn:aws:sagemaker:")
    assert "guardrail" in arn
    (account,) = [
        r
        for r in plan.by_type("kubernetes:core/v1:ServiceAccount")
        if r["name"] == "prod-routing-sigv4"
    ]
    assert "eks.amazonaws.com/role-arn" in account["inputs"]["metadata"]["annotations"]


def test_execution_policy_scopes_image_and_key() -> None:
    repo = ecr_repository_arn(
        "785573368785.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.10-py3"
    )
    assert repo == "arn:aws:ecr:us-east-1:785573368785:repository/sagemaker-tritonserver"
    assert ecr_repository_arn("nvcr.io/nvidia/tritonserver:24.10-py3") is None
    doc = execution_policy(
        artifact_arn="arn:aws:s3:::b/k",
        log_group_arn="arn:logs",
        repository_arn=repo,
        kms_key_arn="arn:aws:kms:us-east-1:1:key/x",
    )
    sids = {s["Sid"]: s for s in doc["Statement"]}  # type: ignore[attr-defined]
    assert sids["PullImage"]["Resource"] == [repo]
    # The regional S3 endpoint: a bare "s3.amazonaws.com" is never a kms:ViaService value.
    assert sids["DecryptModelArtifact"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }
    china = execution_policy(
        artifact_arn="arn:aws-cn:s3:::b/k",
        log_group_arn="arn:logs",
        repository_arn=None,
        kms_key_arn="arn:aws-cn:kms:cn-north-1:1:key/x",
    )
    assert china["Statement"][-1]["Condition"] == {  # type: ignore[index]
        "StringEquals": {"kms:ViaService": "s3.cn-north-1.amazonaws.com.cn"}
    }


def test_vertex_endpoint_is_private_and_customer_encrypted(plans: dict[str, Plan]) -> None:
    plan = plans["prod"]
    endpoint = one(plan, "gcp:vertex/aiEndpoint:AiEndpoint")
    key = one(plan, "gcp:kms/cryptoKey:CryptoKey", "prod-embeddings-vertex-key")
    assert key["protect"] is True
    assert key["inputs"]["rotationPeriod"] == "7776000s"
    psc = endpoint["inputs"]["privateServiceConnectConfig"]
    assert psc["enablePrivateServiceConnect"] is True
    assert psc["projectAllowlists"] == ["acme-llm-prod"]
    assert (
        endpoint["inputs"]["encryptionSpec"]["kmsKeyName"] == key["urn"].rsplit("::", 1)[1] + "-id"
    )
    policy = one(plan, "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy")
    assert policy["inputs"]["serviceClass"] == "gcp-vertexai"
    grant = one(
        plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "prod-embeddings-vertex-key-vertex"
    )
    assert grant["inputs"]["member"].endswith("@gcp-sa-aiplatform.iam.gserviceaccount.com")


def test_vertex_deploy_step_records_bounds_model_and_provider(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    vx = configs["prod"].serverless["embeddings-vertex"].vertex
    assert vx is not None
    plan = plans["prod"]
    deployed = one(plan, "pulumi-python:dynamic/vertex:DeployedModel")
    model = one(plan, "pulumi-python:dynamic/vertex:Model")
    inputs = deployed["inputs"]
    assert inputs["minReplicaCount"] == vx.replicas.min
    assert inputs["maxReplicaCount"] == vx.replicas.max
    assert inputs["machineType"] == vx.machine_type
    assert inputs["model"].startswith("projects/acme-llm-prod/locations/us-central1/models/")
    assert inputs["__provider"].startswith(
        "<dynamic provider components.gcp.vertex_deploy.DeployedModelProvider sha256:"
    )
    assert model["inputs"]["artifactUri"].startswith("gs://prod-model-repo/vertex/text_embedding/")
    assert model["inputs"]["kmsKeyName"]
    runner = one(plan, "gcp:serviceaccount/account:Account", "prod-embeddings-vertex-runner")
    assert inputs["serviceAccount"].startswith(runner["inputs"]["accountId"])


def test_drift_alerts_reach_the_on_call(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    monitoring = configs["prod"].monitoring
    assert monitoring is not None
    plan = plans["prod"]
    monitor = one(plan, "pulumi-python:dynamic/vertex:DriftMonitor")
    channels = [
        c
        for c in plan.by_type("gcp:monitoring/notificationChannel:NotificationChannel")
        if c["name"].startswith("prod-embeddings-vertex")
    ]
    assert {c["inputs"]["labels"]["email_address"] for c in channels} == set(
        monitoring.alert_emails
    )
    assert len(monitor["inputs"]["notificationChannels"]) == len(channels)
    assert monitor["inputs"]["driftThresholds"] == {"TEXT": 0.3}
    assert all("VertexInputDrift.md" in c["inputs"]["description"] for c in channels)


def test_dev_has_no_managed_endpoints(plans: dict[str, Plan]) -> None:
    assert not [
        r for r in plans["dev"].resources if "sagemaker" in r["type"] or "vertex" in r["type"]
    ]


def test_gpu_models_are_recognised_from_their_triton_config(tmp_path: Path) -> None:
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "config.pbtxt").write_text('name: "llm"\nbackend: "vllm"\n')
    (tmp_path / "guard").mkdir()
    (tmp_path / "guard" / "config.pbtxt").write_text(
        'name: "guard"\nbackend: "python"\ninstance_group [{kind: KIND_GPU, count: 1}]\n'
    )
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "config.pbtxt").write_text(
        'name: "cpu"\nbackend: "python"\ninstance_group [{kind: KIND_CPU, count: 2}]\n'
    )
    assert repo_model_gpu_reason("llm", tmp_path) == "its backend is vllm"
    assert repo_model_gpu_reason("guard", tmp_path) == "its instance_group asks for KIND_GPU"
    assert repo_model_gpu_reason("cpu", tmp_path) is None
    assert repo_model_gpu_reason("absent", tmp_path) is None


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_serverless_endpoints_are_exported(plans: dict[str, Plan], stack: str) -> None:
    exported = plans[stack].outputs["serverlessEndpoints"]
    assert exported["guardrail"] == {"cloud": "aws", "name": f"{stack}-guardrail"}


def test_model_waits_for_its_role_policy(plans: dict[str, Plan]) -> None:
    """SageMaker checks the artifact with the role when the model is created."""
    plan = plans["prod"]
    model = one(plan, "aws:sagemaker/model:Model", "prod-guardrail-model")
    policy = one(plan, "aws:iam/rolePolicy:RolePolicy", "prod-guardrail-execution")
    assert policy["urn"] in model["dependencies"]
