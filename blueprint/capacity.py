"""What each node pool of a stack offers, derived from its configuration and the catalog.

Pure functions, no Pulumi: the config rules (MIG geometry, workload placement),
the cloud components (labels, taints, ceilings, the GPU Operator's mig-parted
config) and the tests all read the same :class:`PoolSpec`, so a label or a
ceiling is computed in exactly one place.

Vocabulary:

- *floor*: ``onDemandFloor`` nodes that are always up, on on-demand capacity;
- *burst*: ``nodes.max - onDemandFloor`` nodes added on demand, on spot when
  ``spot`` is set (falling back to on-demand when ``fallback: on-demand``);
- *ceiling*: the most GPUs a pool can ever hold (nodes times GPUs per node of
  its largest instance type).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from blueprint import tags
from blueprint.catalog import Catalog, GpuModel, InstanceType, load_catalog
from blueprint.schema import (
    Cloud,
    Fallback,
    GpuPoolConfig,
    MigConfig,
    StackConfig,
    Tier,
)

NVIDIA_RESOURCE_PREFIX: Final = "nvidia.com/"
"""Every extended resource NVIDIA's device plugin advertises starts with this."""
GPU_RESOURCE: Final = NVIDIA_RESOURCE_PREFIX + "gpu"
"""The extended resource a whole GPU (or, on GKE, one MIG partition) is requested as."""
MIG_RESOURCE_PREFIX: Final = NVIDIA_RESOURCE_PREFIX + "mig-"
"""With the GPU Operator's ``mixed`` MIG strategy, a slice is ``nvidia.com/mig-<profile>``."""
MIG_CONFIG_LABEL: Final = "nvidia.com/mig.config"
"""The node label the GPU Operator's MIG manager reads to choose a layout."""
MIG_DISABLED: Final = "all-disabled"
"""The layout that keeps MIG off on a MIG-capable GPU."""

GPU_TAINT_KEY: Final = "nvidia.com/gpu"
GKE_ACCELERATOR_LABEL: Final = "cloud.google.com/gke-accelerator"
GKE_PARTITION_LABEL: Final = "cloud.google.com/gke-gpu-partition-size"
GKE_COMPUTE_CLASS_LABEL: Final = "cloud.google.com/compute-class"
GKE_SPOT_LABEL: Final = "cloud.google.com/gke-spot"
GKE_NODEPOOL_LABEL: Final = "cloud.google.com/gke-nodepool"
INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
HOSTNAME_LABEL: Final = "kubernetes.io/hostname"
ARCH_LABEL: Final = "kubernetes.io/arch"
KARPENTER_CAPACITY_LABEL: Final = "karpenter.sh/capacity-type"
EKS_CAPACITY_LABEL: Final = "eks.amazonaws.com/capacityType"

TIER_GPUS: Final[Mapping[Tier, frozenset[str]]] = MappingProxyType(
    {
        Tier.HEAVY: frozenset({"H100-80GB", "H200-141GB", "A100-40GB", "A100-80GB", "B200-180GB"}),
        Tier.LIGHT: frozenset({"L40S-48GB", "L4-24GB", "A10G-24GB"}),
        Tier.CPU: frozenset(),
    }
)
"""Which GPU models each tier may use; a CPU tier uses none."""

SYSTEM_POOL: Final = "system"
"""The pool label value of each cluster's system (CPU, on-demand) node group."""


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # NoSchedule | PreferNoSchedule | NoExecute

    def to_k8s(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "effect": self.effect}

    def to_node_pool(self) -> dict[str, str]:
        """The taint as EKS node groups and GKE node pools take it (``NO_SCHEDULE``)."""
        return {"key": self.key, "value": self.value, "effect": NODE_POOL_EFFECT[self.effect]}


NODE_POOL_EFFECT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "NoSchedule": "NO_SCHEDULE",
        "NoExecute": "NO_EXECUTE",
        "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    }
)
"""Kubernetes taint effects in the enum form of the EKS and GKE node pool APIs."""


AWS_GPU_TAINT: Final = Taint(GPU_TAINT_KEY, "true", "NoSchedule")
"""What the blueprint puts on every EKS GPU node."""
GKE_GPU_TAINT: Final = Taint(GPU_TAINT_KEY, "present", "NoSchedule")
"""What GKE itself puts on every GPU node; declared too, so that policies see it."""


@dataclass(frozen=True, kw_only=True)
class NodeCounts:
    """Node counts of a fixed-size or autoscaled group."""

    min: int
    desired: int
    max: int


@dataclass(frozen=True)
class NodeShape:
    """One instance type as a node of a pool: what the scheduler sees on it."""

    instance_type: str
    gpus: int
    vcpus: int
    memory_gib: int
    resources: Mapping[str, int]
    """Extended resources per node: ``nvidia.com/gpu`` or ``nvidia.com/mig-<profile>``."""


@dataclass(frozen=True)
class GkeNodePoolPlan:
    """One GKE node pool behind a config pool (GKE node pools have one machine type)."""

    name: str
    machine_type: str
    spot: bool
    min_nodes: int
    max_nodes: int


@dataclass(frozen=True)
class PoolSpec:
    """A configured pool (or a cluster's system pool) as its nodes will be."""

    name: str
    cluster: str
    cloud: Cloud
    tier: Tier
    gpu: GpuModel | None
    shapes: tuple[NodeShape, ...]
    floor: int
    """On-demand nodes always up."""
    max_nodes: int
    """``nodes.max``: the configured ceiling in nodes."""
    spot: bool
    fallback: Fallback
    mig: MigConfig | None
    zones: tuple[str, ...]
    disk_gb: int
    labels: Mapping[str, str]
    """Labels every node of the pool carries."""
    label_domains: Mapping[str, frozenset[str]]
    """Labels whose value depends on the node (instance type, zone, capacity type)."""
    taints: tuple[Taint, ...]
    system: bool = False
    gke_node_pools: tuple[GkeNodePoolPlan, ...] = field(default=())

    @property
    def burst(self) -> int:
        """Nodes above the floor, added on demand."""
        return self.max_nodes - self.floor

    @property
    def max_gpus_per_node(self) -> int:
        return max((s.gpus for s in self.shapes), default=0)

    @property
    def capacity_types(self) -> tuple[str, ...]:
        """Capacity types the burst may use, most preferred first."""
        return _capacity_types(self.spot, self.fallback)

    @property
    def ceiling_nodes(self) -> int:
        """The most nodes the cloud will run for this pool.

        EKS enforces ``nodes.max`` exactly (floor node group + a Karpenter NodePool
        whose limit is the burst). GKE bounds each node pool separately: spot pools
        share the burst, and the on-demand pool may take the whole burst again as
        fallback, so the worst case is the floor plus the burst twice.
        """
        if self.cloud is Cloud.GCP and not self.system:
            return sum(p.max_nodes for p in self.gke_node_pools)
        return self.max_nodes

    @property
    def ceiling_gpus(self) -> int:
        return self.ceiling_nodes * self.max_gpus_per_node

    @property
    def mig_layout(self) -> str | None:
        """The ``nvidia.com/mig.config`` layout of the pool's nodes (EKS)."""
        return self.labels.get(MIG_CONFIG_LABEL)


def mig_layout_name(mig: MigConfig | None) -> str:
    """The mig-parted layout name for a pool's MIG setting.

    ``all-<profile>`` follows NVIDIA's default config; a mix is named after its
    parts, e.g. ``mixed-1x3g.40gb-2x1g.10gb``.
    """
    if mig is None:
        return MIG_DISABLED
    if mig.profile is not None:
        return f"all-{mig.profile}"
    parts = sorted((mig.mixed or {}).items(), key=lambda kv: (-_slices_of(kv[0]), kv[0]))
    return "mixed-" + "-".join(f"{count}x{profile}" for profile, count in parts)


def _slices_of(profile: str) -> int:
    head = profile.split(".", 1)[0]
    return int(head[:-1]) if head[:-1].isdigit() else 0


def mig_slices_per_gpu(gpu: GpuModel, mig: MigConfig) -> dict[str, int]:
    """MIG profile -> instances on one GPU under ``mig`` (profiles the GPU lacks omitted)."""
    if mig.profile is not None:
        found = gpu.mig.get(mig.profile)
        return {mig.profile: found.instances} if found else {}
    return {p: n for p, n in (mig.mixed or {}).items() if p in gpu.mig}


def _node_resources(
    cloud: Cloud, gpu: GpuModel | None, gpus: int, mig: MigConfig | None
) -> dict[str, int]:
    if gpu is None or gpus == 0:
        return {}
    if mig is None or not gpu.supports_mig:
        return {GPU_RESOURCE: gpus}
    slices = mig_slices_per_gpu(gpu, mig)
    if cloud is Cloud.GCP:
        # GKE exposes each partition of a node pool's single partition size as
        # one nvidia.com/gpu, selected by the gke-gpu-partition-size label.
        return {GPU_RESOURCE: gpus * sum(slices.values())}
    return {f"{MIG_RESOURCE_PREFIX}{p}": gpus * n for p, n in slices.items()}


def gke_node_pool_plans(
    name: str,
    instance_types: Iterable[str],
    *,
    floor: int,
    max_nodes: int,
    spot: bool,
    fallback: Fallback,
) -> tuple[GkeNodePoolPlan, ...]:
    """The GKE node pools behind one config pool, in fallback order is not implied.

    - ``<pool>-od``: on-demand, the first machine type; holds the floor, and with
      ``fallback: on-demand`` (or without spot) may grow by the whole burst;
    - ``<pool>-spot-<i>``: one spot pool per machine type, sharing the burst
      evenly (the first types take the remainder), so the spot nodes together
      never exceed ``nodes.max - onDemandFloor``. A type whose share is 0 gets no
      pool.
    """
    types = list(instance_types)
    burst = max_nodes - floor
    plans: list[GkeNodePoolPlan] = []
    od_max = floor + (burst if (not spot or fallback is Fallback.ON_DEMAND) else 0)
    if od_max > 0:
        plans.append(GkeNodePoolPlan(f"{name}-od", types[0], False, floor, od_max))
    if spot and burst > 0:
        share, extra = divmod(burst, len(types))
        for i, machine in enumerate(types):
            n = share + (1 if i < extra else 0)
            if n > 0:
                plans.append(GkeNodePoolPlan(f"{name}-spot-{i}", machine, True, 0, n))
    return tuple(plans)


def pool_spec(
    name: str, pool: GpuPoolConfig, cfg: StackConfig, catalog: Catalog | None = None
) -> PoolSpec | None:
    """The spec of one configured pool, or None when its config cannot resolve.

    None when the cluster or an instance type is unknown: the config rules report
    those, and nothing derived from such a pool would be meaningful.
    """
    catalog = catalog or load_catalog()
    cluster = cfg.clusters.get(pool.cluster)
    if cluster is None:
        return None
    cloud = cluster.cloud
    rows = [catalog.instance(t) for t in pool.instance_types]
    resolved = _resolve_gpu(pool, cloud, rows, catalog)
    if resolved is None:
        return None
    gpu = resolved[0]
    mig = pool.mig
    shapes = tuple(
        NodeShape(
            instance_type=r.name,
            gpus=r.gpus,
            vcpus=r.vcpus,
            memory_gib=r.memory_gib,
            resources=MappingProxyType(_node_resources(cloud, gpu, r.gpus, mig)),
        )
        for r in rows
        if r is not None
    )
    zones = tuple(pool.zones or _cloud_zones(cfg, cloud))

    labels: dict[str, str] = {tags.POOL_LABEL: name, tags.TIER_LABEL: pool.tier.value}
    if gpu is not None:
        labels[tags.GPU_LABEL] = gpu.name
    domains: dict[str, frozenset[str]] = {
        INSTANCE_TYPE_LABEL: frozenset(pool.instance_types),
        ZONE_LABEL: frozenset(zones),
    }
    if cloud is Cloud.AWS:
        plans: tuple[GkeNodePoolPlan, ...] = ()
        taints = _aws_nodes(pool, gpu, labels, domains)
    else:
        plans = gke_node_pool_plans(
            name,
            pool.instance_types,
            floor=pool.on_demand_floor,
            max_nodes=pool.nodes.max,
            spot=pool.spot,
            fallback=pool.fallback,
        )
        taints = _gke_nodes(name, pool=pool, gpu=gpu, plans=plans, labels=labels, domains=domains)

    return PoolSpec(
        name=name,
        cluster=pool.cluster,
        cloud=cloud,
        tier=pool.tier,
        gpu=gpu,
        shapes=shapes,
        floor=pool.on_demand_floor,
        max_nodes=pool.nodes.max,
        spot=pool.spot,
        fallback=pool.fallback,
        mig=mig,
        zones=zones,
        disk_gb=pool.disk_gb,
        labels=MappingProxyType(labels),
        label_domains=MappingProxyType(domains),
        taints=tuple(taints),
        gke_node_pools=plans,
    )


def _resolve_gpu(
    pool: GpuPoolConfig, cloud: Cloud, rows: list[InstanceType | None], catalog: Catalog
) -> tuple[GpuModel | None] | None:
    """The pool's GPU model (None for CPU pools), or None when the pool is invalid:
    unknown or foreign instance types, mixed GPU models, a tier/GPU mismatch, a MIG
    layout the GPU or the cloud cannot take. The config rules report each."""
    if any(r is None or r.cloud != cloud.value for r in rows):
        return None
    gpu_names = {r.gpu for r in rows if r is not None}
    if len(gpu_names) != 1:
        return None
    gpu_name = next(iter(gpu_names))
    gpu = catalog.gpus[gpu_name] if gpu_name else None
    if (gpu is None) != (pool.tier is Tier.CPU) or (gpu and gpu.name not in TIER_GPUS[pool.tier]):
        return None
    mig = pool.mig
    if mig is not None and not _mig_resolves(gpu, mig):
        return None
    if mig is not None and mig.mixed is not None and cloud is Cloud.GCP:
        return None  # GKE has one partition size per node pool
    return (gpu,)


def _aws_nodes(
    pool: GpuPoolConfig,
    gpu: GpuModel | None,
    labels: dict[str, str],
    domains: dict[str, frozenset[str]],
) -> tuple[Taint, ...]:
    """EKS: the blueprint's GPU taint, the MIG layout label, capacity-type labels."""
    if pool.nodes.max > pool.on_demand_floor:
        domains[KARPENTER_CAPACITY_LABEL] = frozenset(_capacity_types(pool.spot, pool.fallback))
    if pool.on_demand_floor > 0:
        domains[EKS_CAPACITY_LABEL] = frozenset({"ON_DEMAND"})
    if gpu is None:
        return ()
    if gpu.supports_mig:
        labels[MIG_CONFIG_LABEL] = mig_layout_name(pool.mig)
    return (AWS_GPU_TAINT,)


def _gke_nodes(
    name: str,
    *,
    pool: GpuPoolConfig,
    gpu: GpuModel | None,
    plans: tuple[GkeNodePoolPlan, ...],
    labels: dict[str, str],
    domains: dict[str, frozenset[str]],
) -> tuple[Taint, ...]:
    """GKE: the pool's ComputeClass label and taint, GKE's accelerator labels and GPU taint."""
    labels[GKE_COMPUTE_CLASS_LABEL] = name
    taints = [Taint(GKE_COMPUTE_CLASS_LABEL, name, "NoSchedule")]
    domains[GKE_NODEPOOL_LABEL] = frozenset(p.name for p in plans)
    if any(p.spot for p in plans):
        domains[GKE_SPOT_LABEL] = frozenset({"true"})
    if gpu is not None:
        taints.append(GKE_GPU_TAINT)
        if gpu.gke_accelerator:
            labels[GKE_ACCELERATOR_LABEL] = gpu.gke_accelerator
        if pool.mig is not None and pool.mig.profile is not None:
            labels[GKE_PARTITION_LABEL] = pool.mig.profile
    return tuple(taints)


def _mig_resolves(gpu: GpuModel | None, mig: MigConfig) -> bool:
    if gpu is None or not gpu.supports_mig:
        return False
    if (mig.profile is None) == (mig.mixed is None):
        return False
    wanted = [mig.profile] if mig.profile is not None else list(mig.mixed or {})
    return all(p in gpu.mig for p in wanted) and all(n >= 1 for n in (mig.mixed or {}).values())


def _capacity_types(spot: bool, fallback: Fallback) -> tuple[str, ...]:
    if not spot:
        return ("on-demand",)
    return ("spot", "on-demand") if fallback is Fallback.ON_DEMAND else ("spot",)


def _cloud_zones(cfg: StackConfig, cloud: Cloud) -> list[str]:
    if cloud is Cloud.AWS:
        return list(cfg.aws.availability_zones) if cfg.aws else []
    return list(cfg.gcp.zones) if cfg.gcp else []


def system_pool_spec(
    cluster_name: str, cfg: StackConfig, catalog: Catalog | None = None
) -> PoolSpec | None:
    """A cluster's system node group as a pool: CPU, on-demand, labelled, untainted."""
    catalog = catalog or load_catalog()
    cluster = cfg.clusters[cluster_name]
    rows = [catalog.instance(t) for t in cluster.system_pool.instance_types]
    if any(r is None for r in rows):
        return None
    zones = tuple(_cloud_zones(cfg, cluster.cloud))
    return PoolSpec(
        name=SYSTEM_POOL,
        cluster=cluster_name,
        cloud=cluster.cloud,
        tier=Tier.CPU,
        gpu=None,
        shapes=tuple(
            NodeShape(r.name, 0, r.vcpus, r.memory_gib, MappingProxyType({}))
            for r in rows
            if r is not None
        ),
        floor=cluster.system_pool.nodes.min,
        max_nodes=cluster.system_pool.nodes.max,
        spot=False,
        fallback=Fallback.NONE,
        mig=None,
        zones=zones,
        disk_gb=100,
        labels=MappingProxyType({tags.POOL_LABEL: SYSTEM_POOL, tags.TIER_LABEL: Tier.CPU.value}),
        label_domains=MappingProxyType(
            {
                INSTANCE_TYPE_LABEL: frozenset(cluster.system_pool.instance_types),
                ZONE_LABEL: frozenset(zones),
            }
        ),
        taints=(),
        system=True,
    )


def pool_specs(cfg: StackConfig, catalog: Catalog | None = None) -> dict[str, PoolSpec]:
    """Every configured pool that resolves, by name."""
    out = {}
    for name, pool in cfg.gpu_pools.items():
        spec = pool_spec(name, pool, cfg, catalog)
        if spec is not None:
            out[name] = spec
    return out


# ---------------------------------------------------------------------------
# The GPU Operator's MIG manager configuration


def mig_parted_config(
    catalog: Catalog | None = None,
    extra: Mapping[str, Sequence[tuple[GpuModel, MigConfig]]] | None = None,
) -> dict[str, Any]:
    """The mig-parted configuration (``version: v1``) the MIG manager applies.

    Generated from the catalog: ``all-disabled``, and ``all-<profile>`` for every
    profile of every MIG-capable GPU. Where one profile name means different
    instance counts on different GPUs (``1g.10gb``), the layout has one entry per
    GPU group with a ``device-filter`` of PCI device IDs, as NVIDIA's default
    config does. ``extra`` adds the stack's mixed layouts by name, each filtered
    to its GPU.
    """
    catalog = catalog or load_catalog()
    configs: dict[str, list[dict[str, Any]]] = {
        MIG_DISABLED: [{"devices": "all", "mig-enabled": False}],
    }
    by_profile: dict[str, dict[int, list[GpuModel]]] = {}
    for gpu in sorted(catalog.gpus.values(), key=lambda g: g.name):
        for profile, row in gpu.mig.items():
            by_profile.setdefault(profile, {}).setdefault(row.instances, []).append(gpu)
    for profile in sorted(by_profile, key=lambda p: (_slices_of(p), _memory_of(p), p)):
        groups = by_profile[profile]
        entries = []
        for count in sorted(groups, reverse=True):
            entry: dict[str, Any] = {}
            if len(groups) > 1:
                entry["device-filter"] = sorted(
                    {pci for gpu in groups[count] for pci in gpu.pci_device_ids}
                )
            entry.update({"devices": "all", "mig-enabled": True, "mig-devices": {profile: count}})
            entries.append(entry)
        configs[f"all-{profile}"] = entries
    for name, uses in sorted((extra or {}).items()):
        if name in configs:
            continue
        configs[name] = [
            {
                "device-filter": sorted(gpu.pci_device_ids),
                "devices": "all",
                "mig-enabled": True,
                "mig-devices": dict(sorted(mig_slices_per_gpu(gpu, mig).items())),
            }
            for gpu, mig in sorted(uses, key=lambda use: use[0].name)
        ]
    return {"version": "v1", "mig-configs": configs}


def _memory_of(profile: str) -> int:
    tail = profile.split(".", 1)[-1]
    digits = tail[:-2] if tail.endswith("gb") else ""
    return int(digits) if digits.isdigit() else 0


def stack_mig_layouts(specs: Iterable[PoolSpec]) -> dict[str, list[tuple[GpuModel, MigConfig]]]:
    """The mixed layouts a set of pools uses, by layout name, for :func:`mig_parted_config`."""
    out: dict[str, list[tuple[GpuModel, MigConfig]]] = {}
    for spec in specs:
        if spec.gpu is not None and spec.mig is not None and spec.mig.mixed is not None:
            uses = out.setdefault(mig_layout_name(spec.mig), [])
            if all(g.name != spec.gpu.name for g, _ in uses):
                uses.append((spec.gpu, spec.mig))
    return out
