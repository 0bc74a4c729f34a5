"""tools/conformance/cloud.py: the plans' cloud API inputs and names against the providers' models.

The plans must be clean; each rule must catch the kind of input it exists for (planted
in a copy of a real plan); the table must point at shapes that constrain; and a stack
whose config names are as long as the schema allows must still produce cloud names the
providers accept.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprint.config import validate_config
from blueprint.config.loader import StackSource
from blueprint.limits import (
    CLOUDWATCH_RETENTION_DAYS,
    autoname_within,
    cloudwatch_retention_days,
    fit_name,
)
from tests.conftest import REPO
from tools.conformance import cloud
from tools.conformance.base import Finding
from tools.preview.recorder import Plan, record_program
from tools.preview.run import secrets_needed

FACTS = Path("/nonexistent")  # these checks read the service models botocore ships


def run(plans: dict[str, Plan]) -> list[Finding]:
    return [f for check in cloud.checks() for f in check.run(plans, FACTS)]


def planted(
    plans: dict[str, Plan], stack: str, name: str, path: str, value: Any
) -> dict[str, Plan]:
    """A copy of one stack's plan with ``value`` at ``path`` of resource ``name``."""
    plan = copy.deepcopy(plans[stack])
    root = path.split(".", maxsplit=1)[0]
    (resource,) = [r for r in plan.resources if r["name"] == name and root in r["inputs"]]
    node = resource["inputs"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return {stack: plan}


MAPPED_IN_PLANS = {
    ("aws:eks/addon:Addon", "clusterName"): 20,
    ("aws:eks/addon:Addon", "resolveConflictsOnCreate"): 20,
    ("aws:eks/addon:Addon", "resolveConflictsOnUpdate"): 20,
    ("aws:appautoscaling/scheduledAction:ScheduledAction", "name"): 2,
    ("aws:appautoscaling/scheduledAction:ScheduledAction", "scalableDimension"): 2,
    ("aws:appautoscaling/scheduledAction:ScheduledAction", "serviceNamespace"): 2,
    ("aws:appautoscaling/target:Target", "scalableDimension"): 1,
    ("aws:appautoscaling/target:Target", "serviceNamespace"): 1,
    ("aws:budgets/budget:Budget", "budgetType"): 4,
    ("aws:budgets/budget:Budget", "name"): 4,
    ("aws:budgets/budget:Budget", "notifications[].comparisonOperator"): 20,
    ("aws:budgets/budget:Budget", "notifications[].notificationType"): 20,
    ("aws:budgets/budget:Budget", "notifications[].threshold"): 20,
    ("aws:budgets/budget:Budget", "notifications[].thresholdType"): 20,
    ("aws:budgets/budget:Budget", "timeUnit"): 4,
    ("aws:cloudwatch/logGroup:LogGroup", "name"): 6,
    ("aws:cloudwatch/logGroup:LogGroup", "retentionInDays"): 10,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "comparisonOperator"): 6,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "datapointsToAlarm"): 6,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "evaluationPeriods"): 6,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "metricQueries[].metric.period"): 4,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): 6,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "period"): 4,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "statistic"): 4,
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "treatMissingData"): 6,
    ("aws:ec2/eip:Eip", "domain"): 6,
    ("aws:ec2/flowLog:FlowLog", "trafficType"): 4,
    ("aws:ec2/launchTemplate:LaunchTemplate", "blockDeviceMappings[].ebs.volumeType"): 9,
    ("aws:ec2/launchTemplate:LaunchTemplate", "metadataOptions.httpEndpoint"): 9,
    ("aws:ec2/launchTemplate:LaunchTemplate", "metadataOptions.httpTokens"): 9,
    ("aws:ec2/launchTemplate:LaunchTemplate", "tagSpecifications[].resourceType"): 18,
    ("aws:eks/cluster:Cluster", "accessConfig.authenticationMode"): 4,
    ("aws:eks/cluster:Cluster", "enabledClusterLogTypes[]"): 20,
    ("aws:eks/cluster:Cluster", "upgradePolicy.supportType"): 4,
    ("aws:eks/nodeGroup:NodeGroup", "amiType"): 9,
    ("aws:eks/nodeGroup:NodeGroup", "capacityType"): 9,
    ("aws:eks/nodeGroup:NodeGroup", "instanceTypes[]"): 15,
    ("aws:eks/nodeGroup:NodeGroup", "scalingConfig.desiredSize"): 9,
    ("aws:eks/nodeGroup:NodeGroup", "scalingConfig.maxSize"): 9,
    ("aws:eks/nodeGroup:NodeGroup", "scalingConfig.minSize"): 9,
    ("aws:eks/nodeGroup:NodeGroup", "taints[].effect"): 4,
    ("aws:eks/nodeGroup:NodeGroup", "updateConfig.maxUnavailable"): 9,
    ("aws:kms/alias:Alias", "name"): 4,
    ("aws:kms/key:Key", "deletionWindowInDays"): 8,
    ("aws:route53/healthCheck:HealthCheck", "failureThreshold"): 2,
    ("aws:route53/healthCheck:HealthCheck", "port"): 2,
    ("aws:route53/healthCheck:HealthCheck", "requestInterval"): 2,
    ("aws:route53/healthCheck:HealthCheck", "resourcePath"): 2,
    ("aws:route53/healthCheck:HealthCheck", "type"): 2,
    ("aws:route53/record:Record", "latencyRoutingPolicies[].region"): 2,
    ("aws:route53/record:Record", "setIdentifier"): 2,
    ("aws:route53/record:Record", "ttl"): 2,
    ("aws:route53/record:Record", "type"): 2,
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "rules[].status"): 4,
    ("aws:s3/bucketObjectv2:BucketObjectv2", "serverSideEncryption"): 62,
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "rule.objectOwnership"): 4,
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
    ): 4,
    ("aws:s3/bucketVersioning:BucketVersioning", "versioningConfiguration.status"): 4,
    ("aws:sagemaker/endpoint:Endpoint", "name"): 2,
    (
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "productionVariants[].serverlessConfig.maxConcurrency",
    ): 2,
    (
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "productionVariants[].serverlessConfig.memorySizeInMb",
    ): 2,
    (
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "productionVariants[].serverlessConfig.provisionedConcurrency",
    ): 2,
    (
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "productionVariants[].variantName",
    ): 2,
    ("aws:sqs/queue:Queue", "messageRetentionSeconds"): 4,
    ("gcp:billing/budget:Budget", "thresholdRules[].spendBasis"): 10,
    ("gcp:compute/network:Network", "routingMode"): 2,
    ("gcp:compute/routerNat:RouterNat", "logConfig.filter"): 2,
    ("gcp:compute/routerNat:RouterNat", "natIpAllocateOption"): 2,
    ("gcp:compute/routerNat:RouterNat", "sourceSubnetworkIpRangesToNat"): 2,
    ("gcp:compute/subnetwork:Subnetwork", "logConfig.aggregationInterval"): 2,
    ("gcp:compute/subnetwork:Subnetwork", "logConfig.metadata"): 2,
    ("gcp:container/cluster:Cluster", "databaseEncryption.state"): 2,
    ("gcp:container/cluster:Cluster", "datapathProvider"): 2,
    ("gcp:container/cluster:Cluster", "binaryAuthorization.evaluationMode"): 2,
    ("gcp:container/cluster:Cluster", "loggingConfig.enableComponents[]"): 4,
    ("gcp:container/cluster:Cluster", "monitoringConfig.enableComponents[]"): 4,
    ("gcp:container/cluster:Cluster", "releaseChannel.channel"): 2,
    ("gcp:container/nodePool:NodePool", "autoscaling.locationPolicy"): 10,
    (
        "gcp:container/nodePool:NodePool",
        "nodeConfig.guestAccelerators[].gpuDriverInstallationConfig.gpuDriverVersion",
    ): 8,
    ("gcp:container/nodePool:NodePool", "nodeConfig.taints[].effect"): 16,
    ("gcp:container/nodePool:NodePool", "nodeConfig.workloadMetadataConfig.mode"): 10,
    ("gcp:kms/cryptoKey:CryptoKey", "purpose"): 5,
    (
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        "spec.blockDeviceMappings[].ebs.volumeType",
    ): 10,
    ("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "spec.metadataOptions.httpEndpoint"): 10,
    ("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "spec.metadataOptions.httpTokens"): 10,
}
"""Every (resource type, input path) the table checks in the committed plans, with the
number of values checked: a new input of these types, or one dropped, shows here."""


def test_the_committed_plans_pass(plans: dict[str, Plan]) -> None:
    assert [f.render() for f in run(plans)] == []


def test_the_table_lists_what_it_checks(plans: dict[str, Plan]) -> None:
    assert cloud.mapped_inputs(plans) == MAPPED_IN_PLANS


@pytest.mark.parametrize("entry", cloud.API_INPUTS, ids=lambda e: f"{e.type}:{e.path}")
def test_every_entry_points_at_a_constraint(entry: cloud.ApiInput) -> None:
    constraint = entry.constraint()
    assert cloud.constrains(constraint), constraint
    if "pattern" in constraint and "enum" not in constraint:
        cloud._compile(constraint["pattern"])


def test_the_documented_limits_are_read_from_the_models() -> None:
    assert cloud.documented("logs-retention-days") == list(CLOUDWATCH_RETENTION_DAYS)
    assert cloud.documented("sqs-message-retention") == (60, 1_209_600)


@pytest.mark.parametrize(
    ("stack", "resource", "path", "value", "message"),
    [
        # The deploy-breaking value the plans held: 15 days is not a CloudWatch retention.
        ("staging", "staging-core-aws-control-plane", "retentionInDays", 15.0, "must be one of"),
        (
            "prod",
            "prod-core-aws-system",
            "blockDeviceMappings.0.ebs.volumeType",
            "gp4",
            "must be one of",
        ),
        ("prod", "prod-core-aws-system", "metadataOptions.httpTokens", "v2", "must be one of"),
        ("prod", "prod-core-aws-system", "amiType", "AL2023_x86_64_GPU", "must be one of"),
        ("prod", "prod-core-aws-system", "scalingConfig.maxSize", 0.0, "at least 1"),
        (
            "prod",
            "prod-guardrail-config",
            "productionVariants.0.serverlessConfig.memorySizeInMb",
            8192.0,
            "at most 6144",
        ),
        (
            "prod",
            "prod-guardrail-config",
            "productionVariants.0.serverlessConfig.maxConcurrency",
            201.0,
            "at most 200",
        ),
        ("prod", "prod-core-aws-gpu-interruptions", "messageRetentionSeconds", 30.0, "from 60"),
        ("prod", "prod-api-us-east-1-health", "requestInterval", 5.0, "at least 10"),
        (
            "prod",
            "prod-api-us-east-1-latency",
            "latencyRoutingPolicies.0.region",
            "us-east",
            "must be",
        ),
        (
            "prod",
            "prod-core-gcp-cluster",
            "loggingConfig.enableComponents.0",
            "SYSTEM",
            "must be one",
        ),
        ("prod", "prod-core-gcp-cluster", "releaseChannel.channel", "FAST", "must be one"),
        ("prod", "prod-gcp-nat", "logConfig.filter", "ERRORS", "must be one of"),
        ("prod", "prod-models-gcp-key", "purpose", "ENCRYPT", "must be one of"),
        ("prod", "prod-aws-budget-monthly", "timeUnit", "WEEKLY", "must be one of"),
    ],
)
def test_a_value_the_api_refuses_is_found(
    plans: dict[str, Plan], *, stack: str, resource: str, path: str, value: Any, message: str
) -> None:
    findings = run(planted(plans, stack, resource, path, value))
    assert len(findings) == 1, [f.render() for f in findings]
    assert findings[0].key.startswith(resource)
    assert message in findings[0].message
    assert not findings[0].not_evaluated


def test_instance_types_are_real_and_in_the_catalog(plans: dict[str, Plan]) -> None:
    wrong = planted(plans, "prod", "prod-core-aws-system", "instanceTypes.0", "m7i.huge")
    (finding,) = run(wrong)
    assert "the API refuses it (botocore" in finding.message
    burst = copy.deepcopy(plans["prod"])
    pool = next(r for r in burst.resources if r["type"] == cloud.NODE_POOL)
    requirement = next(
        q
        for q in pool["inputs"]["spec"]["template"]["spec"]["requirements"]
        if q["key"] == cloud.INSTANCE_TYPE_LABEL
    )
    requirement["values"][0] = "p5.96xlarge"
    (finding,) = run({"prod": burst})
    assert "not an EC2 instance type" in finding.message
    uncatalogued = planted(plans, "prod", "prod-core-aws-system", "instanceTypes.0", "m5.large")
    (finding,) = run(uncatalogued)
    assert "catalog" in finding.message
    gke = planted(plans, "prod", "prod-core-gcp-system", "nodeConfig.machineType", "e2-huge-4")
    (finding,) = run(gke)
    assert "gcp instance type" in finding.message


@pytest.mark.parametrize(
    ("stack", "resource", "path", "value", "message"),
    [
        ("prod", "prod-core-aws-gpu-interruptions", "name", "q" * 81, "81 characters"),
        ("prod", "prod-models-aws-bucket", "bucket", "Prod-Model-Repo", "characters the provider"),
        ("prod", "prod-core-gcp-cluster", "name", "c" * 41, "41 characters"),
        ("prod", "prod-models-gcp-reader", "accountId", "reader", None),
        ("prod", "prod-models-gcp-reader", "accountId", "rdr", "under the minimum"),
        ("prod", "prod-models-gcp-reader", "accountId", "1-reader", "characters the provider"),
    ],
)
def test_a_name_the_provider_refuses_is_found(
    plans: dict[str, Plan], *, stack: str, resource: str, path: str, value: str, message: str | None
) -> None:
    findings = [f for f in run(planted(plans, stack, resource, path, value))]
    if message is None:
        assert findings == []
        return
    assert len(findings) == 1, [f.render() for f in findings]
    assert message in findings[0].message


def test_an_auto_named_resource_counts_the_random_suffix(plans: dict[str, Plan]) -> None:
    plan = copy.deepcopy(plans["dev"])
    role = next(r for r in plan.resources if r["type"] == "aws:iam/role:Role")
    role["name"] = "r" * 57  # + "-" + 7 random characters = 65 > 64
    (finding,) = run({"dev": plan})
    assert "65 characters" in finding.message


def test_retention_rounds_up_to_a_value_cloudwatch_accepts() -> None:
    assert cloudwatch_retention_days(15) == 30
    assert cloudwatch_retention_days(14) == 14
    assert cloudwatch_retention_days(1) == 1
    assert cloudwatch_retention_days(10_000) == 3653


def test_fitted_names_keep_short_names_and_shorten_long_ones() -> None:
    assert fit_name("prod-core-gcp", 40) == "prod-core-gcp"
    long = fit_name("staging-" + "a" * 40, 40)
    assert len(long) == 40
    assert long != fit_name("staging-" + "a" * 39 + "b", 40)
    assert autoname_within("prod-core-aws-node", 64) is None
    explicit = autoname_within("x" * 60, 64)
    assert explicit is not None
    assert len(explicit) <= 64


# -- the schema's longest names --------------------------------------------------

SECTIONS = ("clusters", "gpuPools", "models", "serverless")
GKE_POOL_NAME = 33
"""The schema rule for pools on GKE (``<pool>-spot-<n>`` within GKE's 40)."""

OTHER_HALF = {
    # components/aws/gpu_capacity.py and components/k8s/monitoring.py auto-name these from
    # the cluster's name; their fix (blueprint.limits.autoname_within) is the other
    # half of this change. Remove an entry once its component passes an explicit name.
    "-gpu-karpenter",
    "-gpu-karpenter-node",
    "-gpu-rebalance",
    "-gpu-scheduled-change",
    "-gpu-spot-interruption",
    "-gpu-state-change",
    "-monitoring-cloudwatch-exporter",
}


def _longest(key: str, limit: int) -> str:
    return (key + "-" + "x" * limit)[: limit - 1].rstrip("-") + "z"


def longest_names(doc: dict[str, Any]) -> dict[str, Any]:
    """The stack file with every logical name at the schema's maximum length."""
    config = doc["config"]
    renamed: dict[str, str] = {}
    for section in SECTIONS:
        for key, value in config.get(f"llm-inference:{section}", {}).items():
            on_gke = section == "gpuPools" and value.get("cluster", "").endswith("gcp")
            renamed[key] = _longest(key, GKE_POOL_NAME if on_gke else 40)

    def walk(node: Any, field: str) -> Any:
        if isinstance(node, dict):
            return {
                (renamed.get(k, k) if field in SECTIONS else k): walk(v, k) for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v, field) for v in node]
        if isinstance(node, str) and field != "tier":
            return renamed.get(node, node)
        return node

    doc["config"] = {k: walk(v, k.split(":")[-1]) for k, v in config.items()}
    return doc


def test_the_longest_config_names_give_names_the_providers_accept() -> None:
    """prod's shape (EKS, GKE, SageMaker, Vertex AI) with 40-character names, deployed as
    the longest committed stack name: every cloud name must still fit."""
    doc = longest_names(yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text()))
    raw = doc["config"]
    config = validate_config(raw, StackSource("longest-names.yaml", json.dumps(raw)))
    # The stack's secrets as the offline preview stands them in (placeholders).
    secrets = secrets_needed(config)
    plan = record_program("staging", raw, {}, placeholders=list(secrets))
    fullest = max(
        len(name) / rule.max_len
        for r in plan.custom
        for _, name, rule in cloud.generated_names(r)
        if rule.max_len <= 100
    )
    assert fullest >= 0.95, "the case must reach the limits it exists for"
    findings = cloud.Names().run({"staging": plan}, FACTS)
    mine = [
        f.render() for f in findings if not any(f.key.split(".")[0].endswith(s) for s in OTHER_HALF)
    ]
    assert mine == []
