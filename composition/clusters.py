"""Section 2, clusters and GPU capacity: every configured cluster with its node pools.

Each cluster becomes a :class:`ClusterHandle` (provider, endpoint, identity, pools)
that the serving, monitoring and routing sections deploy onto. GPU pools come from
their one derivation (:func:`blueprint.capacity.pool_specs`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from blueprint.capacity import (
    NodeCounts,
    PoolSpec,
    mig_parted_config,
    pool_specs,
    stack_mig_layouts,
    system_pool_spec,
)
from blueprint.limits import GKE_CLUSTER_NAME, fit_name
from blueprint.schema import Cloud, ClusterConfig, Environment
from components.aws.eks import EksCluster, EksClusterArgs
from components.aws.gpu_capacity import AwsGpuCapacity, AwsGpuCapacityArgs
from components.gcp.gke import GkeCluster, GkeClusterArgs
from components.gcp.gpu_pools import GkeGpuPools, GkeGpuPoolsArgs
from components.gcp.network import PODS_RANGE, SERVICES_RANGE
from components.k8s.gpu_operator import GpuOperator, GpuOperatorArgs
from components.k8s.handle import ClusterHandle
from composition.context import StackContext, required
from composition.foundation import AwsFoundation, Foundation, GcpFoundation


def build(ctx: StackContext, base: Foundation) -> dict[str, ClusterHandle]:
    """Every configured cluster with its GPU capacity, by logical name."""
    specs = pool_specs(ctx.config)
    handles: dict[str, ClusterHandle] = {}
    for name, cluster in ctx.config.clusters.items():
        pools = {p: s for p, s in specs.items() if s.cluster == name}
        if cluster.cloud is Cloud.AWS and base.aws is not None:
            handles[name] = _eks(ctx, name, base.aws, pools)
        elif cluster.cloud is Cloud.GCP and base.gcp is not None:
            handles[name] = _gke(ctx, name, base.gcp, pools)
    return handles


def runs_gpu_operator(cluster: ClusterConfig, pools: Mapping[str, PoolSpec]) -> bool:
    """The NVIDIA GPU Operator (and with it the DCGM exporter) runs on an EKS cluster with
    GPU pools and a pinned operator version; GKE manages its GPUs itself."""
    return (
        cluster.cloud == Cloud.AWS
        and cluster.gpu_operator_version is not None
        and any(p.gpu for p in pools.values())
    )


def _system_counts(cluster: ClusterConfig) -> NodeCounts:
    nodes = cluster.system_pool.nodes
    return NodeCounts(
        min=nodes.min,
        desired=nodes.desired if nodes.desired is not None else nodes.min,
        max=nodes.max,
    )


def _eks(
    ctx: StackContext, name: str, base: AwsFoundation, pools: dict[str, PoolSpec]
) -> ClusterHandle:
    cfg = ctx.config
    cluster = cfg.clusters[name]
    region = required(cfg.aws, "aws").region
    ami_release = required(cluster.ami_release_version, f"clusters.{name}.amiReleaseVersion")
    cluster_name = ctx.name(name)
    system = system_pool_spec(name, cfg)
    eks = EksCluster(
        cluster_name,
        EksClusterArgs(
            cluster_name=cluster_name,
            region=region,
            kubernetes_version=cluster.kubernetes_version,
            ami_release_version=ami_release,
            vpc_id=base.network.vpc_id,
            subnet_ids=base.network.private_subnet_ids,
            system_instance_types=cluster.system_pool.instance_types,
            system_nodes=_system_counts(cluster),
            private_endpoint=cluster.private_endpoint,
            authorized_networks=[str(n) for n in cluster.authorized_networks],
            admin_role_arns=cluster.admin_role_arns,
            vpc_cni_version=required(cluster.vpc_cni_version, f"clusters.{name}.vpcCniVersion"),
            log_retention_days=ctx.log_retention_days,
            system_labels=dict(system.labels) if system else {},
        ),
        opts=pulumi.ResourceOptions(provider=base.provider),
    )
    both = pulumi.ResourceOptions(providers=[base.provider, eks.provider])
    ready: list[pulumi.Resource] = []
    if pools:
        capacity = AwsGpuCapacity(
            f"{cluster_name}-gpu",
            AwsGpuCapacityArgs(
                cluster_name=cluster_name,
                region=region,
                kubernetes_version=cluster.kubernetes_version,
                ami_release_version=ami_release,
                karpenter_version=cluster.karpenter_version,
                cluster_endpoint=eks.endpoint,
                subnet_ids=base.network.private_subnet_ids,
                security_group_id=eks.cluster_security_group_id,
                node_role_arn=eks.node_role_arn,
                oidc_provider_arn=eks.oidc_provider_arn,
                oidc_issuer=eks.oidc_issuer,
                pools=pools,
            ),
            opts=pulumi.ResourceOptions.merge(both, pulumi.ResourceOptions(depends_on=[eks])),
        )
        ready.append(capacity)
    if runs_gpu_operator(cluster, pools) and cluster.gpu_operator_version is not None:
        operator = GpuOperator(
            f"{cluster_name}-gpu-operator",
            GpuOperatorArgs(
                version=cluster.gpu_operator_version,
                mig_config=mig_parted_config(extra=stack_mig_layouts(pools.values())),
            ),
            opts=pulumi.ResourceOptions(provider=eks.provider),
        )
        ready.append(operator)
    return ClusterHandle(
        name=name,
        cloud="aws",
        region=region,
        cluster_name=eks.cluster_name,
        provider=eks.provider,
        endpoint=eks.endpoint,
        pools=pools,
        depends_on=ready,
        oidc_provider_arn=eks.oidc_provider_arn,
        oidc_issuer=eks.oidc_issuer,
    )


def _gke(
    ctx: StackContext, name: str, base: GcpFoundation, pools: dict[str, PoolSpec]
) -> ClusterHandle:
    cfg = ctx.config
    cluster = cfg.clusters[name]
    gcp = required(cfg.gcp, "gcp")
    # GKE takes 40 characters; the stack's name and a 40-character key may not fit.
    cluster_name = fit_name(ctx.name(name), GKE_CLUSTER_NAME)
    system = system_pool_spec(name, cfg)
    gke = GkeCluster(
        cluster_name,
        GkeClusterArgs(
            cluster_name=cluster_name,
            project=gcp.project,
            region=gcp.region,
            zones=gcp.zones,
            kubernetes_version=cluster.kubernetes_version,
            release_channel=required(cluster.release_channel, f"clusters.{name}.releaseChannel"),
            network_id=base.network.network_id,
            subnet_id=base.network.subnet_id,
            pods_range=PODS_RANGE,
            services_range=SERVICES_RANGE,
            system_machine_type=cluster.system_pool.instance_types[0],
            system_nodes=_system_counts(cluster),
            private_endpoint=cluster.private_endpoint,
            authorized_networks=[str(n) for n in cluster.authorized_networks],
            deletion_protection=cfg.environment is Environment.PROD,
            system_labels=dict(system.labels) if system else {},
        ),
        opts=pulumi.ResourceOptions(provider=base.provider),
    )
    ready: list[pulumi.Resource] = []
    if pools:
        ready.append(
            GkeGpuPools(
                f"{cluster_name}-gpu",
                GkeGpuPoolsArgs(
                    project=gcp.project,
                    region=gcp.region,
                    cluster_name=gke.cluster_name,
                    node_service_account=gke.node_service_account,
                    pools=pools,
                ),
                opts=pulumi.ResourceOptions(providers=[base.provider, gke.provider]),
            )
        )
    return ClusterHandle(
        name=name,
        cloud="gcp",
        region=gcp.region,
        cluster_name=gke.cluster_name,
        provider=gke.provider,
        endpoint=gke.endpoint,
        pools=pools,
        depends_on=ready,
        workload_pool=gke.workload_pool,
        project=gcp.project,
    )
