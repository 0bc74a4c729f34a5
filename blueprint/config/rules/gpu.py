"""Rules about GPU pools: catalog instance types, tiers, MIG geometry, spot and floors."""

from __future__ import annotations

from collections.abc import Iterator

from blueprint.catalog import GpuModel, load_catalog
from blueprint.config.errors import ConfigIssue
from blueprint.config.rules import rule
from blueprint.config.schema import Environment, GpuPoolConfig, StackConfig, Tier

# Which GPU models each tier may use; a CPU tier uses none.
TIER_GPUS: dict[Tier, frozenset[str]] = {
    Tier.HEAVY: frozenset({"H100-80GB", "H200-141GB", "A100-40GB", "A100-80GB", "B200-180GB"}),
    Tier.LIGHT: frozenset({"L40S-48GB", "L4-24GB", "A10G-24GB"}),
    Tier.CPU: frozenset(),
}


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
        if pool.nodes.max < pool.on_demand_floor:
            yield ConfigIssue(
                (*base, "nodes", "max"),
                f"the ceiling is below the on-demand floor ({pool.on_demand_floor}); "
                "raise nodes.max or lower onDemandFloor",
                pool.nodes.max,
            )
        elif pool.on_demand_floor > pool.nodes.min:
            yield ConfigIssue(
                (*base, "onDemandFloor"),
                f"must be <= nodes.min ({pool.nodes.min}): floor nodes are always running",
                pool.on_demand_floor,
            )
        if (
            cfg.environment is Environment.PROD
            and pool.tier is not Tier.CPU
            and pool.spot
            and pool.on_demand_floor < 1
        ):
            yield ConfigIssue(
                (*base, "onDemandFloor"),
                "a prod GPU pool on spot needs an on-demand floor of at least 1 node",
                pool.on_demand_floor,
            )
        cluster = cfg.clusters.get(pool.cluster)
        if (
            cluster is not None
            and pool.tier is not Tier.CPU
            and cluster.gpu_operator_version is None
        ):
            yield ConfigIssue(
                ("clusters", pool.cluster, "gpuOperatorVersion"),
                f"required: GPU pool {name} runs on this cluster; "
                "pin the NVIDIA GPU Operator chart version",
            )
