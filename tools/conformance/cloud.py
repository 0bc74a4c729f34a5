"""Cloud API inputs against the providers' own service models: fixed sets, ranges and names.

The offline preview's mocks echo every input back, so an input that AWS or GCP take
only from a fixed set (a log group's retention, an EBS volume type, an EKS AMI type) or
within a range (SageMaker Serverless memory and concurrency) is refused only by a real
``pulumi up``. Three checks hold every plan to what the providers publish:

- ``cloud-api-values``: each input of :data:`API_INPUTS` (Pulumi resource type and input
  path, camelCase as in the plan, ``[]`` for list items) is checked against the shape of
  the API that receives it: botocore's service models (``botocore/data/<service>/<date>/
  service-2.json``: ``enum``, ``min``/``max``, ``pattern``; where a limit exists only in
  the shape's documentation, the sentence that states it, read by :data:`DOCUMENTED`) and
  Google's discovery documents (``googleapiclient/discovery_cache/documents``). A table
  entry whose shape has no constraint is reported as not evaluated, never passed.
- ``cloud-instance-types``: every EC2 instance type (managed node groups, Karpenter
  NodePools) is one EC2's model lists and one the catalog prices; every GCE machine
  type (GKE node pools, Vertex AI) is one the catalog lists (no discovery document
  enumerates machine types).
- ``cloud-names``: every name the program generates (or Pulumi's auto-naming derives:
  the resource name plus ``-`` and 7 random characters) within the provider's length and
  character rules (:data:`NAME_RULES`); Kubernetes names as DNS-1123.

The checks need no upstream facts folder: the service models ship with the pinned
botocore and google-api-python-client (dev extra).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint.capacity import INSTANCE_TYPE_LABEL
from blueprint.catalog import load_catalog
from blueprint.diagnostics import NO_VALUE
from tools.conformance.base import Check, Finding
from tools.preview.recorder import Plan

# ---------------------------------------------------------------------------
# The service models


@functools.cache
def _botocore_model(service: str) -> Mapping[str, Any]:
    import botocore.loaders  # noqa: PLC0415 (dev-only dependency, loaded on first use)

    return botocore.loaders.Loader().load_service_model(service, "service-2")


def botocore_version() -> str:
    import botocore  # noqa: PLC0415

    return str(botocore.__version__)


@functools.cache
def _discovery(api: str) -> Mapping[str, Any]:
    import googleapiclient  # noqa: PLC0415

    folder = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    return json.loads((folder / f"{api}.json").read_text())


def aws_shape(service: str, ref: str) -> dict[str, Any]:
    """The constraint shape of ``Shape`` or ``Shape.Member`` (a list member: its items)."""
    shapes = _botocore_model(service)["shapes"]
    name, _, member = ref.partition(".")
    shape = shapes[name]
    if member:
        shape = shapes[shape["members"][member]["shape"]]
    if shape.get("type") == "list":
        shape = shapes[shape["member"]["shape"]]
    return dict(shape)


def gcp_schema(api: str, ref: str) -> dict[str, Any]:
    """The property schema of ``Schema.property`` in discovery document ``api``."""
    schemas = _discovery(api)["schemas"]
    name, _, prop = ref.partition(".")
    schema = schemas[name]["properties"][prop]
    if schema.get("type") == "array":
        schema = schema["items"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    return dict(schema)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _possible_values(doc: str) -> list[int]:
    m = re.search(r"Possible values are: ([\d, and]+)\.", _text(doc))
    if m is None:
        raise LookupError("no 'Possible values are: ...' sentence")
    return [int(v) for v in re.findall(r"\d+", m.group(1))]


def _retention_period(doc: str) -> tuple[int, int]:
    m = re.search(
        r"MessageRetentionPeriod – .*? from ([\d,]+) \(1 minute\) to ([\d,]+) \(14 days\)",
        _text(doc),
    )
    if m is None:
        raise LookupError("no 'MessageRetentionPeriod ... from N to M' sentence")
    return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))


DOCUMENTED: Mapping[str, tuple[str, str, Callable[[str], Any]]] = {
    "logs-retention-days": ("logs", "Days", _possible_values),
    "sqs-message-retention": ("sqs", "SetQueueAttributesRequest.Attributes", _retention_period),
}
"""Limits botocore states only in a shape's documentation: the sentence that says them."""


def documented(key: str) -> Any:
    service, ref, read = DOCUMENTED[key]
    shapes = _botocore_model(service)["shapes"]
    name, _, member = ref.partition(".")
    doc = (
        shapes[name]["members"][member]["documentation"]
        if member
        else shapes[name]["documentation"]
    )
    return read(doc)


# ---------------------------------------------------------------------------
# The table: Pulumi input -> API shape


@dataclass(frozen=True)
class ApiInput:
    type: str
    """Pulumi resource type (``aws:eks/nodeGroup:NodeGroup``)."""
    path: str
    """Input path as the plan records it: camelCase, ``[]`` for every list item."""
    cloud: str
    """``aws`` (a botocore service model) or ``gcp`` (a discovery document)."""
    service: str
    """botocore service (``eks``) or discovery document (``container.v1``)."""
    shape: str
    """``Shape``, ``Shape.Member`` (botocore) or ``Schema.property`` (discovery)."""
    documented: str | None = None
    """A :data:`DOCUMENTED` key, for limits only the documentation states."""

    def constraint(self) -> dict[str, Any]:
        if self.documented is not None:
            return {"documented": self.documented}
        if self.cloud == "aws":
            return aws_shape(self.service, self.shape)
        return gcp_schema(self.service, self.shape)


def _aws(type_: str, path: str, service: str, shape: str, doc: str | None = None) -> ApiInput:
    return ApiInput(type_, path, "aws", service, shape, doc)


def _gcp(type_: str, path: str, api: str, schema: str) -> ApiInput:
    return ApiInput(type_, path, "gcp", api, schema)


LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
BUDGET = "aws:budgets/budget:Budget"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
SCHEDULED_ACTION = "aws:appautoscaling/scheduledAction:ScheduledAction"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_POOL = "gcp:container/nodePool:NodePool"

API_INPUTS: tuple[ApiInput, ...] = (
    # CloudWatch Logs
    _aws(LOG_GROUP, "retentionInDays", "logs", "Days", "logs-retention-days"),
    _aws(LOG_GROUP, "name", "logs", "CreateLogGroupRequest.logGroupName"),
    # EC2: launch templates, flow logs, addresses
    _aws(
        LAUNCH_TEMPLATE,
        "blockDeviceMappings[].ebs.volumeType",
        "ec2",
        "LaunchTemplateEbsBlockDeviceRequest.VolumeType",
    ),
    _aws(
        LAUNCH_TEMPLATE,
        "metadataOptions.httpTokens",
        "ec2",
        "LaunchTemplateInstanceMetadataOptionsRequest.HttpTokens",
    ),
    _aws(
        LAUNCH_TEMPLATE,
        "metadataOptions.httpEndpoint",
        "ec2",
        "LaunchTemplateInstanceMetadataOptionsRequest.HttpEndpoint",
    ),
    _aws(
        LAUNCH_TEMPLATE,
        "tagSpecifications[].resourceType",
        "ec2",
        "LaunchTemplateTagSpecificationRequest.ResourceType",
    ),
    _aws("aws:ec2/flowLog:FlowLog", "trafficType", "ec2", "CreateFlowLogsRequest.TrafficType"),
    _aws("aws:ec2/eip:Eip", "domain", "ec2", "AllocateAddressRequest.Domain"),
    # EKS
    _aws(EKS_CLUSTER, "enabledClusterLogTypes[]", "eks", "LogSetup.types"),
    _aws(
        EKS_CLUSTER,
        "accessConfig.authenticationMode",
        "eks",
        "CreateAccessConfigRequest.authenticationMode",
    ),
    _aws(EKS_CLUSTER, "upgradePolicy.supportType", "eks", "UpgradePolicyRequest.supportType"),
    _aws(ADDON, "clusterName", "eks", "CreateAddonRequest.clusterName"),
    _aws(ADDON, "resolveConflictsOnCreate", "eks", "CreateAddonRequest.resolveConflicts"),
    _aws(ADDON, "resolveConflictsOnUpdate", "eks", "UpdateAddonRequest.resolveConflicts"),
    _aws(NODE_GROUP, "amiType", "eks", "CreateNodegroupRequest.amiType"),
    _aws(NODE_GROUP, "capacityType", "eks", "CreateNodegroupRequest.capacityType"),
    _aws(NODE_GROUP, "instanceTypes[]", "ec2", "InstanceType"),
    _aws(NODE_GROUP, "taints[].effect", "eks", "Taint.effect"),
    _aws(NODE_GROUP, "scalingConfig.minSize", "eks", "NodegroupScalingConfig.minSize"),
    _aws(NODE_GROUP, "scalingConfig.maxSize", "eks", "NodegroupScalingConfig.maxSize"),
    _aws(NODE_GROUP, "scalingConfig.desiredSize", "eks", "NodegroupScalingConfig.desiredSize"),
    _aws(NODE_GROUP, "updateConfig.maxUnavailable", "eks", "NodegroupUpdateConfig.maxUnavailable"),
    # KMS
    _aws("aws:kms/key:Key", "keyUsage", "kms", "CreateKeyRequest.KeyUsage"),
    _aws("aws:kms/key:Key", "customerMasterKeySpec", "kms", "CreateKeyRequest.KeySpec"),
    _aws(
        "aws:kms/key:Key",
        "deletionWindowInDays",
        "kms",
        "ScheduleKeyDeletionRequest.PendingWindowInDays",
    ),
    _aws("aws:kms/alias:Alias", "name", "kms", "CreateAliasRequest.AliasName"),
    # S3
    _aws(
        "aws:s3/bucketVersioning:BucketVersioning",
        "versioningConfiguration.status",
        "s3",
        "VersioningConfiguration.Status",
    ),
    _aws(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "rule.objectOwnership",
        "s3",
        "OwnershipControlsRule.ObjectOwnership",
    ),
    _aws(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
        "s3",
        "ServerSideEncryptionByDefault.SSEAlgorithm",
    ),
    _aws(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "rules[].status",
        "s3",
        "LifecycleRule.Status",
    ),
    _aws(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "rules[].transitions[].storageClass",
        "s3",
        "Transition.StorageClass",
    ),
    _aws(
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "serverSideEncryption",
        "s3",
        "PutObjectRequest.ServerSideEncryption",
    ),
    _aws(
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "storageClass",
        "s3",
        "PutObjectRequest.StorageClass",
    ),
    # SQS
    _aws(
        "aws:sqs/queue:Queue",
        "messageRetentionSeconds",
        "sqs",
        "SetQueueAttributesRequest.Attributes",
        "sqs-message-retention",
    ),
    # SageMaker Serverless
    _aws(
        ENDPOINT_CONFIG,
        "productionVariants[].serverlessConfig.memorySizeInMb",
        "sagemaker",
        "ProductionVariantServerlessConfig.MemorySizeInMB",
    ),
    _aws(
        ENDPOINT_CONFIG,
        "productionVariants[].serverlessConfig.maxConcurrency",
        "sagemaker",
        "ProductionVariantServerlessConfig.MaxConcurrency",
    ),
    _aws(
        ENDPOINT_CONFIG,
        "productionVariants[].serverlessConfig.provisionedConcurrency",
        "sagemaker",
        "ProductionVariantServerlessConfig.ProvisionedConcurrency",
    ),
    _aws(
        ENDPOINT_CONFIG,
        "productionVariants[].variantName",
        "sagemaker",
        "ProductionVariant.VariantName",
    ),
    _aws(
        "aws:sagemaker/endpoint:Endpoint", "name", "sagemaker", "CreateEndpointInput.EndpointName"
    ),
    # Application Auto Scaling
    _aws(
        SCALABLE_TARGET,
        "serviceNamespace",
        "application-autoscaling",
        "RegisterScalableTargetRequest.ServiceNamespace",
    ),
    _aws(
        SCALABLE_TARGET,
        "scalableDimension",
        "application-autoscaling",
        "RegisterScalableTargetRequest.ScalableDimension",
    ),
    _aws(
        SCHEDULED_ACTION,
        "serviceNamespace",
        "application-autoscaling",
        "PutScheduledActionRequest.ServiceNamespace",
    ),
    _aws(
        SCHEDULED_ACTION,
        "scalableDimension",
        "application-autoscaling",
        "PutScheduledActionRequest.ScalableDimension",
    ),
    _aws(
        SCHEDULED_ACTION,
        "name",
        "application-autoscaling",
        "PutScheduledActionRequest.ScheduledActionName",
    ),
    # CloudWatch alarms
    _aws(ALARM, "comparisonOperator", "cloudwatch", "PutMetricAlarmInput.ComparisonOperator"),
    _aws(ALARM, "statistic", "cloudwatch", "PutMetricAlarmInput.Statistic"),
    _aws(ALARM, "period", "cloudwatch", "PutMetricAlarmInput.Period"),
    _aws(ALARM, "evaluationPeriods", "cloudwatch", "PutMetricAlarmInput.EvaluationPeriods"),
    _aws(ALARM, "datapointsToAlarm", "cloudwatch", "PutMetricAlarmInput.DatapointsToAlarm"),
    _aws(ALARM, "treatMissingData", "cloudwatch", "PutMetricAlarmInput.TreatMissingData"),
    _aws(ALARM, "name", "cloudwatch", "PutMetricAlarmInput.AlarmName"),
    _aws(ALARM, "metricQueries[].metric.period", "cloudwatch", "MetricStat.Period"),
    # Route 53
    _aws(HEALTH_CHECK, "type", "route53", "HealthCheckConfig.Type"),
    _aws(HEALTH_CHECK, "requestInterval", "route53", "HealthCheckConfig.RequestInterval"),
    _aws(HEALTH_CHECK, "failureThreshold", "route53", "HealthCheckConfig.FailureThreshold"),
    _aws(HEALTH_CHECK, "port", "route53", "HealthCheckConfig.Port"),
    _aws(HEALTH_CHECK, "resourcePath", "route53", "HealthCheckConfig.ResourcePath"),
    _aws(RECORD, "type", "route53", "ResourceRecordSet.Type"),
    _aws(RECORD, "ttl", "route53", "ResourceRecordSet.TTL"),
    _aws(RECORD, "setIdentifier", "route53", "ResourceRecordSet.SetIdentifier"),
    _aws(RECORD, "latencyRoutingPolicies[].region", "route53", "ResourceRecordSet.Region"),
    # Budgets
    _aws(BUDGET, "budgetType", "budgets", "Budget.BudgetType"),
    _aws(BUDGET, "timeUnit", "budgets", "Budget.TimeUnit"),
    _aws(BUDGET, "name", "budgets", "Budget.BudgetName"),
    _aws(
        BUDGET, "notifications[].comparisonOperator", "budgets", "Notification.ComparisonOperator"
    ),
    _aws(BUDGET, "notifications[].notificationType", "budgets", "Notification.NotificationType"),
    _aws(BUDGET, "notifications[].thresholdType", "budgets", "Notification.ThresholdType"),
    _aws(BUDGET, "notifications[].threshold", "budgets", "Notification.Threshold"),
    # IAM names the program sets
    _aws("aws:iam/role:Role", "name", "iam", "CreateRoleRequest.RoleName"),
    _aws("aws:iam/policy:Policy", "name", "iam", "CreatePolicyRequest.PolicyName"),
    # Karpenter hands these to EC2 (CreateLaunchTemplate / CreateFleet) as they are.
    _aws(NODE_CLASS, "spec.blockDeviceMappings[].ebs.volumeType", "ec2", "VolumeType"),
    _aws(NODE_CLASS, "spec.metadataOptions.httpTokens", "ec2", "HttpTokensState"),
    _aws(NODE_CLASS, "spec.metadataOptions.httpEndpoint", "ec2", "InstanceMetadataEndpointState"),
    # GKE
    _gcp(
        GKE_CLUSTER,
        "loggingConfig.enableComponents[]",
        "container.v1",
        "LoggingComponentConfig.enableComponents",
    ),
    _gcp(
        GKE_CLUSTER,
        "monitoringConfig.enableComponents[]",
        "container.v1",
        "MonitoringComponentConfig.enableComponents",
    ),
    _gcp(GKE_CLUSTER, "releaseChannel.channel", "container.v1", "ReleaseChannel.channel"),
    _gcp(GKE_CLUSTER, "databaseEncryption.state", "container.v1", "DatabaseEncryption.state"),
    _gcp(GKE_CLUSTER, "datapathProvider", "container.v1", "NetworkConfig.datapathProvider"),
    _gcp(
        GKE_CLUSTER,
        "binaryAuthorization.evaluationMode",
        "container.v1",
        "BinaryAuthorization.evaluationMode",
    ),
    _gcp(
        GKE_POOL, "autoscaling.locationPolicy", "container.v1", "NodePoolAutoscaling.locationPolicy"
    ),
    _gcp(GKE_POOL, "nodeConfig.taints[].effect", "container.v1", "NodeTaint.effect"),
    _gcp(
        GKE_POOL,
        "nodeConfig.workloadMetadataConfig.mode",
        "container.v1",
        "WorkloadMetadataConfig.mode",
    ),
    _gcp(
        GKE_POOL,
        "nodeConfig.guestAccelerators[].gpuDriverInstallationConfig.gpuDriverVersion",
        "container.v1",
        "GPUDriverInstallationConfig.gpuDriverVersion",
    ),
    _gcp(
        GKE_POOL,
        "nodeConfig.guestAccelerators[].gpuSharingConfig.gpuSharingStrategy",
        "container.v1",
        "GPUSharingConfig.gpuSharingStrategy",
    ),
    # Compute Engine networking
    _gcp(
        "gcp:compute/network:Network",
        "routingMode",
        "compute.v1",
        "NetworkRoutingConfig.routingMode",
    ),
    _gcp(
        "gcp:compute/subnetwork:Subnetwork",
        "logConfig.aggregationInterval",
        "compute.v1",
        "SubnetworkLogConfig.aggregationInterval",
    ),
    _gcp(
        "gcp:compute/subnetwork:Subnetwork",
        "logConfig.metadata",
        "compute.v1",
        "SubnetworkLogConfig.metadata",
    ),
    _gcp(
        "gcp:compute/routerNat:RouterNat",
        "natIpAllocateOption",
        "compute.v1",
        "RouterNat.natIpAllocateOption",
    ),
    _gcp(
        "gcp:compute/routerNat:RouterNat",
        "sourceSubnetworkIpRangesToNat",
        "compute.v1",
        "RouterNat.sourceSubnetworkIpRangesToNat",
    ),
    _gcp(
        "gcp:compute/routerNat:RouterNat",
        "logConfig.filter",
        "compute.v1",
        "RouterNatLogConfig.filter",
    ),
    # Cloud KMS, billing budgets
    _gcp("gcp:kms/cryptoKey:CryptoKey", "purpose", "cloudkms.v1", "CryptoKey.purpose"),
    _gcp(
        "gcp:kms/cryptoKey:CryptoKey",
        "versionTemplate.protectionLevel",
        "cloudkms.v1",
        "CryptoKeyVersionTemplate.protectionLevel",
    ),
    _gcp(
        "gcp:billing/budget:Budget",
        "thresholdRules[].spendBasis",
        "billingbudgets.v1",
        "GoogleCloudBillingBudgetsV1ThresholdRule.spendBasis",
    ),
)
"""Every Pulumi input checked against an API shape (``tests/test_conformance_cloud.py``
lists them). A provider input not listed here is not checked by this table."""


# ---------------------------------------------------------------------------
# Evaluation


def values_at(inputs: Any, path: str) -> Iterator[tuple[str, Any]]:
    """``(concrete path, value)`` for every value at ``path`` (``a.b[].c``) in ``inputs``."""

    def walk(node: Any, parts: list[str], here: str) -> Iterator[tuple[str, Any]]:
        if not parts:
            if node is not None:
                yield here, node
            return
        head, *rest = parts
        key, is_list = (head[:-2], True) if head.endswith("[]") else (head, False)
        if not isinstance(node, Mapping) or key not in node:
            return
        child = node[key]
        where = f"{here}.{key}" if here else key
        if not is_list:
            yield from walk(child, rest, where)
        elif isinstance(child, Sequence) and not isinstance(child, str):
            for i, item in enumerate(child):
                yield from walk(item, rest, f"{where}[{i}]")

    yield from walk(inputs, path.split("."), "")


def violation(constraint: Mapping[str, Any], value: Any) -> str | None:  # noqa: PLR0911, PLR0912
    """Why ``value`` breaks ``constraint`` (a botocore shape or discovery schema), or None."""
    if "documented" in constraint:
        allowed = documented(constraint["documented"])
        number = _number(value)
        if isinstance(allowed, tuple):
            low, high = allowed
            if number is None or not low <= number <= high:
                return f"must be from {low} to {high}"
        elif number not in allowed:
            return f"must be one of {allowed}"
        return None
    if "enum" in constraint:
        if str(value) not in constraint["enum"]:
            return f"must be one of {_shown(constraint['enum'])}"
        return None
    kind = constraint.get("type")
    if kind in {"integer", "long", "double", "float", "number"}:
        number = _number(value)
        low = constraint.get("min", constraint.get("minimum"))
        high = constraint.get("max", constraint.get("maximum"))
        if number is None:
            return "must be a number"
        if low is not None and number < float(low):
            return f"must be at least {low}"
        if high is not None and number > float(high):
            return f"must be at most {high}"
        return None
    text = str(value)
    if "min" in constraint and len(text) < int(constraint["min"]):
        return f"must be at least {constraint['min']} characters"
    if "max" in constraint and len(text) > int(constraint["max"]):
        return f"must be at most {constraint['max']} characters ({len(text)})"
    if "pattern" in constraint and _compile(str(constraint["pattern"])).fullmatch(text) is None:
        return f"must match {constraint['pattern']}"
    return None


def _compile(pattern: str) -> re.Pattern[str]:
    """A model's (Java) pattern in Python: anchors dropped (the whole value must match), an
    inline ``(?i)`` in the middle (Java scopes it, Python refuses it) as a global flag."""
    flags = re.IGNORECASE if "(?i)" in pattern else 0
    return re.compile(pattern.replace("(?i)", "").removeprefix("^").removesuffix("$"), flags)


def constrains(constraint: Mapping[str, Any]) -> bool:
    """Whether a shape says anything a value can break."""
    return bool(
        {"documented", "enum", "min", "max", "minimum", "maximum", "pattern"} & set(constraint)
    )


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _shown(values: Sequence[str]) -> str:
    return ", ".join(values) if len(values) <= 12 else f"the {len(values)} values of the model"


def _pattern_usable(constraint: Mapping[str, Any]) -> str | None:
    if "pattern" not in constraint:
        return None
    try:
        _compile(str(constraint["pattern"]))
    except re.error as exc:
        return f"the model's pattern is not a Python regular expression ({exc})"
    return None


def _source(entry: ApiInput) -> str:
    if entry.cloud == "aws":
        return f"botocore {botocore_version()} {entry.service} {entry.shape}"
    return f"discovery {entry.service} {entry.shape}"


class ApiValues:
    """``cloud-api-values``: every :data:`API_INPUTS` value against its API shape."""

    name = "cloud-api-values"

    def __init__(self, table: Sequence[ApiInput] = API_INPUTS) -> None:
        self.table = table

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings: list[Finding] = []
        by_type: dict[str, list[ApiInput]] = {}
        for entry in self.table:
            by_type.setdefault(entry.type, []).append(entry)
        for plan in plans.values():
            for resource in plan.resources:
                for entry in by_type.get(resource["type"], []):
                    findings += self._check(plan, resource, entry)
        return findings

    def _check(self, plan: Plan, resource: Mapping[str, Any], entry: ApiInput) -> list[Finding]:
        values = list(values_at(resource["inputs"], entry.path))
        if not values:
            return []
        try:
            constraint = entry.constraint()
        except (KeyError, LookupError) as exc:
            return [
                Finding.at(
                    plan,
                    resource,
                    entry.path,
                    f"{_source(entry)}: not in the service model ({exc})",
                    not_evaluated=True,
                )
            ]
        unusable = _pattern_usable(constraint) if "enum" not in constraint else None
        if not constrains(constraint) or unusable:
            why = unusable or "the shape has no enum, range, length or pattern"
            return [
                Finding.at(
                    plan, resource, entry.path, f"{_source(entry)}: {why}", not_evaluated=True
                )
            ]
        out = []
        for where, value in values:
            problem = violation(constraint, value)
            if problem:
                out.append(
                    Finding.at(
                        plan,
                        resource,
                        where,
                        f"{problem}: the API refuses it ({_source(entry)})",
                        value=value,
                    )
                )
        return out


# ---------------------------------------------------------------------------
# Instance and machine types

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
VERTEX_DEPLOYMENT = "pulumi-python:dynamic/vertex:DeployedModel"


def instance_types(resource: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(path, cloud, type)`` of every instance or machine type ``resource`` names."""
    inputs = resource["inputs"]
    kind = resource["type"]
    if kind == NODE_GROUP:
        for where, value in values_at(inputs, "instanceTypes[]"):
            yield where, "aws", str(value)
    elif kind == NODE_POOL:
        requirements = list(values_at(inputs, "spec.template.spec.requirements[]"))
        for where, req in requirements:
            if req.get("key") == INSTANCE_TYPE_LABEL:
                for i, value in enumerate(req.get("values") or []):
                    yield f"{where}.values[{i}]", "aws", str(value)
    elif kind == GKE_POOL:
        for where, value in values_at(inputs, "nodeConfig.machineType"):
            yield where, "gcp", str(value)
    elif kind == VERTEX_DEPLOYMENT:
        for where, value in values_at(inputs, "machineType"):
            yield where, "gcp", str(value)


class InstanceTypes:
    """``cloud-instance-types``: EC2 types in EC2's model and the catalog; GCE in the catalog."""

    name = "cloud-instance-types"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        catalog = load_catalog()
        ec2 = set(aws_shape("ec2", "InstanceType")["enum"])
        known = {c: set(catalog.instance_names(c)) for c in ("aws", "gcp")}
        findings = []
        for plan in plans.values():
            for resource in plan.resources:
                for where, cloud, value in instance_types(resource):
                    if cloud == "aws" and value not in ec2:
                        if resource["type"] == NODE_GROUP:
                            continue  # cloud-api-values reports it (API_INPUTS)
                        findings.append(
                            Finding.at(
                                plan,
                                resource,
                                where,
                                f"not an EC2 instance type (botocore {botocore_version()} "
                                "ec2 InstanceType)",
                                value=value,
                            )
                        )
                    elif value not in known[cloud]:
                        findings.append(
                            Finding.at(
                                plan,
                                resource,
                                where,
                                f"not a {cloud} instance type of blueprint/catalog/instances.yaml: "
                                "its GPUs and price are unknown",
                                value=value,
                                fix="add it to the catalog with its GPUs and dated prices",
                            )
                        )
        return findings


# ---------------------------------------------------------------------------
# Names

AUTONAME_SUFFIX = 8
"""Pulumi auto-naming: the resource name, ``-`` and 7 random characters."""


@dataclass(frozen=True)
class NameRule:
    type: str
    path: str
    """The input that holds the name; when the program leaves it out, Pulumi auto-names."""
    max_len: int
    pattern: str
    what: str
    """The provider's rule in words, with its source."""
    min_len: int = 1
    autonamed: bool = True
    """Whether Pulumi fills the name in when the program leaves it out."""
    strip_prefix: str = ""
    """A fixed prefix the limit does not count (``alias/``)."""


RFC1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
NAME_RULES: tuple[NameRule, ...] = (
    NameRule("aws:iam/role:Role", "name", 64, r"[\w+=,.@-]+", "IAM role name: 64 characters"),
    NameRule("aws:iam/policy:Policy", "name", 128, r"[\w+=,.@-]+", "IAM policy name: 128"),
    NameRule(
        "aws:iam/rolePolicy:RolePolicy", "name", 128, r"[\w+=,.@-]+", "IAM inline policy name: 128"
    ),
    NameRule(
        "aws:s3/bucket:Bucket",
        "bucket",
        63,
        r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        "S3 bucket name: 3-63 lowercase letters, digits, '.', '-'",
        min_len=3,
    ),
    NameRule(EKS_CLUSTER, "name", 100, r"[0-9A-Za-z][A-Za-z0-9_-]*", "EKS cluster name: 100"),
    NameRule(
        NODE_GROUP, "nodeGroupName", 63, r"[0-9A-Za-z][A-Za-z0-9_-]*", "EKS node group name: 63"
    ),
    NameRule(
        "aws:kms/alias:Alias",
        "name",
        256,
        r"alias/[a-zA-Z0-9/_-]+",
        "KMS alias: alias/ and 250 of [a-zA-Z0-9/_-]",
        autonamed=False,
    ),
    NameRule("aws:sqs/queue:Queue", "name", 80, r"[A-Za-z0-9_-]+", "SQS queue name: 80"),
    NameRule("aws:sns/topic:Topic", "name", 256, r"[A-Za-z0-9_-]+", "SNS topic name: 256"),
    NameRule(LOG_GROUP, "name", 512, r"[.\-_/#A-Za-z0-9]+", "CloudWatch log group: 512"),
    NameRule(ALARM, "name", 255, r"[^\x00-\x1f]+", "CloudWatch alarm name: 255"),
    NameRule(BUDGET, "name", 100, r"[^:\\]+", "AWS budget name: 100, no ':' or '\\'"),
    NameRule(LAUNCH_TEMPLATE, "name", 128, r"[a-zA-Z0-9().\-/_]+", "EC2 launch template name: 128"),
    NameRule(
        "aws:cloudwatch/eventRule:EventRule",
        "name",
        64,
        r"[.\-_A-Za-z0-9]+",
        "EventBridge rule: 64",
    ),
    NameRule(
        "aws:sagemaker/endpoint:Endpoint",
        "name",
        63,
        r"[a-zA-Z0-9](-*[a-zA-Z0-9])*",
        "SageMaker endpoint: 63",
    ),
    NameRule(
        ENDPOINT_CONFIG, "name", 63, r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", "SageMaker endpoint config: 63"
    ),
    NameRule(
        "aws:sagemaker/model:Model",
        "name",
        63,
        r"[a-zA-Z0-9](-*[a-zA-Z0-9])*",
        "SageMaker model name: 63",
    ),
    NameRule(SCHEDULED_ACTION, "name", 256, r"[^\x00-\x1f]+", "scheduled action name: 256"),
    NameRule(GKE_CLUSTER, "name", 40, RFC1035, "GKE cluster name: 40, lowercase RFC 1035"),
    NameRule(GKE_POOL, "name", 40, RFC1035, "GKE node pool name: 40, lowercase RFC 1035"),
    NameRule(
        "gcp:serviceaccount/account:Account",
        "accountId",
        30,
        r"[a-z]([-a-z0-9]*[a-z0-9])",
        "service account id: 6-30 lowercase, digits, '-'",
        min_len=6,
        autonamed=False,
    ),
    NameRule("gcp:kms/keyRing:KeyRing", "name", 63, r"[a-zA-Z0-9_-]+", "KMS key ring: 63"),
    NameRule("gcp:kms/cryptoKey:CryptoKey", "name", 63, r"[a-zA-Z0-9_-]+", "KMS key: 63"),
    NameRule(
        "gcp:storage/bucket:Bucket",
        "name",
        63,
        r"[a-z0-9][a-z0-9._-]*[a-z0-9]",
        "GCS bucket: 3-63 lowercase, digits, '-', '_', '.'",
        min_len=3,
    ),
    NameRule("gcp:compute/network:Network", "name", 63, RFC1035, "VPC network: 63, RFC 1035"),
    NameRule("gcp:compute/subnetwork:Subnetwork", "name", 63, RFC1035, "subnetwork: 63, RFC 1035"),
    NameRule("gcp:compute/router:Router", "name", 63, RFC1035, "Cloud Router: 63, RFC 1035"),
    NameRule("gcp:compute/routerNat:RouterNat", "name", 63, RFC1035, "Cloud NAT: 63, RFC 1035"),
    NameRule(
        "gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy",
        "name",
        63,
        RFC1035,
        "service connection policy: 63, RFC 1035",
    ),
    NameRule(
        "gcp:pubsub/topic:Topic",
        "name",
        255,
        r"[A-Za-z][\w.~+%-]{2,}",
        "Pub/Sub topic: 3-255",
        min_len=3,
    ),
    NameRule(
        "gcp:billing/budget:Budget",
        "displayName",
        60,
        r".+",
        "billing budget display name: 60 (billingbudgets.v1 GoogleCloudBillingBudgetsV1Budget)",
        autonamed=False,
    ),
    NameRule(
        "gcp:vertex/aiEndpoint:AiEndpoint",
        "displayName",
        128,
        r".+",
        "Vertex display name: 128",
        autonamed=False,
    ),
    NameRule(
        "kubernetes:helm.sh/v3:Release",
        "name",
        53,
        r"[a-z0-9]([-a-z0-9]*[a-z0-9])?",
        "Helm release: 53",
    ),
)
"""Name rules of the providers (their API references and quotas pages, 2026-12-03)."""

DNS_LABEL_KINDS = frozenset({"Namespace", "Service"})
DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"


def generated_names(resource: Mapping[str, Any]) -> Iterator[tuple[str, str, NameRule]]:
    """``(path, name, rule)`` of each cloud name ``resource`` gets."""
    inputs = resource["inputs"]
    for rule in NAME_RULES:
        if rule.type != resource["type"]:
            continue
        given = inputs.get(rule.path)
        if isinstance(given, str) and given:
            yield rule.path, given, rule
        elif rule.autonamed and not resource.get("read"):
            # Pulumi auto-naming: what the cloud sees is as long as this.
            yield f"{rule.path} (auto-named)", f"{resource['name']}-xxxxxxx", rule
    kind = resource["type"]
    if kind.startswith("kubernetes:") and kind != "kubernetes:helm.sh/v3:Release":
        meta = inputs.get("metadata") or {}
        api_kind = kind.rsplit(":", 1)[-1]
        label = api_kind in DNS_LABEL_KINDS
        rule = NameRule(
            kind,
            "metadata.name",
            63 if label else 253,
            r"[a-z0-9]([-a-z0-9]*[a-z0-9])?" if label else DNS_SUBDOMAIN,
            "Kubernetes name: DNS-1123 " + ("label, 63" if label else "subdomain, 253"),
        )
        if isinstance(meta.get("name"), str):
            yield "metadata.name", meta["name"], rule


def name_problem(name: str, rule: NameRule) -> str | None:
    text = name.removeprefix(rule.strip_prefix)
    if len(text) > rule.max_len:
        return f"{len(text)} characters, over the limit ({rule.what})"
    if len(text) < rule.min_len:
        return f"{len(text)} characters, under the minimum ({rule.what})"
    if re.fullmatch(rule.pattern, text.replace("xxxxxxx", "abc1234")) is None:
        return f"characters the provider refuses ({rule.what})"
    return None


class Names:
    """``cloud-names``: every generated cloud name within its provider's rules."""

    name = "cloud-names"

    def run(self, plans: Mapping[str, Plan], facts: Path) -> list[Finding]:
        findings = []
        for plan in plans.values():
            for resource in plan.resources:
                if not resource["custom"]:
                    continue
                for path, name, rule in generated_names(resource):
                    problem = name_problem(name, rule)
                    if problem:
                        findings.append(
                            Finding.at(
                                plan,
                                resource,
                                path.split(" ")[0],
                                problem,
                                value=name,
                                fix="shorten the config key this name derives from",
                            )
                        )
        return findings


def checks() -> list[Check]:
    return [ApiValues(), InstanceTypes(), Names()]


def mapped_inputs(plans: Mapping[str, Plan]) -> dict[tuple[str, str], int]:
    """``(type, path) -> number of values`` checked by :data:`API_INPUTS` in ``plans``."""
    counts: dict[tuple[str, str], int] = {}
    for plan in plans.values():
        for resource in plan.resources:
            for entry in API_INPUTS:
                if entry.type == resource["type"]:
                    n = len(list(values_at(resource["inputs"], entry.path)))
                    if n:
                        counts[(entry.type, entry.path)] = (
                            counts.get((entry.type, entry.path), 0) + n
                        )
    return counts


__all__ = ["API_INPUTS", "NAME_RULES", "NO_VALUE", "ApiInput", "checks", "mapped_inputs"]
