"""The NVIDIA GPU Operator on an EKS cluster: device plugin, MIG manager, DCGM exporter.

Creates the operator's namespace, the mig-parted configuration as a ConfigMap
(generated from the catalog by :func:`blueprint.capacity.mig_parted_config`, so
every ``nvidia.com/mig.config`` label a pool sets names a layout that exists and
fits the GPU), and the operator from its pinned Helm chart with:

- the driver and container toolkit left to the node image (the EKS-optimized
  AL2023 NVIDIA AMI ships both);
- the MIG manager on, reading that ConfigMap, ``all-disabled`` by default, and
  the ``mixed`` strategy, so slices are requested as ``nvidia.com/mig-<profile>``;
- the DCGM exporter on, with a ServiceMonitor for the Prometheus Operator.

Not used on GKE: there GKE installs the driver and device plugin and partitions
MIG per node pool (``gpu_partition_size``); see components/gcp/README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from blueprint.capacity import GPU_TAINT_KEY, MIG_DISABLED

TYPE = "llm-inference:k8s:GpuOperator"

CHART = "gpu-operator"
REPOSITORY = "https://helm.ngc.nvidia.com/nvidia"
MIG_CONFIG_KEY = "config.yaml"


@dataclass(frozen=True, kw_only=True)
class GpuOperatorArgs:
    version: str
    """The gpu-operator chart version, exactly (e.g. v25.3.0)."""
    mig_config: Mapping[str, Any]
    """The mig-parted config (``version: v1``, ``mig-configs``)."""
    namespace: str = "gpu-operator"
    mig_config_name: str = "llm-inference-mig-parted"
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the Prometheus Operator selects ServiceMonitors by (e.g. ``release``)."""
    dcgm_interval: str = "15s"


def operator_values(args: GpuOperatorArgs) -> dict[str, Any]:
    """The chart values: what the operator manages on the nodes, and what it leaves alone."""
    return {
        # The EKS AL2023 NVIDIA AMI ships the driver and the container toolkit.
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        "devicePlugin": {"enabled": True},
        "mig": {"strategy": "mixed"},
        "migManager": {
            "enabled": True,
            "config": {"name": args.mig_config_name, "default": MIG_DISABLED},
        },
        "dcgmExporter": {
            "enabled": True,
            "serviceMonitor": {
                "enabled": True,
                "interval": args.dcgm_interval,
                "honorLabels": False,
                "additionalLabels": dict(args.service_monitor_labels),
            },
        },
        "nfd": {"enabled": True},
        "gfd": {"enabled": True},
        "daemonsets": {
            "tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
        },
    }


class GpuOperator(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    """The namespace the operator runs in."""
    mig_config_map: k8s.core.v1.ConfigMap
    """The mig-parted configuration the MIG manager applies."""
    release: k8s.helm.v3.Release
    """The operator's Helm release (depend on it before scheduling GPU pods)."""

    def __init__(
        self, name: str, args: GpuOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """``opts`` names the cluster's Kubernetes provider."""
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": args.namespace,
                # The operator's daemon sets are privileged by nature.
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
            },
            opts=child,
        )
        self.mig_config_map = k8s.core.v1.ConfigMap(
            f"{name}-mig-parted",
            metadata={"name": args.mig_config_name, "namespace": namespace.metadata.name},
            data={MIG_CONFIG_KEY: yaml.safe_dump(dict(args.mig_config), sort_keys=False)},
            opts=child,
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-chart",
            name="gpu-operator",
            chart=CHART,
            version=args.version,
            repository_opts={"repo": REPOSITORY},
            namespace=namespace.metadata.name,
            values=operator_values(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.mig_config_map]),
        )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace, "release": self.release.name})
