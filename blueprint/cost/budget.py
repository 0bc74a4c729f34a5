"""How a stack's monthly budget is split: one rule for every part that gets a share.

Each part (a cloud, a cluster) gets ``budget.monthlyUsd`` times its share of the
stack's estimated ceiling (:mod:`blueprint.cost.estimate`). The estimate prices a GKE
pool at the worst case GKE allows (the on-demand node pool may take the whole burst
again as fallback, :class:`blueprint.capacity.PoolSpec`), so the split honours it.
The cloud budgets (AWS Budgets, GCP billing budgets) and each cluster's budget fact
in its alert rules (``BudgetBurnRateHigh``) both come from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from blueprint.cost.estimate import estimate
from blueprint.schema import StackConfig


@dataclass(frozen=True)
class BudgetSplit:
    monthly_usd: float
    """The stack's monthly budget."""
    ceiling: float
    """The stack's estimated monthly ceiling."""
    clouds: Mapping[str, float]
    """Estimated monthly ceiling per cloud."""
    clusters: Mapping[str, float]
    """Estimated monthly ceiling per cluster (control plane, system and GPU pools)."""

    def _share(self, ceiling: float, parts: int) -> float:
        if self.ceiling <= 0:
            return self.monthly_usd / max(parts, 1)
        return self.monthly_usd * ceiling / self.ceiling

    def cloud(self, cloud: str) -> float:
        """The budget of one cloud."""
        return self._share(self.clouds.get(cloud, 0.0), len(self.clouds))

    def cluster(self, cluster: str) -> float:
        """The budget of one cluster: what its nodes and control plane may spend."""
        return self._share(self.clusters.get(cluster, 0.0), len(self.clusters))


def split_budget(cfg: StackConfig, stack: str) -> BudgetSplit | None:
    """The stack's budget split by cloud and by cluster; None without a budget."""
    if cfg.budget is None:
        return None
    est = estimate(cfg, stack)
    return BudgetSplit(
        monthly_usd=cfg.budget.monthly_usd,
        ceiling=est.ceiling,
        clouds={cloud: ceiling for cloud, (_floor, ceiling) in est.by_cloud().items()},
        clusters={name: ceiling for name, (_floor, ceiling) in est.by_cluster().items()},
    )
