"""Unit prices: nodes from the instance catalog, managed services from ``services.yaml``.

Both tables live in ``blueprint/catalog/`` with their sources and dates; this
module only reads them and answers "what does one of these cost per hour".
"""

from __future__ import annotations

from functools import cache

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from blueprint.catalog import InstanceType, load_catalog
from blueprint.paths import CATALOG_DIR

HOURS_PER_MONTH = 730.0
"""The hours a month is billed as (AWS and Google both use 730)."""
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

_SERVICES = CATALOG_DIR / "services.yaml"


class ServicePrice(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    unit: str
    usd: float = Field(gt=0)
    per: str
    source: str
    max_units: int | None = None


class ServicePrices(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    as_of: str = Field(alias="asOf")
    services: dict[str, ServicePrice]

    def usd(self, key: str) -> float:
        return self.services[key].usd


@cache
def services() -> ServicePrices:
    return ServicePrices.model_validate(yaml.safe_load(_SERVICES.read_text()))


def node_hourly(instance: InstanceType, *, spot: bool) -> float:
    """One node's price per hour: the high end of the spot range seen when ``spot``
    (on-demand where the catalog knows no spot price), on-demand otherwise."""
    if spot and instance.spot_high is not None:
        return instance.spot_high
    return instance.on_demand


def priciest(instance_types: list[str] | tuple[str, ...], *, spot: bool) -> InstanceType | None:
    """The catalog instance type of a list that costs most per node at that capacity."""
    catalog = load_catalog()
    known = [catalog.instances[t] for t in instance_types if t in catalog.instances]
    if not known:
        return None
    return max(known, key=lambda i: node_hourly(i, spot=spot))
