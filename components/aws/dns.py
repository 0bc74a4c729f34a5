"""Route 53 for the public API name: the core's hosted zone, and one health-checked
latency record per region (core and edge), so clients reach the nearest healthy one.

``ApiZone`` creates the hosted zone (a subdomain the parent zone delegates to; its
name servers are an output). ``RegionalApiRecord`` creates, for one region's
gateway, an HTTPS health check on the gateway's health path and a latency record
for the API name pointing at that gateway, tied to the health check. Route 53
answers each client with the lowest-latency region whose health check passes: when
the edge's check fails, its users get the core; that is the failover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from blueprint.triton import READY_PATH

ZONE_TYPE = "llm-inference:aws:ApiZone"
RECORD_TYPE = "llm-inference:aws:RegionalApiRecord"


@dataclass(frozen=True, kw_only=True)
class ApiZoneArgs:
    zone: str
    tags: Mapping[str, str] = field(default_factory=dict)


class ApiZone(pulumi.ComponentResource):
    zone_id: pulumi.Output[str]
    """The hosted zone's id."""
    name_servers: pulumi.Output[Sequence[str]]
    """Name servers the parent zone must delegate the subdomain to (NS records)."""

    def __init__(
        self, name: str, args: ApiZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(ZONE_TYPE, name, None, opts)
        zone = aws.route53.Zone(
            f"{name}-zone",
            name=args.zone,
            comment="LLM inference API (managed by Pulumi; edge stacks add records)",
            tags=dict(args.tags),
            # Deleting the zone breaks every client's name resolution.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.zone_id = zone.zone_id
        self.name_servers = zone.name_servers
        self.register_outputs({"zone_id": self.zone_id, "name_servers": self.name_servers})


@dataclass(frozen=True, kw_only=True)
class RegionalApiRecordArgs:
    zone_id: pulumi.Input[str]
    hostname: pulumi.Input[str]
    """The API name clients use (the same for every region)."""
    region: str
    """The AWS region latency is measured to (the record's set identifier too)."""
    target: pulumi.Input[str]
    """The region's gateway address (load balancer hostname)."""
    health_check_path: str = READY_PATH
    port: int = 443
    ttl: int = 60
    failure_threshold: int = 3
    request_interval: int = 10
    tags: Mapping[str, str] = field(default_factory=dict)


class RegionalApiRecord(pulumi.ComponentResource):
    health_check_id: pulumi.Output[str]
    """The Route 53 health check of this region's gateway."""
    record_fqdn: pulumi.Output[str]
    """The record's name."""

    def __init__(
        self, name: str, args: RegionalApiRecordArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(RECORD_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        check = aws.route53.HealthCheck(
            f"{name}-health",
            type="HTTPS",
            fqdn=args.target,
            port=args.port,
            resource_path=args.health_check_path,
            request_interval=args.request_interval,
            failure_threshold=args.failure_threshold,
            measure_latency=True,
            enable_sni=True,
            tags={**args.tags, "Name": f"{name}-health"},
            opts=child,
        )
        record = aws.route53.Record(
            f"{name}-latency",
            zone_id=args.zone_id,
            name=args.hostname,
            type="CNAME",
            ttl=args.ttl,
            records=[args.target],
            set_identifier=args.region,
            latency_routing_policies=[{"region": args.region}],
            health_check_id=check.id,
            opts=child,
        )
        self.health_check_id = check.id
        self.record_fqdn = record.fqdn
        self.register_outputs(
            {"health_check_id": self.health_check_id, "record_fqdn": self.record_fqdn}
        )
