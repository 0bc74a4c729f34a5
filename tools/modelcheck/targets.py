"""Where each model deployment of the committed stacks runs: pool, GPU, MIG slice.

Resolved from the stack file and the catalog through the one placement of each
deployment (:mod:`blueprint.placement`), so the validator can tell whether a model
config fits the hardware it is sent to.
"""

from __future__ import annotations

import re
from pathlib import Path

from blueprint.config import ConfigError, load_stack_file
from blueprint.config.loader import read_stack_file
from blueprint.paths import STACK_DIR
from blueprint.placement import placements
from blueprint.schema import NAMESPACE, StackConfig
from tools.modelcheck.validate import Target

_MIG_LIMIT = re.compile(r"^nvidia\.com/mig-(\d+g\.\d+gb)$")


def resolve(cfg: StackConfig, source: Path, line_of: dict[str, int]) -> list[Target]:
    """Each deployment's hardware, from where it lands (:mod:`blueprint.placement`)."""
    where = placements(cfg)
    targets = []
    for name, dep in cfg.models.items():
        placed = where.get(name)
        spec = placed.pool if placed is not None else None
        gpu = spec.gpu if spec is not None else None
        devices = placed.devices_per_pod if placed is not None else 0
        mig_limit = next(
            (m.group(1) for key in dep.resources.limits if (m := _MIG_LIMIT.match(key))), None
        )
        pool_profile = spec.mig.profile if spec and spec.mig and spec.mig.profile else None
        profile = pool_profile or mig_limit
        memory: float | None = None
        gpus_per_node = min((s.gpus for s in spec.shapes), default=0) if spec else 0
        if gpu is not None:
            memory = float(gpu.memory_gb)
            if profile and profile in gpu.mig:
                memory = float(gpu.mig[profile].memory_gb)
                # MIG slices: a node offers (GPUs x instances per GPU) devices.
                gpus_per_node *= gpu.mig[profile].instances
        targets.append(
            Target(
                source=source,
                line=line_of.get(name, 0),
                key=f"{NAMESPACE}:models.{name}",
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
