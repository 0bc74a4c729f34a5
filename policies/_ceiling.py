"""The most a stack's resources can cost in a month, priced from what the resources say.

Independent of the stack configuration on purpose: the budget policy must catch a
pool whose ceiling was raised in code as well as in a stack file. Pools are priced
at their ceiling (nodes, or Karpenter's GPU/CPU limits) with the most expensive of
their instance types, at the high end of the spot range where the pool runs on
spot (on-demand otherwise); clusters, NAT gateways and serverless endpoints at
their published fees (``blueprint/catalog/services.yaml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from blueprint.catalog import InstanceType, load_catalog
from blueprint.cost.prices import HOURS_PER_MONTH, SECONDS_PER_MONTH, node_hourly, services
from policies._lib import get, items, number
from policies._pools import GPU_RESOURCE, POOL_TYPES, Pool, pool_of


@dataclass
class Ceiling:
    per_cloud: dict[str, float] = field(default_factory=dict)
    lines: list[tuple[str, str, float]] = field(default_factory=list)
    """(cloud, what, USD/month), most expensive first after :meth:`sorted_lines`."""
    unbounded: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)

    def add(self, cloud: str, what: str, usd: float) -> None:
        self.per_cloud[cloud] = self.per_cloud.get(cloud, 0.0) + usd
        self.lines.append((cloud, what, usd))

    def top(self, cloud: str, n: int = 3) -> list[tuple[str, float]]:
        mine = sorted(((w, u) for c, w, u in self.lines if c == cloud), key=lambda x: -x[1])
        return mine[:n]


def _known(pool: Pool) -> list[InstanceType]:
    catalog = load_catalog()
    return [catalog.instances[t] for t in pool.instance_types if t in catalog.instances]


def pool_ceiling_hourly(pool: Pool) -> float | None:
    """USD per hour of a pool at its ceiling, or None if it cannot be priced or is unbounded."""
    known = _known(pool)
    if not known:
        return None
    spot = pool.spot

    def price(i: InstanceType) -> float:
        return node_hourly(i, spot=spot)

    nodes = pool.total_max_nodes
    if nodes is not None:
        return nodes * max(price(i) for i in known)
    gpus = pool.limits.get(GPU_RESOURCE)
    if gpus is not None:
        with_gpus = [i for i in known if i.gpus]
        if with_gpus:
            return gpus * max(price(i) / i.gpus for i in with_gpus)
    cpu = pool.limits.get("cpu")
    if cpu is not None:
        return cpu * max(price(i) / i.vcpus for i in known)
    return None


def stack_ceiling(resources: Iterable[Any]) -> Ceiling:
    """The monthly ceiling of a stack's resources, per cloud."""
    out = Ceiling()
    prices = services()
    for res in resources:
        rtype = res.resource_type
        if rtype in POOL_TYPES:
            pool = pool_of(rtype, res.props)
            assert pool is not None
            known = _known(pool)
            cloud = known[0].cloud if known else ("gcp" if rtype.startswith("gcp:") else "aws")
            hourly = pool_ceiling_hourly(pool)
            if hourly is None:
                bounded = pool.max_nodes is not None or pool.limits
                (out.unpriced if bounded else out.unbounded).append(res.name)
                continue
            out.add(cloud, f"{res.name} ({pool.kind})", hourly * HOURS_PER_MONTH)
        elif rtype == "aws:eks/cluster:Cluster":
            out.add("aws", res.name, prices.usd("aws-eks-cluster") * HOURS_PER_MONTH)
        elif rtype == "gcp:container/cluster:Cluster":
            out.add("gcp", res.name, prices.usd("gcp-gke-cluster") * HOURS_PER_MONTH)
        elif rtype == "aws:ec2/natGateway:NatGateway":
            out.add("aws", res.name, prices.usd("aws-nat-gateway") * HOURS_PER_MONTH)
        elif rtype == "gcp:compute/routerNat:RouterNat":
            nat = prices.services["gcp-cloud-nat-vm"]
            out.add("gcp", res.name, nat.usd * (nat.max_units or 32) * HOURS_PER_MONTH)
        elif rtype == "aws:sagemaker/endpointConfiguration:EndpointConfiguration":
            for variant in items(get(res.props, "productionVariants")):
                serverless = get(variant, "serverlessConfig")
                if serverless is None:
                    continue
                gb = (number(get(serverless, "memorySizeInMb")) or 0) / 1024
                conc = number(get(serverless, "maxConcurrency")) or 0
                usd = conc * gb * prices.usd("aws-sagemaker-serverless-gb-second")
                out.add("aws", res.name, usd * SECONDS_PER_MONTH)
    return out
