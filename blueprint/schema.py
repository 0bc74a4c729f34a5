"""The typed schema of a stack's configuration: one model for the whole stack.

A stack file (``stacks/Pulumi.<env>.yaml``) holds one key per section under the
project's namespace (``llm-inference:gpuPools`` and so on); together they validate
into one frozen :class:`StackConfig`. Keys are camelCase in YAML and snake_case in
Python. Unknown keys are refused at every level. Shape and type rules live here;
rules that span fields or sections live in :mod:`blueprint.config.rules`, so that
every violation of a file is reported at once.
"""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from blueprint.triton import READY_PATH

NAMESPACE = "llm-inference"
"""The Pulumi project name, and so the namespace of every config key."""


class Model(BaseModel):
    """Base of every config model: frozen, camelCase keys, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


# ---------------------------------------------------------------------------
# Value types


def _matching(regex: str, what: str) -> AfterValidator:
    """A string check whose error says in words what is accepted."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError("pattern", "must be {what}", {"what": what})
        return value

    return AfterValidator(check)


Name = Annotated[
    str,
    _matching(
        r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?",
        "a lowercase DNS label (a-z, 0-9 and '-', starting with a letter, "
        "ending with a letter or digit, at most 40 characters)",
    ),
]
"""A logical name (pool, cluster, model, endpoint): it becomes part of cloud names."""

TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
LabelKey = Annotated[
    str, _matching(r"[a-z][a-z0-9_-]{0,62}", "a GCP label key (a-z, 0-9, '_', '-'; 63 at most)")
]
LabelValue = Annotated[
    str, _matching(r"[a-z0-9_-]{0,63}", "a label value (a-z, 0-9, '_', '-'; 63 at most)")
]
AwsRegion = Annotated[str, _matching(r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region such as us-east-1")]
GcpRegion = Annotated[str, _matching(r"[a-z]+-[a-z]+\d", "a GCP region such as us-central1")]
K8sVersion = Annotated[
    str, _matching(r"1\.(2[89]|3\d)", "a Kubernetes minor version from 1.28 up, such as '1.33'")
]
ChartVersion = Annotated[
    str, _matching(r"v?\d+\.\d+\.\d+", "an exact chart version such as v25.3.0 (no ranges)")
]
AmiRelease = Annotated[
    str,
    _matching(
        r"1\.\d+\.\d+-20\d{6}",
        "an EKS-optimized AMI release version such as 1.33.0-20250715 (no 'latest')",
    ),
]
"""An EKS-optimized Amazon Linux 2023 AMI release: ``<kubernetes>.<patch>-<YYYYMMDD>``."""
IamRoleArn = Annotated[
    str, _matching(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", "an IAM role ARN")
]
Email = Annotated[str, _matching(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", "an e-mail address")]
Quantity = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
    _matching(r"\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?", "a Kubernetes quantity such as 500m, 4 or 16Gi"),
]
"""A Kubernetes resource quantity such as ``500m``, ``4`` or ``16Gi``."""


def _pinned_image(value: str) -> str:
    # registry/path:tag with a concrete version tag, optionally @sha256:digest.
    m = re.fullmatch(r"[a-z0-9.\-/:_]+?:(?P<tag>[A-Za-z0-9._-]+)(@sha256:[a-f0-9]{64})?", value)
    if m is None or m.group("tag") in {"latest", "stable", "main", "master"}:
        raise PydanticCustomError(
            "pinned_image",
            "must be an exactly pinned image, 'registry/repo:<version>' or "
            "'registry/repo:<version>@sha256:<digest>', never 'latest' or an untagged name",
        )
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"
    EDGE = "edge"


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"


class Tier(StrEnum):
    """Pool tiers: heavy (H100/H200/A100/B200), light (L40S/L4/A10G), cpu."""

    HEAVY = "heavy"
    LIGHT = "light"
    CPU = "cpu"


class Fallback(StrEnum):
    """What a spot pool does when spot capacity runs out."""

    ON_DEMAND = "on-demand"
    NONE = "none"


# ---------------------------------------------------------------------------
# Clouds


class AwsSettings(Model):
    region: AwsRegion
    availability_zones: list[str] = Field(
        min_length=1,
        max_length=6,
        description="zones by name, not looked up at run time (deterministic programs)",
    )
    vpc_cidr: IPv4Network
    nat_gateways: Literal["single", "per-zone"] = "single"
    account_id: Annotated[str, _matching(r"\d{12}", "a 12-digit AWS account id")] | None = None
    tags: dict[TagKey, str] = Field(default_factory=dict)


class GcpSettings(Model):
    project: Annotated[
        str, _matching(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "a GCP project id such as acme-llm-prod")
    ]
    region: GcpRegion
    zones: list[str] = Field(min_length=1, max_length=4)
    network_cidr: IPv4Network
    pods_cidr: IPv4Network
    services_cidr: IPv4Network
    billing_account: (
        Annotated[
            str,
            _matching(
                r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}", "a billing account id XXXXXX-XXXXXX-XXXXXX"
            ),
        ]
        | None
    ) = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)


# ---------------------------------------------------------------------------
# Clusters and pools


class NodeRange(Model):
    """Node counts of a pool; ``max`` is the pool's ceiling."""

    min: int = Field(ge=0, le=1000)
    desired: int | None = Field(default=None, ge=0, le=1000)
    max: int = Field(ge=0, le=1000)


class SystemPool(Model):
    """The on-demand CPU pool that runs the cluster's own services."""

    instance_types: list[str] = Field(min_length=1)
    nodes: NodeRange


class ClusterConfig(Model):
    cloud: Cloud
    kubernetes_version: K8sVersion
    private_endpoint: bool = Field(default=True, description="API server reachable only inside")
    authorized_networks: list[IPv4Network] = Field(default_factory=list)
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] | None = Field(
        default=None, description="GKE only"
    )
    system_pool: SystemPool
    gpu_operator_version: ChartVersion | None = Field(
        default=None,
        description="EKS only: NVIDIA GPU Operator Helm chart version; required with GPU pools "
        "(GKE installs drivers and partitions MIG itself)",
    )
    karpenter_version: ChartVersion | None = Field(
        default=None, description="EKS only: Karpenter Helm chart version; required with GPU pools"
    )
    ami_release_version: AmiRelease | None = Field(
        default=None,
        description="EKS only, required there: the EKS-optimized AL2023 AMI release every node "
        "runs (managed node groups and Karpenter), e.g. 1.33.0-20250715",
    )
    admin_role_arns: list[IamRoleArn] = Field(
        default_factory=list,
        description="EKS only: IAM roles given cluster-admin through EKS access entries",
    )


class MigConfig(Model):
    """A MIG layout for every GPU of a pool: one profile, or a mix by count per GPU."""

    profile: str | None = Field(default=None, description="all GPUs split into this profile")
    mixed: dict[str, int] | None = Field(default=None, description="profile -> instances per GPU")


class GpuPoolConfig(Model):
    cluster: Name
    tier: Tier
    instance_types: list[str] = Field(min_length=1, description="several for spot diversity")
    nodes: NodeRange
    spot: bool = Field(default=False, description="burst on spot capacity")
    on_demand_floor: int = Field(default=0, ge=0, description="nodes always on on-demand capacity")
    fallback: Fallback = Field(
        default=Fallback.ON_DEMAND, description="what spot does when spot capacity runs out"
    )
    mig: MigConfig | None = None
    disk_gb: int = Field(default=200, ge=50, le=4000)
    zones: list[str] | None = Field(default=None, description="defaults to all the cloud's zones")


# ---------------------------------------------------------------------------
# Serving


class Toleration(Model):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class Resources(Model):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class Replicas(Model):
    min: int = Field(ge=0, le=500)
    max: int = Field(ge=1, le=500)


class ModelDeployment(Model):
    """A group of Triton models served together on one cluster."""

    cluster: Name
    repo_models: list[str] = Field(min_length=1, description="folders under model_repo/")
    variant: str | None = Field(default=None, description="configs/<variant>.pbtxt to serve")
    image: PinnedImage | None = Field(default=None, description="defaults to serving.tritonImage")
    tenant: LabelValue
    replicas: Replicas
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    resources: Resources


class ServingConfig(Model):
    triton_image: PinnedImage
    model_repository_bucket: Name | None = Field(
        default=None, description="defaults to <stack>-model-repo"
    )


# ---------------------------------------------------------------------------
# Serverless, routing, edge (rules: blueprint/config/rules/serverless.py, routing.py)


class ScheduledPeak(Model):
    """A known traffic peak: provisioned concurrency raised from ``start`` to ``end``.

    Schedules use Application Auto Scaling's syntax, ``cron(<min> <hour> <day> <month>
    <weekday> <year>)`` or ``at(yyyy-mm-ddThh:mm:ss)``, evaluated in ``timezone``.
    """

    start: Annotated[
        str, _matching(r"(cron|at|rate)\(.+\)", "a schedule such as cron(0 8 ? * MON-FRI *)")
    ]
    end: Annotated[
        str, _matching(r"(cron|at|rate)\(.+\)", "a schedule such as cron(0 18 ? * MON-FRI *)")
    ]
    provisioned_concurrency: int = Field(ge=1, description="warm instances during the peak")
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule")


class SageMakerServerlessSettings(Model):
    """SageMaker Serverless Inference: CPU only; memory and concurrency are its only knobs."""

    memory_mb: int = Field(description="1024-6144 in steps of 1024")
    max_concurrency: int = Field(description="1-200 concurrent invocations")
    provisioned_concurrency: int = Field(
        default=0, ge=0, description="warm instances kept against cold starts (0: none)"
    )
    peaks: dict[Name, ScheduledPeak] = Field(
        default_factory=dict, description="known peaks that raise provisioned concurrency"
    )
    vpc: bool = Field(default=False, description="SageMaker Serverless cannot run in a VPC")
    cold_start_alarm_seconds: float = Field(
        default=10.0, gt=0, description="alarm when ModelSetupTime exceeds this"
    )


class ReplicaBounds(Model):
    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000)


class DriftMonitoring(Model):
    """Vertex AI model monitoring for input (prediction) drift."""

    features: dict[str, float] = Field(
        min_length=1, description="input field -> drift threshold (distance, 0-1)"
    )
    sample_rate: float = Field(default=0.5, gt=0, le=1, description="share of requests logged")
    interval_hours: int = Field(default=1, ge=1, le=24, description="how often drift is computed")


class VertexSettings(Model):
    """A Vertex AI endpoint with one deployed model, private and CMEK-encrypted."""

    machine_type: str = Field(description="a CPU machine type of the catalog")
    replicas: ReplicaBounds
    scale_to_zero: bool = Field(
        default=False, description="allow replicas.min 0 (Vertex AI preview feature)"
    )
    target_cpu_percent: int = Field(default=60, ge=10, le=95)
    drift: DriftMonitoring | None = None


class ExpectedTraffic(Model):
    """What a serverless endpoint is expected to serve; the cost estimate prices it."""

    requests_per_month: int = Field(default=0, ge=0)
    mean_duration_ms: float = Field(default=0, ge=0, description="billed compute time per request")
    mean_payload_kb: float = Field(default=0, ge=0, description="request plus response size")


class ServerlessEndpoint(Model):
    """A managed endpoint for a light CPU model: SageMaker Serverless or Vertex AI."""

    cloud: Cloud
    image: PinnedImage
    repo_model: str = Field(description="the folder under model_repo/ this endpoint serves")
    tenant: LabelValue
    max_payload_mb: float = Field(default=1.0, gt=0, description="largest request body")
    timeout_seconds: int = Field(default=30, ge=1, description="longest inference allowed")
    sagemaker: SageMakerServerlessSettings | None = None
    vertex: VertexSettings | None = None
    expected_traffic: ExpectedTraffic = Field(default_factory=ExpectedTraffic)


class RouteTarget(Model):
    deployment: Name | None = Field(default=None, description="a model deployment (models.*)")
    serverless: Name | None = Field(default=None, description="a serverless endpoint")


class RoutingClass(Model):
    """A request class: requests tagged with it go to one target."""

    tier: Tier = Field(description="capacity the class needs: heavy, light or cpu")
    target: RouteTarget


HeaderName = Annotated[
    str, _matching(r"[a-z0-9][a-z0-9-]{0,62}", "a lowercase HTTP header name such as x-class")
]
DomainName = Annotated[
    str,
    _matching(
        r"([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,}", "a DNS name such as llm.example.com"
    ),
]


class DnsConfig(Model):
    """The public API name; the core creates the zone, core and edge each add a record."""

    zone: DomainName = Field(description="hosted zone the core stack creates")
    hostname: DomainName = Field(description="the API name clients use, inside the zone")
    health_check_path: Annotated[str, _matching(r"/\S*", "an absolute path such as /healthz")] = (
        READY_PATH
    )


class RoutingConfig(Model):
    """Tiered routing: a Gateway API HTTPRoute on the entry cluster, by a header tag."""

    entry_cluster: Name = Field(description="the cluster whose gateway takes the stack's traffic")
    header: HeaderName = Field(default="x-request-class", description="the routing tag")
    default_class: Name | None = Field(default=None, description="class of untagged requests")
    envoy_gateway_version: ChartVersion = Field(description="Envoy Gateway Helm chart version")
    sigv4_proxy_image: PinnedImage | None = Field(
        default=None, description="signs gateway calls to SageMaker endpoints"
    )
    tls_secret: Name = Field(default="llm-gateway-tls", description="the listener's certificate")
    dns: DnsConfig | None = None
    classes: dict[Name, RoutingClass] = Field(default_factory=dict)


class EdgeConfig(Model):
    core_stack: Annotated[
        str,
        _matching(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "<org>/<project>/<stack>"),
    ] = Field(description="fully qualified name of the core stack: <org>/<project>/<stack>")
    delegate_classes: list[Name] = Field(
        default_factory=list, description="request classes handed back to the core"
    )


# ---------------------------------------------------------------------------
# Monitoring and budgets


class MonitoringConfig(Model):
    kube_prometheus_stack_version: ChartVersion
    retention_days: int = Field(default=15, ge=1, le=400)
    alert_emails: list[Email] = Field(default_factory=list)
    runbook_base_url: Annotated[str, _matching(r"https://\S+", "an https:// URL")]
    prometheus_adapter_version: ChartVersion = Field(
        default="5.3.0", description="prometheus-community/prometheus-adapter chart (HPA metric)"
    )
    cloudwatch_exporter_version: ChartVersion = Field(
        default="0.50.0",
        description="prometheus-community/prometheus-yet-another-cloudwatch-exporter chart",
    )


class BudgetConfig(Model):
    monthly_usd: float = Field(gt=0)
    thresholds_percent: list[int] = Field(default=[50, 80, 100], min_length=1)
    emails: list[Email] = Field(min_length=1)


# ---------------------------------------------------------------------------
# The stack


class StackConfig(Model):
    """Everything one stack (dev, staging, prod, edge) is configured with."""

    environment: Environment
    cost_center: LabelValue
    team: LabelValue
    aws: AwsSettings | None = None
    gcp: GcpSettings | None = None
    clusters: dict[Name, ClusterConfig] = Field(default_factory=dict)
    gpu_pools: dict[Name, GpuPoolConfig] = Field(default_factory=dict)
    serving: ServingConfig | None = None
    models: dict[Name, ModelDeployment] = Field(default_factory=dict)
    serverless: dict[Name, ServerlessEndpoint] = Field(default_factory=dict)
    routing: RoutingConfig | None = None
    edge: EdgeConfig | None = None
    monitoring: MonitoringConfig | None = None
    budget: BudgetConfig | None = None
