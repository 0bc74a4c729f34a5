"""AWS network for the inference clusters: a VPC with private and public subnets per zone.

A stack that sets ``aws.existingVpc`` creates none of this: :class:`ExistingAwsNetwork`
stands in with the given ids, checked against the account by lookups.

Creates the VPC, one private subnet (nodes, no public IPs) and one public subnet
(load balancers, NAT) per zone, an internet gateway, NAT gateways (one, or one
per zone where a zone outage must not cut egress), route tables, and VPC flow
logs to a CloudWatch log group with a retention period. Subnets carry the tags
EKS and Karpenter use to discover them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from blueprint.limits import CLOUDWATCH_RETENTION_DAYS, IAM_ROLE_NAME, autoname_within
from blueprint.network import plan_subnets, subnet_problems
from components._inputs import InputErrors

TYPE = "llm-inference:aws:Network"


@dataclass(frozen=True, kw_only=True)
class AwsNetworkArgs:
    cidr: str
    """The VPC's IPv4 range; split into /19 private and /24 public subnets per zone."""
    zones: Sequence[str]
    nat_gateways: Literal["single", "per-zone"] = "single"
    cluster_names: Sequence[str] = ()
    """Clusters that will discover these subnets (kubernetes.io/cluster/<name> tags)."""
    flow_log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class AwsNetwork(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    """The VPC's ID."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets, one per zone, in the order of ``args.zones``."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnets (load balancers and NAT only), one per zone."""

    def __init__(
        self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        errors = InputErrors(TYPE, name)
        for problem in subnet_problems(args.cidr, args.zones):
            errors.add("cidr", problem)
        errors.check(bool(args.zones), "zones", "list at least one availability zone")
        errors.check(len(set(args.zones)) == len(args.zones), "zones", "a zone is listed twice")
        errors.check(
            args.flow_log_retention_days in CLOUDWATCH_RETENTION_DAYS,
            "flow_log_retention_days",
            f"CloudWatch Logs accepts only {list(CLOUDWATCH_RETENTION_DAYS)} "
            f"(got {args.flow_log_retention_days})",
        )
        errors.raise_if_any()
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        vpc = self._create_vpc()
        private_cidrs, public_cidrs = plan_subnets(args.cidr, args.zones)
        public = self._create_public_subnets(vpc, public_cidrs)
        private = self._create_private_subnets(vpc, private_cidrs, public)
        self._create_flow_logs(vpc)

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
            }
        )

    def _tags(self, name: str, **extra: str) -> dict[str, str]:
        return {**self._args.tags, "Name": name, **extra}

    def _cluster_tags(self, role: str) -> dict[str, str]:
        tags = {f"kubernetes.io/cluster/{c}": "shared" for c in self._args.cluster_names}
        tags[role] = "1"
        if self._args.cluster_names:
            # Karpenter's documented discovery tag, for tools that select by it; this
            # blueprint's EC2NodeClasses select the subnets by id (gpu_capacity.py).
            tags["karpenter.sh/discovery"] = ",".join(self._args.cluster_names)
        return tags

    def _create_vpc(self) -> aws.ec2.Vpc:
        return aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=self._args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=self._tags(f"{self._name}-vpc"),
            opts=self._child,
        )

    def _create_public_subnets(self, vpc: aws.ec2.Vpc, cidrs: list[str]) -> list[aws.ec2.Subnet]:
        igw = aws.ec2.InternetGateway(
            f"{self._name}-igw",
            vpc_id=vpc.id,
            tags=self._tags(f"{self._name}-igw"),
            opts=self._child,
        )
        table = aws.ec2.RouteTable(
            f"{self._name}-public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=self._tags(f"{self._name}-public"),
            opts=self._child,
        )
        subnets = []
        for zone, cidr in zip(self._args.zones, cidrs, strict=True):
            subnet = aws.ec2.Subnet(
                f"{self._name}-public-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # Nothing launched here gets a public IP by default; NAT gateways
                # and load balancers get their addresses explicitly.
                map_public_ip_on_launch=False,
                tags=self._tags(
                    f"{self._name}-public-{zone}", **self._cluster_tags("kubernetes.io/role/elb")
                ),
                opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-public-{zone}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child,
            )
            subnets.append(subnet)
        return subnets

    def _create_private_subnets(
        self, vpc: aws.ec2.Vpc, cidrs: list[str], public: list[aws.ec2.Subnet]
    ) -> list[aws.ec2.Subnet]:
        per_zone = self._args.nat_gateways == "per-zone"
        nats: list[aws.ec2.NatGateway] = []
        for i, zone in enumerate(self._args.zones if per_zone else self._args.zones[:1]):
            eip = aws.ec2.Eip(
                f"{self._name}-nat-{zone}",
                domain="vpc",
                tags=self._tags(f"{self._name}-nat-{zone}"),
                opts=self._child,
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{self._name}-nat-{zone}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags=self._tags(f"{self._name}-nat-{zone}"),
                    opts=self._child,
                )
            )
        subnets = []
        for i, (zone, cidr) in enumerate(zip(self._args.zones, cidrs, strict=True)):
            nat = nats[i] if per_zone else nats[0]
            subnet = aws.ec2.Subnet(
                f"{self._name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=self._tags(
                    f"{self._name}-private-{zone}",
                    **self._cluster_tags("kubernetes.io/role/internal-elb"),
                ),
                opts=self._child,
            )
            table = aws.ec2.RouteTable(
                f"{self._name}-private-{zone}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=self._tags(f"{self._name}-private-{zone}"),
                opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{self._name}-private-{zone}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=self._child,
            )
            subnets.append(subnet)
        return subnets

    def _create_flow_logs(self, vpc: aws.ec2.Vpc) -> None:
        logs = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            retention_in_days=self._args.flow_log_retention_days,
            tags=self._tags(f"{self._name}-flow-logs"),
            opts=self._child,
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs",
            name=autoname_within(f"{self._name}-flow-logs", IAM_ROLE_NAME),
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=self._tags(f"{self._name}-flow-logs"),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs",
            role=role.id,
            policy=logs.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=self._child,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="REJECT",
            log_destination=logs.arn,
            iam_role_arn=role.arn,
            tags=self._tags(f"{self._name}-flow-logs"),
            opts=self._child,
        )


@dataclass(frozen=True, kw_only=True)
class ExistingAwsNetwork:
    """A VPC the stack uses but does not manage (``aws.existingVpc``): nothing is registered.

    Its ids are looked up, each subnet with the zone and VPC it must have, so a preview
    fails on a subnet that does not exist, lies in another zone or belongs to another VPC
    before any cluster is placed in it. Karpenter needs no tag on them (the EC2NodeClasses
    select subnets by id); Services of type LoadBalancer do, as components/aws/README.md
    lists.
    """

    vpc_id: pulumi.Output[str]
    """The VPC's ID."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets, one per zone, in the order of the stack's zones."""

    @classmethod
    def lookup(
        cls,
        vpc_id: str,
        private_subnet_ids: Mapping[str, str],
        zones: Sequence[str],
        provider: pulumi.ProviderResource,
    ) -> ExistingAwsNetwork:
        """The VPC ``vpc_id`` and its subnet in each of ``zones`` (``zone -> subnet id``)."""
        invoke = pulumi.InvokeOutputOptions(provider=provider)
        vpc = aws.ec2.get_vpc_output(id=vpc_id, opts=invoke)
        subnets = [
            aws.ec2.get_subnet_output(
                id=private_subnet_ids[zone], availability_zone=zone, vpc_id=vpc.id, opts=invoke
            ).id
            for zone in zones
        ]
        return cls(vpc_id=vpc.id, private_subnet_ids=pulumi.Output.all(*subnets))
