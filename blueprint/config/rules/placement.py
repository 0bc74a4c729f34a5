"""Cross-checks between model deployments and the pools of their cluster.

A deployment is accepted only if some pool of its cluster (its GPU pools or the
system node group) can run one of its pods: the node selector matches the labels
that pool's nodes carry, the tolerations cover the pool's taints, the GPU or MIG
resources it asks for exist on the pool's nodes in that number, and its CPU and
memory requests fit a node. Then the replicas at their maximum must fit under
the pool's ceiling, together with the other deployments placed on that pool.

On GKE two tolerations are implicit, as GKE adds them itself: pods that request
``nvidia.com/gpu`` tolerate ``nvidia.com/gpu``, and pods that select a
ComputeClass tolerate that class's taint.

The check runs once the pools themselves are valid (instance types, tiers, MIG
geometry, sizes); until then their errors are the ones worth reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from blueprint import tags
from blueprint.capacity import (
    GKE_COMPUTE_CLASS_LABEL,
    GKE_PARTITION_LABEL,
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    MIG_RESOURCE_PREFIX,
    SYSTEM_POOL,
    PoolSpec,
    Taint,
    pool_specs,
    system_pool_spec,
)
from blueprint.config.errors import ConfigIssue, PathPart
from blueprint.config.rules import rule
from blueprint.config.schema import Cloud, ModelDeployment, StackConfig, Toleration

_UNITS: dict[str, int | Fraction] = {
    "": 1,
    "m": Fraction(1, 1000),
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(text: str) -> Fraction:
    """A Kubernetes quantity as an exact number (``500m`` -> 1/2, ``16Gi`` -> bytes)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?", text)
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    return Fraction(match.group(1)) * _UNITS[match.group(2) or ""]


def tolerates(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    """Kubernetes' toleration matching for one taint."""
    for tol in tolerations:
        if tol.effect is not None and tol.effect != taint.effect:
            continue
        if tol.operator == "Exists" and tol.key in ("", taint.key):
            return True
        if tol.operator == "Equal" and tol.key == taint.key and tol.value == taint.value:
            return True
    return False


@dataclass(frozen=True)
class Misfit:
    """Why one pool cannot run a deployment's pod: where to fix it, and how."""

    path: tuple[PathPart, ...]
    reason: str
    selector: bool = False
    """True when the pool's labels do not match the node selector (not the pool meant)."""


def _gpu_requests(dep: ModelDeployment) -> dict[str, int] | Misfit:
    """The deployment's nvidia.com/* resources per pod (limits, or requests alone)."""
    out: dict[str, int] = {}
    keys = sorted({*dep.resources.requests, *dep.resources.limits})
    for key in keys:
        if not key.startswith("nvidia.com/"):
            continue
        req = dep.resources.requests.get(key)
        lim = dep.resources.limits.get(key)
        if req is not None and lim is not None and quantity(req) != quantity(lim):
            return Misfit(
                ("resources", "requests", key),
                f"{key} request ({req}) and limit ({lim}) differ; GPUs cannot be "
                "overcommitted, so set them equal or give only the limit",
            )
        value = quantity(lim if lim is not None else str(req))
        if value.denominator != 1 or value < 1:
            return Misfit(
                ("resources", "limits", key),
                f"{key} must be a whole number of devices (got {lim or req})",
            )
        out[key] = int(value)
    return out


def _check_pool(dep: ModelDeployment, spec: PoolSpec, gpus: Mapping[str, int]) -> Misfit | None:
    """The first reason ``spec`` cannot run one pod of ``dep``, or None if it can."""
    # Node selector: every key must be a label the pool's nodes (can) carry.
    for key, value in sorted(dep.node_selector.items()):
        if spec.labels.get(key) == value:
            continue
        if value in spec.label_domains.get(key, frozenset()):
            continue
        have = spec.labels.get(key) or ", ".join(sorted(spec.label_domains.get(key, ())))
        return Misfit(
            ("nodeSelector", key),
            f"selects {key}={value}, but its nodes carry "
            + (f"{key}={have}" if have else f"no {key} label"),
            selector=True,
        )
    # Tolerations: every NoSchedule/NoExecute taint must be tolerated.
    implicit: list[Toleration] = []
    if spec.cloud is Cloud.GCP:
        if GPU_RESOURCE in gpus:
            implicit.append(Toleration(key=GPU_TAINT_KEY, operator="Exists"))
        if GKE_COMPUTE_CLASS_LABEL in dep.node_selector:
            implicit.append(
                Toleration(
                    key=GKE_COMPUTE_CLASS_LABEL,
                    operator="Equal",
                    value=dep.node_selector[GKE_COMPUTE_CLASS_LABEL],
                )
            )
    for taint in spec.taints:
        if taint.effect == "PreferNoSchedule":
            continue
        if not tolerates([*dep.tolerations, *implicit], taint):
            hint = (
                f"select the ComputeClass with nodeSelector {GKE_COMPUTE_CLASS_LABEL}: "
                f"{taint.value} (GKE then adds the toleration)"
                if taint.key == GKE_COMPUTE_CLASS_LABEL
                else f"add the toleration {{key: {taint.key}, operator: Exists, "
                f"effect: {taint.effect}}}"
            )
            where: tuple[PathPart, ...] = (
                ("nodeSelector",) if taint.key == GKE_COMPUTE_CLASS_LABEL else ("tolerations",)
            )
            return Misfit(
                where,
                f"does not tolerate its taint {taint.key}={taint.value}:{taint.effect}; {hint}",
            )
    # Resources: GPUs or MIG slices, CPU and memory must fit one node of some shape.
    return _check_resources(dep, spec, gpus)


def _check_resources(
    dep: ModelDeployment, spec: PoolSpec, gpus: Mapping[str, int]
) -> Misfit | None:
    offered = sorted({k for s in spec.shapes for k in s.resources})
    for key, count in sorted(gpus.items()):
        if not any(key in s.resources for s in spec.shapes):
            return Misfit(
                ("resources", "limits", key),
                f"requests {key}, but its nodes offer "
                + (", ".join(offered) if offered else "no GPUs")
                + _resource_hint(key, spec),
            )
        most = max(s.resources.get(key, 0) for s in spec.shapes)
        if count > most:
            return Misfit(
                ("resources", "limits", key),
                f"requests {count} {key} per pod, but a node has at most {most}",
            )
    partition = spec.labels.get(GKE_PARTITION_LABEL)
    if partition and GPU_RESOURCE in gpus and GKE_PARTITION_LABEL not in dep.node_selector:
        return Misfit(
            ("nodeSelector",),
            f"requests {GPU_RESOURCE} on a pool whose GPUs GKE splits into {partition} slices; "
            f"add nodeSelector {GKE_PARTITION_LABEL}: {partition} so the pod states the slice "
            "it is sized for",
        )
    cpu = quantity(dep.resources.requests.get("cpu", "0"))
    memory = quantity(dep.resources.requests.get("memory", "0"))
    fits = [
        s
        for s in spec.shapes
        if all(s.resources.get(k, 0) >= n for k, n in gpus.items())
        and cpu <= s.vcpus
        and memory <= s.memory_gib * _UNITS["Gi"]
    ]
    if not fits:
        biggest = max(spec.shapes, key=lambda s: (s.vcpus, s.memory_gib))
        return Misfit(
            ("resources", "requests"),
            f"requests cpu {dep.resources.requests.get('cpu', '0')} and memory "
            f"{dep.resources.requests.get('memory', '0')}, more than its largest node "
            f"({biggest.instance_type}: {biggest.vcpus} vCPU, {biggest.memory_gib} GiB, "
            "before kubelet reservations)",
        )
    return None


def _resource_hint(key: str, spec: PoolSpec) -> str:
    if spec.gpu is None:
        return ""
    if spec.cloud is Cloud.GCP and key.startswith(MIG_RESOURCE_PREFIX):
        return (
            f"; on GKE a MIG slice is requested as {GPU_RESOURCE} with nodeSelector "
            f"{GKE_PARTITION_LABEL}: <profile>"
        )
    if key == GPU_RESOURCE and any(
        k.startswith(MIG_RESOURCE_PREFIX) for s in spec.shapes for k in s.resources
    ):
        return " (its GPUs are split with MIG); request one of those instead"
    if key.startswith(MIG_RESOURCE_PREFIX):
        return f" ({spec.gpu.name} pools without MIG offer whole GPUs as {GPU_RESOURCE})"
    return ""


def _pools_are_valid(cfg: StackConfig, specs: Mapping[str, PoolSpec]) -> bool:
    if len(specs) != len(cfg.gpu_pools):
        return False  # some pool did not resolve: its own errors come first
    return all(
        p.nodes.min <= p.nodes.max and p.on_demand_floor <= p.nodes.max
        for p in cfg.gpu_pools.values()
    )


@rule
def deployments_fit_pools(cfg: StackConfig) -> Iterator[ConfigIssue]:
    specs = pool_specs(cfg)
    if not _pools_are_valid(cfg, specs):
        return
    placed: dict[str, list[tuple[str, int]]] = {}  # pool -> (deployment, devices at max)
    for dep_name, dep in cfg.models.items():
        if dep.cluster not in cfg.clusters:
            continue  # references_resolve reports it
        base = ("models", dep_name)
        gpus = _gpu_requests(dep)
        if isinstance(gpus, Misfit):
            yield ConfigIssue((*base, *gpus.path), gpus.reason)
            continue
        candidates = [s for s in specs.values() if s.cluster == dep.cluster]
        system = system_pool_spec(dep.cluster, cfg)
        if system is not None:
            candidates.append(system)
        misfits: dict[str, Misfit] = {}
        chosen: PoolSpec | None = None
        for spec in sorted(candidates, key=lambda s: (s.system, s.name)):
            misfit = _check_pool(dep, spec, gpus)
            if misfit is None:
                chosen = spec
                break
            misfits[spec.name] = misfit
        if chosen is None:
            yield _refusal(dep_name, dep, misfits)
            continue
        if gpus and not chosen.system:
            per_pod = sum(gpus.values())
            placed.setdefault(chosen.name, []).append((dep_name, per_pod * dep.replicas.max))
    yield from _ceilings(cfg, specs, placed)


def _refusal(dep_name: str, dep: ModelDeployment, misfits: Mapping[str, Misfit]) -> ConfigIssue:
    """One error for a deployment no pool can run, at the key most worth fixing.

    Pools whose labels the node selector matches are the ones the user meant: their
    reasons are given. When the selector matches no pool at all, the error says so
    and lists the pools there are.
    """
    meant = {n: m for n, m in misfits.items() if not m.selector}
    if meant:
        first = next(iter(meant.values()))
        reasons = "; ".join(f"pool {name}: {m.reason}" for name, m in meant.items())
        return ConfigIssue(
            ("models", dep_name, *first.path),
            f"no pool of cluster {dep.cluster} can run it ({reasons})",
        )
    pools = ", ".join(sorted(n for n in misfits if n != SYSTEM_POOL)) or "none"
    wanted = ", ".join(f"{k}={v}" for k, v in sorted(dep.node_selector.items()))
    first = next(iter(misfits.values()))
    return ConfigIssue(
        ("models", dep_name, *first.path),
        f"no pool of cluster {dep.cluster} has nodes labelled {wanted}; select a pool with "
        f"nodeSelector {tags.POOL_LABEL}: <pool> (pools on {dep.cluster}: {pools})",
    )


def _ceilings(
    cfg: StackConfig,
    specs: Mapping[str, PoolSpec],
    placed: Mapping[str, list[tuple[str, int]]],
) -> Iterator[ConfigIssue]:
    """Deployments at their maximum replicas must fit under their pool's ceiling."""
    for pool_name, uses in sorted(placed.items()):
        spec = specs[pool_name]
        need = sum(n for _, n in uses)
        have = _devices_ceiling(spec)
        if need <= have:
            continue
        who = ", ".join(f"{d} ({n})" for d, n in uses)
        yield ConfigIssue(
            ("gpuPools", pool_name, "nodes", "max"),
            f"deployments placed on this pool need {need} GPU devices at their maximum replicas "
            f"({who}), but its ceiling holds {have} ({spec.max_nodes} nodes x "
            f"{have // max(spec.max_nodes, 1)} per node); raise nodes.max or lower the "
            "deployments' replicas.max",
            spec.max_nodes,
        )


def _devices_ceiling(spec: PoolSpec) -> int:
    """Devices (GPUs or MIG slices) the configured ``nodes.max`` holds at most."""
    per_node = max((sum(s.resources.values()) for s in spec.shapes), default=0)
    return spec.max_nodes * per_node
