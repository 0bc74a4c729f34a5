"""Node pools as the policies (and the resource-based cost ceiling) see them.

Three resource types carry GPU capacity, each spelling min, max, capacity type,
instance types and taints its own way:

- ``aws:eks/nodeGroup:NodeGroup`` (EKS managed node group): ``scalingConfig``,
  ``capacityType``, ``instanceTypes``, ``taints``;
- ``kubernetes:karpenter.sh/v1:NodePool`` (Karpenter): ``spec.limits`` is the
  ceiling, ``spec.template.spec.requirements`` the instance types and capacity
  types, ``spec.template.spec.taints``; Karpenter keeps no minimum;
- ``gcp:container/nodePool:NodePool`` (GKE): ``autoscaling`` (``min/maxNodeCount``
  per zone, ``totalMin/MaxNodeCount`` in all), ``nodeConfig.machineType``,
  ``nodeConfig.spot``, ``nodeConfig.guestAccelerators``, ``nodeConfig.taints``.

:func:`pool_of` reads any of them into one :class:`Pool`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from blueprint.capacity import (
    GPU_RESOURCE,
    INSTANCE_TYPE_LABEL,
    KARPENTER_CAPACITY_LABEL,
    ZONE_LABEL,
)
from blueprint.catalog import load_catalog
from policies._lib import get, items, mapping, number, truthy

EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
KARPENTER_NODE_POOLS = frozenset(
    {"kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool"}
)
POOL_TYPES = frozenset({EKS_NODE_GROUP, GKE_NODE_POOL, *KARPENTER_NODE_POOLS})

CAPACITY_TYPE_LABEL = KARPENTER_CAPACITY_LABEL
GKE_GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
"""GKE adds this taint to every GPU node pool itself (when the cluster has a non-GPU pool)."""

# Instance families that carry NVIDIA GPUs, for types the catalog does not list.
_AWS_GPU_FAMILY = re.compile(r"^(p\d|g\d|gr\d)[a-z0-9-]*\.")
_GCP_GPU_FAMILY = re.compile(r"^(a2|a3|a4|g2|g4)-")


def is_gpu_instance(instance_type: str) -> bool:
    inst = load_catalog().instance(instance_type)
    if inst is not None:
        return inst.gpus > 0
    return bool(_AWS_GPU_FAMILY.match(instance_type) or _GCP_GPU_FAMILY.match(instance_type))


@dataclass(frozen=True)
class Pool:
    """One pool of nodes, whatever resource type declares it."""

    kind: str
    instance_types: tuple[str, ...]
    capacity: frozenset[str]
    """``spot`` and/or ``on-demand``."""
    min_nodes: float | None
    max_nodes: float | None
    """The node ceiling; None when the resource sets none (Karpenter may cap GPUs instead)."""
    max_prop: str
    """Where the ceiling lives, for messages."""
    limits: Mapping[str, float] = field(default_factory=dict)
    """Karpenter ``spec.limits`` (``nvidia.com/gpu``, ``cpu``, ``nodes``)."""
    zones: int | None = None
    per_zone: bool = False
    """GKE ``min/maxNodeCount`` count per zone."""
    taints: tuple[Mapping[str, Any], ...] = ()
    gpu: bool = False

    @property
    def spot(self) -> bool:
        return "spot" in self.capacity

    @property
    def on_demand(self) -> bool:
        return "on-demand" in self.capacity

    @property
    def total_max_nodes(self) -> float | None:
        if self.max_nodes is None:
            return None
        return self.max_nodes * (self.zones or 1) if self.per_zone else self.max_nodes

    @property
    def total_min_nodes(self) -> float | None:
        if self.min_nodes is None:
            return None
        return self.min_nodes * (self.zones or 1) if self.per_zone else self.min_nodes


def pool_of(resource_type: str, props: Mapping[str, Any]) -> Pool | None:
    if resource_type == EKS_NODE_GROUP:
        return _eks(props)
    if resource_type in KARPENTER_NODE_POOLS:
        return _karpenter(props)
    if resource_type == GKE_NODE_POOL:
        return _gke(props)
    return None


def _eks(props: Mapping[str, Any]) -> Pool:
    types = tuple(str(t) for t in items(get(props, "instanceTypes")))
    capacity = str(get(props, "capacityType", default="ON_DEMAND")).upper()
    ami = str(get(props, "amiType", default="")).upper()
    taints = tuple(mapping(t) for t in items(get(props, "taints")))
    gpu = (
        any(is_gpu_instance(t) for t in types)
        or "GPU" in ami
        or "NVIDIA" in ami
        or any(get(t, "key") == GPU_RESOURCE for t in taints)
    )
    subnets = items(get(props, "subnetIds"))
    return Pool(
        kind="EKS managed node group",
        instance_types=types,
        capacity=frozenset({"spot"} if capacity == "SPOT" else {"on-demand"}),
        min_nodes=number(get(props, "scalingConfig", "minSize")),
        max_nodes=number(get(props, "scalingConfig", "maxSize")),
        max_prop="scalingConfig.maxSize",
        zones=len(subnets) or None,
        taints=taints,
        gpu=gpu,
    )


def _requirements(props: Mapping[str, Any]) -> dict[str, tuple[str, set[str]]]:
    out: dict[str, tuple[str, set[str]]] = {}
    for req in items(get(props, "spec", "template", "spec", "requirements")):
        key = str(get(req, "key", default=""))
        out[key] = (
            str(get(req, "operator", default="")),
            {str(v) for v in items(get(req, "values"))},
        )
    return out


def _karpenter(props: Mapping[str, Any]) -> Pool:
    reqs = _requirements(props)
    op, values = reqs.get(INSTANCE_TYPE_LABEL, ("", set()))
    types = tuple(sorted(values)) if op == "In" else ()
    cap_op, cap_values = reqs.get(CAPACITY_TYPE_LABEL, ("", set()))
    # Karpenter launches on-demand capacity only unless capacity-type says otherwise.
    capacity = frozenset(cap_values) if cap_op == "In" and cap_values else frozenset({"on-demand"})
    limits = {str(k): v for k, v in _limits(mapping(get(props, "spec", "limits"))).items()}
    taints = tuple(mapping(t) for t in items(get(props, "spec", "template", "spec", "taints")))
    zone_op, zones = reqs.get(ZONE_LABEL, ("", set()))
    gpu_count = reqs.get("karpenter.k8s.aws/instance-gpu-count")
    category = reqs.get("karpenter.k8s.aws/instance-category", ("", set()))
    gpu = (
        any(is_gpu_instance(t) for t in types)
        or GPU_RESOURCE in limits
        or any(get(t, "key") == GPU_RESOURCE for t in taints)
        or (gpu_count is not None and gpu_count[0] in {"Gt", "In", "Exists"})
        or "karpenter.k8s.aws/instance-gpu-manufacturer" in reqs
        or (category[0] == "In" and bool(category[1]) and category[1] <= {"g", "p"})
    )
    return Pool(
        kind="Karpenter NodePool",
        instance_types=types,
        capacity=capacity,
        min_nodes=0.0,
        max_nodes=limits.get("nodes"),
        max_prop="spec.limits",
        limits=limits,
        zones=len(zones) if zone_op == "In" and zones else None,
        taints=taints,
        gpu=gpu,
    )


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_SCALE = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``500m``, ``4``, ``16Gi``) as a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if m is None:
        return None
    return float(m.group(1)) * _SCALE[m.group(2)]


def _limits(raw: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key in raw:
        q = quantity(raw[key])
        if q is not None:
            out[str(key)] = q
    return out


def _gke(props: Mapping[str, Any]) -> Pool:
    node_config = mapping(get(props, "nodeConfig"))
    machine = str(get(node_config, "machineType", default=""))
    accelerators = items(get(node_config, "guestAccelerators"))
    spot = truthy(get(node_config, "spot")) or truthy(get(node_config, "preemptible"))
    locations = items(get(props, "nodeLocations"))
    autoscaling = mapping(get(props, "autoscaling"))
    taints = [mapping(t) for t in items(get(node_config, "taints"))]
    gpu = bool(accelerators) or (bool(machine) and is_gpu_instance(machine))
    if gpu and not any(get(t, "key") == GPU_RESOURCE for t in taints):
        taints.append(GKE_GPU_TAINT)
    total_min = number(get(autoscaling, "totalMinNodeCount"))
    total_max = number(get(autoscaling, "totalMaxNodeCount"))
    if autoscaling:
        if total_max is not None or total_min is not None:
            min_nodes, max_nodes, per_zone = total_min, total_max, False
            max_prop = "autoscaling.totalMaxNodeCount"
        else:
            min_nodes = number(get(autoscaling, "minNodeCount"))
            max_nodes = number(get(autoscaling, "maxNodeCount"))
            per_zone, max_prop = True, "autoscaling.maxNodeCount"
    else:
        fixed = number(get(props, "nodeCount", default=get(props, "initialNodeCount")))
        min_nodes = max_nodes = fixed
        per_zone, max_prop = True, "nodeCount"
    return Pool(
        kind="GKE node pool",
        instance_types=(machine,) if machine else (),
        capacity=frozenset({"spot"} if spot else {"on-demand"}),
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        max_prop=max_prop,
        zones=len(locations) or None,
        per_zone=per_zone,
        taints=tuple(taints),
        gpu=gpu,
    )


def gpu_models(pool: Pool) -> set[str]:
    """The catalog GPU models a pool's instance types carry (empty when unknown)."""
    catalog = load_catalog()
    out = set()
    for t in pool.instance_types:
        gpu = catalog.gpu_of(t)
        if gpu is not None:
            out.add(gpu.name)
    return out
