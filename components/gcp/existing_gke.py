"""A GKE cluster the stack deploys onto but does not manage (``clusters.<name>.existing``).

Creates no GCP resource: the cluster is read by name and location
(``gcp.container.get_cluster``) and a Kubernetes provider is bound to it. GPU node pools
and the workloads then deploy onto it as onto a cluster the stack created
(:class:`components.gcp.gke.GkeCluster` exposes the same attributes). The workloads get
their cloud identity through Workload Identity, so the cluster must have it enabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components._inputs import invoke_field as field
from components._inputs import node_skew_problem
from components.gcp.gke import kubeconfig

TYPE = "llm-inference:gcp:ExistingGkeCluster"


@dataclass(frozen=True, kw_only=True)
class ExistingGkeClusterArgs:
    cluster_name: str
    """The existing cluster's name in GCP."""
    project: str
    location: str
    """The cluster's region (a regional cluster) or zone."""
    kubernetes_version: str
    """The Kubernetes minor version of the node pools the stack adds (``1.33``)."""
    node_service_account: str | None = None
    """The e-mail of the service account new node pools run as (needed only with pools)."""


class ExistingGkeCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    """The cluster's name in GCP."""
    endpoint: pulumi.Output[str]
    """The control plane's address, as the cluster reports it."""
    node_service_account: pulumi.Output[str]
    """The e-mail of the service account GPU node pools run as (empty when none was given)."""
    workload_pool: str
    """The Workload Identity pool, ``<project>.svc.id.goog``."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with ``gke-gcloud-auth-plugin``."""
    provider: k8s.Provider
    """The Kubernetes provider bound to this cluster."""

    def __init__(
        self, name: str, args: ExistingGkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.workload_pool = f"{args.project}.svc.id.goog"
        found = gcp.container.get_cluster_output(
            name=args.cluster_name,
            location=args.location,
            project=args.project,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        pool = self.workload_pool
        self.cluster_name = pulumi.Output.all(
            found.name, found.workload_identity_configs, found.master_version
        ).apply(lambda v: _joinable(args, v[0], v[1], v[2], pool))
        self.endpoint = found.endpoint
        self.node_service_account = pulumi.Output.from_input(args.node_service_account or "")
        ca = found.master_auths.apply(
            lambda auths: str(field(auths[0], "cluster_ca_certificate") or "") if auths else ""
        )
        self.kubeconfig = kubeconfig(self.cluster_name, self.endpoint, ca)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "node_service_account": self.node_service_account,
                "workload_pool": self.workload_pool,
            }
        )


def _joinable(
    args: ExistingGkeClusterArgs,
    name: str,
    configs: Sequence[Any] | None,
    version: str | None,
    pool: str,
) -> str:
    """The cluster's name, once it is known to run Workload Identity on the project's pool
    (without it the model readers' service accounts would get no Google identity) and a
    control plane the stack's node pools may join."""
    cluster = args.cluster_name
    problem = node_skew_problem(version, args.kubernetes_version)
    if problem is not None:
        raise ValueError(f"GKE cluster {cluster}: {problem}")
    pools = [field(c, "workload_pool") for c in configs or []]
    if pool not in pools:
        raise ValueError(
            f"GKE cluster {cluster} does not run Workload Identity on {pool} (it has "
            f"{pools or 'none'}); enable it: gcloud container clusters update {cluster} "
            f"--workload-pool={pool}"
        )
    return name
