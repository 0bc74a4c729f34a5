"""Rules about GPU capacity: catalog instance types, tiers, MIG geometry, spot, floors,
and the cluster settings GPU pools need (pinned GPU Operator, Karpenter, node AMI)."""

from __future__ import annotations

from collections.abc import Iterator

from blueprint.capacity import SYSTEM_POOL, TIER_GPUS, mig_layout_name
from blueprint.catalog import GpuModel, eks_addons, load_catalog
from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.schema import (
    Cloud,
    ClusterConfig,
    Environment,
    GpuPoolConfig,
    StackConfig,
    Tier,
)

__all__ = ["TIER_GPUS", "pool_gpu"]

GKE_NODE_POOL_NAME_MAX = 40
"""GKE node pool names are at most 40 characters; the blueprint names them
``<pool>-od`` and ``<pool>-spot-<n>``."""
GKE_POOL_SUFFIX = len("-spot-0")


def pool_gpu(pool: GpuPoolConfig) -> GpuModel | None:
    """The GPU model of a pool (that of its first instance type), if any."""
    return load_catalog().gpu_of(pool.instance_types[0])


@rule
def instance_types(cfg: StackConfig) -> Iterator[ConfigIssue]:
    catalog = load_catalog()
    for name, pool in cfg.gpu_pools.items():
        base = ("gpuPools", name)
        cluster = cfg.clusters.get(pool.cluster)
        cloud = cluster.cloud.value if cluster else None
        gpus_seen: set[str | None] = set()
        for i, itype in enumerate(pool.instance_types):
            inst = catalog.instance(itype)
            path = (*base, "instanceTypes", i)
            if inst is None or (cloud is not None and inst.cloud != cloud):
                wanted = TIER_GPUS[pool.tier]
                known = [
                    n
                    for n in catalog.instance_names(cloud or "aws")
                    if (catalog.instances[n].gpu in wanted)
                    or (not wanted and not catalog.instances[n].gpus)
                ]
                yield ConfigIssue(
                    path,
                    f"not a {cloud or ''} instance type in the catalog for tier {pool.tier.value}; "
                    f"known: {', '.join(known)}",
                    itype,
                )
                continue
            gpus_seen.add(inst.gpu)
            if pool.tier is Tier.CPU and inst.gpus:
                yield ConfigIssue(path, "a cpu-tier pool takes CPU instance types", itype)
            elif pool.tier is not Tier.CPU and inst.gpu not in TIER_GPUS[pool.tier]:
                allowed = ", ".join(sorted(TIER_GPUS[pool.tier]))
                yield ConfigIssue(
                    path,
                    f"has {inst.gpu or 'no GPU'}, which is not a "
                    f"{pool.tier.value}-tier GPU ({allowed})",
                    itype,
                )
        if len(gpus_seen) > 1:
            yield ConfigIssue(
                (*base, "instanceTypes"),
                "all instance types of a pool must carry the same GPU model; found "
                + ", ".join(sorted(str(g) for g in gpus_seen)),
                list(pool.instance_types),
            )


@rule
def mig_geometry(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, pool in cfg.gpu_pools.items():
        if pool.mig is None:
            continue
        base = ("gpuPools", name, "mig")
        if pool.tier is Tier.CPU:
            yield ConfigIssue(
                base,
                "a cpu-tier pool has no GPU to partition; remove mig",
                pool.mig.model_dump(by_alias=True, exclude_none=True),
            )
            continue
        gpu = pool_gpu(pool)
        if gpu is None:
            continue  # instance_types already reported the pool's instance type
        if not gpu.supports_mig:
            yield ConfigIssue(
                base,
                f"{gpu.name} has no MIG (time-slicing only); remove mig or use an "
                "H100, H200, A100 or B200 instance type",
                pool.mig.model_dump(by_alias=True, exclude_none=True),
            )
            continue
        known = ", ".join(gpu.mig)
        if (pool.mig.profile is None) == (pool.mig.mixed is None):
            yield ConfigIssue(base, "set exactly one of profile or mixed")
            continue
        if pool.mig.profile is not None and pool.mig.profile not in gpu.mig:
            yield ConfigIssue(
                (*base, "profile"),
                f"is not a MIG profile of {gpu.name}; valid profiles: {known}",
                pool.mig.profile,
            )
        if pool.mig.mixed is not None:
            yield from _mixed_layout(cfg, name, pool, gpu)


def _mixed_layout(
    cfg: StackConfig, name: str, pool: GpuPoolConfig, gpu: GpuModel
) -> Iterator[ConfigIssue]:
    base = ("gpuPools", name, "mig")
    assert pool.mig is not None
    assert pool.mig.mixed is not None
    cluster = cfg.clusters.get(pool.cluster)
    if cluster is not None and cluster.cloud is Cloud.GCP:
        yield ConfigIssue(
            (*base, "mixed"),
            "GKE partitions every GPU of a node pool into one size (gpu_partition_size); "
            "use mig.profile, or one pool per partition size",
            dict(pool.mig.mixed),
        )
        return
    known = ", ".join(gpu.mig)
    slices = 0
    memory = 0
    for profile, count in pool.mig.mixed.items():
        if profile not in gpu.mig:
            yield ConfigIssue(
                (*base, "mixed", profile),
                f"is not a MIG profile of {gpu.name}; valid profiles: {known}",
                profile,
            )
            continue
        if count < 1:
            yield ConfigIssue((*base, "mixed", profile), "must be >= 1", count)
        slices += gpu.mig[profile].slices * count
        memory += gpu.mig[profile].memory_gb * count
    if slices > 7 or memory > gpu.memory_gb:
        yield ConfigIssue(
            (*base, "mixed"),
            f"does not fit one {gpu.name}: uses {slices} of 7 compute slices and "
            f"{memory} of {gpu.memory_gb} GB",
            dict(pool.mig.mixed),
        )
    elif len(mig_layout_name(pool.mig)) > 63:
        yield ConfigIssue(
            (*base, "mixed"),
            "its layout name (a node label value) would exceed 63 characters; "
            "use fewer distinct profiles",
            dict(pool.mig.mixed),
        )


@rule
def capacity(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, pool in cfg.gpu_pools.items():
        base = ("gpuPools", name)
        if pool.spot and len(pool.instance_types) < 2:
            yield ConfigIssue(
                (*base, "instanceTypes"),
                "a spot pool needs at least 2 instance types so one reclaimed type does not "
                "empty the pool; add another type with the same GPU",
                list(pool.instance_types),
            )
        prod_floor_missing = (
            cfg.environment is Environment.PROD
            and pool.tier is not Tier.CPU
            and pool.spot
            and pool.on_demand_floor < 1
        )
        if pool.nodes.max < pool.on_demand_floor:
            yield ConfigIssue(
                (*base, "nodes", "max"),
                f"the ceiling is below the on-demand floor ({pool.on_demand_floor}); "
                "raise nodes.max or lower onDemandFloor",
                pool.nodes.max,
            )
        elif prod_floor_missing:
            yield ConfigIssue(
                (*base, "onDemandFloor"),
                "a prod GPU pool on spot needs an on-demand floor of at least 1 node",
                pool.on_demand_floor,
            )
        elif pool.nodes.min <= pool.nodes.max and pool.on_demand_floor != pool.nodes.min:
            yield ConfigIssue(
                (*base, "onDemandFloor"),
                f"must equal nodes.min ({pool.nodes.min}): the nodes kept up at all times are "
                "the on-demand floor (spot nodes come and go, and burst capacity scales to "
                f"zero); set onDemandFloor: {pool.nodes.min} or lower nodes.min",
                pool.on_demand_floor,
            )


@rule
def prod_tiers_have_a_floor(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """In prod, every GPU tier of a cluster keeps at least one on-demand node up.

    A tier whose pools all scale to zero would start cold (minutes for a GPU node
    and a model) on the first request. Spot pools without a floor are reported by
    ``capacity`` already; this names tiers whose pools are all on-demand yet scale
    to zero.
    """
    if cfg.environment is not Environment.PROD:
        return
    tiers: dict[tuple[str, Tier], list[str]] = {}
    for name, pool in cfg.gpu_pools.items():
        if pool.tier is not Tier.CPU:
            tiers.setdefault((pool.cluster, pool.tier), []).append(name)
    for (cluster, tier), names in sorted(tiers.items()):
        pools = [cfg.gpu_pools[n] for n in names]
        if any(p.on_demand_floor > 0 for p in pools) or any(p.spot for p in pools):
            continue
        first = sorted(names)[0]
        yield ConfigIssue(
            ("gpuPools", first, "onDemandFloor"),
            f"prod's {tier.value} tier on cluster {cluster} has no on-demand floor "
            f"(pools: {', '.join(sorted(names))}); set onDemandFloor (and nodes.min) >= 1 "
            "on one of them so the tier never starts cold",
            cfg.gpu_pools[first].on_demand_floor,
        )


@rule
def pool_placement_settings(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Pool names and zones that the clouds accept."""
    for name, pool in cfg.gpu_pools.items():
        base = ("gpuPools", name)
        if name == SYSTEM_POOL:
            yield ConfigIssue(
                base,
                f"'{SYSTEM_POOL}' names each cluster's system node group; choose another name",
            )
        cluster = cfg.clusters.get(pool.cluster)
        if cluster is None:
            continue
        if cluster.cloud is Cloud.GCP and len(name) + GKE_POOL_SUFFIX > GKE_NODE_POOL_NAME_MAX:
            yield ConfigIssue(
                base,
                f"GKE node pools are named <pool>-spot-<n>, at most {GKE_NODE_POOL_NAME_MAX} "
                f"characters: use a pool name of at most "
                f"{GKE_NODE_POOL_NAME_MAX - GKE_POOL_SUFFIX} characters",
            )
        cloud_zones = _zones(cfg, cluster.cloud)
        for i, zone in enumerate(pool.zones or []):
            if cloud_zones is not None and zone not in cloud_zones:
                yield ConfigIssue(
                    (*base, "zones", i),
                    f"not one of the stack's {cluster.cloud.value} zones "
                    f"({', '.join(cloud_zones)})",
                    zone,
                )


def _zones(cfg: StackConfig, cloud: Cloud) -> list[str] | None:
    if cloud is Cloud.AWS:
        return list(cfg.aws.availability_zones) if cfg.aws else None
    return list(cfg.gcp.zones) if cfg.gcp else None


@rule
def cluster_capacity_settings(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Pinned versions a cluster needs for its pools, and EKS-only keys kept off GKE."""
    for cluster_name, cluster in cfg.clusters.items():
        pools = [p for p in cfg.gpu_pools.values() if p.cluster == cluster_name]
        if cluster.cloud is Cloud.AWS:
            yield from _eks_settings(cluster_name, cluster, pools)
        else:
            yield from _gke_settings(cluster_name, cluster)


def _eks_settings(
    name: str, cluster: ClusterConfig, pools: list[GpuPoolConfig]
) -> Iterator[ConfigIssue]:
    base = ("clusters", name)
    if not cluster.admin_role_arns and cluster.existing is None:  # an adopted one keeps its own
        yield ConfigIssue(
            (*base, "adminRoleArns"),
            "required on EKS: list the IAM role Pulumi runs as (and your admins' roles). "
            "The cluster's creator gets no admin of its own, only these roles get access "
            "entries with cluster-admin, and the program installs Karpenter, the GPU "
            "Operator and the workloads through the Kubernetes API, such as "
            "[arn:aws:iam::123456789012:role/llm-platform-deploy]",
        )
    gpu_pools = [p for p in pools if p.tier is not Tier.CPU]
    if gpu_pools and cluster.gpu_operator_version is None:
        yield ConfigIssue(
            (*base, "gpuOperatorVersion"),
            f"required: GPU pools run on this cluster ({len(gpu_pools)}); "
            "pin the NVIDIA GPU Operator chart version, such as v25.3.0",
        )
    if any(p.nodes.max > p.on_demand_floor for p in pools) and cluster.karpenter_version is None:
        yield ConfigIssue(
            (*base, "karpenterVersion"),
            "required: pools on this cluster burst above their floor through Karpenter; "
            "pin its Helm chart version, such as 1.6.5",
        )
    addons = eks_addons()
    if addons.for_version(cluster.kubernetes_version) is None:
        yield ConfigIssue(
            (*base, "kubernetesVersion"),
            "has no pinned EKS add-on versions (blueprint/catalog/eks_addons.yaml); "
            f"accepted on EKS: {', '.join(addons.versions())}; to move to a new minor, add "
            "its row to that table first (docs/upgrade.md)",
            cluster.kubernetes_version,
        )
    yield from _version_skew(base, cluster)
    nodes = cluster.nodes_version
    of_nodes = "nodeVersion" if cluster.node_version is not None else "kubernetesVersion"
    release = cluster.ami_release_version
    if release is None:
        yield ConfigIssue(
            (*base, "amiReleaseVersion"),
            "required on EKS: pin the EKS-optimized AL2023 AMI release every node runs, "
            "<nodeVersion>.<patch>-<YYYYMMDD>, such as "
            f"{nodes}.0-20250715",
        )
    elif not release.startswith(f"{nodes}."):
        yield ConfigIssue(
            (*base, "amiReleaseVersion"),
            f"is for another Kubernetes version than the nodes run ({of_nodes}: {nodes}); "
            f"use a {nodes}.x release",
            release,
        )


MAX_KUBELET_LAG = 3
"""Minor versions a kubelet may lag kube-apiserver (Kubernetes 1.28 and later):
https://kubernetes.io/releases/version-skew-policy/#kubelet"""
SKEW_POLICY = "https://kubernetes.io/releases/version-skew-policy/"


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _version_skew(base: tuple[str, ...], cluster: ClusterConfig) -> Iterator[ConfigIssue]:
    """Nodes may lag the control plane by up to three minors, never lead it."""
    if cluster.node_version is None:
        return
    plane, nodes = cluster.kubernetes_version, cluster.node_version
    lag = _minor(plane) - _minor(nodes)
    if lag < 0:
        yield ConfigIssue(
            (*base, "nodeVersion"),
            f"is newer than the control plane (kubernetesVersion {plane}); a kubelet must not "
            f"be newer than kube-apiserver ({SKEW_POLICY}): upgrade the control plane first, "
            f"or set nodeVersion to {plane} or older",
            nodes,
        )
    elif lag > MAX_KUBELET_LAG:
        oldest = f"1.{_minor(plane) - MAX_KUBELET_LAG}"
        yield ConfigIssue(
            (*base, "nodeVersion"),
            f"is {lag} minor versions behind the control plane (kubernetesVersion {plane}); "
            f"kubelets may lag kube-apiserver by at most {MAX_KUBELET_LAG} ({SKEW_POLICY}): "
            f"upgrade the nodes to {oldest} or newer before the control plane goes to {plane}",
            nodes,
        )


_EKS_ONLY = {
    "gpuOperatorVersion": "GKE installs the NVIDIA driver and partitions MIG itself "
    "(gpu_partition_size), so the GPU Operator is not installed on GKE clusters",
    "karpenterVersion": "Karpenter runs on EKS only; GKE node pools autoscale natively",
    "amiReleaseVersion": "GKE picks node images from the release channel",
    "nodeVersion": "GKE's release channel upgrades node pools after the control plane, "
    "within the version-skew policy; hold them back with a maintenance exclusion",
    "adminRoleArns": "EKS access entries; on GKE grant roles/container.admin in IAM",
}


def _gke_settings(name: str, cluster: ClusterConfig) -> Iterator[ConfigIssue]:
    values = {
        "gpuOperatorVersion": cluster.gpu_operator_version,
        "karpenterVersion": cluster.karpenter_version,
        "amiReleaseVersion": cluster.ami_release_version,
        "nodeVersion": cluster.node_version,
        "adminRoleArns": cluster.admin_role_arns or None,
    }
    for key, value in values.items():
        if value is not None:
            yield ConfigIssue(
                ("clusters", name, key),
                f"applies to EKS clusters only ({_EKS_ONLY[key]}); remove it",
                value,
            )
