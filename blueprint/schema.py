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
    Strict,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from blueprint.triton import READY_PATH

NAMESPACE = "llm-inference"
"""The Pulumi project name, and so the namespace of every config key."""

SECRET_KEYS = {
    "hubToken": "the model hub token the opt-in weights import uses for gated models; "
    "set it with `pulumi config set --secret llm-inference:hubToken`",
    "gatewayApiKeys": "the gateway's API keys, one per tenant (the tenant is the key's client "
    "id); set each with `pulumi config set --secret --path "
    "'llm-inference:gatewayApiKeys.<tenant>' <key>`",
    "alertSmtpPassword": "the SMTP password of monitoring.smtp.username, for the alert "
    "e-mails; set it with `pulumi config set --secret llm-inference:alertSmtpPassword`",
    "alertPagerdutyRoutingKey": "the PagerDuty Events API v2 routing key the pages go to "
    "(monitoring.paging.kind: pagerduty); set it with "
    "`pulumi config set --secret llm-inference:alertPagerdutyRoutingKey`",
    "alertPagingWebhookUrl": "the URL the pages are posted to (monitoring.paging.kind: "
    "webhook); set it with `pulumi config set --secret llm-inference:alertPagingWebhookUrl`",
    "alertSlackWebhookUrl": "the Slack incoming-webhook URL the tickets go to "
    "(monitoring.chat); set it with "
    "`pulumi config set --secret llm-inference:alertSlackWebhookUrl`",
}
"""Keys that hold secrets: never part of :class:`StackConfig` (which is plain data that
tools print); the composition reads them with Pulumi's secret API, so they stay
``[secret]`` in state and outputs."""
SECRET_MAPS = frozenset({"gatewayApiKeys"})
"""Secret keys that map names (tenants) to secrets, each set with ``--path``."""


class Model(BaseModel):
    """Base of every config model: frozen, camelCase keys, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
        allow_inf_nan=False,
    )


# ---------------------------------------------------------------------------
# Value types

Int = Annotated[int, Strict()]
"""A whole number as YAML writes one: ``true`` or ``2.5`` is refused, not read as 1 or 2."""
Float = Annotated[float, Strict()]
"""A finite number (whole or not); ``true``, ``.inf`` and ``.nan`` are refused."""


def _cidr_text(value: object) -> object:
    # IPv4Network(True) is 0.0.0.1/32 and IPv4Network(167772160) 10.0.0.0/32: a CIDR is
    # written as text.
    if not isinstance(value, str):
        raise PydanticCustomError("ip_v4_network", "must be an IPv4 network in CIDR form")
    return value


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr_text, json_schema_input_type=str)]
"""An IPv4 network written in CIDR form, such as ``10.0.0.0/16``."""


def _unique(values: list[str]) -> list[str]:
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise PydanticCustomError(
            "unique", "lists {dupes} more than once; list each once", {"dupes": ", ".join(seen)}
        )
    return values


UniqueNames = Annotated[list[str], AfterValidator(_unique)]
"""A list of names (zones, instance types) in which each appears once."""


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

ModelName = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}",
        "a model folder name under model_repo/ (letters, digits, '_' and '-', at most 64)",
    ),
]
"""A folder under ``model_repo/``: no path separators, nothing a filesystem refuses."""
VariantName = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
        "a variant name, the stem of configs/<variant>.pbtxt (letters, digits, '_', '-', '.')",
    ),
]
"""A model config variant: ``model_repo/<model>/configs/<variant>.pbtxt``."""

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
VpcId = Annotated[
    str, _matching(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})", "a VPC id such as vpc-0123456789abcdef0")
]
SubnetId = Annotated[
    str,
    _matching(r"subnet-([0-9a-f]{8}|[0-9a-f]{17})", "a subnet id such as subnet-0123456789abcdef0"),
]
OidcProviderArn = Annotated[
    str,
    _matching(
        r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com"
        r"(\.cn)?/id/[0-9A-F]{32}",
        "an EKS cluster's IAM OIDC provider ARN, arn:aws:iam::<account>:oidc-provider/"
        "oidc.eks.<region>.amazonaws.com/id/<32 hex digits>",
    ),
]
ServiceAccountEmail = Annotated[
    str,
    _matching(
        r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com"
        r"|\d+-compute@developer\.gserviceaccount\.com",
        "a GCP service account e-mail such as gke-nodes@acme-llm-prod.iam.gserviceaccount.com",
    ),
]
GcpNetworkRef = Annotated[
    str,
    _matching(
        r"((https://www\.googleapis\.com/compute/v1/)?projects/[a-z][a-z0-9-]{4,28}[a-z0-9]"
        r"/global/networks/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a VPC network name, projects/<project>/global/networks/<name> or its "
        "https://www.googleapis.com/compute/v1/... self link",
    ),
]
GcpSubnetworkRef = Annotated[
    str,
    _matching(
        r"((https://www\.googleapis\.com/compute/v1/)?projects/[a-z][a-z0-9-]{4,28}[a-z0-9]"
        r"/regions/[a-z]+-[a-z]+\d/subnetworks/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a subnetwork name, projects/<project>/regions/<region>/subnetworks/<name> or its "
        "https://www.googleapis.com/compute/v1/... self link",
    ),
]
GcpRangeName = Annotated[
    str,
    _matching(
        r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", "a secondary range name (a-z, 0-9, '-'; 63 at most)"
    ),
]
Quantity = Annotated[
    str,
    BeforeValidator(
        lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v,
        json_schema_input_type=str | int,
    ),
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


class ExistingVpc(Model):
    """A VPC the stack uses but does not manage: nothing of the network is created, and
    everything downstream (EKS, Karpenter's subnet selector) takes these ids."""

    vpc_id: VpcId = Field(description="the VPC's id, such as vpc-0123456789abcdef0")
    private_subnet_ids: dict[str, SubnetId] = Field(
        min_length=1,
        description="availability zone -> private subnet id (nodes, internal load balancers), "
        "one for each of aws.availabilityZones",
    )


class AwsSettings(Model):
    region: AwsRegion = Field(description="AWS region of the stack, such as us-east-1")
    availability_zones: UniqueNames = Field(
        min_length=1,
        max_length=6,
        description="zones by name, not looked up at run time (deterministic programs)",
    )
    vpc_cidr: Cidr | None = Field(
        default=None,
        description="the range of the VPC the stack creates, such as 10.10.0.0/16 "
        "(required unless existingVpc is set)",
    )
    nat_gateways: Literal["single", "per-zone"] | None = Field(
        default=None,
        description="one NAT gateway for the VPC the stack creates (single, the default), "
        "or one per zone",
    )
    existing_vpc: ExistingVpc | None = Field(
        default=None,
        description="use this VPC and its private subnets instead of creating a network "
        "(instead of vpcCidr)",
    )
    account_id: Annotated[str, _matching(r"\d{12}", "a 12-digit AWS account id")] | None = Field(
        default=None, description="12-digit account the provider refuses to deploy outside of"
    )
    tags: dict[TagKey, str] = Field(
        default_factory=dict, description="extra tags on every AWS resource"
    )


class ExistingNetwork(Model):
    """A VPC network and subnetwork the stack uses but does not manage: no network, subnet,
    router or NAT is created. The subnetwork carries the secondary ranges GKE's pods and
    services take (a VPC-native cluster)."""

    network: GcpNetworkRef = Field(
        description="the VPC network: a name (in gcp.project), projects/<p>/global/networks/"
        "<name>, or its self link (a Shared VPC host project's network)"
    )
    subnetwork: GcpSubnetworkRef = Field(
        description="the subnetwork in gcp.region: a name, projects/<p>/regions/<r>/"
        "subnetworks/<name>, or its self link"
    )
    pod_range: GcpRangeName = Field(description="the subnetwork's secondary range for pods")
    service_range: GcpRangeName = Field(description="the subnetwork's secondary range for services")


class GcpSettings(Model):
    project: Annotated[
        str, _matching(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "a GCP project id such as acme-llm-prod")
    ] = Field(description="GCP project id, such as acme-llm-prod")
    region: GcpRegion = Field(description="GCP region of the stack, such as us-central1")
    zones: UniqueNames = Field(
        min_length=1, max_length=4, description="zones by name, inside the region"
    )
    network_cidr: Cidr | None = Field(
        default=None,
        description="the primary IPv4 range (nodes) of the subnet the stack creates "
        "(required unless existingNetwork is set)",
    )
    pods_cidr: Cidr | None = Field(
        default=None, description="the created subnet's secondary IPv4 range for pods"
    )
    services_cidr: Cidr | None = Field(
        default=None, description="the created subnet's secondary IPv4 range for services"
    )
    existing_network: ExistingNetwork | None = Field(
        default=None,
        description="use this VPC network and subnetwork instead of creating them "
        "(instead of networkCidr, podsCidr and servicesCidr)",
    )
    billing_account: (
        Annotated[
            str,
            _matching(
                r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}", "a billing account id XXXXXX-XXXXXX-XXXXXX"
            ),
        ]
        | None
    ) = Field(
        default=None, description="billing account XXXXXX-XXXXXX-XXXXXX the GCP budget is set on"
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="extra labels on every GCP resource"
    )


# ---------------------------------------------------------------------------
# Clusters and pools


class NodeRange(Model):
    """Node counts of a pool; ``max`` is the pool's ceiling."""

    min: Int = Field(ge=0, le=1000, description="fewest nodes")
    desired: Int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="starting nodes, between min and max (system pool; default: min)",
    )
    max: Int = Field(ge=0, le=1000, description="most nodes: the pool's ceiling")


class SystemPool(Model):
    """The on-demand CPU pool that runs the cluster's own services."""

    instance_types: UniqueNames = Field(min_length=1, description="CPU instance or machine types")
    nodes: NodeRange = Field(description="node counts {min, desired, max}")


class ExistingCluster(Model):
    """A cluster the stack deploys onto but does not manage: it is read by name (the
    provider's get function), and only GPU pools and workloads are created on it."""

    name: Annotated[
        str,
        _matching(
            r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}",
            "a cluster name as the cloud knows it (letters, digits, '-', '_'; 100 at most)",
        ),
    ] = Field(description="the cluster's name in the cloud")
    oidc_provider_arn: OidcProviderArn | None = Field(
        default=None,
        description="EKS only: the cluster's IAM OIDC provider, which the IRSA roles of "
        "Karpenter and the workloads trust (default: looked up from the cluster's issuer)",
    )
    node_role_arn: IamRoleArn | None = Field(
        default=None,
        description="EKS only: the instance role of the pools' on-demand floor node groups "
        "(required when a pool of the cluster has onDemandFloor above 0)",
    )
    node_service_account: ServiceAccountEmail | None = Field(
        default=None,
        description="GKE only: the service account the GPU node pools run as "
        "(required when the cluster has pools)",
    )


class ClusterConfig(Model):
    cloud: Cloud = Field(description="aws (EKS) or gcp (GKE)")
    kubernetes_version: K8sVersion = Field(
        description="Kubernetes minor version of the control plane, quoted, such as '1.33'"
    )
    node_version: K8sVersion | None = Field(
        default=None,
        description="EKS only: Kubernetes minor of every node (system pool, GPU floors, "
        "Karpenter's nodes), quoted; default kubernetesVersion. May lag the control plane "
        "by up to 3 minors, never lead it (version-skew policy): an upgrade is two `up`s",
    )
    private_endpoint: bool = Field(default=True, description="API server reachable only inside")
    authorized_networks: list[Cidr] = Field(
        default_factory=list, description="CIDRs allowed to reach the API server"
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] | None = Field(
        default=None, description="GKE only"
    )
    system_pool: SystemPool = Field(description="the on-demand CPU pool of cluster services")
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
        "runs (managed node groups and Karpenter), built for nodeVersion, e.g. 1.33.0-20250715",
    )
    admin_role_arns: list[IamRoleArn] = Field(
        default_factory=list,
        description="EKS only, required there: IAM roles given cluster-admin through EKS "
        "access entries; list the role Pulumi runs as (the cluster creator gets no admin)",
    )
    existing: ExistingCluster | None = Field(
        default=None,
        description="deploy onto this existing cluster instead of creating one; systemPool "
        "then describes its CPU nodes (labelled llm-inference/pool=system on EKS) for placement",
    )

    @property
    def nodes_version(self) -> str:
        """The Kubernetes minor the cluster's nodes run: ``nodeVersion``, else the control
        plane's."""
        return self.node_version or self.kubernetes_version


class MigConfig(Model):
    """A MIG layout for every GPU of a pool: one profile, or a mix by count per GPU."""

    profile: str | None = Field(default=None, description="all GPUs split into this profile")
    mixed: dict[str, Int] | None = Field(default=None, description="profile -> instances per GPU")


class GpuPoolConfig(Model):
    cluster: Name = Field(description="the cluster (clusters.*) the pool joins")
    tier: Tier = Field(description="heavy, light or cpu: what the pool's nodes serve")
    instance_types: UniqueNames = Field(min_length=1, description="several for spot diversity")
    nodes: NodeRange = Field(description="node counts {min, desired, max}; max is the ceiling")
    spot: bool = Field(default=False, description="burst on spot capacity")
    on_demand_floor: Int = Field(default=0, ge=0, description="nodes always on on-demand capacity")
    fallback: Fallback = Field(
        default=Fallback.ON_DEMAND, description="what spot does when spot capacity runs out"
    )
    mig: MigConfig | None = Field(
        default=None, description="split every GPU with MIG (heavy pools)"
    )
    disk_gb: Int = Field(default=200, ge=50, le=4000, description="root disk per node, in GB")
    zones: UniqueNames | None = Field(default=None, description="defaults to all the cloud's zones")


# ---------------------------------------------------------------------------
# Serving


class Toleration(Model):
    key: str = Field(description="the taint's key, such as nvidia.com/gpu")
    operator: Literal["Exists", "Equal"] = Field(
        default="Exists", description="Exists, or Equal to match value"
    )
    value: str | None = Field(default=None, description="the taint's value (with Equal)")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="the taint effect tolerated (default: all)"
    )


class Resources(Model):
    requests: dict[str, Quantity] = Field(
        default_factory=dict, description="resource -> quantity, such as cpu: '4', memory: 16Gi"
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict, description="resource -> quantity, such as nvidia.com/gpu: 1"
    )


class Replicas(Model):
    min: Int = Field(ge=0, le=500, description="fewest pods")
    max: Int = Field(ge=1, le=500, description="most pods the autoscaler runs")


class ModelDeployment(Model):
    """A group of Triton models served together on one cluster."""

    cluster: Name = Field(description="the cluster (clusters.*) it runs on")
    repo_models: list[ModelName] = Field(min_length=1, description="folders under model_repo/")
    variant: VariantName | None = Field(
        default=None, description="configs/<variant>.pbtxt to serve"
    )
    image: PinnedImage | None = Field(default=None, description="defaults to serving.tritonImage")
    tenant: LabelValue = Field(description="the tenant it serves: its resources' tenant label")
    replicas: Replicas = Field(description="pod counts {min, max}")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="node labels the pods must land on"
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, description="taints of the GPU pools the pods may run on"
    )
    resources: Resources = Field(description="requests and limits of the Triton container")


class HubImport(Model):
    """The opt-in import of hub-hosted LLM weights into the model bucket.

    A Kubernetes Job per weights revision downloads the pinned commit once and copies
    it to ``llm-weights/hub/<repo>/<revision>/`` in the stack's bucket; pods then load
    from the bucket and never reach the hub. Its token (gated models) comes only from
    the stack secret ``llm-inference:hubToken`` (``pulumi config set --secret``),
    through a Kubernetes Secret.
    """

    enabled: bool = Field(default=False, description="run the import jobs")
    image: PinnedImage | None = Field(
        default=None,
        description="the image that downloads (needs huggingface_hub); defaults to "
        "serving.vllmImage, which has it",
    )


class ServingConfig(Model):
    triton_image: PinnedImage | None = Field(
        default=None,
        description="the Triton image, pinned: registry/repo:<version>[@sha256:<digest>]; "
        "required when a deployment serves Triton models",
    )
    vllm_image: PinnedImage | None = Field(
        default=None,
        description="vLLM's OpenAI-compatible server image (vllm/vllm-openai:v0.32.x), "
        "pinned; required when a deployment serves an LLM (model_repo/<model>/llm.yaml)",
    )
    aws_cli_image: PinnedImage | None = Field(
        default=None,
        description="copies LLM weights from S3 into an LLM pod at start (the AWS CLI), "
        "pinned; required for LLM deployments on EKS",
    )
    gcloud_image: PinnedImage | None = Field(
        default=None,
        description="copies LLM weights from GCS into an LLM pod at start (the gcloud CLI), "
        "pinned; required for LLM deployments on GKE",
    )
    hub_import: HubImport = Field(
        default_factory=HubImport,
        description="opt-in: import hub-hosted LLM weights into the bucket (never at pod start)",
    )
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
    ] = Field(description="when the peak starts, such as cron(0 8 ? * MON-FRI *)")
    end: Annotated[
        str, _matching(r"(cron|at|rate)\(.+\)", "a schedule such as cron(0 18 ? * MON-FRI *)")
    ] = Field(description="when the peak ends, such as cron(0 18 ? * MON-FRI *)")
    provisioned_concurrency: Int = Field(ge=1, description="warm instances during the peak")
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule")


class SageMakerServerlessSettings(Model):
    """SageMaker Serverless Inference: CPU only; memory and concurrency are its only knobs."""

    memory_mb: Int = Field(description="1024-6144 in steps of 1024")
    max_concurrency: Int = Field(description="1-200 concurrent invocations")
    provisioned_concurrency: Int = Field(
        default=0, ge=0, description="warm instances kept against cold starts (0: none)"
    )
    peaks: dict[Name, ScheduledPeak] = Field(
        default_factory=dict, description="known peaks that raise provisioned concurrency"
    )
    vpc: bool = Field(default=False, description="SageMaker Serverless cannot run in a VPC")
    cold_start_alarm_seconds: Float = Field(
        default=10.0, gt=0, description="alarm when ModelSetupTime exceeds this"
    )


class ReplicaBounds(Model):
    min: Int = Field(ge=0, le=1000, description="fewest replicas (0 needs scaleToZero)")
    max: Int = Field(ge=1, le=1000, description="most replicas")


class DriftMonitoring(Model):
    """Vertex AI model monitoring for input (prediction) drift."""

    features: dict[str, Float] = Field(
        min_length=1, description="input field -> drift threshold (distance, 0-1)"
    )
    sample_rate: Float = Field(default=0.5, gt=0, le=1, description="share of requests logged")
    interval_hours: Int = Field(default=1, ge=1, le=24, description="how often drift is computed")


class VertexSettings(Model):
    """A Vertex AI endpoint with one deployed model, private and CMEK-encrypted."""

    machine_type: str = Field(description="a CPU machine type of the catalog")
    replicas: ReplicaBounds = Field(description="replica counts {min, max}")
    scale_to_zero: bool = Field(
        default=False, description="allow replicas.min 0 (Vertex AI preview feature)"
    )
    target_cpu_percent: Int = Field(
        default=60, ge=10, le=95, description="CPU use the autoscaler aims at"
    )
    drift: DriftMonitoring | None = Field(
        default=None, description="input drift monitoring (none when absent)"
    )


class ExpectedTraffic(Model):
    """What a serverless endpoint is expected to serve; the cost estimate prices it."""

    requests_per_month: Int = Field(default=0, ge=0, description="requests served in a month")
    mean_duration_ms: Float = Field(default=0, ge=0, description="billed compute time per request")
    mean_payload_kb: Float = Field(default=0, ge=0, description="request plus response size")


class ServerlessEndpoint(Model):
    """A managed endpoint for a light CPU model: SageMaker Serverless or Vertex AI."""

    cloud: Cloud = Field(description="aws (SageMaker Serverless) or gcp (Vertex AI)")
    image: PinnedImage = Field(description="the serving image, pinned: registry/repo:<version>")
    repo_model: ModelName = Field(description="the folder under model_repo/ this endpoint serves")
    tenant: LabelValue = Field(description="the tenant it serves: its resources' tenant label")
    max_payload_mb: Float = Field(default=1.0, gt=0, description="largest request body")
    timeout_seconds: Int = Field(default=30, ge=1, description="longest inference allowed")
    sagemaker: SageMakerServerlessSettings | None = Field(
        default=None, description="settings when cloud is aws"
    )
    vertex: VertexSettings | None = Field(default=None, description="settings when cloud is gcp")
    expected_traffic: ExpectedTraffic = Field(
        default_factory=ExpectedTraffic, description="the traffic the cost estimate prices"
    )


class RouteTarget(Model):
    deployment: Name | None = Field(default=None, description="a model deployment (models.*)")
    serverless: Name | None = Field(default=None, description="a serverless endpoint")


class RoutingClass(Model):
    """A request class: requests tagged with it go to one target."""

    tier: Tier = Field(description="capacity the class needs: heavy, light or cpu")
    target: RouteTarget = Field(description="where the class goes: deployment or serverless")


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
        Field(default=READY_PATH, description="the path DNS health checks probe")
    )


HttpsUrl = Annotated[str, _matching(r"https://[^\s/]+(/\S*)?", "an https:// URL")]
TENANT_PATTERN = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
TENANT_WORDS = (
    "a tenant name (a-z, 0-9 and '-', starting and ending with a letter or digit, 63 at most)"
)
TenantName = Annotated[str, _matching(TENANT_PATTERN, TENANT_WORDS)]
"""A tenant as the gateway knows it: an API key's client id, or a JWT tenant claim's value."""


class GatewayExposure(StrEnum):
    """Who reaches the gateway's load balancer."""

    PUBLIC = "public"
    """Anyone on the internet (auth required)."""
    RESTRICTED = "restricted"
    """An internet-facing load balancer that admits only ``sourceRanges``."""
    INTERNAL = "internal"
    """A load balancer inside the VPC (AWS internal NLB, GKE internal passthrough LB)."""


class AuthMode(StrEnum):
    API_KEY = "apiKey"
    JWT = "jwt"


class GatewayAuth(Model):
    """Who may call the API; the caller's tenant comes from this identity, never from a header
    the caller sends."""

    mode: AuthMode = Field(
        description="apiKey (keys from the stack secret gatewayApiKeys, one per tenant) or "
        "jwt (tokens of one issuer, checked against its JWKS)"
    )
    api_key_header: HeaderName = Field(
        default="x-api-key", description="apiKey: the request header that carries the key"
    )
    issuer: HttpsUrl | None = Field(default=None, description="jwt: the tokens' iss")
    jwks_uri: HttpsUrl | None = Field(
        default=None, description="jwt: the https:// URL of the issuer's JSON Web Key Set"
    )
    audiences: list[str] = Field(
        default_factory=list, max_length=8, description="jwt: accepted aud values (none: any)"
    )
    tenant_claim: (
        Annotated[str, _matching(r"[A-Za-z0-9_.:/-]{1,253}", "a JWT claim name such as tenant")]
        | None
    ) = Field(default=None, description="jwt: the claim that names the caller's tenant")


RateUnit = Literal["Second", "Minute", "Hour", "Day"]


class RateLimitValue(Model):
    requests: Int = Field(ge=1, le=4_000_000_000, description="requests allowed per unit")
    unit: RateUnit = Field(description="Second, Minute, Hour or Day")


class GatewayRateLimit(Model):
    """Per-tenant request limits, enforced by each gateway replica (Envoy's local rate limit)."""

    requests: Int = Field(ge=1, le=4_000_000_000, description="requests per unit, per tenant")
    unit: RateUnit = Field(description="Second, Minute, Hour or Day")
    tenants: dict[TenantName, RateLimitValue] = Field(
        default_factory=dict, description="tenant -> its own limit instead of the default"
    )


class GatewayConfig(Model):
    """The gateway's exposure, authentication and per-tenant rate limits."""

    exposure: GatewayExposure = Field(
        description="public, restricted (internet-facing, sourceRanges only) or internal "
        "(a load balancer inside the VPC)"
    )
    source_ranges: list[Cidr] = Field(
        default_factory=list, description="CIDRs admitted by the load balancer (restricted)"
    )
    auth: GatewayAuth | None = Field(
        default=None, description="apiKey or jwt; required when exposure is public"
    )
    rate_limit: GatewayRateLimit | None = Field(
        default=None, description="per-tenant limits (needs auth: the tenant is the identity)"
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
    gateway: GatewayConfig = Field(
        description="exposure (public, restricted, internal), auth and per-tenant rate limits"
    )
    dns: DnsConfig | None = Field(default=None, description="the API's public DNS name")
    classes: dict[Name, RoutingClass] = Field(
        default_factory=dict, description="request class name -> tier and target"
    )


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


SmtpHost = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9.-]+:\d{1,5}", "host:port of an SMTP relay, such as smtp.example.com:587"
    ),
]
SlackChannel = Annotated[
    str, _matching(r"[#@][a-z0-9._-]{1,80}", "a Slack channel such as #llm-alerts")
]


class SmtpConfig(Model):
    """The relay Alertmanager sends ``monitoring.alertEmails`` through. Its password is the
    stack secret ``llm-inference:alertSmtpPassword`` (required when ``username`` is set)."""

    smarthost: SmtpHost = Field(description="host:port of the SMTP relay")
    from_: Email = Field(alias="from", description="the sender address of alert e-mails")
    username: str | None = Field(
        default=None, min_length=1, description="SMTP login; none for a relay without auth"
    )
    require_tls: bool = Field(default=True, description="refuse to send without STARTTLS")


class PagingKind(StrEnum):
    PAGERDUTY = "pagerduty"
    WEBHOOK = "webhook"


class PagingConfig(Model):
    """Where pages (severity critical) go besides e-mail. The routing key or URL is a stack
    secret: ``alertPagerdutyRoutingKey`` (pagerduty) or ``alertPagingWebhookUrl`` (webhook)."""

    kind: PagingKind = Field(description="pagerduty (Events API v2) or webhook (any URL)")


class ChatConfig(Model):
    """The Slack channel tickets (severity warning) go to besides e-mail. The incoming-webhook
    URL is the stack secret ``alertSlackWebhookUrl``."""

    channel: SlackChannel = Field(description="the Slack channel, such as #llm-alerts")


class MonitoringConfig(Model):
    kube_prometheus_stack_version: ChartVersion = Field(
        description="prometheus-community/kube-prometheus-stack chart version"
    )
    retention_days: Int = Field(default=15, ge=1, le=400, description="Prometheus retention")
    alert_emails: list[Email] = Field(
        default_factory=list,
        description="who gets every page and ticket by e-mail (needs monitoring.smtp)",
    )
    smtp: SmtpConfig | None = Field(
        default=None, description="the SMTP relay the alert e-mails go through"
    )
    paging: PagingConfig | None = Field(
        default=None, description="pages (critical) also go to PagerDuty or a webhook"
    )
    chat: ChatConfig | None = Field(
        default=None, description="tickets (warning) also go to a Slack channel"
    )
    runbook_base_url: Annotated[str, _matching(r"https://\S+", "an https:// URL")] = Field(
        description="https:// base of the runbook links alerts carry"
    )
    prometheus_adapter_version: ChartVersion = Field(
        default="5.3.0", description="prometheus-community/prometheus-adapter chart (HPA metric)"
    )
    cloudwatch_exporter_version: ChartVersion = Field(
        # 0.47.0 is the newest release prometheus-community/helm-charts published (tag
        # prometheus-yet-another-cloudwatch-exporter-0.47.0); `make conformance` checks it.
        default="0.47.0",
        description="prometheus-community/prometheus-yet-another-cloudwatch-exporter chart",
    )


class BudgetConfig(Model):
    monthly_usd: Float = Field(gt=0, description="monthly budget in USD, split between clouds")
    thresholds_percent: list[int] = Field(
        default=[50, 80, 100], min_length=1, description="alert at these percents of the budget"
    )
    emails: list[Email] = Field(min_length=1, description="who the budget alerts go to")


# ---------------------------------------------------------------------------
# The stack


class StackConfig(Model):
    """Everything one stack (dev, staging, prod, edge) is configured with."""

    environment: Environment = Field(description="dev, staging, prod or edge")
    cost_center: LabelValue = Field(description="cost center tag and label on every resource")
    team: LabelValue = Field(description="owning team tag and label on every resource")
    deletion_protection: bool | None = Field(
        default=None,
        description="protect the stack's stateful resources (clusters, buckets, KMS keys) "
        "from deletion: Pulumi's protect, plus the provider's deletion protection where it "
        "has one (GKE); default true in prod, false elsewhere. Turn it off (and `up`) before "
        "a `pulumi destroy`",
    )
    aws: AwsSettings | None = Field(
        default=None, description="AWS region, zones, VPC range, NAT layout, tags"
    )
    gcp: GcpSettings | None = Field(
        default=None, description="GCP project, region, zones, subnet ranges, labels"
    )
    clusters: dict[Name, ClusterConfig] = Field(
        default_factory=dict, description="cluster name -> Kubernetes cluster (EKS or GKE)"
    )
    gpu_pools: dict[Name, GpuPoolConfig] = Field(
        default_factory=dict, description="pool name -> GPU (or CPU) node pool of a cluster"
    )
    serving: ServingConfig | None = Field(
        default=None, description="the pinned Triton image and model repository bucket"
    )
    models: dict[Name, ModelDeployment] = Field(
        default_factory=dict, description="deployment name -> Triton models served together"
    )
    serverless: dict[Name, ServerlessEndpoint] = Field(
        default_factory=dict, description="endpoint name -> SageMaker Serverless or Vertex AI"
    )
    routing: RoutingConfig | None = Field(
        default=None, description="entry cluster, routing header, request classes, DNS name"
    )
    edge: EdgeConfig | None = Field(
        default=None, description="an edge stack's core stack and delegated request classes"
    )
    monitoring: MonitoringConfig | None = Field(
        default=None, description="Prometheus stack versions, retention, alert e-mails, runbooks"
    )
    budget: BudgetConfig | None = Field(
        default=None, description="monthly budget, alert thresholds and recipients"
    )

    @property
    def protects_stateful(self) -> bool:
        """Whether clusters, buckets and keys are protected: ``deletionProtection``, or by
        default in prod (the ``prod-stateful-protected`` policy requires it there)."""
        if self.deletion_protection is not None:
            return self.deletion_protection
        return self.environment is Environment.PROD
