"""GPU node pools on GKE: an on-demand floor, spot burst, a ComputeClass for the fallback order.

A GKE node pool has one machine type and one provisioning model, so each
configured pool becomes several node pools (see
:func:`blueprint.capacity.gke_node_pool_plans`):

- ``<pool>-od``: on-demand, the pool's first machine type, autoscaling from the
  floor up to the floor plus the burst when ``fallback: on-demand`` (or the pool
  is not on spot);
- ``<pool>-spot-<i>``: spot, one per machine type, sharing the burst.

GPU nodes get their accelerator with the GKE-managed driver
(``gpu_driver_version: DEFAULT``) and, for MIG, ``gpu_partition_size``: GKE
partitions every GPU of the node and exposes each slice as one
``nvidia.com/gpu`` with the ``cloud.google.com/gke-gpu-partition-size`` label.

A custom ``ComputeClass`` named after the pool orders them: spot pools first,
then the on-demand pool (when the pool falls back), and never any other node
pool (``whenUnsatisfiable: DoNotScaleUp``); its autoscaling policy removes a GPU
node only when no GPU on it is in use, 30 minutes after it became so. The node
pools carry the class's label and taint, so workloads reach them by selecting
``cloud.google.com/compute-class: <pool>`` (GKE adds the toleration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from blueprint.capacity import (
    GKE_ACCELERATOR_LABEL,
    GKE_PARTITION_LABEL,
    GkeNodePoolPlan,
    PoolSpec,
)
from blueprint.catalog import load_catalog
from components.gcp.gke import MANAGEMENT, UPGRADE_SETTINGS, node_config_basics

TYPE = "llm-inference:gcp:GpuNodePools"

COMPUTE_CLASS_API = "cloud.google.com/v1"
_GKE_SET_LABELS = (GKE_ACCELERATOR_LABEL, GKE_PARTITION_LABEL)
"""Labels GKE itself puts on GPU nodes; a node pool may not set them."""


@dataclass(frozen=True, kw_only=True)
class GkeGpuPoolsArgs:
    project: str
    region: str
    cluster_name: pulumi.Input[str]
    node_service_account: pulumi.Input[str]
    pools: Mapping[str, PoolSpec]
    consolidation_delay_minutes: int = 30
    """How long a GPU node stays unused before GKE may remove it."""
    resource_labels: Mapping[str, str] = field(default_factory=dict)


def accelerator(spec: PoolSpec, machine_type: str) -> dict[str, Any] | None:
    """The node pool's ``guest_accelerator``: GPU type and count, MIG partition, GKE driver."""
    if spec.gpu is None:
        return None
    row = load_catalog().instances[machine_type]
    out: dict[str, Any] = {
        "type": spec.gpu.gke_accelerator,
        "count": row.gpus,
        "gpu_driver_installation_config": {"gpu_driver_version": "DEFAULT"},
    }
    if spec.mig is not None and spec.mig.profile is not None:
        out["gpu_partition_size"] = spec.mig.profile
    return out


def compute_class_spec(spec: PoolSpec, consolidation_delay_minutes: int) -> dict[str, Any]:
    """The ComputeClass that orders a pool's node pools: spot first, then on-demand."""
    spot = [p.name for p in spec.gke_node_pools if p.spot]
    on_demand = [p.name for p in spec.gke_node_pools if not p.spot]
    priorities: list[dict[str, Any]] = [{"nodepools": [n]} for n in spot]
    if on_demand and "on-demand" in spec.capacity_types:
        priorities.append({"nodepools": on_demand})
    # Without fallback the on-demand pool holds the floor only: it is no scale-up target.
    return {
        "priorities": priorities,
        "nodePoolAutoCreation": {"enabled": False},
        "whenUnsatisfiable": "DoNotScaleUp",
        # Moving serving pods back to spot as soon as it returns would restart
        # models on a schedule the autoscaler picks; leave it to scale-down.
        "activeMigration": {"optimizeRulePriority": False},
        "autoscalingPolicy": {
            "consolidationDelayMinutes": consolidation_delay_minutes,
            "consolidationThreshold": 0,
            "gpuConsolidationThreshold": 0,
        },
    }


class GkeGpuPools(pulumi.ComponentResource):
    node_pools: dict[str, gcp.container.NodePool]
    """Every GKE node pool, by its GKE name (``<pool>-od``, ``<pool>-spot-<i>``)."""
    compute_classes: dict[str, k8s.apiextensions.CustomResource]
    """The ComputeClass of each pool, by pool."""

    def __init__(
        self, name: str, args: GkeGpuPoolsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """``opts.providers`` names the GCP provider and the cluster's Kubernetes provider."""
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self.node_pools = {}
        self.compute_classes = {}
        for spec in args.pools.values():
            for plan in spec.gke_node_pools:
                self.node_pools[plan.name] = self._create_node_pool(spec, plan)
            self.compute_classes[spec.name] = k8s.apiextensions.CustomResource(
                f"{name}-{spec.name}-class",
                api_version=COMPUTE_CLASS_API,
                kind="ComputeClass",
                metadata={"name": spec.name},
                spec=compute_class_spec(spec, args.consolidation_delay_minutes),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs(
            {
                "node_pools": {n: p.id for n, p in self.node_pools.items()},
                "compute_classes": list(self.compute_classes),
            }
        )

    def _create_node_pool(self, spec: PoolSpec, plan: GkeNodePoolPlan) -> gcp.container.NodePool:
        args = self._args
        node_config: dict[str, Any] = {
            **node_config_basics(args.node_service_account),
            "machine_type": plan.machine_type,
            "spot": plan.spot,
            "disk_size_gb": spec.disk_gb,
            "disk_type": "pd-ssd" if spec.gpu is not None else "pd-balanced",
            "labels": {k: v for k, v in spec.labels.items() if k not in _GKE_SET_LABELS},
            "taints": [t.to_node_pool() for t in spec.taints],
            "resource_labels": {**args.resource_labels, "pool": spec.name},
        }
        gpu = accelerator(spec, plan.machine_type)
        if gpu is not None:
            node_config["guest_accelerators"] = [gpu]
        autoscaling: gcp.container.NodePoolAutoscalingArgsDict = {
            "total_min_node_count": plan.min_nodes,
            "total_max_node_count": plan.max_nodes,
            # Spot: take capacity in whichever zone has it.
            "location_policy": "ANY" if plan.spot else "BALANCED",
        }
        return gcp.container.NodePool(
            f"{self._name}-{plan.name}",
            name=plan.name,
            project=args.project,
            location=args.region,
            cluster=args.cluster_name,
            node_locations=list(spec.zones),
            autoscaling=autoscaling,
            node_config=cast(gcp.container.NodePoolNodeConfigArgsDict, node_config),
            management=MANAGEMENT,
            upgrade_settings=UPGRADE_SETTINGS,
            opts=pulumi.ResourceOptions(parent=self),
        )
