"""A GKE Standard cluster for inference: private nodes, Workload Identity, shielded nodes.

Creates a node service account with only the logging and monitoring roles
nodes need, the regional cluster on the blueprint's VPC (VPC-native with the
network's pod and service ranges, private nodes, a private control-plane
endpoint unless told otherwise, Workload Identity, shielded nodes, a release
channel, deletion protection where asked, GKE's managed DCGM metrics for GPU
nodes, Dataplane V2 so that NetworkPolicies are enforced, Binary Authorization
in enforcing mode), the system node pool (on-demand, shielded with secure boot, the GKE
metadata server), and a Kubernetes provider bound to the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from blueprint.capacity import NodeCounts
from blueprint.limits import SERVICE_ACCOUNT_ID, fit_name
from components.gcp.kms import GKE_AGENT, CmekArgs, CmekNames, cmek_key, service_agent

TYPE = "llm-inference:gcp:GkeCluster"
DATAPATH_PROVIDER = "ADVANCED_DATAPATH"
"""GKE Dataplane V2: enforces Kubernetes NetworkPolicy (container.v1 NetworkConfig)."""
BINARY_AUTHORIZATION_MODE = "PROJECT_SINGLETON_POLICY_ENFORCE"
"""Pods admitted against the project's Binary Authorization policy (container.v1)."""

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/autoscaling.metricsWriter",
    "roles/artifactregistry.reader",
)
"""The minimum a GKE node's service account needs (GKE hardening guide)."""
OAUTH_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
"""Access is bounded by the service account's roles, not by scopes."""
IMAGE_TYPE = "COS_CONTAINERD"
MANAGEMENT: gcp.container.NodePoolManagementArgsDict = {"auto_repair": True, "auto_upgrade": True}
UPGRADE_SETTINGS: gcp.container.NodePoolUpgradeSettingsArgsDict = {
    "max_surge": 1,
    "max_unavailable": 0,
}
"""Surge upgrades: a new node joins before an old one drains (GPU capacity never dips)."""


@dataclass(frozen=True, kw_only=True)
class GkeClusterArgs:
    cluster_name: str
    project: str
    region: str
    zones: Sequence[str]
    kubernetes_version: str
    """The minimum control-plane version (a minor such as 1.33); the channel upgrades it."""
    release_channel: str
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    pods_range: str
    services_range: str
    system_machine_type: str
    system_nodes: NodeCounts
    private_endpoint: bool = True
    authorized_networks: Sequence[str] = ()
    deletion_protection: bool = True
    """GKE's deletion protection and Pulumi's protect on the cluster and its secrets key."""
    system_disk_gb: int = 100
    system_labels: Mapping[str, str] = field(default_factory=dict)


def node_config_basics(service_account: pulumi.Input[str]) -> dict[str, Any]:
    """What every node pool shares: shielded, metadata concealed, least privilege."""
    return {
        "service_account": service_account,
        "oauth_scopes": list(OAUTH_SCOPES),
        "image_type": IMAGE_TYPE,
        "shielded_instance_config": {
            "enable_secure_boot": True,
            "enable_integrity_monitoring": True,
        },
        # Pods see the GKE metadata server (Workload Identity), never the node's.
        "workload_metadata_config": {"mode": "GKE_METADATA"},
    }


class GkeCluster(pulumi.ComponentResource):
    cluster_id: pulumi.Output[str]
    """The cluster's ID (``projects/<p>/locations/<region>/clusters/<name>``)."""
    cluster_name: pulumi.Output[str]
    """The cluster's name in GCP."""
    endpoint: pulumi.Output[str]
    """The control plane's address (private unless ``private_endpoint`` is false)."""
    node_service_account: pulumi.Output[str]
    """The email of the nodes' service account (GPU node pools use it too)."""
    workload_pool: str
    """The Workload Identity pool, ``<project>.svc.id.goog``."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with ``gke-gcloud-auth-plugin`` (no stored
    credentials), marked secret: it names the endpoint and CA."""
    provider: k8s.Provider
    """The Kubernetes provider bound to this cluster (waits for the system nodes)."""
    system_node_pool: gcp.container.NodePool
    """The on-demand node pool the cluster's own services run on."""

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.workload_pool = f"{args.project}.svc.id.goog"

        account = self._create_node_account()
        secrets_key, secrets_grant = self._create_secrets_key()
        cluster = self._create_cluster(secrets_key, secrets_grant)
        self.system_node_pool = self._create_system_pool(cluster, account)

        self.cluster_id = cluster.id
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.node_service_account = account.email
        ca = cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        self.kubeconfig = pulumi.Output.secret(kubeconfig(cluster.name, self.endpoint, ca))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_node_pool]),
        )
        self.register_outputs(
            {
                "cluster_id": self.cluster_id,
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "node_service_account": self.node_service_account,
                "workload_pool": self.workload_pool,
            }
        )

    def _create_node_account(self) -> gcp.serviceaccount.Account:
        args = self._args
        account = gcp.serviceaccount.Account(
            f"{self._name}-nodes",
            project=args.project,
            account_id=fit_name(f"{args.cluster_name}-nodes", SERVICE_ACCOUNT_ID),
            display_name=f"GKE nodes of {args.cluster_name}",
            opts=self._child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{self._name}-nodes-{role.rsplit('/', 1)[-1]}",
                project=args.project,
                role=role,
                member=account.email.apply(lambda email: f"serviceAccount:{email}"),
                opts=self._child,
            )
        return account

    def _create_secrets_key(self) -> tuple[gcp.kms.CryptoKey, gcp.kms.CryptoKeyIAMMember]:
        """A Cloud KMS key for envelope encryption of Kubernetes Secrets (application-layer).

        The key lives in the cluster's region (GKE requires it) and the GKE service
        agent may use it for nothing else than encrypt/decrypt.
        """
        args = self._args
        cmek = cmek_key(
            CmekNames(
                ring_resource=f"{self._name}-secrets",
                ring=f"{args.cluster_name}-secrets",
                key_resource=f"{self._name}-secrets",
                key="kubernetes-secrets",
                grant_resource=f"{self._name}-secrets-gke-agent",
            ),
            CmekArgs(
                project=args.project,
                location=args.region,
                agent=service_agent(args.project, GKE_AGENT),
                protect=args.deletion_protection,
            ),
            parent=self,
        )
        return cmek.key, cmek.grant

    def _create_cluster(
        self, secrets_key: gcp.kms.CryptoKey, secrets_grant: gcp.kms.CryptoKeyIAMMember
    ) -> gcp.container.Cluster:
        args = self._args
        return gcp.container.Cluster(
            f"{self._name}-cluster",
            name=args.cluster_name,
            project=args.project,
            location=args.region,
            node_locations=list(args.zones),
            network=args.network_id,
            subnetwork=args.subnet_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": args.pods_range,
                "services_secondary_range_name": args.services_range,
            },
            # Node pools are managed separately, so a change to one never
            # replaces the cluster.
            remove_default_node_pool=True,
            initial_node_count=1,
            min_master_version=args.kubernetes_version,
            release_channel={"channel": args.release_channel},
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": args.private_endpoint,
            },
            master_authorized_networks_config={
                "cidr_blocks": [
                    {"cidr_block": cidr, "display_name": f"authorized-{i}"}
                    for i, cidr in enumerate(args.authorized_networks)
                ]
            },
            workload_identity_config={"workload_pool": self.workload_pool},
            database_encryption={"state": "ENCRYPTED", "key_name": secrets_key.id},
            enable_shielded_nodes=True,
            # Dataplane V2 (eBPF, Cilium) enforces NetworkPolicy; the network_policy
            # add-on (Calico) must stay unset beside it. Set at creation only: changing it
            # on an existing cluster replaces it (components/gcp/README.md).
            datapath_provider=DATAPATH_PROVIDER,
            # Every pod is admitted against the project's Binary Authorization policy.
            binary_authorization={"evaluation_mode": BINARY_AUTHORIZATION_MODE},
            deletion_protection=args.deletion_protection,
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
            # GKE's managed DCGM exporter: GPU metrics without the GPU Operator.
            monitoring_config={
                "enable_components": ["SYSTEM_COMPONENTS", "DCGM"],
                "managed_prometheus": {"enabled": True},
            },
            # GKE checks it may use the key when the cluster is created.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[secrets_grant], protect=args.deletion_protection
            ),
        )

    def _create_system_pool(
        self, cluster: gcp.container.Cluster, account: gcp.serviceaccount.Account
    ) -> gcp.container.NodePool:
        args = self._args
        autoscaling: gcp.container.NodePoolAutoscalingArgsDict = {
            "total_min_node_count": args.system_nodes.min,
            "total_max_node_count": args.system_nodes.max,
            "location_policy": "BALANCED",
        }
        return gcp.container.NodePool(
            f"{self._name}-system",
            name="system",
            project=args.project,
            location=args.region,
            cluster=cluster.name,
            node_locations=list(args.zones),
            autoscaling=autoscaling,
            node_config=cast(
                gcp.container.NodePoolNodeConfigArgsDict,
                {
                    **node_config_basics(account.email),
                    "machine_type": args.system_machine_type,
                    "disk_size_gb": args.system_disk_gb,
                    "disk_type": "pd-balanced",
                    "labels": dict(args.system_labels),
                },
            ),
            management=MANAGEMENT,
            upgrade_settings=UPGRADE_SETTINGS,
            opts=self._child,
        )


def kubeconfig(
    cluster_name: pulumi.Input[str], endpoint: pulumi.Input[str], ca: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A kubeconfig that gets a token from ``gke-gcloud-auth-plugin``."""

    def render(values: list[str]) -> str:
        name, server, ca_data = values
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": name,
                        "cluster": {
                            "server": f"https://{server}",
                            "certificate-authority-data": ca_data,
                        },
                    }
                ],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
                "current-context": name,
                "users": [
                    {
                        "name": name,
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "command": "gke-gcloud-auth-plugin",
                                "provideClusterInfo": True,
                            }
                        },
                    }
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(cluster_name, endpoint, ca).apply(render)
