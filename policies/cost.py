"""Cost guardrails: budgets, cost-allocation tags, what GPU capacity a stack may hold."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pydantic import Field

from blueprint import tags
from blueprint.capacity import GPU_RESOURCE
from blueprint.catalog import load_catalog
from blueprint.cost.estimate import usd
from policies._ceiling import stack_ceiling
from policies._lib import (
    NOT_SET,
    Level,
    Named,
    NoConfig,
    PolicyConfig,
    get,
    is_serving_workload,
    items,
    mapping,
    message,
    number,
    pod_labels,
    referrers,
    resource_policy,
    stack_policy,
    value_or_unset,
)
from policies._pools import KARPENTER_NODE_POOLS, is_gpu_instance, pool_of
from policies._tags import effective_tags, tag_field

AWS_BUDGET = "aws:budgets/budget:Budget"
GCP_BUDGET = "gcp:billing/budget:Budget"
S3_BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
S3_LIFECYCLES = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)
GCS_BUCKET = "gcp:storage/bucket:Bucket"


def _clouds(args: StackValidationArgs) -> set[str]:
    """The clouds a stack creates resources in (providers and reads aside)."""
    out = set()
    for res in args.resources:
        cloud = res.resource_type.split(":", 1)[0]
        if cloud in {"aws", "gcp"}:
            out.add(cloud)
    return out


# ---------------------------------------------------------------------------
# budget-per-stack


class BudgetConfig(PolicyConfig):
    require_forecast: bool = Field(
        default=True, description="a forecast notification is required besides actual spend"
    )


def _budget_per_stack(
    args: StackValidationArgs, report: ReportViolation, cfg: BudgetConfig
) -> None:
    clouds = _clouds(args)
    fix_aws = (
        "set the stack's budget section (llm-inference:budget: monthlyUsd, thresholdsPercent, "
        "emails); the composition root then creates components.aws.budget.AwsBudget"
    )
    if "aws" in clouds:
        budgets = [r for r in args.resources if r.resource_type == AWS_BUDGET]
        if not budgets:
            report(
                message(
                    Named("stack", "aws"),
                    AWS_BUDGET,
                    NOT_SET,
                    "the stack creates AWS resources but no AWS Budget watches their spend",
                    fix_aws,
                ),
                None,
            )
        for budget in budgets:
            kinds = set()
            for i, note in enumerate(items(get(budget.props, "notifications"))):
                kinds.add(str(get(note, "notificationType", default="")).upper())
                if not items(get(note, "subscriberEmailAddresses")) and not items(
                    get(note, "subscriberSnsTopicArns")
                ):
                    report(
                        message(
                            budget,
                            f"notifications[{i}].subscriber*",
                            NOT_SET,
                            "a notification nobody receives",
                            "add subscriberEmailAddresses or subscriberSnsTopicArns",
                        ),
                        budget.urn,
                    )
            wanted = {"ACTUAL", "FORECASTED"} if cfg.require_forecast else {"ACTUAL"}
            if not wanted <= kinds:
                report(
                    message(
                        budget,
                        "notifications[*].notificationType",
                        sorted(kinds),
                        f"needs {' and '.join(sorted(wanted))} notifications",
                        "notify on ACTUAL spend at each threshold and on FORECASTED spend "
                        "(components.aws.budget.AwsBudget does both)",
                    ),
                    budget.urn,
                )
    if "gcp" in clouds:
        budgets = [r for r in args.resources if r.resource_type == GCP_BUDGET]
        if not budgets:
            report(
                message(
                    Named("stack", "gcp"),
                    GCP_BUDGET,
                    NOT_SET,
                    "the stack creates GCP resources but no billing budget watches their spend",
                    "set gcp.billingAccount and the budget section in the stack file; the "
                    "composition root then creates components.gcp.budget.GcpBudget",
                ),
                None,
            )
        for budget in budgets:
            bases = {
                str(get(rule, "spendBasis", default="CURRENT_SPEND")).upper()
                for rule in items(get(budget.props, "thresholdRules"))
            }
            wanted = {"CURRENT_SPEND", "FORECASTED_SPEND"} if cfg.require_forecast else set()
            wanted.add("CURRENT_SPEND")
            if not wanted <= bases:
                report(
                    message(
                        budget,
                        "thresholdRules[*].spendBasis",
                        sorted(bases),
                        f"needs {' and '.join(sorted(wanted))} threshold rules",
                        "add threshold rules on current and on forecasted spend",
                    ),
                    budget.urn,
                )
            rule = get(budget.props, "allUpdatesRule")
            if not get(rule, "pubsubTopic") and not items(
                get(rule, "monitoringNotificationChannels")
            ):
                report(
                    message(
                        budget,
                        "allUpdatesRule",
                        value_or_unset(budget.props, "allUpdatesRule"),
                        "no Pub/Sub topic or monitoring channel receives the alerts",
                        "set allUpdatesRule.pubsubTopic and monitoringNotificationChannels",
                    ),
                    budget.urn,
                )


BUDGET_PER_STACK = stack_policy(
    name="budget-per-stack",
    domain="cost",
    description="Every stack has a budget per cloud it uses, notifying on actual and "
    "forecast spend.",
    level=Level.MANDATORY,
    fix="Set the budget section of the stack file (monthlyUsd, thresholdsPercent, emails).",
    check=_budget_per_stack,
    config=BudgetConfig,
)


# ---------------------------------------------------------------------------
# budget-covers-ceiling


class CoverConfig(PolicyConfig):
    headroom_percent: float = Field(
        default=0, ge=0, le=100, description="budget must exceed the ceiling by this much"
    )


def _budget_limit(budget: Any) -> float | None:
    if budget.resource_type == AWS_BUDGET:
        return number(get(budget.props, "limitAmount"))
    return number(get(budget.props, "amount", "specifiedAmount", "units"))


def _budget_covers_ceiling(
    args: StackValidationArgs, report: ReportViolation, cfg: CoverConfig
) -> None:
    ceiling = stack_ceiling(args.resources)
    for cloud, rtype in (("aws", AWS_BUDGET), ("gcp", GCP_BUDGET)):
        budgets = [r for r in args.resources if r.resource_type == rtype]
        limits: list[tuple[Any, float]] = []
        for b in budgets:
            value = _budget_limit(b)
            if value is not None:
                limits.append((b, value))
        if not limits or cloud not in ceiling.per_cloud:
            continue
        budget, limit = max(limits, key=lambda bv: bv[1])
        need = ceiling.per_cloud[cloud] * (1 + cfg.headroom_percent / 100)
        if limit < need:
            top = ", ".join(f"{w} {usd(u)}" for w, u in ceiling.top(cloud))
            prop = "limitAmount" if rtype == AWS_BUDGET else "amount.specifiedAmount.units"
            report(
                message(
                    budget,
                    prop,
                    limit,
                    f"the {cloud.upper()} capacity this stack can scale to costs up to "
                    f"{usd(ceiling.per_cloud[cloud])}/month at its ceiling (largest: {top})",
                    "raise budget.monthlyUsd in the stack file or lower nodes.max of the "
                    "largest pools",
                ),
                budget.urn,
            )


BUDGET_COVERS_CEILING = stack_policy(
    name="budget-covers-ceiling",
    domain="cost",
    description="The monthly cost of the stack at its ceiling (every pool at its maximum, "
    "priced from the catalog) fits the budget.",
    level=Level.MANDATORY,
    fix="Raise the budget or lower the pools' maximum sizes.",
    check=_budget_covers_ceiling,
    config=CoverConfig,
)


# ---------------------------------------------------------------------------
# cost-allocation-tags


class TagsConfig(PolicyConfig):
    required_keys: list[str] = Field(
        default_factory=lambda: list(tags.REQUIRED),
        description="tag/label keys every taggable AWS and GCP resource carries",
    )


def _cost_allocation_tags(
    args: ResourceValidationArgs, report: ReportViolation, cfg: TagsConfig
) -> None:
    effective = effective_tags(args.resource_type, args.props, args.provider)
    if effective is None:
        return
    missing = [k for k in cfg.required_keys if not effective.get(k)]
    if missing:
        field = tag_field(args.resource_type) or "tags"
        report(
            message(
                args,
                field,
                value_or_unset(args.props, field),
                f"missing cost-allocation {'tags' if field == 'tags' else 'labels'} "
                f"{', '.join(missing)} (the provider's default tags count)",
                "create the resource with the stack's explicit provider, whose default "
                "tags/labels come from blueprint.tags.base_tags, or set them on the resource",
            ),
            None,
        )


COST_ALLOCATION_TAGS = resource_policy(
    name="cost-allocation-tags",
    domain="cost",
    description="Every taggable AWS and GCP resource carries the cost-allocation tags "
    "(environment, cost-center, team), counting the provider's default tags.",
    level=Level.MANDATORY,
    fix="Use the stack's provider (default tags from blueprint.tags) or tag the resource.",
    check=_cost_allocation_tags,
    config=TagsConfig,
)


# ---------------------------------------------------------------------------
# model-tenant-labels

SERVING_TYPES = frozenset(
    {
        "aws:sagemaker/endpoint:Endpoint",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/model:Model",
        "gcp:vertex/aiEndpoint:AiEndpoint",
    }
)


class ModelTenantConfig(PolicyConfig):
    model_keys: list[str] = Field(
        default_factory=lambda: [tags.K8S_PREFIX + tags.MODEL, tags.MODEL],
        description="label/tag keys accepted for the model (first is preferred)",
    )
    tenant_keys: list[str] = Field(
        default_factory=lambda: [tags.K8S_PREFIX + tags.TENANT, tags.TENANT],
        description="label/tag keys accepted for the tenant (first is preferred)",
    )


def _model_tenant_labels(
    args: ResourceValidationArgs, report: ReportViolation, cfg: ModelTenantConfig
) -> None:
    if is_serving_workload(args.resource_type, args.props):
        labels = pod_labels(args.resource_type, args.props)
        prop = "spec.template.metadata.labels"
        if args.resource_type == "kubernetes:core/v1:Pod":
            prop = "metadata.labels"
    elif args.resource_type in SERVING_TYPES:
        found = effective_tags(args.resource_type, args.props, args.provider)
        labels = found if found is not None else {}
        prop = tag_field(args.resource_type) or "tags"
    else:
        return
    for what, keys in (("model", cfg.model_keys), ("tenant", cfg.tenant_keys)):
        if not any(labels.get(k) for k in keys):
            report(
                message(
                    args,
                    prop,
                    dict(labels) if labels else NOT_SET,
                    f"no {what} label ({' or '.join(keys)}), so its cost cannot be "
                    f"attributed to a {what}",
                    f"label it {keys[0]}=<{what}> (model deployments take tenant from the "
                    "stack file)",
                ),
                None,
            )


MODEL_TENANT_LABELS = resource_policy(
    name="model-tenant-labels",
    domain="cost",
    description="Everything that serves a model (Triton workloads, SageMaker and Vertex AI "
    "endpoints) is labelled with its model and tenant for cost attribution.",
    level=Level.MANDATORY,
    fix="Label the workload's pods (or tag the endpoint) with model and tenant.",
    check=_model_tenant_labels,
    config=ModelTenantConfig,
)


# ---------------------------------------------------------------------------
# gpu-instance-allowlist


def _catalog_gpu_types() -> list[str]:
    catalog = load_catalog()
    return sorted(n for n, i in catalog.instances.items() if i.gpus)


class AllowlistConfig(PolicyConfig):
    allowed_instance_types: list[str] = Field(
        default_factory=_catalog_gpu_types,
        description="GPU instance/machine types this environment may run",
    )


def _instance_types_of(args: ResourceValidationArgs) -> tuple[str, list[str]] | None:
    pool = pool_of(args.resource_type, args.props)
    if pool is not None:
        prop = {
            "EKS managed node group": "instanceTypes",
            "GKE node pool": "nodeConfig.machineType",
        }.get(pool.kind, "spec.template.spec.requirements[node.kubernetes.io/instance-type]")
        return prop, list(pool.instance_types)
    if args.resource_type in {"aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"}:
        itype = get(args.props, "instanceType")
        return ("instanceType", [str(itype)]) if itype else None
    if args.resource_type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        types = [
            str(get(v, "instanceType")).removeprefix("ml.")
            for v in items(get(args.props, "productionVariants"))
            if get(v, "instanceType")
        ]
        return ("productionVariants[*].instanceType", types) if types else None
    return None


def _gpu_instance_allowlist(
    args: ResourceValidationArgs, report: ReportViolation, cfg: AllowlistConfig
) -> None:
    found = _instance_types_of(args)
    allowed = set(cfg.allowed_instance_types)
    if found is None:
        return
    prop, types = found
    if args.resource_type in KARPENTER_NODE_POOLS and not types:
        pool = pool_of(args.resource_type, args.props)
        if pool is not None and pool.gpu:
            report(
                message(
                    args,
                    prop,
                    NOT_SET,
                    "a GPU NodePool that does not pin its instance types may launch any GPU "
                    "instance, including ones this environment does not allow",
                    f"add a requirement node.kubernetes.io/instance-type In "
                    f"[{', '.join(sorted(allowed)[:4])}, ...]",
                ),
                None,
            )
        return
    for itype in types:
        if is_gpu_instance(itype) and itype not in allowed:
            report(
                message(
                    args,
                    prop,
                    itype,
                    "is a GPU type this environment does not allow",
                    f"use one of {', '.join(sorted(allowed))} (policies/environments.yaml "
                    "gpu-instance-allowlist)",
                ),
                None,
            )


GPU_INSTANCE_ALLOWLIST = resource_policy(
    name="gpu-instance-allowlist",
    domain="cost",
    description="GPU node pools, launch templates and endpoints use only the GPU instance "
    "types the environment allows.",
    level=Level.MANDATORY,
    fix="Choose an allowed instance type or extend the environment's allowlist.",
    check=_gpu_instance_allowlist,
    config=AllowlistConfig,
)


# ---------------------------------------------------------------------------
# gpu-pool-ceiling


class CeilingConfig(PolicyConfig):
    max_nodes: float = Field(default=16, gt=0, description="most nodes one GPU pool may reach")
    max_gpus: float = Field(default=128, gt=0, description="most GPUs one GPU pool may reach")


def _gpu_pool_ceiling(
    args: ResourceValidationArgs, report: ReportViolation, cfg: CeilingConfig
) -> None:
    pool = pool_of(args.resource_type, args.props)
    if pool is None:
        return
    fix = (
        "set nodes.max of the pool in the stack file (the component turns it into the "
        f"pool's ceiling), at most {cfg.max_nodes:g} nodes / {cfg.max_gpus:g} GPUs here"
    )
    if pool.kind == "Karpenter NodePool":
        limits = pool.limits
        if pool.gpu and GPU_RESOURCE not in limits and "nodes" not in limits:
            report(
                message(
                    args,
                    "spec.limits",
                    value_or_unset(args.props, "spec", "limits"),
                    "a GPU NodePool without an nvidia.com/gpu (or nodes) limit can launch GPU "
                    "nodes without bound",
                    fix,
                ),
                None,
            )
            return
        if not limits:
            report(message(args, "spec.limits", NOT_SET, "the NodePool has no ceiling", fix), None)
            return
        gpus = limits.get(GPU_RESOURCE)
        if pool.gpu and gpus is not None and gpus > cfg.max_gpus:
            report(
                message(
                    args,
                    "spec.limits.nvidia.com/gpu",
                    gpus,
                    f"exceeds this environment's {cfg.max_gpus:g} GPUs per pool",
                    fix,
                ),
                None,
            )
        nodes = limits.get("nodes")
        if pool.gpu and nodes is not None and nodes > cfg.max_nodes:
            report(
                message(
                    args,
                    "spec.limits.nodes",
                    nodes,
                    f"exceeds this environment's {cfg.max_nodes:g} nodes per pool",
                    fix,
                ),
                None,
            )
        return
    if pool.max_nodes is None:
        report(message(args, pool.max_prop, NOT_SET, "the pool has no ceiling", fix), None)
        return
    total = pool.total_max_nodes or 0.0
    if pool.gpu and total > cfg.max_nodes:
        zones = f" ({pool.max_nodes:g} per zone x {pool.zones} zones)" if pool.per_zone else ""
        report(
            message(
                args,
                pool.max_prop,
                pool.max_nodes,
                f"lets the GPU pool reach {total:g} nodes{zones}, above this environment's "
                f"{cfg.max_nodes:g}",
                fix,
            ),
            None,
        )


GPU_POOL_CEILING = resource_policy(
    name="gpu-pool-ceiling",
    domain="cost",
    description="Every node pool has a ceiling, and a GPU pool's ceiling stays within the "
    "environment's maximum nodes and GPUs per pool.",
    level=Level.MANDATORY,
    fix="Give the pool a maximum (nodes.max) within the environment's limit.",
    check=_gpu_pool_ceiling,
    config=CeilingConfig,
)


# ---------------------------------------------------------------------------
# gpu-pool-floor


class FloorConfig(PolicyConfig):
    max_always_on_nodes: float = Field(
        default=8, ge=0, description="most GPU nodes one pool may keep up when idle"
    )


def _gpu_pool_floor(
    args: ResourceValidationArgs, report: ReportViolation, cfg: FloorConfig
) -> None:
    pool = pool_of(args.resource_type, args.props)
    if pool is None or not pool.gpu:
        return
    floor = pool.total_min_nodes or 0.0
    if floor > cfg.max_always_on_nodes:
        prop = {
            "EKS managed node group": "scalingConfig.minSize",
            "GKE node pool": "autoscaling.minNodeCount",
        }.get(pool.kind, "spec")
        report(
            message(
                args,
                prop,
                pool.min_nodes,
                f"keeps {floor:g} GPU nodes up when idle; this environment allows "
                f"{cfg.max_always_on_nodes:g}",
                "lower nodes.min/onDemandFloor of the pool in the stack file (dev and staging "
                "scale GPU pools to zero)",
            ),
            None,
        )


GPU_POOL_FLOOR = resource_policy(
    name="gpu-pool-floor",
    domain="cost",
    description="GPU pools keep no more always-on nodes than the environment allows "
    "(zero in dev and staging).",
    level=Level.MANDATORY,
    fix="Lower the pool's minimum.",
    check=_gpu_pool_floor,
    config=FloorConfig,
)


# ---------------------------------------------------------------------------
# non-prod-gpu-spot


def _non_prod_gpu_spot(args: ResourceValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    pool = pool_of(args.resource_type, args.props)
    if pool is None or not pool.gpu or pool.spot:
        return
    floor = pool.total_min_nodes or 0.0
    if args.resource_type in KARPENTER_NODE_POOLS:
        report(
            message(
                args,
                "spec.template.spec.requirements[karpenter.sh/capacity-type]",
                sorted(pool.capacity),
                "a non-production GPU NodePool that cannot use spot capacity",
                "require karpenter.sh/capacity-type In [spot] (add on-demand only as fallback)",
            ),
            None,
        )
    elif floor > 0:
        prop = "capacityType" if pool.kind == "EKS managed node group" else "nodeConfig.spot"
        report(
            message(
                args,
                prop,
                "ON_DEMAND" if pool.kind == "EKS managed node group" else False,
                f"an on-demand GPU pool with {floor:g} nodes always up outside production",
                "set spot: true on the pool in the stack file; an on-demand pool is allowed "
                "only as a fallback that scales from zero",
            ),
            None,
        )


NON_PROD_GPU_SPOT = resource_policy(
    name="non-prod-gpu-spot",
    domain="cost",
    description="Outside production, GPU capacity runs on spot; on-demand GPU pools exist "
    "only as fallbacks that scale from zero.",
    level=Level.MANDATORY,
    fix="Put the pool on spot.",
    check=_non_prod_gpu_spot,
    config=NoConfig,
)


# ---------------------------------------------------------------------------
# serverless-caps


class ServerlessConfig(PolicyConfig):
    max_concurrency: float = Field(default=50, ge=1, le=200)
    max_memory_mb: float = Field(default=6144, ge=1024, le=6144)
    max_provisioned_concurrency: float = Field(default=10, ge=0, le=200)
    max_replicas: float = Field(default=4, ge=1, description="Vertex AI replicas")


def _serverless_caps(
    args: ResourceValidationArgs, report: ReportViolation, cfg: ServerlessConfig
) -> None:
    fix = "lower the endpoint's setting in the stack file's serverless section"
    if args.resource_type == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
        for i, variant in enumerate(items(get(args.props, "productionVariants"))):
            sc = get(variant, "serverlessConfig")
            if sc is None:
                continue
            base = f"productionVariants[{i}].serverlessConfig"
            checks = (
                ("maxConcurrency", cfg.max_concurrency, True),
                ("memorySizeInMb", cfg.max_memory_mb, True),
                ("provisionedConcurrency", cfg.max_provisioned_concurrency, False),
            )
            for key, cap, required in checks:
                value = number(get(sc, key))
                if value is None and required:
                    report(message(args, f"{base}.{key}", NOT_SET, "has no cap", fix), None)
                elif value is not None and value > cap:
                    report(
                        message(
                            args,
                            f"{base}.{key}",
                            value,
                            f"exceeds this environment's cap of {cap:g}",
                            fix,
                        ),
                        None,
                    )
    elif args.resource_type == "gcp:vertex/aiDeploymentResourcePool:AiDeploymentResourcePool":
        value = number(get(args.props, "dedicatedResources", "maxReplicaCount"))
        if value is not None and value > cfg.max_replicas:
            report(
                message(
                    args,
                    "dedicatedResources.maxReplicaCount",
                    value,
                    f"exceeds this environment's cap of {cfg.max_replicas:g} replicas",
                    fix,
                ),
                None,
            )


SERVERLESS_CAPS = resource_policy(
    name="serverless-caps",
    domain="cost",
    description="Serverless endpoints stay within the environment's caps on concurrency, "
    "memory, provisioned concurrency and replicas.",
    level=Level.MANDATORY,
    fix="Lower the endpoint's concurrency, memory or replicas.",
    check=_serverless_caps,
    config=ServerlessConfig,
)


# ---------------------------------------------------------------------------
# log-retention


class RetentionConfig(PolicyConfig):
    min_days: float = Field(default=1, ge=1)
    max_days: float = Field(default=400, ge=1)


def _log_retention(
    args: ResourceValidationArgs, report: ReportViolation, cfg: RetentionConfig
) -> None:
    if args.resource_type == "aws:cloudwatch/logGroup:LogGroup":
        prop = "retentionInDays"
    elif args.resource_type == "gcp:logging/projectBucketConfig:ProjectBucketConfig":
        prop = "retentionDays"
    else:
        return
    days = number(get(args.props, prop))
    fix = (
        f"set {prop} between {cfg.min_days:g} and {cfg.max_days:g} "
        "(monitoring.retentionDays in the stack file)"
    )
    if not days:
        report(
            message(args, prop, value_or_unset(args.props, prop), "logs are kept forever", fix),
            None,
        )
    elif not cfg.min_days <= days <= cfg.max_days:
        report(message(args, prop, days, "is outside the environment's range", fix), None)


LOG_RETENTION = resource_policy(
    name="log-retention",
    domain="cost",
    description="Log groups and log buckets expire their logs within the environment's "
    "retention range.",
    level=Level.MANDATORY,
    fix="Set a retention period.",
    check=_log_retention,
    config=RetentionConfig,
)


# ---------------------------------------------------------------------------
# bucket-lifecycle


def _rule_expires(rule: Any) -> bool:
    if str(get(rule, "status", default="Enabled")) != "Enabled":
        return False
    return any(
        get(rule, key) is not None
        for key in (
            "expiration",
            "noncurrentVersionExpiration",
            "abortIncompleteMultipartUpload",
            "transitions",
            "noncurrentVersionTransitions",
        )
    )


def _bucket_lifecycle(args: StackValidationArgs, report: ReportViolation, _: NoConfig) -> None:
    for bucket in args.resources:
        if bucket.resource_type in S3_BUCKETS:
            configs = [
                r
                for r in referrers(args.resources, bucket, "bucket")
                if r.resource_type in S3_LIFECYCLES
            ]
            rules = [rule for c in configs for rule in items(get(c.props, "rules"))]
            rules += items(get(bucket.props, "lifecycleRules"))
            if not any(_rule_expires(r) for r in rules):
                report(
                    message(
                        bucket,
                        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                        [mapping(r).get("id") for r in rules] if rules else NOT_SET,
                        "no enabled lifecycle rule expires old versions or aborts incomplete "
                        "uploads, so the bucket only grows",
                        "add a BucketLifecycleConfiguration (bucket=<this bucket>) with "
                        "noncurrentVersionExpiration and abortIncompleteMultipartUpload",
                    ),
                    bucket.urn,
                )
        elif bucket.resource_type == GCS_BUCKET and not items(get(bucket.props, "lifecycleRules")):
            report(
                message(
                    bucket,
                    "lifecycleRules",
                    NOT_SET,
                    "no lifecycle rule deletes old object versions",
                    "add lifecycleRules with a Delete action (e.g. numNewerVersions or age)",
                ),
                bucket.urn,
            )


BUCKET_LIFECYCLE = stack_policy(
    name="bucket-lifecycle",
    domain="cost",
    description="Every S3 and GCS bucket has a lifecycle rule that expires old versions or "
    "incomplete uploads.",
    level=Level.MANDATORY,
    fix="Add a lifecycle configuration to the bucket.",
    check=_bucket_lifecycle,
    config=NoConfig,
)


POLICIES = [
    BUDGET_PER_STACK,
    BUDGET_COVERS_CEILING,
    COST_ALLOCATION_TAGS,
    MODEL_TENANT_LABELS,
    GPU_INSTANCE_ALLOWLIST,
    GPU_POOL_CEILING,
    GPU_POOL_FLOOR,
    NON_PROD_GPU_SPOT,
    SERVERLESS_CAPS,
    LOG_RETENTION,
    BUCKET_LIFECYCLE,
]
