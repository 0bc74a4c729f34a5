"""Rules about the stack as a whole: references between sections, sizes, zones."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from itertools import combinations

from blueprint.catalog import load_catalog
from blueprint.config.errors import ConfigIssue
from blueprint.config.rules.base import rule
from blueprint.network import subnet_problems
from blueprint.placement import quantity
from blueprint.schema import NAMESPACE, Cloud, Environment, NodeRange, StackConfig


def _node_range(path: tuple[str, ...], nodes: NodeRange) -> Iterator[ConfigIssue]:
    if nodes.min > nodes.max:
        yield ConfigIssue(
            (*path, "min"), f"must be <= max ({nodes.max}); lower min or raise max", nodes.min
        )
    if nodes.desired is not None and not nodes.min <= nodes.desired <= nodes.max:
        yield ConfigIssue(
            (*path, "desired"),
            f"must lie between min ({nodes.min}) and max ({nodes.max})",
            nodes.desired,
        )


@rule
def node_ranges(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for name, cluster in cfg.clusters.items():
        yield from _node_range(("clusters", name, "systemPool", "nodes"), cluster.system_pool.nodes)
    for name, pool in cfg.gpu_pools.items():
        yield from _node_range(("gpuPools", name, "nodes"), pool.nodes)
    for name, dep in cfg.models.items():
        if dep.replicas.min > dep.replicas.max:
            yield ConfigIssue(
                ("models", name, "replicas", "min"),
                f"must be <= max ({dep.replicas.max})",
                dep.replicas.min,
            )


@rule
def requests_within_limits(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """Kubernetes refuses a container whose request exceeds its limit."""
    for name, dep in cfg.models.items():
        for key, request in sorted(dep.resources.requests.items()):
            limit = dep.resources.limits.get(key)
            if limit is not None and quantity(request) > quantity(limit):
                yield ConfigIssue(
                    ("models", name, "resources", "requests", key),
                    f"is more than its limit ({limit}); Kubernetes refuses such a container: "
                    "lower the request or raise the limit",
                    request,
                )


_CLOUD_KEYS = {
    Cloud.AWS: "region, availabilityZones, vpcCidr",
    Cloud.GCP: "project, region, zones, networkCidr, podsCidr, servicesCidr",
}
"""What a cloud's section needs when the stack creates its network (existingVpc and
existingNetwork stand in for the ranges: blueprint.config.rules.existing)."""


@rule
def cloud_settings_present(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """A cluster or endpoint on a cloud needs that cloud's section."""
    users: list[tuple[tuple[str, ...], Cloud]] = []
    users += [(("clusters", n, "cloud"), c.cloud) for n, c in cfg.clusters.items()]
    users += [(("serverless", n, "cloud"), s.cloud) for n, s in cfg.serverless.items()]
    for path, cloud in users:
        if getattr(cfg, cloud.value) is None:
            yield ConfigIssue(
                path,
                f"uses {cloud.value}, but the stack has no '{cloud.value}' section; "
                f"add {NAMESPACE}:{cloud.value} ({_CLOUD_KEYS[cloud]})",
                cloud.value,
            )


@rule
def zones_in_region(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.aws is not None:
        for i, zone in enumerate(cfg.aws.availability_zones):
            if not (zone.startswith(cfg.aws.region) and len(zone) == len(cfg.aws.region) + 1):
                yield ConfigIssue(
                    ("aws", "availabilityZones", i),
                    f"must be a zone of region {cfg.aws.region}, such as {cfg.aws.region}a",
                    zone,
                )
    if cfg.gcp is not None:
        for i, zone in enumerate(cfg.gcp.zones):
            if not zone.startswith(cfg.gcp.region + "-"):
                yield ConfigIssue(
                    ("gcp", "zones", i),
                    f"must be a zone of region {cfg.gcp.region}, such as {cfg.gcp.region}-a",
                    zone,
                )
    if cfg.environment is Environment.PROD:
        if cfg.aws is not None and len(cfg.aws.availability_zones) < 2:
            yield ConfigIssue(
                ("aws", "availabilityZones"),
                "prod needs at least 2 zones",
                cfg.aws.availability_zones,
            )
        if cfg.gcp is not None and len(cfg.gcp.zones) < 2:
            yield ConfigIssue(("gcp", "zones"), "prod needs at least 2 zones", cfg.gcp.zones)


@rule
def vpc_holds_its_subnets(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """The AWS VPC range fits a private /19 and a public /24 per zone (blueprint.network)."""
    if cfg.aws is None or cfg.aws.vpc_cidr is None:
        return
    for problem in subnet_problems(str(cfg.aws.vpc_cidr), cfg.aws.availability_zones):
        yield ConfigIssue(("aws", "vpcCidr"), problem, str(cfg.aws.vpc_cidr))


@rule
def gcp_ranges_disjoint(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.gcp is None:
        return
    given: dict[str, IPv4Network | None] = {
        "networkCidr": cfg.gcp.network_cidr,
        "podsCidr": cfg.gcp.pods_cidr,
        "servicesCidr": cfg.gcp.services_cidr,
    }
    ranges = {key: value for key, value in given.items() if value is not None}
    for (a, ra), (b, rb) in combinations(ranges.items(), 2):
        if ra.overlaps(rb):
            yield ConfigIssue(("gcp", b), f"overlaps {a} ({ra}); choose a disjoint range", str(rb))


@rule
def cluster_settings(cfg: StackConfig) -> Iterator[ConfigIssue]:
    catalog = load_catalog()
    for name, cluster in cfg.clusters.items():
        base = ("clusters", name)
        # An adopted cluster keeps its own channel (blueprint.config.rules.existing).
        if cluster.cloud is Cloud.GCP and cluster.release_channel is None and not cluster.existing:
            yield ConfigIssue(
                (*base, "releaseChannel"),
                "required for GKE clusters; one of RAPID, REGULAR, STABLE",
            )
        if cluster.cloud is Cloud.AWS and cluster.release_channel is not None:
            yield ConfigIssue(
                (*base, "releaseChannel"), "applies to GKE only; remove it", cluster.release_channel
            )
        for i, itype in enumerate(cluster.system_pool.instance_types):
            inst = catalog.instance(itype)
            path = (*base, "systemPool", "instanceTypes", i)
            if inst is None or inst.cloud != cluster.cloud.value:
                known = ", ".join(
                    n
                    for n in catalog.instance_names(cluster.cloud.value)
                    if not catalog.instances[n].gpus
                )
                yield ConfigIssue(
                    path,
                    f"not a {cluster.cloud.value} CPU type in the catalog; known: {known}",
                    itype,
                )
            elif inst.gpus:
                yield ConfigIssue(path, "the system pool must be a CPU type, not a GPU type", itype)


@rule
def references_resolve(cfg: StackConfig) -> Iterator[ConfigIssue]:
    clusters = sorted(cfg.clusters)
    for section, items in (("gpuPools", cfg.gpu_pools), ("models", cfg.models)):
        for name, item in items.items():
            if item.cluster not in cfg.clusters:
                yield ConfigIssue(
                    (section, name, "cluster"),
                    f"no such cluster; defined clusters: {', '.join(clusters) or 'none'}",
                    item.cluster,
                )
    if cfg.models and cfg.serving is None:
        yield ConfigIssue(
            ("serving",),
            "required when models are deployed: set tritonImage (Triton models) or "
            "vllmImage (LLMs), exactly pinned",
        )
