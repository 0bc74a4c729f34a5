"""Dollars per million tokens for a reference traffic profile, from measured throughput.

The figure is only as good as the throughput it is given, so nothing here is a
measurement: the caller passes what a benchmark measured (tokens per second one
replica sustains within its latency target) and this module turns it into money
with the pool's prices from the catalog, stating every assumption:

    $/1M tokens = node $/hour / (replica tokens/s x replicas per node x 3600 x utilization) x 1e6

- *replicas per node*: the GPUs (or MIG slices of the pool's profile) one node of
  the pool offers, divided by what one replica requests;
- *utilization*: the share of the sustained throughput that average traffic uses
  (autoscaling keeps headroom for bursts and for the p99 target; 0.6 by default);
- *node $/hour*: on-demand for the floor, the high end of the spot range for burst,
  and a blend weighted by the hours the reference profile spends above the floor.

A benchmark result file (``build/bench/*.json``) is read when present; its expected
keys are in :class:`Measured` and :func:`read_measurements`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint.catalog import load_catalog
from blueprint.cost.prices import node_hourly
from blueprint.schema import GpuPoolConfig


@dataclass(frozen=True)
class TrafficProfile:
    """A reference day of traffic for one model deployment."""

    name: str
    prompt_tokens: int
    """Mean prompt tokens per request."""
    output_tokens: int
    """Mean generated tokens per request."""
    utilization: float = 0.6
    """Average load over sustained capacity (headroom for bursts and the p99 target)."""
    burst_share: float = 0.3
    """Share of serving hours that run on burst (spot) nodes above the on-demand floor."""

    @property
    def tokens_per_request(self) -> int:
        return self.prompt_tokens + self.output_tokens


REFERENCE_CHAT = TrafficProfile(name="chat", prompt_tokens=512, output_tokens=256)
"""The reference profile: a support-chat turn (512 prompt + 256 output tokens)."""


@dataclass(frozen=True)
class Measured:
    """What a benchmark measured for one model on one kind of GPU slice."""

    model: str
    hardware: str
    """What one replica ran on, e.g. ``H100-80GB 3g.40gb`` or ``L4-24GB``."""
    tokens_per_second: float
    """Prompt plus output tokens per second one replica sustained within its latency target."""
    source: str
    """Where the figure came from (file, date, machine); printed with the result."""


@dataclass(frozen=True)
class TokenCost:
    profile: TrafficProfile
    measured: Measured
    pool: str
    instance_type: str
    replicas_per_node: float
    node_on_demand: float
    node_spot: float
    usd_per_million_on_demand: float
    usd_per_million_spot: float
    usd_per_million_blended: float

    def lines(self) -> list[str]:
        p, m = self.profile, self.measured
        return [
            f"{m.model} on {self.pool} ({self.instance_type}, {self.replicas_per_node:g} "
            f"replicas/node), profile {p.name}: "
            f"${self.usd_per_million_blended:.3f}/1M tokens blended "
            f"(on-demand ${self.usd_per_million_on_demand:.3f}, "
            f"spot ${self.usd_per_million_spot:.3f})",
            f"  measured: {m.tokens_per_second:g} tokens/s per replica on {m.hardware} "
            f"({m.source})",
            f"  assumed: {p.prompt_tokens}+{p.output_tokens} tokens/request, utilization "
            f"{p.utilization:.0%}, {p.burst_share:.0%} of hours on spot burst, node "
            f"${self.node_on_demand:.3f}/h on-demand, ${self.node_spot:.3f}/h spot (catalog)",
        ]


def usd_per_million(node_usd_per_hour: float, tokens_per_hour: float) -> float:
    if tokens_per_hour <= 0:
        raise ValueError("throughput must be positive to price tokens")
    return node_usd_per_hour / tokens_per_hour * 1_000_000


def replicas_per_node(pool: GpuPoolConfig, instance_type: str, units_per_replica: float) -> float:
    """How many replicas one node of the pool holds (GPUs or MIG slices per replica)."""
    catalog = load_catalog()
    inst = catalog.instance(instance_type)
    gpu = catalog.gpu_of(instance_type)
    if inst is None or gpu is None:
        raise ValueError(f"{instance_type} is not a GPU instance type of the catalog")
    per_gpu = 1.0
    if pool.mig is not None and pool.mig.profile is not None:
        per_gpu = float(gpu.mig[pool.mig.profile].instances)
    elif pool.mig is not None and pool.mig.mixed:
        per_gpu = float(sum(pool.mig.mixed.values()))
    return inst.gpus * per_gpu / units_per_replica


def token_cost(
    measured: Measured,
    pool_name: str,
    pool: GpuPoolConfig,
    profile: TrafficProfile = REFERENCE_CHAT,
    units_per_replica: float = 1.0,
) -> TokenCost:
    """$/1M tokens of a model served on a pool's first instance type."""
    instance_type = pool.instance_types[0]
    inst = load_catalog().instance(instance_type)
    if inst is None:
        raise ValueError(f"{instance_type} is not in the catalog")
    replicas = replicas_per_node(pool, instance_type, units_per_replica)
    tokens_per_hour = measured.tokens_per_second * replicas * 3600 * profile.utilization
    on_demand = inst.on_demand
    spot = node_hourly(inst, spot=True) if pool.spot else on_demand
    blended = (1 - profile.burst_share) * on_demand + profile.burst_share * spot
    return TokenCost(
        profile=profile,
        measured=measured,
        pool=pool_name,
        instance_type=instance_type,
        replicas_per_node=replicas,
        node_on_demand=on_demand,
        node_spot=spot,
        usd_per_million_on_demand=usd_per_million(on_demand, tokens_per_hour),
        usd_per_million_spot=usd_per_million(spot, tokens_per_hour),
        usd_per_million_blended=usd_per_million(blended, tokens_per_hour),
    )


def read_measurements(directory: Path) -> list[Measured]:
    """Measurements from ``<directory>/*.json`` benchmark results.

    Each file is a JSON object (or a list of them) with ``model``, ``hardware`` and
    ``tokens_per_second`` (prompt plus output tokens per second one replica
    sustained within its latency target); ``source`` defaults to the file name.
    Files without these keys are skipped and named in the error of an empty result.
    """
    found: list[Measured] = []
    for path in sorted(directory.glob("*.json")):
        try:
            doc: Any = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for item in doc if isinstance(doc, list) else [doc]:
            if not isinstance(item, dict):
                continue
            try:
                found.append(
                    Measured(
                        model=str(item["model"]),
                        hardware=str(item["hardware"]),
                        tokens_per_second=float(item["tokens_per_second"]),
                        source=str(item.get("source", path.name)),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue
    return found


@dataclass(frozen=True)
class HardwarePrice:
    """What an hour of the hardware a measurement ran on costs, from the catalog."""

    label: str
    on_demand: float
    spot: float | None


def cpu_price(vcpus: int, cloud: str = "aws") -> HardwarePrice:
    """``vcpus`` priced at the cheapest on-demand vCPU-hour among the catalog's CPU types."""
    catalog = load_catalog()
    cpu_types = [i for i in catalog.instances.values() if i.cloud == cloud and not i.gpus]
    if not cpu_types:
        raise ValueError(f"the catalog has no {cloud} CPU instance type")
    best = min(cpu_types, key=lambda i: i.on_demand / i.vcpus)
    spot = best.spot_high
    return HardwarePrice(
        label=f"{vcpus} vCPU at the {best.name} rate",
        on_demand=best.on_demand / best.vcpus * vcpus,
        spot=None if spot is None else spot / best.vcpus * vcpus,
    )


def gpu_price(gpu: str, gpus: int = 1) -> HardwarePrice:
    """``gpus`` GPUs of model ``gpu`` at the cheapest per-GPU on-demand rate in the catalog."""
    catalog = load_catalog()
    carriers = [i for i in catalog.instances.values() if i.gpu == gpu]
    if not carriers:
        raise ValueError(f"no instance type of the catalog carries {gpu}")
    best = min(carriers, key=lambda i: i.on_demand / i.gpus)
    spot = best.spot_high
    return HardwarePrice(
        label=f"{gpus} x {gpu} at the {best.name} rate (/{best.gpus} GPUs)",
        on_demand=best.on_demand / best.gpus * gpus,
        spot=None if spot is None else spot / best.gpus * gpus,
    )


@dataclass(frozen=True)
class PricedThroughput:
    model: str
    price: HardwarePrice
    tokens_per_second: float
    utilization: float
    source: str
    usd_per_million_on_demand: float
    usd_per_million_spot: float | None

    def line(self) -> str:
        spot = (
            f", spot ${self.usd_per_million_spot:.4f}"
            if self.usd_per_million_spot is not None
            else ""
        )
        return (
            f"{self.model} on {self.price.label}: ${self.usd_per_million_on_demand:.4f}/1M tokens "
            f"on-demand{spot} ({self.tokens_per_second:,.0f} tokens/s sustained, "
            f"{self.utilization:.0%} utilization; {self.source})"
        )


def price_throughput(
    model: str,
    tokens_per_second: float,
    price: HardwarePrice,
    source: str,
    utilization: float = REFERENCE_CHAT.utilization,
) -> PricedThroughput:
    """$/1M tokens of a measured throughput on the hardware it was measured on."""
    per_hour = tokens_per_second * 3600 * utilization
    return PricedThroughput(
        model=model,
        price=price,
        tokens_per_second=tokens_per_second,
        utilization=utilization,
        source=source,
        usd_per_million_on_demand=usd_per_million(price.on_demand, per_hour),
        usd_per_million_spot=None if price.spot is None else usd_per_million(price.spot, per_hour),
    )
