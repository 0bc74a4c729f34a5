"""Network components under mocks: subnets per zone, NAT layout, no public IPs, GKE ranges."""

from __future__ import annotations

import json
from ipaddress import IPv4Network

import pulumi
import pytest

from blueprint.config import StackConfig
from blueprint.network import plan_subnets
from components.aws.network import AwsNetwork, AwsNetworkArgs
from tools.preview.recorder import Plan


def test_subnet_plan_is_disjoint_and_inside_the_vpc() -> None:
    private, public = plan_subnets("10.30.0.0/16", ["a", "b", "c"])
    nets = [IPv4Network(c) for c in private + public]
    vpc = IPv4Network("10.30.0.0/16")
    assert all(n.subnet_of(vpc) for n in nets)
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    assert all(IPv4Network(c).prefixlen == 19 for c in private)


def test_subnet_plan_refuses_a_small_vpc() -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_subnets("10.0.0.0/20", ["a", "b"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "edge"])
def test_aws_subnets_one_per_zone_without_public_ips(
    plans: dict[str, Plan], configs: dict[str, StackConfig], stack: str
) -> None:
    cfg = configs[stack]
    assert cfg.aws is not None
    subnets = plans[stack].by_type("aws:ec2/subnet:Subnet")
    zones = sorted(s["inputs"]["availabilityZone"] for s in subnets)
    assert zones == sorted(cfg.aws.availability_zones * 2)
    assert all(s["inputs"].get("mapPublicIpOnLaunch") is False for s in subnets)


def test_prod_has_a_nat_gateway_per_zone_and_dev_one(plans: dict[str, Plan]) -> None:
    assert len(plans["prod"].by_type("aws:ec2/natGateway:NatGateway")) == 3
    assert len(plans["dev"].by_type("aws:ec2/natGateway:NatGateway")) == 1


def test_flow_logs_have_a_retention(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        for group in plan.by_type("aws:cloudwatch/logGroup:LogGroup"):
            assert group["inputs"].get("retentionInDays", 0) > 0


def test_gke_subnet_has_pod_and_service_ranges(
    plans: dict[str, Plan], configs: dict[str, StackConfig]
) -> None:
    cfg = configs["prod"]
    assert cfg.gcp is not None
    (subnet,) = plans["prod"].by_type("gcp:compute/subnetwork:Subnetwork")
    ranges = {r["rangeName"]: r["ipCidrRange"] for r in subnet["inputs"]["secondaryIpRanges"]}
    assert ranges == {"pods": str(cfg.gcp.pods_cidr), "services": str(cfg.gcp.services_cidr)}
    assert subnet["inputs"]["privateIpGoogleAccess"] is True


def test_providers_carry_the_cost_allocation_tags(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        (provider,) = plan.by_type("pulumi:providers:aws")
        default_tags = json.loads(provider["inputs"]["defaultTags"])["tags"]
        assert {"environment", "cost-center", "team"} <= set(default_tags)
        assert default_tags["environment"] == plan.stack


def test_the_component_reports_every_bad_input_at_once() -> None:
    with pytest.raises(pulumi.InputPropertiesError) as info:
        AwsNetwork(
            "bad",
            AwsNetworkArgs(cidr="10.0.0.0/20", zones=["a", "a"], flow_log_retention_days=0),
        )
    paths = [e["property_path"] for e in info.value.errors or []]
    assert paths == ["cidr", "zones", "flow_log_retention_days"]
