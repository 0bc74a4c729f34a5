"""Composition root: one stack of the LLM inference platform.

The only module that turns configuration into resources. It reads the stack's
validated configuration once (``from_pulumi``), creates explicit cloud providers
from it, wires the components together with typed arguments, and exports the
stack outputs named in ``blueprint.outputs``. Components never read config.

Run by ``pulumi preview|up -s <stack>`` for real, and by ``make preview`` offline
under Pulumi's mocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from blueprint import outputs as out
from blueprint import tags
from blueprint.config import StackConfig, from_pulumi
from blueprint.model_pins import model_pins
from blueprint.tiered import (
    build_dns,
    build_routing,
    build_serverless,
    check_edge_against_core,
    routing_export,
    served_models,
)
from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.gcp.network import GcpNetwork, GcpNetworkArgs


@dataclass(frozen=True)
class AwsFoundation:
    provider: aws.Provider
    network: AwsNetwork


@dataclass(frozen=True)
class GcpFoundation:
    provider: gcp.Provider
    network: GcpNetwork


def build_aws(cfg: StackConfig, stack: str) -> AwsFoundation | None:
    if cfg.aws is None:
        return None
    base = tags.base_tags(
        environment=cfg.environment.value, cost_center=cfg.cost_center, team=cfg.team, stack=stack
    )
    provider = aws.Provider(
        "aws",
        region=cfg.aws.region,
        default_tags={"tags": {**cfg.aws.tags, **base}},
        allowed_account_ids=[cfg.aws.account_id] if cfg.aws.account_id else None,
    )
    clusters = [name for name, c in cfg.clusters.items() if c.cloud.value == "aws"]
    network = AwsNetwork(
        f"{stack}-aws",
        AwsNetworkArgs(
            cidr=str(cfg.aws.vpc_cidr),
            zones=cfg.aws.availability_zones,
            nat_gateways=cfg.aws.nat_gateways,
            cluster_names=[f"{stack}-{name}" for name in clusters],
            flow_log_retention_days=cfg.monitoring.retention_days if cfg.monitoring else 30,
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return AwsFoundation(provider=provider, network=network)


def build_gcp(cfg: StackConfig, stack: str) -> GcpFoundation | None:
    if cfg.gcp is None:
        return None
    base = tags.base_tags(
        environment=cfg.environment.value, cost_center=cfg.cost_center, team=cfg.team, stack=stack
    )
    provider = gcp.Provider(
        "gcp",
        project=cfg.gcp.project,
        region=cfg.gcp.region,
        default_labels={**cfg.gcp.labels, **base},
    )
    network = GcpNetwork(
        f"{stack}-gcp",
        GcpNetworkArgs(
            project=cfg.gcp.project,
            region=cfg.gcp.region,
            cidr=str(cfg.gcp.network_cidr),
            pods_cidr=str(cfg.gcp.pods_cidr),
            services_cidr=str(cfg.gcp.services_cidr),
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return GcpFoundation(provider=provider, network=network)


def main() -> None:
    cfg = from_pulumi()
    stack = pulumi.get_stack()

    aws_base = build_aws(cfg, stack)
    gcp_base = build_gcp(cfg, stack)

    core = None
    pins = model_pins(served_models(cfg))
    if cfg.edge is not None:
        core = pulumi.StackReference(cfg.edge.core_stack)
        pulumi.export(out.CORE_STACK, core.name)
        pulumi.export(out.EDGE_ALIGNMENT, check_edge_against_core(cfg, pins, core))

    # Serverless endpoints, tiered routing and DNS (blueprint/tiered.py).
    serverless = build_serverless(
        cfg,
        stack,
        aws_provider=aws_base.provider if aws_base else None,
        gcp_provider=gcp_base.provider if gcp_base else None,
        gcp_network=(gcp_base.network.network_id, gcp_base.network.subnet_id) if gcp_base else None,
    )
    # The routing goes on routing.entryCluster through its Kubernetes provider; pass
    # {cluster name: provider} here once the clusters are built in this program.
    k8s_providers: dict[str, k8s.Provider] = {}
    routing = build_routing(cfg, stack, k8s_providers, serverless, core)
    for key, value in build_dns(
        cfg, stack, aws_provider=aws_base.provider if aws_base else None, routing=routing, core=core
    ).items():
        pulumi.export(key, value)
    pulumi.export(out.MODEL_PINS, pins)
    if (exported := routing_export(cfg)) is not None:
        pulumi.export(out.ROUTING, exported)
    pulumi.export(
        out.SERVERLESS_ENDPOINTS,
        {
            **{
                n: {"cloud": "aws", "name": e.endpoint_name}
                for n, e in serverless.sagemaker.items()
            },
            **{n: {"cloud": "gcp", "name": e.endpoint_name} for n, e in serverless.vertex.items()},
        },
    )

    pulumi.export(out.ENVIRONMENT, cfg.environment.value)
    pulumi.export(
        out.CLUSTERS,
        {
            name: {
                "cloud": c.cloud.value,
                "region": (cfg.aws.region if c.cloud.value == "aws" and cfg.aws else None)
                or (cfg.gcp.region if cfg.gcp else None),
            }
            for name, c in cfg.clusters.items()
        },
    )
    pulumi.export(
        out.MODEL_DEPLOYMENTS,
        {
            name: {"cluster": d.cluster, "repoModels": list(d.repo_models), "variant": d.variant}
            for name, d in cfg.models.items()
        },
    )
    if aws_base is not None and cfg.aws is not None:
        pulumi.export(out.AWS_REGION, cfg.aws.region)
        pulumi.export(out.AWS_VPC_ID, aws_base.network.vpc_id)
        pulumi.export(out.AWS_PRIVATE_SUBNET_IDS, aws_base.network.private_subnet_ids)
    if gcp_base is not None and cfg.gcp is not None:
        pulumi.export(out.GCP_PROJECT, cfg.gcp.project)
        pulumi.export(out.GCP_NETWORK, gcp_base.network.network_name)


main()
