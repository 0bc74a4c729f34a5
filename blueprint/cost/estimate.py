"""A stack's monthly cost, from its configuration and the dated prices in the catalog.

Two figures per line and per stack:

- **floor**: what the stack costs with nothing but its minimum capacity up, around
  the clock: system pools at ``nodes.min``; each GPU pool's on-demand floor at the
  on-demand price of its first instance type and any minimum beyond the floor at
  the high end of that type's spot range; fixed fees (clusters, NAT gateways);
  serverless endpoints at their provisioned concurrency plus the configured
  expected traffic.
- **ceiling**: everything at ``nodes.max``, each node of the pool's most expensive
  instance type, burst nodes (above the on-demand floor) at the high end of the
  spot range seen when the pool is on spot; serverless endpoints saturated at
  their maximum concurrency around the clock.

A third figure, **ceiling if spot falls back**, prices every node of a pool with
``fallback: on-demand`` at on-demand: what a month with no spot capacity costs.

Per model and tenant: each model deployment's replicas take their share of a node
of the pool they are pinned to (GPUs or MIG slices per replica over those per
node), at ``replicas.min`` (floor) and ``replicas.max`` (ceiling). Serverless
endpoints carry their tenant. What no model claims is shared platform cost.
Every assumption is listed in :data:`ASSUMPTIONS` and printed with the estimate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from blueprint.capacity import GPU_RESOURCE, MIG_RESOURCE_PREFIX, gke_node_pool_plans
from blueprint.catalog import InstanceType, load_catalog
from blueprint.cost.prices import (
    HOURS_PER_MONTH,
    SECONDS_PER_MONTH,
    node_hourly,
    priciest,
    services,
)
from blueprint.modelrepo.llm import is_llm, load_llm
from blueprint.placement import place
from blueprint.schema import (
    Cloud,
    Fallback,
    GpuPoolConfig,
    ModelDeployment,
    ServerlessEndpoint,
    StackConfig,
)

ASSUMPTIONS = (
    "730 hours a month; prices in USD from blueprint/catalog/instances.yaml and "
    "services.yaml (us-east-1 / us-central1, dated there); other regions (edge: "
    "eu-west-1) differ by a few percent and are not adjusted",
    "spot at the high end of the range seen per instance type; a type with no spot "
    "price is priced on-demand",
    "floor: on-demand floor nodes at the on-demand price of the pool's first instance "
    "type, further minimum nodes at its spot price (spot pools), system pools at min",
    "ceiling: floor nodes on-demand, burst above the floor as nodes.max x the GPUs "
    "(vCPUs) of the pool's largest type, each at the highest price per GPU among its "
    "types (spot where there is a spot price): what Karpenter's GPU limit allows; "
    "'if spot falls back' prices every burst unit on-demand",
    "GKE pools: each GKE node pool the pool becomes (blueprint.capacity) at its own "
    "maximum, since GKE bounds them separately (the on-demand pool may take the whole "
    "burst again as fallback)",
    "per model: replicas x (GPUs or MIG slices per replica / per node) x node price; "
    "CPU-only replicas by their CPU request over the node's vCPUs",
    "SageMaker Serverless: memory GB x mean duration x requests x price per GB-second, "
    "plus data processed in and out; provisioned concurrency priced as always-busy "
    "on-demand compute (an upper bound: AWS bills it at a lower rate); ceiling = "
    "max concurrency busy around the clock",
    "Vertex AI endpoints: one node of the configured machine type at its Compute Engine "
    "price (a lower bound: Vertex prediction nodes cost more)",
    "LLM start-up per new replica: the weights copied from the bucket at 1 GB/s and loaded "
    "at 2 GB/s, then 60 s of engine warm-up (assumptions, not measured on a cloud), at the "
    "replica's share of a burst node",
    "not priced: data transfer, NAT and load-balancer data processing, storage, logs, "
    "KMS keys, support plans, taxes, savings plans and committed-use discounts",
)

EKS_CLUSTER = "aws-eks-cluster"
GKE_CLUSTER = "gcp-gke-cluster"
AWS_NAT = "aws-nat-gateway"
GCP_NAT_VM = "gcp-cloud-nat-vm"
SM_GB_SECOND = "aws-sagemaker-serverless-gb-second"
SM_DATA_GB = "aws-sagemaker-serverless-data-gb"

PLATFORM = "(shared platform)"
"""Model/tenant key of what no model claims: system pools, idle floors, fixed fees."""


@dataclass(frozen=True)
class Line:
    """One priced thing of a stack, per month."""

    kind: str  # pool | system-pool | fixed | serverless
    name: str
    cloud: str
    floor: float
    ceiling: float
    ceiling_fallback: float
    detail: str
    cluster: str | None = None
    """The cluster the line runs on (control plane, system and GPU pools); None otherwise."""


@dataclass(frozen=True)
class Share:
    """What one model deployment or serverless endpoint costs, per month."""

    name: str
    models: tuple[str, ...]
    tenant: str
    floor: float
    ceiling: float
    detail: str


@dataclass(frozen=True)
class Startup:
    """What starting one more replica of an LLM deployment costs before it serves."""

    name: str
    seconds: float
    usd: float
    detail: str


WEIGHTS_COPY_GBPS = 1.0
"""Assumed bucket-to-pod throughput of the weights copy (one `aws s3 cp` / `gcloud
storage cp` in the bucket's region); not measured here, no cloud being reachable."""
WEIGHTS_LOAD_GBPS = 2.0
"""Assumed local disk to device throughput of the engine's weights load."""
ENGINE_WARMUP_S = 60.0
"""Assumed graph capture and compilation after the load (vLLM on this build machine's
CPU took 35-65 s from start to /health on a 0.5 GB model)."""


def llm_startup_seconds(size_gb: float) -> float:
    """Seconds from pod start to serving for weights of ``size_gb``: copy, load, warm-up."""
    return size_gb / WEIGHTS_COPY_GBPS + size_gb / WEIGHTS_LOAD_GBPS + ENGINE_WARMUP_S


@dataclass
class Estimate:
    stack: str
    lines: list[Line]
    shares: list[Share]
    unpriced: list[str] = field(default_factory=list)
    startups: list[Startup] = field(default_factory=list)

    @property
    def floor(self) -> float:
        return sum(line.floor for line in self.lines)

    @property
    def ceiling(self) -> float:
        return sum(line.ceiling for line in self.lines)

    @property
    def ceiling_fallback(self) -> float:
        return sum(line.ceiling_fallback for line in self.lines)

    def by_cloud(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for line in self.lines:
            f, c = out.get(line.cloud, (0.0, 0.0))
            out[line.cloud] = (f + line.floor, c + line.ceiling)
        return out

    def by_cluster(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for line in self.lines:
            if line.cluster is not None:
                f, c = out.get(line.cluster, (0.0, 0.0))
                out[line.cluster] = (f + line.floor, c + line.ceiling)
        return out

    def by_tenant(self) -> dict[str, tuple[float, float]]:
        out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for share in self.shares:
            out[share.tenant][0] += share.floor
            out[share.tenant][1] += share.ceiling
        claimed_floor = sum(s.floor for s in self.shares)
        claimed_ceiling = sum(s.ceiling for s in self.shares)
        out[PLATFORM][0] += max(self.floor - claimed_floor, 0.0)
        out[PLATFORM][1] += max(self.ceiling - claimed_ceiling, 0.0)
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def estimate(cfg: StackConfig, stack: str) -> Estimate:
    """The monthly estimate of one stack's configuration."""
    result = Estimate(stack=stack, lines=[], shares=[])
    _clusters(cfg, result)
    _nat(cfg, result)
    for name, pool in cfg.gpu_pools.items():
        _gpu_pool(cfg, name, pool, result)
    for name, ep in cfg.serverless.items():
        _serverless(name, ep, result)
    for name, deployment in cfg.models.items():
        _model(cfg, name, deployment, result)
    return result


def _cloud_of(cfg: StackConfig, cluster: str) -> str:
    c = cfg.clusters.get(cluster)
    return c.cloud.value if c else "?"


def _clusters(cfg: StackConfig, out: Estimate) -> None:
    prices = services()
    for name, cluster in cfg.clusters.items():
        if cluster.existing is not None:
            # An adopted cluster's control plane and system nodes are billed whether or not
            # the stack exists; the estimate prices what the stack creates.
            continue
        key = EKS_CLUSTER if cluster.cloud is Cloud.AWS else GKE_CLUSTER
        fee = prices.usd(key) * HOURS_PER_MONTH
        out.lines.append(
            Line("fixed", f"{name} control plane", cluster.cloud.value, fee, fee, fee, key, name)
        )
        types = list(cluster.system_pool.instance_types)
        primary = load_catalog().instance(types[0])
        top = priciest(types, spot=False)
        if primary is None or top is None:
            out.unpriced.append(f"system pool of {name}: {types[0]} is not in the catalog")
            continue
        nodes = cluster.system_pool.nodes
        floor = nodes.min * primary.on_demand * HOURS_PER_MONTH
        ceiling = nodes.max * top.on_demand * HOURS_PER_MONTH
        out.lines.append(
            Line(
                "system-pool",
                f"{name} system",
                cluster.cloud.value,
                floor,
                ceiling,
                ceiling,
                f"{nodes.min}-{nodes.max} x {primary.name} on-demand",
                name,
            )
        )


def _nat(cfg: StackConfig, out: Estimate) -> None:
    prices = services()
    # An existing VPC or network brings its own egress: no NAT the stack pays for.
    if cfg.aws is not None and cfg.aws.existing_vpc is None:
        count = len(cfg.aws.availability_zones) if cfg.aws.nat_gateways == "per-zone" else 1
        usd = count * prices.usd(AWS_NAT) * HOURS_PER_MONTH
        out.lines.append(
            Line("fixed", "AWS NAT gateways", "aws", usd, usd, usd, f"{count} x {AWS_NAT}")
        )
    if cfg.gcp is not None and cfg.gcp.existing_network is None:
        nat = prices.services[GCP_NAT_VM]
        cap = nat.max_units or 32
        gcp_clusters = {n for n, c in cfg.clusters.items() if c.cloud is Cloud.GCP}
        vm_min = sum(cfg.clusters[c].system_pool.nodes.min for c in gcp_clusters) + sum(
            p.nodes.min for p in cfg.gpu_pools.values() if p.cluster in gcp_clusters
        )
        vm_max = sum(cfg.clusters[c].system_pool.nodes.max for c in gcp_clusters) + sum(
            p.nodes.max for p in cfg.gpu_pools.values() if p.cluster in gcp_clusters
        )
        floor = min(max(vm_min, 1), cap) * nat.usd * HOURS_PER_MONTH
        ceiling = min(max(vm_max, 1), cap) * nat.usd * HOURS_PER_MONTH
        out.lines.append(
            Line("fixed", "GCP Cloud NAT", "gcp", floor, ceiling, ceiling, f"per VM, {GCP_NAT_VM}")
        )


def _units(instance: InstanceType) -> int:
    """What a pool's ceiling counts on one node: GPUs, or vCPUs on a CPU type."""
    return instance.gpus or instance.vcpus


def pool_prices(pool: GpuPoolConfig) -> tuple[float, float, float, float] | None:
    """Hourly prices of one node of a pool: (floor on-demand, floor spot, burst, fallback).

    Floor nodes run the first instance type. Burst capacity is bounded in GPUs (vCPUs
    for CPU pools): ``nodes.max`` of the largest type, which the autoscaler may fill
    with any listed type; a burst node is priced as that many units at the highest
    price per unit among the types (spot where the pool is on spot and the type has
    a spot price). Fallback nodes are the most expensive type on-demand.
    """
    catalog = load_catalog()
    primary = catalog.instance(pool.instance_types[0])
    known = [catalog.instances[t] for t in pool.instance_types if t in catalog.instances]
    top_od = priciest(pool.instance_types, spot=False)
    if primary is None or top_od is None or len(known) != len(pool.instance_types):
        return None
    units = max(_units(i) for i in known)
    per_unit = max(node_hourly(i, spot=pool.spot) / _units(i) for i in known)
    fallback_per_unit = max(i.on_demand / _units(i) for i in known)
    return (
        primary.on_demand,
        node_hourly(primary, spot=pool.spot),
        units * per_unit,
        max(top_od.on_demand, units * fallback_per_unit),
    )


def _gpu_pool(cfg: StackConfig, name: str, pool: GpuPoolConfig, out: Estimate) -> None:
    prices = pool_prices(pool)
    cloud = _cloud_of(cfg, pool.cluster)
    if prices is None:
        out.unpriced.append(f"pool {name}: instance types not in the catalog")
        return
    if cloud == Cloud.GCP.value:
        _gke_pool(name, pool, out, cluster=pool.cluster)
        return
    od, floor_spot, burst, fallback = prices
    on_demand_floor = min(pool.on_demand_floor, pool.nodes.min)
    floor = (on_demand_floor * od + (pool.nodes.min - on_demand_floor) * floor_spot) * (
        HOURS_PER_MONTH
    )
    above = pool.nodes.max - on_demand_floor
    ceiling = (on_demand_floor * fallback + above * burst) * HOURS_PER_MONTH
    falls_back = pool.spot and pool.fallback is Fallback.ON_DEMAND
    worst = pool.nodes.max * fallback * HOURS_PER_MONTH if falls_back else ceiling
    capacity = "spot" if pool.spot else "on-demand"
    out.lines.append(
        Line(
            "pool",
            name,
            cloud,
            floor,
            ceiling,
            worst,
            f"{pool.nodes.min}-{pool.nodes.max} x {'/'.join(pool.instance_types)}, "
            f"floor {on_demand_floor} on-demand, burst {capacity}",
            pool.cluster,
        )
    )


def _gke_pool(name: str, pool: GpuPoolConfig, out: Estimate, *, cluster: str) -> None:
    """A GKE pool as the node pools it becomes (``blueprint.capacity``): GKE bounds each
    separately, so the ceiling is the sum of their maximums (the on-demand pool may
    take the whole burst again as fallback)."""
    catalog = load_catalog()
    plans = gke_node_pool_plans(
        name,
        pool.instance_types,
        floor=pool.on_demand_floor,
        max_nodes=pool.nodes.max,
        spot=pool.spot,
        fallback=pool.fallback,
    )
    floor = ceiling = worst = 0.0
    for plan in plans:
        inst = catalog.instance(plan.machine_type)
        if inst is None:
            out.unpriced.append(f"pool {name}: {plan.machine_type} is not in the catalog")
            return
        floor += plan.min_nodes * node_hourly(inst, spot=plan.spot) * HOURS_PER_MONTH
        ceiling += plan.max_nodes * node_hourly(inst, spot=plan.spot) * HOURS_PER_MONTH
        worst += plan.max_nodes * inst.on_demand * HOURS_PER_MONTH
    shape = ", ".join(
        f"{p.name.removeprefix(name + '-')} {p.min_nodes}-{p.max_nodes} x {p.machine_type}"
        for p in plans
    )
    out.lines.append(
        Line("pool", name, "gcp", floor, ceiling, worst, f"GKE node pools: {shape}", cluster)
    )


def _serverless(name: str, ep: ServerlessEndpoint, out: Estimate) -> None:
    prices = services()
    if ep.cloud is Cloud.AWS and ep.sagemaker is not None:
        sm = ep.sagemaker
        gb = sm.memory_mb / 1024
        per_gb_s = prices.usd(SM_GB_SECOND)
        traffic = ep.expected_traffic
        compute = traffic.requests_per_month * traffic.mean_duration_ms / 1000 * gb * per_gb_s
        data = traffic.requests_per_month * traffic.mean_payload_kb / (1024 * 1024)
        expected = compute + data * prices.usd(SM_DATA_GB)
        provisioned = sm.provisioned_concurrency * gb * per_gb_s * SECONDS_PER_MONTH
        floor = provisioned + expected
        ceiling = sm.max_concurrency * gb * per_gb_s * SECONDS_PER_MONTH + data * prices.usd(
            SM_DATA_GB
        )
        detail = (
            f"{sm.memory_mb} MB, {traffic.requests_per_month:,} req/month x "
            f"{traffic.mean_duration_ms:g} ms, provisioned {sm.provisioned_concurrency}, "
            f"max {sm.max_concurrency}"
        )
    elif ep.cloud is Cloud.GCP and ep.vertex is not None:
        vx = ep.vertex
        inst = load_catalog().instance(vx.machine_type)
        if inst is None:
            out.unpriced.append(
                f"serverless {name}: machine type {vx.machine_type!r} not in catalog"
            )
            return
        floor = vx.replicas.min * inst.on_demand * HOURS_PER_MONTH
        ceiling = vx.replicas.max * inst.on_demand * HOURS_PER_MONTH
        detail = (
            f"{vx.replicas.min}-{vx.replicas.max} x {inst.name} (Vertex AI, billed per node-hour)"
        )
    else:
        out.unpriced.append(f"serverless {name}: no {ep.cloud.value} settings")
        return
    out.lines.append(Line("serverless", name, ep.cloud.value, floor, ceiling, ceiling, detail))
    out.shares.append(Share(name, (ep.repo_model,), ep.tenant, floor, ceiling, detail))


def _units_per_node(pool: GpuPoolConfig, instance: str) -> tuple[float, str] | None:
    """GPU units one node of ``instance`` offers in this pool, and the resource name."""
    catalog = load_catalog()
    inst = catalog.instance(instance)
    gpu = catalog.gpu_of(instance)
    if inst is None or gpu is None:
        return None
    if pool.mig is not None and pool.mig.profile is not None and pool.mig.profile in gpu.mig:
        return inst.gpus * gpu.mig[pool.mig.profile].instances, pool.mig.profile
    if pool.mig is not None and pool.mig.mixed:
        return inst.gpus * sum(pool.mig.mixed.values()), "mig"
    return float(inst.gpus), "gpu"


def _replica_units(deployment: ModelDeployment) -> float:
    total = 0.0
    for key, value in deployment.resources.limits.items():
        if key == GPU_RESOURCE or key.startswith(MIG_RESOURCE_PREFIX):
            total += float(value)
    return total


def _model(cfg: StackConfig, name: str, deployment: ModelDeployment, out: Estimate) -> None:
    where = place(cfg, name) if deployment.cluster in cfg.clusters else None
    if where is None or where.pool is None or where.pool.system:
        out.unpriced.append(f"model {name}: runs on no GPU pool (blueprint.placement)")
        return
    pool_name = where.pool.name
    pool = cfg.gpu_pools[pool_name]
    prices = pool_prices(pool)
    units = _replica_units(deployment)
    if prices is None:
        return
    od, floor_spot, burst, _fallback = prices
    floor_node = od if pool.on_demand_floor > 0 else floor_spot
    primary = pool.instance_types[0]
    per_node = _units_per_node(pool, primary)
    if units > 0 and per_node is not None and per_node[0] > 0:
        share = units / per_node[0]
        unit = f"{units:g}/{per_node[0]:g} of a {primary}"
    else:
        inst = load_catalog().instance(primary)
        cpu = float(_cpu(deployment.resources.requests.get("cpu", "0")))
        share = cpu / inst.vcpus if inst else 0.0
        unit = f"{cpu:g} vCPU of a {primary}"
    floor = deployment.replicas.min * share * floor_node * HOURS_PER_MONTH
    ceiling = deployment.replicas.max * share * burst * HOURS_PER_MONTH
    llm = next((m for m in deployment.repo_models if is_llm(m)), None)
    if llm is not None:
        size = load_llm(llm).weights(deployment.variant).size_gb
        seconds = llm_startup_seconds(size)
        out.startups.append(
            Startup(
                name,
                seconds,
                seconds / 3600 * share * burst,
                f"{size:g} GB of weights: copy at {WEIGHTS_COPY_GBPS:g} GB/s, load at "
                f"{WEIGHTS_LOAD_GBPS:g} GB/s, {ENGINE_WARMUP_S:g} s warm-up; {unit} at the "
                "burst price",
            )
        )
    out.shares.append(
        Share(
            name,
            tuple(deployment.repo_models),
            deployment.tenant,
            floor,
            ceiling,
            f"{deployment.replicas.min}-{deployment.replicas.max} replicas x {unit} "
            f"(pool {pool_name})",
        )
    )


def _cpu(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def usd(value: float) -> str:
    return f"${value:,.0f}"
