"""Where each model deployment of the committed stacks runs: pool, GPU, MIG slice.

Resolved from the stack file (``models:`` and ``gpuPools:``) and the catalog, so the
validator can tell whether a model config fits the hardware it is sent to.
A deployment reaches its pool through its node selector: the blueprint's
``llm-inference/pool: <pool>`` label, or GKE's
``cloud.google.com/gke-gpu-partition-size: <profile>`` (the cluster's pool split
into that MIG profile) or ``cloud.google.com/compute-class: <pool>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from blueprint.catalog import load_catalog
from blueprint.config import ConfigError, load_stack_file
from blueprint.config.loader import STACK_DIR, read_stack_file
from blueprint.config.schema import GpuPoolConfig, ModelDeployment, StackConfig
from blueprint.modelrepo.validate import Target

POOL_LABEL = "llm-inference/pool"
GKE_PARTITION_LABEL = "cloud.google.com/gke-gpu-partition-size"
GKE_COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
_MIG_LIMIT = re.compile(r"^nvidia\.com/mig-(\d+g\.\d+gb)$")


def _pool_for(cfg: StackConfig, dep: ModelDeployment) -> GpuPoolConfig | None:
    name = dep.node_selector.get(POOL_LABEL) or dep.node_selector.get(GKE_COMPUTE_CLASS_LABEL)
    if name is not None:
        return cfg.gpu_pools.get(name)
    partition = dep.node_selector.get(GKE_PARTITION_LABEL)
    if partition is not None:
        for pool in cfg.gpu_pools.values():
            if pool.cluster == dep.cluster and pool.mig and pool.mig.profile == partition:
                return pool
    return None


def _quantity(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def resolve(cfg: StackConfig, source: Path, line_of: dict[str, int]) -> list[Target]:
    catalog = load_catalog()
    targets = []
    for name, dep in cfg.models.items():
        pool = _pool_for(cfg, dep)
        gpu = catalog.gpu_of(pool.instance_types[0]) if pool else None
        gpus_per_node = 0
        if pool is not None:
            counts = [i.gpus for t in pool.instance_types if (i := catalog.instance(t)) is not None]
            gpus_per_node = min(counts) if counts else 0
        devices = 0
        mig_limit = None
        for key, value in dep.resources.limits.items():
            if key == "nvidia.com/gpu":
                devices += _quantity(value)
            elif m := _MIG_LIMIT.match(key):
                devices += _quantity(value)
                mig_limit = m.group(1)
        mig_profile = pool.mig.profile if pool and pool.mig and pool.mig.profile else None
        profile = mig_profile or mig_limit
        memory: float | None = None
        if gpu is not None:
            memory = float(gpu.memory_gb)
            if profile and profile in gpu.mig:
                memory = float(gpu.mig[profile].memory_gb)
        # MIG slices: a node offers (GPUs x instances per GPU) devices.
        if gpu is not None and profile and profile in gpu.mig:
            gpus_per_node *= gpu.mig[profile].instances
        targets.append(
            Target(
                source=source,
                line=line_of.get(name, 0),
                key=f"llm-inference:models.{name}",
                models=tuple(dep.repo_models),
                variant=dep.variant,
                gpu=gpu.name if gpu else None,
                devices=devices,
                device_memory_gb=memory,
                gpus_per_node=gpus_per_node,
                mig_profile=profile,
                mig_limit=mig_limit,
            )
        )
    return targets


def stack_targets(stack_dir: Path = STACK_DIR) -> tuple[list[Target], list[str]]:
    """Targets of every committed stack, and the stacks skipped (invalid config)."""
    targets: list[Target] = []
    skipped: list[str] = []
    for path in sorted(stack_dir.glob("Pulumi.*.yaml")):
        try:
            cfg = load_stack_file(path)
            _raw, source = read_stack_file(path)
        except ConfigError as exc:
            skipped.append(f"{path.name}: {len(exc.issues)} config error(s); run make preview")
            continue
        lines = {name: source.line_of(("models", name)) or 0 for name in cfg.models}
        targets.extend(resolve(cfg, path, lines))
    return targets, skipped
