"""GCP network for the inference clusters: a VPC with one regional subnet and Cloud NAT.

Creates a custom-mode VPC, one subnet in the region with secondary ranges for
GKE pods and services (VPC-native clusters), Private Google Access so private
nodes reach Google APIs, flow logs on the subnet, and a Cloud Router with Cloud
NAT so private nodes can pull images without external IPs.

A stack that sets ``gcp.existingNetwork`` creates none of this: :class:`ExistingGcpNetwork`
stands in with the given network and subnetwork (the composition passes the secondary
range names to GKE).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from blueprint.network import (
    gcp_network_id,
    gcp_network_project,
    gcp_ref_name,
    gcp_subnetwork_id,
)

TYPE = "llm-inference:gcp:Network"

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


@dataclass(frozen=True, kw_only=True)
class GcpNetworkArgs:
    project: str
    region: str
    cidr: str
    """The subnet's primary range (nodes)."""
    pods_cidr: str
    services_cidr: str


class GcpNetwork(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    """The VPC network's ID."""
    network_name: pulumi.Output[str]
    """The VPC network's name."""
    subnet_id: pulumi.Output[str]
    """The regional subnet's ID."""
    subnet_name: pulumi.Output[str]
    """The regional subnet's name."""

    def __init__(
        self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        network = gcp.compute.Network(
            f"{name}-vpc",
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-{args.region}",
            project=args.project,
            region=args.region,
            network=network.id,
            ip_cidr_range=args.cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": PODS_RANGE, "ip_cidr_range": args.pods_cidr},
                {"range_name": SERVICES_RANGE, "ip_cidr_range": args.services_cidr},
            ],
            log_config={
                "aggregation_interval": "INTERVAL_5_MIN",
                "flow_sampling": 0.5,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router",
            project=args.project,
            region=args.region,
            network=network.id,
            opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

        self.network_id = network.id
        self.network_name = network.name
        self.subnet_id = subnet.id
        self.subnet_name = subnet.name
        self.register_outputs(
            {
                "network_id": self.network_id,
                "network_name": self.network_name,
                "subnet_id": self.subnet_id,
                "subnet_name": self.subnet_name,
            }
        )


@dataclass(frozen=True, kw_only=True)
class ExistingGcpNetwork:
    """A VPC network and subnetwork the stack uses but does not manage
    (``gcp.existingNetwork``): nothing is registered. References are normalized to the
    ``projects/...`` ids GKE, Vertex AI and Private Service Connect accept; a bare name
    lives in the stack's project (the network) and the network's project and the stack's
    region (the subnetwork), so a Shared VPC is named by its host project's path."""

    network_id: pulumi.Output[str]
    """The VPC network's ID."""
    network_name: pulumi.Output[str]
    """The VPC network's name."""
    subnet_id: pulumi.Output[str]
    """The subnetwork's ID."""
    subnet_name: pulumi.Output[str]
    """The subnetwork's name."""

    @classmethod
    def of(cls, *, network: str, subnetwork: str, project: str, region: str) -> ExistingGcpNetwork:
        host = gcp_network_project(network, project)
        return cls(
            network_id=pulumi.Output.from_input(gcp_network_id(network, project)),
            network_name=pulumi.Output.from_input(gcp_ref_name(network)),
            subnet_id=pulumi.Output.from_input(gcp_subnetwork_id(subnetwork, host, region)),
            subnet_name=pulumi.Output.from_input(gcp_ref_name(subnetwork)),
        )
