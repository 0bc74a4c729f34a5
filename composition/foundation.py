"""Section 1, the foundation: one explicit provider and one network per cloud the stack uses.

Providers are built from the stack's own keys (never ambient ``aws:region`` or
``gcp:project`` config) and carry the stack's base tags or labels as defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp

from components.aws.network import AwsNetwork, AwsNetworkArgs
from components.gcp.network import GcpNetwork, GcpNetworkArgs
from composition.context import StackContext


@dataclass(frozen=True)
class AwsFoundation:
    provider: aws.Provider
    network: AwsNetwork


@dataclass(frozen=True)
class GcpFoundation:
    provider: gcp.Provider
    network: GcpNetwork


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
    clusters = [name for name, c in cfg.clusters.items() if c.cloud.value == "aws"]
    network = AwsNetwork(
        ctx.name("aws"),
        AwsNetworkArgs(
            cidr=str(cfg.aws.vpc_cidr),
            zones=cfg.aws.availability_zones,
            nat_gateways=cfg.aws.nat_gateways,
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
    network = GcpNetwork(
        ctx.name("gcp"),
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
