"""Section 1, the foundation: one explicit provider and one network per cloud the stack uses.

Providers are built from the stack's own keys (never ambient ``aws:region`` or
``gcp:project`` config) and carry the stack's base tags or labels as defaults. A stack
with ``aws.existingVpc`` or ``gcp.existingNetwork`` creates no network: the existing one's
ids stand in, and every section downstream reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from components.aws.network import AwsNetwork, AwsNetworkArgs, ExistingAwsNetwork
from components.gcp.network import (
    PODS_RANGE,
    SERVICES_RANGE,
    ExistingGcpNetwork,
    GcpNetwork,
    GcpNetworkArgs,
)
from composition.context import StackContext, required


@dataclass(frozen=True)
class AwsFoundation:
    provider: aws.Provider
    network: AwsNetwork | ExistingAwsNetwork


@dataclass(frozen=True)
class GcpFoundation:
    provider: gcp.Provider
    network: GcpNetwork | ExistingGcpNetwork
    pods_range: str = PODS_RANGE
    """The subnetwork's secondary range GKE's pods take."""
    services_range: str = SERVICES_RANGE
    """The subnetwork's secondary range GKE's services take."""


@dataclass(frozen=True)
class Foundation:
    """The stack's clouds: ``None`` for a cloud the stack does not use."""

    aws: AwsFoundation | None
    gcp: GcpFoundation | None


def build(ctx: StackContext) -> Foundation:
    return Foundation(aws=_aws(ctx), gcp=_gcp(ctx))


def _aws(ctx: StackContext) -> AwsFoundation | None:
    cfg = ctx.config
    if cfg.aws is None:
        return None
    provider = aws.Provider(
        "aws",
        region=cfg.aws.region,
        default_tags={"tags": {**cfg.aws.tags, **ctx.base_tags}},
        allowed_account_ids=[cfg.aws.account_id] if cfg.aws.account_id else None,
    )
    existing = cfg.aws.existing_vpc
    if existing is not None:
        return AwsFoundation(
            provider=provider,
            network=ExistingAwsNetwork.lookup(
                existing.vpc_id,
                existing.private_subnet_ids,
                cfg.aws.availability_zones,
                provider,
            ),
        )
    clusters = [name for name, c in cfg.clusters.items() if c.cloud.value == "aws"]
    network = AwsNetwork(
        ctx.name("aws"),
        AwsNetworkArgs(
            cidr=str(required(cfg.aws.vpc_cidr, "aws.vpcCidr")),
            zones=cfg.aws.availability_zones,
            nat_gateways=cfg.aws.nat_gateways or "single",
            cluster_names=[ctx.name(name) for name in clusters],
            flow_log_retention_days=ctx.log_retention_days,
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return AwsFoundation(provider=provider, network=network)


def _gcp(ctx: StackContext) -> GcpFoundation | None:
    cfg = ctx.config
    if cfg.gcp is None:
        return None
    provider = gcp.Provider(
        "gcp",
        project=cfg.gcp.project,
        region=cfg.gcp.region,
        default_labels={**cfg.gcp.labels, **ctx.base_tags},
    )
    existing = cfg.gcp.existing_network
    if existing is not None:
        return GcpFoundation(
            provider=provider,
            network=ExistingGcpNetwork.of(
                network=existing.network,
                subnetwork=existing.subnetwork,
                project=cfg.gcp.project,
                region=cfg.gcp.region,
            ),
            pods_range=existing.pod_range,
            services_range=existing.service_range,
        )
    network = GcpNetwork(
        ctx.name("gcp"),
        GcpNetworkArgs(
            project=cfg.gcp.project,
            region=cfg.gcp.region,
            cidr=str(required(cfg.gcp.network_cidr, "gcp.networkCidr")),
            pods_cidr=str(required(cfg.gcp.pods_cidr, "gcp.podsCidr")),
            services_cidr=str(required(cfg.gcp.services_cidr, "gcp.servicesCidr")),
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return GcpFoundation(provider=provider, network=network)
