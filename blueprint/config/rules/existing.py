"""Rules about infrastructure the stack uses but does not manage: an existing VPC or
network, and existing clusters.

A stack either creates a cloud's network (from its ranges) or names an existing one,
never both and never neither. Adopting a cluster means adopting its network too: a
cluster cannot move to a VPC the stack would create. What the blueprint needs from an
adopted cluster that it cannot read from the cluster itself (the role or service account
new nodes run as) is required by name; the IRSA provider is looked up from the cluster's
issuer unless its ARN is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.network import gcp_network_project
from blueprint.schema import Cloud, ClusterConfig, ExistingCluster, StackConfig

_GKE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")

_CREATED_ONLY = {
    "privateEndpoint": "the endpoint",
    "authorizedNetworks": "who reaches the API",
    "adminRoleArns": "access entries",
    "releaseChannel": "the release channel",
}
"""Cluster settings that shape a cluster the stack creates; an adopted cluster keeps its own."""


@rule
def aws_network_source(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """vpcCidr (a VPC the stack creates) or existingVpc (one it does not manage)."""
    if cfg.aws is None:
        return
    aws = cfg.aws
    existing = aws.existing_vpc
    if existing is None:
        if aws.vpc_cidr is None:
            yield ConfigIssue(
                ("aws", "vpcCidr"),
                "required: the range of the VPC the stack creates, such as 10.10.0.0/16; "
                "or set existingVpc to use a VPC the stack does not manage",
            )
        return
    if aws.vpc_cidr is not None:
        yield ConfigIssue(
            ("aws", "vpcCidr"),
            "the stack creates a VPC from vpcCidr or uses existingVpc, not both; remove "
            "vpcCidr to use the existing VPC (or existingVpc to create one)",
            str(aws.vpc_cidr),
        )
    if aws.nat_gateways is not None:
        yield ConfigIssue(
            ("aws", "natGateways"),
            "applies to a VPC the stack creates; the existing VPC's egress is its own: remove it",
            aws.nat_gateways,
        )
    path = ("aws", "existingVpc", "privateSubnetIds")
    missing = [z for z in aws.availability_zones if z not in existing.private_subnet_ids]
    if missing:
        yield ConfigIssue(
            path,
            f"has no subnet for {', '.join(missing)} of aws.availabilityZones; "
            "give one private subnet id per zone, <zone>: subnet-...",
        )
    zones = ", ".join(aws.availability_zones)
    seen: dict[str, str] = {}
    for zone, subnet in existing.private_subnet_ids.items():
        if zone not in aws.availability_zones:
            yield ConfigIssue(
                (*path, zone),
                f"is not one of aws.availabilityZones ({zones}); add the zone there or "
                "remove the subnet",
                subnet,
            )
        if subnet in seen:
            yield ConfigIssue(
                (*path, zone),
                f"is the subnet of {seen[subnet]} too; a subnet lies in one zone",
                subnet,
            )
        seen.setdefault(subnet, zone)


_GCP_RANGES = {
    "networkCidr": "network_cidr",
    "podsCidr": "pods_cidr",
    "servicesCidr": "services_cidr",
}


@rule
def gcp_network_source(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """networkCidr, podsCidr, servicesCidr (a network the stack creates) or existingNetwork."""
    if cfg.gcp is None:
        return
    gcp = cfg.gcp
    existing = gcp.existing_network
    ranges = {key: getattr(gcp, attr) for key, attr in _GCP_RANGES.items()}
    if existing is None:
        for key, value in ranges.items():
            if value is None:
                yield ConfigIssue(
                    ("gcp", key),
                    "required for the network the stack creates; or set existingNetwork "
                    "to use a network the stack does not manage",
                )
        return
    for key, value in ranges.items():
        if value is not None:
            yield ConfigIssue(
                ("gcp", key),
                "applies to a network the stack creates, and the stack uses existingNetwork: "
                "remove it (the existing subnetwork's ranges are its own)",
                str(value),
            )
    base = ("gcp", "existingNetwork")
    subnet = existing.subnetwork.removeprefix("https://www.googleapis.com/compute/v1/")
    parts = subnet.split("/")
    if len(parts) > 1:
        if parts[3] != gcp.region:
            yield ConfigIssue(
                (*base, "subnetwork"),
                f"is in region {parts[3]}, not the stack's region {gcp.region}; "
                f"use a subnetwork of {gcp.region}",
                existing.subnetwork,
            )
        network_project = gcp_network_project(existing.network, gcp.project)
        if parts[1] != network_project:
            yield ConfigIssue(
                (*base, "subnetwork"),
                f"is in project {parts[1]}, but the network is in {network_project}; a "
                "subnetwork lives in its network's project (the host project of a Shared VPC)",
                existing.subnetwork,
            )
    if existing.pod_range == existing.service_range:
        yield ConfigIssue(
            (*base, "serviceRange"),
            "is the pods' range too; pods and services need two secondary ranges",
            existing.service_range,
        )


@rule
def existing_clusters(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, cluster in cfg.clusters.items():
        if cluster.existing is not None:
            yield from _existing_cluster(cfg, name, cluster, cluster.existing)


def _existing_cluster(
    cfg: StackConfig, name: str, cluster: ClusterConfig, existing: ExistingCluster
) -> Iterator[ConfigIssue]:
    base = ("clusters", name)
    for key, what in _CREATED_ONLY.items():
        field = _field(key)
        if field in cluster.model_fields_set:
            yield ConfigIssue(
                (*base, key),
                f"sets {what} of a cluster the stack creates; the existing cluster keeps its "
                "own: remove it",
                _shown(getattr(cluster, field)),
            )
    pools = [p for p in cfg.gpu_pools.values() if p.cluster == name]
    if cluster.cloud is Cloud.AWS:
        yield from _existing_eks(cfg, name, existing, floor=any(p.on_demand_floor for p in pools))
    else:
        yield from _existing_gke(cfg, name, existing, pools=bool(pools))


def _existing_eks(
    cfg: StackConfig, name: str, existing: ExistingCluster, *, floor: bool
) -> Iterator[ConfigIssue]:
    path = ("clusters", name, "existing")
    if cfg.aws is not None and cfg.aws.existing_vpc is None:
        yield ConfigIssue(
            path,
            "adopting an EKS cluster needs its VPC: set aws.existingVpc to the cluster's VPC "
            "and private subnets (the stack would otherwise create a VPC the cluster is not in)",
        )
    if existing.node_service_account is not None:
        yield ConfigIssue(
            (*path, "nodeServiceAccount"),
            "applies to GKE clusters only; on EKS the floor's nodes run as nodeRoleArn: remove it",
            existing.node_service_account,
        )
    arn = existing.oidc_provider_arn
    if arn is not None and cfg.aws is not None and f"oidc.eks.{cfg.aws.region}." not in arn:
        yield ConfigIssue(
            (*path, "oidcProviderArn"),
            f"is the OIDC provider of a cluster outside {cfg.aws.region}; use the adopted "
            "cluster's own provider (or leave it out: it is looked up from the cluster)",
            arn,
        )
    if floor and existing.node_role_arn is None:
        yield ConfigIssue(
            (*path, "nodeRoleArn"),
            "required: a pool of this cluster has an on-demand floor, whose node groups need "
            "the instance role the cluster's nodes already run as (one EKS lets join it)",
        )


def _existing_gke(
    cfg: StackConfig, name: str, existing: ExistingCluster, *, pools: bool
) -> Iterator[ConfigIssue]:
    path = ("clusters", name, "existing")
    if cfg.gcp is not None and cfg.gcp.existing_network is None:
        yield ConfigIssue(
            path,
            "adopting a GKE cluster needs its network: set gcp.existingNetwork to the "
            "cluster's network, subnetwork and secondary ranges (the stack would otherwise "
            "create a network the cluster is not in)",
        )
    for key, value in (
        ("oidcProviderArn", existing.oidc_provider_arn),
        ("nodeRoleArn", existing.node_role_arn),
    ):
        if value is not None:
            yield ConfigIssue(
                (*path, key),
                "applies to EKS clusters only (GKE uses Workload Identity): remove it",
                value,
            )
    if not _GKE_NAME.fullmatch(existing.name):
        yield ConfigIssue(
            (*path, "name"),
            "is not a GKE cluster name (a-z, 0-9 and '-', starting with a letter, 40 at most)",
            existing.name,
        )
    if pools and existing.node_service_account is None:
        yield ConfigIssue(
            (*path, "nodeServiceAccount"),
            "required: the cluster's GPU pools need the service account their nodes run as "
            "(the cluster's node service account, with roles/container.defaultNodeServiceAccount)",
        )


def _field(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _shown(value: object) -> object:
    if isinstance(value, list):
        return [str(v) for v in value]
    return value
