"""Which pool each model deployment lands on: the one answer the whole blueprint uses.

A deployment's pods can run on a pool (one of its cluster's GPU pools, or the
cluster's system node group) when its node selector matches labels that pool's
nodes carry, its tolerations cover the pool's taints, the GPU or MIG devices it
asks for exist on one node in that number, and its CPU and memory requests fit a
node. The deployment *lands on* the first pool that can run it, GPU pools by name
before the system node group: that is what the scheduler can do with the selector,
so the config rules (refusals, ceilings), the cost estimate (its share of a node),
the model checker (the GPU or MIG slice a config must fit) and the routing rules
(the tier a class reaches) all read :func:`placements` and never match selectors
themselves.

On GKE two tolerations are implicit, as GKE adds them itself: pods that request
``nvidia.com/gpu`` tolerate ``nvidia.com/gpu``, and pods that select a ComputeClass
tolerate that class's taint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from blueprint.capacity import (
    GKE_COMPUTE_CLASS_LABEL,
    GKE_PARTITION_LABEL,
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    MIG_RESOURCE_PREFIX,
    NVIDIA_RESOURCE_PREFIX,
    PoolSpec,
    Taint,
    pool_specs,
    system_pool_spec,
)
from blueprint.schema import Cloud, ModelDeployment, StackConfig, Toleration

PathPart = str | int

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
    """Key under the deployment (``("nodeSelector", "llm-inference/pool")``)."""
    reason: str
    selector: bool = False
    """True when the pool's labels do not match the node selector (not the pool meant)."""


@dataclass(frozen=True)
class Placement:
    """Where one model deployment's pods land, or why they cannot land anywhere."""

    deployment: str
    cluster: str
    pool: PoolSpec | None
    """The pool its pods land on; None when no pool of its cluster can run them."""
    devices: Mapping[str, int] = field(default_factory=dict)
    """``nvidia.com/*`` devices one pod asks for (limits, or requests alone)."""
    misfits: Mapping[str, Misfit] = field(default_factory=dict)
    """Pools tried before the one it lands on (all of them when it lands nowhere)."""
    request_error: Misfit | None = None
    """A GPU request Kubernetes refuses (fractional, or request and limit differ)."""

    @property
    def devices_per_pod(self) -> int:
        return sum(self.devices.values())

    @property
    def mig_profile(self) -> str | None:
        """The MIG profile of the slice each pod gets, if it runs on a MIG slice."""
        for key in self.devices:
            if key.startswith(MIG_RESOURCE_PREFIX):
                return key.removeprefix(MIG_RESOURCE_PREFIX)
        if self.pool is not None and self.pool.mig is not None and self.pool.mig.profile:
            return self.pool.mig.profile if GPU_RESOURCE in self.devices else None
        return None


def placements(cfg: StackConfig) -> dict[str, Placement]:
    """Every model deployment whose cluster exists, by name."""
    specs = pool_specs(cfg)
    return {
        name: place(cfg, name, specs)
        for name, dep in cfg.models.items()
        if dep.cluster in cfg.clusters
    }


def place(cfg: StackConfig, name: str, specs: Mapping[str, PoolSpec] | None = None) -> Placement:
    """Where deployment ``name`` lands (its cluster must exist)."""
    dep = cfg.models[name]
    specs = pool_specs(cfg) if specs is None else specs
    devices = gpu_requests(dep)
    if isinstance(devices, Misfit):
        return Placement(name, dep.cluster, None, request_error=devices)
    candidates = [s for s in specs.values() if s.cluster == dep.cluster]
    system = system_pool_spec(dep.cluster, cfg)
    if system is not None:
        candidates.append(system)
    misfits: dict[str, Misfit] = {}
    for spec in sorted(candidates, key=lambda s: (s.system, s.name)):
        misfit = _check_pool(dep, spec, devices)
        if misfit is None:
            return Placement(name, dep.cluster, spec, devices, misfits)
        misfits[spec.name] = misfit
    return Placement(name, dep.cluster, None, devices, misfits)


def gpu_requests(dep: ModelDeployment) -> dict[str, int] | Misfit:
    """The deployment's ``nvidia.com/*`` devices per pod (limits, or requests alone)."""
    out: dict[str, int] = {}
    keys = sorted({*dep.resources.requests, *dep.resources.limits})
    for key in keys:
        if not key.startswith(NVIDIA_RESOURCE_PREFIX):
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


def device_memory_gb(placement: Placement) -> float | None:
    """Memory of one device a pod gets there: its MIG slice's, or the whole GPU's."""
    pool = placement.pool
    if pool is None or pool.gpu is None or not placement.devices:
        return None
    profile = placement.mig_profile
    if profile is not None and profile in pool.gpu.mig:
        return float(pool.gpu.mig[profile].memory_gb)
    return float(pool.gpu.memory_gb)


def devices_per_node(spec: PoolSpec) -> int:
    """Devices (GPUs or MIG slices) one node of the pool's largest shape offers."""
    return max((sum(s.resources.values()) for s in spec.shapes), default=0)
